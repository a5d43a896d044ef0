package org.hbp.runtime;

/**
 * The structure of a module's residual term {@code sum_k dz_k Hz_k} with respect to one variable
 * (paper eq. 7, the second term): zero (linear in it), diagonal (elementwise) or general. The
 * derivation classifies it ({@link org.hbp.runtime.ResidualKinds#of}); generated operators report
 * it ({@link ModuleOperator#residualKind}).
 */
public enum ResidualKind {
  ZERO, DIAGONAL, GENERAL;

  public String label() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }
}
