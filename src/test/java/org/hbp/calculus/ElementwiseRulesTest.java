package org.hbp.calculus;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Map;
import org.hbp.derive.ClosedForm;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The rule table of built-in elementwise functions: f' and f'' against central differences of f. */
class ElementwiseRulesTest {
  static final double TOL = 1e-6;

  static java.util.Set<String> builtins() {
    return ElementwiseFunction.BUILTIN_RULES.keySet();
  }

  @ParameterizedTest
  @MethodSource("builtins")
  void firstAndSecondDerivativesMatchFiniteDifferences(String name) {
    ElementwiseFunction f = ElementwiseFunction.BUILTIN_RULES.get(name);
    double h = 1e-4;
    // points away from the kinks of relu, step, abs, sign; positive where log and sqrt need it
    double[] points = {0.3, 0.7, 1.3, 2.1, -0.4, -1.7};
    for (double t : points) {
      if ((name.equals("log") || name.equals("sqrt")) && t <= 0) continue;
      double d1 = value(f.derivativeFormula(1), t);
      double d2 = value(f.derivativeFormula(2), t);
      double fd1 = (f.value(t + h) - f.value(t - h)) / (2 * h);
      double fd2 = (f.value(t + h) - 2 * f.value(t) + f.value(t - h)) / (h * h);
      assertEquals(fd1, d1, TOL * Math.max(1, Math.abs(fd1)), name + "'(" + t + ")");
      assertEquals(fd2, d2, 1e-4 * Math.max(1, Math.abs(fd2)), name + "''(" + t + ")");
      // the engine's own second derivative of f' agrees with the table's f''
      double derived = value(Calculus.scalarDerivative(f.derivativeFormula(1), ElementwiseFunction.T), t);
      assertEquals(d2, derived, 1e-12 * Math.max(1, Math.abs(d2)), name + "'' derived from " + name + "'");
    }
  }

  /**
   * erf (Apache Commons Math) against the C library's erf: the values below were printed by
   * Python's math.erf (glibc), to 17 significant digits; erf is odd and tends to 1.
   */
  @org.junit.jupiter.api.Test
  void erfMatchesTheCLibrary() {
    ElementwiseFunction erf = ElementwiseFunction.BUILTIN_RULES.get("erf");
    double[][] table = {{0.5, 0.5204998778130465}, {1, 0.8427007929497149}, {2, 0.9953222650189527}, {-0.3, -0.3286267594591274},
        {3.5, 0.9999992569016276}, {0, 0}};
    for (double[] row : table) assertEquals(row[1], erf.value(row[0]), 2e-16 + 1e-15 * Math.abs(row[1]), "erf(" + row[0] + ")");
    assertEquals(1.0, erf.value(40), 0.0, "erf(40)");
    assertEquals(-1.0, erf.value(-40), 0.0, "erf(-40)");
  }

  private static double value(Expr formula, double t) {
    Expr e = ClosedForm.expand(formula, Calculus.simplifier());
    return Evaluator.evaluate(e, Map.of("t", Tensor.scalar(t)), Map.of()).scalarValue();
  }
}
