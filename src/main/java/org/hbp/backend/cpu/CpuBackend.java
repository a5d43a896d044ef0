package org.hbp.backend.cpu;

import static org.hbp.backend.BackendChecks.ADD;
import static org.hbp.backend.BackendChecks.DIVIDE;
import static org.hbp.backend.BackendChecks.MULTIPLY;
import static org.hbp.backend.BackendChecks.SUBTRACT;
import static org.hbp.backend.BackendChecks.item;

import java.util.Objects;
import java.util.function.DoubleUnaryOperator;
import org.hbp.backend.Backend;
import org.hbp.backend.BackendChecks;
import org.hbp.backend.Batch;
import org.hbp.backend.ConvGeometry;
import org.hbp.backend.HostLinearAlgebra;
import org.hbp.backend.Precision;

/**
 * The reference {@link Backend}: plain Java loops over {@link CpuBatch}es (one {@code double[]}
 * per batch), single-threaded, with EJML for the dense decompositions (inverse, determinant,
 * symmetric eigendecomposition, through {@link HostLinearAlgebra}).
 *
 * <p>Every kernel checks its operands' shapes ({@link BackendChecks}) and reports a mismatch as an
 * {@link IllegalArgumentException} naming the kernel, the operands ({@link Batch#describe()}) and
 * what was expected. Binary kernels broadcast the two batch axes as the interface documents;
 * elementwise kernels also broadcast an operand whose items are 1x1. {@link #matmul} multiplies a single
 * shared left item against all of {@code b}'s items as one wide matrix product.
 */
public final class CpuBackend implements Backend {
  @Override
  public String name() {
    return "cpu";
  }

  // ---- helpers -----------------------------------------------------------------------------

  /** {@code b} as a batch of this backend, or an IllegalArgumentException naming the kernel and operand. */
  private static CpuBatch cpu(String kernel, String operand, Batch b) {
    Objects.requireNonNull(b, () -> kernel + ": operand " + operand + " is null");
    if (b instanceof CpuBatch c) return c;
    throw new IllegalArgumentException(kernel + ": operand " + operand + " " + b.describe() + " is a "
        + b.getClass().getName() + ", not a batch of the cpu backend");
  }

  /** A zeroed array for a result batch of the given shape, checked to fit a Java array. */
  private static double[] alloc(String kernel, int samples, int directions, int rows, int cols) {
    long n = (long) samples * directions * rows * cols;
    if (n > BackendChecks.MAX_ENTRIES)
      throw new IllegalArgumentException(kernel + ": result [" + samples + " x " + directions + "] " + rows + "x" + cols
          + " has " + n + " entries, more than a Java array holds");
    return new double[(int) n];
  }

  // ---- transfer ------------------------------------------------------------------------------

  @Override
  public Batch fromArray(int samples, int directions, int rows, int cols, double[] data) {
    BackendChecks.checkFromArray(samples, directions, rows, cols, data);
    return new CpuBatch(samples, directions, rows, cols, data.clone());
  }

  @Override
  public double[] toArray(Batch b) {
    return cpu("toArray", "b", b).data().clone();
  }

  // ---- constants -----------------------------------------------------------------------------

  @Override
  public Batch fill(int rows, int cols, double value) {
    BackendChecks.checkFill(rows, cols);
    double[] d = alloc("fill", 1, 1, rows, cols);
    java.util.Arrays.fill(d, value);
    return new CpuBatch(1, 1, rows, cols, d);
  }

  @Override
  public Batch eye(int n) {
    BackendChecks.checkEye(n);
    double[] d = alloc("eye", 1, 1, n, n);
    for (int i = 0; i < n; i++) d[i + n * i] = 1;
    return new CpuBatch(1, 1, n, n, d);
  }

  // ---- free views ----------------------------------------------------------------------------

  @Override
  public boolean sharesStorage(Batch a, Batch b) {
    return a instanceof CpuBatch x && b instanceof CpuBatch y && x.data() == y.data();
  }

  @Override
  public Batch reshape(Batch a, int rows, int cols) {
    CpuBatch x = cpu("reshape", "a", a);
    BackendChecks.checkReshape(x, rows, cols);
    return new CpuBatch(x.samples(), x.directions(), rows, cols, x.data());
  }

  @Override
  public Batch columnsAsDirections(Batch a) {
    CpuBatch x = cpu("columnsAsDirections", "a", a);
    return new CpuBatch(x.samples(), BackendChecks.columnsAsDirections(x), x.rows(), 1, x.data());
  }

  @Override
  public Batch directionsAsColumns(Batch a, int cols) {
    CpuBatch x = cpu("directionsAsColumns", "a", a);
    BackendChecks.checkDirectionsAsColumns(x, cols);
    return new CpuBatch(x.samples(), x.directions() / cols, x.rows(), cols, x.data());
  }

  // ---- elementwise ---------------------------------------------------------------------------

  @Override
  public Batch add(Batch a, Batch b) {
    return elementwise("add", ADD, a, b);
  }

  @Override
  public Batch subtract(Batch a, Batch b) {
    return elementwise("subtract", SUBTRACT, a, b);
  }

  @Override
  public Batch multiply(Batch a, Batch b) {
    return elementwise("multiply", MULTIPLY, a, b);
  }

  @Override
  public Batch divide(Batch a, Batch b) {
    return elementwise("divide", DIVIDE, a, b);
  }

  private static Batch elementwise(String kernel, int op, Batch a, Batch b) {
    CpuBatch x = cpu(kernel, "a", a), y = cpu(kernel, "b", b);
    BackendChecks.Elementwise e = BackendChecks.elementwise(kernel, x, y);
    int samples = e.samples(), directions = e.directions(), rows = e.rows(), cols = e.cols();
    boolean xScalar = e.aScalar(), yScalar = e.bScalar();
    double[] out = alloc(kernel, samples, directions, rows, cols);
    double[] xd = x.data(), yd = y.data();
    int n = rows * cols;
    if (!xScalar && !yScalar && x.samples() == y.samples() && x.directions() == y.directions()) {
      combine(op, xd, 0, false, yd, 0, false, out, 0, out.length); // same layout: one pass
      return new CpuBatch(samples, directions, rows, cols, out);
    }
    int xn = x.itemSize(), yn = y.itemSize();
    for (int s = 0, t = 0; s < samples; s++)
      for (int d = 0; d < directions; d++, t++)
        combine(op, xd, item(x, s, d) * xn, xScalar, yd, item(y, s, d) * yn, yScalar, out, t * n, n);
    return new CpuBatch(samples, directions, rows, cols, out);
  }

  /** out[oo + p] = x[xo + p] op y[yo + p] for p < n, where a scalar operand is the one entry at its offset. */
  private static void combine(int op, double[] x, int xo, boolean xs, double[] y, int yo, boolean ys, double[] out, int oo, int n) {
    if (xs && ys) {
      double r = BackendChecks.scalarOp(op, x[xo], y[yo]);
      for (int p = 0; p < n; p++) out[oo + p] = r;
    } else if (xs) {
      double v = x[xo];
      switch (op) {
        case ADD -> { for (int p = 0; p < n; p++) out[oo + p] = v + y[yo + p]; }
        case SUBTRACT -> { for (int p = 0; p < n; p++) out[oo + p] = v - y[yo + p]; }
        case MULTIPLY -> { for (int p = 0; p < n; p++) out[oo + p] = v * y[yo + p]; }
        default -> { for (int p = 0; p < n; p++) out[oo + p] = v / y[yo + p]; }
      }
    } else if (ys) {
      double w = y[yo];
      switch (op) {
        case ADD -> { for (int p = 0; p < n; p++) out[oo + p] = x[xo + p] + w; }
        case SUBTRACT -> { for (int p = 0; p < n; p++) out[oo + p] = x[xo + p] - w; }
        case MULTIPLY -> { for (int p = 0; p < n; p++) out[oo + p] = x[xo + p] * w; }
        default -> { for (int p = 0; p < n; p++) out[oo + p] = x[xo + p] / w; }
      }
    } else {
      switch (op) {
        case ADD -> { for (int p = 0; p < n; p++) out[oo + p] = x[xo + p] + y[yo + p]; }
        case SUBTRACT -> { for (int p = 0; p < n; p++) out[oo + p] = x[xo + p] - y[yo + p]; }
        case MULTIPLY -> { for (int p = 0; p < n; p++) out[oo + p] = x[xo + p] * y[yo + p]; }
        default -> { for (int p = 0; p < n; p++) out[oo + p] = x[xo + p] / y[yo + p]; }
      }
    }
  }

  @Override
  public Batch scale(Batch a, double c) {
    CpuBatch x = cpu("scale", "a", a);
    double[] s = x.data(), d = new double[s.length];
    for (int p = 0; p < d.length; p++) d[p] = c * s[p];
    return like(x, d);
  }

  @Override
  public Batch power(Batch a, double exponent) {
    CpuBatch x = cpu("power", "a", a);
    double[] s = x.data(), d = new double[s.length];
    if (exponent == 2) {
      for (int p = 0; p < d.length; p++) d[p] = s[p] * s[p];
    } else if (exponent == 1) {
      System.arraycopy(s, 0, d, 0, d.length);
    } else {
      for (int p = 0; p < d.length; p++) d[p] = Math.pow(s[p], exponent);
    }
    return like(x, d);
  }

  @Override
  public Batch map(Batch a, DoubleUnaryOperator f) {
    CpuBatch x = cpu("map", "a", a);
    Objects.requireNonNull(f, "map: function is null");
    double[] s = x.data(), d = new double[s.length];
    for (int p = 0; p < d.length; p++) d[p] = f.applyAsDouble(s[p]);
    return like(x, d);
  }

  /** A batch shaped like {@code x} holding {@code d}. */
  private static CpuBatch like(CpuBatch x, double[] d) {
    return new CpuBatch(x.samples(), x.directions(), x.rows(), x.cols(), d);
  }

  // ---- per-item linear algebra ---------------------------------------------------------------

  @Override
  public Batch matmul(Batch a, boolean transposeA, Batch b, boolean transposeB) {
    CpuBatch x = cpu("matmul", "a", a), y = cpu("matmul", "b", b);
    BackendChecks.Product shape = BackendChecks.matmulShape(x, transposeA, y, transposeB);
    int m = shape.m(), k = shape.k(), n = shape.n(), samples = shape.samples(), directions = shape.directions();
    double[] out = alloc("matmul", samples, directions, m, n);
    double[] xd = x.data(), yd = y.data();
    if (x.items() == 1 && !transposeB) {
      // one shared left item: b's items side by side form one k x (n*items) matrix, and the
      // result's items side by side are op(a) times it.
      int wide = n * y.items();
      if (transposeA) mulTN(xd, 0, yd, 0, out, 0, m, k, wide);
      else mulNN(xd, 0, yd, 0, out, 0, m, k, wide);
      return new CpuBatch(samples, directions, m, n, out);
    }
    int xn = x.itemSize(), yn = y.itemSize(), mn = m * n;
    double[] tmp = transposeA && transposeB ? new double[n] : null;
    for (int s = 0, t = 0; s < samples; s++)
      for (int d = 0; d < directions; d++, t++) {
        int xo = item(x, s, d) * xn, yo = item(y, s, d) * yn, oo = t * mn;
        if (!transposeA && !transposeB) mulNN(xd, xo, yd, yo, out, oo, m, k, n);
        else if (transposeA && !transposeB) mulTN(xd, xo, yd, yo, out, oo, m, k, n);
        else if (!transposeA) mulNT(xd, xo, yd, yo, out, oo, m, k, n);
        else mulTT(xd, xo, yd, yo, out, oo, m, k, n, tmp);
      }
    return new CpuBatch(samples, directions, m, n, out);
  }

  @Override
  public Batch matmulSumSamples(Batch a, boolean transposeA, Batch b, boolean transposeB) {
    CpuBatch x = cpu("matmulSumSamples", "a", a), y = cpu("matmulSumSamples", "b", b);
    BackendChecks.Product shape = BackendChecks.matmulSumSamplesShape(x, transposeA, y, transposeB);
    int m = shape.m(), k = shape.k(), n = shape.n(), samples = shape.samples(), directions = shape.directions();
    double[] out = alloc("matmulSumSamples", 1, directions, m, n);
    double[] xd = x.data(), yd = y.data();
    if (x.samples() == samples && y.samples() == samples && !transposeA && transposeB) {
      // sum_s A_s B_s' = [A_1 ... A_S] [B_1 ... B_S]': one m x (S*k) times (S*k) x n product per
      // direction (items of one direction gathered side by side first when there are several)
      if (directions == 1) {
        mulNT(xd, 0, yd, 0, out, 0, m, k * samples, n);
        return new CpuBatch(1, 1, m, n, out);
      }
      int xn = x.itemSize(), yn = y.itemSize();
      double[] ga = new double[samples * xn], gb = new double[samples * yn];
      for (int d = 0; d < directions; d++) {
        for (int s = 0; s < samples; s++) {
          System.arraycopy(xd, item(x, s, d) * xn, ga, s * xn, xn);
          System.arraycopy(yd, item(y, s, d) * yn, gb, s * yn, yn);
        }
        mulNT(ga, 0, gb, 0, out, d * m * n, m, k * samples, n);
      }
      return new CpuBatch(1, directions, m, n, out);
    }
    int xn = x.itemSize(), yn = y.itemSize(), mn = m * n;
    double[] tmp = transposeA && transposeB ? new double[n] : null;
    for (int s = 0; s < samples; s++)
      for (int d = 0; d < directions; d++) {
        int xo = item(x, s, d) * xn, yo = item(y, s, d) * yn, oo = d * mn;
        if (!transposeA && !transposeB) mulNN(xd, xo, yd, yo, out, oo, m, k, n);
        else if (transposeA && !transposeB) mulTN(xd, xo, yd, yo, out, oo, m, k, n);
        else if (!transposeA) mulNT(xd, xo, yd, yo, out, oo, m, k, n);
        else mulTT(xd, xo, yd, yo, out, oo, m, k, n, tmp);
      }
    return new CpuBatch(1, directions, m, n, out);
  }

  /** C += A B; A m x k, B k x n, C m x n, all column-major at the given offsets. */
  private static void mulNN(double[] a, int ao, double[] b, int bo, double[] c, int co, int m, int k, int n) {
    for (int j = 0; j < n; j++) {
      int cj = co + m * j, bj = bo + k * j;
      int l = 0;
      for (; l + 3 < k; l += 4) {
        double b0 = b[bj + l], b1 = b[bj + l + 1], b2 = b[bj + l + 2], b3 = b[bj + l + 3];
        int a0 = ao + m * l, a1 = a0 + m, a2 = a1 + m, a3 = a2 + m;
        for (int i = 0; i < m; i++) c[cj + i] += a[a0 + i] * b0 + a[a1 + i] * b1 + a[a2 + i] * b2 + a[a3 + i] * b3;
      }
      for (; l < k; l++) {
        double b0 = b[bj + l];
        int a0 = ao + m * l;
        for (int i = 0; i < m; i++) c[cj + i] += a[a0 + i] * b0;
      }
    }
  }

  /** C += A' B; A stored k x m, B k x n, C m x n. */
  private static void mulTN(double[] a, int ao, double[] b, int bo, double[] c, int co, int m, int k, int n) {
    for (int j = 0; j < n; j++) {
      int bj = bo + k * j, cj = co + m * j;
      for (int i = 0; i < m; i++) {
        int ai = ao + k * i;
        double s0 = 0, s1 = 0;
        int l = 0;
        for (; l + 1 < k; l += 2) {
          s0 += a[ai + l] * b[bj + l];
          s1 += a[ai + l + 1] * b[bj + l + 1];
        }
        if (l < k) s0 += a[ai + l] * b[bj + l];
        c[cj + i] += s0 + s1;
      }
    }
  }

  /** C += A B'; A m x k, B stored n x k, C m x n. */
  private static void mulNT(double[] a, int ao, double[] b, int bo, double[] c, int co, int m, int k, int n) {
    for (int l = 0; l < k; l++) {
      int al = ao + m * l, bl = bo + n * l;
      for (int j = 0; j < n; j++) {
        double bjl = b[bl + j];
        int cj = co + m * j;
        for (int i = 0; i < m; i++) c[cj + i] += a[al + i] * bjl;
      }
    }
  }

  /** C += A' B'; A stored k x m, B stored n x k, C m x n; tmp holds n entries. */
  private static void mulTT(double[] a, int ao, double[] b, int bo, double[] c, int co, int m, int k, int n, double[] tmp) {
    for (int i = 0; i < m; i++) {
      java.util.Arrays.fill(tmp, 0);
      int ai = ao + k * i;
      for (int l = 0; l < k; l++) {
        double ail = a[ai + l];
        int bl = bo + n * l;
        for (int j = 0; j < n; j++) tmp[j] += ail * b[bl + j];
      }
      for (int j = 0; j < n; j++) c[co + i + m * j] += tmp[j];
    }
  }

  @Override
  public Batch transpose(Batch a) {
    CpuBatch x = cpu("transpose", "a", a);
    int m = x.rows(), n = x.cols(), mn = m * n;
    double[] s = x.data(), d = new double[s.length];
    for (int t = 0, o = 0; t < x.items(); t++, o += mn)
      for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) d[o + j + n * i] = s[o + i + m * j];
    return new CpuBatch(x.samples(), x.directions(), n, m, d);
  }

  @Override
  public Batch kron(Batch a, Batch b) {
    CpuBatch x = cpu("kron", "a", a), y = cpu("kron", "b", b);
    BackendChecks.Kron shape = BackendChecks.kronShape(x, y);
    int samples = shape.samples(), directions = shape.directions(), rows = shape.rows(), cols = shape.cols();
    int m = x.rows(), n = x.cols(), p = y.rows(), q = y.cols();
    double[] out = alloc("kron", samples, directions, rows, cols);
    double[] xd = x.data(), yd = y.data();
    int xn = x.itemSize(), yn = y.itemSize(), on = rows * cols;
    for (int s = 0, t = 0; s < samples; s++)
      for (int d = 0; d < directions; d++, t++) {
        int xo = item(x, s, d) * xn, yo = item(y, s, d) * yn, oo = t * on;
        for (int j = 0; j < n; j++)
          for (int i = 0; i < m; i++) {
            double aij = xd[xo + i + m * j];
            for (int l = 0; l < q; l++) {
              int dst = oo + i * p + rows * (j * q + l), src = yo + p * l;
              for (int kk = 0; kk < p; kk++) out[dst + kk] = aij * yd[src + kk];
            }
          }
      }
    return new CpuBatch(samples, directions, rows, cols, out);
  }

  @Override
  public Batch sum(Batch a) {
    CpuBatch x = cpu("sum", "a", a);
    double[] s = x.data(), d = new double[x.items()];
    int n = x.itemSize();
    for (int t = 0; t < d.length; t++) {
      double acc = 0;
      for (int p = t * n, e = p + n; p < e; p++) acc += s[p];
      d[t] = acc;
    }
    return new CpuBatch(x.samples(), x.directions(), 1, 1, d);
  }

  @Override
  public Batch trace(Batch a) {
    CpuBatch x = cpu("trace", "a", a);
    BackendChecks.requireSquare("trace", x);
    int n = x.rows(), nn = n * n;
    double[] s = x.data(), d = new double[x.items()];
    for (int t = 0; t < d.length; t++) {
      double acc = 0;
      for (int i = 0; i < n; i++) acc += s[t * nn + i * (n + 1)];
      d[t] = acc;
    }
    return new CpuBatch(x.samples(), x.directions(), 1, 1, d);
  }

  @Override
  public Batch diagonal(Batch a) {
    CpuBatch x = cpu("diagonal", "a", a);
    BackendChecks.requireSquare("diagonal", x);
    int n = x.rows(), nn = n * n;
    double[] s = x.data(), d = new double[x.items() * n];
    for (int t = 0; t < x.items(); t++)
      for (int i = 0; i < n; i++) d[t * n + i] = s[t * nn + i * (n + 1)];
    return new CpuBatch(x.samples(), x.directions(), n, 1, d);
  }

  @Override
  public Batch diagMatrix(Batch v) {
    CpuBatch x = cpu("diagMatrix", "v", v);
    BackendChecks.checkDiagMatrix(x);
    int n = x.rows();
    double[] s = x.data(), d = alloc("diagMatrix", x.samples(), x.directions(), n, n);
    long nn = (long) n * n;
    for (int t = 0; t < x.items(); t++)
      for (int i = 0; i < n; i++) d[(int) (t * nn) + i * (n + 1)] = s[t * n + i];
    return new CpuBatch(x.samples(), x.directions(), n, n, d);
  }

  @Override
  public Batch softmax(Batch a) {
    CpuBatch x = cpu("softmax", "a", a);
    int n = x.itemSize();
    double[] s = x.data(), d = new double[s.length];
    for (int t = 0; t < x.items(); t++) {
      int o = t * n;
      double max = Double.NEGATIVE_INFINITY;
      for (int p = 0; p < n; p++) max = Math.max(max, s[o + p]);
      double z = 0;
      for (int p = 0; p < n; p++) {
        d[o + p] = Math.exp(s[o + p] - max);
        z += d[o + p];
      }
      double inv = 1 / z;
      for (int p = 0; p < n; p++) d[o + p] *= inv;
    }
    return like(x, d);
  }

  @Override
  public Batch logSumExp(Batch a) {
    CpuBatch x = cpu("logSumExp", "a", a);
    int n = x.itemSize();
    double[] s = x.data(), d = new double[x.items()];
    for (int t = 0; t < d.length; t++) {
      int o = t * n;
      double max = Double.NEGATIVE_INFINITY;
      for (int p = 0; p < n; p++) max = Math.max(max, s[o + p]);
      if (max == Double.NEGATIVE_INFINITY || max == Double.POSITIVE_INFINITY || Double.isNaN(max)) {
        d[t] = max;
        continue;
      }
      double z = 0;
      for (int p = 0; p < n; p++) z += Math.exp(s[o + p] - max);
      d[t] = max + Math.log(z);
    }
    return new CpuBatch(x.samples(), x.directions(), 1, 1, d);
  }

  @Override
  public Batch inverse(Batch a) {
    CpuBatch x = cpu("inverse", "a", a);
    BackendChecks.requireSquare("inverse", x);
    int n = x.rows(), nn = n * n;
    double[] d = new double[x.data().length];
    if (n == 0) return like(x, d);
    HostLinearAlgebra la = new HostLinearAlgebra(n);
    for (int t = 0; t < x.items(); t++) la.inverse(x.data(), t * nn, d, t * nn, Precision.FLOAT64, x, t);
    return like(x, d);
  }

  @Override
  public Batch determinant(Batch a) {
    CpuBatch x = cpu("determinant", "a", a);
    BackendChecks.requireSquare("determinant", x);
    int nn = x.itemSize();
    HostLinearAlgebra la = new HostLinearAlgebra(x.rows());
    double[] d = new double[x.items()];
    for (int t = 0; t < d.length; t++) d[t] = la.determinant(x.data(), t * nn);
    return new CpuBatch(x.samples(), x.directions(), 1, 1, d);
  }

  @Override
  public Batch symmetricEigenMap(Batch a, DoubleUnaryOperator f) {
    CpuBatch x = cpu("symmetricEigenMap", "a", a);
    BackendChecks.requireSquare("symmetricEigenMap", x);
    Objects.requireNonNull(f, "symmetricEigenMap: function is null");
    int n = x.rows(), nn = n * n;
    double[] s = x.data(), d = new double[s.length];
    if (n == 0) return like(x, d);
    HostLinearAlgebra la = new HostLinearAlgebra(n);
    for (int t = 0; t < x.items(); t++) la.symmetricEigenMap(s, t * nn, f, d, t * nn, x, t);
    return like(x, d);
  }

  // ---- structured linear maps ----------------------------------------------------------------

  @Override
  public Batch unfold(Batch x, ConvGeometry g) {
    CpuBatch in = cpu("unfold", "x", x);
    BackendChecks.checkUnfold(in, g);
    int[] table = BackendChecks.patchTable(g);
    int r = g.patchRows(), cols = g.patches(), n = in.itemSize(), m = table.length;
    double[] s = in.data(), d = alloc("unfold", in.samples(), in.directions(), r, cols);
    for (int t = 0; t < in.items(); t++) {
      int io = t * n, oo = t * m;
      for (int e = 0; e < m; e++) {
        int src = table[e];
        if (src >= 0) d[oo + e] = s[io + src];
      }
    }
    return new CpuBatch(in.samples(), in.directions(), r, cols, d);
  }

  @Override
  public Batch fold(Batch columns, ConvGeometry g) {
    CpuBatch in = cpu("fold", "columns", columns);
    BackendChecks.checkFold(in, g);
    int[] table = BackendChecks.patchTable(g);
    int n = g.inputSize(), m = table.length;
    double[] s = in.data(), d = alloc("fold", in.samples(), in.directions(), g.c(), g.h() * g.w());
    for (int t = 0; t < in.items(); t++) {
      int io = t * m, oo = t * n;
      for (int e = 0; e < m; e++) {
        int dst = table[e];
        if (dst >= 0) d[oo + dst] += s[io + e];
      }
    }
    return new CpuBatch(in.samples(), in.directions(), g.c(), g.h() * g.w(), d);
  }

  /** The entries of an index batch as ints, each checked to be an integer in [-1, n). */
  private static int[] indices(String kernel, CpuBatch index, int n) {
    BackendChecks.checkIndexDirections(kernel, index);
    double[] s = index.data();
    int[] idx = new int[s.length];
    for (int p = 0; p < s.length; p++) idx[p] = BackendChecks.indexEntry(kernel, index, s[p], p, n);
    return idx;
  }

  @Override
  public Batch gather(Batch x, Batch index) {
    CpuBatch src = cpu("gather", "x", x), ix = cpu("gather", "index", index);
    int n = src.itemSize();
    int[] idx = indices("gather", ix, n);
    int samples = BackendChecks.axis("gather", "samples", src, ix, src.samples(), ix.samples());
    int directions = src.directions(), m = ix.itemSize();
    double[] s = src.data(), d = alloc("gather", samples, directions, ix.rows(), ix.cols());
    for (int sa = 0, t = 0; sa < samples; sa++) {
      int io = (ix.samples() == 1 ? 0 : sa) * m;
      for (int v = 0; v < directions; v++, t++) {
        int so = item(src, sa, v) * n, oo = t * m;
        for (int j = 0; j < m; j++) {
          int q = idx[io + j];
          if (q >= 0) d[oo + j] = s[so + q];
        }
      }
    }
    return new CpuBatch(samples, directions, ix.rows(), ix.cols(), d);
  }

  @Override
  public Batch scatterAdd(Batch g, Batch index, int rows, int cols) {
    CpuBatch gr = cpu("scatterAdd", "g", g), ix = cpu("scatterAdd", "index", index);
    int n = BackendChecks.scatterAddTarget(gr, ix, rows, cols);
    int[] idx = indices("scatterAdd", ix, n);
    int samples = BackendChecks.axis("scatterAdd", "samples", gr, ix, gr.samples(), ix.samples());
    int directions = gr.directions(), m = ix.itemSize();
    double[] s = gr.data(), d = alloc("scatterAdd", samples, directions, rows, cols);
    for (int sa = 0, t = 0; sa < samples; sa++) {
      int io = (ix.samples() == 1 ? 0 : sa) * m;
      for (int v = 0; v < directions; v++, t++) {
        int go = item(gr, sa, v) * m, oo = t * n;
        for (int j = 0; j < m; j++) {
          int q = idx[io + j];
          if (q >= 0) d[oo + q] += s[go + j];
        }
      }
    }
    return new CpuBatch(samples, directions, rows, cols, d);
  }

  // ---- batch axes ----------------------------------------------------------------------------

  @Override
  public Batch sumSamples(Batch a) {
    CpuBatch x = cpu("sumSamples", "a", a);
    int block = x.directions() * x.itemSize();
    double[] s = x.data(), d = new double[block];
    for (int sa = 0; sa < x.samples(); sa++) {
      int o = sa * block;
      for (int p = 0; p < block; p++) d[p] += s[o + p];
    }
    return new CpuBatch(1, x.directions(), x.rows(), x.cols(), d);
  }

  @Override
  public Batch meanSamples(Batch a, int n) {
    CpuBatch x = cpu("meanSamples", "a", a);
    BackendChecks.checkMeanSamples(x, n);
    return Backend.super.meanSamples(x, n);
  }
}
