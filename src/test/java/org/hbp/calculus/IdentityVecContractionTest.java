package org.hbp.calculus;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.util.Map;
import java.util.Random;
import org.hbp.dsl.Dsl;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The contraction of {@code vec(eye(n))} in second derivatives ({@link IdentityVecContraction})
 * against the dense evaluation of its left-hand side: commutation matrices, Kronecker products and
 * vec(eye) formed entry by entry by the verifier's evaluator, at unequal dims so that a swapped
 * dim or a transposed G shows.
 */
class IdentityVecContractionTest {
  private static final Map<String, Long> DIMS = Map.of("n", 3L, "s", 4L, "e", 2L, "q", 5L);

  @ParameterizedTest
  @CsvSource(delimiter = ';', value = {
      // kron(vec(I_n), C), Pi = eye and Pi = a commutation
      "kron(w', eye(n*e))*kron(kron(eye(n), commutation(s, n)), eye(e))*kron(vec(eye(n)), C)",
      "kron(w', commutation(e, n))*kron(kron(eye(n), commutation(s, n)), eye(e))*kron(vec(eye(n)), C)",
      // kron(C, vec(I_n))
      "kron(w', commutation(n, e))*kron(kron(eye(s), commutation(n, e)), eye(n))*kron(C, vec(eye(n)))",
      "kron(w', eye(n*e))*kron(kron(eye(s), commutation(n, e)), eye(n))*kron(C, vec(eye(n)))",
      // kron(diagonalizer(n)*Y, B) and kron(diagonalizer(n), B)
      "kron(w', eye(n*e))*kron(kron(eye(n), commutation(s, n)), eye(e))*kron(diagonalizer(n)*Y, B)",
      "kron(w', M)*kron(kron(eye(n), commutation(s, n)), eye(e))*kron(diagonalizer(n), B)",
      // inside a longer product, with the gradient row an elementwise product of rows as derived
      "M*kron(vec(A)' .* vec(E)', eye(n*e))*kron(kron(eye(n), commutation(s, n)), eye(e))*kron(vec(eye(n)), C)*N"})
  void contractionEqualsTheDenseProduct(String text) {
    Dsl.Scope scope = Fixtures.scope("w:vector(s*n)", "C:matrix(s*e, q)", "A:matrix(s, n)", "E:matrix(s, n)", "M:matrix(2, n*e)",
        "N:matrix(q, 3)", "Y:matrix(n, 2)", "B:matrix(e*s, q)");
    Expr original = Fixtures.parse(text, scope);
    Expr.MatMul product = (Expr.MatMul) original;
    Expr contracted = IdentityVecContraction.contract(product);
    assertNotSame(product, contracted, "the identity applies to " + text);
    assertFalse(Printer.text(contracted).contains("vec(eye(") || Printer.text(contracted).contains("diagonalizer("), Printer.text(contracted));
    Expr simplified = Simplifier.simplify(original);
    assertFalse(Printer.text(simplified).contains("vec(eye(") || Printer.text(simplified).contains("diagonalizer("), Printer.text(simplified));
    Map<String, Tensor> values = Fixtures.values(scope, DIMS, new Random(7));
    var ref = Evaluator.evaluate(original, values, DIMS).toDMatrix();
    DerivativeRulesTest.assertClose(ref, Evaluator.evaluate(contracted, values, DIMS).toDMatrix(), 1e-12, "contracted " + Printer.text(contracted));
    DerivativeRulesTest.assertClose(ref, Evaluator.evaluate(simplified, values, DIMS).toDMatrix(), 1e-12, "simplified " + Printer.text(simplified));
  }

  /** A permutation that does not line the axes up (the commutation's dims swapped) is left alone. */
  @ParameterizedTest
  @CsvSource(delimiter = ';', value = {
      "kron(w', eye(n*e))*kron(kron(eye(n), commutation(n, s)), eye(e))*kron(vec(eye(n)), C)"})
  void aMisalignedPermutationIsNotContracted(String text) {
    Dsl.Scope scope = Fixtures.scope("w:vector(s*n)", "C:matrix(s*e, q)");
    Expr.MatMul product = (Expr.MatMul) Fixtures.parse(text, scope);
    assertSame(product, IdentityVecContraction.contract(product));
  }
}
