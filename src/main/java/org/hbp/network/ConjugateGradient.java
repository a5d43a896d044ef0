package org.hbp.network;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.hbp.UserError;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;

/**
 * The damped per-block Newton step of paper eq. 10, {@code [alpha I + (1 - alpha) C] d = -g}, by
 * conjugate gradients: start at d = 0, stop when {@code ||r|| <= max(tol ||b||, atol)} or after
 * {@code maxIterations}. C is given as a product (a curvature block, PSD for GGN and PCH): of one
 * parameter's block ({@link #solve}), or of a block over several parameters, a layer's joint block
 * ({@link #solveJoint}), by the same iteration on the stacked vector.
 *
 * <p>CG's premise is a positive definite matrix. The damped exact Hessian (or any indefinite C with
 * small damping) need not be one: when a search direction p has {@code p'Ap <= }{@link
 * #NEGLIGIBLE_CURVATURE}{@code  |p| |Ap|} (negative, zero, or below rounding), CG stops there and
 * reports it ({@link NegativeCurvature}), as truncated Newton-CG does (Nocedal &amp; Wright,
 * <i>Numerical Optimization</i>, Alg. 7.1; Martens 2010): the solution is the last iterate before
 * that direction, or, when it is met at the first iteration, the right-hand side b itself (for
 * {@code b = -g} the steepest-descent direction), never a zero step.
 */
public final class ConjugateGradient {
  /** Stopping rule. */
  public record Settings(double tol, double atol, int maxIterations) {
    public Settings {
      if (!(tol >= 0) || !(atol >= 0)) throw new UserError("CG tolerances must be >= 0, not tol=" + tol + ", atol=" + atol);
      if (maxIterations < 1) throw new UserError("CG needs at least one iteration, not " + maxIterations);
    }

    /** The paper's FC experiment (its code's settings, docs/experiments.md): tol 0.1, atol 0, at most 50 iterations. */
    public static Settings defaults() {
      return new Settings(1e-1, 0, 50);
    }
  }

  /**
   * A direction p of non-positive (or negligible) curvature that stopped CG.
   *
   * @param iteration the iteration that met it, from 1 (the iterations completed before it are one fewer)
   * @param pAp {@code p'Ap} of the damped block A
   * @param rayleigh {@code p'Ap / |p|^2}, the damped block's curvature along p (an upper bound on its smallest eigenvalue)
   * @param steepestDescent whether it was met at the first iteration, so the solution is the right-hand side b
   */
  public record NegativeCurvature(int iteration, double pAp, double rayleigh, boolean steepestDescent) {
    /**
     * The sentence for a per-block output line: where CG stopped, why its premise fails, which step
     * was returned and what to do.
     */
    public String describe() {
      return String.format(java.util.Locale.ROOT,
          "negative curvature at iteration %d (p'Ap = %.3g, p'Ap/|p|^2 = %.3g): the damped block is not positive definite, "
              + "so CG's premise fails; %s; use a larger damping alpha, or --curvature ggn or a PCH curvature (pch-abs, pch-clip), which are PSD",
          iteration, pAp, rayleigh,
          steepestDescent ? "the step is the right-hand side -g (steepest descent), as truncated Newton-CG returns"
              : "the step is CG's iterate " + (iteration - 1) + ", the last before that direction (truncated CG)");
    }
  }

  /**
   * The solution and how CG got there; {@code negativeCurvature} is null unless CG stopped at a
   * direction of non-positive curvature (then {@code converged} is false).
   */
  public record Result(Batch solution, int iterations, double residualNorm, double rhsNorm, boolean converged, NegativeCurvature negativeCurvature) {}

  /**
   * The solution over several parameters at once (a layer's joint block): one direction per
   * parameter, keyed by its name, in the order of the right-hand side; how CG got there, as {@link Result}.
   */
  public record JointResult(Map<String, Batch> solution, int iterations, double residualNorm, double rhsNorm, boolean converged,
      NegativeCurvature negativeCurvature) {}

  /**
   * The curvature below which a direction stops CG, relative to {@code |p| |Ap|}: {@code p'Ap <= 1e-8 |p| |Ap|}.
   * For a positive definite A the ratio {@code p'Ap / (|p| |Ap|)} is at least {@code 2 sqrt(k) / (k + 1)}
   * with k its condition number, so only a block with {@code k > 4e16}, singular in float64, is
   * taken for indefinite; every negative or zero {@code p'Ap} is caught.
   */
  public static final double NEGLIGIBLE_CURVATURE = 1e-8;

  private ConjugateGradient() {}

  /**
   * Solves {@code [alpha I + (1 - alpha) C] d = b}.
   *
   * @param c the block as a product (directions and results in the parameter's shape, one item)
   * @param alpha damping in [0, 1]
   * @param b the right-hand side; not modified, never released
   * @return d (new), the iterations, the final residual norm and {@code ||b||}
   */
  public static Result solve(Backend be, UnaryOperator<Batch> c, double alpha, Batch b, Settings s) {
    Outcome<Batch> o = run(new BatchSpace(be), c, alpha, b, s);
    return new Result(o.x, o.iterations, o.residualNorm, o.rhsNorm, o.converged, o.negative);
  }

  /**
   * Solves {@code [alpha I + (1 - alpha) C] d = b} for a block over several parameters (a layer's
   * joint block, {@link Curvature#layerMatProd}): the vectors are one direction per parameter, their
   * inner product the sum over the parameters, so this is the CG of {@link #solve} on the stacked
   * vector {@code [d_1; ...; d_k]}.
   *
   * @param c the block as a product: directions for every key of {@code b} (one item each, in its
   *     parameter's shape) to results for every key
   * @param alpha damping in [0, 1]
   * @param b the right-hand side, one direction per parameter; not modified, never released
   * @return d (new, keyed and ordered as {@code b}), the iterations, the final residual norm and {@code ||b||}
   */
  public static JointResult solveJoint(Backend be, UnaryOperator<Map<String, Batch>> c, double alpha, Map<String, Batch> b, Settings s) {
    if (b.isEmpty()) throw new UserError("CG over several parameters needs a right-hand side for at least one");
    Outcome<Map<String, Batch>> o = run(new JointSpace(be, List.copyOf(b.keySet())), c, alpha, b, s);
    return new JointResult(o.x, o.iterations, o.residualNorm, o.rhsNorm, o.converged, o.negative);
  }

  private record Outcome<V>(V x, int iterations, double residualNorm, double rhsNorm, boolean converged, NegativeCurvature negative) {}

  /** The vector operations of CG on one kind of vector; each result is new. */
  private interface Space<V> {
    V scale(V v, double factor);

    V add(V a, V b);

    V subtract(V a, V b);

    double dot(V a, V b);

    /** Releases the storage of {@code t} that none of {@code keep} shares ({@code t} may be null). */
    void release(V t, List<V> keep);
  }

  /** One parameter's directions. */
  private record BatchSpace(Backend be) implements Space<Batch> {
    @Override
    public Batch scale(Batch v, double factor) {
      return be.scale(v, factor);
    }

    @Override
    public Batch add(Batch a, Batch b) {
      return be.add(a, b);
    }

    @Override
    public Batch subtract(Batch a, Batch b) {
      return be.subtract(a, b);
    }

    @Override
    public double dot(Batch a, Batch b) {
      return ConjugateGradient.dot(be, a, b);
    }

    @Override
    public void release(Batch t, List<Batch> keep) {
      if (t == null) return;
      for (Batch k : keep) if (be.sharesStorage(t, k)) return;
      be.release(t);
    }
  }

  /** Directions of several parameters, keyed by name, the keys of the right-hand side in its order. */
  private record JointSpace(Backend be, List<String> keys) implements Space<Map<String, Batch>> {
    private Map<String, Batch> each(Map<String, Batch> a, Map<String, Batch> b, java.util.function.BinaryOperator<Batch> op) {
      Map<String, Batch> out = new LinkedHashMap<>();
      for (String k : keys) {
        Batch x = a.get(k), y = b.get(k);
        if (x == null || y == null) throw new IllegalStateException("no direction for '" + k + "' in a product of the joint block");
        out.put(k, op.apply(x, y));
      }
      return out;
    }

    @Override
    public Map<String, Batch> scale(Map<String, Batch> v, double factor) {
      return each(v, v, (x, y) -> be.scale(x, factor));
    }

    @Override
    public Map<String, Batch> add(Map<String, Batch> a, Map<String, Batch> b) {
      return each(a, b, be::add);
    }

    @Override
    public Map<String, Batch> subtract(Map<String, Batch> a, Map<String, Batch> b) {
      return each(a, b, be::subtract);
    }

    @Override
    public double dot(Map<String, Batch> a, Map<String, Batch> b) {
      double t = 0;
      for (String k : keys) t += ConjugateGradient.dot(be, a.get(k), b.get(k));
      return t;
    }

    @Override
    public void release(Map<String, Batch> t, List<Map<String, Batch>> keep) {
      if (t == null) return;
      for (Batch part : t.values()) {
        boolean shared = false;
        for (Map<String, Batch> k : keep) for (Batch kept : k.values()) shared |= be.sharesStorage(part, kept);
        if (!shared) be.release(part);
      }
    }
  }

  /** CG on {@code space}'s vectors; see {@link #solve}. */
  private static <V> Outcome<V> run(Space<V> space, UnaryOperator<V> c, double alpha, V b, Settings s) {
    if (!(alpha >= 0 && alpha <= 1)) throw new UserError("damping alpha must be in [0, 1], not " + alpha);
    // every intermediate is released as soon as it is dead (BLAS backends reuse the memory at once);
    // b is the caller's and never released, nor is anything that shares its storage
    List<V> caller = List.of(b);
    java.util.function.Consumer<V> drop = t -> space.release(t, caller);
    UnaryOperator<V> a = v -> {
      V cv = c.apply(v);
      V sv = space.scale(v, alpha), scv = space.scale(cv, 1 - alpha);
      V av = space.add(sv, scv);
      space.release(sv, List.of());
      space.release(scv, List.of());
      space.release(cv, List.of(v, b));
      return av;
    };
    V x = space.scale(b, 0);
    V r = b;
    double bNorm = Math.sqrt(space.dot(b, b));
    double rr = bNorm * bNorm;
    double stop = Math.max(s.tol() * bNorm, s.atol());
    if (Math.sqrt(rr) <= stop) return new Outcome<>(x, 0, Math.sqrt(rr), bNorm, true, null);
    V p = r;
    int k = 0;
    while (k < s.maxIterations()) {
      V ap = a.apply(p);
      double pap = space.dot(p, ap);
      double pp = space.dot(p, p), apap = space.dot(ap, ap);
      if (!(pap > NEGLIGIBLE_CURVATURE * Math.sqrt(pp * apap))) {
        // a direction of non-positive curvature (the exact Hessian, little damping): CG's premise
        // fails; stop at the last iterate, or at b itself when no iteration was completed
        drop.accept(ap);
        NegativeCurvature nc = new NegativeCurvature(k + 1, pap, pap / pp, k == 0);
        if (p != r) drop.accept(p);
        double residual = Math.sqrt(rr);
        if (k == 0) {
          // x = b = p: its residual |b - Ab|^2 = |b|^2 - 2 b'Ab + |Ab|^2
          residual = Math.sqrt(Math.max(0, rr - 2 * pap + apap));
          drop.accept(x);
          x = space.scale(b, 1);
        } else drop.accept(r);
        return new Outcome<>(x, k, residual, bNorm, false, nc);
      }
      double step = rr / pap;
      V dx = space.scale(p, step), dr = space.scale(ap, step);
      V xNew = space.add(x, dx), rNew = space.subtract(r, dr);
      for (V t : List.of(dx, dr, ap, x)) drop.accept(t);
      if (r != p) drop.accept(r);
      x = xNew;
      r = rNew;
      k++;
      double rrNew = space.dot(r, r);
      if (Math.sqrt(rrNew) <= stop) {
        drop.accept(p);
        drop.accept(r);
        return new Outcome<>(x, k, Math.sqrt(rrNew), bNorm, true, null);
      }
      V sp = space.scale(p, rrNew / rr);
      V pNew = space.add(r, sp);
      drop.accept(sp);
      drop.accept(p);
      p = pNew;
      rr = rrNew;
    }
    if (p != r) drop.accept(p);
    double residual = Math.sqrt(rr);
    drop.accept(r);
    return new Outcome<>(x, k, residual, bNorm, residual <= stop, null);
  }

  static double dot(Backend be, Batch a, Batch b) {
    Batch ab = be.multiply(a, b), sum = be.sum(ab);
    double[] s = be.toArray(sum);
    be.release(ab);
    be.release(sum);
    double t = 0;
    for (double v : s) t += v;
    return t;
  }
}
