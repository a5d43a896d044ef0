package org.hbp.codegen;

import static org.hbp.codegen.OperatorWriter.STRING;
import static org.hbp.codegen.OperatorWriter.override;

import com.palantir.javapoet.MethodSpec;
import com.palantir.javapoet.TypeName;
import java.util.ArrayList;
import java.util.List;
import javax.lang.model.element.Modifier;
import org.hbp.calculus.Expr;
import org.hbp.codegen.OperatorModel.Body;
import org.hbp.codegen.OperatorModel.MixedPlan;

/**
 * Writes a module's mixed-residual methods from its {@link OperatorModel}: per ordered pair (a, b)
 * of different variables whose mixed residual {@code M_ab = sum_k dz_k d²z_k/(da db)} is not zero,
 * {@code mixedResidualMatProd_a_b(cache, dz, v)}; then the dispatching override
 * {@code mixedResidualMatProd(cache, wrt, of, dz, v)} (the residual itself for {@code wrt = of},
 * zeros for a vanishing pair) and {@code hasMixedResiduals()}; nothing where the analyser could
 * not derive them (the runtime's defaults then answer that there are none).
 */
final class MixedResidualMethods {
  private MixedResidualMethods() {}

  static List<MethodSpec> methods(OperatorModel model) {
    List<MethodSpec> out = new ArrayList<>();
    if (model.mixed().isEmpty()) return out;
    List<MixedPlan> mixed = model.mixed().get();
    for (MixedPlan p : mixed) p.product().ifPresent(body -> out.add(product(model, p, body)));
    out.add(dispatch(model, mixed));
    out.add(override("hasMixedResiduals", TypeName.BOOLEAN).addStatement("return true").build());
    return out;
  }

  private static MethodSpec product(OperatorModel model, MixedPlan p, Body body) {
    Notation n = model.notation();
    Expr.Var a = p.residual().wrt(), b = p.residual().of();
    Expr.Var z = model.module().output();
    MethodSpec.Builder m = MethodSpec.methodBuilder(p.method()).addModifiers(Modifier.PUBLIC).returns(Names.BATCH)
        .addParameter(Names.FORWARD_CACHE, "cache").addParameter(Names.BATCH, "dz").addParameter(Names.BATCH, "v");
    m.addJavadoc("M v with the mixed residual of $L and $L at the output gradient dz:\n<pre>{@code M = $L}</pre>\n", a.name(), b.name(),
        Names.comment(n.text(p.residual().residual())));
    m.addJavadoc("M is $L x $L; dz: [N] of shape $L; v: [N x V] of shape $L; result: [N x V] of shape $L.\n", n.dimText(a.shape().numel()),
        n.dimText(b.shape().numel()), n.shapeText(z.shape()), n.shapeText(b.shape()), n.shapeText(a.shape()));
    m.addStatement("dz = shaped(dz, $S, \"dz\")", z.name());
    return m.addCode(body.code()).addStatement("return be.reshape($L, $L, $L)", body.result(), n.rows(a.shape()), n.cols(a.shape())).build();
  }

  private static MethodSpec dispatch(OperatorModel model, List<MixedPlan> mixed) {
    MethodSpec.Builder b = override("mixedResidualMatProd", Names.BATCH).addParameter(Names.FORWARD_CACHE, "cache")
        .addParameter(STRING, "wrt").addParameter(STRING, "of").addParameter(Names.BATCH, "dz").addParameter(Names.BATCH, "v");
    b.addStatement("requireDifferentiable(wrt)").addStatement("requireDifferentiable(of)");
    b.addStatement("if (wrt.equals(of)) return residualMatProd(cache, wrt, dz, v)");
    b.beginControlFlow("switch (wrt + \",\" + of)");
    for (MixedPlan p : mixed) {
      String a = p.residual().wrt().name(), o = p.residual().of().name();
      b.addCode("case $S:\n$>", a + "," + o);
      if (p.product().isPresent()) b.addStatement("return $N(cache, dz, v)", p.method());
      else b.addStatement("return zerosIn($S, shaped(v, $S, \"mixedResidualMatProd\"))", a, o);
      b.addCode("$<");
    }
    return b.addCode("default:\n$>").addStatement("throw new IllegalStateException(MODULE + \": no mixed residual of \" + wrt + \" and \" + of)")
        .addCode("$<").endControlFlow().build();
  }
}
