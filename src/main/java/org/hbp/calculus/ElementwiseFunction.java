package org.hbp.calculus;

import org.hbp.runtime.Scalars;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.function.DoubleUnaryOperator;

/**
 * A scalar function applied entrywise: a built-in one (value in Java, derivative formulas from
 * {@link #BUILTIN_RULES}) or a user-defined one ({@code elementwise f(t) = ...} in a spec, value and
 * derivatives from its body). Derivative formulas are scalar expressions in the variable {@code t};
 * {@link #derivativeOf} lifts them onto an argument. Derivatives that neither the table nor the
 * spec gives are derived by the engine from the previous order. Equality is by name.
 */
public final class ElementwiseFunction {
  /** The variable of every derivative formula. */
  public static final Expr.Var T = new Expr.Var("t", Shape.SCALAR, Expr.Role.FREE);

  private final String name;
  private final DoubleUnaryOperator value; // null for user-defined functions
  private final Expr body; // in T; null for built-ins
  private final Map<Integer, String> formulaTexts;
  private final Map<Integer, Expr> formulas = new HashMap<>();

  private ElementwiseFunction(String name, DoubleUnaryOperator value, Expr body, Map<Integer, String> texts, Map<Integer, Expr> given) {
    this.name = name;
    this.value = value;
    this.body = body;
    this.formulaTexts = texts;
    this.formulas.putAll(given);
  }

  /** Parses derivative formula texts of built-ins, which mention only built-ins (set by the DSL front end). */
  public interface FormulaParser {
    Expr parse(String text);
  }

  private static volatile FormulaParser formulaParser;

  public static void setFormulaParser(FormulaParser parser) {
    formulaParser = parser;
  }

  private static ElementwiseFunction builtin(String name, DoubleUnaryOperator f, String d1, String d2) {
    Map<Integer, String> texts = new HashMap<>();
    if (d1 != null) texts.put(1, d1);
    if (d2 != null) texts.put(2, d2);
    return new ElementwiseFunction(name, f, null, texts, Map.of());
  }

  /**
   * The rule table of the built-in elementwise functions: value, f' and f'' (one row per
   * function). Each formula is checked against finite differences by the tests.
   */
  public static final Map<String, ElementwiseFunction> BUILTIN_RULES;

  static {
    Map<String, ElementwiseFunction> m = new LinkedHashMap<>();
    m.put("exp", builtin("exp", Scalars::exp, "exp(t)", "exp(t)"));
    m.put("log", builtin("log", Scalars::log, "t.^-1", "-t.^-2"));
    m.put("sqrt", builtin("sqrt", Scalars::sqrt, "0.5*sqrt(t).^-1", "-0.25*sqrt(t).^-3"));
    m.put("sigmoid", builtin("sigmoid", Scalars::sigmoid,
        "sigmoid(t).*(1 - sigmoid(t))", "sigmoid(t).*(1 - sigmoid(t)).*(1 - 2*sigmoid(t))"));
    m.put("tanh", builtin("tanh", Scalars::tanh, "1 - tanh(t).^2", "-2*tanh(t).*(1 - tanh(t).^2)"));
    m.put("relu", builtin("relu", Scalars::relu, "step(t)", "0"));
    m.put("softplus", builtin("softplus", Scalars::softplus,
        "sigmoid(t)", "sigmoid(t).*(1 - sigmoid(t))"));
    m.put("step", builtin("step", Scalars::step, "0", "0"));
    m.put("abs", builtin("abs", Scalars::abs, "sign(t)", "0"));
    m.put("sign", builtin("sign", Scalars::sign, "0", "0"));
    BUILTIN_RULES = java.util.Collections.unmodifiableMap(m);
  }

  /**
   * A user-defined function {@code elementwise name(t) = body}, with optional given derivative
   * formulas (order -> formula in {@link #T}).
   */
  public static ElementwiseFunction userDefined(String name, Expr body, Map<Integer, Expr> given) {
    return new ElementwiseFunction(name, null, body, Map.of(), given);
  }

  public String name() {
    return name;
  }

  public boolean isBuiltin() {
    return body == null;
  }

  /** The defining formula in {@link #T} (user-defined functions only). */
  public Expr body() {
    return body;
  }

  /** f(t) for a built-in; user-defined functions are evaluated through their body. */
  public double value(double t) {
    if (value == null) throw new IllegalStateException(name + " is user-defined; evaluate its body");
    return value.applyAsDouble(t);
  }

  /** The formula of the {@code order}-th derivative as a scalar expression in {@link #T}. */
  public synchronized Expr derivativeFormula(int order) {
    if (order < 1) throw new IllegalArgumentException("order " + order);
    Expr f = formulas.get(order);
    if (f != null) return f;
    String text = formulaTexts.get(order);
    if (text != null) {
      FormulaParser p = Objects.requireNonNull(formulaParser, "no formula parser installed");
      f = p.parse(text);
    } else {
      Expr previous = order == 1 ? body : derivativeFormula(order - 1);
      f = Calculus.scalarDerivative(previous, T);
    }
    formulas.put(order, f);
    return f;
  }

  /** The lifted derivative f^(order)(arg) in closed form (entrywise over arg). */
  public Expr derivativeOf(int order, Expr arg) {
    return Lift.lift(derivativeFormula(order), T, arg);
  }

  /** The body lifted onto an argument (user-defined functions). */
  public Expr bodyOf(Expr arg) {
    return Lift.lift(body, T, arg);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof ElementwiseFunction f && f.name.equals(name);
  }

  @Override
  public int hashCode() {
    return name.hashCode();
  }

  @Override
  public String toString() {
    return name;
  }
}
