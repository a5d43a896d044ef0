package org.hbp.calculus;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * Structural helpers over the IR: the children of a node, a node rebuilt with new children,
 * traversal, and smart constructors that keep symbolic zeros out of sums and products.
 */
public final class Exprs {
  private Exprs() {}

  /**
   * The direct sub-expressions of each node type, in a fixed order (a leaf has none). An index map
   * ({@link Expr.Gather#index()}, {@link Expr.Selection#index()}) is data, not a child.
   */
  private static final NodeTable<Void, List<Expr>> CHILDREN = NodeTable.<Void, List<Expr>>builder("children")
      .onEach((e, none) -> List.of(), Expr.Var.class, Expr.Num.class, Expr.DimValue.class, Expr.Zero.class, Expr.Ones.class,
          Expr.Eye.class, Expr.Commutation.class, Expr.Diagonalizer.class, Expr.Selection.class, Expr.Unfolding.class)
      .on(Expr.Add.class, Expr.Add::terms)
      .on(Expr.MatMul.class, Expr.MatMul::factors)
      .on(Expr.Hadamard.class, Expr.Hadamard::factors)
      .on(Expr.Scale.class, s -> List.of(s.operand()))
      .on(Expr.ScalarMul.class, s -> List.of(s.scalar(), s.operand()))
      .on(Expr.Transpose.class, t -> List.of(t.operand()))
      .on(Expr.Power.class, p -> List.of(p.base()))
      .on(Expr.Kron.class, k -> List.of(k.left(), k.right()))
      .on(Expr.Vec.class, v -> List.of(v.operand()))
      .on(Expr.Reshape.class, r -> List.of(r.operand()))
      .on(Expr.DiagMat.class, d -> List.of(d.vector()))
      .on(Expr.DiagVec.class, d -> List.of(d.matrix()))
      .on(Expr.Trace.class, t -> List.of(t.matrix()))
      .on(Expr.Sum.class, s -> List.of(s.operand()))
      .on(Expr.Apply.class, a -> List.of(a.argument()))
      .on(Expr.Softmax.class, s -> List.of(s.vector()))
      .on(Expr.LogSumExp.class, l -> List.of(l.operand()))
      .on(Expr.ColumnLogSumExp.class, l -> List.of(l.matrix()))
      .on(Expr.Max.class, m -> List.of(m.left(), m.right()))
      .on(Expr.Min.class, m -> List.of(m.left(), m.right()))
      .on(Expr.Inv.class, i -> List.of(i.matrix()))
      .on(Expr.Det.class, d -> List.of(d.matrix()))
      .on(Expr.Unfold.class, u -> List.of(u.tensor()))
      .on(Expr.Gather.class, g -> List.of(g.source()))
      .build();

  /** Each inner node type rebuilt from new children (in the order of {@link #CHILDREN}), its other fields kept. */
  private static final NodeTable<List<Expr>, Expr> REBUILD = NodeTable.<List<Expr>, Expr>builder("rebuild from children")
      .exclude("a leaf has no children: withChildren returns it for its empty list before the lookup", Expr.Var.class, Expr.Num.class,
          Expr.DimValue.class, Expr.Zero.class, Expr.Ones.class, Expr.Eye.class, Expr.Commutation.class, Expr.Diagonalizer.class,
          Expr.Selection.class, Expr.Unfolding.class)
      .on(Expr.Add.class, (e, c) -> new Expr.Add(c))
      .on(Expr.MatMul.class, (e, c) -> new Expr.MatMul(c))
      .on(Expr.Hadamard.class, (e, c) -> new Expr.Hadamard(c))
      .on(Expr.Scale.class, (s, c) -> new Expr.Scale(s.coefficient(), c.get(0)))
      .on(Expr.ScalarMul.class, (e, c) -> new Expr.ScalarMul(c.get(0), c.get(1)))
      .on(Expr.Transpose.class, (e, c) -> new Expr.Transpose(c.get(0)))
      .on(Expr.Power.class, (p, c) -> new Expr.Power(c.get(0), p.exponent()))
      .on(Expr.Kron.class, (e, c) -> new Expr.Kron(c.get(0), c.get(1)))
      .on(Expr.Vec.class, (e, c) -> new Expr.Vec(c.get(0)))
      .on(Expr.Reshape.class, (r, c) -> new Expr.Reshape(c.get(0), r.target()))
      .on(Expr.DiagMat.class, (e, c) -> new Expr.DiagMat(c.get(0)))
      .on(Expr.DiagVec.class, (e, c) -> new Expr.DiagVec(c.get(0)))
      .on(Expr.Trace.class, (e, c) -> new Expr.Trace(c.get(0)))
      .on(Expr.Sum.class, (e, c) -> new Expr.Sum(c.get(0)))
      .on(Expr.Apply.class, (a, c) -> new Expr.Apply(a.function(), a.order(), c.get(0)))
      .on(Expr.Softmax.class, (e, c) -> new Expr.Softmax(c.get(0)))
      .on(Expr.LogSumExp.class, (e, c) -> new Expr.LogSumExp(c.get(0)))
      .on(Expr.ColumnLogSumExp.class, (e, c) -> new Expr.ColumnLogSumExp(c.get(0)))
      .on(Expr.Max.class, (e, c) -> new Expr.Max(c.get(0), c.get(1)))
      .on(Expr.Min.class, (e, c) -> new Expr.Min(c.get(0), c.get(1)))
      .on(Expr.Inv.class, (e, c) -> new Expr.Inv(c.get(0)))
      .on(Expr.Det.class, (e, c) -> new Expr.Det(c.get(0)))
      .on(Expr.Unfold.class, (u, c) -> new Expr.Unfold(c.get(0), u.geometry()))
      .on(Expr.Gather.class, (g, c) -> new Expr.Gather(c.get(0), g.index()))
      .build();

  /** The direct sub-expressions of a node, in a fixed order. */
  public static List<Expr> children(Expr e) {
    return CHILDREN.apply(e);
  }

  /** The node with its children replaced (same order as {@link #children}). */
  public static Expr withChildren(Expr e, List<Expr> c) {
    if (c.equals(children(e))) return e;
    return REBUILD.apply(e, c);
  }

  /** The node types the children table accounts for. */
  public static Set<Class<? extends Expr>> childrenNodeTypes() {
    return CHILDREN.nodeTypes();
  }

  /** The node types the rebuild table accounts for (leaves by exclusion). */
  public static Set<Class<? extends Expr>> rebuildNodeTypes() {
    return REBUILD.nodeTypes();
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

  /**
   * A sum's terms in the order to add them: the constant ones (no variable) first, in their order,
   * where there are two or more of them; else as they are. The simplifier distributes
   * {@code s + c*(M - 1)} into {@code s + c*M - c}; from the left that is {@code (s + c) - c}, which
   * loses s for a large c (an attention mask of 1e30s), while {@code (c*M - c) + s} is exact.
   * The generated code ({@code codegen.Lowering}) and the reference evaluator both add in this order.
   */
  public static List<Expr> constantsFirst(List<Expr> terms) {
    List<Expr> constants = terms.stream().filter(t -> variables(t).isEmpty()).toList();
    if (constants.size() < 2 || constants.size() == terms.size()) return terms;
    List<Expr> ordered = new ArrayList<>(constants);
    terms.stream().filter(t -> !variables(t).isEmpty()).forEach(ordered::add);
    return ordered;
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

  /** The 2-norm {@code norm(X) = sqrt(sum(X.^2))} (Frobenius for a matrix or tensor), a scalar, as the DSL reads it. */
  public static Expr norm(Expr x) {
    return new Expr.Apply(ElementwiseFunction.BUILTIN_RULES.get("sqrt"), 0, new Expr.Sum(new Expr.Power(x, 2)));
  }

  /** X when e is {@code sqrt(sum(X.^2))} of an array X (what {@link #norm} builds, printed as norm(X)), else null. */
  public static Expr normOperand(Expr e) {
    if (e instanceof Expr.Apply a && a.order() == 0 && a.function().isBuiltin() && a.function().name().equals("sqrt")
        && a.argument() instanceof Expr.Sum s && s.operand() instanceof Expr.Power p && p.exponent() == 2 && !p.base().shape().isScalar())
      return p.base();
    return null;
  }

  /**
   * The softmax s when e is {@code log(softmax(S))} (the built-in log of a softmax), else null.
   */
  public static Expr.Softmax logOfSoftmaxArgument(Expr e) {
    if (e instanceof Expr.Apply a && a.order() == 0 && a.function().isBuiltin() && a.function().name().equals("log")
        && a.argument() instanceof Expr.Softmax s)
      return s;
    return null;
  }

  /**
   * {@code log(softmax(S))} in its stable form: {@code x - logsumexp(x)*ones(n)} for a vector x,
   * {@code S - ones(m)*logsumexp_cols(S)} column-wise for an m x n matrix S. Equal to the literal
   * form in exact arithmetic, but finite wherever S is: the literal form takes the log of a
   * probability that underflows to 0 (in float32 once a logit trails the largest by more than
   * about 104, in float64 by about 745), and {@code 0 * log(0)} in a loss is NaN.
   */
  public static Expr logSoftmax(Expr.Softmax s) {
    Expr x = s.vector();
    if (!s.shape().isColumn())
      return new Expr.Add(List.of(x, neg(new Expr.MatMul(List.of(new Expr.Ones(Shape.vector(x.shape().rows())), new Expr.ColumnLogSumExp(x))))));
    return new Expr.Add(List.of(x, neg(new Expr.ScalarMul(new Expr.LogSumExp(x), new Expr.Ones(s.shape())))));
  }

  public static Expr.Var differentialOf(Expr.Var x) {
    return new Expr.Var("d" + x.name(), x.shape(), Expr.Role.DIFFERENTIAL);
  }
}
