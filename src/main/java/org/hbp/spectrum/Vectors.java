package org.hbp.spectrum;

import java.util.List;
import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.hbp.backend.host.ParallelLoops;

/** Small dense-vector helpers of the estimators: random vectors, dot products, Gram–Schmidt. */
final class Vectors {
  private Vectors() {}

  static double dot(double[] a, double[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) s += a[i] * b[i];
    return s;
  }

  static double norm(double[] a) {
    return Math.sqrt(dot(a, a));
  }

  /** {@code a += c b}. */
  static void axpy(double c, double[] b, double[] a) {
    for (int i = 0; i < a.length; i++) a[i] += c * b[i];
  }

  static void scale(double c, double[] a) {
    for (int i = 0; i < a.length; i++) a[i] *= c;
  }

  /** Entries per block of the blocked Gram–Schmidt: a block of w stays in cache while every basis vector passes. */
  private static final int BLOCK = 4096;

  private static final ParallelLoops LOOPS = new ParallelLoops(Runtime.getRuntime().availableProcessors());

  /**
   * Removes from {@code w} its components along the orthonormal {@code basis}, twice (classical
   * Gram–Schmidt, reorthogonalised: "twice is enough"). Each pass is two sweeps over the basis,
   * blocked so that a block of w stays in cache: {@code c = Q'w} (partial sums per block, added
   * in block order, so the result does not depend on the thread count), then {@code w -= Q c};
   * the blocks run in parallel.
   */
  static void orthogonalise(double[] w, List<double[]> basis) {
    int k = basis.size(), n = w.length;
    if (k == 0) return;
    int blocks = (n + BLOCK - 1) / BLOCK;
    for (int pass = 0; pass < 2; pass++) {
      double[][] partial = new double[blocks][k];
      LOOPS.run(blocks, (long) n * k, (b0, b1) -> {
        for (int b = (int) b0; b < b1; b++) {
          int from = b * BLOCK, to = Math.min(n, from + BLOCK);
          for (int i = 0; i < k; i++) {
            double[] q = basis.get(i);
            double sum = 0;
            for (int j = from; j < to; j++) sum += q[j] * w[j];
            partial[b][i] = sum;
          }
        }
      });
      double[] c = new double[k];
      for (double[] row : partial) for (int i = 0; i < k; i++) c[i] += row[i];
      LOOPS.run(blocks, (long) n * k, (b0, b1) -> {
        for (int b = (int) b0; b < b1; b++) {
          int from = b * BLOCK, to = Math.min(n, from + BLOCK);
          for (int i = 0; i < k; i++) {
            double[] q = basis.get(i);
            double ci = c[i];
            for (int j = from; j < to; j++) w[j] -= ci * q[j];
          }
        }
      });
    }
  }

  static double[] gaussian(Random rng, int n) {
    double[] v = new double[n];
    for (int i = 0; i < n; i++) v[i] = rng.nextGaussian();
    return v;
  }

  /** Entries ±1 with equal probability. */
  static double[] rademacher(Random rng, int n) {
    double[] v = new double[n];
    for (int i = 0; i < n; i++) v[i] = rng.nextBoolean() ? 1 : -1;
    return v;
  }

  /** The vectors as the columns of an {@code n x k} matrix. */
  static DMatrixRMaj columns(List<double[]> vectors) {
    int n = vectors.get(0).length, k = vectors.size();
    DMatrixRMaj m = new DMatrixRMaj(n, k);
    for (int c = 0; c < k; c++) {
      double[] v = vectors.get(c);
      for (int i = 0; i < n; i++) m.data[i * k + c] = v[i];
    }
    return m;
  }

  /** Column {@code c} of {@code m}. */
  static double[] column(DMatrixRMaj m, int c) {
    double[] v = new double[m.numRows];
    for (int i = 0; i < v.length; i++) v[i] = m.data[i * m.numCols + c];
    return v;
  }

  /** {@code op} applied to one vector. */
  static double[] apply(SymmetricOperator op, double[] v) {
    DMatrixRMaj r = op.apply(columns(List.of(v)));
    return r.data.length == v.length ? r.data : column(r, 0);
  }
}
