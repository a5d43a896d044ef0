package org.hbp.calculus;

import java.util.List;

/**
 * Entry points of the engine: Jacobians (first identification), gradients and Hessians (second
 * identification, as the Jacobian of the gradient), all simplified to canonical form.
 */
public final class Calculus {
  private Calculus() {}

  /** The simplified differential of f with respect to x, linear in dx = differentialOf(x). */
  public static Expr differential(Expr f, Expr.Var x, Simplifier s) {
    return s.run(Differentiation.differential(s.run(f), x, Exprs.differentialOf(x)));
  }

  /** DF(X) = d vec F / d (vec X)', shape numel(F) x numel(X), column-major vec. */
  public static Expr jacobian(Expr f, Expr.Var x, Simplifier s) {
    Expr.Var dx = Exprs.differentialOf(x);
    Expr d = s.run(Differentiation.differential(s.run(f), x, dx));
    return s.run(Identification.jacobian(d, dx));
  }

  public static Expr jacobian(Expr f, Expr.Var x) {
    return jacobian(f, x, simplifier());
  }

  /**
   * The gradient of a scalar f as a column numel(X) x 1 (column-major vec of dF/dX): the transpose
   * of the Jacobian.
   */
  public static Expr gradientVec(Expr f, Expr.Var x, Simplifier s) {
    requireScalar(f, "gradient");
    return s.run(Exprs.transpose(jacobian(f, x, s)));
  }

  /** The gradient of a scalar f with the shape of X. */
  public static Expr gradient(Expr f, Expr.Var x, Simplifier s) {
    Expr g = gradientVec(f, x, s);
    return x.shape().isColumn() ? g : s.run(new Expr.Reshape(g, x.shape()));
  }

  /**
   * The Hessian of a scalar f, numel(X) x numel(X): by the second identification theorem, the
   * Jacobian of the gradient (d^2 f = d(vec X)' H d(vec X), H symmetric).
   */
  public static Expr hessian(Expr f, Expr.Var x, Simplifier s) {
    return jacobian(gradientVec(f, x, s), x, s);
  }

  public static Expr hessian(Expr f, Expr.Var x) {
    return hessian(f, x, simplifier());
  }

  /** d f(t) / dt of a scalar formula, simplified. */
  public static Expr scalarDerivative(Expr formula, Expr.Var t) {
    return jacobian(formula, t);
  }

  public static Simplifier simplifier() {
    return new Simplifier(List.of());
  }

  static void requireScalar(Expr f, String what) {
    if (!f.shape().isScalar())
      throw new IllegalArgumentException("the " + what + " needs a scalar function, but the expression is " + f.shape());
  }
}
