package org.hbp.derive;

import java.math.BigDecimal;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.hbp.calculus.Expr;

/**
 * An entrywise expression as a polynomial with exact coefficients in its atoms: the
 * subexpressions that are not sums, products, numeric multiples or whole powers (e.g.
 * {@code sigmoid(x)}, {@code y}, {@code step(1 - abs(x - y))}). Derivatives of elementwise
 * functions are written out through their formulas first, so {@code sigmoid'(x)} becomes
 * {@code s - s^2} with the atom s = sigmoid(x). Collecting like terms shows what a tree of
 * products hides: the binary cross-entropy Hessian's four diagonal terms in s and y collect to
 * {@code s - s^2}, in which y cancels.
 */
final class Polynomial {
  /** A monomial: atom to exponent (>= 1), immutable. */
  private final Map<Map<Expr, Integer>, BigDecimal> terms;

  static final int MAX_TERMS = 400;
  private static final int MAX_EXPONENT = 16;
  private static final int MAX_FORMULA_DEPTH = 4;

  private Polynomial(Map<Map<Expr, Integer>, BigDecimal> terms) {
    this.terms = terms;
  }

  /** The terms: monomial (atom to exponent) to coefficient, no zero coefficients. */
  Map<Map<Expr, Integer>, BigDecimal> terms() {
    return terms;
  }

  /** The polynomial of an entrywise expression, or null when it has more than {@link #MAX_TERMS} terms. */
  static Polynomial of(Expr e) {
    try {
      return convert(e, 0);
    } catch (TooLarge t) {
      return null;
    }
  }

  private static final class TooLarge extends RuntimeException {
    TooLarge() {
      super(null, null, false, false);
    }
  }

  private static Polynomial constant(BigDecimal c) {
    Map<Map<Expr, Integer>, BigDecimal> t = new HashMap<>();
    if (c.signum() != 0) t.put(Map.of(), c);
    return new Polynomial(t);
  }

  private static Polynomial atom(Expr e) {
    Map<Map<Expr, Integer>, BigDecimal> t = new HashMap<>();
    t.put(Map.of(e, 1), BigDecimal.ONE);
    return new Polynomial(t);
  }

  private static Polynomial convert(Expr e, int depth) {
    if (e instanceof Expr.Num n) return constant(new BigDecimal(n.value()));
    if (e instanceof Expr.Zero) return constant(BigDecimal.ZERO);
    if (e instanceof Expr.Ones) return constant(BigDecimal.ONE);
    if (e instanceof Expr.DimValue d && d.dim().isConstant()) return constant(BigDecimal.valueOf(d.dim().constant()));
    if (e instanceof Expr.Add a) {
      Polynomial r = constant(BigDecimal.ZERO);
      for (Expr t : a.terms()) r = r.plus(convert(t, depth));
      return r;
    }
    if (e instanceof Expr.Scale s) return convert(s.operand(), depth).times(constant(new BigDecimal(s.coefficient())));
    if (e instanceof Expr.ScalarMul m) return convert(m.scalar(), depth).times(convert(m.operand(), depth));
    if (e instanceof Expr.Hadamard h) return product(h.factors(), depth);
    if (e instanceof Expr.MatMul m && m.factors().stream().allMatch(f -> f.shape().isScalar())) return product(m.factors(), depth);
    if (e instanceof Expr.Transpose t && t.operand().shape().isScalar()) return convert(t.operand(), depth);
    if (e instanceof Expr.Power p && p.exponent() == Math.rint(p.exponent()) && p.exponent() >= 0 && p.exponent() <= MAX_EXPONENT) {
      Polynomial base = convert(p.base(), depth), r = constant(BigDecimal.ONE);
      for (int i = 0; i < (int) p.exponent(); i++) r = r.times(base);
      return r;
    }
    if (e instanceof Expr.Apply a && a.order() > 0 && depth < MAX_FORMULA_DEPTH) {
      Expr closed;
      try {
        closed = a.function().derivativeOf(a.order(), a.argument());
      } catch (RuntimeException ex) {
        return atom(e); // no formula: the derivative stays an atom
      }
      return convert(closed, depth + 1);
    }
    return atom(e);
  }

  private static Polynomial product(List<Expr> factors, int depth) {
    Polynomial r = constant(BigDecimal.ONE);
    for (Expr f : factors) r = r.times(convert(f, depth));
    return r;
  }

  Polynomial plus(Polynomial o) {
    Map<Map<Expr, Integer>, BigDecimal> t = new HashMap<>(terms);
    o.terms.forEach((m, c) -> t.merge(m, c, BigDecimal::add));
    t.values().removeIf(c -> c.signum() == 0);
    if (t.size() > MAX_TERMS) throw new TooLarge();
    return new Polynomial(t);
  }

  Polynomial times(Polynomial o) {
    if ((long) terms.size() * o.terms.size() > 50L * MAX_TERMS) throw new TooLarge();
    Map<Map<Expr, Integer>, BigDecimal> t = new HashMap<>();
    for (var a : terms.entrySet())
      for (var b : o.terms.entrySet()) t.merge(multiply(a.getKey(), b.getKey()), a.getValue().multiply(b.getValue()), BigDecimal::add);
    t.values().removeIf(c -> c.signum() == 0);
    if (t.size() > MAX_TERMS) throw new TooLarge();
    return new Polynomial(t);
  }

  private static Map<Expr, Integer> multiply(Map<Expr, Integer> a, Map<Expr, Integer> b) {
    Map<Expr, Integer> m = new LinkedHashMap<>(a);
    b.forEach((x, k) -> m.merge(x, k, Integer::sum));
    return Map.copyOf(m);
  }
}
