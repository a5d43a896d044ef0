package org.hbp.codegen;

import com.palantir.javapoet.CodeBlock;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.Function;
import org.hbp.calculus.Dim;
import org.hbp.calculus.ElementwiseFunction;
import org.hbp.calculus.Expr;
import org.hbp.calculus.Exprs;
import org.hbp.calculus.Shape;
import org.hbp.codegen.program.Op;
import org.hbp.codegen.program.Passes;
import org.hbp.codegen.program.Program;
import org.hbp.codegen.program.Value;
import org.hbp.codegen.program.Value.ItemShape;

/**
 * Compiles IR expressions into a kernel {@link Program} over the {@code Backend} kernels, which
 * {@link #releaseTemporaries} simplifies ({@link Passes}) and renders as Java ({@link JavaEmitter})
 * into the method body. Two entry points:
 * <ul>
 *   <li>{@link #value}: the value of an expression, as a batch whose items have its shape, by the
 *       lowering rule of its node type ({@link #loweredNodeTypes});</li>
 *   <li>{@link #apply}: the product {@code M * v} of a matrix expression M (a Jacobian, a residual,
 *       a loss Hessian) with a batch of column vectors, evaluated right to left so that structured
 *       factors are applied as maps and never formed ({@link StructuredProducts}).</li>
 * </ul>
 * Equal subexpressions are computed once per method; forward-only subexpressions (no output
 * gradient in them) go through the forward cache's memo so each is computed once per forward pass.
 * Each statement carries the DSL text of what it computes as a comment.
 */
public final class Lowering {
  /** What the lowering needs from the class being generated. */
  interface Context {
    /** How dims (a Java int expression, or the DSL's syntax for comments) and expressions are written. */
    Notation notation();

    /** A Java expression for a leaf variable (e.g. {@code cache.get("x")} or {@code dz}). */
    String leaf(Expr.Var v);

    /**
     * The memo slot of a forward-only subexpression ({@code cache.memo(slot, ...)}); its method
     * ({@link Names#memoMethod}) is generated once per class on first request.
     */
    int memoSlot(Expr e);

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
    String geometry(Expr.ConvDims g);


    /** Whether a subexpression occurs more than once among the class's derived rules. */
    boolean shared(Expr e);

    /**
     * The index of a new private helper method computing part of a large sum ({@link MethodParts}):
     * the value of {@code e}, or with a direction batch the product {@code e * v}.
     */
    int part(Expr e, boolean withDirection);

    /** The Java call of part {@code index}, with the caller's direction local {@code v} (null: none). */
    String partCall(int index, String v);
  }

  final Context ctx;
  /** Renders the finished program: Java statements into the method body unless another target's emitter is given. */
  private final Consumer<Program> emitter;
  final Map<Expr, Value> values = new HashMap<>();
  private final int[] counter;
  /** Whether this code runs once per forward pass anyway (the forward method, a memo body). */
  private final boolean perForwardPass;
  private final Program program = new Program();
  /** Values by the names handed out (the entry points speak names). */
  private final Map<String, Value> byName = new HashMap<>();
  /** Names handed to the caller by {@link #fresh}: locals of its own that the program must not reuse. */
  private final Set<String> reserved = new HashSet<>();
  /** The values whose names the caller was given. */
  private final List<Value> handedOut = new ArrayList<>();
  private final StructuredProducts products;

  /**
   * @param perForwardPass true for the forward method: its subexpressions are memoized only when
   *     other rules use them too
   */
  Lowering(Context ctx, CodeBlock.Builder out, boolean perForwardPass) {
    this(ctx, out, new int[1], perForwardPass);
  }

  Lowering(Context ctx, CodeBlock.Builder out) {
    this(ctx, out, false);
  }

  /**
   * A lowering whose finished programs go to {@code emitter} (another code target's, e.g. PyTorch
   * code) instead of being written as Java.
   */
  Lowering(Context ctx, Consumer<Program> emitter, boolean perForwardPass) {
    this(ctx, emitter, new int[1], perForwardPass);
  }

  private Lowering(Context ctx, CodeBlock.Builder out, int[] counter, boolean perForwardPass) {
    this(ctx, p -> new JavaEmitter(ctx).emit(p, out), counter, perForwardPass);
  }

  private Lowering(Context ctx, Consumer<Program> emitter, int[] counter, boolean perForwardPass) {
    this.ctx = ctx;
    this.emitter = emitter;
    this.counter = counter;
    this.perForwardPass = perForwardPass;
    this.products = new StructuredProducts(this);
  }

  // ---- the entry points (names in, names out) -------------------------------------------------

  /** A Java expression (a local name or a leaf) holding the value of e. */
  String value(Expr e) {
    return handOut(valueOf(e));
  }

  /**
   * {@code M * v} for a batch v (a local of the caller) of column vectors with numel = cols(M)
   * entries: the result's items are columns with rows(M) entries.
   */
  String apply(Expr m, String v) {
    return handOut(products.apply(m, input(v, ItemShape.column(m.shape().cols()))));
  }

  /** {@code sum_n M_n v_n} over the batch ({@link StructuredProducts#applySummed}). */
  String applySummed(Expr m, String v) {
    return handOut(products.applySummed(m, input(v, ItemShape.column(m.shape().cols()))));
  }

  /**
   * The body of a memo method: the value of e computed with fresh locals, its temporaries released;
   * returns the local holding it.
   */
  String memoBody(Expr e) {
    String result = handOut(compute(e));
    releaseTemporaries(result);
    return result;
  }

  /** A fresh local name, unique within the generated method, for the caller's own use. */
  String fresh() {
    String name = newName();
    reserved.add(name);
    return name;
  }

  /**
   * Ends the method's program: the given results escape, the passes run, and the statements are
   * written, followed by the release of every local whose storage the method allocated except
   * that of the results (and their views): the backend may reuse it at once instead of waiting
   * for the garbage collector.
   */
  void releaseTemporaries(String... results) {
    for (String r : results) {
      Value v = byName.get(r);
      if (v != null) program.escape(v);
    }
    Passes.optimize(program);
    program.renumber("t", reserved);
    emitter.accept(program);
  }

  /**
   * The name of a result handed to the caller: the program so far is simplified with v escaping
   * and its locals numbered in order (v included, as its name is not out yet), so the name the
   * caller gets is final; the values the lowering remembers follow what the passes replaced.
   */
  private String handOut(Value v) {
    program.escape(v);
    Passes.optimize(program);
    Value r = program.resolve(v);
    Set<Value> fixed = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
    for (Value h : handedOut) fixed.add(program.resolve(h));
    program.renumber("t", reserved, fixed);
    handedOut.add(r);
    values.replaceAll((e, x) -> program.resolve(x));
    values.values().removeIf(x -> !program.defines(x));
    byName.clear();
    for (Value in : program.inputs()) byName.put(in.name(), in);
    for (Program.Statement s : program.statements()) byName.put(s.out().name(), s.out());
    return r.name();
  }

  // ---- building the program ------------------------------------------------------------------

  private String newName() {
    return "t" + counter[0]++;
  }

  /** Appends a statement; returns its value. */
  Value emit(Op op, String comment) {
    Value v = program.add(newName(), op, comment);
    byName.put(v.name(), v);
    return v;
  }

  private Value leaf(String reference, Op.Leaf op) {
    Value v = program.add(reference, op, null);
    byName.put(reference, v);
    return v;
  }

  /** The value a caller's local of the given name holds. */
  private Value input(String name, ItemShape shape) {
    Value known = byName.get(name);
    if (known != null) return known;
    Value v = program.input(name, shape);
    byName.put(name, v);
    return v;
  }

  /** The value the caller already holds for e (the module's output), or null. */
  Value known(Expr e) {
    String ref = ctx.knownValue(e);
    if (ref == null) return null;
    Value v = byName.get(ref);
    return v != null ? v : leaf(ref, new Op.Leaf(e, true, ItemShape.of(e.shape())));
  }

  // ---- values ----------------------------------------------------------------------------------

  /** Item rows of a value of this shape. */
  static Dim rows(Shape s) {
    return s.dims().get(0);
  }

  /** Item columns: the product of the remaining dims (a tensor (c,h,w) is held as c x (h*w)). */
  static Dim cols(Shape s) {
    return ItemShape.of(s).cols();
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

  /** Whether {@link #valueOf} takes e from a memo slot rather than computing it here. */
  private boolean memoized(Expr e) {
    return !cheap(e) && forwardOnly(e) && (!perForwardPass || ctx.shared(e));
  }

  /**
   * e's memo slot when {@link #valueOf} would take e from the memo, else null. Nothing is emitted
   * into the method, but the slot is allocated: the class then carries its memo method, so a caller
   * that asks must use the slot.
   */
  Integer memoSlotIfMemoized(Expr e) {
    return memoized(e) ? ctx.memoSlot(e) : null;
  }

  /** The value of e: computed once per method, from the memo when forward-only. */
  Value valueOf(Expr e) {
    Value known = values.get(e);
    if (known != null) return known;
    Value r;
    if (e instanceof Expr.Var v) r = leaf(ctx.leaf(v), new Op.Leaf(v, false, ItemShape.of(v.shape())));
    else if (memoized(e)) r = emit(new Op.Memo(e, ctx.memoSlot(e), ItemShape.of(e.shape())), "memo: " + ctx.notation().text(e));
    else r = compute(e);
    values.put(e, r);
    return r;
  }

  /** How the value of one node type is computed. */
  @FunctionalInterface
  private interface ValueRule<E extends Expr> {
    Value lower(Lowering l, E e, String text);
  }

  /** The value rule of each node type; structured matrices (the keys of APPLIED_ONLY) are only applied. */
  private static final Map<Class<? extends Expr>, ValueRule<Expr>> VALUE_RULES = new LinkedHashMap<>();

  /** Node types never formed as values, with the reason: they are applied to vectors as maps. */
  private static final Map<Class<? extends Expr>, String> APPLIED_ONLY = new LinkedHashMap<>();

  @SuppressWarnings("unchecked")
  private static <E extends Expr> void rule(Class<E> type, ValueRule<E> rule) {
    VALUE_RULES.put(type, (ValueRule<Expr>) rule);
  }

  static {
    rule(Expr.Num.class, (l, n, t) -> l.emit(new Op.Fill(Dim.ONE, Dim.ONE, n.value()), t));
    rule(Expr.DimValue.class, (l, d, t) -> l.emit(new Op.DimFill(d.dim()), t));
    rule(Expr.Zero.class, (l, z, t) -> l.emit(new Op.Fill(rows(z.shape()), cols(z.shape()), 0.0), t));
    rule(Expr.Ones.class, (l, o, t) -> l.emit(new Op.Fill(rows(o.shape()), cols(o.shape()), 1.0), t));
    rule(Expr.Eye.class, (l, i, t) -> l.emit(new Op.Eye(i.n()), t));
    rule(Expr.Add.class, Lowering::sum);
    rule(Expr.Scale.class, (l, s, t) -> l.emit(new Op.Scale(l.valueOf(s.operand()), s.coefficient()), t));
    rule(Expr.ScalarMul.class, (l, s, t) -> l.emit(new Op.Multiply(l.valueOf(s.scalar()), l.valueOf(s.operand())), t));
    rule(Expr.Hadamard.class, (l, h, t) -> {
      Value acc = l.valueOf(h.factors().get(0));
      for (int i = 1; i < h.factors().size(); i++)
        acc = l.emit(new Op.Multiply(acc, l.valueOf(h.factors().get(i))), i == h.factors().size() - 1 ? t : null);
      return acc;
    });
    rule(Expr.Power.class, (l, p, t) -> l.emit(new Op.Power(l.valueOf(p.base()), p.exponent()), t));
    rule(Expr.MatMul.class, (l, m, t) -> l.products.matmulValue(m));
    rule(Expr.Transpose.class, (l, x, t) -> l.emit(new Op.Transpose(l.valueOf(x.operand())), t));
    rule(Expr.Kron.class, (l, k, t) -> l.emit(new Op.Kron(l.valueOf(k.left()), l.valueOf(k.right())), t));
    rule(Expr.Vec.class, (l, v, t) -> l.emit(new Op.Reshape(l.valueOf(v.operand()), v.shape().numel(), Dim.ONE), t));
    rule(Expr.Reshape.class, (l, r, t) -> l.emit(new Op.Reshape(l.valueOf(r.operand()), rows(r.shape()), cols(r.shape())), t));
    rule(Expr.DiagMat.class, (l, d, t) -> l.emit(new Op.DiagMatrix(l.valueOf(d.vector())), t));
    rule(Expr.DiagVec.class, (l, d, t) -> l.emit(new Op.Diagonal(l.valueOf(d.matrix())), t));
    rule(Expr.Trace.class, (l, x, t) -> l.emit(new Op.Trace(l.valueOf(x.matrix())), t));
    rule(Expr.Sum.class, (l, s, t) -> l.emit(new Op.Sum(l.valueOf(s.operand())), t));
    rule(Expr.Apply.class, Lowering::map);
    rule(Expr.Softmax.class, (l, s, t) -> s.shape().isColumn() ? l.emit(new Op.Softmax(l.valueOf(s.vector())), t)
        : l.byColumns(Op.Softmax::new, l.valueOf(s.vector()), s.shape(), t));
    rule(Expr.LogSumExp.class, (l, x, t) -> l.emit(new Op.LogSumExp(l.valueOf(x.operand())), t));
    // max/min as a .* s + b .* (1 - s), s = step(a - b): exact, with the backend's elementwise kernels
    rule(Expr.Max.class, (l, m, t) -> l.valueOf(Exprs.maxMinAsSteps(m)));
    rule(Expr.Min.class, (l, m, t) -> l.valueOf(Exprs.maxMinAsSteps(m)));
    rule(Expr.ColumnLogSumExp.class, (l, x, t) -> l.byColumns(Op.LogSumExp::new, l.valueOf(x.matrix()), x.matrix().shape(), t));
    rule(Expr.Inv.class, (l, i, t) -> l.emit(new Op.Inverse(l.valueOf(i.matrix())), t));
    rule(Expr.Det.class, (l, d, t) -> l.emit(new Op.Determinant(l.valueOf(d.matrix())), t));
    rule(Expr.Unfold.class, (l, u, t) -> l.emit(new Op.Unfold(l.valueOf(u.tensor()), u.geometry()), t));
    rule(Expr.Gather.class, (l, g, t) -> l.emit(new Op.Gather(l.valueOf(g.source()), l.valueOf(g.index())), t));
    String applied = "a structured matrix: applied to vectors as a map, never formed";
    for (Class<? extends Expr> c : List.of(Expr.Commutation.class, Expr.Diagonalizer.class, Expr.Selection.class, Expr.Unfolding.class))
      APPLIED_ONLY.put(c, applied);
  }

  /**
   * The node types the lowering handles: every value rule's, the variables (leaves), and the
   * structured matrices it applies as maps ({@link StructuredProducts}) but never forms.
   */
  public static Set<Class<? extends Expr>> loweredNodeTypes() {
    Set<Class<? extends Expr>> out = new LinkedHashSet<>(VALUE_RULES.keySet());
    out.add(Expr.Var.class);
    out.addAll(APPLIED_ONLY.keySet());
    return Collections.unmodifiableSet(out);
  }

  /** The node types that have no value rule, each with the reason (they are applied, never formed). */
  static Map<Class<? extends Expr>, String> appliedOnlyNodeTypes() {
    return Collections.unmodifiableMap(APPLIED_ONLY);
  }

  private Value compute(Expr e) {
    ValueRule<Expr> rule = VALUE_RULES.get(e.getClass());
    String text = ctx.notation().text(e);
    if (rule == null)
      throw new CodegenException("cannot compute the value of " + e.getClass().getSimpleName() + " '" + text
          + "' without forming a structured matrix; it can only be applied to vectors");
    return rule.lower(this, e, text);
  }

  /**
   * A sum, term by term ({@code be.subtract} for a term {@code -t}); the passes fuse a dense
   * product with its term into one kernel (W*x + b, a convolution and its bias). Two or more constant
   * terms are added first ({@link Exprs#constantsFirst}: a distributed mask {@code s + c*M - c}).
   */
  private static Value sum(Lowering l, Expr.Add a, String text) {
    List<Expr> parts = MethodParts.parts(a);
    if (parts != null) return l.sumOfParts(parts, null, text);
    List<Expr> terms = Exprs.constantsFirst(a.terms());
    Value acc = l.valueOf(terms.get(0));
    for (int i = 1; i < terms.size(); i++) {
      Expr t = terms.get(i);
      String last = i == terms.size() - 1 ? text : null;
      if (t instanceof Expr.Scale s && s.coefficient() == -1) acc = l.emit(new Op.Subtract(acc, l.valueOf(s.operand())), last);
      else acc = l.emit(new Op.Add(acc, l.valueOf(t)), last);
    }
    return acc;
  }

  /**
   * f^(k)(x), from the computed f(x) when f^(k) is a function of f alone: no transcendental call;
   * {@code log(softmax(S))} in its stable form ({@link Exprs#logSoftmax}), wherever it occurs.
   */
  private static Value map(Lowering l, Expr.Apply a, String text) {
    Expr.Softmax logOf = Exprs.logOfSoftmaxArgument(a); // never the log of an underflowed probability
    if (logOf != null) return l.valueOf(Exprs.logSoftmax(logOf));
    Value known = a.order() >= 1 ? l.known(new Expr.Apply(a.function(), 0, a.argument())) : null;
    if (known != null && l.ctx.functionOfValue(a.function(), a.order()) != null)
      return l.emit(new Op.Map(known, new Op.Fn(a.function(), a.order(), true)), text);
    return l.emit(new Op.Map(l.valueOf(a.argument()), new Op.Fn(a.function(), a.order(), false)), text);
  }

  /**
   * A large sum computed in parts, each by a helper method: the parts' values, or with a direction
   * batch v their products with v, added up.
   */
  Value sumOfParts(List<Expr> parts, Value v, String text) {
    Value acc = part(parts.get(0), v);
    for (int i = 1; i < parts.size(); i++) acc = emit(new Op.Add(acc, part(parts.get(i), v)), i == parts.size() - 1 ? text : null);
    return acc;
  }

  private Value part(Expr e, Value v) {
    ItemShape shape = v == null ? ItemShape.of(e.shape()) : ItemShape.column(e.shape().rows());
    return emit(new Op.Part(e, v, ctx.part(e, v != null), shape), null);
  }

  /**
   * A kernel that works on whole items ({@code be.softmax}, {@code be.logSumExp}) applied to each
   * column of x's items instead: the columns become directions (a free view), the kernel runs on
   * them, and its results are put back side by side.
   */
  private Value byColumns(Function<Value, Op> kernel, Value x, Shape items, String comment) {
    Value columns = emit(new Op.ColumnsAsDirections(x), null);
    Value r = emit(kernel.apply(columns), null);
    return emit(new Op.DirectionsAsColumns(r, cols(items)), comment);
  }

  // ---- static facts about expressions, shared with the generator ---------------------------------

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

  static boolean isEye(Expr e) {
    return e instanceof Expr.Eye || (e instanceof Expr.Transpose t && t.operand() instanceof Expr.Eye);
  }
}
