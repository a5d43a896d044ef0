package org.hbp.network;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Method;
import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.junit.jupiter.api.Test;

/**
 * The host eigendecompositions of the Kronecker factors: full, thin (through the Gram matrix of
 * few columns) and the SVD fallback for PSD matrices, each reconstructing {@code M = scale · X X'}
 * formed directly here, with orthonormal eigenvectors.
 */
class SymmetricEigenTest {
  /** X (n x count, column-major) with entries from the seed. */
  private static double[] columns(int n, int count, long seed) {
    Random r = new Random(seed);
    double[] x = new double[n * count];
    for (int i = 0; i < x.length; i++) x[i] = r.nextGaussian();
    return x;
  }

  /** scale · X X', formed entry by entry (column-major, symmetric). */
  private static double[] gram(double[] x, int n, int count, double scale) {
    double[] m = new double[n * n];
    for (int i = 0; i < n; i++)
      for (int j = 0; j < n; j++)
        for (int c = 0; c < count; c++) m[i + n * j] += scale * x[i + n * c] * x[j + n * c];
    return m;
  }

  private static void assertDecomposes(double[] m, int n, SymmetricEigen e, int rank) {
    assertEquals(rank, e.rank());
    DMatrixRMaj q = e.q();
    double scale = 0;
    for (double v : m) scale = Math.max(scale, Math.abs(v));
    for (int i = 0; i < n; i++)
      for (int j = 0; j < n; j++) {
        double back = 0;
        for (int k = 0; k < e.rank(); k++) back += q.get(i, k) * e.values()[k] * q.get(j, k);
        assertEquals(m[i + n * j], back, 1e-12 * scale, "M[" + i + "][" + j + "]");
      }
    for (int a = 0; a < e.rank(); a++)
      for (int b = 0; b < e.rank(); b++) {
        double dot = 0;
        for (int i = 0; i < n; i++) dot += q.get(i, a) * q.get(i, b);
        assertEquals(a == b ? 1 : 0, dot, 1e-12, "Q'Q[" + a + "][" + b + "]");
      }
  }

  @Test
  void fullThinAndSvdDecompositionsReconstructTheFactor() throws Exception {
    int n = 12;
    for (int count : new int[] {3, 7, 20}) {
      double[] x = columns(n, count, count);
      double[] m = gram(x, n, count, 0.25);
      assertDecomposes(m, n, SymmetricEigen.of(m, 0, n, "M", true), n);
      if (count < n) assertDecomposes(m, n, SymmetricEigen.ofGram(x, count, n, 0.25, "M"), count);
      Method svd = SymmetricEigen.class.getDeclaredMethod("bySvd", DMatrixRMaj.class, String.class);
      svd.setAccessible(true);
      SymmetricEigen bySvd = (SymmetricEigen) svd.invoke(null, new DMatrixRMaj(n, n, false, m), "M");
      assertDecomposes(m, n, bySvd, n);
      for (double v : bySvd.values()) assertTrue(v >= 0, "singular values are the PSD matrix's eigenvalues");
    }
  }

  /**
   * From order {@link SymmetricEigen#LAPACK_FROM} on, LAPACK's dsyevd (and dgemm in the Gram route):
   * the full decomposition of a factor of more columns than rows, and the thin one of a factor of
   * fewer, whose Gram matrix is itself decomposed by LAPACK (70 ≥ 64), against M formed here.
   */
  @Test
  void lapackDecompositionsReconstructTheFactor() {
    assertTrue(org.hbp.backend.blas.HostLapack.available(), "OpenBLAS's LAPACK loads on this machine");
    int n = 90;
    double[] wide = columns(n, 120, 4), narrow = columns(n, 70, 5);
    assertDecomposes(gram(wide, n, 120, 0.5), n, SymmetricEigen.of(gram(wide, n, 120, 0.5), 0, n, "M", true), n);
    assertDecomposes(gram(narrow, n, 70, 0.5), n, SymmetricEigen.ofGram(narrow, 70, n, 0.5, "M"), 70);
  }
}
