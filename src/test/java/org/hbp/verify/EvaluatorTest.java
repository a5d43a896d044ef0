package org.hbp.verify;

import org.hbp.calculus.Tensor;
import org.hbp.calculus.Evaluator;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.hbp.UserError;
import org.hbp.calculus.Dim;
import org.hbp.calculus.ElementwiseFunction;
import org.hbp.calculus.Expr;
import org.hbp.calculus.Shape;
import org.junit.jupiter.api.Test;

class EvaluatorTest {
  private static final double TOL = 1e-12;

  private static final Dim M = Dim.sym("m"), N = Dim.sym("n"), P = Dim.sym("p");
  private static final Map<String, Long> DIMS = Map.of("m", 3L, "n", 4L, "p", 2L);

  private static Expr.Var var(String name, Shape shape) {
    return new Expr.Var(name, shape, Expr.Role.INPUT);
  }

  private static Expr.Var index(String name, Shape shape) {
    return new Expr.Var(name, shape, Expr.Role.INDEX);
  }

  private static Tensor eval(Expr e, Map<String, Tensor> values) {
    return Evaluator.evaluate(e, values, DIMS);
  }

  private static void assertClose(Tensor expected, Tensor actual) {
    assertArrayEquals(expected.shape(), actual.shape(), "shape");
    double err = expected.maxAbsError(actual);
    assertTrue(err <= TOL, "max abs error " + err + "\nexpected " + expected + "\nactual   " + actual);
  }

  private static void assertClose(DMatrixRMaj expected, Tensor actual) {
    assertClose(Tensor.fromDMatrix(expected), actual);
  }

  private final Random rng = new Random(20240611);

  // ---- variables and constants --------------------------------------------------------------

  @Test
  void varLookupAndErrors() {
    Expr.Var x = var("x", Shape.matrix(M, N));
    Tensor a = Tensor.random(rng, 3, 4);
    assertClose(a, eval(x, Map.of("x", a)));
    UserError missing = assertThrows(UserError.class, () -> eval(x, Map.of()));
    assertTrue(missing.getMessage().contains("'x'"), missing.getMessage());
    UserError wrong = assertThrows(UserError.class, () -> eval(x, Map.of("x", Tensor.zeros(4, 3))));
    assertTrue(wrong.getMessage().contains("'x'"), wrong.getMessage());
    Expr.Var y = var("y", Shape.vector(Dim.sym("q")));
    UserError unbound = assertThrows(UserError.class, () -> eval(y, Map.of("y", Tensor.zeros(2, 1))));
    assertTrue(unbound.getMessage().contains("'q'"), unbound.getMessage());
  }

  @Test
  void constants() {
    assertClose(Tensor.scalar(2.5), eval(new Expr.Num(2.5), Map.of()));
    assertClose(Tensor.zeros(3, 4, 2), eval(new Expr.Zero(Shape.tensor(M, N, P)), Map.of()));
    assertClose(Tensor.filled(1, 4, 1), eval(new Expr.Ones(Shape.vector(N)), Map.of()));
    assertClose(Tensor.fromRows(new double[][] {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}), eval(new Expr.Eye(M), Map.of()));
  }

  // ---- structured matrices ----------------------------------------------------------------

  @Test
  void commutationTransposesVec() {
    Expr.Var a = var("A", Shape.matrix(M, N));
    Tensor av = Tensor.random(rng, 3, 4);
    Expr kVecA = new Expr.MatMul(List.of(new Expr.Commutation(M, N), new Expr.Vec(a)));
    DMatrixRMaj at = new DMatrixRMaj(4, 3);
    CommonOps_DDRM.transpose(av.toDMatrix(), at);
    Tensor expected = Tensor.fromDMatrix(at).reshape(12, 1);
    assertClose(expected, eval(kVecA, Map.of("A", av)));
    // a permutation matrix: one 1 in every row and column
    Tensor k = eval(new Expr.Commutation(M, N), Map.of());
    for (int r = 0; r < 12; r++) {
      double rowSum = 0, colSum = 0;
      for (int c = 0; c < 12; c++) {
        rowSum += k.get(r, c);
        colSum += k.get(c, r);
      }
      assertEquals(1, rowSum, TOL);
      assertEquals(1, colSum, TOL);
    }
  }

  @Test
  void diagonalizer() {
    Expr.Var v = var("v", Shape.vector(N));
    Tensor vv = Tensor.random(rng, 4, 1);
    Tensor dv = eval(new Expr.MatMul(List.of(new Expr.Diagonalizer(N), v)), Map.of("v", vv));
    double[] expected = new double[16];
    for (int i = 0; i < 4; i++) expected[i + 4 * i] = vv.at(i); // vec(diag(v))
    assertClose(new Tensor(new int[] {16, 1}, expected), dv);
    Tensor d = eval(new Expr.Diagonalizer(N), Map.of());
    assertEquals(1, d.get(5, 1), TOL);
    assertEquals(0, d.get(4, 1), TOL);
  }

  @Test
  void gatherWithPaddingAndSelection() {
    Expr.Var x = var("X", Shape.matrix(M, N));
    Expr.Var idx = index("idx", Shape.matrix(P, M));
    Tensor xv = Tensor.random(rng, 3, 4);
    Tensor iv = new Tensor(new int[] {2, 3}, new double[] {5, -1, 0, 11, 7, -1});
    Map<String, Tensor> values = Map.of("X", xv, "idx", iv);

    Tensor g = eval(new Expr.Gather(x, idx), values);
    assertClose(new Tensor(new int[] {2, 3}, new double[] {xv.at(5), 0, xv.at(0), xv.at(11), xv.at(7), 0}), g);
    assertEquals(xv.get(2, 1), g.get(0, 0), TOL); // vec index 5 = (2,1) of a 3x4

    Expr sel = new Expr.Selection(idx, M.times(N));
    Tensor s = eval(sel, values);
    assertArrayEquals(new int[] {6, 12}, s.shape());
    for (int c = 0; c < 12; c++) assertEquals(0, s.get(1, c), TOL); // the -1 row is empty
    assertEquals(1, s.get(3, 11), TOL);
    Tensor sx = eval(new Expr.MatMul(List.of(sel, new Expr.Vec(x))), values);
    assertClose(eval(new Expr.Vec(new Expr.Gather(x, idx)), values), sx);

    Map<String, Tensor> bad = Map.of("X", xv, "idx", new Tensor(new int[] {2, 3}, new double[] {0, 1, 2, 12, 0, 0}));
    UserError ex = assertThrows(UserError.class, () -> eval(new Expr.Gather(x, idx), bad));
    assertTrue(ex.getMessage().contains("'idx'"), ex.getMessage());
  }

  // ---- unfold -------------------------------------------------------------------------------

  private static Expr.ConvDims geometry(long c, long h, long w, long k, long s, long p, long d) {
    return new Expr.ConvDims(Dim.of(c), Dim.of(h), Dim.of(w), Dim.of(k), Dim.of(s), Dim.of(p), Dim.of(d));
  }

  @Test
  void unfoldSmallByHand() {
    Expr.Var x = var("X", Shape.tensor(Dim.ONE, Dim.of(3), Dim.of(3)));
    Tensor xv = Tensor.fromFunction(q -> 10 * (q % 3) + q / 3, 1, 3, 3); // X[0,y,x] = 10y + x
    Tensor u = eval(new Expr.Unfold(x, geometry(1, 3, 3, 2, 1, 0, 1)), Map.of("X", xv));
    assertClose(Tensor.fromRows(new double[][] {
        {0, 10, 1, 11},
        {1, 11, 2, 12},
        {10, 20, 11, 21},
        {11, 21, 12, 22}}), u);
  }

  @Test
  void unfoldZeroPaddingByHand() {
    Expr.Var x = var("X", Shape.tensor(Dim.ONE, Dim.of(2), Dim.of(2)));
    Tensor xv = Tensor.fromRows(new double[][] {{1, 3}, {2, 4}}).reshape(1, 2, 2); // X[0,y,x] = 1 + y + 2x
    Tensor u = eval(new Expr.Unfold(x, geometry(1, 2, 2, 3, 1, 1, 1)), Map.of("X", xv));
    assertArrayEquals(new int[] {9, 4}, u.shape());
    assertEquals(0, u.get(0, 0), TOL); // (ki,kj)=(0,0) at output (0,0) reads (-1,-1)
    assertEquals(1, u.get(4, 0), TOL);
    assertEquals(4, u.get(8, 0), TOL);
    assertEquals(1, u.get(0, 3), TOL); // output (1,1) reads (0,0)
    assertEquals(0, u.get(8, 3), TOL);
    assertEquals(2, u.get(4, 1), TOL); // output (oh,ow)=(1,0) centre reads (1,0)
    assertEquals(3, u.get(4, 2), TOL); // output (0,1) centre reads (0,1)
  }

  @Test
  void unfoldingMatrixMatchesUnfold() {
    Dim c = Dim.sym("c"), h = Dim.sym("h"), w = Dim.sym("w");
    Expr.ConvDims g = new Expr.ConvDims(c, h, w, Dim.sym("k"), Dim.sym("s"), Dim.sym("pad"), Dim.sym("d"));
    Map<String, Long> dims = new HashMap<>(Map.of("c", 2L, "h", 5L, "w", 6L, "k", 3L, "s", 2L, "pad", 1L, "d", 2L));
    Expr.Var x = var("X", Shape.tensor(c, h, w));
    Tensor xv = Tensor.random(rng, 2, 5, 6);
    Map<String, Tensor> values = Map.of("X", xv);

    Tensor unf = Evaluator.evaluate(new Expr.Unfold(x, g), values, dims);
    int k = 3, s = 2, pad = 1, d = 2;
    int outH = (5 + 2 * pad - d * (k - 1) - 1) / s + 1, outW = (6 + 2 * pad - d * (k - 1) - 1) / s + 1;
    assertArrayEquals(new int[] {2 * k * k, outH * outW}, unf.shape());
    // independent reference: decode every (row, column) of the result
    for (int r = 0; r < unf.rows(); r++)
      for (int col = 0; col < unf.cols(); col++) {
        int ch = r / (k * k), ki = (r / k) % k, kj = r % k, oh = col % outH, ow = col / outH;
        int yy = oh * s - pad + ki * d, xx = ow * s - pad + kj * d;
        double expected = yy >= 0 && yy < 5 && xx >= 0 && xx < 6 ? xv.get(ch, yy, xx) : 0;
        assertEquals(expected, unf.get(r, col), TOL, "entry (" + r + "," + col + ")");
      }

    Tensor viaMatrix = Evaluator.evaluate(new Expr.MatMul(List.of(new Expr.Unfolding(g), new Expr.Vec(x))), values, dims);
    assertClose(Evaluator.evaluate(new Expr.Vec(new Expr.Unfold(x, g)), values, dims), viaMatrix);
  }

  // ---- linear algebra ---------------------------------------------------------------------

  @Test
  void addScaleScalarMulHadamardPower() {
    Expr.Var a = var("A", Shape.matrix(M, N)), b = var("B", Shape.matrix(M, N)), s = var("s", Shape.SCALAR);
    Tensor av = Tensor.random(rng, 3, 4), bv = Tensor.random(rng, 3, 4);
    Map<String, Tensor> values = Map.of("A", av, "B", bv, "s", Tensor.scalar(-1.5));
    assertClose(Tensor.fromFunction(q -> av.at(q) + 2 * bv.at(q), 3, 4), eval(new Expr.Add(List.of(a, b, b)), values));
    assertClose(Tensor.fromFunction(q -> 0.25 * av.at(q), 3, 4), eval(new Expr.Scale(0.25, a), values));
    assertClose(Tensor.fromFunction(q -> -1.5 * av.at(q), 3, 4), eval(new Expr.ScalarMul(s, a), values));
    assertClose(Tensor.fromFunction(q -> av.at(q) * bv.at(q) * av.at(q), 3, 4), eval(new Expr.Hadamard(List.of(a, b, a)), values));
    assertClose(Tensor.fromFunction(q -> av.at(q) * av.at(q) * av.at(q), 3, 4), eval(new Expr.Power(a, 3), values));
    assertClose(Tensor.fromFunction(q -> 1 / Math.sqrt(Math.abs(av.at(q))), 3, 4),
        eval(new Expr.Power(new Expr.Apply(ElementwiseFunction.BUILTIN_RULES.get("abs"), 0, a), -0.5), values));
  }

  @Test
  void tensorsAddAndScale() {
    Expr.Var t = var("T", Shape.tensor(P, M, N));
    Tensor tv = Tensor.random(rng, 2, 3, 4);
    Tensor r = eval(new Expr.Add(List.of(t, new Expr.Scale(2, t))), Map.of("T", tv));
    assertClose(Tensor.fromFunction(q -> 3 * tv.at(q), 2, 3, 4), r);
  }

  @Test
  void matMulChainAndTranspose() {
    Expr.Var a = var("A", Shape.matrix(M, N)), b = var("B", Shape.matrix(N, P)), c = var("C", Shape.matrix(P, M));
    Tensor av = Tensor.random(rng, 3, 4), bv = Tensor.random(rng, 4, 2), cv = Tensor.random(rng, 2, 3);
    Map<String, Tensor> values = Map.of("A", av, "B", bv, "C", cv);
    DMatrixRMaj ab = new DMatrixRMaj(3, 2), abc = new DMatrixRMaj(3, 3);
    CommonOps_DDRM.mult(av.toDMatrix(), bv.toDMatrix(), ab);
    CommonOps_DDRM.mult(ab, cv.toDMatrix(), abc);
    assertClose(abc, eval(new Expr.MatMul(List.of(a, b, c)), values));
    Tensor at = eval(new Expr.Transpose(a), values);
    assertArrayEquals(new int[] {4, 3}, at.shape());
    for (int i = 0; i < 3; i++) for (int j = 0; j < 4; j++) assertEquals(av.get(i, j), at.get(j, i), TOL);
  }

  @Test
  void kron() {
    Expr.Var a = var("A", Shape.matrix(M, P)), b = var("B", Shape.matrix(P, N));
    Tensor av = Tensor.random(rng, 3, 2), bv = Tensor.random(rng, 2, 4);
    Tensor k = eval(new Expr.Kron(a, b), Map.of("A", av, "B", bv));
    assertArrayEquals(new int[] {6, 8}, k.shape());
    for (int i = 0; i < 3; i++)
      for (int j = 0; j < 2; j++)
        for (int r = 0; r < 2; r++)
          for (int s = 0; s < 4; s++) assertEquals(av.get(i, j) * bv.get(r, s), k.get(i * 2 + r, j * 4 + s), TOL);
    DMatrixRMaj ref = new DMatrixRMaj(6, 8);
    CommonOps_DDRM.kron(av.toDMatrix(), bv.toDMatrix(), ref);
    assertClose(ref, k);
  }

  @Test
  void vecReshapeDiagTraceSum() {
    Expr.Var a = var("A", Shape.matrix(P.times(P), N)), v = var("v", Shape.vector(M)); // 4x4
    Tensor av = Tensor.random(rng, 4, 4), vv = Tensor.vector(1, -2, 3);
    Map<String, Tensor> values = Map.of("A", av, "v", vv);
    Tensor vec = eval(new Expr.Vec(a), values);
    assertArrayEquals(new int[] {16, 1}, vec.shape());
    assertEquals(av.get(1, 2), vec.at(1 + 4 * 2), TOL);
    Tensor t = eval(new Expr.Reshape(a, Shape.tensor(P, P, N)), values);
    assertArrayEquals(new int[] {2, 2, 4}, t.shape());
    assertEquals(av.get(3, 2), t.get(1, 1, 2), TOL); // 3 + 4*2 = 11 = 1 + 2*(1 + 2*2)
    assertClose(Tensor.fromRows(new double[][] {{1, 0, 0}, {0, -2, 0}, {0, 0, 3}}), eval(new Expr.DiagMat(v), values));
    assertClose(Tensor.vector(av.get(0, 0), av.get(1, 1), av.get(2, 2), av.get(3, 3)), eval(new Expr.DiagVec(a), values));
    assertEquals(av.get(0, 0) + av.get(1, 1) + av.get(2, 2) + av.get(3, 3), eval(new Expr.Trace(a), values).scalarValue(), TOL);
    double sum = 0;
    for (double x : av.data()) sum += x;
    assertEquals(sum, eval(new Expr.Sum(a), values).scalarValue(), TOL);
    assertEquals(2, eval(new Expr.Sum(v), values).scalarValue(), TOL);
  }

  @Test
  void invAndDet() {
    Expr.Var a = var("A", Shape.matrix(N, N));
    DMatrixRMaj am = Tensor.random(rng, 4, 4).toDMatrix();
    for (int i = 0; i < 4; i++) am.add(i, i, 4); // diagonally dominant: well conditioned
    Tensor av = Tensor.fromDMatrix(am);
    Map<String, Tensor> values = Map.of("A", av);
    DMatrixRMaj inv = new DMatrixRMaj(4, 4);
    assertTrue(CommonOps_DDRM.invert(am.copy(), inv));
    assertClose(inv, eval(new Expr.Inv(a), values));
    assertClose(CommonOps_DDRM.identity(4), eval(new Expr.MatMul(List.of(a, new Expr.Inv(a))), values));
    assertEquals(CommonOps_DDRM.det(am.copy()), eval(new Expr.Det(a), values).scalarValue(), TOL);
    Expr.Var b = var("B", Shape.matrix(P, P));
    assertEquals(1 * 4 - 2 * 3, eval(new Expr.Det(b), Map.of("B", Tensor.fromRows(new double[][] {{1, 2}, {3, 4}}))).scalarValue(), TOL);
    assertThrows(ArithmeticException.class, () -> eval(new Expr.Inv(b), Map.of("B", Tensor.zeros(2, 2))));
  }

  // ---- nonlinear ----------------------------------------------------------------------------

  @Test
  void applyBuiltins() {
    Expr.Var x = var("x", Shape.matrix(M, P));
    Tensor xv = Tensor.random(rng, 3, 2);
    Map<String, Tensor> values = Map.of("x", xv);
    for (String f : List.of("exp", "tanh", "sigmoid", "relu")) {
      Tensor r = eval(new Expr.Apply(ElementwiseFunction.BUILTIN_RULES.get(f), 0, x), values);
      for (int q = 0; q < 6; q++) {
        double v = xv.at(q);
        double expected = switch (f) {
          case "exp" -> Math.exp(v);
          case "tanh" -> Math.tanh(v);
          case "sigmoid" -> 1 / (1 + Math.exp(-v));
          default -> Math.max(v, 0);
        };
        assertEquals(expected, r.at(q), TOL, f);
      }
    }
  }

  @Test
  void applyUserDefinedBodyAndGivenDerivative() {
    Expr.Var t = ElementwiseFunction.T;
    // cube(t) = t.*t.*t + 2, with its first derivative given as 3*t.^2
    Expr body = new Expr.Add(List.of(new Expr.Hadamard(List.of(t, t, t)), new Expr.Num(2)));
    ElementwiseFunction cube = ElementwiseFunction.userDefined("cube_plus_two", body, Map.of(1, new Expr.Scale(3, new Expr.Power(t, 2))));
    Expr.Var x = var("x", Shape.vector(N));
    Tensor xv = Tensor.random(rng, 4, 1);
    Map<String, Tensor> values = Map.of("x", xv);
    assertClose(Tensor.fromFunction(q -> Math.pow(xv.at(q), 3) + 2, 4, 1), eval(new Expr.Apply(cube, 0, x), values));
    assertClose(Tensor.fromFunction(q -> 3 * xv.at(q) * xv.at(q), 4, 1), eval(new Expr.Apply(cube, 1, x), values));
  }

  @Test
  void softmax() {
    Expr.Var x = var("x", Shape.vector(N));
    Tensor xv = Tensor.random(rng, 4, 1);
    Tensor s = eval(new Expr.Softmax(x), Map.of("x", xv));
    double z = 0;
    for (double v : xv.data()) z += Math.exp(v);
    final double zz = z;
    assertClose(Tensor.fromFunction(q -> Math.exp(xv.at(q)) / zz, 4, 1), s);
    double sum = 0;
    for (double v : s.data()) sum += v;
    assertEquals(1, sum, TOL);
    Tensor big = eval(new Expr.Softmax(x), Map.of("x", Tensor.vector(1000, 1001, 999, -1000)));
    double e = Math.E, den = 1 + e + 1 / e;
    assertClose(Tensor.vector(1 / den, e / den, 1 / e / den, 0), big);
  }

  @Test
  void logSumExp() {
    Expr.Var x = var("x", Shape.matrix(M, P));
    Tensor xv = Tensor.random(rng, 3, 2);
    double z = 0;
    for (double v : xv.data()) z += Math.exp(v);
    assertEquals(Math.log(z), eval(new Expr.LogSumExp(x), Map.of("x", xv)).scalarValue(), TOL);
    Tensor big = new Tensor(new int[] {3, 2}, new double[] {1000, 1000, -5000, 1000, 1000, -1e300});
    assertEquals(1000 + Math.log(4), eval(new Expr.LogSumExp(x), Map.of("x", big)).scalarValue(), TOL);
  }

  @Test
  void sharedSubexpressionsAndNestedShapes() {
    Expr.Var x = var("x", Shape.vector(N));
    Expr shared = new Expr.Apply(ElementwiseFunction.BUILTIN_RULES.get("exp"), 0, x);
    Expr f = new Expr.MatMul(List.of(new Expr.Transpose(shared), new Expr.DiagMat(shared), shared)); // sum exp(3x)
    Tensor xv = Tensor.random(rng, 4, 1);
    double expected = 0;
    for (double v : xv.data()) expected += Math.exp(3 * v);
    assertEquals(expected, eval(f, Map.of("x", xv)).scalarValue(), TOL);
  }

  // ---- repeated evaluations ------------------------------------------------------------------

  /**
   * Repeated evaluations with some variables changing equal fresh evaluations at the same values,
   * bit for bit, for the changing variable in a matrix product, in a sum beside a constant branch,
   * and as the index map of a gather; its invariant branch is computed once, not frozen wrongly.
   */
  @Test
  void repeatedEvaluationsEqualFreshOnes() {
    Expr.Var a = var("A", Shape.matrix(M, N)), b = var("B", Shape.matrix(N, M)), c = var("C", Shape.matrix(M, M));
    Expr.Var idx = index("idx", Shape.matrix(P, M));
    Expr product = new Expr.MatMul(List.of(a, b));
    Expr f = new Expr.Add(List.of(product, new Expr.Hadamard(List.of(c, c)), new Expr.Transpose(product)));
    Expr g = new Expr.Gather(f, idx);
    Tensor iv = new Tensor(new int[] {2, 3}, new double[] {5, -1, 0, 8, 7, -1});
    Map<String, Tensor> values = new HashMap<>(Map.of("A", Tensor.random(rng, 3, 4), "B", Tensor.random(rng, 4, 3),
        "C", Tensor.random(rng, 3, 3), "idx", iv));

    Evaluator.Repeated byA = new Evaluator.Repeated(g, values, DIMS, java.util.Set.of("A", "idx"));
    for (int round = 0; round < 3; round++) {
      Tensor a2 = Tensor.random(rng, 3, 4);
      Tensor i2 = new Tensor(new int[] {2, 3}, new double[] {round, 1, 2, 3, 4, 8 - round});
      Map<String, Tensor> changed = round == 1 ? Map.of("A", a2) : Map.of("A", a2, "idx", i2);
      Map<String, Tensor> fresh = new HashMap<>(values);
      fresh.putAll(changed);
      assertArrayEquals(eval(g, fresh).data(), byA.evaluate(changed).data(), 0);
    }
    // C varies here: the Hadamard branch must follow it although the products stay put
    Evaluator.Repeated byC = new Evaluator.Repeated(f, values, DIMS, java.util.Set.of("C"));
    Tensor c2 = Tensor.random(rng, 3, 3);
    Map<String, Tensor> fresh = new HashMap<>(values);
    fresh.put("C", c2);
    assertArrayEquals(eval(f, values).data(), byC.evaluate(Map.of()).data(), 0);
    assertArrayEquals(eval(f, fresh).data(), byC.evaluate(Map.of("C", c2)).data(), 0);

    IllegalArgumentException undeclared = assertThrows(IllegalArgumentException.class, () -> byC.evaluate(Map.of("A", Tensor.zeros(3, 4))));
    assertTrue(undeclared.getMessage().contains("'A'"), undeclared.getMessage());
  }
}
