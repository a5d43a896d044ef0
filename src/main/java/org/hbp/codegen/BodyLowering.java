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
import org.hbp.codegen.OperatorModel.Body;
import org.hbp.codegen.OperatorModel.GeometryField;
import org.hbp.codegen.OperatorModel.MemoSlot;
import org.hbp.codegen.OperatorModel.PartMethod;
import org.hbp.dsl.ModuleSpec;

/**
 * The Java operators' seam to {@link Lowering} ({@link TargetLowering}; its twin for PyTorch code is
 * {@link PyTorchLowering}): lowers the expressions of one class's methods into {@link Body bodies}
 * of backend calls, and collects on the way the memo slots, helper methods, scalar functions and
 * geometries the bodies use. The only class that calls {@code Lowering} for Java.
 *
 * <p>Numbering follows the order of requests: lower the bodies in the order the class lists them.
 */
final class BodyLowering extends TargetLowering<CodeBlock.Builder, Body> {
  private final ScalarMethods scalars;
  /** Memo methods in the order their bodies were completed (a memo's body may request another). */
  private final List<MemoSlot> memoSlots = new ArrayList<>();
  /** Part methods in the order their bodies were completed (a part's body may request another). */
  private final List<PartMethod> parts = new ArrayList<>();
  private final Map<Expr.ConvDims, String> geometries = new LinkedHashMap<>();

  BodyLowering(ModuleSpec m, String className, Notation notation, Set<Expr> shared) {
    super(m, notation, shared);
    this.scalars = new ScalarMethods(className, this);
  }

  /** Whether a Jacobian is the same for every sample (it reads no input). */
  static boolean sampleIndependent(Expr jacobian) {
    return Lowering.sampleIndependent(jacobian);
  }

  // ---- the target ----

  @Override
  CodeBlock.Builder sink() {
    return CodeBlock.builder();
  }

  @Override
  Lowering lowering(CodeBlock.Builder code, boolean perForwardPass) {
    return new Lowering(this, code, perForwardPass);
  }

  @Override
  Body body(CodeBlock.Builder code, String result) {
    return new Body(code.build(), result);
  }

  @Override
  String cacheRead(String name) {
    return "cache.get(\"" + name + "\")";
  }

  @Override
  String generatedCode() {
    return "a generated operator";
  }

  @Override
  void memoLowered(int slot, Expr e, Body body) {
    memoSlots.add(new MemoSlot(slot, e, body));
  }

  @Override
  void partLowered(int index, Expr e, boolean usesDz, boolean withDirection, Body body) {
    parts.add(new PartMethod(Names.partMethod(index), e, usesDz, withDirection, body));
  }

  @Override
  String partName(int index) {
    return Names.partMethod(index);
  }

  // ---- bodies ----

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
    String r = notation.dim(block.shape().cols());
    return lowerInto(false, (lowering, code) -> {
      String u = lowering.fresh();
      code.addStatement("$T $L = be.reshape($T.shaped(be, MODULE, v, \"the factor's columns\", new int[] {$L, 1}, $S), $L, 1)", Names.BATCH, u,
          Names.OPERATOR_SUPPORT, r, method, r);
      return lowering.apply(block, u);
    });
  }

  /** A body computing {@code sum_n J_n' v_n} over the batch for directions v of the variable {@code of}. */
  Body summedTransposedProduct(Expr jacobian, Expr.Var of, String method) {
    return directions(of, method, (lowering, v) -> lowering.applySummed(Lowering.transposed(jacobian), v));
  }

  private Body directions(Expr.Var of, String method, BiFunction<Lowering, String, String> apply) {
    return lowerInto(false, (lowering, code) -> {
      String v = lowering.fresh();
      code.addStatement("$T $L = be.reshape(shaped(v, $S, $S), $L, 1)", Names.BATCH, v, of.name(), method, notation.dim(of.shape().numel()));
      return apply.apply(lowering, v);
    });
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

  // ---- Lowering.Context: the Java forms ----

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
