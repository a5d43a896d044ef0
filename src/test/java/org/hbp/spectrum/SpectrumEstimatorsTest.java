package org.hbp.spectrum;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.EigenDecomposition_F64;
import org.junit.jupiter.api.Test;

/**
 * Lanczos, Hutchinson and SLQ on dense symmetric matrices against EJML's eigendecomposition and
 * the exact trace and diagonal (the reference shares nothing with the estimators but EJML's
 * symmetric eigensolver, which Lanczos uses only on its small tridiagonal matrix).
 */
class SpectrumEstimatorsTest {
  /** A random symmetric matrix with eigenvalues {@code values} and random eigenvectors (QR of a Gaussian matrix). */
  static DMatrixRMaj withEigenvalues(Random rng, double... values) {
    int n = values.length;
    DMatrixRMaj g = new DMatrixRMaj(n, n);
    for (int i = 0; i < g.data.length; i++) g.data[i] = rng.nextGaussian();
    var qr = DecompositionFactory_DDRM.qr(n, n);
    assertTrue(qr.decompose(g));
    DMatrixRMaj q = qr.getQ(null, false);
    DMatrixRMaj d = CommonOps_DDRM.diag(values), qd = new DMatrixRMaj(n, n), a = new DMatrixRMaj(n, n);
    CommonOps_DDRM.mult(q, d, qd);
    CommonOps_DDRM.multTransB(qd, q, a);
    symmetrize(a);
    return a;
  }

  static DMatrixRMaj randomSymmetric(Random rng, int n) {
    DMatrixRMaj a = new DMatrixRMaj(n, n);
    for (int i = 0; i < a.data.length; i++) a.data[i] = rng.nextGaussian();
    symmetrize(a);
    return a;
  }

  static void symmetrize(DMatrixRMaj a) {
    for (int i = 0; i < a.numRows; i++) {
      for (int j = 0; j < i; j++) {
        double m = (a.get(i, j) + a.get(j, i)) / 2;
        a.set(i, j, m);
        a.set(j, i, m);
      }
    }
  }

  /** EJML's eigenvalues, descending, and unit eigenvectors as columns in that order. */
  record Eigen(double[] values, DMatrixRMaj vectors) {}

  static Eigen eigen(DMatrixRMaj a) {
    int n = a.numRows;
    EigenDecomposition_F64<DMatrixRMaj> eig = DecompositionFactory_DDRM.eig(n, true, true);
    assertTrue(eig.decompose(a.copy()));
    Integer[] order = new Integer[n];
    for (int i = 0; i < n; i++) order[i] = i;
    Arrays.sort(order, (x, y) -> Double.compare(eig.getEigenvalue(y).getReal(), eig.getEigenvalue(x).getReal()));
    double[] v = new double[n];
    DMatrixRMaj u = new DMatrixRMaj(n, n);
    for (int c = 0; c < n; c++) {
      v[c] = eig.getEigenvalue(order[c]).getReal();
      DMatrixRMaj e = eig.getEigenVector(order[c]);
      double norm = CommonOps_DDRM.dot(e, e);
      for (int r = 0; r < n; r++) u.set(r, c, e.get(r) / Math.sqrt(norm));
    }
    return new Eigen(v, u);
  }

  /** |cos| of the angle between column c of a and column d of b. */
  static double alignment(DMatrixRMaj a, int c, DMatrixRMaj b, int d) {
    double dot = 0, na = 0, nb = 0;
    for (int r = 0; r < a.numRows; r++) {
      dot += a.get(r, c) * b.get(r, d);
      na += a.get(r, c) * a.get(r, c);
      nb += b.get(r, d) * b.get(r, d);
    }
    return Math.abs(dot) / Math.sqrt(na * nb);
  }

  static double trace(DMatrixRMaj a) {
    return CommonOps_DDRM.trace(a);
  }

  /** {@code 2 (|A|_F² - Σ A_jj²)}: the variance of one Rademacher probe's {@code z'Az}. */
  static double probeVariance(DMatrixRMaj a) {
    double f = 0, d = 0;
    for (int i = 0; i < a.numRows; i++) {
      for (int j = 0; j < a.numCols; j++) f += a.get(i, j) * a.get(i, j);
      d += a.get(i, i) * a.get(i, i);
    }
    return 2 * (f - d);
  }

  // ---- Lanczos ----------------------------------------------------------------------------------

  @Test
  void lanczosTopEigenpairsMatchEjmlOnAnIndefiniteMatrix() {
    DMatrixRMaj a = randomSymmetric(new Random(3), 80);
    Eigen ref = eigen(a);
    Lanczos.Result r = Lanczos.top(SymmetricOperator.of(a), 4, new Lanczos.Settings(80, 1e-12, 7));
    assertTrue(r.converged());
    assertTrue(r.iterations() <= 80);
    double scale = Math.max(Math.abs(ref.values()[0]), Math.abs(ref.values()[79]));
    for (int i = 0; i < 4; i++) {
      assertEquals(ref.values()[i], r.values()[i], 1e-8 * scale, "eigenvalue " + i);
      assertEquals(1, alignment(r.vectors(), i, ref.vectors(), i), 1e-6, "eigenvector " + i + " up to sign");
      // the reported residual is the true one
      DMatrixRMaj y = CommonOps_DDRM.extractColumn(r.vectors(), i, null), ay = new DMatrixRMaj(80, 1);
      CommonOps_DDRM.mult(a, y, ay);
      CommonOps_DDRM.addEquals(ay, -r.values()[i], y);
      assertEquals(r.residuals()[i], CommonOps_DDRM.dot(ay, ay) == 0 ? 0 : Math.sqrt(CommonOps_DDRM.dot(ay, ay)), 1e-9 * scale);
    }
  }

  @Test
  void lanczosStopsEarlyOnAWellSeparatedTopAndIsDeterministic() {
    double[] values = new double[300];
    for (int i = 0; i < values.length; i++) values[i] = i < 3 ? 100 - 10 * i : Math.sin(i);
    DMatrixRMaj a = withEigenvalues(new Random(4), values);
    Lanczos.Settings s = new Lanczos.Settings(200, 1e-10, 11);
    Lanczos.Result r = Lanczos.top(SymmetricOperator.of(a), 3, s);
    assertTrue(r.converged());
    assertTrue(r.iterations() < 60, "iterations " + r.iterations());
    assertArrayEquals(new double[] {100, 90, 80}, r.values(), 1e-8 * 100);
    Lanczos.Result again = Lanczos.top(SymmetricOperator.of(a), 3, s);
    assertArrayEquals(r.values(), again.values(), 0);
    assertArrayEquals(r.vectors().data, again.vectors().data, 0);
  }

  @Test
  void lanczosFindsRepeatedAndZeroEigenvalues() {
    // rank 3 with a double top eigenvalue: the Krylov space of one start misses the second copy and the zeros
    double[] values = new double[20];
    values[0] = 5;
    values[1] = 5;
    values[2] = 2;
    DMatrixRMaj a = withEigenvalues(new Random(5), values);
    Lanczos.Result r = Lanczos.top(SymmetricOperator.of(a), 5, new Lanczos.Settings(20, 1e-10, 1));
    assertTrue(r.converged());
    assertArrayEquals(new double[] {5, 5, 2, 0, 0}, r.values(), 1e-9 * 5);
    // the two vectors of the double eigenvalue are orthonormal
    assertEquals(0, alignment(r.vectors(), 0, r.vectors(), 1), 1e-8);
  }

  /** A PSD matrix of rank r in dimension n (sum of r outer products of Gaussian vectors, like a GGN block of a small batch). */
  static DMatrixRMaj lowRank(Random rng, int n, int r) {
    DMatrixRMaj g = new DMatrixRMaj(n, r), a = new DMatrixRMaj(n, n);
    for (int i = 0; i < g.data.length; i++) g.data[i] = rng.nextGaussian();
    CommonOps_DDRM.multTransB(g, g, a);
    symmetrize(a);
    return a;
  }

  /** {@code op} counting the vectors it is applied to. */
  static SymmetricOperator counting(SymmetricOperator op, int[] products) {
    return new SymmetricOperator() {
      @Override
      public int dimension() {
        return op.dimension();
      }

      @Override
      public DMatrixRMaj apply(DMatrixRMaj vectors) {
        products[0] += vectors.numCols;
        return op.apply(vectors);
      }
    };
  }

  @Test
  void lanczosStopsOnALowRankBlockOnceTheRestIsShownToBeZero() {
    // a breakdown leaves the zeros' space; one product on a vector there shows the operator is 0 on all of it
    for (int[] c : new int[][] {{96, 2, 1}, {96, 2, 5}, {160, 9, 1}, {160, 9, 3}, {160, 9, 12}, {40, 40, 3}}) {
      int n = c[0], rank = c[1], k = c[2];
      DMatrixRMaj a = lowRank(new Random(n + rank), n, rank);
      Eigen ref = eigen(a);
      int[] products = {0};
      Lanczos.Result r = Lanczos.top(counting(SymmetricOperator.of(a), products), k, new Lanczos.Settings(n, 1e-10, 3));
      String what = "n " + n + ", rank " + rank + ", k " + k;
      assertTrue(r.converged(), what);
      assertEquals(products[0], r.iterations(), what);
      // the rank, the zeros' component, rounding's last step, the one-step segment
      if (rank < n) assertTrue(r.iterations() <= rank + 3, what + ": " + r.iterations() + " products");
      assertEquals(k, r.values().length, what);
      double scale = ref.values()[0];
      for (int i = 0; i < k; i++) {
        assertEquals(ref.values()[i], r.values()[i], 1e-9 * scale, what + ": eigenvalue " + i);
        DMatrixRMaj y = CommonOps_DDRM.extractColumn(r.vectors(), i, null), ay = new DMatrixRMaj(n, 1);
        assertEquals(1, Math.sqrt(CommonOps_DDRM.dot(y, y)), 1e-12, what + ": unit vector " + i);
        CommonOps_DDRM.mult(a, y, ay);
        CommonOps_DDRM.addEquals(ay, -r.values()[i], y);
        assertEquals(0, Math.sqrt(CommonOps_DDRM.dot(ay, ay)), 1e-8 * scale, what + ": eigenvector " + i);
        assertTrue(r.residuals()[i] <= 1e-8 * scale, what + ": residual " + i);
        for (int j = 0; j < i; j++) assertEquals(0, alignment(r.vectors(), i, r.vectors(), j), 1e-8, what + ": vectors " + j + ", " + i);
      }
    }
  }

  @Test
  void lanczosSaysWhenItRanOutOfIterations() {
    DMatrixRMaj a = randomSymmetric(new Random(6), 200);
    Lanczos.Result r = Lanczos.top(SymmetricOperator.of(a), 2, new Lanczos.Settings(5, 1e-12, 1));
    assertFalse(r.converged());
    assertEquals(5, r.iterations());
    assertTrue(r.residuals()[0] > 0);
  }

  // ---- Hutchinson -------------------------------------------------------------------------------

  @Test
  void hutchinsonTraceIsWithinItsStandardErrorAndTheErrorIsRight() {
    Random rng = new Random(8);
    DMatrixRMaj a = randomSymmetric(rng, 30);
    for (int i = 0; i < 30; i++) a.add(i, i, 3); // a trace well away from zero
    int m = 4000;
    Hutchinson.Estimate e = Hutchinson.estimate(SymmetricOperator.of(a), m, 64, 9);
    double exactStderr = Math.sqrt(probeVariance(a) / m);
    assertEquals(trace(a), e.trace(), 4 * exactStderr, "trace within 4 standard errors");
    assertEquals(exactStderr, e.traceStderr(), 0.1 * exactStderr, "the estimated standard error is close to the exact one");
    // the diagonal: each entry within 5 of its exact standard errors, sqrt(Σ_{l≠j} A_jl² / m), also estimated within 10 %
    for (int j = 0; j < 30; j++) {
      double off = 0;
      for (int l = 0; l < 30; l++) if (l != j) off += a.get(j, l) * a.get(j, l);
      double sd = Math.sqrt(off / m);
      assertEquals(a.get(j, j), e.diagonal()[j], 5 * sd, "diagonal " + j);
      assertEquals(sd, e.diagonalStderr()[j], 0.1 * sd, "diagonal stderr " + j);
    }
    // the diagonal converges: more probes, smaller error (max over entries: 100 vs 4000 probes)
    Hutchinson.Estimate few = Hutchinson.estimate(SymmetricOperator.of(a), 100, 64, 9);
    assertTrue(maxError(few.diagonal(), a) > 3 * maxError(e.diagonal(), a), maxError(few.diagonal(), a) + " vs " + maxError(e.diagonal(), a));
  }

  private static double maxError(double[] d, DMatrixRMaj a) {
    double m = 0;
    for (int j = 0; j < d.length; j++) m = Math.max(m, Math.abs(d[j] - a.get(j, j)));
    return m;
  }

  @Test
  void hutchinsonIsExactOnADiagonalMatrixAndIndependentOfTheChunking() {
    DMatrixRMaj d = CommonOps_DDRM.diag(1, -2, 3, 4.5);
    Hutchinson.Estimate e = Hutchinson.estimate(SymmetricOperator.of(d), 5, 2, 1);
    assertEquals(6.5, e.trace(), 1e-14);
    assertEquals(0, e.traceStderr(), 1e-14);
    assertArrayEquals(new double[] {1, -2, 3, 4.5}, e.diagonal(), 1e-14);
    DMatrixRMaj a = randomSymmetric(new Random(2), 12);
    Hutchinson.Estimate one = Hutchinson.estimate(SymmetricOperator.of(a), 20, 1, 4), seven = Hutchinson.estimate(SymmetricOperator.of(a), 20, 7, 4);
    assertEquals(one.trace(), seven.trace(), 1e-12);
    assertArrayEquals(one.diagonal(), seven.diagonal(), 1e-12);
  }

  // ---- SLQ --------------------------------------------------------------------------------------

  /** The trapezoid rule of {@code f(t) y(t)} over the grid. */
  static double integral(double[] t, double[] y, java.util.function.DoubleUnaryOperator f) {
    double s = 0;
    for (int i = 1; i < t.length; i++) s += (t[i] - t[i - 1]) * (f.applyAsDouble(t[i]) * y[i] + f.applyAsDouble(t[i - 1]) * y[i - 1]) / 2;
    return s;
  }

  @Test
  void slqDensityIntegratesToOneAndItsMomentsMatchTheMatrix() {
    int n = 60, starts = 400;
    DMatrixRMaj a = randomSymmetric(new Random(12), n);
    for (int i = 0; i < n; i++) a.add(i, i, 2);
    SpectralDensity.Quadrature q = SpectralDensity.quadrature(SymmetricOperator.of(a), starts, 25, 13);
    SpectralDensity.Density d = SpectralDensity.density(q, 0.01, 4000);
    assertEquals(1, integral(d.grid(), d.density(), t -> 1), 1e-6);
    // mean: an unbiased estimate of tr(A)/n with the standard error of Hutchinson's estimator over n
    double mean = integral(d.grid(), d.density(), t -> t);
    assertEquals(trace(a) / n, mean, 4 * Math.sqrt(probeVariance(a) / starts) / n);
    // second moment: tr(A²)/n, plus σ² from the Gaussians (25 steps are exact for polynomials of degree < 50)
    DMatrixRMaj a2 = new DMatrixRMaj(n, n);
    CommonOps_DDRM.mult(a, a, a2);
    double second = integral(d.grid(), d.density(), t -> t * t) - d.sigma() * d.sigma();
    assertEquals(trace(a2) / n, second, 4 * Math.sqrt(probeVariance(a2) / starts) / n);
    // every start's weights sum to 1
    for (double[] w : q.weights()) assertEquals(1, Arrays.stream(w).sum(), 1e-12);
  }

  @Test
  void slqWithNStepsHasTheEigenvaluesAsNodes() {
    DMatrixRMaj a = randomSymmetric(new Random(14), 15);
    Eigen ref = eigen(a);
    SpectralDensity.Quadrature q = SpectralDensity.quadrature(SymmetricOperator.of(a), 3, 50, 15);
    for (double[] nodes : q.nodes()) assertArrayEquals(ref.values(), nodes, 1e-9 * Math.abs(ref.values()[0]));
    // and the density's support covers the spectrum
    SpectralDensity.Density d = SpectralDensity.density(q, 0.02, 500);
    assertTrue(d.grid()[0] < ref.values()[14] && d.grid()[499] > ref.values()[0]);
  }
}
