package org.hbp.verify;

import org.hbp.calculus.Tensor;
import org.hbp.calculus.Evaluator;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.hbp.calculus.Dim;
import org.hbp.calculus.ElementwiseFunction;
import org.hbp.calculus.Expr;
import org.hbp.calculus.Shape;
import org.junit.jupiter.api.Test;

/** Finite differences against derivatives known in closed form. */
class FiniteDifferencesTest {
  /** Absolute tolerance for entries of order 1 (see the accuracy notes of FiniteDifferences). */
  private static final double TOL = 1e-6;

  private static final Dim M = Dim.sym("m"), N = Dim.sym("n"), P = Dim.sym("p");
  private static final Map<String, Long> DIMS = Map.of("m", 3L, "n", 4L, "p", 2L);

  private final Random rng = new Random(424242);

  private static Expr.Var var(String name, Shape shape) {
    return new Expr.Var(name, shape, Expr.Role.INPUT);
  }

  private static void assertClose(DMatrixRMaj expected, DMatrixRMaj actual) {
    assertEquals(expected.numRows, actual.numRows, "rows");
    assertEquals(expected.numCols, actual.numCols, "cols");
    double err = Tensor.maxAbsError(expected, actual);
    assertTrue(err <= TOL, "max abs error " + err + "\nexpected " + expected + "\nactual " + actual);
  }

  @Test
  void jacobianOfMatMulIsKronIdentityA() {
    Expr.Var a = var("A", Shape.matrix(M, P)), x = var("X", Shape.matrix(P, N));
    Tensor av = Tensor.random(rng, 3, 2), xv = Tensor.random(rng, 2, 4);
    DMatrixRMaj jac = FiniteDifferences.jacobian(new Expr.MatMul(List.of(a, x)), x, Map.of("A", av, "X", xv), DIMS);
    // d vec(AX) / d vec(X) = kron(I_n, A): block (j, j) is A
    int m = 3, p = 2, n = 4;
    DMatrixRMaj expected = new DMatrixRMaj(m * n, p * n);
    for (int j = 0; j < n; j++)
      for (int i = 0; i < m; i++)
        for (int k = 0; k < p; k++) expected.set(i + m * j, k + p * j, av.get(i, k));
    assertClose(expected, jac);
  }

  @Test
  void jacobianOfTransposeIsCommutation() {
    Expr.Var x = var("X", Shape.matrix(M, N));
    DMatrixRMaj jac = FiniteDifferences.jacobian(new Expr.Transpose(x), x, Map.of("X", Tensor.random(rng, 3, 4)), DIMS);
    assertClose(Evaluator.evaluate(new Expr.Commutation(M, N), Map.of(), DIMS).toDMatrix(), jac);
  }

  @Test
  void jacobianOfSoftmax() {
    Expr.Var x = var("x", Shape.vector(N));
    Tensor xv = Tensor.random(rng, 4, 1);
    Map<String, Tensor> values = Map.of("x", xv);
    Tensor s = Evaluator.evaluate(new Expr.Softmax(x), values, DIMS);
    DMatrixRMaj expected = new DMatrixRMaj(4, 4); // diag(s) - s s'
    for (int i = 0; i < 4; i++) for (int j = 0; j < 4; j++) expected.set(i, j, (i == j ? s.at(i) : 0) - s.at(i) * s.at(j));
    assertClose(expected, FiniteDifferences.jacobian(new Expr.Softmax(x), x, values, DIMS));
  }

  @Test
  void gradientOfSumExp() {
    Expr.Var x = var("X", Shape.matrix(M, P));
    Tensor xv = Tensor.random(rng, 3, 2);
    Expr f = new Expr.Sum(new Expr.Apply(ElementwiseFunction.BUILTIN_RULES.get("exp"), 0, x));
    DMatrixRMaj g = FiniteDifferences.gradient(f, x, Map.of("X", xv), DIMS);
    DMatrixRMaj expected = new DMatrixRMaj(6, 1);
    for (int q = 0; q < 6; q++) expected.set(q, 0, Math.exp(xv.at(q)));
    assertClose(expected, g);
  }

  @Test
  void hessianOfQuadraticForm() {
    Expr.Var a = var("A", Shape.matrix(N, N)), x = var("x", Shape.vector(N));
    Tensor av = Tensor.random(rng, 4, 4), xv = Tensor.random(rng, 4, 1);
    Expr f = new Expr.MatMul(List.of(new Expr.Transpose(x), a, x));
    DMatrixRMaj h = FiniteDifferences.hessian(f, x, Map.of("A", av, "x", xv), DIMS);
    DMatrixRMaj expected = new DMatrixRMaj(4, 4); // A + A'
    for (int i = 0; i < 4; i++) for (int j = 0; j < 4; j++) expected.set(i, j, av.get(i, j) + av.get(j, i));
    assertClose(expected, h);
  }

  @Test
  void hessianOfLogSumExpOverMatrix() {
    Expr.Var x = var("X", Shape.matrix(P, M));
    Tensor xv = Tensor.random(rng, 2, 3);
    Map<String, Tensor> values = Map.of("X", xv);
    // Hessian of logsumexp over vec(X) is diag(s) - s s' with s = softmax(vec(X))
    Tensor s = Evaluator.evaluate(new Expr.Softmax(new Expr.Vec(x)), values, DIMS);
    DMatrixRMaj expected = new DMatrixRMaj(6, 6);
    for (int i = 0; i < 6; i++) for (int j = 0; j < 6; j++) expected.set(i, j, (i == j ? s.at(i) : 0) - s.at(i) * s.at(j));
    DMatrixRMaj h = FiniteDifferences.hessian(new Expr.LogSumExp(x), x, values, DIMS);
    assertClose(expected, h);
    for (int i = 0; i < 6; i++) for (int j = 0; j < 6; j++) assertEquals(h.get(i, j), h.get(j, i), 0.0);
  }

  @Test
  void rejectsNonScalarHessianAndBadStep() {
    Expr.Var x = var("x", Shape.vector(N));
    Map<String, Tensor> values = Map.of("x", Tensor.random(rng, 4, 1));
    assertThrows(IllegalArgumentException.class, () -> FiniteDifferences.hessian(x, x, values, DIMS));
    assertThrows(IllegalArgumentException.class, () -> FiniteDifferences.jacobian(x, x, values, DIMS, 0));
    assertThrows(IllegalArgumentException.class, () -> FiniteDifferences.jacobian(x, var("y", Shape.SCALAR), values, DIMS));
  }
}
