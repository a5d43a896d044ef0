package org.hbp.network;

import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.EigenDecomposition_F64;

/**
 * The eigendecomposition {@code M = Q diag(values) Q'} of a small symmetric host matrix (a
 * Kronecker factor, a per-sample loss Hessian), by EJML, of the symmetrized {@code (M + M')/2}.
 * {@code q} is row-major: column e is the eigenvector of {@code values[e]} (EJML's order).
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

  private static SymmetricEigen bySvd(DMatrixRMaj sym, String what) {
    int n = sym.numRows;
    org.ejml.interfaces.decomposition.SingularValueDecomposition_F64<DMatrixRMaj> svd =
        org.ejml.dense.row.factory.DecompositionFactory_DDRM.svd(n, n, true, true, false);
    if (!svd.decompose(sym)) throw new ArithmeticException("the eigendecomposition (and the SVD) of " + what + " failed");
    return new SymmetricEigen(svd.getSingularValues().clone(), svd.getU(null, false));
  }

  /** Q as a column-major array (what {@link org.hbp.backend.Backend#fromArray} takes). */
  double[] qColumnMajor() {
    int n = values.length;
    double[] out = new double[n * n];
    for (int e = 0; e < n; e++) for (int i = 0; i < n; i++) out[i + n * e] = q.get(i, e);
    return out;
  }
}
