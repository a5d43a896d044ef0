package org.hbp.cli;

import java.util.Locale;
import org.hbp.UserError;
import org.hbp.network.CurvatureKind;
import org.hbp.network.GgnDiagonal;
import org.hbp.network.Strategy;

/** The checks and the report line of {@code hbp curvature --diagonal exact|mc}. */
final class DiagonalMode {
  private DiagonalMode() {}

  /**
   * Checks that the other options fit a GGN diagonal; returns the sampling of {@code mc}.
   *
   * @throws UserError naming the option that does not apply
   */
  static GgnDiagonal.Sampling check(String mode, CurvatureKind kind, Strategy strategy, int blocks, String scope, int k, String sampling) {
    if (!mode.equals("exact") && !mode.equals("mc") && !mode.equals("hessian"))
      throw new UserError("--diagonal " + mode + ": expected exact, mc or hessian");
    if (mode.equals("hessian") && kind != CurvatureKind.HESSIAN)
      throw new UserError("--diagonal hessian gives the diagonal of the Hessian; --curvature " + kind.label() + " does not apply "
          + "(use --curvature hessian)");
    if (!mode.equals("hessian") && kind != CurvatureKind.GGN)
      throw new UserError("--diagonal " + mode + " gives the diagonal of the GGN from the loss factor; --curvature " + kind.label()
          + " does not apply (use --curvature ggn, or --diagonal hessian with --curvature hessian)");
    if (strategy != Strategy.EXACT)
      throw new UserError("--diagonal propagates the loss factor's columns exactly; --strategy " + strategy.label() + " does not apply");
    if (blocks != 1) throw new UserError("--diagonal gives the whole diagonal; --blocks " + blocks + " does not apply");
    if (!scope.equals("blocks")) throw new UserError("--diagonal gives the diagonal of the curvature; --scope " + scope + " does not apply");
    if (k < 1) throw new UserError("--mc-samples must be at least 1, not " + k);
    for (GgnDiagonal.Sampling s : GgnDiagonal.Sampling.values()) if (s.label().equals(sampling.toLowerCase(Locale.ROOT))) return s;
    throw new UserError("--sampling " + sampling + ": expected rademacher or gaussian");
  }

  static String describe(String mode, int k, GgnDiagonal.Sampling sampling, long seed, double seconds) {
    if (mode.equals("hessian")) return String.format("Hessian diagonal (exact, loss factor and diagonal residuals) in %.2f s", seconds);
    String what = mode.equals("exact") ? "exact, every column of the loss factor"
        : String.format("Monte-Carlo, %d %s vector%s per sample, seed %d", k, sampling.label(), k == 1 ? "" : "s", seed);
    return String.format("GGN diagonal (%s) in %.2f s", what, seconds);
  }
}
