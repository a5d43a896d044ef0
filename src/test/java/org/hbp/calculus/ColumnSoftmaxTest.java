package org.hbp.calculus;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.Random;
import java.util.function.Function;
import java.util.function.ToDoubleFunction;
import org.hbp.dsl.Dsl;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Column-wise softmax and logsumexp_cols of a matrix: the engine's Jacobians and Hessians (symbolic,
 * evaluated by the reference interpreter) against references written here from the definitions
 * alone: a softmax computed column by column in plain Java, the block-diagonal closed form
 * {@code sum_j E_jj (x) (diag(p_j) - p_j p_j')} built entry by entry, and central finite
 * differences of the plain-Java functions. Nothing of the engine or the interpreter is used on the
 * reference side.
 */
class ColumnSoftmaxTest {
  private static final double EXACT = 1e-12, FD = 1e-7, FD2 = 1e-5;

  /** Softmax of each column of an m x n column-major matrix, written out. */
  static double[] softmaxColumns(double[] s, int m, int n) {
    double[] p = new double[m * n];
    for (int j = 0; j < n; j++) {
      double max = Double.NEGATIVE_INFINITY, z = 0;
      for (int i = 0; i < m; i++) max = Math.max(max, s[i + m * j]);
      for (int i = 0; i < m; i++) z += Math.exp(s[i + m * j] - max);
      for (int i = 0; i < m; i++) p[i + m * j] = Math.exp(s[i + m * j] - max) / z;
    }
    return p;
  }

  static double[] logSumExpColumns(double[] s, int m, int n) {
    double[] l = new double[n];
    for (int j = 0; j < n; j++) {
      double z = 0;
      for (int i = 0; i < m; i++) z += Math.exp(s[i + m * j]);
      l[j] = Math.log(z);
    }
    return l;
  }

  /** Central differences: column k of the Jacobian of f at x. */
  static double[][] jacobianFd(Function<double[], double[]> f, double[] x) {
    double h = 1e-5;
    int cols = x.length, rows = f.apply(x).length;
    double[][] j = new double[rows][cols];
    for (int k = 0; k < cols; k++) {
      double[] up = x.clone(), down = x.clone();
      up[k] += h;
      down[k] -= h;
      double[] fu = f.apply(up), fd = f.apply(down);
      for (int r = 0; r < rows; r++) j[r][k] = (fu[r] - fd[r]) / (2 * h);
    }
    return j;
  }

  /** Central second differences of a scalar function. */
  static double[][] hessianFd(ToDoubleFunction<double[]> f, double[] x) {
    double h = 1e-4;
    int n = x.length;
    double[][] hs = new double[n][n];
    for (int k = 0; k < n; k++)
      for (int l = 0; l < n; l++) {
        double[] pp = x.clone(), pm = x.clone(), mp = x.clone(), mm = x.clone();
        pp[k] += h; pp[l] += h;
        pm[k] += h; pm[l] -= h;
        mp[k] -= h; mp[l] += h;
        mm[k] -= h; mm[l] -= h;
        hs[k][l] = (f.applyAsDouble(pp) - f.applyAsDouble(pm) - f.applyAsDouble(mp) + f.applyAsDouble(mm)) / (4 * h * h);
      }
    return hs;
  }

  private static Tensor random(Random rng, int rows, int cols) {
    double[] d = new double[rows * cols];
    for (int i = 0; i < d.length; i++) d[i] = 2 * rng.nextGaussian();
    return new Tensor(new int[] {rows, cols}, d);
  }

  private static double[][] engine(Expr e, Map<String, Tensor> values, Map<String, Long> dims) {
    Tensor t = Evaluator.evaluate(e, values, dims);
    int rows = t.shape()[0], cols = t.shape()[1];
    double[][] out = new double[rows][cols];
    for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++) out[r][c] = t.data()[r + rows * c];
    return out;
  }

  private static void assertClose(double[][] expected, double[][] got, double tol, String what) {
    assertEquals(expected.length, got.length, what + ": rows");
    double worst = 0;
    for (int r = 0; r < expected.length; r++) {
      assertEquals(expected[r].length, got[r].length, what + ": columns");
      for (int c = 0; c < expected[r].length; c++) worst = Math.max(worst, Math.abs(expected[r][c] - got[r][c]));
    }
    assertTrue(worst <= tol, what + ": max abs error " + worst + " > " + tol);
  }

  @ParameterizedTest(name = "softmax of a {0} x {1} matrix")
  @CsvSource({"3, 4", "1, 3", "4, 1", "2, 2", "5, 3"})
  void jacobianIsBlockDiagonalOfColumnCovariances(int m, int n) {
    Dsl.Scope s = Fixtures.scope("S:matrix(m,n)");
    Expr.Var sv = s.vars().get("S");
    Map<String, Long> dims = Map.of("m", (long) m, "n", (long) n);
    Random rng = new Random(31L * m + n);
    Tensor st = random(rng, m, n);
    Map<String, Tensor> values = Map.of("S", st);
    Expr softmax = Fixtures.parse("softmax(S)", s);

    double[] p = softmaxColumns(st.data(), m, n);
    assertClose(new double[][] {p}, new double[][] {Evaluator.evaluate(softmax, values, dims).data()}, EXACT, "value");

    // closed form: block j is diag(p_j) - p_j p_j', zero across columns
    double[][] closed = new double[m * n][m * n];
    for (int j = 0; j < n; j++)
      for (int a = 0; a < m; a++)
        for (int b = 0; b < m; b++) closed[a + m * j][b + m * j] = (a == b ? p[a + m * j] : 0) - p[a + m * j] * p[b + m * j];
    double[][] got = engine(Calculus.jacobian(softmax, sv), values, dims);
    assertClose(closed, got, EXACT, "Jacobian against the block-diagonal closed form");
    assertClose(jacobianFd(x -> softmaxColumns(x, m, n), st.data()), got, FD, "Jacobian against finite differences");
  }

  @ParameterizedTest(name = "Hessian of sum(C .* softmax(S)) for a {0} x {1} S")
  @CsvSource({"3, 4", "1, 2", "4, 1", "3, 2"})
  void hessianOfAWeightedSoftmax(int m, int n) {
    Dsl.Scope s = Fixtures.scope("S:matrix(m,n)", "C:matrix(m,n)");
    Expr.Var sv = s.vars().get("S");
    Map<String, Long> dims = Map.of("m", (long) m, "n", (long) n);
    Random rng = new Random(17L * m + n);
    Tensor st = random(rng, m, n), ct = random(rng, m, n);
    Map<String, Tensor> values = Map.of("S", st, "C", ct);
    double[] c = ct.data(), p = softmaxColumns(st.data(), m, n);

    // g_j = c_j' p_j: d2 g_j / ds_k ds_l = p_k (delta_kl - p_l)(c_k - cbar) - p_k p_l (c_l - cbar), cbar = c_j' p_j
    double[][] closed = new double[m * n][m * n];
    for (int j = 0; j < n; j++) {
      double cbar = 0;
      for (int i = 0; i < m; i++) cbar += c[i + m * j] * p[i + m * j];
      for (int k = 0; k < m; k++)
        for (int l = 0; l < m; l++) {
          double pk = p[k + m * j], pl = p[l + m * j];
          closed[k + m * j][l + m * j] = pk * ((k == l ? 1 : 0) - pl) * (c[k + m * j] - cbar) - pk * pl * (c[l + m * j] - cbar);
        }
    }
    Expr f = Fixtures.parse("sum(C .* softmax(S))", s);
    double[][] got = engine(Calculus.hessian(f, sv), values, dims);
    assertClose(closed, got, EXACT, "Hessian against the closed form");
    ToDoubleFunction<double[]> plain = x -> {
      double[] q = softmaxColumns(x, m, n);
      double sum = 0;
      for (int i = 0; i < q.length; i++) sum += c[i] * q[i];
      return sum;
    };
    assertClose(hessianFd(plain, st.data()), got, FD2, "Hessian against finite differences");
  }

  @ParameterizedTest(name = "logsumexp_cols of a {0} x {1} matrix")
  @CsvSource({"3, 4", "1, 3", "4, 1"})
  void logSumExpOfColumns(int m, int n) {
    Dsl.Scope s = Fixtures.scope("S:matrix(m,n)", "w:vector(n)");
    Expr.Var sv = s.vars().get("S");
    Map<String, Long> dims = Map.of("m", (long) m, "n", (long) n);
    Random rng = new Random(7L * m + n);
    Tensor st = random(rng, m, n), wt = random(rng, n, 1);
    Map<String, Tensor> values = Map.of("S", st, "w", wt);
    Expr l = Fixtures.parse("logsumexp_cols(S)", s);
    assertEquals(Shape.matrix(Dim.ONE, Dim.sym("n")), l.shape());
    assertClose(new double[][] {logSumExpColumns(st.data(), m, n)}, new double[][] {Evaluator.evaluate(l, values, dims).data()}, EXACT,
        "value");
    assertClose(jacobianFd(x -> logSumExpColumns(x, m, n), st.data()), engine(Calculus.jacobian(l, sv), values, dims), FD, "Jacobian");

    // Hessian of logsumexp_cols(S)*w: block j is w_j (diag(p_j) - p_j p_j')
    double[] p = softmaxColumns(st.data(), m, n), w = wt.data();
    double[][] closed = new double[m * n][m * n];
    for (int j = 0; j < n; j++)
      for (int a = 0; a < m; a++)
        for (int b = 0; b < m; b++) closed[a + m * j][b + m * j] = w[j] * ((a == b ? p[a + m * j] : 0) - p[a + m * j] * p[b + m * j]);
    double[][] got = engine(Calculus.hessian(Fixtures.parse("logsumexp_cols(S)*w", s), sv), values, dims);
    assertClose(closed, got, EXACT, "Hessian against the closed form");
  }

  @Test
  void logSumExpOfColumnsIsStableForLargeEntries() {
    Dsl.Scope s = Fixtures.scope("S:matrix(m,n)");
    Map<String, Long> dims = Map.of("m", 2L, "n", 2L);
    Tensor big = new Tensor(new int[] {2, 2}, new double[] {1000, 1001, -1000, -1001});
    double[] got = Evaluator.evaluate(Fixtures.parse("logsumexp_cols(S)", s), Map.of("S", big), dims).data();
    assertEquals(1001 + Math.log1p(Math.exp(-1)), got[0], 1e-12);
    assertEquals(-1000 + Math.log1p(Math.exp(-1)), got[1], 1e-12);
    double[] p = Evaluator.evaluate(Fixtures.parse("softmax(S)", s), Map.of("S", big), dims).data();
    assertEquals(1 / (1 + Math.exp(1)), p[0], 1e-15);
    assertEquals(1 / (1 + Math.exp(-1)), p[2], 1e-15);
  }

  @Test
  void logOfAColumnSoftmaxIsRewrittenAndStaysRight() {
    int m = 3, n = 4;
    Dsl.Scope s = Fixtures.scope("S:matrix(m,n)");
    Expr.Var sv = s.vars().get("S");
    Map<String, Long> dims = Map.of("m", (long) m, "n", (long) n);
    Tensor st = random(new Random(5), m, n);
    Map<String, Tensor> values = Map.of("S", st);
    Expr f = Fixtures.parse("log(softmax(S))", s);
    Expr simplified = Calculus.simplifier().run(f);
    assertEquals("S - ones(m)*logsumexp_cols(S)", Printer.text(simplified));
    Function<double[], double[]> plain = x -> {
      double[] q = softmaxColumns(x, m, n);
      for (int i = 0; i < q.length; i++) q[i] = Math.log(q[i]);
      return q;
    };
    assertClose(new double[][] {plain.apply(st.data())}, new double[][] {Evaluator.evaluate(simplified, values, dims).data()}, EXACT, "value");
    assertClose(jacobianFd(plain, st.data()), engine(Calculus.jacobian(f, sv), values, dims), FD, "Jacobian");
  }

  @Test
  void printsAndParsesBack() {
    Dsl.Scope s = Fixtures.scope("S:matrix(m,n)");
    for (String text : new String[] {"softmax(S)", "logsumexp_cols(S)", "logsumexp(S)"}) {
      Expr e = Fixtures.parse(text, s);
      assertEquals(text, Printer.text(e));
      assertEquals(e, Fixtures.parse(Printer.text(e), s));
    }
    assertEquals("\\operatorname{logsumexp}_{\\mathrm{cols}}\\left(S\\right)", LatexPrinter.latex(Fixtures.parse("logsumexp_cols(S)", s)));
  }
}
