package org.hbp.calculus;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Prints the IR as LaTeX math (for papers and notebooks); {@code Hz} is \mathcal{H}z, {@code dz} is
 * \delta z. Precedence, from loosest: sums, Kronecker products ({@code A \otimes B}), products
 * (juxtaposition, {@code \odot}, {@code \oslash}, numeric and scalar factors), unary minus,
 * postfix ({@code ^{\top}}, {@code ^{-1}}, powers), primaries. An operand of {@code \otimes}, of a
 * product or of a postfix operator is parenthesised unless it binds tighter, so
 * {@code kron(eye(m), X)*K} prints as {@code \left(I_{m} \otimes X\right) K_{m,n}}; a superscript
 * never lands on a superscript ({@code inv(X)'} is {@code X^{-\top}}). Dims print by their
 * declared names (derived dims such as {@code oh}); rows of ones print as {@code \mathbf{1}_{n}^{\top}}.
 */
public final class LatexPrinter {
  private static final int SUM = 1, KRON = 2, PRODUCT = 3, UNARY = 4, POSTFIX = 5, PRIMARY = 6;

  private final Map<Dim, String> dimNames;

  private LatexPrinter(Map<Dim, String> dimNames) {
    this.dimNames = dimNames;
  }

  public static String latex(Expr e) {
    return latex(e, Map.of());
  }

  /** LaTeX with names for derived dims (and their products), as {@code ModuleSpec.dimNames()} gives them. */
  public static String latex(Expr e, Map<Dim, String> dimNames) {
    return new LatexPrinter(dimNames).p(e);
  }

  private int precedence(Expr e) {
    return PRECEDENCE.apply(e, this);
  }

  /** The binding strength of each node type's LaTeX: operators by their level, a row of ones and superscripts postfix. */
  private static final NodeTable<LatexPrinter, Integer> PRECEDENCE = NodeTable.<LatexPrinter, Integer>builder("LaTeX precedence")
      .on(Expr.Add.class, (a, l) -> SUM)
      .on(Expr.Kron.class, (k, l) -> KRON)
      .on(Expr.Scale.class, (s, l) -> s.coefficient() < 0 ? UNARY : PRODUCT)
      .onEach((e, l) -> PRODUCT, Expr.MatMul.class, Expr.Hadamard.class, Expr.ScalarMul.class)
      .on(Expr.Num.class, (n, l) -> n.value() < 0 ? UNARY : PRIMARY)
      .on(Expr.DimValue.class, (d, l) -> l.dimNames.containsKey(d.dim()) || d.dim().isSymbol() || d.dim().isConstant() ? PRIMARY
          : d.dim().isMonomial() ? PRODUCT : SUM)
      .on(Expr.Ones.class, (o, l) -> isRow(o.shape()) ? POSTFIX : PRIMARY)
      .onEach((e, l) -> POSTFIX, Expr.Transpose.class, Expr.Power.class, Expr.Inv.class)
      .onEach((e, l) -> PRIMARY, Expr.Var.class, Expr.Zero.class, Expr.Eye.class, Expr.Commutation.class, Expr.Diagonalizer.class,
          Expr.Selection.class, Expr.Unfolding.class, Expr.Vec.class, Expr.Reshape.class, Expr.DiagMat.class, Expr.DiagVec.class,
          Expr.Trace.class, Expr.Sum.class, Expr.Apply.class, Expr.Softmax.class, Expr.LogSumExp.class, Expr.ColumnLogSumExp.class,
          Expr.Max.class, Expr.Min.class, Expr.Det.class, Expr.Unfold.class, Expr.Gather.class)
      .build();

  /** The node types the LaTeX precedence table accounts for. */
  public static Set<Class<? extends Expr>> precedenceNodeTypes() {
    return PRECEDENCE.nodeTypes();
  }

  private String wrap(Expr e, int min) {
    String s = p(e);
    return precedence(e) < min ? "\\left(" + s + "\\right)" : s;
  }

  /** An operand that takes a superscript: a primary (a postfix form already carries one). */
  private String base(Expr e) {
    return wrap(e, PRIMARY);
  }

  private static boolean isRow(Shape s) {
    return !s.isTensor() && s.rows().isOne() && !s.cols().isOne();
  }

  private String p(Expr e) {
    return LATEX.apply(e, this);
  }

  /** The node types the LaTeX printer accounts for. */
  public static Set<Class<? extends Expr>> nodeTypes() {
    return LATEX.nodeTypes();
  }

  /** The LaTeX of each node type, its operands printed through {@link #p} and wrapped by precedence. */
  private static final NodeTable<LatexPrinter, String> LATEX = NodeTable.<LatexPrinter, String>builder("LaTeX")
      .on(Expr.Var.class, (v, l) -> name(v))
      .on(Expr.Num.class, (n, l) -> number(n.value()))
      .on(Expr.DimValue.class, (d, l) -> l.dim(d.dim()))
      .on(Expr.Zero.class, (z, l) -> z.shape().isScalar() ? "0" : "0_{" + l.dims(z.shape()) + "}")
      .on(Expr.Ones.class, (o, l) -> l.ones(o.shape()))
      .on(Expr.Eye.class, (i, l) -> "I_{" + l.dim(i.n()) + "}")
      .on(Expr.Commutation.class, (k, l) -> "K_{" + l.dim(k.m()) + "," + l.dim(k.n()) + "}")
      .on(Expr.Diagonalizer.class, (d, l) -> "D_{" + l.dim(d.n()) + "}")
      .on(Expr.Selection.class, (s, l) -> "\\Pi_{" + identifier(s.index().name()) + "}")
      .on(Expr.Unfolding.class, (u, l) -> "U")
      .on(Expr.Add.class, (a, l) -> l.sum(a))
      .on(Expr.Scale.class, (s, l) -> l.scale(s.coefficient(), s.operand()))
      .on(Expr.ScalarMul.class, (m, l) -> l.scalarMul(m))
      .on(Expr.MatMul.class, (m, l) -> m.factors().stream().map(l::factor).collect(Collectors.joining(" ")))
      .on(Expr.Hadamard.class, (h, l) -> l.hadamard(h))
      .on(Expr.Transpose.class, (t, l) -> l.transpose(t))
      .on(Expr.Inv.class, (i, l) -> l.inv(i))
      .on(Expr.Power.class, (pw, l) -> l.power(pw))
      .on(Expr.Kron.class, (k, l) -> l.wrap(k.left(), POSTFIX) + " \\otimes " + l.wrap(k.right(), POSTFIX))
      .on(Expr.Vec.class, (v, l) -> l.call("\\operatorname{vec}", v.operand()))
      .on(Expr.Reshape.class, (r, l) -> l.call("\\operatorname{reshape}", r.operand()))
      .on(Expr.DiagMat.class, (d, l) -> l.call("\\operatorname{diag}", d.vector()))
      .on(Expr.DiagVec.class, (d, l) -> l.call("\\operatorname{diag}", d.matrix()))
      .on(Expr.Trace.class, (t, l) -> l.call("\\operatorname{tr}", t.matrix()))
      .on(Expr.Sum.class, (s, l) -> l.call("\\operatorname{sum}", s.operand()))
      .on(Expr.Apply.class, (a, l) -> l.apply(a))
      .on(Expr.Softmax.class, (s, l) -> l.call("\\operatorname{softmax}", s.vector()))
      .on(Expr.LogSumExp.class, (lse, l) -> l.call("\\operatorname{logsumexp}", lse.operand()))
      .on(Expr.Det.class, (d, l) -> l.call("\\det", d.matrix()))
      .on(Expr.Max.class, (m, l) -> "\\max\\left(" + l.p(m.left()) + ", " + l.p(m.right()) + "\\right)")
      .on(Expr.Min.class, (m, l) -> "\\min\\left(" + l.p(m.left()) + ", " + l.p(m.right()) + "\\right)")
      .on(Expr.ColumnLogSumExp.class, (lse, l) -> l.call("\\operatorname{logsumexp}_{\\mathrm{cols}}", lse.matrix()))
      .on(Expr.Unfold.class, (u, l) -> "[\\![" + l.p(u.tensor()) + "]\\!]")
      .on(Expr.Gather.class, (g, l) -> "\\Pi_{" + identifier(g.index().name()) + "} " + l.wrap(g.source(), POSTFIX))
      .build();

  private String scalarMul(Expr.ScalarMul m) {
    if (m.scalar() instanceof Expr.Power pw && pw.exponent() == -1) return "\\frac{" + p(m.operand()) + "}{" + p(pw.base()) + "}";
    return wrap(m.scalar(), POSTFIX) + " " + afterScalar(m.operand());
  }

  /** A' as a superscript; inv(X)' as the one superscript {@code X^{-\top}}. */
  private String transpose(Expr.Transpose t) {
    if (t.operand() instanceof Expr.Inv i) return base(i.matrix()) + "^{-\\top}";
    return base(t.operand()) + "^{\\top}";
  }

  /** inv(X) as a superscript; inv(X') as the one superscript {@code X^{-\top}}. */
  private String inv(Expr.Inv i) {
    if (i.matrix() instanceof Expr.Transpose t) return base(t.operand()) + "^{-\\top}";
    return base(i.matrix()) + "^{-1}";
  }

  /** A scalar power (1/x for x.^-1), or an entrywise power {@code X^{\odot p}}. */
  private String power(Expr.Power pw) {
    if (pw.exponent() == -1 && pw.shape().isScalar()) return "\\frac{1}{" + p(pw.base()) + "}";
    return base(pw.base()) + "^{" + (pw.shape().isScalar() ? "" : "\\odot ") + number(pw.exponent()) + "}";
  }

  private String call(String f, Expr arg) {
    return f + "\\left(" + p(arg) + "\\right)";
  }

  /** A factor of a product: parenthesised unless postfix or primary. */
  private String factor(Expr e) {
    return wrap(e, POSTFIX);
  }

  /** The operand of a scalar factor: parenthesised when a sum, a Kronecker product or signed. */
  private String afterScalar(Expr e) {
    int p = precedence(e);
    return p < PRODUCT || p == UNARY ? "\\left(" + p(e) + "\\right)" : p(e);
  }

  private String sum(Expr.Add a) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < a.terms().size(); i++) {
      Expr t = a.terms().get(i);
      Expr negated = i > 0 ? negated(t) : null;
      if (negated != null) sb.append(" - ").append(wrap(negated, KRON));
      else sb.append(i > 0 ? " + " : "").append(wrap(t, i > 0 ? KRON : SUM));
    }
    return sb.toString();
  }

  private static Expr negated(Expr t) {
    if (t instanceof Expr.Scale s && s.coefficient() < 0) return Exprs.scale(-s.coefficient(), s.operand());
    if (t instanceof Expr.Num n && n.value() < 0) return new Expr.Num(-n.value());
    return null;
  }

  /**
   * c*A: {@code -A}, {@code 2 A}, {@code -2 A}. A product after a number needs no parentheses (a
   * scalar factor commutes with matrix, Hadamard and scalar products alike).
   */
  private String scale(double c, Expr operand) {
    String o = afterScalar(operand);
    if (c == -1) return "-" + o;
    return number(c) + " " + o;
  }

  /** Hadamard products; reciprocal factors x.^-1 become fractions (scalars) or {@code \oslash} (arrays). */
  private String hadamard(Expr.Hadamard h) {
    boolean scalar = h.shape().isScalar();
    List<Expr> num = new ArrayList<>(), den = new ArrayList<>();
    for (Expr f : h.factors()) {
      if (f instanceof Expr.Power pw && pw.exponent() == -1) den.add(pw.base());
      else num.add(f);
    }
    String times = scalar ? " " : " \\odot ";
    String top = num.isEmpty() ? "1" : num.stream().map(this::factor).collect(Collectors.joining(times));
    if (den.isEmpty()) return top;
    if (scalar) return "\\frac{" + top + "}{" + den.stream().map(this::factor).collect(Collectors.joining(" ")) + "}";
    StringBuilder sb = new StringBuilder(num.size() > 1 ? "\\left(" + top + "\\right)" : top);
    for (Expr d : den) sb.append(" \\oslash ").append(factor(d));
    return sb.toString();
  }

  private String apply(Expr.Apply a) {
    String n = a.function().name();
    String primes = "'".repeat(a.order());
    Expr normed = Exprs.normOperand(a);
    if (normed != null) return "\\left\\|" + p(normed) + "\\right\\|";
    if (n.equals("sqrt") && a.order() == 0) return "\\sqrt{" + p(a.argument()) + "}";
    String f = switch (n) {
      case "sigmoid" -> "\\sigma";
      case "exp", "log", "tanh", "sin", "cos" -> "\\" + n;
      default -> "\\operatorname{" + escape(n) + "}";
    };
    return f + primes + "\\left(" + p(a.argument()) + "\\right)";
  }

  private String ones(Shape s) {
    if (s.isScalar()) return "1";
    if (s.isColumn()) return "\\mathbf{1}_{" + dim(s.rows()) + "}";
    if (isRow(s)) return "\\mathbf{1}_{" + dim(s.cols()) + "}^{\\top}";
    return "\\mathbf{1}_{" + dims(s) + "}";
  }

  private String dims(Shape s) {
    if (s.isColumn()) return dim(s.rows());
    return s.dims().stream().map(this::dim).collect(Collectors.joining(" \\times "));
  }

  private static final Pattern IDENT = Pattern.compile("[A-Za-z][A-Za-z0-9_]*");

  /** A dim by its declared name, else written out: symbols of more than one letter in \mathit, products by juxtaposition. */
  private String dim(Dim d) {
    String named = dimNames.get(d);
    String s = named != null ? named : d.toString();
    Matcher m = IDENT.matcher(s);
    StringBuilder sb = new StringBuilder();
    while (m.find()) m.appendReplacement(sb, Matcher.quoteReplacement(identifier(m.group())));
    m.appendTail(sb);
    return sb.toString().replace("*", " ");
  }

  /** A name of several letters in \mathit (dims, index maps), with TeX's special underscore escaped. */
  private static String identifier(String n) {
    return n.length() == 1 ? n : "\\mathit{" + escape(n) + "}";
  }

  private static String escape(String n) {
    return n.replace("_", "\\_");
  }

  private static String name(Expr.Var v) {
    String n = v.name();
    if (v.role() == Expr.Role.HESSIAN) return "{\\mathcal{H}" + symbol(n.substring(1).replaceFirst("^_", "")) + "}";
    if (v.role() == Expr.Role.GRADIENT || v.role() == Expr.Role.DIFFERENTIAL) return "{\\delta " + symbol(n.substring(1)) + "}";
    return symbol(n);
  }

  /** x, W_{1} (a name ending in digits), \mathrm{mask}, x_{\mathrm{in}} (a name with an underscore). */
  public static String symbol(String n) {
    int u = n.indexOf('_');
    if (u > 0 && u < n.length() - 1) return symbol(n.substring(0, u)) + "_{\\mathrm{" + escape(n.substring(u + 1)) + "}}";
    if (n.matches("[A-Za-z]+[0-9]+")) return symbol(n.replaceAll("[0-9]+$", "")) + "_{" + n.replaceAll("^[A-Za-z]+", "") + "}";
    return n.length() > 1 ? "\\mathrm{" + escape(n) + "}" : escape(n);
  }

  /** A number: integers as such, others in decimal, 1e-5 as 10^{-5}, 2.5e20 as 2.5 \cdot 10^{20}. */
  static String number(double v) {
    String s = Printer.number(v);
    int e = s.indexOf('e');
    if (e < 0) return s;
    String mantissa = s.substring(0, e);
    return (mantissa.equals("1") ? "" : mantissa.equals("-1") ? "-" : mantissa + " \\cdot ") + "10^{" + s.substring(e + 1) + "}";
  }
}
