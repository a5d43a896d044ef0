package org.hbp.network;

import java.util.function.UnaryOperator;
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
      if (!(tol >= 0) || !(atol >= 0)) throw new IllegalArgumentException("CG tolerances must be >= 0, not tol=" + tol + ", atol=" + atol);
      if (maxIterations < 1) throw new IllegalArgumentException("CG needs at least one iteration, not " + maxIterations);
    }

    /** The paper's FC experiment (REFERENCE.md §6): tol 0.1, atol 0, at most 50 iterations. */
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
    if (!(alpha >= 0 && alpha <= 1)) throw new IllegalArgumentException("damping alpha must be in [0, 1], not " + alpha);
    UnaryOperator<Batch> a = v -> be.add(be.scale(v, alpha), be.scale(c.apply(v), 1 - alpha));
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
        break;
      }
      double step = rr / pap;
      x = be.add(x, be.scale(p, step));
      r = be.subtract(r, be.scale(ap, step));
      k++;
      double rrNew = dot(be, r, r);
      if (Math.sqrt(rrNew) <= stop) return new Result(x, k, Math.sqrt(rrNew), bNorm, true);
      p = be.add(r, be.scale(p, rrNew / rr));
      rr = rrNew;
    }
    return new Result(x, k, Math.sqrt(rr), bNorm, Math.sqrt(rr) <= stop);
  }

  static double dot(Backend be, Batch a, Batch b) {
    double[] s = be.toArray(be.sum(be.multiply(a, b)));
    double t = 0;
    for (double v : s) t += v;
    return t;
  }
}
