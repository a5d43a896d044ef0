package org.hbp.backend.host;

import static org.hbp.backend.BackendChecks.ADD;
import static org.hbp.backend.BackendChecks.MULTIPLY;
import static org.hbp.backend.BackendChecks.SUBTRACT;

import java.util.Arrays;
import org.hbp.backend.BackendChecks;

/**
 * The host kernels of the backends, written once on {@code double[]} ranges: the CPU backend
 * runs them on its batches' arrays, the BLAS backend on chunks and items it reads from off-heap
 * blocks, the OpenCL backend on what its host fallbacks copy from the device. Inner loops touch
 * only primitive arrays. Every kernel may write in place ({@code out == x} at the same offset)
 * where it reads each entry before writing it.
 */
public final class HostKernels {
  private HostKernels() {}

  /**
   * {@code out[oo + p] = x[xo + p] op y[yo + p]} for {@code p < n}, op one of {@link
   * BackendChecks#ADD} and the others; a scalar operand ({@code xs}, {@code ys}) is the one entry
   * at its offset, broadcast.
   */
  public static void combine(int op, double[] x, int xo, boolean xs, double[] y, int yo, boolean ys, double[] out, int oo, int n) {
    if (xs && ys) {
      Arrays.fill(out, oo, oo + n, BackendChecks.scalarOp(op, x[xo], y[yo]));
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

  /** {@code out[o + p] = c * x[o + p]} for {@code p < n}, in place. */
  public static void scale(double c, double[] x, int o, int n) {
    for (int p = o, e = o + n; p < e; p++) x[p] = c * x[p];
  }

  /** {@code x[o + p] = x[o + p] ^ exponent} for {@code p < n}, in place (squares as products, exponent 1 as is). */
  public static void power(double exponent, double[] x, int o, int n) {
    if (exponent == 2) {
      for (int p = o, e = o + n; p < e; p++) x[p] = x[p] * x[p];
    } else if (exponent != 1) {
      for (int p = o, e = o + n; p < e; p++) x[p] = Math.pow(x[p], exponent);
    }
  }

  /** {@code x[o + p] = f(x[o + p])} for {@code p < n}, in place. */
  public static void map(java.util.function.DoubleUnaryOperator f, double[] x, int o, int n) {
    for (int p = o, e = o + n; p < e; p++) x[p] = f.applyAsDouble(x[p]);
  }

  /** {@code acc[ao + p] += x[xo + p]} for {@code p < n}. */
  public static void accumulate(double[] x, int xo, double[] acc, int ao, int n) {
    for (int p = 0; p < n; p++) acc[ao + p] += x[xo + p];
  }

  // ---- unfold and fold: a patch table maps each unfolded entry to its input entry -------------

  /**
   * Entries {@code [from, from+n)} of the unfolding of the item at {@code x[xo ..]} into {@code
   * out[oo ..]}: {@code out[oo + e] = x[xo + table[from + e]]}, 0 where the table says -1 (the
   * padding; see {@link BackendChecks#patchTable}).
   */
  public static void unfold(int[] table, int from, int n, double[] x, int xo, double[] out, int oo) {
    gather(table, from, n, x, xo, out, oo); // the patch table is a gather index
  }

  /** The adjoint of {@link #unfold}: {@code out[oo + table[from + e]] += cols[co + e]} for {@code e < n}, -1 skipped. */
  public static void fold(int[] table, int from, int n, double[] cols, int co, double[] out, int oo) {
    scatterAdd(table, from, n, cols, co, out, oo);
  }

  // ---- gather and scatter-add ----------------------------------------------------------------

  /** {@code out[oo + j] = x[xo + idx[io + j]]} for {@code j < m}, 0 where the index is -1. */
  public static void gather(int[] idx, int io, int m, double[] x, int xo, double[] out, int oo) {
    for (int j = 0; j < m; j++) {
      int q = idx[io + j];
      out[oo + j] = q >= 0 ? x[xo + q] : 0;
    }
  }

  /** The adjoint of {@link #gather}: {@code out[oo + idx[io + j]] += g[go + j]} for {@code j < m}, -1 skipped. */
  public static void scatterAdd(int[] idx, int io, int m, double[] g, int go, double[] out, int oo) {
    for (int j = 0; j < m; j++) {
      int q = idx[io + j];
      if (q >= 0) out[oo + q] += g[go + j];
    }
  }

  // ---- per-item kernels ------------------------------------------------------------------------

  /** The sum of {@code x[o .. o+n)}. */
  public static double sum(double[] x, int o, int n) {
    double acc = 0;
    for (int p = o, e = o + n; p < e; p++) acc += x[p];
    return acc;
  }

  /** The trace of the {@code n x n} item at {@code x[o ..]}. */
  public static double trace(double[] x, int o, int n) {
    double acc = 0;
    for (int i = 0; i < n; i++) acc += x[o + i * (n + 1)];
    return acc;
  }

  /** The diagonal of the {@code n x n} item at {@code x[xo ..]} into {@code out[oo .. oo+n)}. */
  public static void diagonal(double[] x, int xo, int n, double[] out, int oo) {
    for (int i = 0; i < n; i++) out[oo + i] = x[xo + i * (n + 1)];
  }

  /** The {@code n x n} diagonal matrix of {@code v[vo .. vo+n)} into the zeroed item at {@code out[oo ..]}. */
  public static void diagMatrix(double[] v, int vo, int n, double[] out, int oo) {
    for (int i = 0; i < n; i++) out[oo + i * (n + 1)] = v[vo + i];
  }

  /** The transpose of the {@code m x n} item at {@code x[xo ..]} into {@code out[oo ..]} ({@code n x m}). */
  public static void transpose(double[] x, int xo, int m, int n, double[] out, int oo) {
    for (int j = 0; j < n; j++)
      for (int i = 0; i < m; i++) out[oo + j + n * i] = x[xo + i + m * j];
  }

  /** {@code a kron b} of the {@code m x n} item {@code a[ao ..]} and the {@code p x q} item {@code b[bo ..]} into {@code out[oo ..]}. */
  public static void kron(double[] a, int ao, int m, int n, double[] b, int bo, int p, int q, double[] out, int oo) {
    int rows = m * p;
    for (int j = 0; j < n; j++)
      for (int i = 0; i < m; i++) {
        double aij = a[ao + i + m * j];
        for (int l = 0; l < q; l++) {
          int dst = oo + i * p + rows * (j * q + l), src = bo + p * l;
          for (int kk = 0; kk < p; kk++) out[dst + kk] = aij * b[src + kk];
        }
      }
  }

  /** Softmax of {@code x[xo .. xo+n)} (shifted by the maximum) into {@code out[oo ..]}. */
  public static void softmax(double[] x, int xo, int n, double[] out, int oo) {
    double max = Double.NEGATIVE_INFINITY;
    for (int p = 0; p < n; p++) max = Math.max(max, x[xo + p]);
    double z = 0;
    for (int p = 0; p < n; p++) {
      out[oo + p] = Math.exp(x[xo + p] - max);
      z += out[oo + p];
    }
    double inv = 1 / z;
    for (int p = 0; p < n; p++) out[oo + p] *= inv;
  }

  /** {@code log(sum(exp(x[o .. o+n))))}, shifted by the maximum; an infinite or NaN maximum is the result. */
  public static double logSumExp(double[] x, int o, int n) {
    double max = Double.NEGATIVE_INFINITY;
    for (int p = 0; p < n; p++) max = Math.max(max, x[o + p]);
    if (max == Double.NEGATIVE_INFINITY || max == Double.POSITIVE_INFINITY || Double.isNaN(max)) return max;
    double z = 0;
    for (int p = 0; p < n; p++) z += Math.exp(x[o + p] - max);
    return max + Math.log(z);
  }

  // ---- item loops over host buffers ------------------------------------------------------------

  /** What {@link #eachItem} computes per item: {@code out} from {@code in} (both item-sized scratch arrays), item t. */
  public interface ItemOp {
    void apply(double[] in, double[] out, int t);
  }

  /**
   * For each of {@code items} items: reads item t of {@code in} ({@code inSize} entries), applies
   * {@code op} and writes its {@code outSize} results as item t of {@code out}. The scratch
   * arrays are reused across items (zeroed before each item when {@code zero}).
   */
  public static void eachItem(HostBuffer in, int inSize, HostBuffer out, int outSize, int items, boolean zero, ItemOp op) {
    double[] s = new double[inSize], d = new double[outSize];
    for (int t = 0; t < items; t++) {
      in.read((long) t * inSize, s, 0, inSize);
      if (zero) Arrays.fill(d, 0);
      op.apply(s, d, t);
      out.write((long) t * outSize, d, 0, outSize);
    }
  }
}
