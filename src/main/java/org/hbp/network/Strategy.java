package org.hbp.network;

import java.util.Locale;
import java.util.function.Supplier;
import org.hbp.UserError;

/**
 * The user's choice of how curvature is propagated through a batch (paper Section 3): exactly, by
 * matrix-free products per sample; or explicitly, with a batch-averaged Hessian of each module's
 * output propagated back by eq. 8 (KFRA: the mean of the per-sample products) or eq. 9 (BDA: with
 * the batch-averaged Jacobian). Each names its {@link CurvatureStrategy} implementation.
 */
public enum Strategy {
  EXACT(ExactStrategy::new),
  KFRA(KfraStrategy::new),
  BDA(BdaStrategy::new);

  private final Supplier<CurvatureStrategy> implementation;

  Strategy(Supplier<CurvatureStrategy> implementation) {
    this.implementation = implementation;
  }

  /** The implementation that propagates curvature this way. */
  CurvatureStrategy implementation() {
    return implementation.get();
  }

  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }

  public static Strategy parse(String s) {
    for (Strategy k : values()) if (k.label().equals(s)) return k;
    throw new UserError("unknown strategy '" + s + "'; expected exact, kfra or bda");
  }
}
