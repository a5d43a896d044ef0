package org.hbp.verify;

import java.util.Random;
import java.util.function.DoubleUnaryOperator;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.EigenDecomposition_F64;

/** Dense EJML helpers of the references: random symmetric matrices, eigenvalue maps. */
public final class DenseMath {
  private DenseMath() {}

  /** A random symmetric n x n matrix with entries uniform in [-1, 1). */
  public static DMatrixRMaj randomSymmetric(int n, Random rng) {
    DMatrixRMaj h = new DMatrixRMaj(n, n);
    for (int i = 0; i < n; i++) for (int j = 0; j <= i; j++) h.set(i, j, rng.nextDouble() * 2 - 1);
    for (int i = 0; i < n; i++) for (int j = i + 1; j < n; j++) h.set(i, j, h.get(j, i));
    return h;
  }

  /** A B, a new matrix. */
  public static DMatrixRMaj mult(DMatrixRMaj a, DMatrixRMaj b) {
    DMatrixRMaj c = new DMatrixRMaj(a.numRows, b.numCols);
    CommonOps_DDRM.mult(a, b, c);
    return c;
  }

  /** A B', a new matrix. */
  public static DMatrixRMaj multTransB(DMatrixRMaj a, DMatrixRMaj b) {
    DMatrixRMaj out = new DMatrixRMaj(a.numRows, b.numRows);
    CommonOps_DDRM.multTransB(a, b, out);
    return out;
  }

  /** A' B, a new matrix. */
  public static DMatrixRMaj multTransA(DMatrixRMaj a, DMatrixRMaj b) {
    DMatrixRMaj c = new DMatrixRMaj(a.numCols, b.numCols);
    CommonOps_DDRM.multTransA(a, b, c);
    return c;
  }

  /** Q f(L) Q' of the symmetric part (a + a')/2 of a, by EJML's symmetric eigendecomposition. */
  public static DMatrixRMaj eigenMap(DMatrixRMaj a, DoubleUnaryOperator f) {
    int n = a.numRows;
    DMatrixRMaj sym = new DMatrixRMaj(n, n);
    CommonOps_DDRM.transpose(a, sym);
    CommonOps_DDRM.addEquals(sym, a);
    CommonOps_DDRM.scale(0.5, sym);
    EigenDecomposition_F64<DMatrixRMaj> eig = DecompositionFactory_DDRM.eig(n, true, true);
    if (!eig.decompose(sym.copy())) throw new ArithmeticException("eigendecomposition failed");
    DMatrixRMaj out = new DMatrixRMaj(n, n);
    for (int k = 0; k < n; k++) {
      DMatrixRMaj q = eig.getEigenVector(k);
      double lambda = f.applyAsDouble(eig.getEigenvalue(k).getReal());
      for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) out.add(i, j, lambda * q.get(i) * q.get(j));
    }
    return out;
  }
}
