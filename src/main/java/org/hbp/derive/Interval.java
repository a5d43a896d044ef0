package org.hbp.derive;

/**
 * A closed interval [lo, hi] of reals, possibly unbounded (lo = -inf, hi = +inf), with interval
 * arithmetic that is sound in floating point: every endpoint that a double operation computes
 * inexactly is rounded outwards (down for lo, up for hi), exact results are kept. The products
 * follow the extended convention 0 * inf = 0, which is sound because the values bounded are finite.
 */
record Interval(double lo, double hi) {
  static final Interval ALL = new Interval(Double.NEGATIVE_INFINITY, Double.POSITIVE_INFINITY);
  static final Interval NON_NEGATIVE = new Interval(0, Double.POSITIVE_INFINITY);
  static final Interval UNIT = new Interval(0, 1);
  static final Interval SIGNED_UNIT = new Interval(-1, 1);

  Interval {
    if (Double.isNaN(lo) || Double.isNaN(hi) || lo > hi || lo == Double.POSITIVE_INFINITY || hi == Double.NEGATIVE_INFINITY) {
      lo = Double.NEGATIVE_INFINITY;
      hi = Double.POSITIVE_INFINITY;
    }
  }

  static Interval point(double v) {
    return new Interval(v, v);
  }

  boolean isNonNegative() {
    return lo >= 0;
  }

  boolean isBounded() {
    return Double.isFinite(lo) && Double.isFinite(hi);
  }

  /** The smallest interval holding both. */
  Interval hull(Interval o) {
    return new Interval(Math.min(lo, o.lo), Math.max(hi, o.hi));
  }

  Interval plus(Interval o) {
    return new Interval(addRounded(lo, o.lo, false), addRounded(hi, o.hi, true));
  }

  Interval negate() {
    return new Interval(-hi, -lo);
  }

  Interval times(double c) {
    return times(point(c));
  }

  Interval times(Interval o) {
    double[] p = {mul(lo, o.lo), mul(lo, o.hi), mul(hi, o.lo), mul(hi, o.hi)};
    double min = Double.POSITIVE_INFINITY, max = Double.NEGATIVE_INFINITY;
    boolean minExact = true, maxExact = true;
    double[][] pairs = {{lo, o.lo}, {lo, o.hi}, {hi, o.lo}, {hi, o.hi}};
    for (int i = 0; i < 4; i++) {
      boolean exact = isExactProduct(pairs[i][0], pairs[i][1], p[i]);
      if (p[i] < min || (p[i] == min && !exact)) {
        min = p[i];
        minExact = exact;
      }
      if (p[i] > max || (p[i] == max && !exact)) {
        max = p[i];
        maxExact = exact;
      }
    }
    return new Interval(minExact ? min : Math.nextDown(min), maxExact ? max : Math.nextUp(max));
  }

  /** The square x.*x of every x in the interval (tighter than times(this): never negative). */
  Interval square() {
    if (lo >= 0) return times(this);
    if (hi <= 0) return negate().square();
    Interval m = new Interval(0, Math.max(-lo, hi));
    return m.times(m);
  }

  /** x.^p for a constant exponent p (undefined values, such as (-1).^0.5, make the result unbounded). */
  Interval power(double p) {
    if (p == 0) return point(1);
    if (p == Math.rint(p) && Math.abs(p) <= 64) {
      int k = (int) Math.abs(p);
      Interval base = this;
      if (p < 0) {
        if (lo > 0 || hi < 0) base = reciprocal();
        else if (k % 2 == 0) return NON_NEGATIVE;
        else if (lo == 0) base = NON_NEGATIVE; // 1/x of x >= 0 (x = 0 gives +inf)
        else if (hi == 0) base = NON_NEGATIVE.negate();
        else return ALL;
      }
      Interval r = point(1);
      for (int i = 0; i < k / 2; i++) r = r.times(base.square());
      return k % 2 == 1 ? r.times(base) : r;
    }
    if (lo < 0) return ALL;
    double a = Math.pow(lo, p), b = Math.pow(hi, p);
    return new Interval(Math.max(0, Math.nextDown(Math.min(a, b))), Math.nextUp(Math.max(a, b)));
  }

  /** 1/x of an interval not containing 0. */
  private Interval reciprocal() {
    double a = 1 / hi, b = 1 / lo;
    return new Interval(isExactQuotient(hi, a) ? a : Math.nextDown(a), isExactQuotient(lo, b) ? b : Math.nextUp(b));
  }

  private static double mul(double a, double b) {
    if (a == 0 || b == 0) return 0; // 0 * inf = 0: the bounded values are finite
    return a * b;
  }

  private static boolean isExactProduct(double a, double b, double p) {
    if (p == 0) return a == 0 || b == 0;
    if (Double.isInfinite(p)) return Double.isInfinite(a) || Double.isInfinite(b);
    if (Math.abs(p) < Double.MIN_NORMAL) return false;
    return Math.fma(a, b, -p) == 0;
  }

  private static boolean isExactQuotient(double x, double q) {
    if (Double.isInfinite(x)) return q == 0;
    if (Double.isInfinite(q) || Math.abs(q) < Double.MIN_NORMAL) return false;
    return Math.fma(x, q, -1) == 0;
  }

  /** a + b rounded outwards (up when {@code up}) unless it is exact. */
  private static double addRounded(double a, double b, boolean up) {
    double s = a + b;
    if (Double.isInfinite(s) || Double.isNaN(s)) return s;
    double bb = s - a;
    double err = (a - (s - bb)) + (b - bb); // Knuth's TwoSum: exact error of the rounded sum
    if (err == 0) return s;
    return up ? Math.nextUp(s) : Math.nextDown(s);
  }
}
