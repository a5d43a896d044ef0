package org.hbp.derive;

import java.util.Objects;
import org.hbp.calculus.Expr;

/**
 * The mixed residual of a module for two different differentiable variables a and b:
 * {@code M_ab = sum_k dz_k d²z_k/(d vec(a) d vec(b)')}, numel(a) x numel(b), derived as the
 * Jacobian in b of the gradient in a of {@code g = vec(dz)' vec(z)} with dz fixed (compact form:
 * derivatives of elementwise functions kept as {@code f'(x)}, {@code f''(x)}). With the residuals
 * {@code R_a = M_aa} it is the second-order part of the module's Hessian in all its variables,
 * which whole-network Hessian-vector products need (the backward map's directional derivative in
 * a parameter, or the parameter gradient's in the input).
 *
 * @param residual zero ({@link Expr.Zero}) where z is affine in a for fixed b
 */
public record MixedResidual(Expr.Var wrt, Expr.Var of, Expr residual) {
  public MixedResidual {
    Objects.requireNonNull(wrt, "wrt");
    Objects.requireNonNull(of, "of");
    Objects.requireNonNull(residual, "residual");
  }

  /** Whether the mixed second derivatives vanish identically. */
  public boolean isZero() {
    return residual instanceof Expr.Zero;
  }
}
