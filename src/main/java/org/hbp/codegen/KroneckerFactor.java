package org.hbp.codegen;

import org.hbp.calculus.Expr;
import org.hbp.calculus.Shape;

/**
 * Finds, in a derived parameter Jacobian, the structure {@code J = kron(A', I)} (a linear or
 * convolution weight: {@code vec(dW x) = (x' ⊗ I) vec(dW)}), and returns A; {@code J = I} (a bias)
 * is the case A = 1. Anything else has no such factor.
 */
public final class KroneckerFactor {
  private KroneckerFactor() {}

  /** A with J = kron(A', I), or null. */
  public static Expr of(Expr jacobian) {
    if (jacobian instanceof Expr.Eye) return new Expr.Ones(Shape.SCALAR);
    if (jacobian instanceof Expr.Kron k && k.right() instanceof Expr.Eye) {
      Expr left = k.left();
      if (left instanceof Expr.Transpose t) return t.operand();
      if (left instanceof Expr.Ones o) return new Expr.Ones(o.shape().transpose());
      return new Expr.Transpose(left);
    }
    return null;
  }
}
