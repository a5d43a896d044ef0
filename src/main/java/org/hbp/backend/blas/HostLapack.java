package org.hbp.backend.blas;

import static org.bytedeco.openblas.global.openblas_nolapack.CblasColMajor;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasNoTrans;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasTrans;

import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.openblas.global.openblas;
import org.bytedeco.openblas.global.openblas_nolapack;

/**
 * Float64 linear algebra on host arrays through OpenBLAS (the natives the BLAS backends load, with
 * their LAPACK): the symmetric eigendecomposition by LAPACK's divide and conquer ({@code dsyevd})
 * and matrix products ({@code dgemm}), for callers that hold their matrices on the host (the
 * Kronecker factors' eigenbases). Measured on the 2-core machine under load: a 1024 x 1024
 * eigendecomposition 0.8 s against EJML's 6.3 s. {@link #available} is false where the natives do
 * not load; callers then use EJML. Calls are serialised (each already runs on OpenBLAS's threads).
 */
public final class HostLapack {
  private static volatile Boolean available;

  private HostLapack() {}

  /** Whether OpenBLAS's LAPACK loads here (checked once). */
  public static boolean available() {
    Boolean a = available;
    if (a != null) return a;
    synchronized (HostLapack.class) {
      if (available == null) {
        boolean ok;
        try {
          Loader.load(openblas.class);
          ok = true;
        } catch (UnsatisfiedLinkError | NoClassDefFoundError e) {
          ok = false;
        }
        available = ok;
      }
      return available;
    }
  }

  /**
   * The eigenvalues (ascending) of the symmetric n x n matrix {@code m} (column-major; its upper
   * triangle is read), whose entries are overwritten by the orthonormal eigenvectors (column e for
   * eigenvalue e); null where LAPACK reports a failure (no convergence).
   */
  public static synchronized double[] symmetricEigen(double[] m, int n) {
    if (!available()) throw new IllegalStateException("HostLapack: OpenBLAS's LAPACK is not available");
    double[] w = new double[n];
    if (n == 0) return w;
    int info = openblas.LAPACKE_dsyevd(openblas.LAPACK_COL_MAJOR, (byte) 'V', (byte) 'U', n, m, n, w);
    return info == 0 ? w : null;
  }

  /**
   * {@code op(A) op(B)} in float64 of column-major A ({@code rowsA x colsA} as stored) and B,
   * op = transpose where the flag is set: {@code m x n}, column-major.
   */
  public static synchronized double[] multiply(double[] a, int rowsA, int colsA, boolean transposeA, double[] b, int rowsB, int colsB,
      boolean transposeB) {
    if (!available()) throw new IllegalStateException("HostLapack: OpenBLAS's LAPACK is not available");
    int m = transposeA ? colsA : rowsA, k = transposeA ? rowsA : colsA, n = transposeB ? rowsB : colsB;
    if ((transposeB ? colsB : rowsB) != k)
      throw new IllegalArgumentException("HostLapack.multiply: inner sizes " + k + " and " + (transposeB ? colsB : rowsB) + " differ");
    double[] c = new double[m * n];
    if (m == 0 || n == 0 || k == 0) return c;
    try (DoublePointer pa = new DoublePointer(a); DoublePointer pb = new DoublePointer(b); DoublePointer pc = new DoublePointer((long) m * n)) {
      openblas_nolapack.cblas_dgemm(CblasColMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans, m, n, k, 1.0,
          pa, Math.max(1, rowsA), pb, Math.max(1, rowsB), 0.0, pc, Math.max(1, m));
      pc.get(c);
    }
    return c;
  }
}
