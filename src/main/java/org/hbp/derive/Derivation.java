package org.hbp.derive;

import org.hbp.calculus.Expr;
import org.hbp.runtime.ResidualKind;

/**
 * The derived rules of one module for one input or parameter (paper eq. 7):
 * {@code jacobian} = Dz(wrt), {@code residual} = sum_k dz_k Hz_k(wrt), {@code hbp} = Dz'*Hz*Dz +
 * residual. For a loss: {@code gradient} = dE/dx and {@code hessian} = the loss Hessian.
 * Expressions are canonical; {@code *Compact} variants keep derivatives of elementwise functions
 * as {@code f'(x)}, {@code f''(x)}, the others write them out in closed form.
 */
public record Derivation(
    String module,
    boolean isLoss,
    Expr.Var wrt,
    Expr.Var output,
    Expr jacobian,
    Expr residual,
    Expr hbp,
    ResidualKind residualKind,
    Expr gradient,
    Expr hessian,
    Psd psd,
    Expr jacobianCompact,
    Expr residualCompact,
    Expr hbpCompact) {

  /** Whether a loss Hessian is positive semi-definite, and how that was decided. */
  public record Psd(Boolean value, String reason) {}

  /** Name of the Hessian block: Hx for an input, H_W for a parameter. */
  public String hessianName() {
    return (wrt.role() == Expr.Role.PARAM ? "H_" : "H") + wrt.name();
  }
}
