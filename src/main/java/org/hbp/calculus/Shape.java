package org.hbp.calculus;

import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * The shape of a value: a scalar is {@code (1,1)}, a vector {@code (n,1)}, a matrix {@code (m,n)},
 * a tensor {@code (c,h,w)}. Matrix calculus treats vectors and scalars as matrices; vec is
 * column-major (the first index runs fastest), also for tensors.
 */
public record Shape(List<Dim> dims) {
  public Shape {
    dims = List.copyOf(dims);
    if (dims.size() != 2 && dims.size() != 3) throw new IllegalArgumentException("shape of rank " + dims.size());
  }

  public static final Shape SCALAR = new Shape(List.of(Dim.ONE, Dim.ONE));

  public static Shape matrix(Dim m, Dim n) {
    return new Shape(List.of(m, n));
  }

  public static Shape vector(Dim n) {
    return matrix(n, Dim.ONE);
  }

  public static Shape tensor(Dim c, Dim h, Dim w) {
    return new Shape(List.of(c, h, w));
  }

  public boolean isTensor() {
    return dims.size() == 3;
  }

  public boolean isMatrixLike() {
    return dims.size() == 2;
  }

  public boolean isScalar() {
    return isMatrixLike() && rows().isOne() && cols().isOne();
  }

  public boolean isColumn() {
    return isMatrixLike() && cols().isOne();
  }

  public Dim rows() {
    return dims.get(0);
  }

  public Dim cols() {
    if (isTensor()) throw new IllegalStateException("a tensor has no columns");
    return dims.get(1);
  }

  /** Number of entries, the length of vec. */
  public Dim numel() {
    Dim n = Dim.ONE;
    for (Dim d : dims) n = n.times(d);
    return n;
  }

  /** The product of extents, exactly; Long.MAX_VALUE when it overflows 64 bits. */
  public static long entries(List<Long> extents) {
    long n = 1;
    try {
      for (long x : extents) n = Math.multiplyExact(n, x);
    } catch (ArithmeticException e) {
      return Long.MAX_VALUE;
    }
    return n;
  }

  public Shape transpose() {
    return matrix(cols(), rows());
  }

  public Shape substitute(Map<String, Dim> values) {
    return new Shape(dims.stream().map(d -> d.substitute(values)).toList());
  }

  public long[] evaluate(Map<String, Long> values) {
    long[] out = new long[dims.size()];
    for (int i = 0; i < out.length; i++) out[i] = dims.get(i).evaluate(values);
    return out;
  }

  /** DSL type syntax: {@code scalar}, {@code vector(n)}, {@code matrix(m,n)}, {@code tensor(c,h,w)}. */
  @Override
  public String toString() {
    if (isScalar()) return "scalar";
    if (isTensor()) return "tensor(" + join() + ")";
    if (isColumn()) return "vector(" + rows() + ")";
    return "matrix(" + join() + ")";
  }

  private String join() {
    return dims.stream().map(Dim::toString).collect(Collectors.joining(","));
  }
}
