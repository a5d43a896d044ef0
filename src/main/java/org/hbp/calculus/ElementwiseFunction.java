package org.hbp.calculus;

import static org.hbp.calculus.BuiltinFormulas.apply;
import static org.hbp.calculus.BuiltinFormulas.hadamard;
import static org.hbp.calculus.BuiltinFormulas.negate;
import static org.hbp.calculus.BuiltinFormulas.num;
import static org.hbp.calculus.BuiltinFormulas.oneMinus;
import static org.hbp.calculus.BuiltinFormulas.power;
import static org.hbp.calculus.BuiltinFormulas.times;

import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.DoubleUnaryOperator;
import java.util.function.Supplier;
import org.hbp.math.Scalars;

/**
 * A scalar function applied entrywise: a built-in one (value in Java, derivative formulas built
 * as expression trees in {@link #BUILTIN_RULES}) or a user-defined one ({@code elementwise f(t) = ...} in a spec, value and
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
  private final Map<Integer, Supplier<Expr>> builtinFormulas; // order -> formula, built when first asked (it may name other built-ins)
  private final Map<Integer, Expr> formulas = new HashMap<>();

  private ElementwiseFunction(String name, DoubleUnaryOperator value, Expr body, Map<Integer, Supplier<Expr>> builtinFormulas,
      Map<Integer, Expr> given) {
    this.name = name;
    this.value = value;
    this.body = body;
    this.builtinFormulas = builtinFormulas;
    this.formulas.putAll(given);
  }

  private static ElementwiseFunction builtin(String name, DoubleUnaryOperator f, Supplier<Expr> d1, Supplier<Expr> d2) {
    return new ElementwiseFunction(name, f, null, Map.of(1, d1, 2, d2), Map.of());
  }

  /**
   * The rule table of the built-in elementwise functions: value, f' and f'' (one row per
   * function). Each formula is checked against finite differences by the tests.
   */
  public static final Map<String, ElementwiseFunction> BUILTIN_RULES;

  static {
    Map<String, ElementwiseFunction> m = new LinkedHashMap<>();
    // exp' = exp'' = exp(t)
    m.put("exp", builtin("exp", Scalars::exp, () -> apply("exp"), () -> apply("exp")));
    // log' = t.^-1, log'' = -t.^-2
    m.put("log", builtin("log", Scalars::log, () -> power(T, -1), () -> negate(power(T, -2))));
    // sqrt' = 0.5*sqrt(t).^-1, sqrt'' = -0.25*sqrt(t).^-3
    m.put("sqrt", builtin("sqrt", Scalars::sqrt, () -> times(num(0.5), power(apply("sqrt"), -1)),
        () -> times(negate(num(0.25)), power(apply("sqrt"), -3))));
    // sigmoid' = sigmoid(t).*(1 - sigmoid(t)), sigmoid'' = sigmoid(t).*(1 - sigmoid(t)).*(1 - 2*sigmoid(t))
    m.put("sigmoid", builtin("sigmoid", Scalars::sigmoid, BuiltinFormulas::sigmoidPrime,
        () -> hadamard(BuiltinFormulas.sigmoidPrime(), oneMinus(times(num(2), apply("sigmoid"))))));
    // tanh' = 1 - tanh(t).^2, tanh'' = -2*tanh(t).*(1 - tanh(t).^2)
    m.put("tanh", builtin("tanh", Scalars::tanh, () -> oneMinus(power(apply("tanh"), 2)),
        () -> hadamard(times(negate(num(2)), apply("tanh")), oneMinus(power(apply("tanh"), 2)))));
    // relu' = step(t), relu'' = 0
    m.put("relu", builtin("relu", Scalars::relu, () -> apply("step"), () -> num(0)));
    // softplus' = sigmoid(t), softplus'' = sigmoid(t).*(1 - sigmoid(t))
    m.put("softplus", builtin("softplus", Scalars::softplus, () -> apply("sigmoid"), BuiltinFormulas::sigmoidPrime));
    // erf' = 2/sqrt(pi)*exp(-t.^2), erf'' = -4/sqrt(pi)*t.*exp(-t.^2)
    m.put("erf", builtin("erf", Scalars::erf, () -> times(num(2 / Math.sqrt(Math.PI)), BuiltinFormulas.gaussian()),
        () -> hadamard(times(negate(num(4 / Math.sqrt(Math.PI))), T), BuiltinFormulas.gaussian())));
    // sin' = cos(t), sin'' = -sin(t)
    m.put("sin", builtin("sin", Scalars::sin, () -> apply("cos"), () -> negate(apply("sin"))));
    // cos' = -sin(t), cos'' = -cos(t)
    m.put("cos", builtin("cos", Scalars::cos, () -> negate(apply("sin")), () -> negate(apply("cos"))));
    m.put("step", builtin("step", Scalars::step, () -> num(0), () -> num(0)));
    // abs' = sign(t), abs'' = 0
    m.put("abs", builtin("abs", Scalars::abs, () -> apply("sign"), () -> num(0)));
    m.put("sign", builtin("sign", Scalars::sign, () -> num(0), () -> num(0)));
    BUILTIN_RULES = Collections.unmodifiableMap(m);
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
    Supplier<Expr> builtinFormula = builtinFormulas.get(order);
    if (builtinFormula != null) {
      f = builtinFormula.get();
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
