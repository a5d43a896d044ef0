package org.hbp.calculus;

import java.util.Arrays;
import java.util.Random;
import java.util.function.DoubleBinaryOperator;
import java.util.function.IntToDoubleFunction;
import org.ejml.data.DMatrixRMaj;

/**
 * A dense numeric value in double precision: a shape of rank 2 ({@code rows x cols}; a scalar is
 * 1x1, a vector n x 1) or rank 3 ({@code c x h x w}), and its entries in <b>column-major</b> order
 * (the first index runs fastest): entry (i,j) sits at {@code i + rows*j}, entry (i,j,k) of a
 * tensor (c,h,w) at {@code i + c*(j + h*k)}. This is the layout of {@code vec}.
 *
 * <p>Tensors are treated as values: no method of this package mutates a tensor it did not create.
 * {@link #data()} exposes the backing array for speed; callers must not modify it either.
 */
public final class Tensor {
  private final int[] shape;
  private final double[] data;

  /** Wraps (does not copy) {@code data}; its length must be the product of {@code shape}. */
  public Tensor(int[] shape, double[] data) {
    if (shape.length != 2 && shape.length != 3)
      throw new IllegalArgumentException("tensor of rank " + shape.length + "; expected 2 or 3");
    long n = 1;
    for (int d : shape) {
      if (d < 0) throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
      n *= d;
    }
    if (n != data.length)
      throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " needs " + n + " entries, got " + data.length);
    this.shape = shape.clone();
    this.data = data;
  }

  /** A tensor of the given shape (long dimensions, e.g. from {@code Shape.evaluate}). */
  public static Tensor of(long[] shape, double[] data) {
    return new Tensor(toIntShape(shape), data);
  }

  /** Converts a long shape to int, checking the range. */
  public static int[] toIntShape(long[] shape) {
    int[] s = new int[shape.length];
    for (int i = 0; i < s.length; i++) {
      if (shape[i] < 0 || shape[i] > Integer.MAX_VALUE)
        throw new IllegalArgumentException("dimension out of range in shape " + Arrays.toString(shape));
      s[i] = (int) shape[i];
    }
    return s;
  }

  public static Tensor zeros(int... shape) {
    return new Tensor(shape, new double[numel(shape)]);
  }

  public static Tensor filled(double value, int... shape) {
    double[] d = new double[numel(shape)];
    Arrays.fill(d, value);
    return new Tensor(shape, d);
  }

  public static Tensor scalar(double value) {
    return new Tensor(new int[] {1, 1}, new double[] {value});
  }

  /** A column vector n x 1. */
  public static Tensor vector(double... values) {
    return new Tensor(new int[] {values.length, 1}, values.clone());
  }

  /** A matrix from its rows ({@code rows[i][j]} is entry (i,j)). */
  public static Tensor fromRows(double[][] rows) {
    int m = rows.length, n = m == 0 ? 0 : rows[0].length;
    double[] d = new double[m * n];
    for (int i = 0; i < m; i++) {
      if (rows[i].length != n) throw new IllegalArgumentException("ragged rows");
      for (int j = 0; j < n; j++) d[i + m * j] = rows[i][j];
    }
    return new Tensor(new int[] {m, n}, d);
  }

  /** A tensor whose column-major entry p is {@code f(p)}. */
  public static Tensor fromFunction(IntToDoubleFunction f, int... shape) {
    double[] d = new double[numel(shape)];
    for (int p = 0; p < d.length; p++) d[p] = f.applyAsDouble(p);
    return new Tensor(shape, d);
  }

  /** Entries drawn uniformly from [-1, 1). */
  public static Tensor random(Random rng, int... shape) {
    double[] d = new double[numel(shape)];
    for (int p = 0; p < d.length; p++) d[p] = 2 * rng.nextDouble() - 1;
    return new Tensor(shape, d);
  }

  /** A rank-2 tensor with the entries of an EJML (row-major) matrix. */
  public static Tensor fromDMatrix(DMatrixRMaj m) {
    int r = m.numRows, c = m.numCols;
    double[] d = new double[r * c];
    for (int i = 0; i < r; i++) for (int j = 0; j < c; j++) d[i + r * j] = m.unsafe_get(i, j);
    return new Tensor(new int[] {r, c}, d);
  }

  /** This rank-2 tensor as a (new) EJML matrix. */
  public DMatrixRMaj toDMatrix() {
    requireRank2("toDMatrix");
    int r = shape[0], c = shape[1];
    DMatrixRMaj m = new DMatrixRMaj(r, c);
    for (int i = 0; i < r; i++) for (int j = 0; j < c; j++) m.unsafe_set(i, j, data[i + r * j]);
    return m;
  }

  /** vec of this tensor as an EJML column vector numel x 1. */
  public DMatrixRMaj toDVector() {
    DMatrixRMaj m = new DMatrixRMaj(data.length, 1);
    System.arraycopy(data, 0, m.data, 0, data.length);
    return m;
  }

  private static int numel(int[] shape) {
    long n = 1;
    for (int d : shape) n *= d;
    if (n > Integer.MAX_VALUE) throw new IllegalArgumentException("tensor too large: " + Arrays.toString(shape));
    return (int) n;
  }

  private void requireRank2(String what) {
    if (shape.length != 2) throw new IllegalStateException(what + " of a tensor of rank " + shape.length);
  }

  /** A copy of the shape. */
  public int[] shape() {
    return shape.clone();
  }

  public long[] shapeLong() {
    long[] s = new long[shape.length];
    for (int i = 0; i < s.length; i++) s[i] = shape[i];
    return s;
  }

  public int rank() {
    return shape.length;
  }

  public int dim(int axis) {
    return shape[axis];
  }

  public int rows() {
    return shape[0];
  }

  /** Columns of a rank-2 tensor. */
  public int cols() {
    requireRank2("cols");
    return shape[1];
  }

  public int numel() {
    return data.length;
  }

  public boolean isScalar() {
    return shape.length == 2 && data.length == 1;
  }

  /** The single entry of a 1x1 tensor. */
  public double scalarValue() {
    if (!isScalar()) throw new IllegalStateException("not a scalar: shape " + Arrays.toString(shape));
    return data[0];
  }

  /** The column-major entries (the backing array; do not modify). */
  public double[] data() {
    return data;
  }

  /** Entry p of vec. */
  public double at(int p) {
    return data[p];
  }

  public double get(int i, int j) {
    requireRank2("get(i,j)");
    if (i < 0 || i >= shape[0] || j < 0 || j >= shape[1])
      throw new IndexOutOfBoundsException("(" + i + "," + j + ") in shape " + Arrays.toString(shape));
    return data[i + shape[0] * j];
  }

  public double get(int i, int j, int k) {
    if (shape.length != 3) throw new IllegalStateException("get(i,j,k) of a tensor of rank " + shape.length);
    if (i < 0 || i >= shape[0] || j < 0 || j >= shape[1] || k < 0 || k >= shape[2])
      throw new IndexOutOfBoundsException("(" + i + "," + j + "," + k + ") in shape " + Arrays.toString(shape));
    return data[i + shape[0] * (j + shape[1] * k)];
  }

  /** A deep copy. */
  public Tensor copy() {
    return new Tensor(shape, data.clone());
  }

  /** The same entries (copied) under another shape with the same number of entries. */
  public Tensor reshape(int... newShape) {
    if (numel(newShape) != data.length)
      throw new IllegalArgumentException("reshape of " + Arrays.toString(shape) + " to " + Arrays.toString(newShape));
    return new Tensor(newShape, data.clone());
  }

  /** A copy with entry p of vec replaced. */
  public Tensor withEntry(int p, double value) {
    double[] d = data.clone();
    d[p] = value;
    return new Tensor(shape, d);
  }

  public boolean sameShape(Tensor o) {
    return Arrays.equals(shape, o.shape);
  }

  private void requireSameShape(Tensor o) {
    if (!sameShape(o))
      throw new IllegalArgumentException("shapes differ: " + Arrays.toString(shape) + " vs " + Arrays.toString(o.shape));
  }

  /** max |a - b| over all entries (shapes must agree); NaN if an entry of either is NaN (so {@code err <= tol} fails). */
  public double maxAbsError(Tensor o) {
    requireSameShape(o);
    return maxAbs(data, o.data);
  }

  /** max |a - b| / max(|a|, |b|) over all entries (0 where both are 0). */
  public double maxRelError(Tensor o) {
    return maxRelError(o, 0);
  }

  /** max |a - b| / max(floor, |a|, |b|): with floor = 1 this is absolute near 0, relative for large entries. */
  public double maxRelError(Tensor o, double floor) {
    requireSameShape(o);
    return maxRel(data, o.data, floor);
  }

  /** |a - b| <= tol * max(1, |a|, |b|) for every entry. */
  public boolean approxEquals(Tensor o, double tol) {
    return sameShape(o) && maxRel(data, o.data, 1) <= tol;
  }

  /** max |a - b| of two EJML matrices of equal size. */
  public static double maxAbsError(DMatrixRMaj a, DMatrixRMaj b) {
    if (a.numRows != b.numRows || a.numCols != b.numCols)
      throw new IllegalArgumentException("sizes differ: " + a.numRows + "x" + a.numCols + " vs " + b.numRows + "x" + b.numCols);
    return maxAbs(Arrays.copyOf(a.data, a.getNumElements()), Arrays.copyOf(b.data, b.getNumElements()));
  }

  /** max |a - b| / max(floor, |a|, |b|) of two EJML matrices of equal size. */
  public static double maxRelError(DMatrixRMaj a, DMatrixRMaj b, double floor) {
    if (a.numRows != b.numRows || a.numCols != b.numCols)
      throw new IllegalArgumentException("sizes differ: " + a.numRows + "x" + a.numCols + " vs " + b.numRows + "x" + b.numCols);
    return maxRel(Arrays.copyOf(a.data, a.getNumElements()), Arrays.copyOf(b.data, b.getNumElements()), floor);
  }

  private static double maxAbs(double[] a, double[] b) {
    return maxError(a, b, (x, y) -> 1);
  }

  private static double maxRel(double[] a, double[] b, double floor) {
    return maxError(a, b, (x, y) -> Math.max(floor, Math.max(Math.abs(x), Math.abs(y))));
  }

  /**
   * max over entries of |a - b| / scale(a, b); equal entries (equal infinities too) count 0, and
   * the result is NaN if an entry is NaN or a difference is (opposite infinities).
   */
  private static double maxError(double[] a, double[] b, DoubleBinaryOperator scale) {
    double m = 0;
    for (int p = 0; p < a.length; p++) {
      if (Double.isNaN(a[p]) || Double.isNaN(b[p])) return Double.NaN;
      if (a[p] == b[p]) continue;
      double e = Math.abs(a[p] - b[p]);
      if (Double.isNaN(e)) return Double.NaN;
      m = Math.max(m, e / scale.applyAsDouble(a[p], b[p]));
    }
    return m;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Tensor t && Arrays.equals(shape, t.shape) && Arrays.equals(data, t.data);
  }

  @Override
  public int hashCode() {
    return 31 * Arrays.hashCode(shape) + Arrays.hashCode(data);
  }

  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder("Tensor").append(Arrays.toString(shape));
    if (data.length <= 64) sb.append(' ').append(Arrays.toString(data));
    return sb.toString();
  }
}
