package org.hbp.codegen;

import com.palantir.javapoet.AnnotationSpec;
import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.CodeBlock;
import com.palantir.javapoet.FieldSpec;
import com.palantir.javapoet.MethodSpec;
import com.palantir.javapoet.ParameterizedTypeName;
import com.palantir.javapoet.TypeName;
import com.palantir.javapoet.TypeSpec;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;
import javax.lang.model.element.Modifier;
import org.hbp.calculus.Dim;
import org.hbp.calculus.Expr;
import org.hbp.codegen.OperatorModel.FunctionConstant;
import org.hbp.codegen.OperatorModel.GeometryField;
import org.hbp.codegen.OperatorModel.LossPlan;
import org.hbp.codegen.OperatorModel.MemoSlot;
import org.hbp.codegen.OperatorModel.PartMethod;
import org.hbp.codegen.OperatorModel.ScalarMethod;
import org.hbp.codegen.OperatorModel.VariablePlan;
import org.hbp.dsl.ModuleSpec;

/**
 * Writes the class of an {@link OperatorModel} (JavaPoet): constants, fields and constructor,
 * the operator's common methods, the rule methods ({@link RuleMethods}), then the memo slots,
 * helper parts and scalar functions the bodies call. Writes only what the model says; decides
 * nothing.
 */
final class OperatorWriter {
  private OperatorWriter() {}

  static final TypeName STRING = ClassName.get(String.class);
  private static final TypeName LIST_OF_STRING = ParameterizedTypeName.get(ClassName.get(List.class), STRING);
  static final TypeName MAP_OF_DIMS = ParameterizedTypeName.get(ClassName.get(Map.class), STRING, ClassName.get(Integer.class));
  private static final ClassName OPERATORS = ClassName.get("org.hbp.runtime", "OperatorSupport");

  /** The class of one module or loss. */
  static TypeSpec write(OperatorModel model) {
    ModuleSpec m = model.module();
    TypeSpec.Builder type = TypeSpec.classBuilder(model.className())
        .addModifiers(Modifier.PUBLIC, Modifier.FINAL)
        .superclass(m.isLoss() ? Names.ABSTRACT_LOSS : Names.ABSTRACT_MODULE)
        .addAnnotation(AnnotationSpec.builder(ClassName.get("javax.annotation.processing", "Generated"))
            .addMember("value", "$S", OperatorGenerator.GENERATOR).addMember("comments", "$S", "from " + model.label()).build());
    type.addJavadoc(classDoc(model));
    type.addField(constant(STRING, "MODULE", CodeBlock.of("$S", m.name()), "The module's name in its spec."));
    type.addField(constant(STRING, "SPEC_SOURCE", CodeBlock.of("$S", model.label()), "The spec this class was generated from."));
    type.addField(constant(STRING, "SPEC_SHA256", CodeBlock.of("$S", model.specSha256()),
        "SHA-256 of the spec's text when this class was generated."));
    type.addField(constant(STRING, "FORWARD", CodeBlock.of("$S", OperatorGenerator.forwardText(m)), "The forward expression."));
    for (VariablePlan p : model.variables())
      type.addField(constant(Names.RESIDUAL_KIND, "RESIDUAL_KIND_" + p.name(),
          CodeBlock.of("$T.$L", Names.RESIDUAL_KIND, p.residualKind().name()), "The derived residual of " + p.name() + " is " + p.residualKind().label() + "."));
    type.addField(constant(TypeName.INT, "MEMO_SLOTS", CodeBlock.of("$L", model.memoSlots().size()),
        "Forward-only subexpressions memoized per forward pass."));
    for (String d : allDims(m)) type.addField(FieldSpec.builder(TypeName.INT, Names.dimField(d), Modifier.PRIVATE, Modifier.FINAL).build());
    for (GeometryField g : model.geometries())
      type.addField(FieldSpec.builder(Names.CONV_GEOMETRY, g.name(), Modifier.PRIVATE, Modifier.FINAL).build());
    type.addMethod(constructor(model));
    type.addMethods(commonMethods(model));
    type.addMethods(m.isLoss() ? RuleMethods.loss(model) : RuleMethods.module(model));
    for (MemoSlot s : model.memoSlots()) type.addMethod(memoMethod(model, s));
    for (PartMethod p : model.parts()) type.addMethod(partMethod(model, p));
    for (ScalarMethod f : model.scalarMethods()) type.addMethod(scalarMethod(f));
    for (FunctionConstant c : model.functionConstants()) type.addField(functionConstant(model, c));
    model.functionConstants().stream().sorted(Comparator.comparing(FunctionConstant::method)).forEach(c -> type.addMethod(chunkMethod(c)));
    return type.build();
  }

  static FieldSpec constant(TypeName t, String name, CodeBlock init, String doc) {
    return FieldSpec.builder(t, name, Modifier.PUBLIC, Modifier.STATIC, Modifier.FINAL).initializer(init).addJavadoc("$L\n", doc).build();
  }

  static MethodSpec.Builder override(String name, TypeName returns) {
    return MethodSpec.methodBuilder(name).addAnnotation(Override.class).addModifiers(Modifier.PUBLIC).returns(returns);
  }

  /** The quoted, comma-separated names of variables, for {@code List.of(...)}. */
  static String names(List<Expr.Var> vs) {
    return vs.stream().map(v -> "\"" + v.name() + "\"").collect(Collectors.joining(", "));
  }

  private static List<String> allDims(ModuleSpec m) {
    List<String> out = new ArrayList<>();
    for (Dim d : m.dims()) out.add(d.toString());
    out.addAll(m.derivedDims().keySet());
    return out;
  }

  private static CodeBlock classDoc(OperatorModel model) {
    ModuleSpec m = model.module();
    Notation n = model.notation();
    CodeBlock.Builder b = CodeBlock.builder();
    b.add("$L {@code $L}, generated from {@code $L}.\n\n", m.isLoss() ? "Loss" : "Module", m.name(), model.label());
    b.add("<pre>{@code\n$L = $L\n", m.output().name(), Names.comment(n.text(m.outputExpr())));
    for (Expr.Var v : m.variables())
      b.add("$L $L: $L\n", v.role().name().toLowerCase(Locale.ROOT), v.name(), n.shapeText(v.shape()));
    b.add("}</pre>\n\n");
    b.add("Derived rules (Magnus-Neudecker, column-major vec):\n<pre>{@code\n");
    for (LossPlan p : model.losses()) {
      b.add("gradient wrt $L = $L\n", p.name(), Names.comment(n.text(p.rule().gradient())));
      b.add("Hessian wrt $L = $L  (psd: $L)\n", p.name(), Names.comment(n.text(p.rule().hessian())), p.rule().psd().value());
      p.rule().factor().ifPresent(f -> b.add("factor wrt $L: S = $L  (H = S*S')\n", p.name(), Names.comment(f.text(n::text))));
    }
    for (VariablePlan p : model.variables()) {
      b.add("J_$L = $L\n", p.name(), Names.comment(n.text(p.rule().compact().jacobian())));
      b.add("H_$L = $L  (residual: $L)\n", p.name(), Names.comment(n.text(p.rule().compact().hbp())), p.residualKind().label());
    }
    b.add("}</pre>\n");
    return b.build();
  }

  private static MethodSpec constructor(OperatorModel model) {
    ModuleSpec m = model.module();
    Notation n = model.notation();
    MethodSpec.Builder c = MethodSpec.constructorBuilder().addModifiers(Modifier.PUBLIC)
        .addParameter(Names.BACKEND, "backend").addParameter(MAP_OF_DIMS, "dims")
        .addJavadoc("An operator for the given dims ($L); derived dims are computed.\n",
            m.dims().stream().map(Dim::toString).collect(Collectors.joining(", ")));
    c.addStatement("super(backend)");
    for (Dim d : m.dims())
      c.addStatement("this.$L = $T.requireDim(MODULE, dims, $S)", Names.dimField(d.toString()), OPERATORS, d.toString());
    for (var e : m.derivedDims().entrySet())
      c.addStatement("this.$L = $T.derivedDim(MODULE, $S, $S, $L)", Names.dimField(e.getKey()), OPERATORS, e.getKey(),
          e.getValue().toString(), e.getValue().toJava(Names::dimField));
    for (GeometryField g : model.geometries()) {
      Expr.ConvDims cg = g.geometry();
      c.addStatement("this.$L = new $T($L, $L, $L, $L, $L, $L, $L)", g.name(), Names.CONV_GEOMETRY, n.dim(cg.c()), n.dim(cg.h()),
          n.dim(cg.w()), n.dim(cg.kernel()), n.dim(cg.stride()), n.dim(cg.padding()), n.dim(cg.dilation()));
    }
    return c.build();
  }

  private static List<MethodSpec> commonMethods(OperatorModel model) {
    ModuleSpec m = model.module();
    List<MethodSpec> out = new ArrayList<>();
    out.add(override("name", STRING).addStatement("return MODULE").build());
    out.add(override("specSource", STRING).addStatement("return SPEC_SOURCE").build());
    MethodSpec.Builder dims = override("dims", MAP_OF_DIMS);
    dims.addStatement("$T<String, Integer> all = new $T<>()", Map.class, LinkedHashMap.class);
    for (String d : allDims(m)) dims.addStatement("all.put($S, $L)", d, Names.dimField(d));
    dims.addStatement("return $T.unmodifiableMap(all)", Collections.class);
    out.add(dims.build());
    out.add(listOf("inputs", m.withRole(Expr.Role.INPUT)));
    if (!m.isLoss()) {
      out.add(listOf("parameters", m.withRole(Expr.Role.PARAM)));
      out.add(listOf("dataVariables", m.withRole(Expr.Role.DATA)));
      out.add(listOf("indexVariables", m.withRole(Expr.Role.INDEX)));
    }
    out.add(listOf("constants", m.variables().stream()
        .filter(v -> v.role() == Expr.Role.DATA || v.role() == Expr.Role.INDEX || v.role() == Expr.Role.TARGET).toList()));
    out.add(override("outputName", STRING).addStatement("return $S", m.output().name()).build());
    MethodSpec.Builder shape = override("itemShape", TypeName.get(int[].class)).addParameter(STRING, "variable");
    shape.beginControlFlow("switch (variable)");
    List<Expr.Var> all = new ArrayList<>(m.variables());
    all.add(m.output());
    for (Expr.Var v : all)
      shape.addCode("case $S:\n$>", v.name())
          .addStatement("return new int[] {$L, $L}", model.notation().rows(v.shape()), model.notation().cols(v.shape())).addCode("$<");
    shape.addCode("default:\n$>")
        .addStatement("throw new IllegalArgumentException(MODULE + \": no variable named '\" + variable + \"'\")")
        .addCode("$<").endControlFlow();
    out.add(shape.build());
    return out;
  }

  private static MethodSpec listOf(String method, List<Expr.Var> vs) {
    return override(method, LIST_OF_STRING).addStatement("return $T.of($L)", List.class, names(vs)).build();
  }

  private static MethodSpec memoMethod(OperatorModel model, MemoSlot s) {
    return MethodSpec.methodBuilder(s.method()).addModifiers(Modifier.PRIVATE).returns(Names.BATCH)
        .addParameter(Names.FORWARD_CACHE, "cache")
        .addJavadoc("Memo slot $L, computed once per forward pass:\n<pre>{@code $L}</pre>\n", s.slot(),
            Names.comment(model.notation().text(s.expr())))
        .addCode("return cache.memo($L, () -> {\n$>", s.slot()).addCode(s.body().code()).addStatement("return $L", s.body().result())
        .addCode("$<});\n").build();
  }

  private static MethodSpec partMethod(OperatorModel model, PartMethod p) {
    MethodSpec.Builder b = MethodSpec.methodBuilder(p.name()).addModifiers(Modifier.PRIVATE).returns(Names.BATCH)
        .addParameter(Names.FORWARD_CACHE, "cache");
    if (p.usesDz()) b.addParameter(Names.BATCH, "dz");
    if (p.directions()) b.addParameter(Names.BATCH, "v");
    b.addJavadoc("Part of a sum too large for one method (the JVM limits a method to 64 KB):\n<pre>{@code $L$L}</pre>\n",
        Names.comment(model.notation().text(p.expr())), p.directions() ? " * v" : "");
    return b.addCode(p.body().code()).addStatement("return $L", p.body().result()).build();
  }

  private static MethodSpec scalarMethod(ScalarMethod f) {
    return MethodSpec.methodBuilder(f.name()).addModifiers(Modifier.PRIVATE, Modifier.STATIC).returns(double.class)
        .addParameter(double.class, f.parameter()).addJavadoc(f.javadoc()).addStatement("return $L", f.returned()).build();
  }

  private static FieldSpec functionConstant(OperatorModel model, FunctionConstant c) {
    String cls = model.className(), method = c.method();
    return FieldSpec.builder(Names.SCALAR_FUNCTION, c.field(), Modifier.PRIVATE, Modifier.STATIC, Modifier.FINAL)
        .addJavadoc("$L in Java (per entry and per chunk) and in OpenCL C, for {@code be.map}.\n", method)
        .initializer(c.builtin()
            ? CodeBlock.of("new $T($S, $S, $L::$L, $L::$L_chunk, $S)", Names.SCALAR_FUNCTION, cls + "_" + method, c.openClSource(),
                cls, method, cls, method, method)
            : CodeBlock.of("new $T($S, $S, $L::$L, $L::$L_chunk)", Names.SCALAR_FUNCTION, cls + "_" + method, c.openClSource(),
                cls, method, cls, method))
        .build();
  }

  private static MethodSpec chunkMethod(FunctionConstant c) {
    return MethodSpec.methodBuilder(c.method() + "_chunk").addModifiers(Modifier.PRIVATE, Modifier.STATIC)
        .addParameter(double[].class, "values").addParameter(int.class, "n")
        .addJavadoc("{@code values[i] = $L(values[i])} for {@code i < n}: one loop per function, compiled with the function inlined.\n",
            c.method())
        .addStatement("for (int i = 0; i < n; i++) values[i] = $L(values[i])", c.method()).build();
  }
}
