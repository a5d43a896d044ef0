package org.hbp.calculus;

import java.util.List;

/**
 * Lifts a scalar formula in a variable t onto an argument of any shape, entrywise: t becomes the
 * argument, numeric constants become constant arrays, products of scalars become Hadamard products.
 * {@code 1 - sigmoid(t)} lifted onto x (a vector(n)) is {@code ones(n) - sigmoid(x)}.
 */
public final class Lift {
  private Lift() {}

  /**
   * The first sub-expression of a scalar formula in t that cannot be applied entrywise (such as
   * {@code sum(t)} or {@code tr(t)}); null when the whole formula lifts.
   */
  public static Expr notEntrywise(Expr formula, Expr.Var t) {
    if (formula instanceof Expr.Var v) return v.equals(t) ? null : v;
    if (formula instanceof Expr.Num || formula instanceof Expr.Zero || formula instanceof Expr.Ones) return null;
    boolean entrywise = formula instanceof Expr.Add || formula instanceof Expr.Scale || formula instanceof Expr.Hadamard
        || formula instanceof Expr.MatMul || formula instanceof Expr.ScalarMul || formula instanceof Expr.Power
        || formula instanceof Expr.Apply || formula instanceof Expr.Max || formula instanceof Expr.Min
        || (formula instanceof Expr.Transpose tr && tr.operand().shape().isScalar());
    if (!entrywise) return formula;
    for (Expr c : Exprs.children(formula)) {
      Expr bad = notEntrywise(c, t);
      if (bad != null) return bad;
    }
    return null;
  }

  static Expr lift(Expr formula, Expr.Var t, Expr arg) {
    Shape s = arg.shape();
    if (formula instanceof Expr.Var v) {
      if (v.equals(t)) return arg;
      throw new IllegalArgumentException("formula mentions '" + v.name() + "' besides " + t.name());
    }
    if (formula instanceof Expr.Num n) return s.isScalar() ? n : new Expr.Scale(n.value(), new Expr.Ones(s));
    if (formula instanceof Expr.Zero) return new Expr.Zero(s);
    if (formula instanceof Expr.Ones) return new Expr.Ones(s);
    if (formula instanceof Expr.Add a) return new Expr.Add(a.terms().stream().map(e -> lift(e, t, arg)).toList());
    if (formula instanceof Expr.Scale c) return new Expr.Scale(c.coefficient(), lift(c.operand(), t, arg));
    if (formula instanceof Expr.Hadamard h) return new Expr.Hadamard(h.factors().stream().map(e -> lift(e, t, arg)).toList());
    if (formula instanceof Expr.MatMul m) return new Expr.Hadamard(m.factors().stream().map(e -> lift(e, t, arg)).toList());
    if (formula instanceof Expr.ScalarMul m) return new Expr.Hadamard(List.of(lift(m.scalar(), t, arg), lift(m.operand(), t, arg)));
    if (formula instanceof Expr.Power p) return new Expr.Power(lift(p.base(), t, arg), p.exponent());
    if (formula instanceof Expr.Apply a) return new Expr.Apply(a.function(), a.order(), lift(a.argument(), t, arg));
    if (formula instanceof Expr.Max m) return new Expr.Max(lift(m.left(), t, arg), lift(m.right(), t, arg));
    if (formula instanceof Expr.Min m) return new Expr.Min(lift(m.left(), t, arg), lift(m.right(), t, arg));
    if (formula instanceof Expr.Transpose tr && tr.operand().shape().isScalar()) return lift(tr.operand(), t, arg);
    throw new IllegalArgumentException("cannot apply entrywise: " + formula);
  }
}
