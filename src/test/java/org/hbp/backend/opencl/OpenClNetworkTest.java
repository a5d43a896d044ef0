package org.hbp.backend.opencl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.backend.Precision;
import org.hbp.backend.cpu.CpuBackend;
import org.hbp.network.CurvatureKind;
import org.hbp.network.Network;
import org.hbp.network.ModuleLibrary;
import org.hbp.network.NetworkSpec;
import org.hbp.network.NetworkResolver;
import org.hbp.network.Pass;
import org.hbp.network.Strategy;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A whole network on the OpenCL backend equals the CPU backend: a small CNN (conv2d, sigmoid,
 * max-pooling through windowArgmax/gather/scatterAdd, flatten, linear, tanh, a residual block,
 * cross-entropy) gives the same loss, parameter gradients and exact GGN products, in float64 to
 * 1e-10 and in float32 to 1e-3 relative to max(1, max|expected|). Prints how many maps of the pass
 * fell back to the host (zero when the generated operators map ScalarFunctions).
 */
class OpenClNetworkTest {
  @BeforeAll
  static void openCl() {
    OpenClTestSupport.requireOpenCl();
  }

  private static final String NET = """
      network tiny {
        input x: tensor(2, 8, 8);
        conv2d(cout = 4, k = 3, s = 1, p = 1, d = 1);
        sigmoid;
        maxpool(k = 2);
        flatten;
        linear(m = 12);
        tanh;
        residual { linear(m = 12); relu; linear(m = 12); }
        linear(m = 5);
        loss crossentropy;
      }
      """;

  /** Loss, every gradient and one exact GGN product per parameter, as host arrays. */
  private static List<double[]> run(NetworkSpec spec, Backend be, Random rng, int samples) {
    Network net = new Network(spec, ModuleLibrary.forSpecs(), be);
    Map<String, Batch> params = new LinkedHashMap<>();
    for (String name : net.parameterNames()) {
      int[] s = net.parameterShape(name);
      double[] d = new double[s[0] * s[1]];
      for (int i = 0; i < d.length; i++) d[i] = rng.nextGaussian() * 0.5;
      params.put(name, be.fromArray(1, 1, s[0], s[1], d));
    }
    int[] in = net.inputShape(), t = net.targetShape();
    double[] x = new double[samples * in[0] * in[1]], y = new double[samples * t[0] * t[1]];
    for (int i = 0; i < x.length; i++) x[i] = rng.nextGaussian();
    for (int n = 0; n < samples; n++) y[n * t[0] * t[1] + rng.nextInt(t[0] * t[1])] = 1;
    List<double[]> out = new ArrayList<>();
    try (Pass pass = net.run(params, be.fromArray(samples, 1, in[0], in[1], x), be.fromArray(samples, 1, t[0], t[1], y))) {
      out.add(new double[] {pass.loss()});
      for (String p : net.parameterNames()) out.add(be.toArray(pass.gradient(p)));
      var ggn = pass.curvature(CurvatureKind.GGN, Strategy.EXACT);
      for (String p : net.parameterNames()) {
        int[] s = net.parameterShape(p);
        out.add(be.toArray(ggn.matProd(p, be.fill(s[0], s[1], 1.0))));
      }
    }
    return out;
  }

  @Test
  void aSmallCnnGivesTheCpuBackendsLossGradientsAndCurvature(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("tiny.hbp");
    Files.writeString(file, NET);
    NetworkSpec spec = NetworkResolver.load(file, null, ModuleLibrary.builtInSpecDirs());
    List<double[]> ref = run(spec, new CpuBackend(), new Random(5), 6);
    for (Precision p : new Precision[] {Precision.FLOAT64, Precision.FLOAT32}) {
      OpenClBackend be = new OpenClBackend(p, OpenClTestSupport.deviceIndex());
      List<double[]> got = run(spec, be, new Random(5), 6);
      assertEquals(ref.size(), got.size());
      double tol = p == Precision.FLOAT64 ? 1e-10 : 1e-3;
      for (int i = 0; i < ref.size(); i++) {
        double[] e = ref.get(i), a = got.get(i);
        assertEquals(e.length, a.length, be.name() + " result " + i);
        double scale = 1, err = 0;
        for (double v : e) scale = Math.max(scale, Math.abs(v));
        for (int j = 0; j < e.length; j++) err = Math.max(err, Math.abs(e[j] - a[j]));
        assertTrue(err <= tol * scale, be.name() + " result " + i + " (0: loss, then gradients, then GGN products): max error " + err);
      }
      System.out.println("OpenClNetworkTest: " + be.name() + " on " + be.device().name() + ": loss " + got.get(0)[0] + " (cpu "
          + ref.get(0)[0] + "); host linear algebra calls: "
          + be.hostLinearAlgebraCalls());
    }
  }
}
