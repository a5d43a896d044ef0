package org.hbp.network;

import java.util.function.UnaryOperator;
import org.hbp.UserError;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;

/**
 * The damped per-block Newton step of paper eq. 10, {@code [alpha I + (1 - alpha) C] d = -g}, by
 * conjugate gradients: start at d = 0, stop when {@code ||r|| <= max(tol ||b||, atol)} or after
 * {@code maxIterations}. C is given as a product (a curvature block, PSD for GGN and PCH).
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

  /** The solution and how CG got there. */
  public record Result(Batch solution, int iterations, double residualNorm, double rhsNorm, boolean converged) {}

  private ConjugateGradient() {}

  /**
   * Solves {@code [alpha I + (1 - alpha) C] d = b}.
   *
   * @param c the block as a product (directions and results in the parameter's shape, one item)
   * @param alpha damping in [0, 1]
   */
  public static Result solve(Backend be, UnaryOperator<Batch> c, double alpha, Batch b, Settings s) {
    if (!(alpha >= 0 && alpha <= 1)) throw new UserError("damping alpha must be in [0, 1], not " + alpha);
    // every intermediate is released as soon as it is dead (BLAS backends reuse the memory at once);
    // b is the caller's and never released, nor is anything that shares its storage
    java.util.function.Consumer<Batch> drop = t -> {
      if (t != null && !be.sharesStorage(t, b)) be.release(t);
    };
    UnaryOperator<Batch> a = v -> {
      Batch cv = c.apply(v);
      Batch sv = be.scale(v, alpha), scv = be.scale(cv, 1 - alpha);
      Batch av = be.add(sv, scv);
      be.release(sv);
      be.release(scv);
      if (!be.sharesStorage(cv, v)) drop.accept(cv);
      return av;
    };
    Batch x = be.scale(b, 0);
    Batch r = b;
    double bNorm = Math.sqrt(dot(be, b, b));
    double rr = bNorm * bNorm;
    double stop = Math.max(s.tol() * bNorm, s.atol());
    if (Math.sqrt(rr) <= stop) return new Result(x, 0, Math.sqrt(rr), bNorm, true);
    Batch p = r;
    int k = 0;
    while (k < s.maxIterations()) {
      Batch ap = a.apply(p);
      double pap = dot(be, p, ap);
      if (!(pap > 0)) {
        // a non-positive curvature direction (possible for the exact Hessian): stop with what we have
        drop.accept(ap);
        break;
      }
      double step = rr / pap;
      Batch dx = be.scale(p, step), dr = be.scale(ap, step);
      Batch xNew = be.add(x, dx), rNew = be.subtract(r, dr);
      for (Batch t : new Batch[] {dx, dr, ap, x}) drop.accept(t);
      if (r != p) drop.accept(r);
      x = xNew;
      r = rNew;
      k++;
      double rrNew = dot(be, r, r);
      if (Math.sqrt(rrNew) <= stop) {
        drop.accept(p);
        drop.accept(r);
        return new Result(x, k, Math.sqrt(rrNew), bNorm, true);
      }
      Batch sp = be.scale(p, rrNew / rr);
      Batch pNew = be.add(r, sp);
      drop.accept(sp);
      drop.accept(p);
      p = pNew;
      rr = rrNew;
    }
    if (p != r) drop.accept(p);
    double residual = Math.sqrt(rr);
    drop.accept(r);
    return new Result(x, k, residual, bNorm, residual <= stop);
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
