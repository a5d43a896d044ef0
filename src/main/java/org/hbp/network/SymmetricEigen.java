package org.hbp.network;

import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.EigenDecomposition_F64;
import org.hbp.backend.blas.HostLapack;

/**
 * The eigendecomposition {@code M = Q diag(values) Q'} of a small symmetric host matrix (a
 * Kronecker factor, a per-sample loss Hessian), of the symmetrized {@code (M + M')/2}: by EJML, or
 * from order {@link #LAPACK_FROM} on by LAPACK ({@link HostLapack}) where OpenBLAS loads.
 * {@code q} is row-major: column e is the eigenvector of {@code values[e]} (in the solver's order). A thin
 * decomposition ({@link #ofGram}) has fewer columns than rows: the eigenvalues left out are zero.
 */
record SymmetricEigen(double[] values, DMatrixRMaj q) {
  /** The decomposition of the n x n matrix at {@code m[offset ..]} (column-major; symmetric, so also row-major). */
  static SymmetricEigen of(double[] m, int offset, int n, String what) {
    return of(m, offset, n, what, false);
  }

  /**
   * As {@link #of(double[], int, int, String)}; for a positive semi-definite matrix ({@code psd}: a
   * Kronecker factor, a Gram matrix) where EJML's symmetric QR iteration does not converge (it can
   * fail on large factors with many zero eigenvalues), by the singular value decomposition, which is
   * the eigendecomposition of a PSD matrix ({@code M = U Σ U'}).
   */
  static SymmetricEigen of(double[] m, int offset, int n, String what, boolean psd) {
    if (n >= LAPACK_FROM && HostLapack.available()) {
      SymmetricEigen e = byLapack(m, offset, n);
      if (e != null) return e;
    }
    DMatrixRMaj sym = new DMatrixRMaj(n, n);
    for (int j = 0; j < n; j++)
      for (int i = 0; i < n; i++) sym.data[i * n + j] = 0.5 * (m[offset + i + n * j] + m[offset + j + n * i]);
    EigenDecomposition_F64<DMatrixRMaj> eig = DecompositionFactory_DDRM.eig(n, true, true);
    if (!eig.decompose(sym.copy())) {
      if (psd) return bySvd(sym, what);
      throw new ArithmeticException("the eigendecomposition of " + what + " failed");
    }
    double[] values = new double[n];
    DMatrixRMaj q = new DMatrixRMaj(n, n);
    for (int e = 0; e < n; e++) {
      values[e] = eig.getEigenvalue(e).real;
      DMatrixRMaj v = eig.getEigenVector(e);
      if (v == null) throw new ArithmeticException("the eigendecomposition of " + what + " gave no eigenvector " + e);
      for (int i = 0; i < n; i++) q.set(i, e, v.get(i, 0));
    }
    return new SymmetricEigen(values, q);
  }

  /**
   * LAPACK's {@code dsyevd} ({@link HostLapack}) of the symmetrized matrix, from this order on (EJML's
   * QR iteration below it): measured 0.8 s against EJML's 6.3 s at n = 1024; null where it fails.
   */
  static final int LAPACK_FROM = 64;

  static SymmetricEigen byLapack(double[] m, int offset, int n) {
    double[] a = new double[n * n];
    for (int j = 0; j < n; j++)
      for (int i = 0; i < n; i++) a[i + n * j] = 0.5 * (m[offset + i + n * j] + m[offset + j + n * i]);
    double[] values = HostLapack.symmetricEigen(a, n);
    if (values == null) return null;
    DMatrixRMaj q = new DMatrixRMaj(n, n);
    for (int e = 0; e < n; e++) for (int i = 0; i < n; i++) q.data[i * n + e] = a[i + n * e];
    return new SymmetricEigen(values, q);
  }

  private static SymmetricEigen bySvd(DMatrixRMaj sym, String what) {
    int n = sym.numRows;
    org.ejml.interfaces.decomposition.SingularValueDecomposition_F64<DMatrixRMaj> svd =
        org.ejml.dense.row.factory.DecompositionFactory_DDRM.svd(n, n, true, true, false);
    if (!svd.decompose(sym)) throw new ArithmeticException("the eigendecomposition (and the SVD) of " + what + " failed");
    return new SymmetricEigen(svd.getSingularValues().clone(), svd.getU(null, false));
  }

  /**
   * The eigenpairs with nonzero eigenvalue of {@code M = scale · X X'}, X the {@code count} columns
   * of length n stored column-major in {@code x}, from the small {@code count x count} matrix
   * {@code K = scale · X' X = V Λ V'}: {@code M (X v) = X K v = λ X v}, so {@code q = X v sqrt(scale/λ)}
   * (unit length). Eigenvalues at or below {@code 1e-13 · max} count as zero and are left out: q is
   * n x r with r <= count, its columns orthonormal, and M = Q Λ Q' (to that tolerance). For
   * {@code count < n}: a Kronecker factor of few samples costs O(count³ + n·count²), not O(n³).
   */
  static SymmetricEigen ofGram(double[] x, int count, int n, double scale, String what) {
    DMatrixRMaj xt = DMatrixRMaj.wrap(count, n, x); // X' (count x n, row-major)
    boolean blas = HostLapack.available();
    DMatrixRMaj k = new DMatrixRMaj(count, count);
    if (blas) k.data = HostLapack.multiply(x, n, count, true, x, n, count, false); // X'X, symmetric
    else org.ejml.dense.row.CommonOps_DDRM.multTransB(xt, xt, k);
    org.ejml.dense.row.CommonOps_DDRM.scale(scale, k);
    SymmetricEigen small = of(k.data, 0, count, what + " (its " + count + " x " + count + " Gram form)", true);
    double max = 0;
    for (double v : small.values) max = Math.max(max, v);
    java.util.List<Integer> kept = new java.util.ArrayList<>();
    for (int e = 0; e < count; e++) if (small.values[e] > 1e-13 * max && small.values[e] > 0) kept.add(e);
    double[] values = new double[kept.size()];
    DMatrixRMaj v = new DMatrixRMaj(count, kept.size());
    for (int c = 0; c < kept.size(); c++) {
      int e = kept.get(c);
      values[c] = small.values[e];
      double norm = Math.sqrt(scale / values[c]);
      for (int j = 0; j < count; j++) v.data[j * v.numCols + c] = small.q.get(j, e) * norm;
    }
    DMatrixRMaj q = new DMatrixRMaj(n, kept.size());
    if (blas) {
      // X (n x count, column-major) times W = V diag(sqrt(scale/λ)) (column-major), to row-major n x r
      double[] w = new double[count * kept.size()];
      for (int c = 0; c < kept.size(); c++) for (int j = 0; j < count; j++) w[j + count * c] = v.data[j * v.numCols + c];
      double[] xw = HostLapack.multiply(x, n, count, false, w, count, kept.size(), false);
      for (int c = 0; c < kept.size(); c++) for (int i = 0; i < n; i++) q.data[i * q.numCols + c] = xw[i + n * c];
    } else org.ejml.dense.row.CommonOps_DDRM.multTransA(xt, v, q); // X V diag(sqrt(scale/λ)), n x r
    return new SymmetricEigen(values, q);
  }

  /** The number of eigenpairs (n for a full decomposition, fewer for a thin one). */
  int rank() {
    return values.length;
  }

  /** Q as a column-major array (what {@link org.hbp.backend.Backend#fromArray} takes). */
  double[] qColumnMajor() {
    int n = q.numRows, r = q.numCols;
    double[] out = new double[n * r];
    for (int e = 0; e < r; e++) for (int i = 0; i < n; i++) out[i + n * e] = q.get(i, e);
    return out;
  }
}
