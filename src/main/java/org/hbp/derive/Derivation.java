package org.hbp.derive;

import org.hbp.calculus.Expr;

/**
 * The derived rules of one module or loss for one of its inputs or parameters: a {@link ModuleRule}
 * (Jacobian, residual and HBP rule, paper eq. 7) or a {@link LossRule} (gradient, Hessian and
 * whether it is positive semi-definite).
 */
public sealed interface Derivation permits ModuleRule, LossRule {
  /** The module's or loss's name in its spec. */
  String module();

  /** The input or parameter the rules are derived with respect to. */
  Expr.Var wrt();

  /** The module's output z, or the loss's value E. */
  Expr.Var output();

  /**
   * The curvature block of {@link #wrt()} that an expectation states: the HBP rule
   * {@code Dz(w)' Hz Dz(w) + residual} of a module, the Hessian of a loss (closed form).
   */
  Expr curvature();

  /** {@link #curvature()} with derivatives of elementwise functions kept as {@code f'(x)}, {@code f''(x)}. */
  Expr curvatureCompact();

  /** Name of the Hessian block: Hx for an input, H_W for a parameter. */
  default String hessianName() {
    return (wrt().role() == Expr.Role.PARAM ? "H_" : "H") + wrt().name();
  }
}
