package org.hbp.codegen;

import com.palantir.javapoet.CodeBlock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.hbp.calculus.Dim;
import org.hbp.calculus.ElementwiseFunction;
import org.hbp.calculus.Expr;
import org.hbp.calculus.Exprs;
import org.hbp.calculus.Shape;

/**
 * Compiles IR expressions into straight-line Java statements over the {@code Backend} kernels
 * (the generated code's local {@code be}). Two entry points:
 * <ul>
 *   <li>{@link #value}: the value of an expression, as a batch whose items have its shape;</li>
 *   <li>{@link #apply}: the product {@code M * v} of a matrix expression M (a Jacobian, a residual,
 *       a loss Hessian) with a batch of column vectors, evaluated right to left so that structured
 *       factors are applied as maps and never formed: {@code kron(A, B)} by the vec trick
 *       {@code kron(A,B) vec(X) = vec(B X A')}, {@code unfolding} by unfold (its transpose by fold),
 *       {@code selection} by gather (scatter-add), {@code diag(d)} by a Hadamard product,
 *       {@code commutation} by a transpose, {@code eye} not at all.</li>
 * </ul>
 * Equal subexpressions are computed once per method; forward-only subexpressions (no output
 * gradient in them) go through the forward cache's memo so each is computed once per forward pass.
 * Each statement carries the DSL text of what it computes as a comment.
 */
final class Lowering {
  /** What the lowering needs from the class being generated. */
  interface Context {
    /** A Java int expression for a dimension. */
    String dim(Dim d);

    /** A dimension in the DSL's syntax, for comments. */
    String dimText(Dim d);

    /** A Java expression for a leaf variable (e.g. {@code cache.get("x")} or {@code dz}). */
    String leaf(Expr.Var v);

    /**
     * The name of the generated method that returns the memoized value of a forward-only
     * subexpression ({@code cache.memo(slot, ...)}), generated once per class on first request.
     */
    String memoMethod(Expr e);

    /** The generated static method (its name) computing an elementwise function's derivative of the given order. */
    String function(ElementwiseFunction f, int order);

    /**
     * The generated {@code ScalarFunction} constant (Java and OpenCL C forms) of an elementwise
     * function's derivative of the given order: what {@code be.map} is given.
     */
    String functionConstant(ElementwiseFunction f, int order);

    /**
     * A Java expression for a batch that already holds the value of {@code e} when the generated
     * method runs (the module's output {@code z = f(x)} in the forward cache), or null.
     */
    String knownValue(Expr e);

    /**
     * The {@code ScalarFunction} constant computing the {@code order}-th derivative of {@code f}
     * from the value {@code u = f(t)} (sigmoid' = u (1 - u), tanh' = 1 - u^2), or null when the
     * derivative formula is not a function of f(t) alone.
     */
    String functionOfValue(ElementwiseFunction f, int order);

    /** The name of a field holding the evaluated geometry. */
    String geometry(Expr.ConvGeometry g);

    /** How to print an expression in comments. */
    String text(Expr e);

    /** Whether a subexpression occurs more than once among the class's derived rules. */
    boolean shared(Expr e);

    /**
     * A call of a new private helper method computing part of a large sum ({@link MethodParts}):
     * the value of {@code e}, or with a direction batch {@code v} (a local of the caller) the
     * product {@code e * v}.
     */
    String part(Expr e, String v);
  }

  private final Context ctx;
  private final CodeBlock.Builder out;
  private final Map<Expr, String> values;
  private final int[] counter;
  /** Whether this code runs once per forward pass anyway (the forward method, a memo body). */
  private final boolean perForwardPass;

  /**
   * @param perForwardPass true for the forward method: its subexpressions are memoized only when
   *     other rules use them too
   */
  Lowering(Context ctx, CodeBlock.Builder out, boolean perForwardPass) {
    this(ctx, out, new HashMap<>(), new int[1], perForwardPass);
  }

  Lowering(Context ctx, CodeBlock.Builder out) {
    this(ctx, out, false);
  }

  private Lowering(Context ctx, CodeBlock.Builder out, Map<Expr, String> values, int[] counter, boolean perForwardPass) {
    this.ctx = ctx;
    this.out = out;
    this.values = values;
    this.counter = counter;
    this.perForwardPass = perForwardPass;
  }

  /**
   * The body of a memo method: the value of e computed with fresh locals, its temporaries released;
   * returns the local holding it.
   */
  String memoBody(Expr e) {
    String result = compute(e);
    releaseTemporaries(result);
    return result;
  }

  /** A fresh local name, unique within the generated method (lambdas included). */
  String fresh() {
    return "t" + counter[0]++;
  }

  private String emit(String javaExpr, String comment) {
    String name = fresh();
    if (comment == null) out.add("$T $L = $L;\n", Names.BATCH, name, javaExpr);
    else out.add("$T $L = $L; // $L\n", Names.BATCH, name, javaExpr, Names.comment(comment));
    track(name, javaExpr);
    return name;
  }

  // ---- storage of the locals: what a method may release when it is done ----------------

  /** Root storage of each local: itself when a kernel allocated it, its source's root for a view. */
  private final Map<String, String> roots = new HashMap<>();
  /** Locals whose storage this method allocated, in order. */
  private final List<String> owned = new ArrayList<>();
  private static final String EXTERNAL = "<external>";
  /** Kernels whose result shares its first argument's storage (or may be that argument). */
  private static final List<String> VIEWS = List.of("be.reshape(", "be.columnsAsDirections(", "be.directionsAsColumns(", "samplesSum(",
      "shaped(");

  private void track(String name, String javaExpr) {
    for (String view : VIEWS)
      if (javaExpr.startsWith(view)) {
        roots.put(name, rootOf(firstArgument(javaExpr.substring(view.length()))));
        return;
      }
    if (javaExpr.startsWith("be.") || javaExpr.startsWith("sumProducts(") || javaExpr.startsWith("sumConvolutionWeightGradients(")) {
      roots.put(name, name);
      owned.add(name);
    } else roots.put(name, EXTERNAL); // a memo method (the cache owns it), a leaf
  }

  /** The first argument of a call's argument list (up to the first top-level comma or paren). */
  private static String firstArgument(String args) {
    int depth = 0;
    for (int i = 0; i < args.length(); i++) {
      char c = args.charAt(i);
      if (c == '(') depth++;
      else if (c == ')' && depth-- == 0) return args.substring(0, i).trim();
      else if (c == ',' && depth == 0) return args.substring(0, i).trim();
    }
    return args.trim();
  }

  /** The root storage of an expression: a tracked local's root, or external (a leaf, a parameter, a nested call). */
  private String rootOf(String expr) {
    if (expr.startsWith("shaped(")) return rootOf(firstArgument(expr.substring("shaped(".length())));
    return roots.getOrDefault(expr, EXTERNAL);
  }

  /**
   * Releases the storage of every local this method allocated except that of the given results
   * (and their views): the backend may reuse it at once instead of waiting for the garbage
   * collector. Called just before the method returns, when no local is used any more.
   */
  void releaseTemporaries(String... results) {
    Set<String> keep = new HashSet<>();
    for (String r : results) keep.add(rootOf(r));
    for (String t : owned) if (!keep.contains(t)) out.addStatement("be.release($L)", t);
  }

  // ---- values ------------------------------------------------------------------------------

  /** Item rows of a value of this shape. */
  String rows(Shape s) {
    return ctx.dim(s.dims().get(0));
  }

  /** Item columns: the product of the remaining dims (a tensor (c,h,w) is held as c x (h*w)). */
  String cols(Shape s) {
    Dim c = Dim.ONE;
    for (int i = 1; i < s.dims().size(); i++) c = c.times(s.dims().get(i));
    return ctx.dim(c);
  }

  String numel(Shape s) {
    return ctx.dim(s.numel());
  }

  /** Whether e depends on nothing but the forward pass's values (memoizable per forward pass). */
  static boolean forwardOnly(Expr e) {
    for (Expr.Var v : Exprs.variables(e)) if (!isForwardValue(v)) return false;
    return true;
  }

  /** Whether a variable is a value of the forward pass (held by the forward cache). */
  static boolean isForwardValue(Expr.Var v) {
    switch (v.role()) {
      case INPUT:
      case PARAM:
      case DATA:
      case INDEX:
      case TARGET:
        return true;
      default:
        return false;
    }
  }

  private static boolean cheap(Expr e) {
    return e instanceof Expr.Var || e instanceof Expr.Num || e instanceof Expr.Zero || e instanceof Expr.Ones || e instanceof Expr.Eye
        || e instanceof Expr.DimValue || ((e instanceof Expr.Vec || e instanceof Expr.Reshape) && cheap(Exprs.children(e).get(0)));
  }

  /**
   * Whether a sum can compute its term e as part of a {@code be.matmulAdd}: a product of two dense
   * factors that nothing else needs (not computed yet, not memoized, not shared with other rules).
   */
  private boolean fusableProduct(Expr e) {
    if (!(e instanceof Expr.MatMul m) || m.factors().size() != 2 || m.factors().stream().anyMatch(Lowering::structured)) return false;
    return !values.containsKey(e) && !memoized(e) && !ctx.shared(e);
  }

  /** Whether {@link #value} takes e from a memo slot rather than computing it here. */
  private boolean memoized(Expr e) {
    return !cheap(e) && forwardOnly(e) && (!perForwardPass || ctx.shared(e));
  }

  /** A Java expression (a local name or a leaf) holding the value of e. */
  String value(Expr e) {
    String known = values.get(e);
    if (known != null) return known;
    String r;
    if (e instanceof Expr.Var v) {
      r = ctx.leaf(v);
      values.put(e, r);
      return r;
    }
    if (memoized(e)) {
      r = emit(ctx.memoMethod(e) + "(cache)", "memo: " + ctx.text(e));
    } else {
      r = compute(e);
    }
    values.put(e, r);
    return r;
  }

  private String compute(Expr e) {
    String text = ctx.text(e);
    if (e instanceof Expr.Num n) return emit("be.fill(1, 1, " + Names.literal(n.value()) + ")", text);
    if (e instanceof Expr.DimValue d) return emit("be.fill(1, 1, (double) (" + ctx.dim(d.dim()) + "))", text);
    if (e instanceof Expr.Zero z) return emit("be.fill(" + rows(z.shape()) + ", " + cols(z.shape()) + ", 0.0)", text);
    if (e instanceof Expr.Ones o) return emit("be.fill(" + rows(o.shape()) + ", " + cols(o.shape()) + ", 1.0)", text);
    if (e instanceof Expr.Eye i) return emit("be.eye(" + ctx.dim(i.n()) + ")", text);
    if (e instanceof Expr.Add a && MethodParts.parts(a) != null) return sumOfParts(MethodParts.parts(a), null, text);
    if (e instanceof Expr.Add a) {
      String acc;
      int next;
      Expr first = a.terms().get(0), second = a.terms().get(1);
      if (fusableProduct(first) && !(second instanceof Expr.Scale s && s.coefficient() == -1)) {
        // a dense product plus a term (W*x + b): one kernel, the product accumulated onto the term
        Operand l = Operand.of(((Expr.MatMul) first).factors().get(0)), r = Operand.of(((Expr.MatMul) first).factors().get(1));
        String sumText = a.terms().size() == 2 ? text : ctx.text(first) + " + " + ctx.text(second);
        if (convolution(l, r)) {
          Expr.Unfold u = (Expr.Unfold) r.expr;
          String ln = value(l.expr), xn = value(u.tensor()), cn = value(second);
          acc = emit("be.convolution(" + ln + ", " + xn + ", " + ctx.geometry(u.geometry()) + ", " + cn + ")", sumText);
        } else {
          String ln = value(l.expr), rn = value(r.expr), cn = value(second);
          acc = emit("be.matmulAdd(" + ln + ", " + l.transposed + ", " + rn + ", " + r.transposed + ", " + cn + ")", sumText);
        }
        next = 2;
      } else {
        acc = value(first);
        next = 1;
      }
      for (int i = next; i < a.terms().size(); i++) {
        Expr t = a.terms().get(i);
        String last = i == a.terms().size() - 1 ? text : null;
        if (t instanceof Expr.Scale s && s.coefficient() == -1) acc = emit("be.subtract(" + acc + ", " + value(s.operand()) + ")", last);
        else acc = emit("be.add(" + acc + ", " + value(t) + ")", last);
      }
      return acc;
    }
    if (e instanceof Expr.Scale s) return emit("be.scale(" + value(s.operand()) + ", " + Names.literal(s.coefficient()) + ")", text);
    if (e instanceof Expr.ScalarMul s) return emit("be.multiply(" + value(s.scalar()) + ", " + value(s.operand()) + ")", text);
    if (e instanceof Expr.Hadamard h) {
      String acc = value(h.factors().get(0));
      for (int i = 1; i < h.factors().size(); i++)
        acc = emit("be.multiply(" + acc + ", " + value(h.factors().get(i)) + ")", i == h.factors().size() - 1 ? text : null);
      return acc;
    }
    if (e instanceof Expr.Power p) return emit("be.power(" + value(p.base()) + ", " + Names.literal(p.exponent()) + ")", text);
    if (e instanceof Expr.MatMul m) return matmulValue(m);
    if (e instanceof Expr.Transpose t) return emit("be.transpose(" + value(t.operand()) + ")", text);
    if (e instanceof Expr.Kron k) return emit("be.kron(" + value(k.left()) + ", " + value(k.right()) + ")", text);
    if (e instanceof Expr.Vec v) return emit("be.reshape(" + value(v.operand()) + ", " + numel(v.shape()) + ", 1)", text);
    if (e instanceof Expr.Reshape r)
      return emit("be.reshape(" + value(r.operand()) + ", " + rows(r.shape()) + ", " + cols(r.shape()) + ")", text);
    if (e instanceof Expr.DiagMat d) return emit("be.diagMatrix(" + value(d.vector()) + ")", text);
    if (e instanceof Expr.DiagVec d) return emit("be.diagonal(" + value(d.matrix()) + ")", text);
    if (e instanceof Expr.Trace t) return emit("be.trace(" + value(t.matrix()) + ")", text);
    if (e instanceof Expr.Sum s) return emit("be.sum(" + value(s.operand()) + ")", text);
    if (e instanceof Expr.Apply a) {
      // f^(k)(x) from the computed f(x) when f^(k) is a function of f alone: no transcendental call
      String known = a.order() >= 1 ? ctx.knownValue(new Expr.Apply(a.function(), 0, a.argument())) : null;
      String ofValue = known == null ? null : ctx.functionOfValue(a.function(), a.order());
      if (ofValue != null) return emit("be.map(" + known + ", " + ofValue + ")", text);
      return emit("be.map(" + value(a.argument()) + ", " + ctx.functionConstant(a.function(), a.order()) + ")", text);
    }
    if (e instanceof Expr.Softmax s) {
      if (s.shape().isColumn()) return emit("be.softmax(" + value(s.vector()) + ")", text);
      return byColumns("be.softmax", value(s.vector()), s.shape(), text);
    }
    if (e instanceof Expr.LogSumExp l) return emit("be.logSumExp(" + value(l.operand()) + ")", text);
    // max/min as a .* s + b .* (1 - s), s = step(a - b): exact, with the backend's elementwise kernels
    if (e instanceof Expr.Max || e instanceof Expr.Min) return value(Exprs.maxMinAsSteps(e));
    if (e instanceof Expr.ColumnLogSumExp l) return byColumns("be.logSumExp", value(l.matrix()), l.matrix().shape(), text);
    if (e instanceof Expr.Inv i) return emit("be.inverse(" + value(i.matrix()) + ")", text);
    if (e instanceof Expr.Det d) return emit("be.determinant(" + value(d.matrix()) + ")", text);
    if (e instanceof Expr.Unfold u) return emit("be.unfold(" + value(u.tensor()) + ", " + ctx.geometry(u.geometry()) + ")", text);
    if (e instanceof Expr.Gather g) return emit("be.gather(" + value(g.source()) + ", " + value(g.index()) + ")", text);
    throw new CodegenException("cannot compute the value of " + e.getClass().getSimpleName() + " '" + text
        + "' without forming a structured matrix; it can only be applied to vectors");
  }

  /**
   * A large sum computed in parts, each by a helper method: the parts' values, or with a direction
   * batch v their products with v, added up.
   */
  private String sumOfParts(List<Expr> parts, String v, String text) {
    String acc = emit(ctx.part(parts.get(0), v), null);
    for (int i = 1; i < parts.size(); i++) acc = emit("be.add(" + acc + ", " + ctx.part(parts.get(i), v) + ")", i == parts.size() - 1 ? text : null);
    return acc;
  }

  /**
   * {@code diag(f^(k)(x)) * v} as one {@code be.mapMultiply} of the known value {@code f(x)} when
   * f^(k) is a function of f alone (sigmoid' = u (1 - u)): the derivative is computed on the fly in
   * the pass over v, never stored. Null when d is not such a derivative.
   */
  private String mapMultiply(Expr d, String v) {
    if (!(d instanceof Expr.Apply a) || a.order() < 1 || values.containsKey(d)) return null;
    String known = ctx.knownValue(new Expr.Apply(a.function(), 0, a.argument()));
    String ofValue = known == null ? null : ctx.functionOfValue(a.function(), a.order());
    if (ofValue == null) return null;
    return emit("be.mapMultiply(" + known + ", " + ofValue + ", " + v + ")", "diag(" + ctx.text(d) + ") * v");
  }

  /** Whether e is (or contains at its top) a matrix that is applied as a map rather than formed. */
  static boolean structured(Expr e) {
    if (e instanceof Expr.Kron || e instanceof Expr.Commutation || e instanceof Expr.Diagonalizer || e instanceof Expr.Selection
        || e instanceof Expr.Unfolding || e instanceof Expr.Eye || e instanceof Expr.DiagMat || e instanceof Expr.Zero)
      return true;
    if (e instanceof Expr.Transpose t) return structured(t.operand());
    if (e instanceof Expr.Scale s) return structured(s.operand());
    if (e instanceof Expr.ScalarMul s) return structured(s.operand());
    if (e instanceof Expr.MatMul m) return m.factors().stream().anyMatch(Lowering::structured);
    if (e instanceof Expr.Add a) return a.terms().stream().anyMatch(Lowering::structured);
    return false;
  }

  private String matmulValue(Expr.MatMul m) {
    List<Expr> fs = m.factors();
    String text = ctx.text(m);
    int k = fs.size();
    boolean anyStructured = fs.stream().anyMatch(Lowering::structured);
    if (k == 2 && convolution(Operand.of(fs.get(0)), Operand.of(fs.get(1)))) {
      Expr.Unfold u = (Expr.Unfold) Operand.of(fs.get(1)).expr();
      return emit("be.convolution(" + value(fs.get(0)) + ", " + value(u.tensor()) + ", " + ctx.geometry(u.geometry()) + ", null)", text);
    }
    if (!anyStructured) {
      if (fs.get(k - 1).shape().cols().isOne()) {
        Operand acc = Operand.of(fs.get(k - 1));
        String accName = null;
        for (int i = k - 2; i >= 0; i--) {
          Operand left = Operand.of(fs.get(i));
          accName = emit(mm(left, accName == null ? acc : Operand.plain(accName)), i == 0 ? text : null);
        }
        return accName;
      }
      String accName = null;
      Operand acc = Operand.of(fs.get(0));
      for (int i = 1; i < k; i++) {
        Operand right = Operand.of(fs.get(i));
        accName = emit(mm(accName == null ? acc : Operand.plain(accName), right), i == k - 1 ? text : null);
      }
      return accName;
    }
    Expr last = fs.get(k - 1);
    if (!structured(last) || k == 1) {
      Expr left = k == 2 ? fs.get(0) : new Expr.MatMul(fs.subList(0, k - 1));
      return applyMatrix(left, value(last), text);
    }
    Expr first = fs.get(0);
    if (!structured(first)) {
      Expr rest = k == 2 ? fs.get(1) : new Expr.MatMul(fs.subList(1, k));
      String ft = emit("be.transpose(" + value(first) + ")", null);
      String r = applyMatrix(new Expr.Transpose(rest), ft, null);
      return emit("be.transpose(" + r + ")", text);
    }
    throw new CodegenException("cannot compute the product '" + text + "' of structured matrices without forming one of them");
  }

  /**
   * Whether {@code op(l) * op(r)} is a convolution {@code W * unfold(X)} to hand to
   * {@code be.convolution}: r an unfold not computed yet, l a dense factor, neither transposed.
   * The unfolded matrix is then never formed by a backend with a direct convolution; where other
   * rules need it (a Kronecker factor, a per-sample Jacobian) they compute it themselves.
   */
  private boolean convolution(Operand l, Operand r) {
    return r.expr instanceof Expr.Unfold && !r.transposed && !l.transposed && !structured(l.expr) && !values.containsKey(r.expr);
  }

  /**
   * Whether factors i and i+1 of a product are {@code kron(I, B) * unfolding}: a convolution of the
   * applied vector with the rows of a dense B as filters (a Jacobian of {@code W * unfold(X)} with
   * respect to X), applied by {@code be.convolution} and its transpose by
   * {@code be.convolutionAdjoint} instead of unfold (fold) and a product.
   */
  private static boolean convolutionPair(List<Expr> factors, int i) {
    if (i < 0 || i + 1 >= factors.size()) return false;
    // B's columns are the unfolding's rows (and then the identity's size its patches)
    return factors.get(i) instanceof Expr.Kron k && isEye(k.left()) && !(k.right() instanceof Expr.Transpose) && !structured(k.right())
        && factors.get(i + 1) instanceof Expr.Unfolding u && k.right().shape().cols().equals(u.geometry().patchRows());
  }

  /** Whether factors i and i+1 are {@code unfolding' * kron(I, B')}: the transpose of a {@link #convolutionPair}. */
  private static boolean adjointConvolutionPair(List<Expr> factors, int i) {
    if (i < 0 || i + 1 >= factors.size()) return false;
    return factors.get(i) instanceof Expr.Transpose t && t.operand() instanceof Expr.Unfolding u && factors.get(i + 1) instanceof Expr.Kron k
        && isEye(k.left()) && k.right() instanceof Expr.Transpose bt && !(bt.operand() instanceof Expr.Transpose) && !structured(bt.operand())
        && bt.operand().shape().cols().equals(u.geometry().patchRows());
  }

  /**
   * {@code fold(B' * V)} for column vectors v of rows(B) * patches entries: the adjoint of the
   * convolution with B's rows as filters, as column vectors of the unfolded tensor's size.
   */
  private String convolutionAdjoint(Expr b, Expr.Unfolding u, String v, String comment) {
    Expr.ConvGeometry g = u.geometry();
    String y = emit("be.reshape(" + v + ", " + ctx.dim(b.shape().rows()) + ", " + ctx.dim(g.patches()) + ")", null);
    String x = emit("be.convolutionAdjoint(" + value(b) + ", " + y + ", " + ctx.geometry(g) + ")", null);
    return emit("be.reshape(" + x + ", " + ctx.dim(u.shape().cols()) + ", 1)", comment);
  }

  /** An operand of a dense product: a value, possibly used transposed. */
  private record Operand(Expr expr, String name, boolean transposed) {
    /** e as a value used transposed or not (nested transposes cancel). */
    static Operand of(Expr e) {
      boolean transposed = false;
      while (e instanceof Expr.Transpose t) {
        e = t.operand();
        transposed = !transposed;
      }
      return new Operand(e, null, transposed);
    }

    static Operand plain(String name) {
      return new Operand(null, name, false);
    }
  }

  private String mm(Operand a, Operand b) {
    String an = a.name != null ? a.name : value(a.expr);
    String bn = b.name != null ? b.name : value(b.expr);
    return "be.matmul(" + an + ", " + a.transposed + ", " + bn + ", " + b.transposed + ")";
  }

  /**
   * A kernel that works on whole items ({@code be.softmax}, {@code be.logSumExp}) applied to each
   * column of x's items instead: the columns become directions (a free view), the kernel runs on
   * them, and its results are put back side by side.
   */
  private String byColumns(String kernel, String x, Shape items, String comment) {
    String columns = emit("be.columnsAsDirections(" + x + ")", null);
    String r = emit(kernel + "(" + columns + ")", null);
    return emit("be.directionsAsColumns(" + r + ", " + cols(items) + ")", comment);
  }

  // ---- products with structured matrices -------------------------------------------------

  /**
   * {@code M * X} for a batch X whose items are matrices with cols(M) rows: each column is
   * treated as a direction (a free view), M applied, and the columns put back.
   */
  String applyMatrix(Expr m, String x, String comment) {
    String v = emit("be.columnsAsDirections(" + x + ")", null);
    String r = apply(m, v);
    return emit("be.directionsAsColumns(" + r + ", " + x + ".cols())", comment);
  }

  /**
   * {@code M * v} for a batch v of column vectors with numel = cols(M) entries: the result's items
   * are columns with rows(M) entries.
   */
  String apply(Expr m, String v) {
    String text = ctx.text(m);
    if (m instanceof Expr.Eye) return v;
    if (m instanceof Expr.Zero z) return emit("be.fill(" + ctx.dim(z.shape().rows()) + ", 1, 0.0)", text + " * v");
    if (m instanceof Expr.Scale s) return emit("be.scale(" + apply(s.operand(), v) + ", " + Names.literal(s.coefficient()) + ")", null);
    if (m instanceof Expr.ScalarMul s) return emit("be.multiply(" + value(s.scalar()) + ", " + apply(s.operand(), v) + ")", null);
    if (m instanceof Expr.Add a && MethodParts.parts(a) != null) return sumOfParts(MethodParts.parts(a), v, null);
    if (m instanceof Expr.Add a) {
      String acc = apply(a.terms().get(0), v);
      for (int i = 1; i < a.terms().size(); i++) {
        Expr t = a.terms().get(i);
        if (t instanceof Expr.Scale s && s.coefficient() == -1) acc = emit("be.subtract(" + acc + ", " + apply(s.operand(), v) + ")", null);
        else acc = emit("be.add(" + acc + ", " + apply(t, v) + ")", null);
      }
      return acc;
    }
    if (m instanceof Expr.MatMul mm) {
      List<Expr> fs = mm.factors();
      String acc = v;
      for (int i = fs.size() - 1; i >= 0; i--) {
        if (convolutionPair(fs, i - 1)) {
          // kron(I, B) * unfolding * v: v's entries are the tensor, B's rows the filters
          Expr b = ((Expr.Kron) fs.get(i - 1)).right();
          Expr.ConvGeometry g = ((Expr.Unfolding) fs.get(i)).geometry();
          String y = emit("be.convolution(" + value(b) + ", " + acc + ", " + ctx.geometry(g) + ", null)", null);
          acc = emit("be.reshape(" + y + ", " + ctx.dim(fs.get(i - 1).shape().rows()) + ", 1)",
              ctx.text(fs.get(i - 1)) + " * " + ctx.text(fs.get(i)) + " * v (convolution)");
          i--;
        } else if (adjointConvolutionPair(fs, i - 1)) {
          // unfolding' * kron(I, B') * v = fold(B' * V)
          Expr b = ((Expr.Transpose) ((Expr.Kron) fs.get(i)).right()).operand();
          Expr.Unfolding u = (Expr.Unfolding) ((Expr.Transpose) fs.get(i - 1)).operand();
          acc = convolutionAdjoint(b, u, acc, ctx.text(fs.get(i - 1)) + " * " + ctx.text(fs.get(i)) + " * v (convolution adjoint)");
          i--;
        } else acc = apply(fs.get(i), acc);
      }
      return acc;
    }
    if (m instanceof Expr.DiagMat d) {
      String fused = mapMultiply(d.vector(), v);
      return fused != null ? fused : emit("be.multiply(" + value(d.vector()) + ", " + v + ")", "diag(...) * v");
    }
    if (m instanceof Expr.Kron k) return applyKron(k.left(), k.right(), v);
    if (m instanceof Expr.Commutation c) {
      String x = emit("be.reshape(" + v + ", " + ctx.dim(c.m()) + ", " + ctx.dim(c.n()) + ")", null);
      String t = emit("be.transpose(" + x + ")", null);
      return emit("be.reshape(" + t + ", " + ctx.dim(c.m().times(c.n())) + ", 1)", text + " * v");
    }
    if (m instanceof Expr.Diagonalizer d) {
      String dm = emit("be.diagMatrix(" + v + ")", null);
      return emit("be.reshape(" + dm + ", " + ctx.dim(d.n().times(d.n())) + ", 1)", text + " * v");
    }
    if (m instanceof Expr.Selection s) {
      String g = emit("be.gather(" + v + ", " + value(s.index()) + ")", null);
      return emit("be.reshape(" + g + ", " + numel(s.index().shape()) + ", 1)", text + " * v (gather)");
    }
    if (m instanceof Expr.Unfolding u) {
      String x = emit("be.unfold(" + v + ", " + ctx.geometry(u.geometry()) + ")", null);
      return emit("be.reshape(" + x + ", " + ctx.dim(u.shape().rows()) + ", 1)", text + " * v (unfold)");
    }
    if (m instanceof Expr.Ones o) {
      String ones = value(o);
      return emit("be.matmul(" + ones + ", false, " + v + ", false)", text + " * v");
    }
    if (m instanceof Expr.Transpose t) return applyTransposed(t.operand(), v);
    return emit("be.matmul(" + value(m) + ", false, " + v + ", false)", text + " * v");
  }

  /** {@code M' * v}, pushing the transpose down to the structured factors. */
  private String applyTransposed(Expr m, String v) {
    String text = ctx.text(m) + "' * v";
    if (m instanceof Expr.Transpose t) return apply(t.operand(), v);
    if (m instanceof Expr.Eye) return v;
    if (m instanceof Expr.Zero z) return emit("be.fill(" + ctx.dim(z.shape().cols()) + ", 1, 0.0)", text);
    if (m instanceof Expr.DiagMat) return apply(m, v);
    if (m instanceof Expr.Scale s) return emit("be.scale(" + applyTransposed(s.operand(), v) + ", " + Names.literal(s.coefficient()) + ")", null);
    if (m instanceof Expr.ScalarMul s) return emit("be.multiply(" + value(s.scalar()) + ", " + applyTransposed(s.operand(), v) + ")", null);
    if (m instanceof Expr.Add a && MethodParts.parts(a) != null)
      return sumOfParts(MethodParts.parts(a).stream().map(p -> (Expr) new Expr.Transpose(p)).toList(), v, null);
    if (m instanceof Expr.Add a) {
      String acc = applyTransposed(a.terms().get(0), v);
      for (int i = 1; i < a.terms().size(); i++) {
        Expr t = a.terms().get(i);
        if (t instanceof Expr.Scale s && s.coefficient() == -1)
          acc = emit("be.subtract(" + acc + ", " + applyTransposed(s.operand(), v) + ")", null);
        else acc = emit("be.add(" + acc + ", " + applyTransposed(t, v) + ")", null);
      }
      return acc;
    }
    if (m instanceof Expr.MatMul mm) {
      // (f1 f2 ... fk)' v = fk' (... (f1' v))
      List<Expr> fs = mm.factors();
      String acc = v;
      for (int i = 0; i < fs.size(); i++) {
        if (convolutionPair(fs, i)) {
          // (kron(I, B) * unfolding)' * v = fold(B' * V)
          acc = convolutionAdjoint(((Expr.Kron) fs.get(i)).right(), (Expr.Unfolding) fs.get(i + 1), acc,
              "(" + ctx.text(fs.get(i)) + " * " + ctx.text(fs.get(i + 1)) + ")' * v (convolution adjoint)");
          i++;
        } else acc = applyTransposed(fs.get(i), acc);
      }
      return acc;
    }
    if (m instanceof Expr.Kron k) return applyKron(new Expr.Transpose(k.left()), new Expr.Transpose(k.right()), v);
    if (m instanceof Expr.Commutation c) return apply(new Expr.Commutation(c.n(), c.m()), v);
    if (m instanceof Expr.Diagonalizer d) {
      String x = emit("be.reshape(" + v + ", " + ctx.dim(d.n()) + ", " + ctx.dim(d.n()) + ")", null);
      return emit("be.diagonal(" + x + ")", text);
    }
    if (m instanceof Expr.Selection s) {
      Shape is = s.index().shape();
      String g = emit("be.reshape(" + v + ", " + rows(is) + ", " + cols(is) + ")", null);
      return emit("be.scatterAdd(" + g + ", " + value(s.index()) + ", " + ctx.dim(s.n()) + ", 1)", text + " (scatter-add)");
    }
    if (m instanceof Expr.Unfolding u) {
      Expr.ConvGeometry g = u.geometry();
      String x = emit("be.reshape(" + v + ", " + ctx.dim(g.patchRows()) + ", " + ctx.dim(g.patches()) + ")", null);
      String f = emit("be.fold(" + x + ", " + ctx.geometry(g) + ")", null);
      return emit("be.reshape(" + f + ", " + ctx.dim(u.shape().cols()) + ", 1)", text + " (fold)");
    }
    if (m instanceof Expr.Ones o) return apply(new Expr.Ones(o.shape().transpose()), v);
    return emit("be.matmul(" + value(m) + ", true, " + v + ", false)", text);
  }

  // ---- products summed over the batch ---------------------------------------------------

  /** Whether e is the same for every sample (it depends on parameters and constants only). */
  static boolean sampleIndependent(Expr e) {
    for (Expr.Var v : Exprs.variables(e)) if (v.role() != Expr.Role.PARAM) return false;
    return true;
  }

  /** The transpose pushed down to the leaves: products reversed, Kronecker factors transposed. */
  static Expr transposed(Expr m) {
    if (m instanceof Expr.Transpose t) return t.operand();
    if (m instanceof Expr.MatMul mm) {
      List<Expr> fs = new ArrayList<>();
      for (int i = mm.factors().size() - 1; i >= 0; i--) fs.add(transposed(mm.factors().get(i)));
      return new Expr.MatMul(fs);
    }
    if (m instanceof Expr.Kron k) return new Expr.Kron(transposed(k.left()), transposed(k.right()));
    if (m instanceof Expr.Add a) {
      List<Expr> ts = new ArrayList<>();
      for (Expr t : a.terms()) ts.add(transposed(t));
      return new Expr.Add(ts);
    }
    if (m instanceof Expr.Scale sc) return new Expr.Scale(sc.coefficient(), transposed(sc.operand()));
    if (m instanceof Expr.ScalarMul sm) return new Expr.ScalarMul(sm.scalar(), transposed(sm.operand()));
    if (m instanceof Expr.DiagMat || m instanceof Expr.Eye) return m;
    return new Expr.Transpose(m);
  }

  /**
   * {@code sum_n M_n v_n} over the batch (one sample in the result), with the sum pushed into
   * the products: a factor the same for every sample is applied once to the summed directions,
   * and an outer product of per-sample factors (a weight's gradient, {@code sum_n dz_n x_n'}) is
   * one product of side-by-side items ({@code sumProducts}), never N outer products.
   */
  String applySummed(Expr m, String v) {
    if (sampleIndependent(m)) return apply(m, emit("samplesSum(" + v + ", cache)", null));
    if (m instanceof Expr.Scale sc) return emit("be.scale(" + applySummed(sc.operand(), v) + ", " + Names.literal(sc.coefficient()) + ")", null);
    if (m instanceof Expr.Add a) {
      String acc = applySummed(a.terms().get(0), v);
      for (int i = 1; i < a.terms().size(); i++) acc = emit("be.add(" + acc + ", " + applySummed(a.terms().get(i), v) + ")", null);
      return acc;
    }
    if (m instanceof Expr.MatMul mm) {
      List<Expr> fs = mm.factors();
      int j = 0; // fs[0..j) are the same for every sample: apply them after summing
      while (j < fs.size() && sampleIndependent(fs.get(j))) j++;
      if (j > 0) {
        String inner = applySummed(fs.size() - j == 1 ? fs.get(j) : new Expr.MatMul(fs.subList(j, fs.size())), v);
        return apply(j == 1 ? fs.get(0) : new Expr.MatMul(fs.subList(0, j)), inner);
      }
      String u = apply(fs.size() == 2 ? fs.get(1) : new Expr.MatMul(fs.subList(1, fs.size())), v);
      return applySummed(fs.get(0), u);
    }
    if (m instanceof Expr.Kron k && !structured(k.left()) && !isEye(k.left())) {
      Dim q = k.left().shape().cols(), s0 = k.right().shape().cols(), p = k.left().shape().rows(), r = k.right().shape().rows();
      String x = emit("be.reshape(" + v + ", " + ctx.dim(s0) + ", " + ctx.dim(q) + ")", "X = reshape(v, " + ctx.dimText(s0) + ", " + ctx.dimText(q) + ")");
      String bx = isEye(k.right()) ? x : applyMatrix(k.right(), x, "B*X with B = " + ctx.text(k.right()));
      Operand op = Operand.of(k.left());
      String bxa;
      if (op.expr() instanceof Expr.Unfold u && !op.transposed() && !values.containsKey(u)) {
        // sum_n (B*X_n) * unfold(T_n)': a convolution's weight gradient, the unfolding never formed
        bxa = emit("sumConvolutionWeightGradients(" + bx + ", " + value(u.tensor()) + ", " + ctx.geometry(u.geometry()) + ", cache)",
            "sum_n (B*X_n)*A_n' with A' = " + ctx.text(new Expr.Transpose(u)) + " (convolution weight gradient)");
      } else {
        bxa = emit("sumProducts(" + bx + ", false, " + value(op.expr()) + ", " + !op.transposed() + ", cache)",
            "sum_n (B*X_n)*A_n' with A' = " + ctx.text(op.transposed() ? op.expr() : new Expr.Transpose(op.expr())));
      }
      return emit("be.reshape(" + bxa + ", " + ctx.dim(r.times(p)) + ", 1)", "kron(A, B) * v = vec(B*X*A'), summed over the batch");
    }
    return emit("samplesSum(" + apply(m, v) + ", cache)", null);
  }

  /**
   * {@code kron(A, B) * v} with A p x q, B r x s, v of qs entries: by the vec trick
   * {@code vec(B X A')} with X = reshape(v, s, q); A and B may themselves be structured.
   */
  private String applyKron(Expr a, Expr b, String v) {
    Dim q = a.shape().cols(), s = b.shape().cols(), p = a.shape().rows(), r = b.shape().rows();
    String x = emit("be.reshape(" + v + ", " + ctx.dim(s) + ", " + ctx.dim(q) + ")", "X = reshape(v, " + ctx.dimText(s) + ", " + ctx.dimText(q) + ")");
    String bx = isEye(b) ? x : applyMatrix(b, x, "B*X with B = " + ctx.text(b));
    String bxa;
    if (isEye(a)) bxa = bx;
    else if (!structured(a)) {
      Operand op = Operand.of(a);
      // (B X) * A' : A' is op(A) transposed
      bxa = emit("be.matmul(" + bx + ", false, " + value(op.expr()) + ", " + !op.transposed() + ")",
          "(B*X)*A' with A' = " + ctx.text(op.transposed() ? op.expr() : new Expr.Transpose(op.expr())));
    } else {
      String t = emit("be.transpose(" + bx + ")", null);
      String at = applyMatrix(a, t, null);
      bxa = emit("be.transpose(" + at + ")", "(B*X)*A' with A = " + ctx.text(a));
    }
    return emit("be.reshape(" + bxa + ", " + ctx.dim(r.times(p)) + ", 1)", "kron(A, B) * v = vec(B*X*A')");
  }

  private static boolean isEye(Expr e) {
    return e instanceof Expr.Eye || (e instanceof Expr.Transpose t && t.operand() instanceof Expr.Eye);
  }
}
