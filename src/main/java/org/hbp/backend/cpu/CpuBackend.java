package org.hbp.backend.cpu;

import java.util.Objects;
import java.util.function.DoubleUnaryOperator;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.EigenDecomposition_F64;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.backend.ConvGeometry;

/**
 * The reference {@link Backend}: plain Java loops over {@link CpuBatch}es (one {@code double[]}
 * per batch), single-threaded, with EJML for the dense decompositions (inverse, determinant,
 * symmetric eigendecomposition).
 *
 * <p>Every kernel checks its operands' shapes and reports a mismatch as an {@link
 * IllegalArgumentException} naming the kernel, the operands ({@link Batch#describe()}) and what was
 * expected. Binary kernels broadcast the two batch axes as the interface documents; elementwise
 * kernels also broadcast an operand whose items are 1x1. {@link #matmul} multiplies a single
 * shared left item against all of {@code b}'s items as one wide matrix product.
 */
public final class CpuBackend implements Backend {
  /** Largest array the JVM reliably allocates. */
  private static final long MAX_ENTRIES = Integer.MAX_VALUE - 8;

  private static final int ADD = 0, SUBTRACT = 1, MULTIPLY = 2, DIVIDE = 3;

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
    if (n > MAX_ENTRIES)
      throw new IllegalArgumentException(kernel + ": result [" + samples + " x " + directions + "] " + rows + "x" + cols
          + " has " + n + " entries, more than a Java array holds");
    return new double[(int) n];
  }

  /** The broadcast extent of one batch axis of operands a and b. */
  private static int axis(String kernel, String axis, Batch a, Batch b, int x, int y) {
    if (x == y || y == 1) return x;
    if (x == 1) return y;
    throw new IllegalArgumentException(kernel + ": batch axes of " + a.describe() + " and " + b.describe()
        + " do not broadcast (" + axis + " " + x + " vs " + y + "; expected equal extents or one of them 1)");
  }

  /** Item position in {@code b} of the output item (s, d), broadcasting b's axes of extent 1. */
  private static int item(Batch b, int s, int d) {
    return (b.samples() == 1 ? 0 : s) * b.directions() + (b.directions() == 1 ? 0 : d);
  }

  private static void requireSquare(String kernel, CpuBatch a) {
    if (a.rows() != a.cols())
      throw new IllegalArgumentException(kernel + ": operand " + a.describe() + " has non-square items; expected n x n items");
  }

  private static String itemName(CpuBatch a, int t) {
    return "item " + t + " (sample " + t / a.directions() + ", direction " + t % a.directions() + ") of " + a.describe();
  }

  // ---- transfer ------------------------------------------------------------------------------

  @Override
  public Batch fromArray(int samples, int directions, int rows, int cols, double[] data) {
    Objects.requireNonNull(data, "fromArray: data is null");
    if (samples < 1 || directions < 1 || rows < 0 || cols < 0)
      throw new IllegalArgumentException("fromArray: invalid shape [" + samples + " x " + directions + "] " + rows + "x" + cols
          + "; expected samples, directions >= 1 and rows, cols >= 0");
    long n = (long) samples * directions * rows * cols;
    if (n != data.length)
      throw new IllegalArgumentException("fromArray: shape [" + samples + " x " + directions + "] " + rows + "x" + cols
          + " needs " + n + " entries, got " + data.length);
    return new CpuBatch(samples, directions, rows, cols, data.clone());
  }

  @Override
  public double[] toArray(Batch b) {
    return cpu("toArray", "b", b).data().clone();
  }

  // ---- constants -----------------------------------------------------------------------------

  @Override
  public Batch fill(int rows, int cols, double value) {
    if (rows < 0 || cols < 0) throw new IllegalArgumentException("fill: invalid item shape " + rows + "x" + cols);
    double[] d = alloc("fill", 1, 1, rows, cols);
    java.util.Arrays.fill(d, value);
    return new CpuBatch(1, 1, rows, cols, d);
  }

  @Override
  public Batch eye(int n) {
    if (n < 0) throw new IllegalArgumentException("eye: invalid size " + n);
    double[] d = alloc("eye", 1, 1, n, n);
    for (int i = 0; i < n; i++) d[i + n * i] = 1;
    return new CpuBatch(1, 1, n, n, d);
  }

  // ---- free views ----------------------------------------------------------------------------

  @Override
  public Batch reshape(Batch a, int rows, int cols) {
    CpuBatch x = cpu("reshape", "a", a);
    if (rows < 0 || cols < 0 || (long) rows * cols != x.itemSize())
      throw new IllegalArgumentException("reshape: items of " + x.describe() + " (" + x.itemSize() + " entries) cannot be "
          + rows + "x" + cols + "; expected the same entry count");
    return new CpuBatch(x.samples(), x.directions(), rows, cols, x.data());
  }

  @Override
  public Batch columnsAsDirections(Batch a) {
    CpuBatch x = cpu("columnsAsDirections", "a", a);
    long dirs = (long) x.directions() * x.cols();
    if (x.cols() < 1 || dirs > Integer.MAX_VALUE)
      throw new IllegalArgumentException("columnsAsDirections: operand " + x.describe()
          + " cannot be split into one direction per column; expected items with 1 or more columns and directions*cols in int range");
    return new CpuBatch(x.samples(), (int) dirs, x.rows(), 1, x.data());
  }

  @Override
  public Batch directionsAsColumns(Batch a, int cols) {
    CpuBatch x = cpu("directionsAsColumns", "a", a);
    if (x.cols() != 1)
      throw new IllegalArgumentException("directionsAsColumns: operand " + x.describe() + " has items with " + x.cols()
          + " columns; expected column items r x 1");
    if (cols < 1 || x.directions() % cols != 0)
      throw new IllegalArgumentException("directionsAsColumns: " + x.directions() + " directions of " + x.describe()
          + " cannot be grouped into " + cols + " columns; expected a positive divisor of the direction extent");
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
    int samples = axis(kernel, "samples", x, y, x.samples(), y.samples());
    int directions = axis(kernel, "directions", x, y, x.directions(), y.directions());
    int rows, cols;
    boolean xScalar = false, yScalar = false;
    if (x.rows() == y.rows() && x.cols() == y.cols()) {
      rows = x.rows();
      cols = x.cols();
    } else if (y.rows() == 1 && y.cols() == 1) {
      rows = x.rows();
      cols = x.cols();
      yScalar = true;
    } else if (x.rows() == 1 && x.cols() == 1) {
      rows = y.rows();
      cols = y.cols();
      xScalar = true;
    } else {
      throw new IllegalArgumentException(kernel + ": item shapes of " + x.describe() + " and " + y.describe()
          + " differ; expected equal item shapes, or one operand with 1x1 items");
    }
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
      double v = x[xo], w = y[yo];
      double r = switch (op) {
        case ADD -> v + w;
        case SUBTRACT -> v - w;
        case MULTIPLY -> v * w;
        default -> v / w;
      };
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
    int m = transposeA ? x.cols() : x.rows(), k = transposeA ? x.rows() : x.cols();
    int k2 = transposeB ? y.cols() : y.rows(), n = transposeB ? y.rows() : y.cols();
    if (k != k2)
      throw new IllegalArgumentException("matmul: inner dimensions differ: op(a) is " + m + "x" + k + " for a = " + x.describe()
          + (transposeA ? " (transposed)" : "") + ", op(b) is " + k2 + "x" + n + " for b = " + y.describe()
          + (transposeB ? " (transposed)" : "") + "; expected cols(op(a)) == rows(op(b))");
    int samples = axis("matmul", "samples", x, y, x.samples(), y.samples());
    int directions = axis("matmul", "directions", x, y, x.directions(), y.directions());
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
    int m = transposeA ? x.cols() : x.rows(), k = transposeA ? x.rows() : x.cols();
    int k2 = transposeB ? y.cols() : y.rows(), n = transposeB ? y.rows() : y.cols();
    if (k != k2)
      throw new IllegalArgumentException("matmulSumSamples: inner dimensions differ: op(a) is " + m + "x" + k + " for a = " + x.describe()
          + ", op(b) is " + k2 + "x" + n + " for b = " + y.describe() + "; expected cols(op(a)) == rows(op(b))");
    int samples = axis("matmulSumSamples", "samples", x, y, x.samples(), y.samples());
    int directions = axis("matmulSumSamples", "directions", x, y, x.directions(), y.directions());
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
    int samples = axis("kron", "samples", x, y, x.samples(), y.samples());
    int directions = axis("kron", "directions", x, y, x.directions(), y.directions());
    int m = x.rows(), n = x.cols(), p = y.rows(), q = y.cols();
    long rowsL = (long) m * p, colsL = (long) n * q;
    if (rowsL > Integer.MAX_VALUE || colsL > Integer.MAX_VALUE)
      throw new IllegalArgumentException("kron: result items of " + x.describe() + " and " + y.describe() + " are too large");
    int rows = (int) rowsL, cols = (int) colsL;
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
    requireSquare("trace", x);
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
    requireSquare("diagonal", x);
    int n = x.rows(), nn = n * n;
    double[] s = x.data(), d = new double[x.items() * n];
    for (int t = 0; t < x.items(); t++)
      for (int i = 0; i < n; i++) d[t * n + i] = s[t * nn + i * (n + 1)];
    return new CpuBatch(x.samples(), x.directions(), n, 1, d);
  }

  @Override
  public Batch diagMatrix(Batch v) {
    CpuBatch x = cpu("diagMatrix", "v", v);
    if (x.cols() != 1)
      throw new IllegalArgumentException("diagMatrix: operand " + x.describe() + " does not have column items; expected n x 1 items");
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

  /**
   * Item {@code t} of {@code x} as an EJML (row-major) matrix: the column-major data read row-major
   * is the item's transpose, so the returned matrix is {@code item'}.
   */
  private static DMatrixRMaj transposedItem(CpuBatch x, int t) {
    int n = x.itemSize();
    DMatrixRMaj m = new DMatrixRMaj(x.cols(), x.rows());
    System.arraycopy(x.data(), t * n, m.data, 0, n);
    return m;
  }

  @Override
  public Batch inverse(Batch a) {
    CpuBatch x = cpu("inverse", "a", a);
    requireSquare("inverse", x);
    int n = x.rows(), nn = n * n;
    double[] d = new double[x.data().length];
    if (n == 0) return like(x, d);
    DMatrixRMaj inv = new DMatrixRMaj(n, n);
    for (int t = 0; t < x.items(); t++) {
      // inv(A') = inv(A)': the row-major data of inv(A') is the column-major data of inv(A)
      boolean ok = CommonOps_DDRM.invert(transposedItem(x, t), inv);
      for (int p = 0; ok && p < nn; p++) if (!Double.isFinite(inv.data[p])) ok = false;
      if (!ok) throw new ArithmeticException("inverse: " + itemName(x, t) + " is singular");
      System.arraycopy(inv.data, 0, d, t * nn, nn);
    }
    return like(x, d);
  }

  @Override
  public Batch determinant(Batch a) {
    CpuBatch x = cpu("determinant", "a", a);
    requireSquare("determinant", x);
    double[] d = new double[x.items()];
    for (int t = 0; t < d.length; t++) d[t] = x.rows() == 0 ? 1 : CommonOps_DDRM.det(transposedItem(x, t)); // det(A') = det(A)
    return new CpuBatch(x.samples(), x.directions(), 1, 1, d);
  }

  @Override
  public Batch symmetricEigenMap(Batch a, DoubleUnaryOperator f) {
    CpuBatch x = cpu("symmetricEigenMap", "a", a);
    requireSquare("symmetricEigenMap", x);
    Objects.requireNonNull(f, "symmetricEigenMap: function is null");
    int n = x.rows(), nn = n * n;
    double[] s = x.data(), d = new double[s.length];
    if (n == 0) return like(x, d);
    EigenDecomposition_F64<DMatrixRMaj> eig = DecompositionFactory_DDRM.eig(n, true, true);
    double[] lambda = new double[n];
    double[][] q = new double[n][];
    for (int t = 0; t < x.items(); t++) {
      int o = t * nn;
      DMatrixRMaj sym = new DMatrixRMaj(n, n);
      for (int j = 0; j < n; j++)
        for (int i = 0; i < n; i++) sym.data[i * n + j] = 0.5 * (s[o + i + n * j] + s[o + j + n * i]);
      if (!eig.decompose(sym))
        throw new ArithmeticException("symmetricEigenMap: the eigendecomposition of " + itemName(x, t) + " failed");
      for (int e = 0; e < n; e++) {
        DMatrixRMaj v = eig.getEigenVector(e);
        if (v == null)
          throw new ArithmeticException("symmetricEigenMap: no eigenvector " + e + " for " + itemName(x, t));
        lambda[e] = f.applyAsDouble(eig.getEigenvalue(e).real);
        q[e] = v.data; // n x 1: data is the vector
      }
      // Q f(L) Q' = sum_e f(l_e) q_e q_e', filled symmetrically
      for (int j = 0; j < n; j++)
        for (int i = j; i < n; i++) {
          double acc = 0;
          for (int e = 0; e < n; e++) acc += lambda[e] * q[e][i] * q[e][j];
          d[o + i + n * j] = acc;
          d[o + j + n * i] = acc;
        }
    }
    return like(x, d);
  }

  // ---- structured linear maps ----------------------------------------------------------------

  /**
   * For each entry (row, col) of unfold(X), at {@code row + patchRows*col}, the column-major index
   * of X it reads, or -1 in the padding: the convention of {@link ConvGeometry}.
   */
  private static int[] patchTable(ConvGeometry g) {
    int c = g.c(), h = g.h(), w = g.w(), k = g.k(), outH = g.outH(), outW = g.outW(), r = g.patchRows();
    long size = (long) r * g.patches();
    if (size > MAX_ENTRIES) throw new IllegalArgumentException("unfold geometry " + g + " has too many patch entries");
    int[] table = new int[(int) size];
    for (int ch = 0; ch < c; ch++)
      for (int ki = 0; ki < k; ki++)
        for (int kj = 0; kj < k; kj++) {
          int row = (ch * k + ki) * k + kj;
          for (int ow = 0; ow < outW; ow++) {
            int xx = ow * g.s() - g.p() + kj * g.d();
            for (int oh = 0; oh < outH; oh++) {
              int yy = oh * g.s() - g.p() + ki * g.d();
              boolean inside = yy >= 0 && yy < h && xx >= 0 && xx < w;
              table[row + r * (oh + outH * ow)] = inside ? ch + c * (yy + h * xx) : -1;
            }
          }
        }
    return table;
  }

  @Override
  public Batch unfold(Batch x, ConvGeometry g) {
    CpuBatch in = cpu("unfold", "x", x);
    Objects.requireNonNull(g, "unfold: geometry is null");
    if (in.itemSize() != g.inputSize())
      throw new IllegalArgumentException("unfold: items of " + in.describe() + " have " + in.itemSize() + " entries; geometry "
          + g + " expects c x (h*w) = " + g.c() + "x" + (g.h() * g.w()) + " items (" + g.inputSize() + " entries)");
    int[] table = patchTable(g);
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
    Objects.requireNonNull(g, "fold: geometry is null");
    if ((long) in.itemSize() != (long) g.patchRows() * g.patches())
      throw new IllegalArgumentException("fold: items of " + in.describe() + " have " + in.itemSize() + " entries; geometry "
          + g + " expects (c*k*k) x patches = " + g.patchRows() + "x" + g.patches() + " items");
    int[] table = patchTable(g);
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
    if (index.directions() != 1)
      throw new IllegalArgumentException(kernel + ": index batch " + index.describe() + " has " + index.directions()
          + " directions; expected one direction");
    double[] s = index.data();
    int[] idx = new int[s.length];
    int m = index.itemSize();
    for (int p = 0; p < s.length; p++) {
      double v = s[p];
      if (v != Math.rint(v) || v < -1 || v >= n)
        throw new IllegalArgumentException(kernel + ": index batch " + index.describe() + " has entry " + v + " at position " + p
            + " (item " + (m == 0 ? 0 : p / m) + ", entry " + (m == 0 ? 0 : p % m) + "); expected an integer in [-1, " + n + ")");
      idx[p] = (int) v;
    }
    return idx;
  }

  @Override
  public Batch gather(Batch x, Batch index) {
    CpuBatch src = cpu("gather", "x", x), ix = cpu("gather", "index", index);
    int n = src.itemSize();
    int[] idx = indices("gather", ix, n);
    int samples = axis("gather", "samples", src, ix, src.samples(), ix.samples());
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
    if (rows < 0 || cols < 0 || (long) rows * cols > Integer.MAX_VALUE)
      throw new IllegalArgumentException("scatterAdd: invalid target item shape " + rows + "x" + cols);
    if (gr.itemSize() != ix.itemSize())
      throw new IllegalArgumentException("scatterAdd: items of g " + gr.describe() + " and of index " + ix.describe()
          + " differ in entry count; expected g items shaped like the index items");
    int n = rows * cols;
    int[] idx = indices("scatterAdd", ix, n);
    int samples = axis("scatterAdd", "samples", gr, ix, gr.samples(), ix.samples());
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
    if (n < 1) throw new IllegalArgumentException("meanSamples: batch size " + n + " of " + x.describe() + "; expected n >= 1");
    if (x.samples() == 1) return x;
    if (x.samples() != n)
      throw new IllegalArgumentException("meanSamples: operand " + x.describe() + " has " + x.samples()
          + " samples but the batch size is " + n + "; expected " + n + " samples or 1");
    return scale(sumSamples(x), 1.0 / n);
  }
}
