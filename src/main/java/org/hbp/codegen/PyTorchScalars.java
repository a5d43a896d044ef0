package org.hbp.codegen;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.hbp.calculus.ElementwiseFunction;
import org.hbp.calculus.Expr;
import org.hbp.calculus.Exprs;
import org.hbp.calculus.Printer;

/**
 * The module-level Python functions of one generated PyTorch module's elementwise functions
 * ({@code _sigmoid}, {@code _sigmoid_d1}, {@code _sigmoid_d1_of_value}: f' written in u = f(t)),
 * printed from the same derivative formulas as the Java methods ({@link ElementwiseFunction}).
 * Built-in functions are spelled by {@link #BUILTINS}, the one table to extend for a new built-in;
 * a function it lacks is a {@link CodegenException}. Sorted by name, so the output does not depend
 * on the order of requests.
 */
final class PyTorchScalars {
  /** The torch spelling of each built-in elementwise function of the argument {@code t}. */
  static final Map<String, String> BUILTINS = Map.ofEntries(
      Map.entry("exp", "torch.exp(t)"),
      Map.entry("log", "torch.log(t)"),
      Map.entry("sqrt", "torch.sqrt(t)"),
      Map.entry("sigmoid", "torch.sigmoid(t)"),
      Map.entry("tanh", "torch.tanh(t)"),
      Map.entry("relu", "torch.relu(t)"),
      // log(1 + e^t) without overflow, exact for every t (torch's softplus is linear above a threshold)
      Map.entry("softplus", "torch.clamp(t, min=0) + torch.log1p(torch.exp(-torch.abs(t)))"),
      Map.entry("step", "(t > 0).to(t.dtype)"),
      Map.entry("abs", "torch.abs(t)"),
      Map.entry("sign", "torch.sign(t)"),
      Map.entry("erf", "torch.erf(t)"),
      Map.entry("sin", "torch.sin(t)"),
      Map.entry("cos", "torch.cos(t)"));

  /** A generated function: its name, parameter, docstring and returned Python expression. */
  record Function(String name, String parameter, String doc, String returned) {}

  /** The parameter of the function being printed (t, or u for a derivative from the value). */
  private String parameter = "t";

  /** By name; null while being built, or for a derivative with no form in the function's value. */
  private final Map<String, Function> functions = new TreeMap<>();

  /** The function computing the {@code order}-th derivative of f ({@code f} itself for order 0), built on first request. */
  String function(ElementwiseFunction f, int order) {
    String name = "_" + (order == 0 ? f.name() : f.name() + "_d" + order);
    if (!functions.containsKey(name)) {
      functions.put(name, null); // reserve against recursion
      functions.put(name, build(f, order, name));
    }
    return name;
  }

  /** The function computing f^(order) from u = f(t), or null when the formula is not a function of f(t) alone. */
  String functionOfValue(ElementwiseFunction f, int order) {
    String name = "_" + f.name() + "_d" + order + "_of_value";
    if (functions.containsKey(name)) return functions.get(name) == null ? null : name;
    Expr formula = f.derivativeFormula(order);
    Expr inValue = Exprs.substitute(formula, new Expr.Apply(f, 0, ElementwiseFunction.T), ScalarJava.U);
    if (Exprs.contains(inValue, ElementwiseFunction.T)) {
      functions.put(name, null);
      return null;
    }
    String doc = f.name() + "'".repeat(order) + "(t) = " + Printer.text(formula) + ", written in u = " + f.name() + "(t): "
        + Printer.text(inValue);
    functions.put(name, new Function(name, "u", doc, print(inValue, "u")));
    return name;
  }

  /** The functions built, by name. */
  List<Function> functions() {
    List<Function> out = new ArrayList<>();
    for (Function f : functions.values()) if (f != null) out.add(f);
    return out;
  }

  private Function build(ElementwiseFunction f, int order, String name) {
    if (order == 0 && f.isBuiltin()) {
      String torch = BUILTINS.get(f.name());
      if (torch == null)
        throw new CodegenException("the built-in elementwise function '" + f.name() + "' has no PyTorch spelling yet; add it to "
            + "PyTorchScalars.BUILTINS (known: " + new TreeMap<>(BUILTINS).keySet() + ")");
      return new Function(name, "t", f.name() + "(t), built in.", torch);
    }
    Expr formula = order == 0 ? f.body() : f.derivativeFormula(order);
    String doc = (order == 0 ? f.name() + "(t)" : f.name() + "'".repeat(order) + "(t)") + " = " + Printer.text(formula);
    return new Function(name, "t", doc, print(formula, "t"));
  }

  /** The Python expression of a scalar formula in t (or u); a constant formula gives a tensor of the argument's shape. */
  private String print(Expr formula, String parameter) {
    String outer = this.parameter; // a formula's calls may print other functions first
    this.parameter = parameter;
    String body = printScalar(formula);
    this.parameter = outer;
    boolean constant = !Exprs.contains(formula, ElementwiseFunction.T) && !Exprs.contains(formula, ScalarJava.U);
    return constant ? "torch.full_like(" + parameter + ", " + body + ")" : body;
  }

  private String printScalar(Expr e) {
    if (e instanceof Expr.Var v) {
      if (v.equals(ElementwiseFunction.T)) return "t";
      if (v.equals(ScalarJava.U)) return "u";
      throw new CodegenException("the scalar formula refers to '" + v.name() + "'; only t (or u, a function's value) is allowed");
    }
    if (e instanceof Expr.Num n) return n.value() < 0 ? "(" + Names.literal(n.value()) + ")" : Names.literal(n.value());
    if (e instanceof Expr.Ones || e instanceof Expr.Eye) return "1.0";
    if (e instanceof Expr.Zero) return "0.0";
    if (e instanceof Expr.Add a) {
      List<String> terms = new ArrayList<>();
      for (Expr t : a.terms()) terms.add(printScalar(t));
      return "(" + String.join(" + ", terms) + ")";
    }
    if (e instanceof Expr.Scale s) return "(" + Names.literal(s.coefficient()) + " * " + printScalar(s.operand()) + ")";
    if (e instanceof Expr.ScalarMul s) return "(" + printScalar(s.scalar()) + " * " + printScalar(s.operand()) + ")";
    if (e instanceof Expr.Hadamard h) return join(h.factors());
    if (e instanceof Expr.MatMul m) return join(m.factors());
    if (e instanceof Expr.Power p) return "(" + printScalar(p.base()) + " ** " + Names.literal(p.exponent()) + ")";
    if (e instanceof Expr.Max || e instanceof Expr.Min) {
      List<Expr> c = Exprs.children(e);
      String f = e instanceof Expr.Max ? "torch.maximum(" : "torch.minimum(";
      return f + tensor(c.get(0)) + ", " + tensor(c.get(1)) + ")";
    }
    if (e instanceof Expr.Apply a) return function(a.function(), a.order()) + "(" + tensor(a.argument()) + ")";
    if (e instanceof Expr.Transpose || e instanceof Expr.Vec || e instanceof Expr.Reshape || e instanceof Expr.DiagMat
        || e instanceof Expr.DiagVec || e instanceof Expr.Trace || e instanceof Expr.Sum)
      return printScalar(Exprs.children(e).get(0));
    throw new CodegenException("cannot print '" + Printer.text(e) + "' (" + e.getClass().getSimpleName() + ") as a scalar PyTorch expression");
  }

  /** An argument that must be a tensor (a torch function's): a constant becomes one. */
  private String tensor(Expr e) {
    String s = printScalar(e);
    boolean constant = !Exprs.contains(e, ElementwiseFunction.T) && !Exprs.contains(e, ScalarJava.U);
    return constant ? "torch.full_like(" + parameter + ", " + s + ")" : s;
  }

  private String join(List<Expr> es) {
    List<String> parts = new ArrayList<>();
    for (Expr x : es) parts.add(printScalar(x));
    return "(" + String.join(" * ", parts) + ")";
  }
}
