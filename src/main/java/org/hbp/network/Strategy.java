package org.hbp.network;

import java.util.Locale;
import java.util.function.BiFunction;
import org.hbp.UserError;

/**
 * The user's choice of how curvature is propagated through a batch (paper Section 3): exactly, by
 * matrix-free products per sample; or explicitly, with a batch-averaged Hessian of each module's
 * output propagated back by eq. 8 (KFRA: the mean of the per-sample products) or eq. 9 (BDA: with
 * the batch-averaged Jacobian); or by Kronecker factors of the GGN (KFAC, KFLR, EKFAC); or by the
 * diagonals of the GGN or the Hessian. Each names its
 * {@link CurvatureStrategy} implementation.
 */
public enum Strategy {
  EXACT((o, r) -> new ExactStrategy(r)),
  KFRA((o, r) -> new KfraStrategy()),
  BDA((o, r) -> new BdaStrategy()),
  /** KFAC: {@code A ⊗ G} with G from Monte-Carlo vectors ({@link KfacStrategy}, {@link KfacOptions}). */
  KFAC((o, r) -> new KfacStrategy(KfacStrategy.Variant.KFAC, o)),
  /** KFLR: {@code A ⊗ G} with G from all columns of the loss-Hessian factor. */
  KFLR((o, r) -> new KfacStrategy(KfacStrategy.Variant.KFLR, o)),
  /** EKFAC: KFLR's eigenbasis with the exact diagonal in it (George et al. 2018). */
  EKFAC((o, r) -> new KfacStrategy(KfacStrategy.Variant.EKFAC, o)),
  /** The exact GGN diagonal of each block ({@link DiagonalStrategy}, BackPACK's DiagGGNExact). */
  DIAG_GGN((o, r) -> new DiagonalStrategy(DiagonalStrategy.Variant.GGN, o)),
  /** Its Monte-Carlo estimate from {@code mcSamples} Rademacher vectors per sample (DiagGGNMC). */
  DIAG_GGN_MC((o, r) -> new DiagonalStrategy(DiagonalStrategy.Variant.GGN_MC, o)),
  /** The exact Hessian diagonal of each block (DiagHessian). */
  DIAG_HESSIAN((o, r) -> new DiagonalStrategy(DiagonalStrategy.Variant.HESSIAN, o));

  private final BiFunction<KfacOptions, GgnRoute, CurvatureStrategy> implementation;

  Strategy(BiFunction<KfacOptions, GgnRoute, CurvatureStrategy> implementation) {
    this.implementation = implementation;
  }

  /** The implementation that propagates curvature this way (Kronecker-factored ones with {@link KfacOptions#defaults}). */
  CurvatureStrategy implementation() {
    return implementation(KfacOptions.defaults());
  }

  /** The implementation with the Kronecker-factored strategies' options (the others ignore them). */
  CurvatureStrategy implementation(KfacOptions options) {
    return implementation(options, GgnRoute.NETWORK);
  }

  /** The implementation with those options and the exact strategy's GGN route (the others ignore it; {@link GgnRoute#check}). */
  CurvatureStrategy implementation(KfacOptions options, GgnRoute route) {
    return implementation.apply(options, route);
  }

  /** Whether this is one of the Kronecker-factored strategies (kfac, kflr, ekfac), with a closed-form damped inverse. */
  public boolean isKroneckerFactored() {
    return this == KFAC || this == KFLR || this == EKFAC;
  }

  /**
   * Whether the strategy draws Monte-Carlo vectors (kfac for its factor G, diag-ggn-mc for its diagonal): the ones that take
   * {@link KfacOptions#mcSamples} and a seed.
   */
  public boolean drawsMonteCarlo() {
    return this == KFAC || this == DIAG_GGN_MC;
  }

  /** Whether blocks have a closed-form damped inverse: the Kronecker-factored and the diagonal strategies. */
  public boolean hasClosedFormInverse() {
    return isKroneckerFactored() || this == DIAG_GGN || this == DIAG_GGN_MC || this == DIAG_HESSIAN;
  }

  /**
   * The curvature this strategy is defined for, where it is one: the Hessian for diag-hessian; the
   * GGN for kfac, kflr, ekfac, diag-ggn and diag-ggn-mc; null for exact, kfra and bda, which
   * propagate whichever curvature they are given.
   */
  public CurvatureKind fixedCurvature() {
    return switch (this) {
      case EXACT, KFRA, BDA -> null;
      case DIAG_HESSIAN -> CurvatureKind.HESSIAN;
      case KFAC, KFLR, EKFAC, DIAG_GGN, DIAG_GGN_MC -> CurvatureKind.GGN;
    };
  }

  public String label() {
    return name().toLowerCase(Locale.ROOT).replace('_', '-');
  }

  public static Strategy parse(String s) {
    for (Strategy k : values()) if (k.label().equals(s)) return k;
    java.util.List<String> labels = java.util.Arrays.stream(values()).map(Strategy::label).toList();
    throw new UserError("unknown strategy '" + s + "'; expected " + String.join(", ", labels.subList(0, labels.size() - 1)) + " or " + labels.get(labels.size() - 1));
  }
}
