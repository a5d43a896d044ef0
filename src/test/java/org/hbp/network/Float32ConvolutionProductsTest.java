package org.hbp.network;

import static org.hbp.network.NetworkCurvatureTest.crossEntropy;
import static org.hbp.network.NetworkCurvatureTest.elementwise;
import static org.hbp.network.NetworkCurvatureTest.layer;
import static org.hbp.network.NetworkCurvatureTest.linear;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.backend.KernelProfiler;
import org.hbp.backend.Precision;
import org.hbp.backend.blas.BlasBackend;
import org.hbp.calculus.Tensor;
import java.nio.file.Path;
import org.hbp.dsl.Dsl;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Exact products of a CNN's blocks with several directions on the float32 BLAS backend, against
 * the dense EJML reference written from the paper's equations ({@link DenseReference}). There the
 * convolution weights' {@code J_W v} runs as oneDNN convolutions with the directions as filters
 * ({@code Backend.convolvesDirectly}), a route that the float64 backends of {@link
 * NetworkCurvatureTest} never take; the test checks through the kernel profile that it was taken,
 * and that the sigmoid and max-pool went as a pair ({@link DiagonalSelections}), in the sequential
 * declaration and in the graph one.
 */
class Float32ConvolutionProductsTest {
  /** Two convolutions (2 -> 4 -> 4 channels) with a max-pool between, then a linear layer. */
  static NetworkSpec cnn() {
    return new NetworkSpec("cnn32", "test", 1, List.of(2, 4, 4), List.of(
        layer("conv2d", Map.of("cin", 2, "cout", 4, "h", 4, "w", 4, "k", 3, "s", 1, "p", 1, "d", 1), List.of(2, 4, 4), List.of(4, 16)),
        elementwise("sigmoid", 64),
        layer("maxpool", Map.of("c", 4, "h", 4, "w", 4, "k", 2), List.of(4, 4, 4), List.of(4, 2, 2)),
        layer("conv2d", Map.of("cin", 4, "cout", 4, "h", 2, "w", 2, "k", 3, "s", 1, "p", 1, "d", 1), List.of(4, 2, 2), List.of(4, 4)),
        elementwise("tanh", 16),
        layer("flatten", Map.of("c", 4, "h", 2, "w", 2), List.of(4, 2, 2), List.of(16)),
        linear(16, 3)),
        crossEntropy(3));
  }

  /** {@link #cnn} as a graph declaration: its products go the graph's way ({@link GraphProducts}). */
  static final String CNN_GRAPH = String.join("\n",
      "network cnn32g {",
      "  input x: tensor(2, 4, 4);",
      "  a = conv2d(cout = 4, k = 3, s = 1, p = 1, d = 1)(x);",
      "  b = sigmoid(a);",
      "  c = maxpool(k = 2)(b);",
      "  e = conv2d(cout = 4, k = 3, s = 1, p = 1, d = 1)(c);",
      "  f = tanh(e);",
      "  g = flatten(f);",
      "  y = linear(m = 3)(g);",
      "  loss crossentropy(y);",
      "}");

  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void exactProductsWithDirectionsAgreeWithTheDenseReference(boolean graph) {
    BlasBackend real = new BlasBackend(Precision.FLOAT32);
    assertTrue(real.directConvolutions(), real.directConvolutionsUnavailable());
    KernelProfiler profiler = KernelProfiler.of(real, true);
    Backend be = profiler.backend();
    NetworkSpec spec = cnn();
    Network net = graph
        ? new Network(NetworkResolver.resolve(Dsl.parse(CNN_GRAPH, "cnn32g.hbp"), null, NetworkResolver.library(List.of(Path.of("modules-spec")))),
            Network.builtIn(), be)
        : new Network(spec, Network.builtIn(), be);
    assertEquals(graph, net.isGraph());
    // the reference's parameter of each of the net's: the chain's names, in the same order
    Network chain = new Network(spec, Network.builtIn(), be);
    List<String> chainNames = chain.parameterNames();
    assertEquals(chainNames.size(), net.parameterNames().size(), net.parameterNames().toString());
    Map<String, String> referenceName = new LinkedHashMap<>();
    for (int i = 0; i < chainNames.size(); i++) {
      String p = net.parameterNames().get(i), q = chainNames.get(i);
      assertArrayEquals(chain.parameterShape(q), net.parameterShape(p), p + " against " + q);
      referenceName.put(p, q);
    }
    Random rng = new Random(7);
    Map<String, Tensor> params = new LinkedHashMap<>();
    Map<String, Batch> batches = new LinkedHashMap<>();
    for (String p : net.parameterNames()) {
      int[] s = net.parameterShape(p);
      Tensor t = Tensor.random(rng, s[0], s[1]);
      params.put(referenceName.get(p), t);
      batches.put(p, be.fromArray(1, 1, s[0], s[1], t.data()));
    }
    int n = 4, in = 2 * 4 * 4, classes = 3;
    List<Tensor> xs = new ArrayList<>(), ys = new ArrayList<>();
    double[] xd = new double[n * in], yd = new double[n * classes];
    for (int i = 0; i < n; i++) {
      Tensor xi = Tensor.random(rng, in, 1);
      double[] yv = new double[classes];
      yv[rng.nextInt(classes)] = 1;
      xs.add(xi);
      ys.add(new Tensor(new int[] {classes, 1}, yv));
      System.arraycopy(xi.data(), 0, xd, i * in, in);
      System.arraycopy(yv, 0, yd, i * classes, classes);
    }
    Pass pass = net.run(batches, be.fromArray(n, 1, in, 1, xd), be.fromArray(n, 1, classes, 1, yd));
    DenseReference reference = new DenseReference(spec, params, xs, ys);
    int directions = 3;
    for (CurvatureKind kind : List.of(CurvatureKind.GGN, CurvatureKind.HESSIAN)) {
      Curvature c = pass.curvature(kind, Strategy.EXACT);
      Map<String, DMatrixRMaj> ref = reference.blocks(kind, Strategy.EXACT);
      for (String p : net.parameterNames()) {
        int[] s = net.parameterShape(p);
        int size = s[0] * s[1];
        double[] v = new double[directions * size];
        for (int i = 0; i < v.length; i++) v[i] = rng.nextGaussian();
        profiler.start();
        double[] got = be.toArray(c.matProd(p, be.fromArray(1, directions, s[0], s[1], v)));
        KernelProfiler.Profile profile = profiler.stop();
        assertEquals(directions * size, got.length, p);
        DMatrixRMaj block = ref.get(referenceName.get(p));
        for (int d = 0; d < directions; d++) {
          double err = 0, scale = 0;
          for (int i = 0; i < size; i++) {
            double want = 0;
            for (int j = 0; j < size; j++) want += block.get(i, j) * v[d * size + j];
            err = Math.max(err, Math.abs(got[d * size + i] - want));
            scale = Math.max(scale, Math.abs(want));
          }
          double relative = err / Math.max(1, scale);
          assertTrue(relative < 1e-5, kind + " block " + p + ", direction " + d + ": relative error " + relative);
        }
        if (p.equals(net.parameterNames().get(0))) {
          // the first weight's directions pass through the sigmoid (4 samples of 64) and the tanh (of 16): sigma'(x) .* v as
          // the stored derivative (one direction, the memo) times the 3 directions, never the map's pass over them; the
          // sigmoid's before the max-pool on the 16 entries the pool keeps, as (S sigma') .* (S v) out and back, so that on
          // all 64 entries only the Hessian's residual term diag(sigma''(x) .* dz) v multiplies (once; the GGN has none); the
          // pool's gather and the multiply are one kernel, and so are the multiply and the scatter-add back
          for (String call : List.of("gatherMultiply(4x3:64x1, 4x1:4x4, 4x1:4x4)", "multiplyScatterAdd(4x1:4x4, 4x3:4x4, 4x1:4x4)"))
            assertEquals(1, calls(profile, call), kind + " block " + p + ": " + call + " among " + profile.kernels());
          assertTrue(profile.kernels().stream().anyMatch(k -> k.name().equals("multiply(4x1:16x1, 4x3:16x1)")),
              kind + " block " + p + ": no multiply(4x1:16x1, 4x3:16x1) among " + profile.kernels());
          assertEquals(kind == CurvatureKind.HESSIAN ? 1 : 0, calls(profile, "multiply(4x1:64x1, 4x3:64x1)"), kind + " block " + p + ": " + profile.kernels());
          for (String unfused : List.of("multiply(4x1:4x4, 4x3:4x4)", "gather(4x3:64x1, 4x1:4x4)", "scatterAdd(4x3:4x4, 4x1:4x4)"))
            assertEquals(0, calls(profile, unfused), kind + " block " + p + ": " + profile.kernels());
          assertTrue(profile.kernels().stream().noneMatch(k -> k.name().startsWith("mapMultiply(")), kind + " block " + p + ": " + profile.kernels());
        }
        if (p.endsWith(".W") && net.owner(p).op.name().startsWith("conv2d")) {
          // J_W v: the D directions as the filters of one convolution call over the samples
          String call = "convolution(1x" + directions + ":" + s[0] + "x" + s[1] + ", ";
          assertTrue(profile.kernels().stream().anyMatch(k -> k.name().startsWith(call)),
              kind + " block " + p + ": no " + call + "...) call among " + profile.kernels());
        }
      }
      c.release();
    }
  }

  /** How many calls of the kernel with exactly this name (and shapes) the profile counted. */
  private static long calls(KernelProfiler.Profile profile, String name) {
    return profile.kernels().stream().filter(k -> k.name().equals(name)).mapToLong(KernelProfiler.Kernel::calls).sum();
  }
}
