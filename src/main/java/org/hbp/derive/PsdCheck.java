package org.hbp.derive;

import org.hbp.calculus.Expr;

/**
 * Decides whether a loss Hessian is positive semi-definite by a structural proof: identities and
 * non-negative diagonals are PSD, congruences A'BA and Kronecker products of PSD factors are PSD,
 * sums and non-negative multiples of PSD matrices are PSD (a multiple by a dim, a whole number, or
 * a power of one: {@code eye(n) / n}), and diag(p) - p*p' is PSD when p is a
 * softmax (the covariance of a categorical distribution).
 */
public final class PsdCheck {
  private PsdCheck() {}

  public static Derivation.Psd decide(Expr h) {
    String why = proof(h);
    if (why != null) return new Derivation.Psd(true, why);
    return new Derivation.Psd(null, "no structural proof found");
  }

  /** A short reason when e is provably PSD, else null. */
  static String proof(Expr e) {
    if (e instanceof Expr.Eye) return "identity";
    if (e instanceof Expr.Zero) return "zero";
    if (e instanceof Expr.Scale s && s.coefficient() >= 0) {
      String p = proof(s.operand());
      return p == null ? null : "non-negative multiple of " + p;
    }
    if (e instanceof Expr.ScalarMul m && nonNegativeScalar(m.scalar())) {
      String p = proof(m.operand());
      return p == null ? null : "non-negative multiple of " + p;
    }
    if (e instanceof Expr.DiagMat d && nonNegative(d.vector())) return "diagonal with non-negative entries";
    if (e instanceof Expr.Add a) {
      if (isSoftmaxCovariance(a)) return "diag(p) - p*p' with p = softmax(x): covariance of a categorical distribution";
      for (Expr t : a.terms()) if (proof(t) == null) return null;
      return "sum of PSD terms";
    }
    if (e instanceof Expr.Kron k && proof(k.left()) != null && proof(k.right()) != null) return "Kronecker product of PSD factors";
    if (e instanceof Expr.MatMul mm && mm.factors().size() == 3 && mm.factors().get(0).equals(transposeOf(mm.factors().get(2)))
        && proof(mm.factors().get(1)) != null) return "congruence A'*B*A of a PSD B";
    return null;
  }

  private static Expr transposeOf(Expr e) {
    return org.hbp.calculus.Simplifier.simplify(new Expr.Transpose(e));
  }

  /** A dim (a whole number), a non-negative number, or a power or product of these. */
  private static boolean nonNegativeScalar(Expr s) {
    if (s instanceof Expr.DimValue) return true;
    if (s instanceof Expr.Num n) return n.value() >= 0;
    if (s instanceof Expr.Power p) return nonNegativeScalar(p.base());
    if (s instanceof Expr.Hadamard h) return h.factors().stream().allMatch(PsdCheck::nonNegativeScalar);
    return s instanceof Expr.Scale c && c.coefficient() >= 0 && nonNegativeScalar(c.operand());
  }

  private static boolean nonNegative(Expr v) {
    if (v instanceof Expr.Softmax || v instanceof Expr.Ones) return true;
    if (v instanceof Expr.Apply a && a.order() == 0)
      return java.util.Set.of("exp", "sigmoid", "softplus", "relu", "abs", "sqrt").contains(a.function().name());
    if (v instanceof Expr.Hadamard h) return h.factors().stream().allMatch(PsdCheck::nonNegative);
    if (v instanceof Expr.Scale s) return s.coefficient() >= 0 && nonNegative(s.operand());
    return false;
  }

  private static boolean isSoftmaxCovariance(Expr.Add a) {
    if (a.terms().size() != 2) return false;
    Expr d = a.terms().get(0), o = a.terms().get(1);
    if (!(d instanceof Expr.DiagMat dm) || !(dm.vector() instanceof Expr.Softmax p)) return false;
    return o instanceof Expr.Scale s && s.coefficient() == -1 && s.operand() instanceof Expr.MatMul mm
        && mm.factors().size() == 2 && mm.factors().get(0).equals(p) && mm.factors().get(1).equals(new Expr.Transpose(p));
  }
}
