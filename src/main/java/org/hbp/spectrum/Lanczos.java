package org.hbp.spectrum;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.IntConsumer;
import org.ejml.data.DMatrixRMaj;

/**
 * The largest eigenvalues (algebraically: for an indefinite Hessian, the most positive) and their
 * eigenvectors of a symmetric operator by Lanczos with full reorthogonalisation.
 *
 * <p>From a Gaussian start {@code q_1} (seeded), step j computes {@code w = A q_j},
 * {@code α_j = q_j'w}, {@code w -= α_j q_j + β_{j-1} q_{j-1}}, then removes from {@code w} its
 * components along all of {@code q_1..q_j} (twice), {@code β_j = |w|}, {@code q_{j+1} = w/β_j}. The
 * eigenpairs {@code (θ_i, s_i)} of the tridiagonal {@code T_j} (EJML) give the Ritz values
 * {@code θ_i} and Ritz vectors {@code y_i = Q_j s_i}, with residual {@code |A y_i - θ_i y_i| =
 * β_j |s_i[j]|}. It stops when the k largest have residual at most {@code tolerance · max|θ|}, when
 * the iterations run out ({@code converged} false), or when the space is exhausted (n steps).
 * When {@code β_j} vanishes (a breakdown: {@code β_j <= 1e-10 · max|θ|}, the Krylov space is
 * invariant; a few distinct eigenvalues, a repeated one, a low-rank block), it continues from a new
 * random vector orthogonal to {@code Q_j} with {@code β_j = 0}, so that repeated eigenvalues appear as
 * often as they occur. A random start has a component along every eigenvector (with probability
 * one), so each such segment finds every distinct eigenvalue of the operator on the space left
 * orthogonal to the earlier ones; a segment that breaks down after its first step therefore shows
 * that the operator is {@code μ I} there ({@code μ = α_j}, e.g. the zeros of a low-rank block, to
 * within the breakdown threshold). It then stops: the eigenvalues are the Ritz values of {@code T_j}
 * and {@code μ} repeated {@code n - j} times, the eigenvectors of the copies of {@code μ} are unit
 * vectors orthogonal to {@code Q_j} and to each other, and their residual is reported as the
 * segment's {@code β_j}. So a block of rank r takes r + 2 or r + 3 products (rounding may add one), not n.
 */
public final class Lanczos {
  private Lanczos() {}

  /**
   * @param maxIterations most products (at least k)
   * @param tolerance residual norm relative to the largest Ritz value's magnitude
   * @param seed of the start vector (and of restarts)
   */
  public record Settings(int maxIterations, double tolerance, long seed) {
    public Settings {
      if (maxIterations < 1) throw new IllegalArgumentException("maxIterations must be positive");
      if (!(tolerance > 0)) throw new IllegalArgumentException("tolerance must be positive");
    }
  }

  /**
   * The k largest Ritz pairs, values in descending order, vectors as the columns of an
   * {@code n x k} matrix (unit norm, sign arbitrary), with their residual norms.
   */
  public record Result(double[] values, DMatrixRMaj vectors, double[] residuals, int iterations, boolean converged) {}

  /** Relative size of {@code β} below which the Krylov space counts as invariant. */
  static final double BREAKDOWN = 1e-10;

  public static Result top(SymmetricOperator op, int k, Settings settings) {
    return top(op, k, settings, i -> {});
  }

  /** Like {@link #top(SymmetricOperator, int, Settings)}; {@code progress} hears the number of products done after each. */
  public static Result top(SymmetricOperator op, int k, Settings settings, IntConsumer progress) {
    int n = op.dimension();
    if (k < 1 || k > n) throw new IllegalArgumentException("k = " + k + " eigenvalues of an operator of dimension " + n);
    if (settings.maxIterations() < k) throw new IllegalArgumentException("maxIterations " + settings.maxIterations() + " < k = " + k);
    int m = Math.min(n, settings.maxIterations());
    Random rng = new Random(settings.seed());
    List<double[]> q = new ArrayList<>();
    double[] alpha = new double[m], beta = new double[m];
    double[] next = Vectors.gaussian(rng, n);
    Vectors.scale(1 / Vectors.norm(next), next);
    double scale = 0;
    Tridiagonal t = null;
    boolean converged = false;
    int steps = 0, segmentStart = 0;
    double rest = Double.NaN; // μ of the operator on the space orthogonal to Q, once a one-step segment showed it
    for (int j = 0; j < m; j++) {
      double[] qj = next;
      q.add(qj);
      double[] w = Vectors.apply(op, qj);
      alpha[j] = Vectors.dot(qj, w);
      Vectors.axpy(-alpha[j], qj, w);
      if (j > 0) Vectors.axpy(-beta[j - 1], q.get(j - 1), w);
      Vectors.orthogonalise(w, q);
      double b = Vectors.norm(w);
      steps = j + 1;
      progress.accept(steps);
      t = Tridiagonal.decompose(alpha, beta, steps);
      scale = Math.max(scale, Math.max(Math.abs(t.values()[0]), Math.abs(t.values()[steps - 1])));
      boolean breakdown = b <= BREAKDOWN * Math.max(scale, Double.MIN_NORMAL);
      if (steps == n) {
        converged = true;
        break;
      }
      if (!breakdown && steps >= k && residualsWithin(t, b, k, settings.tolerance() * scale)) {
        converged = true;
        beta[j] = b;
        break;
      }
      if (breakdown && j == segmentStart) {
        beta[j] = b;
        rest = alpha[j];
        converged = true;
        break;
      }
      if (breakdown) {
        beta[j] = 0;
        segmentStart = j + 1;
        next = restart(rng, n, q);
        if (next == null) {
          converged = true;
          break;
        }
      } else {
        beta[j] = b;
        Vectors.scale(1 / b, w);
        next = w;
      }
    }
    double bLast = converged && steps == n ? 0 : beta[steps - 1];
    if (!Double.isNaN(rest)) return withRest(t, q, bLast, rest, k, steps, rng);
    if (steps == m && !converged) converged = residualsWithin(t, bLast, Math.min(k, steps), settings.tolerance() * scale) && steps >= k;
    return result(t, q, bLast, Math.min(k, steps), steps, converged);
  }

  /**
   * The k largest of the Ritz values of {@code t} (residuals {@code β |s_i[last]|}) and {@code μ = rest}
   * repeated {@code n - steps} times (the operator on the space orthogonal to {@code q}, whose
   * vectors are drawn at random, orthogonal to {@code q} and to each other; residual {@code β}).
   */
  private static Result withRest(Tridiagonal t, List<double[]> q, double beta, double rest, int k, int steps, Random rng) {
    int n = q.get(0).length, last = steps - 1;
    DMatrixRMaj y = new DMatrixRMaj(n, k);
    double[] values = new double[k], residuals = new double[k];
    List<double[]> basis = new ArrayList<>(q);
    int ritz = 0;
    for (int i = 0; i < k; i++) {
      if (ritz < steps && (t.values()[ritz] >= rest || basis.size() == n)) {
        values[i] = t.values()[ritz];
        residuals[i] = Math.abs(beta * t.vectors().get(last, ritz));
        addRitzVector(t, q, ritz, steps, y, i);
        ritz++;
      } else {
        double[] v = restart(rng, n, basis);
        if (v == null) throw new IllegalStateException("no vector left orthogonal to " + basis.size() + " of dimension " + n);
        basis.add(v);
        values[i] = rest;
        residuals[i] = Math.abs(beta);
        for (int r = 0; r < n; r++) y.data[r * k + i] = v[r];
      }
    }
    return new Result(values, y, residuals, steps, true);
  }

  /** Whether the k largest Ritz pairs of {@code t} have residual {@code β |s_i[last]|} at most {@code bound}. */
  private static boolean residualsWithin(Tridiagonal t, double beta, int k, double bound) {
    int last = t.vectors().numRows - 1;
    for (int i = 0; i < k; i++) {
      if (Math.abs(beta * t.vectors().get(last, i)) > bound) return false;
    }
    return true;
  }

  /** A random unit vector orthogonal to {@code basis}, or null when the basis spans everything. */
  private static double[] restart(Random rng, int n, List<double[]> basis) {
    for (int attempt = 0; attempt < 3; attempt++) {
      double[] v = Vectors.gaussian(rng, n);
      double before = Vectors.norm(v);
      Vectors.orthogonalise(v, basis);
      double after = Vectors.norm(v);
      if (after > 1e-8 * before) {
        Vectors.scale(1 / after, v);
        return v;
      }
    }
    return null;
  }

  private static Result result(Tridiagonal t, List<double[]> q, double beta, int k, int steps, boolean converged) {
    int n = q.get(0).length, last = steps - 1;
    DMatrixRMaj y = new DMatrixRMaj(n, k);
    double[] values = new double[k], residuals = new double[k];
    for (int i = 0; i < k; i++) {
      values[i] = t.values()[i];
      residuals[i] = Math.abs(beta * t.vectors().get(last, i));
      addRitzVector(t, q, i, steps, y, i);
    }
    return new Result(values, y, residuals, steps, converged);
  }

  /** Adds Ritz vector {@code ritz} of {@code t} in the basis {@code q} (its first {@code steps} vectors) to column {@code column} of {@code y}. */
  private static void addRitzVector(Tridiagonal t, List<double[]> q, int ritz, int steps, DMatrixRMaj y, int column) {
    int n = y.numRows, k = y.numCols;
    for (int j = 0; j < steps; j++) {
      double s = t.vectors().get(j, ritz);
      double[] qj = q.get(j);
      for (int r = 0; r < n; r++) y.data[r * k + column] += s * qj[r];
    }
  }
}
