package org.hbp.calculus;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.ejml.data.DMatrixRMaj;
import org.hbp.derive.ClosedForm;
import org.hbp.dsl.Dsl;
import org.hbp.verify.FiniteDifferences;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every differentiation rule, checked numerically: the derived Jacobian (and, for scalar
 * expressions, the Hessian) against central finite differences of the expression itself, at three
 * random shapes and points, in double precision.
 */
class DerivativeRulesTest {
  static final double TOL = 1e-6;

  static Stream<Arguments> cases() {
    return Stream.of(
        // the examples
        Arguments.of("tr(A*X*B)", "X", new String[] {"X:matrix(n,p)", "A:matrix(m,n)", "B:matrix(p,m)"}),
        Arguments.of("x'*A*x", "x", new String[] {"x:vector(n)", "A:matrix(n,n)"}),
        Arguments.of("log(det(X))", "X", new String[] {"X:matrix(n,n)"}),
        Arguments.of("inv(X)", "X", new String[] {"X:matrix(n,n)"}),
        Arguments.of("sum(exp(W*x))", "W", new String[] {"x:vector(n)", "W:matrix(m,n)"}),
        Arguments.of("sum(exp(W*x))", "x", new String[] {"x:vector(n)", "W:matrix(m,n)"}),
        Arguments.of("-y'*log(softmax(x))", "x", new String[] {"x:vector(n)", "y:vector(n)"}),
        Arguments.of("X*X'", "X", new String[] {"X:matrix(m,n)"}),
        // one per node type
        Arguments.of("sum(kron(X, B) .* C)", "X", new String[] {"X:matrix(m,n)", "B:matrix(p,q)", "C:matrix(m*p,n*q)"}),
        Arguments.of("sum(kron(B, X) .* C)", "X", new String[] {"X:matrix(m,n)", "B:matrix(p,q)", "C:matrix(p*m,q*n)"}),
        Arguments.of("vec(X)'*vec(X)", "X", new String[] {"X:matrix(m,n)"}),
        Arguments.of("reshape(X, n, m)", "X", new String[] {"X:matrix(m,n)"}),
        Arguments.of("diag(x)*A*diag(x)", "x", new String[] {"x:vector(n)", "A:matrix(n,n)"}),
        Arguments.of("diag(X*X)", "X", new String[] {"X:matrix(n,n)"}),
        Arguments.of("tr(X*A*X')", "X", new String[] {"X:matrix(m,n)", "A:matrix(n,n)"}),
        Arguments.of("sum(X .* X .* A)", "X", new String[] {"X:matrix(m,n)", "A:matrix(m,n)"}),
        Arguments.of("sum(p.^3 ./ (q + 2))", "p", new String[] {"p:vector(n)", "q:vector(n)"}),
        Arguments.of("sqrt(p) + log(p) .* tanh(p)", "p", new String[] {"p:vector(n)"}),
        Arguments.of("sum(sigmoid(X) .* softplus(X) + relu(X).^2)", "X", new String[] {"X:matrix(m,n)"}),
        Arguments.of("erf(p) .* sin(p) + cos(p)", "p", new String[] {"p:vector(n)"}),
        Arguments.of("sum(erf(W*x) .* cos(W*x))", "W", new String[] {"x:vector(n)", "W:matrix(m,n)"}),
        Arguments.of("norm(X)", "X", new String[] {"X:matrix(m,n)"}),
        Arguments.of("x / norm(x)", "x", new String[] {"x:vector(n)"}),
        Arguments.of("logsumexp(X)", "X", new String[] {"X:matrix(m,n)"}),
        Arguments.of("softmax(W*x)", "W", new String[] {"x:vector(n)", "W:matrix(m,n)"}),
        Arguments.of("(x'*x)*A*x", "x", new String[] {"x:vector(n)", "A:matrix(n,n)"}),
        Arguments.of("det(X)*x'*x", "X", new String[] {"X:matrix(n,n)", "x:vector(n)"}),
        Arguments.of("sum(W*unfold(X, k, s, q, d) .* C)", "X",
            new String[] {"X:tensor(c,h,w)", "W:matrix(o,c*k*k)", "C:matrix(o,((h + 2*q - d*(k - 1) - 1)/s + 1)*((w + 2*q - d*(k - 1) - 1)/s + 1))"}),
        Arguments.of("sum(vec(X) .* vec(X) .* vec(X))", "X", new String[] {"X:tensor(c,h,w)"}),
        Arguments.of("X'*A*X", "X", new String[] {"X:matrix(n,m)", "A:matrix(n,n)"}),
        Arguments.of("x/sum(exp(x))", "x", new String[] {"x:vector(n)"}),
        Arguments.of("x*x'*a", "x", new String[] {"x:vector(n)", "a:vector(n)"}));
  }

  @ParameterizedTest(name = "{0} wrt {1}")
  @MethodSource("cases")
  void derivativesAgreeWithFiniteDifferences(String text, String wrt, String[] decls) {
    Dsl.Scope s = Fixtures.scope(decls);
    Expr f = Fixtures.parse(text, s);
    Expr.Var x = s.vars().get(wrt);
    Expr jac = ClosedForm.expand(Calculus.jacobian(f, x), Calculus.simplifier());
    Expr hess = f.shape().isScalar() ? ClosedForm.expand(Calculus.hessian(f, x), Calculus.simplifier()) : null;
    Random rng = new Random(text.hashCode());
    int checked = 0;
    for (int attempt = 0; attempt < 200 && checked < 3; attempt++) {
      Map<String, Long> dims = new java.util.LinkedHashMap<>();
      for (Expr.Var v : s.vars().values()) for (var d : v.shape().dims()) for (String sym : d.symbols()) dims.putIfAbsent(sym, 1L + rng.nextInt(4));
      if (!valid(s, dims)) continue;
      Map<String, Tensor> values = Fixtures.values(s, dims, rng);
      DMatrixRMaj ref = FiniteDifferences.jacobian(f, x, values, dims);
      DMatrixRMaj got = Evaluator.evaluate(jac, values, dims).toDMatrix();
      assertClose(ref, got, TOL, text + " jacobian at " + dims + ": " + Printer.text(jac));
      if (hess != null) {
        DMatrixRMaj href = FiniteDifferences.hessian(f, x, values, dims);
        DMatrixRMaj hgot = Evaluator.evaluate(hess, values, dims).toDMatrix();
        assertClose(href, hgot, 100 * TOL, text + " hessian at " + dims + ": " + Printer.text(hess));
      }
      checked++;
    }
    assertEquals(3, checked, "could not draw 3 valid shapes");
  }

  private static boolean valid(Dsl.Scope s, Map<String, Long> dims) {
    try {
      for (Expr.Var v : s.vars().values()) for (long d : v.shape().evaluate(dims)) if (d < 1) return false;
      return true;
    } catch (ArithmeticException e) {
      return false;
    }
  }

  static void assertClose(DMatrixRMaj ref, DMatrixRMaj got, double tol, String what) {
    assertEquals(ref.numRows, got.numRows, what + ": rows");
    assertEquals(ref.numCols, got.numCols, what + ": cols");
    double scale = 1;
    for (int i = 0; i < ref.getNumElements(); i++) scale = Math.max(scale, Math.abs(ref.get(i)));
    double err = Tensor.maxAbsError(ref, got);
    assertTrue(err <= tol * scale, what + ": max abs error " + err + " > " + tol * scale);
  }
}
