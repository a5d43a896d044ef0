package org.hbp.derive;

import org.hbp.calculus.Expr;

/** The structure of a residual term sum_k dz_k Hz_k. */
public enum ResidualKind {
  ZERO, DIAGONAL, GENERAL;

  public String label() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }

  /** Classifies a simplified residual by its structure. */
  public static ResidualKind of(Expr r) {
    if (r instanceof Expr.Zero) return ZERO;
    return diagonal(r) ? DIAGONAL : GENERAL;
  }

  private static boolean diagonal(Expr e) {
    if (e instanceof Expr.DiagMat || e instanceof Expr.Eye || e instanceof Expr.Zero) return true;
    if (e.shape().isScalar()) return true;
    if (e instanceof Expr.Scale s) return diagonal(s.operand());
    if (e instanceof Expr.ScalarMul s) return diagonal(s.operand());
    if (e instanceof Expr.Add a) return a.terms().stream().allMatch(ResidualKind::diagonal);
    if (e instanceof Expr.Kron k) return diagonal(k.left()) && diagonal(k.right());
    if (e instanceof Expr.MatMul m) return m.factors().stream().allMatch(ResidualKind::diagonal);
    return false;
  }
}
