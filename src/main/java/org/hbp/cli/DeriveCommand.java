package org.hbp.cli;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.hbp.UserError;
import org.hbp.calculus.Calculus;
import org.hbp.calculus.Expr;
import org.hbp.calculus.Exprs;
import org.hbp.calculus.LatexPrinter;
import org.hbp.calculus.Printer;
import org.hbp.calculus.Simplifier;
import org.hbp.derive.ClosedForm;
import org.hbp.derive.Derivation;
import org.hbp.derive.Formats;
import org.hbp.derive.ModuleRules;
import org.hbp.dsl.Dsl;
import org.hbp.dsl.ModuleSpec;
import org.hbp.dsl.Spec;
import org.hbp.io.CommandFiles;
import org.hbp.io.NdArray;
import org.hbp.io.Npy;
import org.hbp.verify.ArrayBinding;
import org.hbp.verify.NonFinite;
import org.hbp.calculus.Evaluator;
import org.hbp.calculus.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;


/** {@code hbp derive}: HBP rules of spec modules, or ad-hoc derivatives of an expression. */
@Command(name = "derive",
    header = "Derive the HBP rules of a spec, or differentiate an expression.",
    description = {
        "Derive Jacobians, residual Hessian terms and HBP rules (paper eq. 7) of every module in a spec file, or "
            + "differentiate an ad-hoc expression (-e) and optionally evaluate the result at NumPy arrays.",
        "Results use column-major vec, in the DSL's own syntax (they parse back)."})
public final class DeriveCommand extends HbpCommand {
  @Parameters(arity = "0..1", paramLabel = "SPEC.hbp", description = "Spec file to derive (omit with -e).")
  Path file;

  @Option(names = "--module", paramLabel = "NAME", description = "Only this module or loss.")
  String module;

  @Option(names = "--format", paramLabel = "FORMAT", defaultValue = "text", description = "text (default), latex or json.",
      converter = Choices.OutputFormats.class)
  OutputFormat format;

  /** The output formats of {@code --format}. */
  enum OutputFormat implements Choices.Choice { TEXT, LATEX, JSON }

  @Option(names = {"-e", "--expr"}, paramLabel = "EXPR", description = "An expression to differentiate.")
  String expr;

  @Option(names = "--var", paramLabel = "NAME:TYPE", description = "A variable of -e, e.g. X:matrix(n,n), x:vector(n), s:scalar.")
  List<String> vars = new ArrayList<>();

  @Option(names = "--wrt", paramLabel = "NAME", description = "The variable to differentiate by.")
  String wrt;

  @Option(names = "--order", defaultValue = "1", description = "1: Jacobian (default); 2: Hessian of a scalar expression.")
  int order;

  @Option(names = "--at", paramLabel = "NAME=FILE.npy", description = "Evaluate at this array (float64 or float32 .npy; dims are bound from shapes).")
  List<String> at = new ArrayList<>();

  @Option(names = "--out", paramLabel = "FILE.npy", description = "Write the evaluated derivative here (float64; needs --at for every variable).")
  Path out;

  @Mixin OverwriteOption overwrite;

  @Override
  public Integer call() throws Exception {
    PrintWriter w = out();
    if (expr != null) {
      if (file != null) throw new UserError("give either a spec file or -e EXPR, not both");
      adHoc(w);
      return 0;
    }
    if (file == null) throw new UserError("give a spec file (hbp derive SPEC.hbp) or an expression (hbp derive -e EXPR --var ... --wrt NAME)");
    if (!at.isEmpty() || out != null || wrt != null || !vars.isEmpty())
      throw new UserError("--var, --wrt, --at and --out belong to -e EXPR");
    Spec s = Dsl.parseFile(file);
    List<ModuleSpec> modules = s.modules();
    if (modules.isEmpty())
      throw new UserError(file + ": no module or loss to derive"
          + (s.networks().isEmpty() ? " (the file is empty)" : " (it declares only networks: "
              + String.join(", ", s.networks().stream().map(n -> n.name()).toList())
              + "; their modules' rules come from their spec files, e.g. hbp derive modules-spec/linear.hbp)"));
    if (module != null) {
      modules = s.module(module).map(List::of).orElseThrow(() -> new UserError(
          file + ": no module or loss named '" + module + "' (has: " + String.join(", ", s.modules().stream().map(ModuleSpec::name).toList()) + ")"));
    }
    var json = Formats.newJsonArray();
    boolean first = true;
    for (ModuleSpec m : modules) {
      List<Derivation> ds = ModuleRules.derive(m);
      switch (format) {
        case JSON -> Formats.json(json, m, ds);
        case LATEX -> w.print(Formats.latex(m, ds));
        default -> {
          if (!first) w.println();
          w.print(Formats.text(m, ds));
        }
      }
      first = false;
    }
    if (format == OutputFormat.JSON) w.print(Formats.render(json));
    w.flush();
    return 0;
  }

  private void adHoc(PrintWriter w) throws Exception {
    if (wrt == null) throw new UserError("-e needs --wrt NAME");
    if (module != null) throw new UserError("--module belongs to a spec file (hbp derive SPEC.hbp --module NAME), not to -e EXPR");
    CommandFiles files = new CommandFiles(overwrite.overwrite);
    for (String a : at) {
      int eq = a.indexOf('=');
      if (eq > 0) files.input("--at " + a.substring(0, eq), Path.of(a.substring(eq + 1)));
    }
    files.output("--out", out).check();
    if (order != 1 && order != 2) throw new UserError("--order must be 1 or 2, not " + order);
    Dsl.Scope scope = new Dsl.Scope();
    for (String v : vars) {
      int c = v.indexOf(':');
      if (c <= 0) throw new UserError("--var expects NAME:TYPE (e.g. X:matrix(n,n)), not '" + v + "'");
      String name = v.substring(0, c).trim();
      if (!name.matches("[A-Za-z_][A-Za-z_0-9]*")) throw new UserError("--var: '" + name + "' is not a valid name");
      if (scope.vars().containsKey(name)) throw new UserError("--var " + name + " is declared twice; declare each variable once");
      scope.add(new Expr.Var(name, Dsl.parseType(v.substring(c + 1), "--var " + name), Expr.Role.FREE));
    }
    Expr.Var x = scope.vars().get(wrt);
    if (x == null) throw new UserError("--wrt " + wrt + ": no such variable; declare it with --var " + wrt + ":TYPE");
    Dsl.ParsedExpression parsed = Dsl.parseExpressionWithPlaces(expr, scope, "-e");
    Expr f = parsed.expr();
    Simplifier s = Calculus.simplifier();
    if (order == 2 && !f.shape().isScalar())
      throw new UserError("--order 2 needs a scalar expression, but " + expr + " is " + f.shape());
    Expr d = order == 1 ? Calculus.jacobian(f, x, s) : Calculus.hessian(f, x, s);
    d = ClosedForm.expand(d, s);
    String what = order == 1 ? "jacobian" : "hessian";
    String rows = (order == 1 ? f.shape().numel() : x.shape().numel()).toString(), cols = x.shape().numel().toString();
    NdArray value = (!at.isEmpty() || out != null) ? evaluate(parsed, x, d, scope) : null;
    if (value != null && out != null) Npy.write(out, overwrite.existing(), value); // its errors name --out: "cannot write FILE: ..."
    switch (format) {
      case LATEX -> w.println(LatexPrinter.latex(d));
      case JSON -> {
        var o = Formats.newJsonArray().addObject();
        o.put("expression", Printer.text(Simplifier.simplify(f)));
        o.put("wrt", x.name());
        o.put("wrt_type", x.shape().toString());
        o.put("order", order);
        o.put(what, Printer.text(d));
        o.put("shape", "[" + rows + ", " + cols + "]");
        if (value != null && out != null) o.put("out", out.toString());
        else if (value != null) {
          var arr = o.putArray("value");
          int[] sh = value.shape();
          for (int i = 0; i < sh[0]; i++) {
            var row = arr.addArray();
            for (int j = 0; j < sh[1]; j++) row.add(value.get(i, j));
          }
        }
        w.print(Formats.render(o));
      }
      default -> {
        w.println((order == 1 ? "D" : "H") + "(" + x.name() + ") = " + Printer.text(d));
        w.println("  shape " + rows + " x " + cols + " (column-major vec)");
      }
    }
    if (value != null && format != OutputFormat.JSON) {
      if (out != null) w.println("wrote " + out + ": float64 [" + value.shape()[0] + ", " + value.shape()[1] + "]");
      else {
        int[] sh = value.shape();
        for (int i = 0; i < sh[0]; i++) {
          StringBuilder row = new StringBuilder(i == 0 ? "[[" : " [");
          for (int j = 0; j < sh[1]; j++) row.append(j > 0 ? ", " : "").append(value.get(i, j));
          w.println(row.append(i == sh[0] - 1 ? "]]" : "],"));
        }
      }
    }
    w.flush();
  }


  /** {@code sqrt(x) is not finite there: an entry of x < 0 (x[0] = -1.0)}: what left its domain at the bound point. */
  private static String outside(Expr bad, ArrayBinding.Bound b) {
    StringBuilder s = new StringBuilder(Printer.text(bad)).append(" is not finite there");
    String why = NonFinite.why(bad);
    if (why != null) s.append(": ").append(why);
    String entries = NonFinite.entries(bad, b.values(), b.dims());
    if (entries != null) s.append(" (").append(entries).append(")");
    return s.toString();
  }

  /**
   * Why the derivative is not finite, in the terms of the user's expression: the subexpression
   * whose own derivative is not finite there, where it is written in -e, and the entries of its
   * operand ({@code the derivative of sqrt(x) (-e:1:5) is not finite where x[0] = 0.0}); null when
   * no subexpression's own derivative is.
   */
  private static String derivativeCulprit(Dsl.ParsedExpression parsed, Expr.Var x, int order, ArrayBinding.Bound b) {
    NonFinite.DerivativeCulprit c = NonFinite.derivative(parsed.expr(), x, order, b.values(), b.dims());
    if (c == null) return null;
    ModuleSpec.Place at = parsed.places().of(parsed.expr(), c.node());
    StringBuilder s = new StringBuilder("the ").append(c.order() == 2 ? "second derivative" : "derivative").append(" of ")
        .append(Printer.text(c.node()));
    if (at != null) s.append(" (-e:").append(at.line()).append(':').append(at.column()).append(')');
    if (Exprs.children(c.node()).size() > 1) s.append(" with respect to its operand ").append(Printer.text(c.operand()));
    s.append(" is not finite");
    if (c.entries() != null) s.append(" where ").append(c.entries());
    else s.append(" there");
    return s.toString();
  }

  private NdArray evaluate(Dsl.ParsedExpression parsed, Expr.Var x, Expr d, Dsl.Scope scope) throws Exception {
    Expr f = parsed.expr();
    Map<Expr.Var, NdArray> arrays = new LinkedHashMap<>();
    Map<Expr.Var, String> where = new LinkedHashMap<>();
    for (String a : at) {
      int eq = a.indexOf('=');
      if (eq <= 0) throw new UserError("--at expects NAME=FILE.npy, not '" + a + "'");
      String name = a.substring(0, eq);
      Expr.Var v = scope.vars().get(name);
      if (v == null) throw new UserError("--at " + name + ": no such variable (declared: " + String.join(", ", scope.vars().keySet()) + ")");
      Path p = Path.of(a.substring(eq + 1));
      if (!Files.exists(p)) throw new UserError("--at " + name + ": file not found: " + p);
      NdArray arr = Npy.read(p);
      if (arr.dtype().isInteger()) throw new UserError(p + ": array '" + name + "' has dtype " + arr.dtype().numpyName() + "; float64 or float32 was expected");
      arrays.put(v, arr);
      where.put(v, p.toString());
    }
    for (Expr.Var v : Exprs.variables(f)) {
      if (!arrays.containsKey(v)) throw new UserError("no value for '" + v.name() + "': give --at " + v.name() + "=FILE.npy");
    }
    if (!arrays.containsKey(x)) throw new UserError("no value for '" + x.name() + "': give --at " + x.name() + "=FILE.npy");
    ArrayBinding.Bound b = ArrayBinding.bind(arrays, where);
    String point = String.join(" ", at.stream().map(a -> "--at " + a).toList());
    Expr fBad = NonFinite.innermost(f, b.values(), b.dims());
    if (fBad != null)
      throw new UserError(expr + " is not defined at " + point + ": " + outside(fBad, b));
    Tensor t;
    try {
      t = Evaluator.evaluate(d, b.values(), b.dims());
    } catch (ArithmeticException e) {
      t = null;
    }
    String what = order == 1 ? "jacobian" : "hessian";
    if (t == null || !NonFinite.finiteAt(d, b.values(), b.dims())) {
      StringBuilder s = new StringBuilder("the " + what + " of " + expr + " is not finite at " + point);
      if (t != null) {
        List<String> entries = new ArrayList<>();
        int more = 0;
        for (int j = 0; j < t.cols(); j++)
          for (int i = 0; i < t.rows(); i++) {
            double v = t.get(i, j);
            if (Double.isFinite(v)) continue;
            if (entries.size() < 3) entries.add("[" + i + ", " + j + "] = " + v);
            else more++;
          }
        s.append(" (entr").append(entries.size() + more == 1 ? "y " : "ies ").append(String.join(", ", entries))
            .append(more > 0 ? " and " + more + " more" : "").append(")");
      }
      String culprit = derivativeCulprit(parsed, x, order, b);
      Expr dBad = culprit != null ? null : NonFinite.innermost(d, b.values(), b.dims());
      if (culprit != null) s.append(": ").append(culprit);
      else if (dBad != null) s.append(": ").append(outside(dBad, b));
      throw new UserError(s.toString());
    }
    int rows = t.rows(), cols = t.cols();
    double[] rowMajor = new double[rows * cols];
    for (int i = 0; i < rows; i++) for (int j = 0; j < cols; j++) rowMajor[i * cols + j] = t.get(i, j);
    return NdArray.of(rowMajor, rows, cols);
  }
}
