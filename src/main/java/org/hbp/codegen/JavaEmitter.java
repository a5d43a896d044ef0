package org.hbp.codegen;

import com.palantir.javapoet.CodeBlock;
import java.util.ArrayList;
import java.util.List;
import org.hbp.calculus.Dim;
import org.hbp.calculus.Expr;
import org.hbp.codegen.program.Op;
import org.hbp.codegen.program.Passes;
import org.hbp.codegen.program.Program;
import org.hbp.codegen.program.Value;

/**
 * Renders a kernel {@link Program} as Java statements over the {@code Backend} kernels (the
 * generated code's local {@code be}): one {@code Batch t = be.kernel(...); // formula} per
 * statement, leaves inlined ({@code cache.get("x")}), then {@code be.release(t)} for each owned
 * value that does not escape. Another target (PyTorch code) is another emitter over the same
 * program; this one is the only place that knows the Java spelling of a kernel.
 */
final class JavaEmitter {
  private final Lowering.Context ctx;

  JavaEmitter(Lowering.Context ctx) {
    this.ctx = ctx;
  }

  /** The program's statements and its releases, appended to out. */
  void emit(Program p, CodeBlock.Builder out) {
    for (Program.Statement s : p.statements()) {
      if (s.op() instanceof Op.Leaf) continue; // named by its reference, used inline
      String java = expression(s.op());
      if (s.comment() == null) out.add("$T $L = $L;\n", Names.BATCH, s.out().name(), java);
      else out.add("$T $L = $L; // $L\n", Names.BATCH, s.out().name(), java, Names.comment(s.comment()));
    }
    for (Value v : Passes.releases(p)) out.addStatement("be.release($L)", v.name());
  }

  /** The Java expression computing an op. */
  String expression(Op op) {
    if (op instanceof Op.Leaf l) return l.known() ? ctx.knownValue(l.expr()) : ctx.leaf((Expr.Var) l.expr());
    if (op instanceof Op.Memo m) return memo(m.slot());
    if (op instanceof Op.Part p) return ctx.partCall(p.index(), p.direction() == null ? null : p.direction().name());
    if (op instanceof Op.Fill f) return be("fill", f.rows(), f.cols(), f.value());
    if (op instanceof Op.DimFill f) return "be.fill(1, 1, (double) (" + ctx.notation().dim(f.value()) + "))";
    if (op instanceof Op.Eye e) return be("eye", e.n());
    if (op instanceof Op.Add a) return be("add", a.a(), a.b());
    if (op instanceof Op.Subtract s) return be("subtract", s.a(), s.b());
    if (op instanceof Op.Multiply m) return be("multiply", m.a(), m.b());
    if (op instanceof Op.Scale s) return be("scale", s.a(), s.coefficient());
    if (op instanceof Op.Power p) return be("power", p.a(), p.exponent());
    if (op instanceof Op.Map m) return be("map", m.a(), m.f());
    if (op instanceof Op.MapMultiply m)
      return m.storedSlot() == null ? be("mapMultiply", m.a(), m.f(), m.b()) : call("mapMultiply", m.a(), m.f(), m.b(), "() -> " + memo(m.storedSlot()));
    if (op instanceof Op.MatMul m) return be("matmul", m.a(), m.transposeA(), m.b(), m.transposeB());
    if (op instanceof Op.MatMulAdd m) return be("matmulAdd", m.a(), m.transposeA(), m.b(), m.transposeB(), m.c());
    if (op instanceof Op.SumProducts m) return call("sumProducts", m.a(), m.transposeA(), m.b(), m.transposeB(), "cache");
    if (op instanceof Op.Transpose t) return be("transpose", t.a());
    if (op instanceof Op.Kron k) return be("kron", k.a(), k.b());
    if (op instanceof Op.Reshape r) return be("reshape", r.a(), r.rows(), r.cols());
    if (op instanceof Op.ColumnsAsDirections c) return be("columnsAsDirections", c.a());
    if (op instanceof Op.DirectionsAsColumns c) return be("directionsAsColumns", c.a(), c.cols());
    if (op instanceof Op.SamplesSum s) return call("samplesSum", s.a(), "cache");
    if (op instanceof Op.DiagMatrix d) return be("diagMatrix", d.a());
    if (op instanceof Op.Diagonal d) return be("diagonal", d.a());
    if (op instanceof Op.Trace t) return be("trace", t.a());
    if (op instanceof Op.Sum s) return be("sum", s.a());
    if (op instanceof Op.Softmax s) return be("softmax", s.a());
    if (op instanceof Op.LogSumExp l) return be("logSumExp", l.a());
    if (op instanceof Op.Inverse i) return be("inverse", i.a());
    if (op instanceof Op.Determinant d) return be("determinant", d.a());
    if (op instanceof Op.Unfold u) return be("unfold", u.x(), u.geometry());
    if (op instanceof Op.Fold f) return be("fold", f.columns(), f.geometry());
    if (op instanceof Op.Convolution c) return be("convolution", c.w(), c.x(), c.geometry(), c.bias() == null ? "null" : c.bias());
    if (op instanceof Op.ConvolutionOfDirections c)
      return call("convolveDirections", c.w(), c.x(), c.geometry(), "() -> " + memo(c.unfoldingSlot()));
    if (op instanceof Op.ConvolutionAdjoint c) return be("convolutionAdjoint", c.w(), c.y(), c.geometry());
    if (op instanceof Op.SumConvolutionWeightGradients c) return call("sumConvolutionWeightGradients", c.y(), c.x(), c.geometry(), "cache");
    if (op instanceof Op.Gather g) return be("gather", g.x(), g.index());
    if (op instanceof Op.ScatterAdd s) return be("scatterAdd", s.g(), s.index(), s.rows(), s.cols());
    throw new CodegenException("no Java form for " + op.getClass().getSimpleName());
  }

  /** The value of memo slot {@code slot} ({@link Names#memoMethod}). */
  private static String memo(int slot) {
    return Names.memoMethod(slot) + "(cache)";
  }

  private String be(String kernel, Object... args) {
    return call("be." + kernel, args);
  }

  private String call(String method, Object... args) {
    List<String> parts = new ArrayList<>();
    for (Object a : args) parts.add(argument(a));
    return method + "(" + String.join(", ", parts) + ")";
  }

  private String argument(Object a) {
    if (a instanceof Value v) return v.name();
    if (a instanceof Dim d) return ctx.notation().dim(d);
    if (a instanceof Double d) return Names.literal(d);
    if (a instanceof Expr.ConvDims g) return ctx.geometry(g);
    if (a instanceof Op.Fn f) return f.ofValue() ? ctx.functionOfValue(f.function(), f.order()) : ctx.functionConstant(f.function(), f.order());
    return String.valueOf(a); // booleans, verbatim Java
  }
}
