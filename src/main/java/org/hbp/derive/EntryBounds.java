package org.hbp.derive;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.hbp.calculus.Dim;
import org.hbp.calculus.ElementwiseFunction;
import org.hbp.calculus.Expr;

/**
 * Sound bounds on every entry of an expression, by interval arithmetic over its tree: variables are
 * unbounded (the prover assumes nothing about targets or inputs), {@code sigmoid} lies in [0, 1],
 * {@code tanh} and {@code sign} in [-1, 1], {@code exp}, {@code softplus}, {@code relu},
 * {@code abs} and {@code sqrt} are non-negative, {@code step} in [0, 1], softmax in [0, 1], dims are
 * non-negative. Repeated Hadamard factors are squared ({@code x .* x} is non-negative). Derivatives
 * f'(x), f''(x) are bounded through their formulas (e.g. sigmoid'(t) = sigmoid(t).*(1 - sigmoid(t))
 * in [0, 1]), user-defined functions through their bodies. Anything else is unbounded.
 */
final class EntryBounds {
  private EntryBounds() {}

  /** Bounds on the entries of e. */
  static Interval of(Expr e) {
    return of(e, Map.of(), 0);
  }

  private static final int MAX_DEPTH = 8; // nesting of derivative formulas and function bodies

  private static Interval of(Expr e, Map<Expr.Var, Interval> env, int depth) {
    if (e instanceof Expr.Num n) return Interval.point(n.value());
    if (e instanceof Expr.Zero) return Interval.point(0);
    if (e instanceof Expr.Ones) return Interval.point(1);
    if (e instanceof Expr.Var v) return env.getOrDefault(v, Interval.ALL);
    if (e instanceof Expr.DimValue d) return dim(d.dim());
    if (e instanceof Expr.Eye || e instanceof Expr.Commutation || e instanceof Expr.Diagonalizer || e instanceof Expr.Selection
        || e instanceof Expr.Unfolding) return Interval.UNIT; // 0/1 matrices
    if (e instanceof Expr.Add a) {
      Interval r = Interval.point(0);
      for (Expr t : a.terms()) r = r.plus(of(t, env, depth));
      return r;
    }
    if (e instanceof Expr.Scale s) return of(s.operand(), env, depth).times(s.coefficient());
    if (e instanceof Expr.ScalarMul m) return of(m.scalar(), env, depth).times(of(m.operand(), env, depth));
    if (e instanceof Expr.Hadamard h) return product(h.factors(), env, depth);
    if (e instanceof Expr.MatMul m) return e.shape().isScalar() && m.factors().stream().allMatch(f -> f.shape().isScalar())
        ? product(m.factors(), env, depth) : sumOfProducts(m.factors(), env, depth);
    if (e instanceof Expr.Power p) return of(p.base(), env, depth).power(p.exponent());
    if (e instanceof Expr.Kron k) return of(k.left(), env, depth).times(of(k.right(), env, depth));
    if (e instanceof Expr.Transpose t) return of(t.operand(), env, depth);
    if (e instanceof Expr.Vec v) return of(v.operand(), env, depth);
    if (e instanceof Expr.Reshape r) return of(r.operand(), env, depth);
    if (e instanceof Expr.DiagMat d) return of(d.vector(), env, depth).hull(Interval.point(0));
    if (e instanceof Expr.DiagVec d) return of(d.matrix(), env, depth);
    if (e instanceof Expr.Gather g) return of(g.source(), env, depth).hull(Interval.point(0));
    if (e instanceof Expr.Unfold u) return of(u.tensor(), env, depth).hull(Interval.point(0));
    if (e instanceof Expr.Sum s) return signOnly(of(s.operand(), env, depth));
    if (e instanceof Expr.Trace t) return signOnly(of(t.matrix(), env, depth));
    if (e instanceof Expr.Softmax) return Interval.UNIT;
    if (e instanceof Expr.Apply a) return apply(a, of(a.argument(), env, depth), depth);
    return Interval.ALL; // inv, det, logsumexp, and forms added later
  }

  /** A sum of entries keeps only the sign of its terms' bounds. */
  private static Interval signOnly(Interval r) {
    if (r.lo() >= 0) return r.hi() == 0 ? Interval.point(0) : Interval.NON_NEGATIVE;
    if (r.hi() <= 0) return Interval.NON_NEGATIVE.negate();
    return Interval.ALL;
  }

  /** Entries of a matrix product are sums of products of entries: non-negative when every factor is. */
  private static Interval sumOfProducts(List<Expr> factors, Map<Expr.Var, Interval> env, int depth) {
    Interval r = Interval.point(1);
    for (Expr f : factors) r = r.times(of(f, env, depth));
    return signOnly(r.lo() >= 0 ? r : Interval.ALL);
  }

  /** A product whose equal factors are grouped into powers, so that x .* x counts as a square. */
  private static Interval product(List<Expr> factors, Map<Expr.Var, Interval> env, int depth) {
    Map<Expr, Integer> multiplicity = new LinkedHashMap<>();
    for (Expr f : factors) multiplicity.merge(f, 1, Integer::sum);
    Interval r = Interval.point(1);
    for (var m : multiplicity.entrySet()) r = r.times(of(m.getKey(), env, depth).power(m.getValue()));
    return r;
  }

  private static Interval dim(Dim d) {
    if (d.isConstant()) return Interval.point(d.constant());
    // a positive multiple of a product of symbols (sizes, never negative); not a floor quotient
    if (d.isMonomial() && d.symbolMonomials().equals(java.util.Set.of(d))) return Interval.NON_NEGATIVE;
    return Interval.ALL;
  }

  private static Interval apply(Expr.Apply a, Interval arg, int depth) {
    ElementwiseFunction f = a.function();
    if (depth >= MAX_DEPTH) return Interval.ALL;
    try {
      if (a.order() > 0) return of(f.derivativeFormula(a.order()), Map.of(ElementwiseFunction.T, arg), depth + 1);
      if (!f.isBuiltin()) return of(f.body(), Map.of(ElementwiseFunction.T, arg), depth + 1);
    } catch (RuntimeException e) {
      return Interval.ALL; // a formula the engine cannot give: no bound
    }
    return switch (f.name()) {
      case "sigmoid" -> Interval.UNIT;
      case "tanh", "sign" -> Interval.SIGNED_UNIT;
      case "step" -> Interval.UNIT;
      case "exp", "softplus", "sqrt" -> Interval.NON_NEGATIVE;
      case "relu" -> new Interval(Math.max(0, arg.lo()), Math.max(0, arg.hi()));
      case "abs" -> new Interval(arg.lo() >= 0 ? arg.lo() : arg.hi() <= 0 ? -arg.hi() : 0, Math.max(Math.abs(arg.lo()), Math.abs(arg.hi())));
      default -> Interval.ALL;
    };
  }
}
