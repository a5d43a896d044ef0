package org.hbp.network;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.backend.Precision;
import org.hbp.backend.blas.BlasBackend;
import org.hbp.backend.cpu.CpuBackend;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A convolutional net whose convolutions write 8 and 16 channels, so that on {@code blas-f64} every
 * convolution kernel a curvature product uses runs on the direct kernels where this JVM and CPU
 * have them (the forward pass, {@code J_X v} and {@code J_X' u}, {@code J_W v} with the directions'
 * filters stacked, the weight gradients summed over the batch), against the CPU backend's unfold
 * and loops: the loss, every gradient, the exact GGN and Hessian products of every block with 3
 * directions, and the whole-network GGN product.
 */
class DirectConvolutionNetworkTest {
  @TempDir Path dir;

  private static final String NET = String.join("\n",
      "network small_cnn {",
      "  input x: tensor(3, 8, 8);",
      "  conv2d(cout = 8, k = 3, s = 1, p = 1, d = 1);",
      "  sigmoid;",
      "  conv2d(cout = 16, k = 3, s = 1, p = 1, d = 1);",
      "  sigmoid;",
      "  maxpool(k = 2);",
      "  conv2d(cout = 8, k = 3, s = 2, p = 1, d = 1);",
      "  sigmoid;",
      "  flatten;",
      "  linear(m = 10);",
      "  loss crossentropy;",
      "}", "");

  @Test
  void blasFloat64MatchesTheCpuBackend() throws Exception {
    Path file = Files.writeString(dir.resolve("small_cnn.hbp"), NET);
    NetworkSpec spec = NetworkResolver.load(file, null, ModuleLibrary.builtInSpecDirs());
    Backend cpu = new CpuBackend(), blas = new BlasBackend(Precision.FLOAT64, 2);
    Network a = new Network(spec, Network.builtIn(), cpu), b = new Network(spec, Network.builtIn(), blas);
    Random rng = new Random(5);
    int samples = 7, directions = 3;
    double[] x = rng.doubles(samples * 3 * 64, -1, 1).toArray(), y = new double[samples * 10];
    for (int n = 0; n < samples; n++) y[n * 10 + rng.nextInt(10)] = 1;
    Map<String, double[]> params = new LinkedHashMap<>(), dirs = new LinkedHashMap<>();
    for (String name : a.parameterNames()) {
      int[] s = a.parameterShape(name);
      params.put(name, rng.doubles((long) s[0] * s[1], -1, 1).map(v -> v / Math.sqrt(s[1])).toArray());
      dirs.put(name, rng.doubles((long) directions * s[0] * s[1], -1, 1).toArray());
    }
    Pass pa = a.run(batches(a, cpu, params, 1), cpu.fromArray(samples, 1, 3, 64, x), cpu.fromArray(samples, 1, 10, 1, y));
    Pass pb = b.run(batches(b, blas, params, 1), blas.fromArray(samples, 1, 3, 64, x), blas.fromArray(samples, 1, 10, 1, y));
    assertEquals(pa.loss(), pb.loss(), 1e-13 * Math.abs(pa.loss()), "loss");
    for (String name : a.parameterNames()) near(cpu.toArray(pa.gradient(name)), blas.toArray(pb.gradient(name)), "gradient of " + name);
    Map<String, Batch> va = batches(a, cpu, dirs, directions), vb = batches(b, blas, dirs, directions);
    for (CurvatureKind kind : new CurvatureKind[] {CurvatureKind.GGN, CurvatureKind.HESSIAN}) {
      Curvature ca = pa.curvature(kind, Strategy.EXACT), cb = pb.curvature(kind, Strategy.EXACT);
      for (String name : a.parameterNames())
        near(cpu.toArray(ca.matProd(name, va.get(name))), blas.toArray(cb.matProd(name, vb.get(name))), kind.label() + " block of " + name + ", 3 directions");
    }
    Map<String, Batch> ga = pa.networkProduct(CurvatureKind.GGN, va), gb = pb.networkProduct(CurvatureKind.GGN, vb);
    for (String name : a.parameterNames()) near(cpu.toArray(ga.get(name)), blas.toArray(gb.get(name)), "network GGN product, " + name);
  }

  /** Each parameter's values as a batch of one sample and {@code directions} directions. */
  private static Map<String, Batch> batches(Network net, Backend be, Map<String, double[]> values, int directions) {
    Map<String, Batch> m = new LinkedHashMap<>();
    for (Map.Entry<String, double[]> e : values.entrySet()) {
      int[] s = net.parameterShape(e.getKey());
      m.put(e.getKey(), be.fromArray(1, directions, s[0], s[1], e.getValue()));
    }
    return m;
  }

  /** Entries within 1e-12 of the largest magnitude (float64 sums in other orders), and not all zero. */
  private static void near(double[] want, double[] got, String what) {
    assertEquals(want.length, got.length, what + ": entries");
    double scale = 0;
    for (double v : want) scale = Math.max(scale, Math.abs(v));
    assertTrue(scale > 0, what + ": all zero");
    for (int i = 0; i < want.length; i++) assertEquals(want[i], got[i], 1e-12 * scale, what + " [" + i + "]");
  }
}
