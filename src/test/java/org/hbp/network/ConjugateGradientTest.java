package org.hbp.network;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.backend.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

/** CG for eq. 10 against EJML's dense solve. */
class ConjugateGradientTest {
  final Backend be = new CpuBackend();

  /** A random SPD matrix as a product on 3x2 parameter-shaped batches. */
  static DMatrixRMaj spd(int n, Random rng) {
    DMatrixRMaj a = new DMatrixRMaj(n, n), s = new DMatrixRMaj(n, n);
    for (int i = 0; i < a.getNumElements(); i++) a.data[i] = rng.nextGaussian();
    CommonOps_DDRM.multTransA(a, a, s);
    return s;
  }

  Batch apply(DMatrixRMaj m, Batch v) {
    double[] x = be.toArray(v);
    DMatrixRMaj col = new DMatrixRMaj(x.length, 1, true, x), out = new DMatrixRMaj(x.length, 1);
    CommonOps_DDRM.mult(m, col, out);
    return be.fromArray(1, 1, v.rows(), v.cols(), out.data);
  }

  @Test
  void solvesTheDampedSystemLikeADenseSolver() {
    Random rng = new Random(4);
    DMatrixRMaj c = spd(6, rng);
    double alpha = 0.02;
    double[] bd = new double[6];
    for (int i = 0; i < 6; i++) bd[i] = rng.nextGaussian();
    Batch b = be.fromArray(1, 1, 3, 2, bd);
    ConjugateGradient.Result r = ConjugateGradient.solve(be, v -> apply(c, v), alpha, b, new ConjugateGradient.Settings(1e-12, 0, 100));
    assertTrue(r.converged());
    assertTrue(r.iterations() <= 6 + 2, "CG converges in about n steps: " + r.iterations());
    DMatrixRMaj a = c.copy();
    CommonOps_DDRM.scale(1 - alpha, a);
    for (int i = 0; i < 6; i++) a.add(i, i, alpha);
    DMatrixRMaj x = new DMatrixRMaj(6, 1);
    assertTrue(CommonOps_DDRM.solve(a, new DMatrixRMaj(6, 1, true, bd), x));
    double[] got = be.toArray(r.solution());
    for (int i = 0; i < 6; i++) assertEquals(x.get(i), got[i], 1e-9);
    assertEquals(3, r.solution().rows());
    assertTrue(r.residualNorm() <= 1e-12 * r.rhsNorm());
  }

  @Test
  void identityCurvatureGivesTheRightHandSideInOneStep() {
    Batch b = be.fromArray(1, 1, 2, 1, new double[] {3, -4});
    ConjugateGradient.Result r = ConjugateGradient.solve(be, v -> v, 0.3, b, new ConjugateGradient.Settings(1e-10, 0, 10));
    assertEquals(1, r.iterations());
    assertEquals(5, r.rhsNorm(), 1e-15);
    double[] x = be.toArray(r.solution());
    assertEquals(3, x[0], 1e-15);
    assertEquals(-4, x[1], 1e-15);
  }

  @Test
  void stopsAtTheRelativeOrAbsoluteToleranceOrTheIterationLimit() {
    Random rng = new Random(8);
    DMatrixRMaj c = spd(20, rng);
    double[] bd = new double[20];
    for (int i = 0; i < 20; i++) bd[i] = rng.nextGaussian();
    Batch b = be.fromArray(1, 1, 20, 1, bd);
    ConjugateGradient.Result loose = ConjugateGradient.solve(be, v -> apply(c, v), 0, b, new ConjugateGradient.Settings(0.1, 0, 200));
    assertTrue(loose.converged());
    assertTrue(loose.residualNorm() <= 0.1 * loose.rhsNorm());
    ConjugateGradient.Result abs = ConjugateGradient.solve(be, v -> apply(c, v), 0, b, new ConjugateGradient.Settings(0, 1e3, 200));
    assertEquals(0, abs.iterations(), "a residual below atol at the start: no iteration");
    ConjugateGradient.Result capped = ConjugateGradient.solve(be, v -> apply(c, v), 0, b, new ConjugateGradient.Settings(1e-14, 0, 2));
    assertEquals(2, capped.iterations());
    assertFalse(capped.converged());
    assertThrows(IllegalArgumentException.class, () -> ConjugateGradient.solve(be, v -> v, 1.5, b, ConjugateGradient.Settings.defaults()));
    assertThrows(IllegalArgumentException.class, () -> new ConjugateGradient.Settings(0.1, 0, 0));
  }

  @Test
  void newtonStepOnANetworkBlock() {
    NetworkCurvatureTest.Setup s = new NetworkCurvatureTest.Setup(NetworkCurvatureTest.fc(), 4, 21);
    Pass pass = s.pass();
    Curvature c = pass.curvature(CurvatureKind.GGN, Strategy.EXACT);
    Batch g = pass.gradient("2.W");
    ConjugateGradient.Result r = ConjugateGradient.solve(be, v -> c.matProd("2.W", v), 0.1, be.scale(g, -1),
        new ConjugateGradient.Settings(1e-10, 0, 100));
    assertTrue(r.converged());
    // residual check: [0.1 I + 0.9 C] d + g = 0
    Batch lhs = be.add(be.scale(r.solution(), 0.1), be.scale(c.matProd("2.W", r.solution()), 0.9));
    double[] res = be.toArray(be.add(lhs, g));
    for (double x : res) assertEquals(0, x, 1e-9);
  }

  /**
   * {@link ConjugateGradient#solveJoint} on two parameters of different shapes (3x2 and 4x1) with
   * a random SPD matrix over their stacked entries, cross entries included: EJML's dense solve of
   * the damped system; the solution keyed and ordered as the right-hand side, in its shapes.
   */
  @Test
  void solvesAJointSystemOverSeveralParametersLikeADenseSolver() {
    Random rng = new Random(11);
    DMatrixRMaj c = spd(10, rng);
    double alpha = 0.05;
    double[] bd = new double[10];
    for (int i = 0; i < 10; i++) bd[i] = rng.nextGaussian();
    java.util.Map<String, Batch> b = new java.util.LinkedHashMap<>();
    b.put("w", be.fromArray(1, 1, 3, 2, java.util.Arrays.copyOfRange(bd, 0, 6)));
    b.put("b", be.fromArray(1, 1, 4, 1, java.util.Arrays.copyOfRange(bd, 6, 10)));
    java.util.function.UnaryOperator<java.util.Map<String, Batch>> product = v -> {
      double[] x = new double[10];
      System.arraycopy(be.toArray(v.get("w")), 0, x, 0, 6);
      System.arraycopy(be.toArray(v.get("b")), 0, x, 6, 4);
      DMatrixRMaj out = new DMatrixRMaj(10, 1);
      CommonOps_DDRM.mult(c, new DMatrixRMaj(10, 1, true, x), out);
      java.util.Map<String, Batch> r = new java.util.HashMap<>();
      r.put("b", be.fromArray(1, 1, 4, 1, java.util.Arrays.copyOfRange(out.data, 6, 10)));
      r.put("w", be.fromArray(1, 1, 3, 2, java.util.Arrays.copyOfRange(out.data, 0, 6)));
      return r;
    };
    ConjugateGradient.JointResult r = ConjugateGradient.solveJoint(be, product, alpha, b, new ConjugateGradient.Settings(1e-13, 0, 100));
    assertTrue(r.converged());
    assertEquals(java.util.List.of("w", "b"), java.util.List.copyOf(r.solution().keySet()));
    DMatrixRMaj a = c.copy();
    CommonOps_DDRM.scale(1 - alpha, a);
    for (int i = 0; i < 10; i++) a.add(i, i, alpha);
    DMatrixRMaj x = new DMatrixRMaj(10, 1);
    assertTrue(CommonOps_DDRM.solve(a, new DMatrixRMaj(10, 1, true, bd), x));
    double[] w = be.toArray(r.solution().get("w")), bias = be.toArray(r.solution().get("b"));
    for (int i = 0; i < 6; i++) assertEquals(x.get(i), w[i], 1e-9, "w[" + i + "]");
    for (int i = 0; i < 4; i++) assertEquals(x.get(6 + i), bias[i], 1e-9, "b[" + i + "]");
    assertEquals(3, r.solution().get("w").rows());
    assertEquals(4, r.solution().get("b").rows());
    double bNorm = 0;
    for (double v : bd) bNorm += v * v;
    assertEquals(Math.sqrt(bNorm), r.rhsNorm(), 1e-12);
  }
}
