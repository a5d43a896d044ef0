package org.hbp.network;

import java.util.Locale;
import org.hbp.UserError;

/**
 * How the exact strategy computes GGN products: the same curvature, two computations.
 *
 * <ul>
 *   <li>{@link #NETWORK} (the default): each product carries its directions from the block's
 *       layer through the rest of the network to the loss Hessian and back, a trip per block and
 *       product ({@link HessianProducts}; for the whole network {@link Pass#networkProduct}).</li>
 *   <li>{@link #FACTORED}: the loss factor's columns ({@code H_n = S_n S_n'}, r per sample) are
 *       carried back through the network once; then a block's product is {@code J_θ' S_z (S_z' J_θ
 *       v)} with {@code S_z = J_{f,z}' S} at its layer's output z: the block's own two Jacobian
 *       products and two small ones with the r columns, no trip ({@link FactoredBlocks}; for the whole
 *       network {@link FactoredGgn}). It holds {@code N r |z|} numbers per layer and pays where
 *       several directions or products are taken of one batch (CG, Lanczos, dense blocks).</li>
 * </ul>
 */
public enum GgnRoute {
  NETWORK,
  FACTORED;

  /** The CLI's name. */
  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }

  /**
   * Refuses a route the curvature cannot take: factored is a route of the GGN (the Hessian's and
   * the PCH's residual terms do not factor) and of the exact strategy's products (the others build
   * their blocks their own way). The one place this is decided; commands call it before any work.
   */
  public void check(CurvatureKind kind, Strategy strategy) {
    check(kind, strategy, "--ggn-route");
  }

  /** {@link #check(CurvatureKind, Strategy)} for a command whose option has another name ({@code hbp bench --ggn-routes}). */
  public void check(CurvatureKind kind, Strategy strategy, String option) {
    if (this != FACTORED) return;
    if (kind != CurvatureKind.GGN)
      throw new UserError(option + " factored is a route for the GGN; --curvature " + kind.label() + " goes through the network (" + option + " network)");
    if (strategy != Strategy.EXACT)
      throw new UserError(option + " factored is a route of the exact strategy's products; --strategy " + strategy.label()
          + " builds its blocks its own way (use --strategy exact, or " + option + " network)");
  }

  /**
   * Whether the factored route keeps a parameter's own columns {@code M = J_θ' S} ({@code N r P_θ}
   * numbers) rather than those at its layer's output ({@code N r |z|}): where {@code P_θ <= r |z|},
   * M takes at most r times their memory, and a product with it costs no Jacobian product
   * ({@link FactoredBlocks}). One rule, for the blocks and for {@code hbp bench}'s FLOP counts.
   */
  public static boolean keepsParameterColumns(long parameterSize, long outputSize, int rank) {
    return parameterSize <= (long) rank * outputSize;
  }

  /** The route named {@code s} (network or factored), or a {@code UserError} naming the choices. */
  public static GgnRoute parse(String s) {
    return parse(s, "--ggn-route");
  }

  /** {@link #parse(String)} for a command whose option has another name. */
  public static GgnRoute parse(String s, String option) {
    for (GgnRoute r : values()) if (r.label().equals(s)) return r;
    throw new UserError(option + ": expected network or factored, not '" + s + "'");
  }
}
