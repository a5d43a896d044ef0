package org.hbp.network;

import java.util.Locale;
import org.hbp.UserError;

/**
 * Which curvature flows back (paper Section 3): the exact Hessian keeps every residual term, the
 * generalized Gauss-Newton matrix drops them, the positive-curvature Hessian (PCH) replaces each by
 * its absolute value or clips its negative eigenvalues. This is the table from curvature to
 * residual modification; {@link ResidualPolicy} applies it.
 */
public enum CurvatureKind {
  HESSIAN(ResidualModification.NONE),
  GGN(ResidualModification.ZERO),
  PCH_ABS(ResidualModification.ABS),
  PCH_CLIP(ResidualModification.CLIP);

  private final ResidualModification residual;

  CurvatureKind(ResidualModification residual) {
    this.residual = residual;
  }

  /** How each module's residual term is treated. */
  public ResidualModification residual() {
    return residual;
  }

  /** The command-line name: hessian, ggn, pch-abs, pch-clip. */
  public String label() {
    return name().toLowerCase(Locale.ROOT).replace('_', '-');
  }

  public static CurvatureKind parse(String s) {
    for (CurvatureKind k : values()) if (k.label().equals(s)) return k;
    throw new UserError("unknown curvature '" + s + "'; expected hessian, ggn, pch-abs or pch-clip");
  }
}
