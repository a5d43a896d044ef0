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
    java.util.function.UnaryOperator<java.util.Map<String, Batch>> product = jointProduct(c, 3, 2, 4);
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

  /** {@code Q diag(mu) Q'} with a random orthogonal Q (EJML's QR of a Gaussian matrix); Q is written to {@code q}. */
  static DMatrixRMaj withEigenvalues(double[] mu, Random rng, DMatrixRMaj q) {
    int n = mu.length;
    DMatrixRMaj g = new DMatrixRMaj(n, n);
    for (int i = 0; i < g.getNumElements(); i++) g.data[i] = rng.nextGaussian();
    org.ejml.interfaces.decomposition.QRDecomposition<DMatrixRMaj> qr = org.ejml.dense.row.factory.DecompositionFactory_DDRM.qr(n, n);
    assertTrue(qr.decompose(g));
    q.setTo(qr.getQ(null, false));
    DMatrixRMaj d = CommonOps_DDRM.diag(mu), qd = new DMatrixRMaj(n, n), m = new DMatrixRMaj(n, n);
    CommonOps_DDRM.mult(q, d, qd);
    CommonOps_DDRM.multTransB(qd, q, m);
    return m;
  }

  /** The eigenvalues of the symmetric damped block {@code alpha I + (1 - alpha) C} by EJML, ascending. */
  static double[] dampedEigenvalues(DMatrixRMaj c, double alpha) {
    int n = c.numRows;
    DMatrixRMaj a = c.copy();
    CommonOps_DDRM.scale(1 - alpha, a);
    for (int i = 0; i < n; i++) a.add(i, i, alpha);
    org.ejml.interfaces.decomposition.EigenDecomposition_F64<DMatrixRMaj> eig = org.ejml.dense.row.factory.DecompositionFactory_DDRM.eig(n, false, true);
    assertTrue(eig.decompose(a));
    double[] e = new double[n];
    for (int i = 0; i < n; i++) e[i] = eig.getEigenvalue(i).getReal();
    java.util.Arrays.sort(e);
    return e;
  }

  /** Q times the coordinates {@code y} (in the eigenbasis). */
  static double[] inBasis(DMatrixRMaj q, double... y) {
    DMatrixRMaj out = new DMatrixRMaj(q.numRows, 1);
    CommonOps_DDRM.mult(q, new DMatrixRMaj(y.length, 1, true, y), out);
    return out.data;
  }

  /**
   * A damped block with eigenvalues 4, -1, 1, 2, 3, 5 (C = Q diag(2 mu - 1) Q', alpha 0.5; checked by
   * EJML's eigendecomposition) and b = Q (1, 1, 0, ...): by hand, CG's first step is x1 = (2/3) b with
   * r1 = (-5/3, 5/3), then p1 = r1 + (25/9) p0 = (10/9, 40/9), whose curvature 4 (10/9)^2 - (40/9)^2
   * = -1200/81 is negative: CG stops at iteration 2 and returns x1. With b along the -1 eigenvector
   * it stops at iteration 1 and returns b (steepest descent), residual |b - (-b)| = 2 |b|.
   */
  @Test
  void negativeCurvatureStopsAtTheIterationItIsMetAndSaysSo() {
    Random rng = new Random(31);
    double[] mu = {4, -1, 1, 2, 3, 5};
    double alpha = 0.5;
    double[] cEig = new double[6];
    for (int i = 0; i < 6; i++) cEig[i] = (mu[i] - alpha) / (1 - alpha);
    DMatrixRMaj q = new DMatrixRMaj(6, 6);
    DMatrixRMaj c = withEigenvalues(cEig, rng, q);
    double[] expected = {-1, 1, 2, 3, 4, 5};
    double[] got = dampedEigenvalues(c, alpha);
    for (int i = 0; i < 6; i++) assertEquals(expected[i], got[i], 1e-12, "damped eigenvalue " + i);

    Batch b = be.fromArray(1, 1, 3, 2, inBasis(q, 1, 1, 0, 0, 0, 0));
    ConjugateGradient.Result r = ConjugateGradient.solve(be, v -> apply(c, v), alpha, b, new ConjugateGradient.Settings(1e-14, 0, 100));
    ConjugateGradient.NegativeCurvature nc = r.negativeCurvature();
    assertTrue(nc != null, "negative curvature not reported: " + r);
    assertEquals(2, nc.iteration());
    assertEquals(1, r.iterations());
    assertFalse(r.converged());
    assertFalse(nc.steepestDescent());
    assertEquals(-1200.0 / 81, nc.pAp(), 1e-12);
    assertEquals(-1200.0 / 1700, nc.rayleigh(), 1e-12);
    double[] x1 = inBasis(q, 2.0 / 3, 2.0 / 3, 0, 0, 0, 0), x = be.toArray(r.solution());
    for (int i = 0; i < 6; i++) assertEquals(x1[i], x[i], 1e-12, "x[" + i + "]");
    assertEquals(Math.sqrt(50.0 / 9), r.residualNorm(), 1e-12);
    String said = nc.describe();
    assertTrue(said.startsWith("negative curvature at iteration 2 (p'Ap = -14.8"), said);
    assertTrue(said.contains("not positive definite") && said.contains("iterate 1") && said.contains("larger damping alpha")
        && said.contains("--curvature ggn"), said);

    double[] e2 = inBasis(q, 0, 1, 0, 0, 0, 0);
    Batch b2 = be.fromArray(1, 1, 3, 2, e2);
    ConjugateGradient.Result first = ConjugateGradient.solve(be, v -> apply(c, v), alpha, b2, new ConjugateGradient.Settings(1e-14, 0, 100));
    assertTrue(first.negativeCurvature() != null);
    assertEquals(1, first.negativeCurvature().iteration());
    assertEquals(0, first.iterations());
    assertTrue(first.negativeCurvature().steepestDescent());
    assertEquals(-1, first.negativeCurvature().pAp(), 1e-12);
    assertEquals(-1, first.negativeCurvature().rayleigh(), 1e-12);
    double[] sd = be.toArray(first.solution());
    for (int i = 0; i < 6; i++) assertEquals(e2[i], sd[i], 1e-15, "the step is b");
    assertEquals(2, first.residualNorm(), 1e-12);
    assertTrue(first.negativeCurvature().describe().contains("steepest descent"));
    assertFalse(be.sharesStorage(first.solution(), b2), "the solution is new");
  }

  /**
   * A singular block without damping and b in its null space: zero curvature stops CG at iteration 1
   * too; and with the diagonal block diag(0, 1, 2, 3, 4) (exact products) and b = (3, 3e-10, 0, ...),
   * almost in the null space, {@code p'Ap = 9e-20} is positive but 1e-10 of {@code |p| |Ap|}:
   * negligible, CG would step 1e20 along it; caught as well.
   */
  @Test
  void zeroCurvatureIsCaughtRelativeToTheProductsSize() {
    Random rng = new Random(32);
    DMatrixRMaj q = new DMatrixRMaj(5, 5);
    DMatrixRMaj c = withEigenvalues(new double[] {0, 1, 2, 3, 4}, rng, q);
    Batch b = be.fromArray(1, 1, 5, 1, inBasis(q, 3, 0, 0, 0, 0));
    ConjugateGradient.Result r = ConjugateGradient.solve(be, v -> apply(c, v), 0, b, new ConjugateGradient.Settings(1e-12, 0, 50));
    assertTrue(r.negativeCurvature() != null, "zero curvature not reported: " + r);
    assertEquals(1, r.negativeCurvature().iteration());
    assertTrue(Math.abs(r.negativeCurvature().rayleigh()) < 1e-12);
    DMatrixRMaj diagonal = CommonOps_DDRM.diag(0, 1, 2, 3, 4);
    Batch almost = be.fromArray(1, 1, 5, 1, new double[] {3, 3e-10, 0, 0, 0});
    ConjugateGradient.Result tiny = ConjugateGradient.solve(be, v -> apply(diagonal, v), 0, almost, new ConjugateGradient.Settings(1e-12, 0, 50));
    assertTrue(tiny.negativeCurvature() != null, "negligible curvature not reported: " + tiny);
    assertEquals(1, tiny.negativeCurvature().iteration(), tiny.toString());
    assertEquals(1e-20, tiny.negativeCurvature().rayleigh(), 1e-21);
  }

  /** The same indefinite block over two parameters by {@link ConjugateGradient#solveJoint}: the same stop. */
  @Test
  void negativeCurvatureInAJointBlock() {
    Random rng = new Random(31);
    double[] mu = {4, -1, 1, 2, 3, 5};
    DMatrixRMaj q = new DMatrixRMaj(6, 6);
    double[] cEig = new double[6];
    for (int i = 0; i < 6; i++) cEig[i] = (mu[i] - 0.5) / 0.5;
    DMatrixRMaj c = withEigenvalues(cEig, rng, q);
    double[] bd = inBasis(q, 1, 1, 0, 0, 0, 0);
    java.util.Map<String, Batch> b = new java.util.LinkedHashMap<>();
    b.put("w", be.fromArray(1, 1, 2, 2, java.util.Arrays.copyOfRange(bd, 0, 4)));
    b.put("b", be.fromArray(1, 1, 2, 1, java.util.Arrays.copyOfRange(bd, 4, 6)));
    java.util.function.UnaryOperator<java.util.Map<String, Batch>> product = jointProduct(c, 2, 2, 2);
    ConjugateGradient.JointResult r = ConjugateGradient.solveJoint(be, product, 0.5, b, new ConjugateGradient.Settings(1e-14, 0, 100));
    assertTrue(r.negativeCurvature() != null);
    assertEquals(2, r.negativeCurvature().iteration());
    assertEquals(-1200.0 / 81, r.negativeCurvature().pAp(), 1e-12);
    double[] x1 = inBasis(q, 2.0 / 3, 2.0 / 3, 0, 0, 0, 0);
    double[] w = be.toArray(r.solution().get("w")), bias = be.toArray(r.solution().get("b"));
    for (int i = 0; i < 4; i++) assertEquals(x1[i], w[i], 1e-12);
    for (int i = 0; i < 2; i++) assertEquals(x1[4 + i], bias[i], 1e-12);
  }

  /**
   * Positive definite blocks are solved as plain CG from its definition solves them (written here on
   * double[]): the same iterations and iterates, no report; also an ill-conditioned one (eigenvalues
   * 1e-9 to 1, whose iterates and stopping point rounding separates, so only the report is checked).
   */
  @Test
  void positiveDefiniteBlocksAreSolvedAsPlainCg() {
    Random rng = new Random(33);
    double[][] spectra = {{0.01, 0.05, 0.1, 0.3, 0.5, 1, 0.7, 0.2}, {1e-9, 1e-6, 1e-3, 0.1, 0.5, 1, 0.7, 0.2}};
    for (int which = 0; which < 2; which++) {
      DMatrixRMaj c = withEigenvalues(spectra[which], rng, new DMatrixRMaj(8, 8));
      double[] bd = new double[8];
      for (int i = 0; i < 8; i++) bd[i] = rng.nextGaussian();
      for (int maxIter : new int[] {3, 8, 40}) {
        String where = "spectrum " + which + ", max " + maxIter;
        ConjugateGradient.Settings s = new ConjugateGradient.Settings(1e-12, 0, maxIter);
        ConjugateGradient.Result r = ConjugateGradient.solve(be, v -> apply(c, v), 0, be.fromArray(1, 1, 8, 1, bd), s);
        assertEquals(null, r.negativeCurvature(), where);
        // plain CG from the definition
        double[] x = new double[8], rr = bd.clone(), p = bd.clone();
        double bn = Math.sqrt(dotOf(bd, bd)), rho = dotOf(rr, rr);
        int k = 0;
        while (k < maxIter) {
          DMatrixRMaj apm = new DMatrixRMaj(8, 1);
          CommonOps_DDRM.mult(c, new DMatrixRMaj(8, 1, true, p), apm);
          double a = rho / dotOf(p, apm.data);
          for (int i = 0; i < 8; i++) {
            x[i] += a * p[i];
            rr[i] -= a * apm.data[i];
          }
          k++;
          double rhoNew = dotOf(rr, rr);
          if (Math.sqrt(rhoNew) <= 1e-12 * bn) break;
          for (int i = 0; i < 8; i++) p[i] = rr[i] + rhoNew / rho * p[i];
          rho = rhoNew;
        }
        if (which == 1) continue;
        assertEquals(k, r.iterations(), where);
        double[] got = be.toArray(r.solution());
        for (int i = 0; i < 8; i++) assertEquals(x[i], got[i], 1e-9 * Math.max(1, Math.abs(x[i])), where + ", x[" + i + "]");
      }
    }
  }

  static double dotOf(double[] a, double[] b) {
    double t = 0;
    for (int i = 0; i < a.length; i++) t += a[i] * b[i];
    return t;
  }

  /**
   * The product of the dense matrix c with directions over two parameters, w (rows x cols) and b
   * (a column of bRows), stacked as vec(w) then b; the result keyed by name, in no particular order
   * (a HashMap: the solver must not rely on the product's order).
   */
  private java.util.function.UnaryOperator<java.util.Map<String, Batch>> jointProduct(DMatrixRMaj c, int rows, int cols, int bRows) {
    int nw = rows * cols, n = nw + bRows;
    return v -> {
      double[] x = new double[n];
      System.arraycopy(be.toArray(v.get("w")), 0, x, 0, nw);
      System.arraycopy(be.toArray(v.get("b")), 0, x, nw, bRows);
      DMatrixRMaj out = new DMatrixRMaj(n, 1);
      CommonOps_DDRM.mult(c, new DMatrixRMaj(n, 1, true, x), out);
      java.util.Map<String, Batch> r = new java.util.HashMap<>();
      r.put("b", be.fromArray(1, 1, bRows, 1, java.util.Arrays.copyOfRange(out.data, nw, n)));
      r.put("w", be.fromArray(1, 1, rows, cols, java.util.Arrays.copyOfRange(out.data, 0, nw)));
      return r;
    };
  }
}
