package org.hbp.codegen;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import org.hbp.calculus.Dim;
import org.hbp.calculus.ElementwiseFunction;
import org.hbp.calculus.Expr;
import org.hbp.calculus.Exprs;
import org.hbp.dsl.ModuleSpec;

/**
 * The PyTorch target's seam to {@link Lowering} (the twin of {@link BodyLowering}): lowers the
 * expressions of one module's methods into the same kernel programs as the Java operators and
 * renders them with {@link PyTorchEmitter} as Python bodies, answering Lowering's questions about
 * the generated class ({@link Lowering.Context}) in Python: leaves are {@code cache["x"]}, the
 * output gradient {@code dz}, directions {@code v}; memo slots and parts are methods
 * {@code self._memoK(cache)} and {@code self._partK(cache[, dz][, v])}.
 */
final class PyTorchLowering implements Lowering.Context {
  /** Python statements (unindented) and the name holding their result. */
  record PyBody(List<String> lines, String result) {}

  /** A memo method's slot, expression and body. */
  record PyMemo(int slot, Expr expr, PyBody body) {}

  /** A part method's index, expression, whether it takes dz and directions, and body. */
  record PyPart(int index, Expr expr, boolean usesDz, boolean directions, PyBody body) {}

  private final ModuleSpec m;
  private final Notation notation;
  private final Set<Expr> shared;
  private final PyTorchScalars scalars = new PyTorchScalars();
  private final PyTorchEmitter emitter;
  private final Map<Expr, Integer> memo = new LinkedHashMap<>();
  private final List<PyMemo> memoSlots = new ArrayList<>();
  private final List<PyPart> parts = new ArrayList<>();
  private boolean loweringForward;

  PyTorchLowering(ModuleSpec m, Set<Expr> shared) {
    this.m = m;
    this.notation = new Notation(m);
    this.shared = Set.copyOf(shared);
    this.emitter = new PyTorchEmitter(this, scalars, this::dim);
  }

  /** Identifiers in a dim's DSL text. */
  private static final java.util.regex.Pattern NAME = java.util.regex.Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");

  /**
   * A dim as a Python int expression over the module's attributes ({@code self.c * self.oh *
   * self.ow}): the DSL text of the Java notation (factored by the derived dims where it can be),
   * its floor quotients {@code /} as Python's {@code //} (a quotient in a product is parenthesized
   * in that text, so the precedence is the same).
   */
  String dim(Dim d) {
    String py = python(notation.dimText(d));
    return d.isConstant() || d.isSymbol() || d.isMonomial() || m.derivedDims().containsValue(d) ? py : "(" + py + ")";
  }

  /** A dim's DSL text ({@code (h + 2*p - 1)/s + 1}) as a Python int expression over the module's attributes. */
  static String python(String dimText) {
    return NAME.matcher(dimText.replace("/", "//"))
        .replaceAll(r -> java.util.regex.Matcher.quoteReplacement("self." + PyTorchNames.identifier(r.group())));
  }

  // ---- bodies ----

  /** The forward body: the output from the forward values. */
  PyBody forward(Expr z) {
    loweringForward = true;
    try {
      return lower(true, l -> l.value(z));
    } finally {
      loweringForward = false;
    }
  }

  PyBody value(Expr e) {
    return lower(false, l -> l.value(e));
  }

  /** {@code matrix * v} for directions {@code v}: columns [V, N, cols(matrix), 1]. */
  PyBody product(Expr matrix) {
    return lower(false, l -> l.apply(matrix, "v"));
  }

  /** {@code sum_n J_n' v_n} over the batch for directions v of the output. */
  PyBody summedTransposedProduct(Expr jacobian) {
    return lower(false, l -> l.applySummed(Lowering.transposed(jacobian), "v"));
  }

  private PyBody lower(boolean perForwardPass, Function<Lowering, String> body) {
    List<String> lines = new ArrayList<>();
    Lowering lowering = new Lowering(this, p -> emitter.emit(p, lines), perForwardPass);
    String result = body.apply(lowering);
    lowering.releaseTemporaries(result);
    return new PyBody(lines, result);
  }

  List<PyMemo> memoSlots() {
    return List.copyOf(memoSlots);
  }

  List<PyPart> parts() {
    return List.copyOf(parts);
  }

  PyTorchScalars scalars() {
    return scalars;
  }

  // ---- Lowering.Context ----

  @Override
  public Notation notation() {
    return notation;
  }

  @Override
  public boolean shared(Expr e) {
    return shared.contains(e);
  }

  @Override
  public String leaf(Expr.Var v) {
    if (Lowering.isForwardValue(v)) return "cache[\"" + v.name() + "\"]";
    if (v.role() == Expr.Role.GRADIENT) return "dz";
    throw new CodegenException(m.name() + ": the derived rule refers to '" + v.name() + "' (" + v.role()
        + "), which generated PyTorch code does not have");
  }

  @Override
  public String knownValue(Expr e) {
    if (m.isLoss() || loweringForward || !e.equals(m.outputExpr())) return null;
    return "cache[\"" + m.output().name() + "\"]";
  }

  @Override
  public int memoSlot(Expr e) {
    Integer known = memo.get(e);
    if (known != null) return known;
    int slot = memo.size();
    memo.put(e, slot);
    List<String> lines = new ArrayList<>();
    String result = new Lowering(this, p -> emitter.emit(p, lines), true).memoBody(e);
    memoSlots.add(new PyMemo(slot, e, new PyBody(lines, result)));
    return slot;
  }

  @Override
  public int part(Expr e, boolean withDirection) {
    boolean dz = Exprs.variables(e).stream().anyMatch(x -> x.role() == Expr.Role.GRADIENT);
    int index = parts.size();
    parts.add(null); // reserve the index: a part's body may request others
    PyBody body = lower(false, l -> withDirection ? l.apply(e, "v") : l.value(e));
    parts.set(index, new PyPart(index, e, dz, withDirection, body));
    return index;
  }

  @Override
  public String partCall(int index, String v) {
    boolean dz = parts.get(index).usesDz();
    return "self._part" + index + "(cache" + (dz ? ", dz" : "") + (v == null ? "" : ", " + v) + ")";
  }

  @Override
  public String function(ElementwiseFunction f, int order) {
    return scalars.function(f, order);
  }

  @Override
  public String functionConstant(ElementwiseFunction f, int order) {
    return scalars.function(f, order);
  }

  @Override
  public String functionOfValue(ElementwiseFunction f, int order) {
    return scalars.functionOfValue(f, order);
  }

  @Override
  public String geometry(Expr.ConvDims g) {
    throw new CodegenException("PyTorch code spells geometries inline");
  }
}
