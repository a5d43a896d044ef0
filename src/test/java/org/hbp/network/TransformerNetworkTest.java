package org.hbp.network;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.backend.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

/**
 * networks/transformer.hbp (embedding, positional bias, two pre-norm blocks of two-head
 * attention and a GELU MLP with residuals, mean pooling, a linear head, cross-entropy) resolves,
 * runs, and its gradient and exact Hessian blocks agree with central finite differences of its
 * own loss and gradient (an oracle that shares nothing with the derived rules but the forward
 * pass); the GGN, PCH and the kfra / bda strategies run on it to finite values.
 */
class TransformerNetworkTest {
  final Backend be = new CpuBackend();
  static final int N = 3, V = 12, T = 8, C = 4;

  final Network net = new Network(NetworkResolver.load(Path.of("networks/transformer.hbp"), null,
      List.of(Path.of("modules-spec"))), ModuleLibrary.forSpecs(), be);

  /** N sequences of T random tokens, one-hot columns. */
  Batch tokens(Random rng) {
    double[] x = new double[N * V * T];
    for (int s = 0; s < N; s++) for (int t = 0; t < T; t++) x[s * V * T + t * V + rng.nextInt(V)] = 1;
    return be.fromArray(N, 1, V, T, x);
  }

  Batch labels(Random rng) {
    double[] y = new double[N * C];
    for (int s = 0; s < N; s++) y[s * C + rng.nextInt(C)] = 1;
    return be.fromArray(N, 1, C, 1, y);
  }

  /** The parameters with {@code name} moved by {@code eps * dir}. */
  Map<String, Batch> moved(Map<String, Batch> p, String name, double[] dir, double eps) {
    Map<String, Batch> q = new LinkedHashMap<>(p);
    double[] w = be.toArray(p.get(name));
    for (int i = 0; i < w.length; i++) w[i] += eps * dir[i];
    int[] s = net.parameterShape(name);
    q.put(name, be.fromArray(1, 1, s[0], s[1], w));
    return q;
  }

  double loss(Map<String, Batch> p, Batch x, Batch y) {
    try (Pass pass = net.run(p, x, y)) {
      return pass.loss();
    }
  }

  double[] gradient(Map<String, Batch> p, Batch x, Batch y, String name) {
    try (Pass pass = net.run(p, x, y)) {
      return be.toArray(pass.gradient(name));
    }
  }

  @Test
  void itResolvesWithTheShapesOfATransformer() {
    assertEquals(List.of(C), net.spec().body().get(net.spec().body().size() - 1).outputShape());
    // E, the positional bias, 2 x (ln g, b; Wq, Wk, Wv, Wo of both heads; ln g, b; W1, b1, W2, b2), the head W, b
    assertEquals(2 + 2 * 12 + 2, net.parameterNames().size(), net.parameterNames().toString());
    assertEquals("[16, 12]", java.util.Arrays.toString(net.parameterShape("0.E")));
    assertEquals("[16, 16]", java.util.Arrays.toString(net.parameterShape("2.1.Wq")));
  }

  @Test
  void gradientAndExactHessianBlocksAgreeWithFiniteDifferences() {
    Random rng = new Random(16);
    Map<String, Batch> p = ExampleNetworksTest.randomParameters(net, be, rng);
    Batch x = tokens(rng), y = labels(rng);
    double eps = 1e-5;
    try (Pass pass = net.run(p, x, y)) {
      assertTrue(Double.isFinite(pass.loss()) && pass.loss() > 0, "loss " + pass.loss());
      Curvature h = pass.curvature(CurvatureKind.HESSIAN, Strategy.EXACT);
      for (String name : net.parameterNames()) {
        int size = net.parameterSize(name);
        double[] dir = rng.doubles(size, -1, 1).toArray();
        // <g, v> against the central difference of the loss
        double[] g = be.toArray(pass.gradient(name));
        double gv = 0;
        for (int i = 0; i < size; i++) gv += g[i] * dir[i];
        double fd = (loss(moved(p, name, dir, eps), x, y) - loss(moved(p, name, dir, -eps), x, y)) / (2 * eps);
        assertEquals(fd, gv, 1e-7 * Math.max(1, Math.abs(fd)), name + ": gradient");
        // H v against the central difference of the gradient
        int[] s = net.parameterShape(name);
        double[] hv = be.toArray(h.matProd(name, be.fromArray(1, 1, s[0], s[1], dir)));
        double[] gp = gradient(moved(p, name, dir, eps), x, y, name), gm = gradient(moved(p, name, dir, -eps), x, y, name);
        double err = 0, scale = 0;
        for (int i = 0; i < size; i++) {
          double ref = (gp[i] - gm[i]) / (2 * eps);
          err = Math.max(err, Math.abs(hv[i] - ref));
          scale = Math.max(scale, Math.abs(ref));
        }
        assertTrue(err <= 1e-6 * Math.max(1, scale), name + ": Hessian block product, max abs error " + err + " (scale " + scale + ")");
      }
    }
  }

  @Test
  void theOtherCurvaturesAndStrategiesRun() {
    Random rng = new Random(17);
    Map<String, Batch> p = ExampleNetworksTest.randomParameters(net, be, rng);
    try (Pass pass = net.run(p, tokens(rng), labels(rng))) {
      for (Strategy st : NetworkCurvatureTest.paperStrategies()) { // kfac, kflr, ekfac refuse layernorm and embedding parameters
        for (CurvatureKind kind : List.of(CurvatureKind.GGN, CurvatureKind.PCH_ABS)) {
          Curvature c = pass.curvature(kind, st);
          for (String name : List.of("0.E", "2.1.Wq", "4.1.Wo", "5.3.W", "7.W")) {
            int[] s = net.parameterShape(name);
            double[] hv = be.toArray(c.matProd(name, be.fromArray(1, 1, s[0], s[1], rng.doubles(s[0] * s[1], -1, 1).toArray())));
            double norm = 0;
            for (double v : hv) norm += v * v;
            assertTrue(Double.isFinite(norm) && norm > 0, st + " " + kind + " " + name + ": |Cv|^2 = " + norm);
          }
          c.release();
        }
      }
    }
  }
}
