package org.hbp.codegen;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.hbp.calculus.Dim;
import org.hbp.calculus.Expr;
import org.hbp.codegen.program.Op;
import org.hbp.codegen.program.Program;
import org.hbp.codegen.program.Value;

/**
 * Renders a kernel {@link Program} as Python statements over torch and the generated package's
 * {@code hbp_runtime} (imported as {@code K}): one {@code t = kernel(...)  # formula} line per
 * statement, leaves inlined ({@code cache["x"]}). Values are item tensors {@code [V, N, rows, cols]}
 * (see hbp_runtime). Arithmetic is written with Python's operators ({@code a @ b}, {@code a.mT});
 * the structured kernels call hbp_runtime. No releases: Python frees what is no longer referenced.
 * The PyTorch twin of {@link JavaEmitter}: one rendering per {@link Op} record.
 */
final class PyTorchEmitter {
  private final Lowering.Context ctx;
  private final PyTorchScalars scalars;
  /** A dim as a Python int expression. */
  private final Function<Dim, String> dims;

  PyTorchEmitter(Lowering.Context ctx, PyTorchScalars scalars, Function<Dim, String> dims) {
    this.ctx = ctx;
    this.scalars = scalars;
    this.dims = dims;
  }

  /** The program's statements as Python lines (no indentation), appended to out. */
  void emit(Program p, List<String> out) {
    for (Program.Statement s : p.statements()) {
      if (s.op() instanceof Op.Leaf) continue; // named by its reference, used inline
      String line = s.out().name() + " = " + expression(s.op());
      out.add(s.comment() == null ? line : line + "  # " + Names.comment(s.comment()));
    }
  }

  /** The Python expression computing an op. */
  String expression(Op op) {
    if (op instanceof Op.Leaf l) return l.known() ? ctx.knownValue(l.expr()) : ctx.leaf((Expr.Var) l.expr());
    if (op instanceof Op.Memo m) return memo(m.slot());
    if (op instanceof Op.Part p) return ctx.partCall(p.index(), p.direction() == null ? null : p.direction().name());
    if (op instanceof Op.Fill f) return k("fill", "cache", f.rows(), f.cols(), f.value());
    if (op instanceof Op.DimFill f) return k("fill", "cache", 1, 1, dims.apply(f.value()));
    if (op instanceof Op.Eye e) return k("eye", "cache", e.n());
    if (op instanceof Op.Add a) return a.a() + " + " + a.b();
    if (op instanceof Op.Subtract s) return s.a() + " - " + s.b();
    if (op instanceof Op.Multiply m) return m.a() + " * " + m.b();
    if (op instanceof Op.Scale s) return Names.literal(s.coefficient()) + " * " + s.a();
    if (op instanceof Op.Power p) return p.a() + " ** " + Names.literal(p.exponent());
    if (op instanceof Op.Map m) return k("apply", function(m.f()), m.a());
    if (op instanceof Op.MapMultiply m) // the memoized derivative where there is one: f(a) once per forward cache, not per call
      return (m.storedSlot() == null ? k("apply", function(m.f()), m.a()) : memo(m.storedSlot())) + " * " + m.b();
    if (op instanceof Op.MatMul m) return operand(m.a(), m.transposeA()) + " @ " + operand(m.b(), m.transposeB());
    if (op instanceof Op.MatMulAdd m) return operand(m.a(), m.transposeA()) + " @ " + operand(m.b(), m.transposeB()) + " + " + m.c();
    if (op instanceof Op.SumProducts m) return k("sum_products", m.a(), m.transposeA(), m.b(), m.transposeB());
    if (op instanceof Op.Transpose t) return t.a() + ".mT";
    if (op instanceof Op.Kron k) return k("kron", k.a(), k.b());
    if (op instanceof Op.Reshape r) return k("reshape", r.a(), r.rows(), r.cols());
    if (op instanceof Op.ColumnsAsDirections c) return k("columns_as_directions", c.a());
    if (op instanceof Op.DirectionsAsColumns c) return k("directions_as_columns", c.a(), c.cols());
    if (op instanceof Op.SamplesSum s) return k("samples_sum", s.a());
    if (op instanceof Op.DiagMatrix d) return k("diag_matrix", d.a());
    if (op instanceof Op.Diagonal d) return k("diagonal", d.a());
    if (op instanceof Op.Trace t) return k("trace", t.a());
    if (op instanceof Op.Sum s) return k("item_sum", s.a());
    if (op instanceof Op.Softmax s) return k("softmax", s.a());
    if (op instanceof Op.LogSumExp l) return k("log_sum_exp", l.a());
    if (op instanceof Op.Inverse i) return k("inverse", i.a());
    if (op instanceof Op.Determinant d) return k("determinant", d.a());
    if (op instanceof Op.Unfold u) return k("unfold", u.x(), u.geometry());
    if (op instanceof Op.Fold f) return k("fold", f.columns(), f.geometry());
    if (op instanceof Op.Convolution c) return k("convolution", c.w(), c.x(), c.geometry(), c.bias() == null ? "None" : c.bias());
    // the product with the forward pass's unfolding, as the Java form's fallback
    if (op instanceof Op.ConvolutionOfDirections c) return operand(c.w(), false) + " @ " + memo(c.unfoldingSlot());
    if (op instanceof Op.ConvolutionAdjoint c) return k("convolution_adjoint", c.w(), c.y(), c.geometry());
    if (op instanceof Op.SumConvolutionWeightGradients c) return k("sum_convolution_weight_gradients", c.y(), c.x(), c.geometry());
    if (op instanceof Op.Gather g) return k("gather", g.x(), g.index());
    if (op instanceof Op.ScatterAdd s) return k("scatter_add", s.g(), s.index(), s.rows(), s.cols());
    throw new CodegenException("no PyTorch form for the kernel " + op.getClass().getSimpleName());
  }

  private String function(Op.Fn f) {
    if (!f.ofValue()) return scalars.function(f.function(), f.order());
    String name = scalars.functionOfValue(f.function(), f.order());
    if (name == null) throw new CodegenException(f.function() + "^(" + f.order() + ") is not a function of its value");
    return name;
  }

  /** The value of memo slot {@code slot}. */
  private static String memo(int slot) {
    return "self._memo" + slot + "(cache)";
  }

  private static String operand(Value v, boolean transpose) {
    return transpose ? v + ".mT" : v.name();
  }

  private String k(String kernel, Object... args) {
    List<String> parts = new ArrayList<>();
    for (Object a : args) parts.add(argument(a));
    return "K." + kernel + "(" + String.join(", ", parts) + ")";
  }

  private String argument(Object a) {
    if (a instanceof Value v) return v.name();
    if (a instanceof Dim d) return dims.apply(d);
    if (a instanceof Double d) return Names.literal(d);
    if (a instanceof Boolean b) return b ? "True" : "False";
    if (a instanceof Expr.ConvDims g)
      return "(" + String.join(", ", List.of(dims.apply(g.c()), dims.apply(g.h()), dims.apply(g.w()), dims.apply(g.kernel()),
          dims.apply(g.stride()), dims.apply(g.padding()), dims.apply(g.dilation()))) + ")";
    return String.valueOf(a); // ints, verbatim Python
  }
}
