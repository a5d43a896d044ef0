package org.hbp.backend.cpu;

import static org.hbp.backend.BackendChecks.item;

import org.hbp.backend.Backend;
import org.hbp.backend.BackendChecks;
import org.hbp.backend.Batch;
import org.hbp.backend.Precision;
import org.hbp.backend.host.HostBackend;
import org.hbp.backend.host.HostKernels;
import org.hbp.backend.host.HostLinearAlgebra;
import org.hbp.backend.host.ParallelLoops;

/**
 * The reference {@link Backend}: plain Java loops over {@link CpuBatch}es (one {@code double[]}
 * per batch), single-threaded, with EJML for the dense decompositions (inverse, determinant,
 * symmetric eigendecomposition, through {@link HostLinearAlgebra}). Its own code is the transfers
 * and the products; every other kernel is the shared host kernel of {@link HostBackend} (the
 * loops of {@link HostKernels}), run on the caller's thread.
 *
 * <p>Every kernel checks its operands' shapes ({@link BackendChecks}) and reports a mismatch as an
 * {@link IllegalArgumentException} naming the kernel, the operands ({@link Batch#describe()}) and
 * what was expected. Binary kernels broadcast the two batch axes as the interface documents;
 * elementwise kernels also broadcast an operand whose items are 1x1. {@link #matmul} multiplies a single
 * shared left item against all of {@code b}'s items as one wide matrix product.
 */
public final class CpuBackend extends HostBackend<CpuBatch> {
  public CpuBackend() {
    super("cpu", CpuBatch.class, Precision.FLOAT64, ParallelLoops.SEQUENTIAL);
  }

  // ---- helpers -----------------------------------------------------------------------------

  /** A zeroed array for a result batch of the given shape, checked to fit a Java array. */
  private static double[] array(String kernel, int samples, int directions, int rows, int cols) {
    long n = (long) samples * directions * rows * cols;
    if (n > BackendChecks.MAX_ENTRIES)
      throw new IllegalArgumentException(kernel + ": result [" + samples + " x " + directions + "] " + rows + "x" + cols
          + " has " + n + " entries, more than a Java array holds");
    return new double[(int) n];
  }

  @Override
  protected CpuBatch alloc(String kernel, int samples, int directions, int rows, int cols, boolean zero) {
    return new CpuBatch(samples, directions, rows, cols, array(kernel, samples, directions, rows, cols));
  }

  // ---- transfer ------------------------------------------------------------------------------

  @Override
  public Batch fromArray(int samples, int directions, int rows, int cols, double[] data) {
    BackendChecks.checkFromArray(samples, directions, rows, cols, data);
    return new CpuBatch(samples, directions, rows, cols, data.clone());
  }

  @Override
  public double[] toArray(Batch b) {
    return own("toArray", "b", b).data().clone();
  }

  @Override
  public double[] toArray(Batch b, int first, int count) {
    double[] data = own("toArray", "b", b).data();
    long item = BackendChecks.checkSampleRange(b, first, count);
    return java.util.Arrays.copyOfRange(data, (int) (first * item), (int) ((first + count) * item));
  }

  // ---- constants -----------------------------------------------------------------------------

  @Override
  public Batch fill(int rows, int cols, double value) {
    BackendChecks.checkFill(rows, cols);
    double[] d = array("fill", 1, 1, rows, cols);
    java.util.Arrays.fill(d, value);
    return new CpuBatch(1, 1, rows, cols, d);
  }

  @Override
  public Batch eye(int n) {
    BackendChecks.checkEye(n);
    double[] d = array("eye", 1, 1, n, n);
    for (int i = 0; i < n; i++) d[i + n * i] = 1;
    return new CpuBatch(1, 1, n, n, d);
  }

  // ---- free views ----------------------------------------------------------------------------

  @Override
  public boolean sharesStorage(Batch a, Batch b) {
    return a instanceof CpuBatch x && b instanceof CpuBatch y && x.data() == y.data();
  }

  @Override
  protected CpuBatch view(CpuBatch x, int samples, int directions, int rows, int cols) {
    return new CpuBatch(samples, directions, rows, cols, x.data());
  }

  // ---- per-item linear algebra ---------------------------------------------------------------

  @Override
  public Batch matmul(Batch a, boolean transposeA, Batch b, boolean transposeB) {
    CpuBatch x = own("matmul", "a", a), y = own("matmul", "b", b);
    BackendChecks.Product shape = BackendChecks.matmulShape(x, transposeA, y, transposeB);
    int m = shape.m(), k = shape.k(), n = shape.n(), samples = shape.samples(), directions = shape.directions();
    double[] out = array("matmul", samples, directions, m, n);
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
    CpuBatch x = own("matmulSumSamples", "a", a), y = own("matmulSumSamples", "b", b);
    BackendChecks.Product shape = BackendChecks.matmulSumSamplesShape(x, transposeA, y, transposeB);
    int m = shape.m(), k = shape.k(), n = shape.n(), samples = shape.samples(), directions = shape.directions();
    double[] out = array("matmulSumSamples", 1, directions, m, n);
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
}
