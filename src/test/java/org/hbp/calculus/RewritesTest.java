package org.hbp.calculus;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Each rewrite identity: the input simplifies to the expected canonical form (written by hand),
 * and the simplified expression has the same value as the input at random points.
 */
class RewritesTest {
  static final double TOL = 1e-10;

  static final String[] DECLS = {"A:matrix(m,n)", "B:matrix(p,q)", "C:matrix(n,r)", "D:matrix(q,s)", "M:matrix(n,n)",
      "N:matrix(n,n)", "a:vector(n)", "b:vector(n)", "u:vector(m)", "x:vector(n)", "y:vector(n)", "X:matrix(n,m)",
      "Y:matrix(q,n)", "Hz:matrix(n,n)", "s:scalar", "t:scalar", "T:tensor(c,h,w)", "V:matrix(q,p)"};

  static Stream<Arguments> identities() {
    return Stream.of(
        // rewrite, input, expected canonical form
        Arguments.of("zero-scalar", "0*s + a'*b", "a'*b"),
        Arguments.of("ones-scalar", "ones(1, 1) + s", "1 + s"),
        Arguments.of("diagonalizer-one", "diagonalizer(1)*s", "s"),
        Arguments.of("linear-of-zero", "unfold(zeros(c, h, w), 1)", "zeros(c, h*w)"),
        Arguments.of("eye-one", "kron(eye(1), A)", "A"),
        Arguments.of("commutation-trivial", "commutation(n, 1)*a", "a"),
        Arguments.of("add-flatten", "(a + b) + (x + y)", "a + b + x + y"),
        Arguments.of("add-collect", "a + 2*b - a + b", "3*b"),
        Arguments.of("add-collect", "x - x", "zeros(n)"),
        Arguments.of("scale-trivial", "2*(3*a)", "6*a"),
        Arguments.of("scale-trivial", "-(a - b)", "b - a"),
        Arguments.of("scalarmul-normalize", "s*(2*A)", "2*s*A"),
        Arguments.of("matmul-flatten", "(M*N)*M", "M*N*M"),
        Arguments.of("matmul-zero-identity", "eye(n)*M*eye(n)", "M"),
        Arguments.of("matmul-coefficients", "M*(2*N)*(s*a)", "2*s*M*N*a"),
        // a product of scalars keeps the scalar of a ScalarMul factor (it was dropped)
        Arguments.of("matmul-coefficients", "((x'*x)*2)*exp(x'*x)", "2*(exp(x'*x)*(x'*x))"),
        Arguments.of("matmul-coefficients", "(s*(x'*x))*exp(x'*x)", "exp(x'*x)*s*(x'*x)"),
        Arguments.of("mixed-product", "kron(A, B)*kron(C, D)", "kron(A*C, B*D)"),
        Arguments.of("mixed-product", "kron(a, eye(n))*Hz*kron(a', eye(n))", "kron(a*a', Hz)"),
        Arguments.of("vec-trick", "kron(C', A)*vec(M)", "vec(A*M*C)"),
        Arguments.of("vec-trick", "vec(A)'*kron(M, A)", "vec(A'*A*M)'"),
        Arguments.of("diag-product", "diag(a)*diag(b)", "diag(a .* b)"),
        Arguments.of("diag-product", "diag(a)*b", "a .* b"),
        Arguments.of("diag-product", "ones(n)'*a", "sum(a)"),
        Arguments.of("diag-times-vector", "diag(a)*M*b", "a .* (M*b)"),
        Arguments.of("distribute-vector-product", "a'*(M + N)", "a'*M + a'*N"),
        Arguments.of("commutation-product", "commutation(n, m)*commutation(m, n)", "eye(m*n)"),
        Arguments.of("commutation-product", "commutation(p, m)*kron(A, B)*commutation(n, q)", "kron(B, A)"),
        Arguments.of("transpose", "(M*N)'", "N'*M'"),
        Arguments.of("transpose", "kron(A, B)'", "kron(A', B')"),
        Arguments.of("transpose", "(a'*b)'", "a'*b"),
        Arguments.of("transpose", "(diag(a)*Hz)'", "Hz*diag(a)"),
        Arguments.of("transpose", "commutation(m, n)'", "commutation(n, m)"),
        // the inverse of a symmetric product is symmetric; of another matrix it keeps its transpose
        Arguments.of("transpose", "inv(X*X')'", "inv(X*X')"),
        Arguments.of("transpose", "inv(X'*(Hz + diag(a))*X)'", "inv(X'*(Hz + diag(a))*X)"),
        Arguments.of("transpose", "inv(M)'", "inv(M)'"),
        Arguments.of("transpose", "inv(M*N*M')'", "inv(M*N*M')'"),
        Arguments.of("hadamard-normalize", "a .* (2*b) .* ones(n)", "2*(a .* b)"),
        Arguments.of("hadamard-normalize", "a .* a ./ a", "a"),
        Arguments.of("hadamard-normalize", "b .* a", "a .* b"),
        Arguments.of("power", "(a.^2).^3", "a.^6"),
        Arguments.of("power", "a.^1 + b.^0", "a + 1"),
        Arguments.of("kron", "kron(eye(m), eye(n))", "eye(m*n)"),
        Arguments.of("kron", "kron(s, A)", "s*A"),
        Arguments.of("kron", "kron(a, b')", "a*b'"),
        Arguments.of("vec", "vec(a)", "a"),
        Arguments.of("vec", "vec(2*A + A)", "3*vec(A)"),
        Arguments.of("reshape", "reshape(vec(A), m, n)", "A"),
        Arguments.of("diag", "diag(ones(n))", "eye(n)"),
        Arguments.of("diag", "diag(diag(a))", "a"),
        Arguments.of("trace", "tr(a*b')", "b'*a"),
        Arguments.of("trace", "tr(kron(M, N))", "tr(M)*tr(N)"),
        Arguments.of("sum", "sum(2*a + b)", "2*sum(a) + sum(b)"),
        Arguments.of("log-exp", "log(exp(a))", "a"),
        Arguments.of("log-exp", "log(softmax(a))", "a - logsumexp(a)"),
        Arguments.of("derivative-atomic", "relu''(a) + relu'(a)", "step(a)"),
        Arguments.of("dim-constant", "a / (2*3)", "0.16666666666666666*a"),
        Arguments.of("transpose", "(a.^2)'", "a'.^2"),
        Arguments.of("sum", "sum(ones(n))*a", "n*a"),
        Arguments.of("sum", "sum(softmax(a))", "1"),
        Arguments.of("sum", "sum(softmax(A))*a", "n*a"), // column-wise: each of the n columns sums to 1
        // textbook forms (TextbookRewrites)
        Arguments.of("commutation-vec", "commutation(m, n)*vec(A)", "vec(A')"),
        Arguments.of("commutation-vec", "vec(X)'*commutation(m, n)", "vec(X')'"),
        Arguments.of("commutation-kron", "commutation(n, m)*kron(A, a)", "kron(a, A)"),
        Arguments.of("commutation-kron", "kron(u', A)*commutation(m, n)", "kron(A, u')"),
        Arguments.of("kron-outer", "kron(a, kron(b', M))", "kron(a*b', M)"),
        Arguments.of("kron-outer", "kron(b', kron(a, M))", "kron(a*b', M)"),
        Arguments.of("kron-rows", "kron(a', u')", "vec(u*a')'"),
        Arguments.of("add-merge-vec", "vec(M*X)' + 2*vec(N*X)'", "vec((M + 2*N)*X)'"),
        Arguments.of("add-merge-vec", "3*vec(A*M) - 3*vec(A*N)", "3*vec(A*(M - N))"),
        Arguments.of("common-coefficient", "(2*M - 2*N)*X", "2*((M - N)*X)"),
        Arguments.of("common-coefficient", "kron(-M - N, A)", "-kron(M + N, A)"),
        Arguments.of("add-merge-kron", "kron(M, a) + 2*kron(M, b)", "kron(M, a + 2*b)"),
        Arguments.of("add-merge-kron", "3*kron(a, M) + 3*kron(b, M)", "3*kron(a + b, M)"),
        Arguments.of("add-merge-diag", "diag(a) + 2*diag(b) + s*diag(x)", "diag(a + 2*b + s*x)"),
        Arguments.of("expand-collect", "a .* (1 - b) - b .* (1 - a)", "a - b"),
        Arguments.of("expand-collect", "(1 - a).^2 + 2*a - a.^2", "ones(n)"),
        Arguments.of("expand-collect", "(1 - a) .* ((1 - a).^-1 .* b + x)", "x .* (1 - a) + b"),
        Arguments.of("factor-hadamard", "a - a.^2", "a .* (1 - a)"),
        Arguments.of("factor-hadamard", "a .* b .* x + a .* b.^2", "a .* b .* (b + x)"),
        Arguments.of("recognise-functions", "log(sum(exp(a)))", "logsumexp(a)"),
        Arguments.of("recognise-functions", "log(1 + exp(a))", "softplus(a)"),
        Arguments.of("recognise-functions", "exp(a) / sum(exp(a))", "softmax(a)"),
        Arguments.of("odd-functions", "sigmoid(-a)", "1 - sigmoid(a)"),
        Arguments.of("odd-functions", "tanh(-a) + tanh(a)", "zeros(n)"),
        // the vec(eye(n)) of a second derivative contracted against its gradient row (IdentityVecContraction)
        Arguments.of("contract-vec-eye", "kron(vec(A)', eye(n*n))*kron(kron(eye(n), commutation(m, n)), eye(n))*kron(vec(eye(n)), kron(u, M))",
            "kron(A'*u, M)"));
  }

  @ParameterizedTest(name = "{0}: {1} -> {2}")
  @MethodSource("identities")
  void rewriteReachesCanonicalFormAndKeepsValue(String rule, String input, String expected) {
    assertTrue(Simplifier.byName().containsKey(rule), "no rewrite named " + rule);
    var s = Fixtures.scope(DECLS);
    Expr in = Fixtures.parse(input, s);
    Expr out = Simplifier.simplify(in);
    Expr want = Fixtures.parse(expected, s);
    assertEquals(Printer.text(Simplifier.simplify(want)), Printer.text(out), input);
    assertEquals(Simplifier.simplify(want), out, input);
    // value preserved at random points
    Random rng = new Random(input.hashCode());
    for (int trial = 0; trial < 3; trial++) {
      Map<String, Long> dims = new LinkedHashMap<>();
      for (String d : new String[] {"m", "n", "p", "q", "r", "s", "c", "h", "w"}) dims.put(d, 1L + rng.nextInt(4));
      Map<String, Tensor> values = Fixtures.values(s, dims, rng);
      Tensor a = Evaluator.evaluate(in, values, dims), b = Evaluator.evaluate(out, values, dims);
      assertTrue(a.maxAbsError(b) <= TOL * Math.max(1, a.maxAbsError(Tensor.zeros(a.shape()))), input + " at " + dims);
    }
  }

  @Test
  void everyRewriteIsCoveredByTheTable() {
    java.util.Set<String> covered = new java.util.HashSet<>();
    identities().forEach(a -> covered.add((String) a.get()[0]));
    for (String name : Simplifier.byName().keySet()) assertTrue(covered.contains(name), "rewrite without a test: " + name);
  }

  @Test
  void aRewriteThatDoesNotApplyReturnsItsInput() {
    var s = Fixtures.scope(DECLS);
    Expr e = Fixtures.parse("M*N", s);
    for (Simplifier.Rewrite r : Simplifier.byName().values()) {
      if (r.name().equals("add-collect")) continue; // applies to sums only; M*N is not one
      Expr out = r.apply().apply(e);
      if (!r.name().startsWith("matmul") && !r.name().equals("mixed-product")) assertSame(e, out, r.name());
    }
  }

  @Test
  void assumptionsRewriteTheirLeftSide() {
    var s = Fixtures.scope("y:vector(n)", "x:vector(n)");
    Simplifier simp = new Simplifier(java.util.List.of(Simplifier.assumption(Fixtures.parse("sum(y)", s), new Expr.Num(1))));
    Expr e = simp.run(Fixtures.parse("y'*ones(n)*x", s));
    assertEquals("x", Printer.text(e));
    assertNotEquals(Simplifier.simplify(Fixtures.parse("y'*ones(n)*x", s)), e);
  }
}
