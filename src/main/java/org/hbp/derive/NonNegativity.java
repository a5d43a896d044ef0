package org.hbp.derive;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.hbp.calculus.Expr;
import org.hbp.calculus.Printer;

/**
 * Proves that every entry of an expression is non-negative, soundly (a proof, never a test at
 * sample points), in two steps:
 *
 * <ol>
 *   <li>interval bounds of the tree ({@link EntryBounds}): {@code sigmoid(t) .* (1 - sigmoid(t))}
 *       is a product of factors in [0, 1];
 *   <li>otherwise the expression as a polynomial p in its atoms ({@link Polynomial}), like terms
 *       collected. Each atom is bounded by {@link EntryBounds}. The atoms that are unbounded must
 *       enter every monomial with a known sign (an even power, or a non-negative atom such as
 *       exp(x)); grouping the monomials by them writes p = sum_F |F| q_F(b), with b the bounded
 *       atoms, and p >= 0 when every q_F >= 0 on the box of b. That is proven by the Bernstein
 *       form of q_F on the box (all Bernstein coefficients >= 0, in exact arithmetic), splitting
 *       the box in halves where the coefficients do not yet show it.
 * </ol>
 *
 * The atoms are treated as independent (sigmoid(x) and sigmoid(-x) both range over [0, 1]), which
 * can only lose proofs, never make a false one.
 */
final class NonNegativity {
  private NonNegativity() {}

  private static final int MAX_COEFFICIENTS = 4096; // Bernstein coefficients per box
  private static final int MAX_SPLITS = 10; // depth of box halving
  private static final int MAX_BOXES = 2000; // boxes per proof

  static final String COLLECTS_TO_ZERO = "the entries collect to 0";

  /** How the entries of v were shown non-negative, or null when no proof was found. */
  static String proof(Expr v) {
    if (EntryBounds.of(v).isNonNegative()) return "entry bounds";
    Polynomial p = Polynomial.of(v);
    if (p == null) return null;
    if (p.terms().isEmpty()) return COLLECTS_TO_ZERO;
    Map<Map<Expr, Integer>, Map<Map<Expr, Integer>, BigDecimal>> groups = new LinkedHashMap<>();
    for (var t : p.terms().entrySet()) {
      Map<Expr, Integer> free = new HashMap<>(), box = new HashMap<>();
      BigDecimal c = t.getValue();
      for (var a : t.getKey().entrySet()) {
        Interval r = EntryBounds.of(a.getKey());
        int k = a.getValue();
        if (r.isBounded() && r.lo() == r.hi()) c = c.multiply(new BigDecimal(r.lo()).pow(k));
        else if (r.isBounded()) box.put(a.getKey(), k);
        else if (r.lo() >= 0 || k % 2 == 0) free.put(a.getKey(), k);
        else if (r.hi() <= 0) {
          free.put(a.getKey(), k);
          c = c.negate();
        } else return null; // an odd power of an atom of either sign
      }
      groups.computeIfAbsent(Map.copyOf(free), f -> new HashMap<>()).merge(Map.copyOf(box), c, BigDecimal::add);
    }
    int[] boxes = {0};
    for (Map<Map<Expr, Integer>, BigDecimal> q : groups.values()) if (!nonNegativeOnBox(q, boxes)) return null;
    return "polynomial bound (Bernstein form) in " + atomsOf(p);
  }

  private static String atomsOf(Polynomial p) {
    List<String> names = new ArrayList<>();
    for (Map<Expr, Integer> m : p.terms().keySet())
      for (Expr a : m.keySet()) {
        String s = Printer.text(a);
        if (!names.contains(s)) names.add(s);
      }
    names.sort(null);
    return String.join(", ", names);
  }

  /** q >= 0 where each atom ranges over its bounds. */
  private static boolean nonNegativeOnBox(Map<Map<Expr, Integer>, BigDecimal> q, int[] boxes) {
    q = new HashMap<>(q);
    q.values().removeIf(c -> c.signum() == 0);
    if (q.isEmpty()) return true;
    List<Expr> vars = new ArrayList<>();
    for (Map<Expr, Integer> m : q.keySet()) for (Expr a : m.keySet()) if (!vars.contains(a)) vars.add(a);
    int n = vars.size();
    int[] degree = new int[n];
    for (Map<Expr, Integer> m : q.keySet()) for (var a : m.entrySet()) degree[vars.indexOf(a.getKey())] = Math.max(degree[vars.indexOf(a.getKey())], a.getValue());
    long size = 1;
    for (int d : degree) size *= d + 1;
    if (size > MAX_COEFFICIENTS) return false;
    Dense a = new Dense(degree);
    for (var t : q.entrySet()) {
      int[] idx = new int[n];
      for (var x : t.getKey().entrySet()) idx[vars.indexOf(x.getKey())] = x.getValue();
      a.add(idx, t.getValue());
    }
    BigDecimal[] lo = new BigDecimal[n], hi = new BigDecimal[n];
    for (int i = 0; i < n; i++) {
      Interval r = EntryBounds.of(vars.get(i));
      lo[i] = new BigDecimal(r.lo());
      hi[i] = new BigDecimal(r.hi());
    }
    return bernstein(a, lo, hi, MAX_SPLITS, boxes);
  }

  private static boolean bernstein(Dense a, BigDecimal[] lo, BigDecimal[] hi, int splits, int[] boxes) {
    if (++boxes[0] > MAX_BOXES) return false;
    Dense b = a.copy();
    for (int i = 0; i < a.degree.length; i++) b.substitute(i, lo[i], hi[i].subtract(lo[i]));
    for (int i = 0; i < a.degree.length; i++) b.toBernstein(i);
    if (b.allNonNegative()) return true;
    if (!b.cornersNonNegative() || splits == 0) return false;
    int axis = 0;
    for (int i = 1; i < a.degree.length; i++)
      if (a.degree[i] > a.degree[axis] || (a.degree[i] == a.degree[axis] && hi[i].subtract(lo[i]).compareTo(hi[axis].subtract(lo[axis])) > 0)) axis = i;
    BigDecimal mid = lo[axis].add(hi[axis]).multiply(new BigDecimal("0.5"));
    BigDecimal[] hiLeft = hi.clone(), loRight = lo.clone();
    hiLeft[axis] = mid;
    loRight[axis] = mid;
    return bernstein(a, lo, hiLeft, splits - 1, boxes) && bernstein(a, loRight, hi, splits - 1, boxes);
  }

  /** Coefficients over a grid of exponents 0..degree[i] per variable, in exact arithmetic. */
  private static final class Dense {
    final int[] degree;
    final BigDecimal[] c;
    final int[] stride;

    Dense(int[] degree) {
      this.degree = degree;
      stride = new int[degree.length];
      int s = 1;
      for (int i = 0; i < degree.length; i++) {
        stride[i] = s;
        s *= degree[i] + 1;
      }
      c = new BigDecimal[s];
      java.util.Arrays.fill(c, BigDecimal.ZERO);
    }

    Dense copy() {
      Dense d = new Dense(degree);
      System.arraycopy(c, 0, d.c, 0, c.length);
      return d;
    }

    void add(int[] idx, BigDecimal v) {
      int k = 0;
      for (int i = 0; i < idx.length; i++) k += idx[i] * stride[i];
      c[k] = c[k].add(v);
    }

    private int exponent(int flat, int axis) {
      return flat / stride[axis] % (degree[axis] + 1);
    }

    /** Variable {@code axis} becomes lo + h*w: v^k = sum_j C(k, j) lo^(k-j) h^j w^j. */
    void substitute(int axis, BigDecimal lo, BigDecimal h) {
      BigDecimal[] out = new BigDecimal[c.length];
      java.util.Arrays.fill(out, BigDecimal.ZERO);
      for (int f = 0; f < c.length; f++) {
        if (c[f].signum() == 0) continue;
        int k = exponent(f, axis), base = f - k * stride[axis];
        for (int j = 0; j <= k; j++) {
          BigDecimal term = c[f].multiply(new BigDecimal(binomial(k, j))).multiply(lo.pow(k - j)).multiply(h.pow(j));
          out[base + j * stride[axis]] = out[base + j * stride[axis]].add(term);
        }
      }
      System.arraycopy(out, 0, c, 0, c.length);
    }

    /**
     * Power coefficients a_j on [0, 1] to Bernstein coefficients times d! along one axis:
     * b_k d! = sum_{j <= k} C(k, j) j! (d - j)! a_j (as b_k = sum_j C(k, j)/C(d, j) a_j).
     */
    void toBernstein(int axis) {
      int d = degree[axis];
      BigDecimal[] out = new BigDecimal[c.length];
      java.util.Arrays.fill(out, BigDecimal.ZERO);
      for (int f = 0; f < c.length; f++) {
        if (c[f].signum() == 0) continue;
        int j = exponent(f, axis), base = f - j * stride[axis];
        BigInteger w = factorial(j).multiply(factorial(d - j));
        for (int k = j; k <= d; k++)
          out[base + k * stride[axis]] = out[base + k * stride[axis]].add(c[f].multiply(new BigDecimal(binomial(k, j).multiply(w))));
      }
      System.arraycopy(out, 0, c, 0, c.length);
    }

    boolean allNonNegative() {
      for (BigDecimal x : c) if (x.signum() < 0) return false;
      return true;
    }

    /** The Bernstein coefficients at the corners are the values there (times a positive constant). */
    boolean cornersNonNegative() {
      for (int f = 0; f < c.length; f++) {
        boolean corner = true;
        for (int i = 0; i < degree.length && corner; i++) {
          int k = exponent(f, i);
          corner = k == 0 || k == degree[i];
        }
        if (corner && c[f].signum() < 0) return false;
      }
      return true;
    }
  }

  private static BigInteger binomial(int n, int k) {
    return factorial(n).divide(factorial(k).multiply(factorial(n - k)));
  }

  private static BigInteger factorial(int n) {
    BigInteger r = BigInteger.ONE;
    for (int i = 2; i <= n; i++) r = r.multiply(BigInteger.valueOf(i));
    return r;
  }
}
