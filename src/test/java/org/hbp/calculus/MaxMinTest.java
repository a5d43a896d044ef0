package org.hbp.calculus;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.Random;
import org.hbp.dsl.Dsl;
import org.hbp.dsl.DslException;
import org.junit.jupiter.api.Test;

/**
 * Elementwise max(a, b) and min(a, b): values against Math.max/Math.min, Jacobians against the
 * indicator matrices written here from the definition (d max(a, b)/da = diag(a > b), d/db =
 * diag(a < b), away from ties), second derivatives zero, the exact selection form the generated code
 * computes, printing that parses back, and errors that name the place.
 */
class MaxMinTest {
  private static final Map<String, Long> DIMS = Map.of("m", 3L, "n", 4L);

  private static Tensor random(Random rng, int rows, int cols) {
    double[] d = new double[rows * cols];
    for (int i = 0; i < d.length; i++) d[i] = rng.nextGaussian();
    return new Tensor(new int[] {rows, cols}, d);
  }

  private static double[] eval(Expr e, Map<String, Tensor> values) {
    return Evaluator.evaluate(e, values, DIMS).data();
  }

  /** The Jacobian as a dense column-major array (numel(e) x numel(x)). */
  private static Tensor jacobian(String text, String wrt, Dsl.Scope s, Map<String, Tensor> values) {
    return Evaluator.evaluate(Calculus.jacobian(Fixtures.parse(text, s), s.vars().get(wrt)), values, DIMS);
  }

  @Test
  void valuesAndJacobiansOfMaxAndMinOfTwoMatrices() {
    Dsl.Scope s = Fixtures.scope("A:matrix(m,n)", "B:matrix(m,n)");
    Random rng = new Random(11);
    Tensor a = random(rng, 3, 4), b = random(rng, 3, 4);
    Map<String, Tensor> values = Map.of("A", a, "B", b);
    double[] max = eval(Fixtures.parse("max(A, B)", s), values), min = eval(Fixtures.parse("min(A, B)", s), values);
    int n = 12;
    int aWins = 0;
    for (int i = 0; i < n; i++) {
      double x = a.data()[i], y = b.data()[i];
      assertEquals(Math.max(x, y), max[i], 1e-15);
      assertEquals(Math.min(x, y), min[i], 1e-15);
      if (x > y) aWins++;
    }
    assertTrue(aWins > 0 && aWins < n, "the sample should have entries on both sides");
    Tensor maxA = jacobian("max(A, B)", "A", s, values), maxB = jacobian("max(A, B)", "B", s, values);
    Tensor minA = jacobian("min(A, B)", "A", s, values), minB = jacobian("min(A, B)", "B", s, values);
    for (int i = 0; i < n; i++)
      for (int j = 0; j < n; j++) {
        boolean diagonal = i == j, aBigger = a.data()[i] > b.data()[i];
        assertEquals(diagonal && aBigger ? 1 : 0, maxA.data()[i + n * j], 0, "d max/dA");
        assertEquals(diagonal && !aBigger ? 1 : 0, maxB.data()[i + n * j], 0, "d max/dB");
        assertEquals(diagonal && !aBigger ? 1 : 0, minA.data()[i + n * j], 0, "d min/dA");
        assertEquals(diagonal && aBigger ? 1 : 0, minB.data()[i + n * j], 0, "d min/dB");
      }
  }

  @Test
  void aScalarBoundIsBroadcastAndClippingHasTheIndicatorOfTheMiddle() {
    Dsl.Scope s = Fixtures.scope("x:vector(n)");
    Tensor x = new Tensor(new int[] {4, 1}, new double[] {-2, -0.25, 0.3, 1.7});
    Map<String, Tensor> values = Map.of("x", x);
    Expr clip = Fixtures.parse("min(max(x, -0.5), 0.5)", s);
    double[] z = eval(clip, values);
    assertEquals(java.util.List.of(-0.5, -0.25, 0.3, 0.5), java.util.Arrays.stream(z).boxed().toList());
    Tensor j = jacobian("min(max(x, -0.5), 0.5)", "x", s, values);
    double[] middle = {0, 1, 1, 0};
    for (int i = 0; i < 4; i++) for (int k = 0; k < 4; k++) assertEquals(i == k ? middle[i] : 0, j.data()[i + 4 * k], 0);
    for (String text : new String[] {"max(x, 0)", "max(0, x)", "min(x, 0)", "min(max(x, -0.5), 0.5)"}) {
      Expr e = Fixtures.parse(text, s);
      assertEquals(text, Printer.text(e));
      assertEquals(e, Fixtures.parse(Printer.text(e), s), "parses back");
    }
    assertEquals("\\min\\left(x, y\\right)", LatexPrinter.latex(new Expr.Min(s.vars().get("x"), new Expr.Var("y", s.vars().get("x").shape(), Expr.Role.FREE))));
  }

  /**
   * The generated code computes max(a, b) as a .* step(a - b) + b .* (1 - step(a - b)); that form is
   * exact, also where b + relu(a - b) would lose a small a entirely.
   */
  @Test
  void theSelectionFormOfTheGeneratedCodeIsExact() {
    Dsl.Scope s = Fixtures.scope("a:vector(n)", "b:vector(n)");
    double[] av = {1e-20, -3e-17, 5, 0.1, -7, 2}, bv = {-0.5, 1e10, 5, 0.2, -1e-300, Double.MIN_VALUE};
    Map<String, Tensor> values = Map.of("a", new Tensor(new int[] {6, 1}, av), "b", new Tensor(new int[] {6, 1}, bv));
    Map<String, Long> dims = Map.of("n", 6L);
    for (String f : new String[] {"max", "min"}) {
      Expr e = Fixtures.parse(f + "(a, b)", s);
      double[] steps = Evaluator.evaluate(Exprs.maxMinAsSteps(e), values, dims).data();
      double[] direct = Evaluator.evaluate(e, values, dims).data();
      for (int i = 0; i < av.length; i++) {
        double expected = f.equals("max") ? Math.max(av[i], bv[i]) : Math.min(av[i], bv[i]);
        assertEquals(expected, steps[i], 0, f + " entry " + i);
        assertEquals(expected, direct[i], 0, f + " entry " + i);
      }
    }
  }

  @Test
  void secondDerivativesVanish() {
    Dsl.Scope s = Fixtures.scope("x:vector(n)", "W:matrix(m,n)", "V:matrix(m,n)", "c:vector(m)");
    Random rng = new Random(2);
    Map<String, Tensor> values = Map.of("x", random(rng, 4, 1), "W", random(rng, 3, 4), "V", random(rng, 3, 4), "c", random(rng, 3, 1));
    for (String text : new String[] {"c'*max(W*x, V*x)", "c'*min(W*x, V*x)", "c'*min(max(W*x, -0.5), 0.5)"}) {
      Expr f = Fixtures.parse(text, s);
      for (String wrt : new String[] {"x", "W"}) {
        Expr h = Calculus.hessian(f, s.vars().get(wrt));
        for (double v : Evaluator.evaluate(h, values, DIMS).data()) assertEquals(0, v, 0, text + " wrt " + wrt + ": " + Printer.text(h));
      }
    }
  }

  @Test
  void badUseIsReportedWithItsPlace() {
    Dsl.Scope s = Fixtures.scope("x:vector(n)", "W:matrix(m,n)");
    DslException shape = assertThrows(DslException.class, () -> Fixtures.parse("max(x, W)", s));
    assertTrue(shape.getMessage().contains("max expects arguments of the same shape (or a scalar), but x is vector(n) and W is matrix(m,n)"),
        shape.getMessage());
    assertTrue(shape.getMessage().startsWith("test:1:"), shape.getMessage());
    DslException arity = assertThrows(DslException.class, () -> Fixtures.parse("min(x)", s));
    assertTrue(arity.getMessage().contains("min expects 2 arguments but got 1"), arity.getMessage());
  }
}
