package org.hbp.calculus;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
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

  /**
   * Texts printed lately, by node identity: the simplifier orders terms and factors by their text,
   * and a sort prints each of them many times (nested functions: hundreds of factors, each a deep
   * chain). Nodes are immutable, so an entry never goes stale; the cache is emptied when it holds
   * more than {@link #MAX_CACHED_CHARS} characters.
   */
  private static final class TextCache {
    final IdentityHashMap<Expr, String> texts = new IdentityHashMap<>();
    long chars;

    void put(Expr e, String s) {
      if (chars + s.length() > MAX_CACHED_CHARS) {
        texts.clear();
        chars = 0;
      }
      texts.put(e, s);
      chars += s.length();
    }
  }

  private static final long MAX_CACHED_CHARS = 1L << 24;
  private static final ThreadLocal<TextCache> TEXTS = ThreadLocal.withInitial(TextCache::new);

  private static final ThreadLocal<Map<Dim, String>> NAMES = ThreadLocal.withInitial(Map::of);

  /**
   * Prints with names for derived dims (e.g. {@code oh} for (h + 2*p - d*(k - 1) - 1)/s + 1, and
   * products of two of them such as {@code oh*ow}), as declared by a spec.
   */
  public static String text(Expr e, Map<Dim, String> dimNames) {
    if (dimNames.isEmpty() && NAMES.get().isEmpty()) return text(e);
    Map<Dim, String> old = NAMES.get();
    NAMES.set(dimNames);
    try {
      return print(e);
    } finally {
      NAMES.set(old);
    }
  }

  /** Prints a dimension, by its declared name when it has one. */
  public static String dim(Dim d) {
    String n = NAMES.get().get(d);
    return n != null ? n : d.toString();
  }

  /** Prints a type with declared dim names. */
  public static String type(Shape s, Map<Dim, String> dimNames) {
    Map<Dim, String> old = NAMES.get();
    NAMES.set(dimNames);
    try {
      if (s.isScalar()) return "scalar";
      String kind = s.isTensor() ? "tensor" : s.isColumn() ? "vector" : "matrix";
      return kind + "(" + dims(s) + ")";
    } finally {
      NAMES.set(old);
    }
  }

  /** Formats a constant so that the DSL reads it back exactly. */
  public static String number(double v) {
    if (v == Math.rint(v) && Math.abs(v) < 1e15) return Long.toString((long) v);
    // Java's shortest round-tripping digits, in the DSL's spelling: 1e-5, 2.5e20 (not 1.0E-5, 2.5E20)
    String s = Double.toString(v);
    int e = s.indexOf('E');
    if (e < 0) return s;
    String mantissa = s.substring(0, e);
    if (mantissa.endsWith(".0")) mantissa = mantissa.substring(0, mantissa.length() - 2);
    return mantissa + "e" + s.substring(e + 1);
  }

  static int precedence(Expr e) {
    return PRECEDENCE.apply(e);
  }

  /** The binding strength of each node type's printed form: operators by their level, calls and names primary. */
  private static final NodeTable<Void, Integer> PRECEDENCE = NodeTable.<Void, Integer>builder("printer precedence")
      .on(Expr.Add.class, a -> SUM)
      .on(Expr.Scale.class, s -> s.coefficient() == -1 ? UNARY : PRODUCT)
      .onEach((e, none) -> PRODUCT, Expr.MatMul.class, Expr.Hadamard.class, Expr.ScalarMul.class)
      .on(Expr.Num.class, n -> n.value() < 0 ? UNARY : PRIMARY)
      .on(Expr.DimValue.class, d -> d.dim().isSymbol() || NAMES.get().containsKey(d.dim()) ? PRIMARY : d.dim().isMonomial() ? PRODUCT : SUM)
      .onEach((e, none) -> POSTFIX, Expr.Transpose.class, Expr.Power.class)
      .onEach((e, none) -> PRIMARY, Expr.Var.class, Expr.Zero.class, Expr.Ones.class, Expr.Eye.class, Expr.Commutation.class,
          Expr.Diagonalizer.class, Expr.Selection.class, Expr.Unfolding.class, Expr.Kron.class, Expr.Vec.class, Expr.Reshape.class,
          Expr.DiagMat.class, Expr.DiagVec.class, Expr.Trace.class, Expr.Sum.class, Expr.Apply.class, Expr.Softmax.class,
          Expr.LogSumExp.class, Expr.ColumnLogSumExp.class, Expr.Max.class, Expr.Min.class, Expr.Inv.class, Expr.Det.class,
          Expr.Unfold.class, Expr.Gather.class)
      .build();

  private static String wrap(Expr e, int min) {
    String s = print(e);
    return precedence(e) < min ? "(" + s + ")" : s;
  }

  /** Prints e, through the text cache when no dim names are in force (children reuse their texts). */
  private static String print(Expr e) {
    if (Exprs.children(e).isEmpty() || !NAMES.get().isEmpty()) return printNode(e);
    TextCache cache = TEXTS.get();
    String s = cache.texts.get(e);
    if (s == null) {
      s = printNode(e);
      cache.put(e, s);
    }
    return s;
  }

  private static String printNode(Expr e) {
    return TEXT.apply(e);
  }

  /** The node types the printer accounts for. */
  public static Set<Class<? extends Expr>> nodeTypes() {
    return TEXT.nodeTypes();
  }

  /** The node types the printer's precedence table accounts for. */
  public static Set<Class<? extends Expr>> precedenceNodeTypes() {
    return PRECEDENCE.nodeTypes();
  }

  /** The DSL text of each node type, its operands printed through {@link #print} and wrapped by precedence. */
  private static final NodeTable<Void, String> TEXT = NodeTable.<Void, String>builder("printer")
      .on(Expr.Var.class, Expr.Var::name)
      .on(Expr.Num.class, n -> number(n.value()))
      .on(Expr.DimValue.class, d -> dim(d.dim()))
      .on(Expr.Zero.class, z -> z.shape().isScalar() ? "0" : "zeros(" + dims(z.shape()) + ")")
      .on(Expr.Ones.class, o -> o.shape().isScalar() ? "1" : "ones(" + dims(o.shape()) + ")")
      .on(Expr.Eye.class, i -> "eye(" + dim(i.n()) + ")")
      .on(Expr.Commutation.class, k -> "commutation(" + dim(k.m()) + ", " + dim(k.n()) + ")")
      .on(Expr.Diagonalizer.class, d -> "diagonalizer(" + dim(d.n()) + ")")
      .on(Expr.Selection.class, s -> "selection(" + s.index().name() + ", " + dim(s.n()) + ")")
      .on(Expr.Unfolding.class, Printer::unfolding)
      .on(Expr.Add.class, Printer::sum)
      .on(Expr.Scale.class, Printer::scale)
      .on(Expr.ScalarMul.class, Printer::scalarMul)
      .on(Expr.MatMul.class, m -> m.factors().stream().map(Printer::wrapFactor).collect(Collectors.joining("*")))
      .on(Expr.Hadamard.class, Printer::hadamard)
      .on(Expr.Transpose.class, t -> wrap(t.operand(), PRIMARY) + "'")
      .on(Expr.Power.class, p -> wrap(p.base(), PRIMARY) + ".^" + number(p.exponent()))
      .on(Expr.Kron.class, k -> "kron(" + print(k.left()) + ", " + print(k.right()) + ")")
      .on(Expr.Vec.class, v -> "vec(" + print(v.operand()) + ")")
      .on(Expr.Reshape.class, r -> "reshape(" + print(r.operand()) + ", " + dims(r.target()) + ")")
      .on(Expr.DiagMat.class, d -> "diag(" + print(d.vector()) + ")")
      .on(Expr.DiagVec.class, d -> "diag(" + print(d.matrix()) + ")")
      .on(Expr.Trace.class, t -> "tr(" + print(t.matrix()) + ")")
      .on(Expr.Sum.class, s -> "sum(" + print(s.operand()) + ")")
      .on(Expr.Apply.class, Printer::apply)
      .on(Expr.Softmax.class, s -> "softmax(" + print(s.vector()) + ")")
      .on(Expr.LogSumExp.class, l -> "logsumexp(" + print(l.operand()) + ")")
      .on(Expr.ColumnLogSumExp.class, l -> "logsumexp_cols(" + print(l.matrix()) + ")")
      .on(Expr.Max.class, m -> "max(" + broadcastArgument(m.left()) + ", " + broadcastArgument(m.right()) + ")")
      .on(Expr.Min.class, m -> "min(" + broadcastArgument(m.left()) + ", " + broadcastArgument(m.right()) + ")")
      .on(Expr.Inv.class, i -> "inv(" + print(i.matrix()) + ")")
      .on(Expr.Det.class, d -> "det(" + print(d.matrix()) + ")")
      .on(Expr.Unfold.class, Printer::unfold)
      .on(Expr.Gather.class, g -> "gather(" + print(g.source()) + ", " + g.index().name() + ")")
      .build();

  /** f(x), f'(x), ...; sqrt(sum(X.^2)) of an array as norm(X), which reads back as the same tree. */
  private static String apply(Expr.Apply a) {
    Expr normed = Exprs.normOperand(a);
    if (normed != null) return "norm(" + print(normed) + ")";
    return a.function().name() + "'".repeat(a.order()) + "(" + print(a.argument()) + ")";
  }

  private static String unfolding(Expr.Unfolding u) {
    Expr.ConvDims g = u.geometry();
    return "unfolding(" + dim(g.c()) + ", " + dim(g.h()) + ", " + dim(g.w()) + ", " + dim(g.kernel()) + ", " + dim(g.stride()) + ", "
        + dim(g.padding()) + ", " + dim(g.dilation()) + ")";
  }

  /** Terms joined by + and -; a constant array c*ones(n) among non-constant terms prints as c (a sum broadcasts it). */
  private static String sum(Expr.Add a) {
    StringBuilder sb = new StringBuilder();
    boolean broadcast = a.terms().stream().anyMatch(t -> !isConstantArray(t));
    for (int i = 0; i < a.terms().size(); i++) {
      Expr t = a.terms().get(i);
      if (broadcast && isConstantArray(t)) t = constantOf(t); // c*ones(n) in a sum prints as c
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

  private static String scale(Expr.Scale s) {
    double c = s.coefficient();
    if (c == -1) return "-" + wrap(s.operand(), POSTFIX);
    return number(c) + "*" + wrapFactor(s.operand());
  }

  private static String scalarMul(Expr.ScalarMul m) {
    if (m.scalar() instanceof Expr.Power p && p.exponent() == -1) return wrap(m.operand(), PRODUCT) + " / " + wrapFactor(p.base());
    return wrapFactor(m.scalar()) + "*" + wrapFactor(m.operand());
  }

  /**
   * Factors joined by .* (* between scalars); a reciprocal factor x.^-1 prints as ./ x, after the
   * other factors (so {@code n.^-1*sum(x)} prints as {@code sum(x) ./ n}, the form it reads back
   * as: a product is commutative and the simplifier orders its factors); only a product of
   * reciprocals alone starts with one ({@code n.^-1 ./ m}).
   */
  private static String hadamard(Expr.Hadamard h) {
    boolean scalar = h.shape().isScalar();
    List<Expr> factors = new ArrayList<>();
    for (Expr f : h.factors()) if (!isReciprocal(f)) factors.add(f);
    for (Expr f : h.factors()) if (isReciprocal(f)) factors.add(f);
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < factors.size(); i++) {
      Expr f = factors.get(i);
      boolean reciprocal = i > 0 && f instanceof Expr.Power p && p.exponent() == -1;
      if (i > 0) sb.append(reciprocal ? " ./ " : scalar ? "*" : " .* ");
      Expr shown = reciprocal ? ((Expr.Power) f).base() : f;
      sb.append(reciprocal ? wrap(shown, UNARY) : wrapFactor(shown));
    }
    return sb.toString();
  }

  private static boolean isReciprocal(Expr f) {
    return f instanceof Expr.Power p && p.exponent() == -1;
  }

  private static String unfold(Expr.Unfold u) {
    Expr.ConvDims g = u.geometry();
    return "unfold(" + print(u.tensor()) + ", " + dim(g.kernel()) + ", " + dim(g.stride()) + ", " + dim(g.padding()) + ", "
        + dim(g.dilation()) + ")";
  }

  /** An argument of max/min: a constant array as its number (max and min broadcast it back). */
  private static String broadcastArgument(Expr e) {
    if (e instanceof Expr.Zero && !e.shape().isScalar()) return "0";
    return print(isConstantArray(e) ? constantOf(e) : e);
  }

  /** ones(shape) or c*ones(shape): a constant that a sum broadcasts. */
  private static boolean isConstantArray(Expr t) {
    if (t instanceof Expr.Scale s) return s.operand() instanceof Expr.Ones;
    return t instanceof Expr.Ones;
  }

  private static Expr constantOf(Expr t) {
    return t instanceof Expr.Scale s ? new Expr.Num(s.coefficient()) : new Expr.Num(1);
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
    if (s.isColumn()) return dim(d.get(0));
    return d.stream().map(Printer::dim).collect(Collectors.joining(", "));
  }
}
