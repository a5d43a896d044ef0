package org.hbp.calculus;

import java.util.List;

/**
 * Builders of the built-in derivative formulas of {@link ElementwiseFunction#BUILTIN_RULES}: scalar
 * expressions in {@link ElementwiseFunction#T}, built as the DSL front end would read their text
 * (e.g. {@code 1 - x} is {@code Add[1, Scale(-1, x)]}, {@code 2*x} is {@code MatMul[2, x]}), so
 * that the calculus needs no parser and no hook installed from above.
 */
final class BuiltinFormulas {
  private BuiltinFormulas() {}

  /** {@code name(t)} for a built-in function. */
  static Expr apply(String name) {
    return new Expr.Apply(ElementwiseFunction.BUILTIN_RULES.get(name), 0, ElementwiseFunction.T);
  }

  /** A number. */
  static Expr num(double v) {
    return new Expr.Num(v);
  }

  /** {@code -x}. */
  static Expr negate(Expr x) {
    return new Expr.Scale(-1.0, x);
  }

  /** {@code 1 - x}. */
  static Expr oneMinus(Expr x) {
    return new Expr.Add(List.of(num(1), negate(x)));
  }

  /** {@code x.^p}. */
  static Expr power(Expr x, double p) {
    return new Expr.Power(x, p);
  }

  /** {@code a*b} of scalars. */
  static Expr times(Expr a, Expr b) {
    return new Expr.MatMul(List.of(a, b));
  }

  /** {@code a.*b}. */
  static Expr hadamard(Expr a, Expr b) {
    return new Expr.Hadamard(List.of(a, b));
  }

  /** {@code exp(-t.^2)}, the Gaussian kernel of erf'. */
  static Expr gaussian() {
    return new Expr.Apply(ElementwiseFunction.BUILTIN_RULES.get("exp"), 0, negate(power(ElementwiseFunction.T, 2)));
  }

  /** {@code sigmoid(t).*(1 - sigmoid(t))}. */
  static Expr sigmoidPrime() {
    return hadamard(apply("sigmoid"), oneMinus(apply("sigmoid")));
  }
}
