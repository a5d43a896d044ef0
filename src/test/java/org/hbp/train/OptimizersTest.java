package org.hbp.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.hbp.UserError;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.backend.Precision;
import org.hbp.backend.blas.BlasBackend;
import org.hbp.io.NdArray;
import org.hbp.network.ConjugateGradient;
import org.hbp.network.CurvatureKind;
import org.hbp.network.ModuleLibrary;
import org.hbp.network.Network;
import org.hbp.network.NetworkResolver;
import org.hbp.network.Pass;
import org.hbp.network.Strategy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The optimizers on small problems, against independent computations: CG-Newton with alpha = 1 (the
 * system matrix is the identity) is a plain gradient step; on a convex quadratic (a linear layer
 * with square loss, whose GGN is its Hessian) CG-Newton reaches the least-squares solution computed
 * with EJML; SGD with momentum and Adam follow PyTorch's recurrences, recomputed here on host
 * arrays from the gradients.
 */
class OptimizersTest {
  @TempDir static Path dir;
  private final Backend be = new BlasBackend(Precision.FLOAT64, 1);

  private Network net(String text) throws Exception {
    Path f = Files.createTempFile(dir, "net", ".hbp");
    Files.writeString(f, text);
    return new Network(NetworkResolver.load(f, null, ModuleLibrary.builtInSpecDirs()), ModuleLibrary.forSpecs(), be);
  }

  private static final String SIGMOID_NET = "network small {\n  input x: vector(6);\n  linear(m = 5);\n  sigmoid;\n  linear(m = 3);\n"
      + "  loss crossentropy;\n}\n";
  private static final String LINEAR_SQUARE = "network ls {\n  input x: vector(4);\n  linear(m = 3);\n  loss squareloss;\n}\n";

  private Batch random(int samples, int rows, Random rng) {
    double[] d = new double[samples * rows];
    for (int i = 0; i < d.length; i++) d[i] = rng.nextGaussian();
    return be.fromArray(samples, 1, rows, 1, d);
  }

  private Batch oneHot(int samples, int classes, Random rng) {
    double[] d = new double[samples * classes];
    for (int i = 0; i < samples; i++) d[i * classes + rng.nextInt(classes)] = 1;
    return be.fromArray(samples, 1, classes, 1, d);
  }

  private static double maxDiff(double[] a, double[] b) {
    double m = 0;
    for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
    return m;
  }

  /** The sigmoid net and a batch of 8 random inputs with one-hot targets. */
  private record SmallBatch(Network net, Batch x, Batch y) {
    /** The pass of the net with parameters {@code p} on this batch. */
    Pass run(Map<String, Batch> p) {
      return net.run(p, x, y);
    }
  }

  private SmallBatch smallBatch(long seed) throws Exception {
    Random rng = new Random(seed);
    return new SmallBatch(net(SIGMOID_NET), random(8, 6, rng), oneHot(8, 3, rng));
  }

  /** The parameters on the host, for recomputing an optimizer's recurrence. */
  private Map<String, double[]> hostCopy(Network net, Map<String, Batch> p) {
    Map<String, double[]> theta = new LinkedHashMap<>();
    for (String name : net.parameterNames()) theta.put(name, be.toArray(p.get(name)));
    return theta;
  }

  /** Each parameter of {@code p} within {@code tolerance} (max abs) of the host recomputation {@code theta}. */
  private void assertFollows(Network net, Map<String, double[]> theta, Map<String, Batch> p, double tolerance) {
    for (String name : net.parameterNames()) assertTrue(maxDiff(theta.get(name), be.toArray(p.get(name))) < tolerance, name);
  }

  @Test
  void cgNewtonWithAlphaOneIsAGradientStep() throws Exception {
    SmallBatch problem = smallBatch(3);
    Network net = problem.net();
    for (CurvatureKind kind : CurvatureKind.values())
      for (Strategy s : java.util.List.of(Strategy.EXACT, Strategy.KFRA, Strategy.BDA)) { // the paper's strategies; KfacTorchCheckTest has the others
        Map<String, Batch> p = Initialization.xavierNormal(net, 11), q = new LinkedHashMap<>(p);
        Pass pass = problem.run(p);
        CgNewton cg = new CgNewton(net, new CgNewton.Settings(0.3, 1.0, kind, s, 2, new ConjugateGradient.Settings(1e-12, 0, 10), 1L << 30));
        Optimizer.StepReport r = cg.step(pass, p);
        new Sgd(net, 0.3, 0).step(pass, q);
        for (String name : net.parameterNames())
          assertTrue(maxDiff(be.toArray(p.get(name)), be.toArray(q.get(name))) < 1e-14, kind + " " + s + " " + name);
        assertEquals(net.parameterNames().size(), r.cgIterations(), "one CG iteration per block: the system is the identity");
      }
  }

  @Test
  void cgNewtonReachesTheLeastSquaresSolutionOfAConvexQuadratic() throws Exception {
    Network net = net(LINEAR_SQUARE);
    Random rng = new Random(5);
    int n = 40;
    Batch x = random(n, 4, rng), y = random(n, 3, rng);
    // reference: least squares of [x, 1] -> y in EJML (the mean square loss is minimized there)
    DMatrixRMaj sol = leastSquares(x, y, n);
    Map<String, Batch> p = Initialization.xavierNormal(net, 1);
    CgNewton opt = new CgNewton(net, new CgNewton.Settings(0.5, 0, CurvatureKind.GGN, Strategy.EXACT, 1,
        new ConjugateGradient.Settings(1e-12, 0, 100), 1L << 30));
    double loss = Double.NaN;
    for (int step = 0; step < 60; step++) {
      Pass pass = net.run(p, x, y);
      loss = pass.loss();
      opt.step(pass, p);
    }
    // W is 3x4 column-major: W[k][j] at k + 3 j; the solution's row j, column k
    double[] w = be.toArray(p.get("0.W")), bias = be.toArray(p.get("0.b"));
    for (int k = 0; k < 3; k++) {
      for (int j = 0; j < 4; j++) assertEquals(sol.get(j, k), w[k + 3 * j], 1e-9, "W[" + k + "][" + j + "]");
      assertEquals(sol.get(4, k), bias[k], 1e-9, "b[" + k + "]");
    }
    Pass last = net.run(p, x, y);
    for (String name : net.parameterNames()) assertTrue(last.gradientNorm(name) < 1e-9, name + " gradient " + last.gradientNorm(name));
    assertTrue(last.loss() <= loss + 1e-12);
  }

  /**
   * On a linear layer with the mean square loss the joint GGN block over [W, b] is the whole Hessian
   * of a convex quadratic, so one undamped CG-Newton step with it (gamma 1, alpha 0, CG to
   * convergence) lands on EJML's least-squares solution of {@code [x, 1] -> y}; one step with the
   * per-parameter blocks (W and b apart) does not.
   */
  @Test
  void oneCgNewtonStepWithTheLayersJointBlockSolvesAConvexQuadratic() throws Exception {
    Network net = net(LINEAR_SQUARE);
    Random rng = new Random(7);
    int n = 30;
    Batch x = random(n, 4, rng), y = random(n, 3, rng);
    DMatrixRMaj sol = leastSquares(x, y, n);
    ConjugateGradient.Settings converged = new ConjugateGradient.Settings(1e-13, 0, 100);
    double apart = 0;
    for (boolean layer : new boolean[] {true, false}) {
      Map<String, Batch> p = Initialization.xavierNormal(net, 2);
      CgNewton opt = new CgNewton(net, new CgNewton.Settings(1, 0, CurvatureKind.GGN, Strategy.EXACT, 1, layer, converged, 1L << 30));
      opt.step(net.run(p, x, y), p);
      double[] w = be.toArray(p.get("0.W")), bias = be.toArray(p.get("0.b"));
      for (int k = 0; k < 3; k++) {
        for (int j = 0; j < 4; j++) {
          if (layer) assertEquals(sol.get(j, k), w[k + 3 * j], 1e-9, "W[" + k + "][" + j + "]");
          apart = Math.max(apart, Math.abs(sol.get(j, k) - w[k + 3 * j]));
        }
        if (layer) assertEquals(sol.get(4, k), bias[k], 1e-9, "b[" + k + "]");
      }
      if (layer) assertTrue(opt.label().contains("blocks=layer") && "layer".equals(opt.config().get("blocks")), opt.label() + " " + opt.config());
    }
    assertTrue(apart > 1e-3, "one step with the per-parameter blocks lands " + apart + " from the solution");
  }

  /** One step of an optimizer's recurrence on the host: updates the parameter {@code theta} in place from its gradient. */
  private interface HostStep {
    void apply(int step, String name, double[] gradient, double[] theta);
  }

  /**
   * Four steps of {@code optimizer} on the small batch {@code batchSeed}, from Xavier-normal
   * parameters ({@code initSeed}), follow the recurrence {@code reference} (steps 1..4) recomputed
   * on host arrays from the same gradients, within {@code tolerance}.
   */
  private void assertFollowsRecurrence(long batchSeed, long initSeed, Function<Network, Optimizer> optimizer, HostStep reference,
      double tolerance) throws Exception {
    SmallBatch problem = smallBatch(batchSeed);
    Network net = problem.net();
    Map<String, Batch> p = Initialization.xavierNormal(net, initSeed);
    Map<String, double[]> theta = hostCopy(net, p);
    Optimizer opt = optimizer.apply(net);
    for (int step = 1; step <= 4; step++) {
      Pass pass = problem.run(p);
      for (String name : net.parameterNames()) reference.apply(step, name, be.toArray(pass.gradient(name)), theta.get(name));
      opt.step(pass, p);
    }
    assertFollows(net, theta, p, tolerance);
  }

  @Test
  void sgdWithMomentumFollowsPyTorchsRecurrence() throws Exception {
    Map<String, double[]> buf = new LinkedHashMap<>();
    assertFollowsRecurrence(7, 2, net -> new Sgd(net, 0.05, 0.9), (step, name, g, t) -> {
      double[] b = buf.get(name);
      if (b == null) b = g.clone();
      else for (int i = 0; i < b.length; i++) b[i] = 0.9 * b[i] + g[i];
      buf.put(name, b);
      for (int i = 0; i < t.length; i++) t[i] -= 0.05 * b[i];
    }, 1e-14);
  }

  @Test
  void adamFollowsPyTorchsRecurrence() throws Exception {
    Map<String, double[]> m = new LinkedHashMap<>(), v = new LinkedHashMap<>();
    assertFollowsRecurrence(9, 4, net -> new Adam(net, 0.01, 0.9, 0.999, 1e-8), (step, name, g, t) -> {
      double[] mm = m.computeIfAbsent(name, k -> new double[t.length]), vv = v.computeIfAbsent(name, k -> new double[t.length]);
      for (int i = 0; i < t.length; i++) {
        mm[i] = 0.9 * mm[i] + 0.1 * g[i];
        vv[i] = 0.999 * vv[i] + 0.001 * g[i] * g[i];
        double mh = mm[i] / (1 - Math.pow(0.9, step)), vh = vv[i] / (1 - Math.pow(0.999, step));
        t[i] -= 0.01 * mh / (Math.sqrt(vh) + 1e-8);
      }
    }, 1e-13);
  }

  @Test
  void stateRoundTripsForResuming() throws Exception {
    SmallBatch problem = smallBatch(13);
    Network net = problem.net();
    for (int kind = 0; kind < 2; kind++) {
      Map<String, Batch> p = Initialization.xavierNormal(net, 5);
      Optimizer a = kind == 0 ? new Sgd(net, 0.1, 0.9) : new Adam(net, 0.01, 0.9, 0.999, 1e-8);
      Optimizer b = kind == 0 ? new Sgd(net, 0.1, 0.9) : new Adam(net, 0.01, 0.9, 0.999, 1e-8);
      a.step(problem.run(p), p);
      b.restore(a.state(), 1);
      Map<String, Batch> q = new LinkedHashMap<>(p);
      a.step(problem.run(p), p);
      b.step(problem.run(q), q);
      for (String name : net.parameterNames()) assertTrue(maxDiff(be.toArray(p.get(name)), be.toArray(q.get(name))) == 0, a.label() + " " + name);
    }
    assertThrows(UserError.class, () -> new Adam(net(SIGMOID_NET), 0.01, 0.9, 0.999, 1e-8).restore(Map.of(), 0));
  }

  @Test
  void xavierNormalInitialization() throws Exception {
    Network net = net("network big {\n  input x: tensor(2, 8, 8);\n  conv2d(cout = 30, k = 3, s = 1, p = 1, d = 1);\n  flatten;\n"
        + "  linear(m = 200);\n  loss crossentropy;\n}\n");
    Map<String, NdArray> p = Initialization.xavierNormalTorch(net, 42);
    assertEquals(List.of("0.W", "0.b", "2.W", "2.b"), List.copyOf(p.keySet()));
    // conv [30, 2, 3, 3]: fan_in 18, fan_out 270; linear [200, 1920]
    double[] expectedStd = {Math.sqrt(2.0 / (18 + 270)), 0, Math.sqrt(2.0 / (1920 + 200)), 0};
    int i = 0;
    for (NdArray a : p.values()) {
      double s = 0;
      for (double v : a.data()) s += v * v;
      double std = Math.sqrt(s / a.numel());
      if (expectedStd[i] == 0) assertEquals(0, std, "biases are zero");
      else assertEquals(expectedStd[i], std, 0.05 * expectedStd[i], "std of " + List.copyOf(p.keySet()).get(i));
      i++;
    }
    assertEquals(p.get("2.W"), Initialization.xavierNormalTorch(net, 42).get("2.W"), "seeded");
    assertTrue(!p.get("2.W").equals(Initialization.xavierNormalTorch(net, 43).get("2.W")), "another seed, another net");
  }

  /** EJML's least-squares solution (5 x 3) of {@code [x, 1] -> y} for n samples of x (4 entries) and y (3). */
  private DMatrixRMaj leastSquares(Batch x, Batch y, int n) {
    double[] xs = be.toArray(x), ys = be.toArray(y);
    DMatrixRMaj a = new DMatrixRMaj(n, 5), b = new DMatrixRMaj(n, 3), sol = new DMatrixRMaj(5, 3);
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < 4; j++) a.set(i, j, xs[i * 4 + j]);
      a.set(i, 4, 1);
      for (int k = 0; k < 3; k++) b.set(i, k, ys[i * 3 + k]);
    }
    assertTrue(CommonOps_DDRM.solve(a, b, sol));
    return sol;
  }
}
