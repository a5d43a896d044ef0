package org.hbp.codegen;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.hbp.calculus.Dim;
import org.hbp.calculus.ElementwiseFunction;
import org.hbp.calculus.Expr;
import org.hbp.dsl.ModuleSpec;

/**
 * The PyTorch target's seam to {@link Lowering} ({@link TargetLowering}; its twin for Java operators
 * is {@link BodyLowering}): lowers the expressions of one module's methods into the same kernel
 * programs as the Java operators and renders them with {@link PyTorchEmitter} as Python bodies. Its
 * code reads leaves as {@code cache["x"]}, the output gradient as {@code dz}, directions as
 * {@code v}; memo slots and parts are methods {@code self._memoK(cache)} and
 * {@code self._partK(cache[, dz][, v])}.
 */
final class PyTorchLowering extends TargetLowering<List<String>, PyTorchLowering.PyBody> {
  /** Python statements (unindented) and the name holding their result. */
  record PyBody(List<String> lines, String result) {}

  /** A memo method's slot, expression and body. */
  record PyMemo(int slot, Expr expr, PyBody body) {}

  /** A part method's index, expression, whether it takes dz and directions, and body. */
  record PyPart(int index, Expr expr, boolean usesDz, boolean directions, PyBody body) {}

  private final PyTorchScalars scalars = new PyTorchScalars();
  private final PyTorchEmitter emitter;
  private final List<PyMemo> memoSlots = new ArrayList<>();
  /** Part methods by index (a part's body may request others: its slot is reserved first). */
  private final List<PyPart> parts = new ArrayList<>();

  /** The Python names of the module's dims and variables. */
  private final PyTorchNames.ModuleNames names;

  PyTorchLowering(ModuleSpec m, Set<Expr> shared) {
    super(m, new Notation(m), shared);
    this.names = PyTorchNames.of(m);
    this.emitter = new PyTorchEmitter(this, scalars, this::dim);
  }

  /** The Python names of the module's dims and variables ({@link PyTorchNames#of}). */
  PyTorchNames.ModuleNames names() {
    return names;
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

  /**
   * A dim's DSL text ({@code (h + 2*p - 1)/s + 1}) as a Python int expression over the module's
   * attributes (each dim under its Python name).
   */
  String python(String dimText) {
    return NAME.matcher(dimText.replace("/", "//"))
        .replaceAll(r -> java.util.regex.Matcher.quoteReplacement("self." + names.of(r.group())));
  }

  // ---- bodies ----

  /** {@code matrix * v} for directions {@code v}: columns [V, N, cols(matrix), 1]. */
  PyBody product(Expr matrix) {
    return lower(false, l -> l.apply(matrix, "v"));
  }

  /** {@code sum_n J_n' v_n} over the batch for directions v of the output. */
  PyBody summedTransposedProduct(Expr jacobian) {
    return lower(false, l -> l.applySummed(Lowering.transposed(jacobian), "v"));
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

  // ---- the target ----

  @Override
  List<String> sink() {
    return new ArrayList<>();
  }

  @Override
  Lowering lowering(List<String> lines, boolean perForwardPass) {
    return new Lowering(this, p -> emitter.emit(p, lines), perForwardPass);
  }

  @Override
  PyBody body(List<String> lines, String result) {
    return new PyBody(lines, result);
  }

  @Override
  String cacheRead(String name) {
    return "cache[\"" + name + "\"]";
  }

  @Override
  String generatedCode() {
    return "generated PyTorch code";
  }

  @Override
  void memoLowered(int slot, Expr e, PyBody body) {
    memoSlots.add(new PyMemo(slot, e, body));
  }

  @Override
  void partRequested(int index) {
    parts.add(null); // reserve the index: a part's body may request others
  }

  @Override
  void partLowered(int index, Expr e, boolean usesDz, boolean withDirection, PyBody body) {
    parts.set(index, new PyPart(index, e, usesDz, withDirection, body));
  }

  @Override
  String partName(int index) {
    return "self._part" + index;
  }

  // ---- Lowering.Context: the Python forms ----

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
