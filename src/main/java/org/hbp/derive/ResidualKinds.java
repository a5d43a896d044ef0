package org.hbp.derive;

import org.hbp.calculus.Expr;
import org.hbp.runtime.ResidualKind;

/** Classifies a derived residual term by its structure ({@link ResidualKind}). */
public final class ResidualKinds {
  private ResidualKinds() {}

  /** Classifies a simplified residual: zero, diagonal (a product/sum/Kronecker product of diagonals) or general. */
  public static ResidualKind of(Expr r) {
    if (r instanceof Expr.Zero) return ResidualKind.ZERO;
    return diagonal(r) ? ResidualKind.DIAGONAL : ResidualKind.GENERAL;
  }

  private static boolean diagonal(Expr e) {
    if (e instanceof Expr.DiagMat || e instanceof Expr.Eye || e instanceof Expr.Zero) return true;
    if (e.shape().isScalar()) return true;
    if (e instanceof Expr.Scale s) return diagonal(s.operand());
    if (e instanceof Expr.ScalarMul s) return diagonal(s.operand());
    if (e instanceof Expr.Add a) return a.terms().stream().allMatch(ResidualKinds::diagonal);
    if (e instanceof Expr.Kron k) return diagonal(k.left()) && diagonal(k.right());
    if (e instanceof Expr.MatMul m) return m.factors().stream().allMatch(ResidualKinds::diagonal);
    return false;
  }
}
