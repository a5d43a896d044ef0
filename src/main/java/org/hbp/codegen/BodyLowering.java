package org.hbp.codegen;

import com.palantir.javapoet.CodeBlock;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BiFunction;
import org.hbp.calculus.ElementwiseFunction;
import org.hbp.calculus.Expr;
import org.hbp.calculus.Exprs;
import org.hbp.codegen.OperatorModel.Body;
import org.hbp.codegen.OperatorModel.GeometryField;
import org.hbp.codegen.OperatorModel.MemoSlot;
import org.hbp.codegen.OperatorModel.PartMethod;
import org.hbp.dsl.ModuleSpec;

/**
 * The seam between the analyser and {@link Lowering}: lowers the expressions of one class's
 * methods into {@link Body bodies} of backend calls, and answers Lowering's questions about the
 * class ({@link Lowering.Context}), collecting on the way the memo slots, helper methods, scalar
 * functions and geometries the bodies use. The only class that calls {@code Lowering}.
 *
 * <p>Numbering follows the order of requests: lower the bodies in the order the class lists them.
 */
final class BodyLowering implements Lowering.Context {
  private final ModuleSpec m;
  private final Notation notation;
  /** Subexpressions that occur more than once among the rules the class computes. */
  private final Set<Expr> shared;
  private final ScalarMethods scalars;
  private final Map<Expr, Integer> memo = new LinkedHashMap<>();
  /** Memo methods in the order their bodies were completed (a memo's body may request another). */
  private final List<MemoSlot> memoSlots = new ArrayList<>();
  private final List<PartMethod> parts = new ArrayList<>();
  private int partCount;
  private final Map<Expr.ConvDims, String> geometries = new LinkedHashMap<>();
  /** True while the forward method is lowered: the output is not in the cache yet. */
  private boolean loweringForward;

  BodyLowering(ModuleSpec m, String className, Notation notation, Set<Expr> shared) {
    this.m = m;
    this.notation = notation;
    this.shared = Set.copyOf(shared);
    this.scalars = new ScalarMethods(className, this);
  }

  /** Whether a Jacobian is the same for every sample (it reads no input). */
  static boolean sampleIndependent(Expr jacobian) {
    return Lowering.sampleIndependent(jacobian);
  }

  // ---- bodies ----

  /** The forward method's body: {@code z} computed from the forward values, temporaries released. */
  Body forward(Expr z) {
    CodeBlock.Builder code = CodeBlock.builder();
    Lowering lowering = new Lowering(this, code, true);
    loweringForward = true; // z is what this method computes: not yet in the cache
    String result = lowering.value(z);
    loweringForward = false;
    lowering.releaseTemporaries(result);
    return new Body(code.build(), result);
  }

  /** A body computing the value of e. */
  Body value(Expr e) {
    CodeBlock.Builder code = CodeBlock.builder();
    Lowering lowering = new Lowering(this, code);
    String result = lowering.value(e);
    lowering.releaseTemporaries(result);
    return new Body(code.build(), result);
  }

  /**
   * A body computing {@code matrix * v} for directions {@code v} of the variable {@code of}, which
   * it first checks ({@code shaped(v, of, method)}) and views as columns.
   */
  Body product(Expr matrix, Expr.Var of, String method) {
    return directions(of, method, (lowering, v) -> lowering.apply(matrix, v));
  }

  /**
   * A body computing {@code block * u} for directions u of the block's column count r (a loss
   * factor's block, numel x r), which it first checks and views as r x 1 columns.
   */
  Body factorProduct(Expr block, String method) {
    CodeBlock.Builder code = CodeBlock.builder();
    Lowering lowering = new Lowering(this, code);
    String u = lowering.fresh();
    String r = notation.dim(block.shape().cols());
    code.addStatement("$T $L = be.reshape($T.shaped(be, MODULE, v, \"the factor's columns\", new int[] {$L, 1}, $S), $L, 1)", Names.BATCH, u,
        Names.OPERATOR_SUPPORT, r, method, r);
    String result = lowering.apply(block, u);
    lowering.releaseTemporaries(result);
    return new Body(code.build(), result);
  }

  /** A body computing {@code sum_n J_n' v_n} over the batch for directions v of the variable {@code of}. */
  Body summedTransposedProduct(Expr jacobian, Expr.Var of, String method) {
    return directions(of, method, (lowering, v) -> lowering.applySummed(Lowering.transposed(jacobian), v));
  }

  private Body directions(Expr.Var of, String method, BiFunction<Lowering, String, String> apply) {
    CodeBlock.Builder code = CodeBlock.builder();
    Lowering lowering = new Lowering(this, code);
    String v = lowering.fresh();
    code.addStatement("$T $L = be.reshape(shaped(v, $S, $S), $L, 1)", Names.BATCH, v, of.name(), method, notation.dim(of.shape().numel()));
    String result = apply.apply(lowering, v);
    lowering.releaseTemporaries(result);
    return new Body(code.build(), result);
  }

  // ---- what the bodies used ----

  List<MemoSlot> memoSlots() {
    return List.copyOf(memoSlots);
  }

  List<PartMethod> parts() {
    return List.copyOf(parts);
  }

  List<GeometryField> geometries() {
    return geometries.entrySet().stream().map(e -> new GeometryField(e.getValue(), e.getKey())).toList();
  }

  ScalarMethods scalars() {
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
    if (Lowering.isForwardValue(v)) return "cache.get(\"" + v.name() + "\")";
    if (v.role() == Expr.Role.GRADIENT) return "dz";
    throw new CodegenException(m.name() + ": the derived rule refers to '" + v.name() + "' (" + v.role()
        + "), which a generated operator does not have");
  }

  @Override
  public String knownValue(Expr e) {
    if (m.isLoss() || loweringForward || !e.equals(m.outputExpr())) return null;
    return "cache.get(\"" + m.output().name() + "\")";
  }

  @Override
  public int memoSlot(Expr e) {
    Integer known = memo.get(e);
    if (known != null) return known;
    int slot = memo.size();
    memo.put(e, slot);
    // fresh locals: the body sees only leaves and other memos, never a caller's temporaries
    CodeBlock.Builder code = CodeBlock.builder();
    String result = new Lowering(this, code, true).memoBody(e);
    MemoSlot memoSlot = new MemoSlot(slot, e, new Body(code.build(), result));
    memoSlots.add(memoSlot);
    return slot;
  }

  @Override
  public int part(Expr e, boolean withDirection) {
    boolean dz = Exprs.variables(e).stream().anyMatch(x -> x.role() == Expr.Role.GRADIENT);
    int index = partCount++;
    CodeBlock.Builder code = CodeBlock.builder();
    Lowering lowering = new Lowering(this, code);
    String result = withDirection ? lowering.apply(e, "v") : lowering.value(e);
    lowering.releaseTemporaries(result);
    parts.add(new PartMethod(Names.partMethod(index), e, dz, withDirection, new Body(code.build(), result)));
    return index;
  }

  @Override
  public String partCall(int index, String v) {
    boolean dz = parts.stream().filter(p -> p.name().equals(Names.partMethod(index))).findFirst().orElseThrow().usesDz();
    return Names.partMethod(index) + "(cache" + (dz ? ", dz" : "") + (v == null ? "" : ", " + v) + ")";
  }

  @Override
  public String function(ElementwiseFunction f, int order) {
    return scalars.function(f, order);
  }

  @Override
  public String functionConstant(ElementwiseFunction f, int order) {
    return scalars.constant(scalars.function(f, order));
  }

  @Override
  public String functionOfValue(ElementwiseFunction f, int order) {
    return scalars.functionOfValue(f, order);
  }

  @Override
  public String geometry(Expr.ConvDims g) {
    return geometries.computeIfAbsent(g, k -> "geometry" + geometries.size());
  }
}
