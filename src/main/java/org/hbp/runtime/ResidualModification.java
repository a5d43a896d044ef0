package org.hbp.runtime;

/**
 * How the residual term of an HBP rule (paper eq. 7, the second term) is treated: kept
 * ({@link #NONE}: exact Hessian), dropped ({@link #ZERO}: GGN), or made positive semi-definite
 * by taking absolute values ({@link #ABS}) or clipping negative values to zero ({@link #CLIP}) of
 * its eigenvalues (PCH). For a diagonal residual the eigenvalues are its diagonal entries.
 */
public enum ResidualModification {
  NONE, ZERO, ABS, CLIP;

  /** The map applied to eigenvalues: identity, 0, |.| or max(., 0). */
  public double apply(double eigenvalue) {
    switch (this) {
      case NONE:
        return eigenvalue;
      case ZERO:
        return 0;
      case ABS:
        return Math.abs(eigenvalue);
      default:
        return Math.max(eigenvalue, 0);
    }
  }
}
