package org.hbp.spectrum;

import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;

/**
 * A symmetric linear operator {@code A} on {@code R^n}, applied to a block of vectors at once: the
 * {@code n x k} matrix {@code V} (one vector per column) to {@code A V}. The curvature operators
 * ({@link CurvatureOperators}) send the k columns as k directions through one curvature product,
 * so a block costs about as much as its columns' FLOPs, not k trips through the network.
 */
public interface SymmetricOperator {
  /** The dimension n. */
  int dimension();

  /** {@code A V} for the {@code n x k} matrix {@code V}; {@code V} is not changed. */
  DMatrixRMaj apply(DMatrixRMaj vectors);

  /** The operator of a dense symmetric matrix (tests, small problems); its symmetry is the caller's promise. */
  static SymmetricOperator of(DMatrixRMaj matrix) {
    if (matrix.numRows != matrix.numCols)
      throw new IllegalArgumentException("a symmetric operator needs a square matrix, not " + matrix.numRows + "x" + matrix.numCols);
    return new SymmetricOperator() {
      @Override
      public int dimension() {
        return matrix.numRows;
      }

      @Override
      public DMatrixRMaj apply(DMatrixRMaj vectors) {
        DMatrixRMaj out = new DMatrixRMaj(matrix.numRows, vectors.numCols);
        CommonOps_DDRM.mult(matrix, vectors, out);
        return out;
      }
    };
  }
}
