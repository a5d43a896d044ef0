package org.hbp.network;

/** How an operator removes negative curvature from a residual for PCH (abs or clip). */
public enum PchMethod {
  /** The residual is zero: nothing to remove. */
  NOTHING,
  /** The residual is diagonal: its diagonal entries are its eigenvalues, modified entrywise. */
  ELEMENTWISE,
  /**
   * The residual is a general symmetric matrix: a symmetric eigendecomposition, of each sample's
   * residual (exact strategy) or of the batch-averaged residual (kfra, bda).
   */
  EIGENDECOMPOSITION
}
