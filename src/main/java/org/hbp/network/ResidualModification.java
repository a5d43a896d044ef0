package org.hbp.network;

import org.hbp.backend.ScalarFunction;

/**
 * How the residual term of an HBP rule (paper eq. 7, the second term) is treated: kept
 * ({@link #NONE}: exact Hessian), dropped ({@link #ZERO}: GGN), or made positive semi-definite
 * by taking absolute values ({@link #ABS}) or clipping negative values to zero ({@link #CLIP}) of
 * its eigenvalues (PCH). For a diagonal residual the eigenvalues are its diagonal entries.
 *
 * <p>Where it applies: the exact strategy modifies each sample's residual (Chen et al.); the batch
 * strategies kfra and bda modify the batch-averaged residual {@code mean_n R_n} of eq. 8 / eq. 9,
 * average first, then modify, as the paper and the authors' code do. {@link ResidualPolicy}
 * applies it.
 */
public enum ResidualModification {
  NONE, ZERO, ABS, CLIP;

  /**
   * The map as a {@link ScalarFunction} (Java and OpenCL C), so device backends
   * apply it in a kernel.
   */
  public ScalarFunction function() {
    switch (this) {
      case NONE:
        return NONE_FUNCTION;
      case ZERO:
        return ZERO_FUNCTION;
      case ABS:
        return ABS_FUNCTION;
      default:
        return CLIP_FUNCTION;
    }
  }

  private static final ScalarFunction NONE_FUNCTION =
      ScalarFunction.of("hbp_modification_none", "t", t -> t);
  private static final ScalarFunction ZERO_FUNCTION =
      ScalarFunction.of("hbp_modification_zero", "(REAL) 0", t -> 0);
  private static final ScalarFunction ABS_FUNCTION =
      ScalarFunction.of("hbp_modification_abs", "fabs(t)", Math::abs);
  private static final ScalarFunction CLIP_FUNCTION =
      ScalarFunction.of("hbp_modification_clip", "fmax(t, (REAL) 0)", t -> Math.max(t, 0));

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
