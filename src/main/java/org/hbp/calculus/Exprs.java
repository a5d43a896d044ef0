package org.hbp.calculus;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Structural helpers over the IR: the children of a node, a node rebuilt with new children,
 * traversal, and smart constructors that keep symbolic zeros out of sums and products.
 */
public final class Exprs {
  private Exprs() {}

  /** The direct sub-expressions of a node, in a fixed order. */
  public static List<Expr> children(Expr e) {
    if (e instanceof Expr.Add a) return a.terms();
    if (e instanceof Expr.MatMul m) return m.factors();
    if (e instanceof Expr.Hadamard h) return h.factors();
    if (e instanceof Expr.Scale s) return List.of(s.operand());
    if (e instanceof Expr.ScalarMul s) return List.of(s.scalar(), s.operand());
    if (e instanceof Expr.Transpose t) return List.of(t.operand());
    if (e instanceof Expr.Power p) return List.of(p.base());
    if (e instanceof Expr.Kron k) return List.of(k.left(), k.right());
    if (e instanceof Expr.Vec v) return List.of(v.operand());
    if (e instanceof Expr.Reshape r) return List.of(r.operand());
    if (e instanceof Expr.DiagMat d) return List.of(d.vector());
    if (e instanceof Expr.DiagVec d) return List.of(d.matrix());
    if (e instanceof Expr.Trace t) return List.of(t.matrix());
    if (e instanceof Expr.Sum s) return List.of(s.operand());
    if (e instanceof Expr.Apply a) return List.of(a.argument());
    if (e instanceof Expr.Softmax s) return List.of(s.vector());
    if (e instanceof Expr.LogSumExp l) return List.of(l.operand());
    if (e instanceof Expr.ColumnLogSumExp l) return List.of(l.matrix());
    if (e instanceof Expr.Max m) return List.of(m.left(), m.right());
    if (e instanceof Expr.Min m) return List.of(m.left(), m.right());
    if (e instanceof Expr.Inv i) return List.of(i.matrix());
    if (e instanceof Expr.Det d) return List.of(d.matrix());
    if (e instanceof Expr.Unfold u) return List.of(u.tensor());
    if (e instanceof Expr.Gather g) return List.of(g.source());
    return List.of(); // leaves: Var, Num, Zero, Ones, Eye, Commutation, Diagonalizer, Selection, Unfolding
  }

  /** The node with its children replaced (same order as {@link #children}). */
  public static Expr withChildren(Expr e, List<Expr> c) {
    if (c.equals(children(e))) return e;
    if (e instanceof Expr.Add) return new Expr.Add(c);
    if (e instanceof Expr.MatMul) return new Expr.MatMul(c);
    if (e instanceof Expr.Hadamard) return new Expr.Hadamard(c);
    if (e instanceof Expr.Scale s) return new Expr.Scale(s.coefficient(), c.get(0));
    if (e instanceof Expr.ScalarMul) return new Expr.ScalarMul(c.get(0), c.get(1));
    if (e instanceof Expr.Transpose) return new Expr.Transpose(c.get(0));
    if (e instanceof Expr.Power p) return new Expr.Power(c.get(0), p.exponent());
    if (e instanceof Expr.Kron) return new Expr.Kron(c.get(0), c.get(1));
    if (e instanceof Expr.Vec) return new Expr.Vec(c.get(0));
    if (e instanceof Expr.Reshape r) return new Expr.Reshape(c.get(0), r.target());
    if (e instanceof Expr.DiagMat) return new Expr.DiagMat(c.get(0));
    if (e instanceof Expr.DiagVec) return new Expr.DiagVec(c.get(0));
    if (e instanceof Expr.Trace) return new Expr.Trace(c.get(0));
    if (e instanceof Expr.Sum) return new Expr.Sum(c.get(0));
    if (e instanceof Expr.Apply a) return new Expr.Apply(a.function(), a.order(), c.get(0));
    if (e instanceof Expr.Softmax) return new Expr.Softmax(c.get(0));
    if (e instanceof Expr.LogSumExp) return new Expr.LogSumExp(c.get(0));
    if (e instanceof Expr.ColumnLogSumExp) return new Expr.ColumnLogSumExp(c.get(0));
    if (e instanceof Expr.Max) return new Expr.Max(c.get(0), c.get(1));
    if (e instanceof Expr.Min) return new Expr.Min(c.get(0), c.get(1));
    if (e instanceof Expr.Inv) return new Expr.Inv(c.get(0));
    if (e instanceof Expr.Det) return new Expr.Det(c.get(0));
    if (e instanceof Expr.Unfold u) return new Expr.Unfold(c.get(0), u.geometry());
    if (e instanceof Expr.Gather g) return new Expr.Gather(c.get(0), g.index());
    throw new IllegalArgumentException("leaf has no children: " + e.getClass().getSimpleName());
  }

  /**
   * Rebuilds bottom-up, applying {@code f} to every node after its children. A sub-expression
   * shared by several parents (the same object, as derivatives share their arguments) is
   * rebuilt once: {@code f} must be a function of the node, and the result is a DAG again
   * rather than a tree of copies, which keeps repeated simplification passes linear in the
   * number of distinct nodes (nested functions share their arguments many times over).
   */
  public static Expr transformUp(Expr e, Function<Expr, Expr> f) {
    return transformUp(e, f, new IdentityHashMap<>());
  }

  private static Expr transformUp(Expr e, Function<Expr, Expr> f, Map<Expr, Expr> done) {
    Expr known = done.get(e);
    if (known != null) return known;
    List<Expr> c = children(e);
    Expr rebuilt = e;
    if (!c.isEmpty()) {
      List<Expr> nc = new ArrayList<>(c.size());
      for (Expr x : c) nc.add(transformUp(x, f, done));
      rebuilt = withChildren(e, nc);
    }
    Expr out = f.apply(rebuilt);
    done.put(e, out);
    return out;
  }

  /** Whether {@code target} occurs in {@code e} (index maps of gathers and selections included). */
  public static boolean contains(Expr e, Expr target) {
    if (e.equals(target)) return true;
    if (e instanceof Expr.Gather g && g.index().equals(target)) return true;
    if (e instanceof Expr.Selection s && s.index().equals(target)) return true;
    for (Expr c : children(e)) if (contains(c, target)) return true;
    return false;
  }

  /** Replaces every occurrence of a sub-expression. */
  public static Expr substitute(Expr e, Expr from, Expr to) {
    return transformUp(e, x -> x.equals(from) ? to : x);
  }

  /** Collects the variables of an expression in first-occurrence order. */
  public static List<Expr.Var> variables(Expr e) {
    List<Expr.Var> out = new ArrayList<>();
    collect(e, out);
    return out;
  }

  private static void collect(Expr e, List<Expr.Var> out) {
    if (e instanceof Expr.Var v && !out.contains(v)) out.add(v);
    if (e instanceof Expr.Gather g && !out.contains(g.index())) out.add(g.index());
    if (e instanceof Expr.Selection s && !out.contains(s.index())) out.add(s.index());
    for (Expr c : children(e)) collect(c, out);
  }

  // ---- smart constructors: symbolic zeros short-circuit ----

  public static boolean isZero(Expr e) {
    return e instanceof Expr.Zero || (e instanceof Expr.Num n && n.value() == 0);
  }

  public static Expr add(List<Expr> terms, Shape shape) {
    List<Expr> t = new ArrayList<>();
    for (Expr x : terms) if (!isZero(x)) t.add(x);
    if (t.isEmpty()) return new Expr.Zero(shape);
    return t.size() == 1 ? t.get(0) : new Expr.Add(t);
  }

  public static Expr add(Expr a, Expr b) {
    return add(List.of(a, b), a.shape());
  }

  public static Expr scale(double c, Expr e) {
    if (c == 0 || isZero(e)) return new Expr.Zero(e.shape());
    return c == 1 ? e : new Expr.Scale(c, e);
  }

  public static Expr neg(Expr e) {
    return scale(-1, e);
  }

  /** Matrix product; a 1x1 factor against a non-conformant operand is a scaling. */
  public static Expr mul(Expr a, Expr b) {
    Shape sa = a.shape(), sb = b.shape();
    boolean conformant = sa.isMatrixLike() && sb.isMatrixLike() && sa.cols().equals(sb.rows());
    if (!conformant && sa.isScalar()) return scalarMul(a, b);
    if (!conformant && sb.isScalar()) return scalarMul(b, a);
    Shape out = Shape.matrix(sa.rows(), sb.cols());
    if (isZero(a) || isZero(b)) return new Expr.Zero(out);
    return new Expr.MatMul(List.of(a, b));
  }

  public static Expr mul(Expr... factors) {
    Expr r = factors[0];
    for (int i = 1; i < factors.length; i++) r = mul(r, factors[i]);
    return r;
  }

  public static Expr scalarMul(Expr s, Expr a) {
    if (isZero(s) || isZero(a)) return new Expr.Zero(a.shape());
    if (s instanceof Expr.Num n) return scale(n.value(), a);
    if (a.shape().isScalar()) return new Expr.Hadamard(List.of(s, a));
    return new Expr.ScalarMul(s, a);
  }

  public static Expr hadamard(Expr a, Expr b) {
    if (isZero(a) || isZero(b)) return new Expr.Zero(a.shape().isScalar() ? b.shape() : a.shape());
    if (a.shape().isScalar() && !b.shape().isScalar()) return scalarMul(a, b);
    if (b.shape().isScalar() && !a.shape().isScalar()) return scalarMul(b, a);
    return new Expr.Hadamard(List.of(a, b));
  }

  public static Expr transpose(Expr a) {
    if (a.shape().isScalar()) return a;
    if (a instanceof Expr.Zero) return new Expr.Zero(a.shape().transpose());
    return new Expr.Transpose(a);
  }

  public static Expr kron(Expr a, Expr b) {
    if (isZero(a) || isZero(b)) return new Expr.Zero(new Expr.Kron(a, b).shape());
    return new Expr.Kron(a, b);
  }

  public static Expr eye(Dim n) {
    return new Expr.Eye(n);
  }

  /**
   * {@code step(a - b)}: 1 where a > b, else 0 (exact in floating point: the sign of a - b is
   * always right), the selector of {@code max(a, b)} and {@code min(a, b)}.
   */
  public static Expr stepOfDifference(Expr a, Expr b) {
    return new Expr.Apply(ElementwiseFunction.BUILTIN_RULES.get("step"), 0, add(a, neg(b)));
  }

  /** {@code 1 - s} for an array s (ones of its shape minus s). */
  public static Expr oneMinus(Expr s) {
    return add(s.shape().isScalar() ? new Expr.Num(1) : new Expr.Ones(s.shape()), neg(s));
  }

  /**
   * max(a, b) or min(a, b) as a selection {@code a .* s + b .* (1 - s)} (min: {@code a .* (1 - s) + b
   * .* s}) with {@code s = step(a - b)}: exact in floating point (each entry is one operand times 1
   * plus the other times 0), for backends without a binary max kernel.
   */
  public static Expr maxMinAsSteps(Expr e) {
    boolean max = e instanceof Expr.Max;
    List<Expr> c = children(e);
    Expr a = c.get(0), b = c.get(1), s = stepOfDifference(a, b);
    return add(hadamard(a, max ? s : oneMinus(s)), hadamard(b, max ? oneMinus(s) : s));
  }

  public static Expr.Var differentialOf(Expr.Var x) {
    return new Expr.Var("d" + x.name(), x.shape(), Expr.Role.DIFFERENTIAL);
  }
}
