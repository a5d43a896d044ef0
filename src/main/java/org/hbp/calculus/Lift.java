package org.hbp.calculus;

import java.util.List;
import java.util.Set;

/**
 * Lifts a scalar formula in a variable t onto an argument of any shape, entrywise: t becomes the
 * argument, numeric constants become constant arrays, products of scalars become Hadamard products.
 * {@code 1 - sigmoid(t)} lifted onto x (a vector(n)) is {@code ones(n) - sigmoid(x)}. One lifting
 * per node type in {@link #LIFTS}; the node types that do not act entrywise are excluded there.
 */
public final class Lift {
  private Lift() {}

  /** What a lifting replaces: the formula's variable t, and the argument it becomes. */
  private record Onto(Expr.Var t, Expr arg) {
    Expr lift(Expr formula) {
      return Lift.lift(formula, t, arg);
    }

    List<Expr> lift(List<Expr> formulas) {
      return formulas.stream().map(this::lift).toList();
    }
  }

  /** The entrywise lifting of each node type that acts entry by entry on scalars. */
  private static final NodeTable<Onto, Expr> LIFTS = NodeTable.<Onto, Expr>builder("entrywise lifting")
      .on(Expr.Var.class, (v, o) -> {
        if (v.equals(o.t())) return o.arg();
        throw new IllegalArgumentException("formula mentions '" + v.name() + "' besides " + o.t().name());
      })
      .on(Expr.Num.class, (n, o) -> o.arg().shape().isScalar() ? n : new Expr.Scale(n.value(), new Expr.Ones(o.arg().shape())))
      .on(Expr.Zero.class, (z, o) -> new Expr.Zero(o.arg().shape()))
      .on(Expr.Ones.class, (z, o) -> new Expr.Ones(o.arg().shape()))
      .on(Expr.Add.class, (a, o) -> new Expr.Add(o.lift(a.terms())))
      .on(Expr.Scale.class, (c, o) -> new Expr.Scale(c.coefficient(), o.lift(c.operand())))
      .on(Expr.Hadamard.class, (h, o) -> new Expr.Hadamard(o.lift(h.factors())))
      // a product of scalars is their entrywise product
      .on(Expr.MatMul.class, (m, o) -> new Expr.Hadamard(o.lift(m.factors())))
      .on(Expr.ScalarMul.class, (m, o) -> new Expr.Hadamard(List.of(o.lift(m.scalar()), o.lift(m.operand()))))
      .on(Expr.Power.class, (p, o) -> new Expr.Power(o.lift(p.base()), p.exponent()))
      .on(Expr.Apply.class, (a, o) -> new Expr.Apply(a.function(), a.order(), o.lift(a.argument())))
      .on(Expr.Max.class, (m, o) -> new Expr.Max(o.lift(m.left()), o.lift(m.right())))
      .on(Expr.Min.class, (m, o) -> new Expr.Min(o.lift(m.left()), o.lift(m.right())))
      // the transpose of a scalar is the scalar (a transpose of an array is rejected in notEntrywise and lift)
      .on(Expr.Transpose.class, (tr, o) -> o.lift(tr.operand()))
      .exclude("not entrywise: it does not act on each entry alone, so notEntrywise reports it and lift rejects it",
          Expr.DimValue.class, Expr.Eye.class, Expr.Commutation.class, Expr.Diagonalizer.class, Expr.Selection.class,
          Expr.Unfolding.class, Expr.Kron.class, Expr.Vec.class, Expr.Reshape.class, Expr.DiagMat.class, Expr.DiagVec.class,
          Expr.Trace.class, Expr.Sum.class, Expr.Softmax.class, Expr.LogSumExp.class, Expr.ColumnLogSumExp.class, Expr.Inv.class,
          Expr.Det.class, Expr.Unfold.class, Expr.Gather.class)
      .build();

  /** The node types the entrywise lifting accounts for (those that are not entrywise by exclusion). */
  public static Set<Class<? extends Expr>> nodeTypes() {
    return LIFTS.nodeTypes();
  }

  /** Whether the node itself acts entrywise: it has a lifting, and a transpose only of a scalar. */
  private static boolean entrywise(Expr formula) {
    if (formula instanceof Expr.Transpose tr) return tr.operand().shape().isScalar();
    return LIFTS.handles(formula);
  }

  /**
   * The first sub-expression of a scalar formula in t that cannot be applied entrywise (such as
   * {@code sum(t)} or {@code tr(t)}); null when the whole formula lifts.
   */
  public static Expr notEntrywise(Expr formula, Expr.Var t) {
    if (formula instanceof Expr.Var v) return v.equals(t) ? null : v;
    if (!entrywise(formula)) return formula;
    for (Expr c : Exprs.children(formula)) {
      Expr bad = notEntrywise(c, t);
      if (bad != null) return bad;
    }
    return null;
  }

  static Expr lift(Expr formula, Expr.Var t, Expr arg) {
    if (!entrywise(formula)) throw new IllegalArgumentException("cannot apply entrywise: " + formula);
    return LIFTS.apply(formula, new Onto(t, arg));
  }
}
