package org.hbp.codegen;

import com.palantir.javapoet.CodeBlock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import org.hbp.calculus.ElementwiseFunction;
import org.hbp.calculus.Expr;
import org.hbp.calculus.Exprs;
import org.hbp.calculus.Printer;
import org.hbp.codegen.OperatorModel.FunctionConstant;
import org.hbp.codegen.OperatorModel.ScalarMethod;

/**
 * Collects, while a class's rules are lowered, the static scalar methods its elementwise functions
 * need ({@code sigmoid}, {@code sigmoid_d1}, {@code sigmoid_d1_of_value}: f' written in u = f(t))
 * with their OpenCL C twins, and the {@code ScalarFunction} constants that {@code be.map} is given.
 * Names are sorted in the result, so the output does not depend on the order of requests.
 */
final class ScalarMethods {
  private final String className;
  /** Passed to {@link ScalarJava}, which asks it for the methods a formula calls. */
  private final Lowering.Context ctx;
  /** By name; null while a method is being built, or for a derivative with no form in the function's value. */
  private final Map<String, ScalarMethod> methods = new TreeMap<>();
  /** The OpenCL C definition of each method, and the generated methods it calls. */
  private final Map<String, String> openClDefinitions = new HashMap<>();
  private final Map<String, List<String>> openClCalls = new HashMap<>();
  /** Methods that are a built-in function itself or a built-in's derivative from its value: their constants name it. */
  private final Set<String> builtins = new HashSet<>();
  private final Map<String, FunctionConstant> constants = new TreeMap<>();

  ScalarMethods(String className, Lowering.Context ctx) {
    this.className = className;
    this.ctx = ctx;
  }

  /** The method computing the {@code order}-th derivative of f ({@code f} itself for order 0), built on first request. */
  String function(ElementwiseFunction f, int order) {
    String name = order == 0 ? f.name() : f.name() + "_d" + order;
    if (order == 0 && f.isBuiltin()) builtins.add(name);
    if (!methods.containsKey(name)) {
      methods.put(name, null); // reserve against recursion
      methods.put(name, scalarFunction(f, order, name));
    }
    return name;
  }

  /**
   * The constant computing the {@code order}-th derivative of f from the value {@code u = f(t)}, or
   * null when the derivative formula is not a function of f(t) alone.
   */
  String functionOfValue(ElementwiseFunction f, int order) {
    String name = f.name() + "_d" + order + "_of_value";
    if (methods.containsKey(name)) return methods.get(name) == null ? null : constant(name);
    Expr formula = f.derivativeFormula(order);
    Expr inValue = Exprs.substitute(formula, new Expr.Apply(f, 0, ElementwiseFunction.T), ScalarJava.U);
    if (Exprs.contains(inValue, ElementwiseFunction.T)) {
      methods.put(name, null);
      return null;
    }
    String doc = f.name() + "'".repeat(order) + "(t) = " + Printer.text(formula) + ", written in u = " + f.name() + "(t): "
        + Printer.text(inValue);
    methods.put(name, new ScalarMethod(name, "u", CodeBlock.of("<pre>{@code $L}</pre>\n", Names.comment(doc)),
        CodeBlock.of("$L", new ScalarJava(ctx).print(inValue))));
    openClTwin(name, "u", inValue);
    if (f.isBuiltin()) builtins.add(name); // a built-in's derivative from its value: e.g. sigmoid_d1_of_value
    return constant(name);
  }

  /** The ScalarFunction constant of a generated scalar method: its Java method and its OpenCL C twin with what it calls. */
  String constant(String method) {
    String field = "FN_" + method.toUpperCase(Locale.ROOT);
    if (!constants.containsKey(field)) {
      LinkedHashSet<String> order = new LinkedHashSet<>();
      openClOrder(method, order);
      StringBuilder source = new StringBuilder();
      for (String m : order) source.append(openClDefinitions.get(m));
      constants.put(field, new FunctionConstant(field, method, source.toString(), builtins.contains(method)));
    }
    return field;
  }

  /** The methods built, by name. */
  List<ScalarMethod> methods() {
    return methods.values().stream().filter(Objects::nonNull).toList();
  }

  /** The constants requested, by field name. */
  List<FunctionConstant> constants() {
    return new ArrayList<>(constants.values());
  }

  private ScalarMethod scalarFunction(ElementwiseFunction f, int order, String name) {
    if (order == 0 && f.isBuiltin()) {
      openClDefinitions.put(name, "REAL " + className + "_" + name + "(REAL t) { return hbp_" + f.name() + "(t); }\n");
      openClCalls.put(name, List.of());
      return new ScalarMethod(name, "t", CodeBlock.of("$L(t), built in.\n", f.name()), CodeBlock.of("$T.$L(t)", Names.SCALARS, f.name()));
    }
    Expr formula = order == 0 ? f.body() : f.derivativeFormula(order);
    String body = new ScalarJava(ctx).print(formula);
    openClTwin(name, "t", formula);
    String doc = (order == 0 ? f.name() + "(t)" : f.name() + "'".repeat(order) + "(t)") + " = " + Printer.text(formula);
    return new ScalarMethod(name, "t", CodeBlock.of("<pre>{@code $L}</pre>\n", Names.comment(doc)), CodeBlock.of("$L", body));
  }

  /** The C definitions a generated function needs, callees first. */
  private void openClOrder(String method, Set<String> out) {
    if (out.contains(method)) return;
    for (String callee : openClCalls.getOrDefault(method, List.of())) openClOrder(callee, out);
    out.add(method);
  }

  /** Records the OpenCL C twin of a generated scalar method of parameter {@code param} computing {@code formula}. */
  private void openClTwin(String method, String param, Expr formula) {
    ScalarJava c = ScalarJava.openCl(ctx, className + "_");
    String body = c.print(formula);
    openClDefinitions.put(method, "REAL " + className + "_" + method + "(REAL " + param + ") { return " + body + "; }\n");
    openClCalls.put(method, c.calls());
  }
}
