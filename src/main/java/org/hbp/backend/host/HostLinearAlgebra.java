package org.hbp.backend.host;

import java.util.function.DoubleUnaryOperator;
import org.hbp.backend.BackendChecks;
import org.hbp.backend.Batch;
import org.hbp.backend.Precision;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.EigenDecomposition_F64;

/**
 * The dense per-item decompositions of the backends, on the host with EJML: inverse, determinant
 * and the symmetric eigen-map of one {@code n x n} item at a time, read from and written to
 * {@code double[]} arrays in the column-major layout of a {@link Batch} item. One instance serves
 * one kernel call (its workspaces are reused across the items; not thread-safe).
 *
 * <p>EJML is row-major: the column-major data of an item read row-major is the item's transpose,
 * which these routines use directly ({@code inv(A') = inv(A)'}, {@code det(A') = det(A)}, and the
 * symmetrized item is the same either way).
 */
public final class HostLinearAlgebra {
  private final int n;
  /** The current item, transposed (its column-major data read row-major). */
  private final DMatrixRMaj item;
  // inverse's and symmetricEigenMap's workspaces, created on first use
  private DMatrixRMaj inv;
  private EigenDecomposition_F64<DMatrixRMaj> eig;
  private double[] lambda;
  private double[][] q;

  /** Workspaces for items of {@code n x n}. */
  public HostLinearAlgebra(int n) {
    this.n = n;
    this.item = new DMatrixRMaj(n, n);
  }

  /** Copies the item at {@code src[off ..]} into {@link #item} (EJML may overwrite its input). */
  private DMatrixRMaj transposedItem(double[] src, int off) {
    System.arraycopy(src, off, item.data, 0, n * n);
    return item;
  }

  /**
   * The inverse of the item at {@code src[srcOff ..]}, written to {@code dst[dstOff ..]}. Throws
   * {@code ArithmeticException("inverse: <item t of a> is singular")} when EJML finds it singular or
   * an entry of the inverse is not finite once rounded to {@code precision} (a is the operand, t the
   * item's position, for the message). Requires n >= 1.
   */
  public void inverse(double[] src, int srcOff, double[] dst, int dstOff, Precision precision, Batch a, int t) {
    int nn = n * n;
    if (inv == null) inv = new DMatrixRMaj(n, n);
    // inv(A') = inv(A)': the row-major data of inv(A') is the column-major data of inv(A)
    boolean ok = CommonOps_DDRM.invert(transposedItem(src, srcOff), inv);
    for (int p = 0; ok && p < nn; p++) if (!Double.isFinite(precision.round(inv.data[p]))) ok = false;
    if (!ok) throw new ArithmeticException("inverse: " + BackendChecks.itemName(a, t) + " is singular");
    System.arraycopy(inv.data, 0, dst, dstOff, nn);
  }

  /** The determinant of the item at {@code src[off ..]} (1 for n = 0). */
  public double determinant(double[] src, int off) {
    return n == 0 ? 1 : CommonOps_DDRM.det(transposedItem(src, off)); // det(A') = det(A)
  }

  /**
   * {@code Q f(L) Q'} of the eigendecomposition {@code Q L Q'} of the symmetrized item
   * {@code (A + A')/2} at {@code src[srcOff ..]}, written to {@code dst[dstOff ..]}; an {@code
   * ArithmeticException} naming item t of a when the decomposition fails. Requires n >= 1.
   */
  public void symmetricEigenMap(double[] src, int srcOff, DoubleUnaryOperator f, double[] dst, int dstOff, Batch a, int t) {
    if (eig == null) {
      eig = DecompositionFactory_DDRM.eig(n, true, true);
      lambda = new double[n];
      q = new double[n][];
    }
    DMatrixRMaj sym = new DMatrixRMaj(n, n);
    for (int j = 0; j < n; j++)
      for (int i = 0; i < n; i++) sym.data[i * n + j] = 0.5 * (src[srcOff + i + n * j] + src[srcOff + j + n * i]);
    if (!eig.decompose(sym))
      throw new ArithmeticException("symmetricEigenMap: the eigendecomposition of " + BackendChecks.itemName(a, t) + " failed");
    for (int e = 0; e < n; e++) {
      DMatrixRMaj v = eig.getEigenVector(e);
      if (v == null)
        throw new ArithmeticException("symmetricEigenMap: no eigenvector " + e + " for " + BackendChecks.itemName(a, t));
      lambda[e] = f.applyAsDouble(eig.getEigenvalue(e).real);
      q[e] = v.data; // n x 1: data is the vector
    }
    // Q f(L) Q' = sum_e f(l_e) q_e q_e', filled symmetrically
    for (int j = 0; j < n; j++)
      for (int i = j; i < n; i++) {
        double acc = 0;
        for (int e = 0; e < n; e++) acc += lambda[e] * q[e][i] * q[e][j];
        dst[dstOff + i + n * j] = acc;
        dst[dstOff + j + n * i] = acc;
      }
  }

  // ---- whole batches: item by item through host buffers ------------------------------------------

  /** The inverse of each square item of {@code a} (read from {@code in}), written to {@code out}; see {@link #inverse(double[], int, double[], int, Precision, Batch, int)}. */
  public static void inverse(HostBuffer in, HostBuffer out, Batch a, Precision precision) {
    int n = a.rows(), nn = n * n;
    if (n == 0) return;
    HostLinearAlgebra la = new HostLinearAlgebra(n);
    HostKernels.eachItem(in, nn, out, nn, a.items(), false, (s, d, t) -> la.inverse(s, 0, d, 0, precision, a, t));
  }

  /** The determinant of each square item of {@code a} (read from {@code in}). */
  public static double[] determinants(HostBuffer in, Batch a) {
    int nn = a.itemSize();
    HostLinearAlgebra la = new HostLinearAlgebra(a.rows());
    double[] s = new double[nn], d = new double[a.items()];
    for (int t = 0; t < d.length; t++) {
      in.read((long) t * nn, s, 0, nn);
      d[t] = la.determinant(s, 0);
    }
    return d;
  }

  /** {@code Q f(L) Q'} of each square item of {@code a} (read from {@code in}), written to {@code out}. */
  public static void symmetricEigenMap(HostBuffer in, DoubleUnaryOperator f, HostBuffer out, Batch a) {
    int n = a.rows(), nn = n * n;
    if (n == 0) return;
    HostLinearAlgebra la = new HostLinearAlgebra(n);
    HostKernels.eachItem(in, nn, out, nn, a.items(), false, (s, d, t) -> la.symmetricEigenMap(s, 0, f, d, 0, a, t));
  }
}
