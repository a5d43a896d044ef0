package org.hbp.spectrum;

import java.util.Arrays;
import java.util.Comparator;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.EigenDecomposition_F64;

/**
 * The symmetric tridiagonal matrix {@code T} of a Lanczos run ({@code alpha} on the diagonal,
 * {@code beta} beside it) and its eigendecomposition {@code T = S Θ S'} by EJML, eigenvalues in
 * descending order.
 */
record Tridiagonal(double[] values, DMatrixRMaj vectors) {
  static Tridiagonal decompose(double[] alpha, double[] beta, int m) {
    DMatrixRMaj t = new DMatrixRMaj(m, m);
    for (int i = 0; i < m; i++) {
      t.set(i, i, alpha[i]);
      if (i + 1 < m) {
        t.set(i, i + 1, beta[i]);
        t.set(i + 1, i, beta[i]);
      }
    }
    EigenDecomposition_F64<DMatrixRMaj> eig = DecompositionFactory_DDRM.eig(m, true, true);
    if (!eig.decompose(t)) throw new IllegalStateException("the eigendecomposition of a " + m + "x" + m + " tridiagonal matrix failed");
    Integer[] order = new Integer[m];
    for (int i = 0; i < m; i++) order[i] = i;
    Arrays.sort(order, Comparator.comparingDouble((Integer i) -> eig.getEigenvalue(i).getReal()).reversed());
    double[] values = new double[m];
    DMatrixRMaj vectors = new DMatrixRMaj(m, m);
    for (int c = 0; c < m; c++) {
      values[c] = eig.getEigenvalue(order[c]).getReal();
      DMatrixRMaj s = eig.getEigenVector(order[c]);
      double norm = 0;
      for (int r = 0; r < m; r++) norm += s.get(r) * s.get(r);
      norm = Math.sqrt(norm);
      for (int r = 0; r < m; r++) vectors.set(r, c, s.get(r) / norm);
    }
    return new Tridiagonal(values, vectors);
  }
}
