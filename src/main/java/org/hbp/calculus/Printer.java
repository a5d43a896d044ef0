package org.hbp.calculus;

import java.util.List;
import java.util.stream.Collectors;

/**
 * Prints the IR in the DSL's own expression syntax, so that results parse back. Precedence, from
 * loosest: sums ({@code + -}), products ({@code * .* ./}), unary minus, postfix ({@code ' .^}),
 * primaries.
 */
public final class Printer {
  private Printer() {}

  private static final int SUM = 1, PRODUCT = 2, UNARY = 3, POSTFIX = 4, PRIMARY = 5;

  public static String text(Expr e) {
    return print(e);
  }

  /** Formats a constant so that the DSL reads it back exactly. */
  public static String number(double v) {
    if (v == Math.rint(v) && Math.abs(v) < 1e15) return Long.toString((long) v);
    return Double.toString(v);
  }

  static int precedence(Expr e) {
    if (e instanceof Expr.Add) return SUM;
    if (e instanceof Expr.Scale s) return s.coefficient() == -1 ? UNARY : PRODUCT;
    if (e instanceof Expr.MatMul || e instanceof Expr.Hadamard || e instanceof Expr.ScalarMul) return PRODUCT;
    if (e instanceof Expr.Num n) return n.value() < 0 ? UNARY : PRIMARY;
    if (e instanceof Expr.Transpose || e instanceof Expr.Power) return POSTFIX;
    return PRIMARY;
  }

  private static String wrap(Expr e, int min) {
    String s = print(e);
    return precedence(e) < min ? "(" + s + ")" : s;
  }

  private static String print(Expr e) {
    if (e instanceof Expr.Var v) return v.name();
    if (e instanceof Expr.Num n) return number(n.value());
    if (e instanceof Expr.DimValue d) return d.dim().toStringAtomic();
    if (e instanceof Expr.Zero z) return z.shape().isScalar() ? "0" : "zeros(" + dims(z.shape()) + ")";
    if (e instanceof Expr.Ones o) return o.shape().isScalar() ? "1" : "ones(" + dims(o.shape()) + ")";
    if (e instanceof Expr.Eye i) return "eye(" + i.n() + ")";
    if (e instanceof Expr.Commutation k) return "commutation(" + k.m() + ", " + k.n() + ")";
    if (e instanceof Expr.Diagonalizer d) return "diagonalizer(" + d.n() + ")";
    if (e instanceof Expr.Selection s) return "selection(" + s.index().name() + ", " + s.n() + ")";
    if (e instanceof Expr.Unfolding u) {
      Expr.ConvGeometry g = u.geometry();
      return "unfolding(" + g.c() + ", " + g.h() + ", " + g.w() + ", " + g.kernel() + ", " + g.stride() + ", "
          + g.padding() + ", " + g.dilation() + ")";
    }
    if (e instanceof Expr.Add a) {
      StringBuilder sb = new StringBuilder();
      for (int i = 0; i < a.terms().size(); i++) {
        Expr t = a.terms().get(i);
        if (i > 0) {
          Expr neg = negated(t);
          if (neg != null) {
            sb.append(" - ").append(wrap(neg, PRODUCT));
            continue;
          }
          sb.append(" + ");
        }
        sb.append(i == 0 ? wrap(t, SUM) : wrap(t, PRODUCT));
      }
      return sb.toString();
    }
    if (e instanceof Expr.Scale s) {
      double c = s.coefficient();
      if (c == -1) return "-" + wrap(s.operand(), POSTFIX);
      return number(c) + "*" + wrapFactor(s.operand());
    }
    if (e instanceof Expr.ScalarMul m) return wrapFactor(m.scalar()) + "*" + wrapFactor(m.operand());
    if (e instanceof Expr.MatMul m) return m.factors().stream().map(Printer::wrapFactor).collect(Collectors.joining("*"));
    if (e instanceof Expr.Hadamard h) {
      boolean scalar = h.shape().isScalar();
      StringBuilder sb = new StringBuilder();
      for (int i = 0; i < h.factors().size(); i++) {
        Expr f = h.factors().get(i);
        boolean reciprocal = i > 0 && f instanceof Expr.Power p && p.exponent() == -1;
        if (i > 0) sb.append(reciprocal ? " ./ " : scalar ? "*" : " .* ");
        Expr shown = reciprocal ? ((Expr.Power) f).base() : f;
        sb.append(reciprocal ? wrap(shown, UNARY) : wrapFactor(shown));
      }
      return sb.toString();
    }
    if (e instanceof Expr.Transpose t) return wrap(t.operand(), PRIMARY) + "'";
    if (e instanceof Expr.Power p) return wrap(p.base(), PRIMARY) + ".^" + number(p.exponent());
    if (e instanceof Expr.Kron k) return "kron(" + print(k.left()) + ", " + print(k.right()) + ")";
    if (e instanceof Expr.Vec v) return "vec(" + print(v.operand()) + ")";
    if (e instanceof Expr.Reshape r) return "reshape(" + print(r.operand()) + ", " + dims(r.target()) + ")";
    if (e instanceof Expr.DiagMat d) return "diag(" + print(d.vector()) + ")";
    if (e instanceof Expr.DiagVec d) return "diag(" + print(d.matrix()) + ")";
    if (e instanceof Expr.Trace t) return "tr(" + print(t.matrix()) + ")";
    if (e instanceof Expr.Sum s) return "sum(" + print(s.operand()) + ")";
    if (e instanceof Expr.Apply a) return a.function().name() + "'".repeat(a.order()) + "(" + print(a.argument()) + ")";
    if (e instanceof Expr.Softmax s) return "softmax(" + print(s.vector()) + ")";
    if (e instanceof Expr.LogSumExp l) return "logsumexp(" + print(l.operand()) + ")";
    if (e instanceof Expr.Inv i) return "inv(" + print(i.matrix()) + ")";
    if (e instanceof Expr.Det d) return "det(" + print(d.matrix()) + ")";
    if (e instanceof Expr.Unfold u) {
      Expr.ConvGeometry g = u.geometry();
      return "unfold(" + print(u.tensor()) + ", " + g.kernel() + ", " + g.stride() + ", " + g.padding() + ", "
          + g.dilation() + ")";
    }
    if (e instanceof Expr.Gather g) return "gather(" + print(g.source()) + ", " + g.index().name() + ")";
    throw new IllegalArgumentException("no printer for " + e.getClass().getSimpleName());
  }

  /** A factor of a product: parenthesized unless postfix or primary. */
  private static String wrapFactor(Expr e) {
    return wrap(e, POSTFIX);
  }

  /** For a term printed after " - ": the term without its minus sign, or null. */
  private static Expr negated(Expr t) {
    if (t instanceof Expr.Scale s && s.coefficient() < 0) return Exprs.scale(-s.coefficient(), s.operand());
    if (t instanceof Expr.Num n && n.value() < 0) return new Expr.Num(-n.value());
    return null;
  }

  private static String dims(Shape s) {
    List<Dim> d = s.dims();
    if (s.isColumn()) return d.get(0).toString();
    return d.stream().map(Dim::toString).collect(Collectors.joining(", "));
  }
}
