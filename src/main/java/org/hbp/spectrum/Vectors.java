package org.hbp.spectrum;

import java.util.List;
import java.util.Random;
import org.ejml.data.DMatrixRMaj;

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

  /** Removes from {@code w} its components along the orthonormal {@code basis}, twice (classical Gram–Schmidt, reorthogonalised). */
  static void orthogonalise(double[] w, List<double[]> basis) {
    for (int pass = 0; pass < 2; pass++) {
      for (double[] q : basis) axpy(-dot(q, w), q, w);
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
