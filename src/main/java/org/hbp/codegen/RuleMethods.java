package org.hbp.codegen;

import static org.hbp.codegen.OperatorWriter.STRING;
import static org.hbp.codegen.OperatorWriter.names;
import static org.hbp.codegen.OperatorWriter.override;

import com.palantir.javapoet.ArrayTypeName;
import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.CodeBlock;
import com.palantir.javapoet.MethodSpec;
import com.palantir.javapoet.ParameterizedTypeName;
import com.palantir.javapoet.TypeName;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.BiFunction;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import javax.lang.model.element.Modifier;
import org.hbp.calculus.Expr;
import org.hbp.calculus.Exprs;
import org.hbp.calculus.Shape;
import org.hbp.codegen.OperatorModel.Body;
import org.hbp.codegen.OperatorModel.LossPlan;
import org.hbp.codegen.OperatorModel.Lowered;
import org.hbp.codegen.OperatorModel.VariablePlan;
import org.hbp.dsl.ModuleSpec;

/**
 * Writes the methods of a class's rules from its {@link OperatorModel}: the forward method, then for
 * a module per variable w {@code jacMatProd_w}, {@code jacTMatProd_w}, {@code jacTMatProdSum_w},
 * {@code residualMatProd_w} (and {@code residualDiagonal_w}, {@code kroneckerFactor_w} where the
 * model has them) followed by the dispatching overrides and the facts; for a loss
 * {@code gradient_x}, {@code hessianMatProd_x}, {@code factorMatProd_x} (where a factor H = S S' is derived),
 * their dispatch, {@code hessianIsPsd} and {@code factorRanks}.
 */
final class RuleMethods {
  private RuleMethods() {}

  private static final TypeName MAP_OF_BATCHES = ParameterizedTypeName.get(ClassName.get(Map.class), STRING, Names.BATCH);

  /** The methods of a module's class, in order. */
  static List<MethodSpec> module(OperatorModel model) {
    List<MethodSpec> out = new ArrayList<>();
    out.add(forward(model));
    for (VariablePlan p : model.variables()) {
      out.add(jacMatProd(model, p, false));
      out.add(jacMatProd(model, p, true));
      out.add(jacTMatProdSum(model, p));
      out.add(residualMatProd(model, p));
      p.residualDiagonal().ifPresent(d -> out.add(residualDiagonal(model, p, d)));
      p.kroneckerFactor().ifPresent(a -> out.add(kroneckerFactor(model, p, a)));
    }
    List<VariablePlan> all = model.variables();
    List<String> wrts = all.stream().map(VariablePlan::name).toList();
    out.add(dispatch("jacMatProd", wrts, "v"));
    out.add(dispatch("jacTMatProd", wrts, "v"));
    out.add(dispatch("jacTMatProdSum", wrts, "v"));
    out.add(dispatch("residualMatProd", wrts, "dz", "v"));
    out.addAll(MixedResidualMethods.methods(model));
    MethodSpec.Builder kind = override("residualKind", Names.RESIDUAL_KIND).addParameter(STRING, "wrt").beginControlFlow("switch (wrt)");
    for (VariablePlan p : all) kind.addCode("case $S:\n$>", p.name()).addStatement("return RESIDUAL_KIND_$L", p.name()).addCode("$<");
    out.add(endSwitch(kind, "throw unknown(wrt)"));
    MethodSpec.Builder exact = MethodSpec.methodBuilder("exactResidualDiagonal").addAnnotation(Override.class)
        .addModifiers(Modifier.PROTECTED).returns(Names.BATCH)
        .addParameter(Names.FORWARD_CACHE, "cache").addParameter(STRING, "wrt").addParameter(Names.BATCH, "dz")
        .beginControlFlow("switch (wrt)");
    for (VariablePlan p : all)
      if (p.residualDiagonal().isPresent())
        exact.addCode("case $S:\n$>", p.name()).addStatement("return $N(cache, dz)", "residualDiagonal_" + p.name()).addCode("$<");
    out.add(endSwitch(exact, "throw new IllegalStateException(MODULE + \": the residual with respect to '\" + wrt + \"' is not diagonal\")"));
    out.add(jacobianDiagonal(model));
    if (all.stream().anyMatch(VariablePlan::jacobianIsSelection)) out.add(jacobianSelection(model));
    out.add(override("jacobianIsShared", TypeName.BOOLEAN).addParameter(STRING, "wrt")
        .addStatement("return $T.of($L).contains(wrt)", List.class, quoted(all, VariablePlan::jacobianShared)).build());
    out.add(override("jacobianIsDiagonal", TypeName.BOOLEAN).addParameter(STRING, "wrt")
        .addStatement("return $T.of($L).contains(wrt)", List.class, quoted(all, VariablePlan::jacobianIsDiagonal)).build());
    out.add(override("jacobianIsSelection", TypeName.BOOLEAN).addParameter(STRING, "wrt")
        .addStatement("return $T.of($L).contains(wrt)", List.class, quoted(all, VariablePlan::jacobianIsSelection)).build());
    out.add(override("hasKroneckerFactor", TypeName.BOOLEAN).addParameter(STRING, "parameter")
        .addStatement("return $T.of($L).contains(parameter)", List.class, quoted(all, p -> p.kroneckerFactor().isPresent())).build());
    MethodSpec.Builder factor = override("kroneckerFactor", Names.BATCH).addParameter(Names.FORWARD_CACHE, "cache")
        .addParameter(STRING, "parameter").beginControlFlow("switch (parameter)");
    for (VariablePlan p : all)
      if (p.kroneckerFactor().isPresent())
        factor.addCode("case $S:\n$>", p.name()).addStatement("return $N(cache)", "kroneckerFactor_" + p.name()).addCode("$<");
    out.add(endSwitch(factor, "throw new IllegalArgumentException(MODULE + \": the Jacobian with respect to '\" + parameter"
        + " + \"' has no derived Kronecker factor kron(A', I)\")"));
    return out;
  }

  /** The methods of a loss's class, in order. */
  static List<MethodSpec> loss(OperatorModel model) {
    List<MethodSpec> out = new ArrayList<>();
    out.add(forward(model));
    for (LossPlan p : model.losses()) out.add(gradient(model, p));
    for (LossPlan p : model.losses()) out.add(hessianMatProd(model, p));
    for (LossPlan p : model.losses()) for (int i = 0; i < p.factor().size(); i++) out.add(factorMatProd(model, p, i));
    MethodSpec.Builder g = override("gradient", Names.BATCH).addParameter(Names.FORWARD_CACHE, "cache").addParameter(STRING, "wrt")
        .beginControlFlow("switch (wrt)");
    for (LossPlan p : model.losses()) g.addCode("case $S:\n$>", p.name()).addStatement("return $N(cache)", "gradient_" + p.name()).addCode("$<");
    out.add(endSwitch(g, "throw unknown(wrt)"));
    out.add(dispatch("hessianMatProd", model.losses().stream().map(LossPlan::name).toList(), "v"));
    MethodSpec.Builder psd = override("hessianIsPsd", TypeName.BOOLEAN).addParameter(STRING, "wrt").beginControlFlow("switch (wrt)");
    for (LossPlan p : model.losses()) psd.addCode("case $S:\n$>", p.name()).addStatement("return $L", p.psd()).addCode("$<");
    out.add(endSwitch(psd, "throw unknown(wrt)"));
    out.add(factorRanks(model));
    out.add(factorDispatch(model));
    if (model.losses().stream().anyMatch(p -> p.factor().isEmpty())) out.add(noFactorReason(model));
    return out;
  }

  /** {@code factorRanks(wrt)}: the column counts of the factor's blocks, none where no factor is derived. */
  private static MethodSpec factorRanks(OperatorModel model) {
    Notation n = model.notation();
    MethodSpec.Builder b = override("factorRanks", ArrayTypeName.of(TypeName.INT)).addParameter(STRING, "wrt").beginControlFlow("switch (wrt)");
    for (LossPlan p : model.losses()) {
      String ranks = p.rule().factor().map(f -> f.blockRanks().stream().map(n::dim).collect(Collectors.joining(", "))).orElse("");
      b.addCode("case $S:\n$>", p.name()).addStatement("return new int[] {$L}", ranks).addCode("$<");
    }
    return endSwitch(b, "throw unknown(wrt)");
  }

  /**
   * {@code noFactorReason(wrt)}: the derivation's reason for each input without a factor (why its
   * Hessian is not proven PSD, with the hint of what would help); emitted only where some input has
   * no factor, so the operators of factored losses keep the interface's blank default.
   */
  private static MethodSpec noFactorReason(OperatorModel model) {
    MethodSpec.Builder b = override("noFactorReason", STRING).addParameter(STRING, "wrt").beginControlFlow("switch (wrt)");
    for (LossPlan p : model.losses())
      b.addCode("case $S:\n$>", p.name()).addStatement("return $S", p.factor().isEmpty() ? p.rule().psd().reason() : "").addCode("$<");
    return endSwitch(b, "throw unknown(wrt)");
  }

  /** {@code factorMatProd(cache, wrt, block, v)}, dispatching to the blocks' methods. */
  private static MethodSpec factorDispatch(OperatorModel model) {
    MethodSpec.Builder b = override("factorMatProd", Names.BATCH).addParameter(Names.FORWARD_CACHE, "cache").addParameter(STRING, "wrt")
        .addParameter(TypeName.INT, "block").addParameter(Names.BATCH, "v").beginControlFlow("switch (wrt)");
    for (LossPlan p : model.losses()) {
      b.addCode("case $S:\n$>", p.name());
      int k = p.factor().size();
      if (k == 0) b.addStatement("throw noFactor(wrt)");
      else if (k == 1) b.addStatement("requireBlock(wrt, block, 1)").addStatement("return $N(cache, v)", Names.factorMethod(p.name(), 0, 1));
      else {
        b.beginControlFlow("switch (block)");
        for (int i = 0; i < k; i++) b.addCode("case $L:\n$>", i).addStatement("return $N(cache, v)", Names.factorMethod(p.name(), i, k)).addCode("$<");
        b.addCode("default:\n$>").addStatement("requireBlock(wrt, block, $L)", k).addStatement("return null").addCode("$<").endControlFlow();
      }
      b.addCode("$<");
    }
    return endSwitch(b, "throw unknown(wrt)");
  }

  private static MethodSpec factorMatProd(OperatorModel model, LossPlan p, int block) {
    Notation n = model.notation();
    int k = p.factor().size();
    Expr s = p.rule().factor().orElseThrow().blocks().get(block);
    MethodSpec.Builder f = publicMethod(Names.factorMethod(p.name(), block, k)).addParameter(Names.BATCH, "v");
    f.addJavadoc("$L u with $L of the derived factor of the Hessian with respect to $L, H = S*S'$L:\n<pre>{@code $L = $L}</pre>\n",
        k == 1 ? "S" : "S_" + block, k == 1 ? "S" : "block " + block + " of " + k, p.name(), k == 1 ? "" : " = sum S_i*S_i'",
        k == 1 ? "S" : "S_" + block, Names.comment(n.text(s)));
    f.addJavadoc("S is $L x $L; v: [N x V] directions of $L entries; result: [N x V] of shape $L.\n", n.dimText(s.shape().rows()),
        n.dimText(s.shape().cols()), n.dimText(s.shape().cols()), n.shapeText(p.rule().wrt().shape()));
    return returnShaped(f, n, p.factor().get(block), p.rule().wrt().shape());
  }

  private static MethodSpec forward(OperatorModel model) {
    ModuleSpec m = model.module();
    Notation n = model.notation();
    MethodSpec.Builder f = override("forward", Names.FORWARD_CACHE).addParameter(MAP_OF_BATCHES, "values");
    f.addJavadoc("Computes <pre>{@code $L = $L}</pre>\nfrom $L; items: $L.\n", m.output().name(), Names.comment(n.text(m.outputExpr())),
        m.variables().stream().map(Expr.Var::name).collect(Collectors.joining(", ")),
        m.variables().stream().map(v -> v.name() + " " + n.shapeText(v.shape())).collect(Collectors.joining(", ")) + " -> "
            + m.output().name() + " " + n.shapeText(m.output().shape()));
    f.addStatement("checkForwardValues(values, $T.of($L))", List.class, names(m.variables()));
    f.addStatement("$T cache = new $T(values, MEMO_SLOTS)", Names.FORWARD_CACHE, Names.FORWARD_CACHE);
    f.addCode(model.forward().code());
    f.addStatement("cache.put($S, $L)", m.output().name(), model.forward().result());
    f.addStatement("return cache");
    return f.build();
  }

  // ---- a module's methods per variable ----

  private static MethodSpec jacMatProd(OperatorModel model, VariablePlan p, boolean transposed) {
    Notation n = model.notation();
    Expr.Var w = p.rule().wrt(), z = p.rule().output();
    Expr.Var from = transposed ? z : w, to = transposed ? w : z;
    MethodSpec.Builder b = publicMethod((transposed ? "jacTMatProd_" : "jacMatProd_") + w.name()).addParameter(Names.BATCH, "v");
    b.addJavadoc("$L v with the Jacobian of $L with respect to $L:\n<pre>{@code J = $L}</pre>\n", transposed ? "J'" : "J", z.name(),
        w.name(), Names.comment(n.text(p.rule().compact().jacobian())));
    b.addJavadoc("J is $L x $L; v: [N x V] directions of shape $L; result: [N x V] of shape $L.\n", n.dimText(z.shape().numel()),
        n.dimText(w.shape().numel()), n.shapeText(from.shape()), n.shapeText(to.shape()));
    if (Exprs.isZero(p.rule().compact().jacobian()))
      return b.addStatement("return zerosIn($S, shaped(v, $S, $S))", to.name(), from.name(), (transposed ? "jacTMatProd_" : "jacMatProd_") + w.name())
          .build();
    return returnShaped(b, n, transposed ? p.jacobianTransposed() : p.jacobian(), to.shape());
  }

  private static MethodSpec jacTMatProdSum(OperatorModel model, VariablePlan p) {
    Notation n = model.notation();
    Expr.Var w = p.rule().wrt(), z = p.rule().output();
    MethodSpec.Builder b = publicMethod("jacTMatProdSum_" + w.name()).addParameter(Names.BATCH, "v");
    b.addJavadoc("sum_n J_n' v_n over the batch, with the Jacobian of $L with respect to $L:\n<pre>{@code J = $L}</pre>\n", z.name(),
        w.name(), Names.comment(n.text(p.rule().compact().jacobian())));
    b.addJavadoc("v: [N x V] directions of shape $L; result: [1 x V] of shape $L (the sum is pushed into the products).\n",
        n.shapeText(z.shape()), n.shapeText(w.shape()));
    if (Exprs.isZero(p.rule().compact().jacobian()))
      return b.addStatement("return zerosIn($S, 1, shaped(v, $S, $S).directions())", w.name(), z.name(), "jacTMatProdSum_" + w.name()).build();
    return returnShaped(b, n, p.jacobianTransposedSum(), w.shape());
  }

  private static MethodSpec residualMatProd(OperatorModel model, VariablePlan p) {
    Notation n = model.notation();
    Expr.Var w = p.rule().wrt();
    String name = "residualMatProd_" + w.name();
    MethodSpec.Builder b = publicMethod(name).addParameter(Names.BATCH, "dz").addParameter(Names.BATCH, "v");
    b.addJavadoc("R v with the exact residual (kind: $L) of $L at the output gradient dz:\n<pre>{@code R = $L}</pre>\n",
        p.residualKind().label(), w.name(), Names.comment(n.text(p.rule().compact().residual())));
    b.addJavadoc("R is $L x $L; dz: [N] of shape $L; v and result: [N x V] of shape $L.\n", n.dimText(w.shape().numel()),
        n.dimText(w.shape().numel()), n.shapeText(p.rule().output().shape()), n.shapeText(w.shape()));
    if (p.residual().isEmpty()) return b.addStatement("return be.zerosLike(shaped(v, $S, $S))", w.name(), name).build();
    return returnShaped(b.addCode(checkDz(p)), n, p.residual().get(), w.shape());
  }

  private static MethodSpec residualDiagonal(OperatorModel model, VariablePlan p, Lowered diag) {
    Notation n = model.notation();
    Expr.Var w = p.rule().wrt();
    MethodSpec.Builder b = publicMethod("residualDiagonal_" + w.name()).addParameter(Names.BATCH, "dz");
    b.addJavadoc("The diagonal of the exact residual of $L, in its shape $L:\n<pre>{@code diag(R) = $L}</pre>\n", w.name(),
        n.shapeText(w.shape()), Names.comment(n.text(diag.expr())));
    return returnShaped(b.addCode(checkDz(p)), n, diag.body(), w.shape());
  }

  private static MethodSpec kroneckerFactor(OperatorModel model, VariablePlan p, Lowered a) {
    Notation n = model.notation();
    MethodSpec.Builder b = publicMethod("kroneckerFactor_" + p.name());
    b.addJavadoc("The factor A of the derived Jacobian of $L, J = kron(A', I):\n<pre>{@code A = $L}</pre>\nper sample, $L x $L; "
        + "the HBP block is (A ⊗ I) Hz (A' ⊗ I).\n", p.name(), Names.comment(n.text(a.expr())), n.dimText(a.expr().shape().rows()),
        n.dimText(a.expr().shape().cols()));
    return b.addCode(a.body().code()).addStatement("return $L", a.body().result()).build();
  }

  /**
   * Diagonal Jacobians (elementwise modules): the batch-averaged propagation needs only the
   * diagonal, and a network applies it after a selection that follows the module.
   */
  private static MethodSpec jacobianDiagonal(OperatorModel model) {
    Notation n = model.notation();
    return jacobianPart(model, "jacobianDiagonal", VariablePlan::jacobianDiagonal, (p, d) -> {
      Shape s = p.rule().wrt().shape();
      return CodeBlock.builder().addStatement("return be.reshape($L, $L, $L)", d.result(), n.rows(s), n.cols(s)).build();
    });
  }

  /**
   * Selection Jacobians (an index select, a max-pool): the index map, so that a network can gather
   * and multiply by a diagonal in one kernel. Emitted only by classes that have one.
   */
  private static MethodSpec jacobianSelection(OperatorModel model) {
    return jacobianPart(model, "jacobianSelection", VariablePlan::jacobianSelection, (p, idx) -> CodeBlock.builder().addStatement("return $L", idx.result()).build());
  }

  /**
   * {@code name(cache, wrt)}: for each variable that has the part, a case that documents the
   * derived Jacobian, computes the part's body and returns it as {@code result} says; null for the
   * others.
   */
  private static MethodSpec jacobianPart(OperatorModel model, String name, Function<VariablePlan, Optional<Lowered>> part,
      BiFunction<VariablePlan, Body, CodeBlock> result) {
    Notation n = model.notation();
    MethodSpec.Builder m = MethodSpec.methodBuilder(name).addAnnotation(Override.class)
        .addModifiers(Modifier.PUBLIC).returns(Names.BATCH)
        .addParameter(Names.FORWARD_CACHE, "cache").addParameter(STRING, "wrt").beginControlFlow("switch (wrt)");
    for (VariablePlan p : model.variables()) {
      if (part.apply(p).isEmpty()) continue;
      Body body = part.apply(p).get().body();
      m.addCode("case $S: {\n$>", p.name()).addCode("// J = $L\n", Names.comment(n.text(p.rule().compact().jacobian()))).addCode(body.code())
          .addCode(result.apply(p, body)).addCode("$<}\n");
    }
    return endSwitch(m, "return null");
  }

  private static CodeBlock checkDz(VariablePlan p) {
    return CodeBlock.builder().addStatement("dz = shaped(dz, $S, \"dz\")", p.rule().output().name()).build();
  }

  // ---- a loss's methods per input ----

  private static MethodSpec gradient(OperatorModel model, LossPlan p) {
    Notation n = model.notation();
    MethodSpec.Builder g = publicMethod("gradient_" + p.name());
    g.addJavadoc("The gradient of the loss with respect to $L, per sample, shape $L:\n<pre>{@code $L}</pre>\n", p.name(),
        n.shapeText(p.rule().wrt().shape()), Names.comment(n.text(p.rule().gradient())));
    return returnShaped(g, n, p.gradient(), p.rule().wrt().shape());
  }

  private static MethodSpec hessianMatProd(OperatorModel model, LossPlan p) {
    Notation n = model.notation();
    MethodSpec.Builder h = publicMethod("hessianMatProd_" + p.name()).addParameter(Names.BATCH, "v");
    h.addJavadoc("H v with the Hessian of the loss with respect to $L (psd: $L):\n<pre>{@code H = $L}</pre>\n", p.name(),
        p.rule().psd().value(), Names.comment(n.text(p.rule().hessian())));
    return returnShaped(h, n, p.hessian(), p.rule().wrt().shape());
  }

  // ---- shared pieces ----

  /** {@code public Batch name(ForwardCache cache, ...)}. */
  private static MethodSpec.Builder publicMethod(String name) {
    return MethodSpec.methodBuilder(name).addModifiers(Modifier.PUBLIC).returns(Names.BATCH).addParameter(Names.FORWARD_CACHE, "cache");
  }

  /** The body, then its result reshaped to items of shape s. */
  private static MethodSpec returnShaped(MethodSpec.Builder b, Notation n, Body body, Shape s) {
    return b.addCode(body.code()).addStatement("return be.reshape($L, $L, $L)", body.result(), n.rows(s), n.cols(s)).build();
  }

  /** An override {@code name(cache, wrt, args...)} calling {@code name_w(cache, args...)} for the variable w named wrt. */
  private static MethodSpec dispatch(String name, List<String> wrts, String... args) {
    MethodSpec.Builder b = override(name, Names.BATCH).addParameter(Names.FORWARD_CACHE, "cache").addParameter(STRING, "wrt");
    for (String a : args) b.addParameter(Names.BATCH, a);
    b.beginControlFlow("switch (wrt)");
    for (String w : wrts)
      b.addCode("case $S:\n$>", w).addStatement("return $N(cache, $L)", name + "_" + w, String.join(", ", args)).addCode("$<");
    return endSwitch(b, "throw unknown(wrt)");
  }

  private static MethodSpec endSwitch(MethodSpec.Builder b, String defaultStatement) {
    return b.addCode("default:\n$>").addStatement(defaultStatement).addCode("$<").endControlFlow().build();
  }

  /** The quoted names of the variables for which {@code fact} holds. */
  private static String quoted(List<VariablePlan> plans, Predicate<VariablePlan> fact) {
    return plans.stream().filter(fact).map(p -> "\"" + p.name() + "\"").collect(Collectors.joining(", "));
  }
}
