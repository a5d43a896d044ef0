package org.hbp.network;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.backend.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

/**
 * The Kronecker-factored block's products in its factored forms (V A as (V X) X' for a factor of
 * few columns, the dense factor otherwise; the eigenbasis with the four products in either order)
 * and its damped inverse, against the p·m x p·m matrix {@code A ⊗ G} formed here entry by entry
 * from the definition {@code A = sA X_A X_A'}, {@code G = sG X_G X_G'} (column-major vec:
 * {@code (A ⊗ G)[i + m j, k + m l] = A[j,l] G[i,k]}) and EJML's dense solves; and the eigenbasis of
 * a rank-deficient factor through its Gram matrix against EJML's direct decomposition of the formed factor.
 */
class KroneckerBlockTest {
  private final Backend be = new CpuBackend();

  /** n x count columns from the seed; with {@code repeat}, the last column a copy of the first (rank count - 1). */
  private static double[] columns(int n, int count, long seed, boolean repeat) {
    Random r = new Random(seed);
    double[] x = new double[n * count];
    for (int i = 0; i < x.length; i++) x[i] = r.nextGaussian();
    if (repeat && count > 1) System.arraycopy(x, 0, x, n * (count - 1), n);
    return x;
  }

  /** scale · X X' entry by entry (n x n, column-major). */
  private static double[] formed(double[] x, int n, int count, double scale) {
    double[] m = new double[n * n];
    for (int i = 0; i < n; i++)
      for (int j = 0; j < n; j++)
        for (int c = 0; c < count; c++) m[i + n * j] += scale * x[i + n * c] * x[j + n * c];
    return m;
  }

  /** A ⊗ G (p·m square, row-major DMatrixRMaj) from the definition. */
  private static DMatrixRMaj kron(double[] a, int p, double[] g, int m) {
    DMatrixRMaj k = new DMatrixRMaj(p * m, p * m);
    for (int j = 0; j < p; j++)
      for (int l = 0; l < p; l++)
        for (int i = 0; i < m; i++)
          for (int q = 0; q < m; q++) k.set(i + m * j, q + m * l, a[j + p * l] * g[i + m * q]);
    return k;
  }

  private static double maxAbs(double[] v) {
    double s = 0;
    for (double x : v) s = Math.max(s, Math.abs(x));
    return s;
  }

  /** The cases: (p, count of A, m, count of G, repeated columns): thin and dense forms of each factor. */
  private static final int[][] CASES = {{9, 3, 4, 12, 0}, {5, 8, 10, 3, 1}, {11, 4, 9, 3, 1}, {6, 6, 5, 5, 0}, {12, 1, 3, 2, 0}};

  @Test
  void productsAndDampedInverseEqualTheFormedKroneckerProduct() {
    int directions = 3;
    for (int[] c : CASES) {
      int p = c[0], ca = c[1], m = c[2], cg = c[3];
      boolean repeat = c[4] == 1;
      double sa = 1.0 / ca, sg = 0.7;
      double[] xa = columns(p, ca, 11 + p, repeat), xg = columns(m, cg, 17 + m, repeat);
      double[] a = formed(xa, p, ca, sa), g = formed(xg, m, cg, sg);
      DMatrixRMaj k = kron(a, p, g, m);
      double[] v = columns(m * p, directions, 5, false);
      Batch vb = be.fromArray(1, directions, m, p, v);
      String what = Arrays.toString(c);

      KroneckerBlock block = new KroneckerBlock(new KroneckerFactor(be, xa, ca, p, sa, "A"), new KroneckerFactor(be, xg, cg, m, sg, "G"));
      assertEquals(2 * ca < p, block.factorA().factored(), what + ": A's form");
      assertProducts(what + " factors", k, v, be.toArray(block.matProd(be, vb)), m * p, directions);
      double[] onBackend = block.factorA().gram(be);
      for (int i = 0; i < p * p; i++) assertEquals(a[i], onBackend[i], 1e-12 * maxAbs(a), what + ": A formed on the backend, entry " + i);

      // the eigenbasis route with D = λ_G λ_A' is the same block: both orders of the four products
      KroneckerBlock inBasis = new KroneckerBlock(new KroneckerFactor(be, xa, ca, p, sa, "A"), new KroneckerFactor(be, xg, cg, m, sg, "G"));
      inBasis.correct(inBasis.eigenbasisDiagonal(be));
      assertProducts(what + " eigenbasis", k, v, be.toArray(inBasis.matProd(be, vb)), m * p, directions);

      for (double lambda : new double[] {1e-2, 0.8}) {
        DMatrixRMaj damped = k.copy();
        for (int i = 0; i < m * p; i++) damped.add(i, i, lambda);
        DMatrixRMaj want = new DMatrixRMaj(m * p, directions);
        DMatrixRMaj rhs = new DMatrixRMaj(m * p, directions);
        for (int d = 0; d < directions; d++) for (int i = 0; i < m * p; i++) rhs.set(i, d, v[d * m * p + i]);
        assertTrue(CommonOps_DDRM.solve(damped, rhs, want));
        double[] got = be.toArray(block.dampedInverse(be, vb, lambda));
        double scale = CommonOps_DDRM.elementMaxAbs(want);
        for (int d = 0; d < directions; d++)
          for (int i = 0; i < m * p; i++)
            assertEquals(want.get(i, d), got[d * m * p + i], 1e-10 * scale, what + " λ=" + lambda + " direction " + d + " entry " + i);
      }
    }
  }

  private static void assertProducts(String what, DMatrixRMaj k, double[] v, double[] got, int size, int directions) {
    for (int d = 0; d < directions; d++) {
      DMatrixRMaj kv = new DMatrixRMaj(size, 1);
      CommonOps_DDRM.mult(k, new DMatrixRMaj(size, 1, true, Arrays.copyOfRange(v, d * size, (d + 1) * size)), kv);
      double scale = CommonOps_DDRM.elementMaxAbs(kv);
      for (int i = 0; i < size; i++) assertEquals(kv.get(i), got[d * size + i], 1e-12 * scale, what + ": direction " + d + " entry " + i);
    }
  }

  /**
   * A factor of 4 columns of length 10, two of them equal (rank 3): the Gram route gives exactly
   * the 3 nonzero eigenpairs, the eigenvalues of EJML's direct decomposition of the formed factor
   * (the 7 others zero), orthonormal vectors, and reconstructs the factor.
   */
  @Test
  void gramRouteEqualsTheDirectDecompositionOfARankDeficientFactor() {
    int n = 10, count = 4;
    double scale = 0.25;
    double[] x = columns(n, count, 3, true);
    double[] m = formed(x, n, count, scale);
    KroneckerFactor f = new KroneckerFactor(be, x, count, n, scale, "M");
    f.prepareDecomposition(be);
    f.decompose();
    KroneckerFactor.Eigenbasis basis = f.eigenbasis(be);
    assertEquals(3, basis.rank());
    double[] q = be.toArray(basis.q()); // n x 3, column-major

    DMatrixRMaj dm = new DMatrixRMaj(n, n, false, m);
    var eig = org.ejml.dense.row.factory.DecompositionFactory_DDRM.eig(n, true, true);
    assertTrue(eig.decompose(dm.copy()));
    double[] direct = new double[n];
    for (int e = 0; e < n; e++) direct[e] = eig.getEigenvalue(e).real;
    Arrays.sort(direct);
    double[] thin = basis.values().clone();
    Arrays.sort(thin);
    double top = direct[n - 1];
    for (int e = 0; e < n - 3; e++) assertEquals(0, direct[e], 1e-12 * top, "direct eigenvalue " + e + " is zero");
    for (int e = 0; e < 3; e++) assertEquals(direct[n - 3 + e], thin[e], 1e-12 * top, "eigenvalue " + e);
    for (int i = 0; i < n; i++)
      for (int j = 0; j < n; j++) {
        double back = 0;
        for (int e = 0; e < 3; e++) back += q[i + n * e] * basis.values()[e] * q[j + n * e];
        assertEquals(m[i + n * j], back, 1e-12 * top, "M[" + i + "][" + j + "]");
      }
    for (int a = 0; a < 3; a++)
      for (int b = 0; b < 3; b++) {
        double dot = 0;
        for (int i = 0; i < n; i++) dot += q[i + n * a] * q[i + n * b];
        assertEquals(a == b ? 1 : 0, dot, 1e-12, "Q'Q[" + a + "][" + b + "]");
      }
  }
}
