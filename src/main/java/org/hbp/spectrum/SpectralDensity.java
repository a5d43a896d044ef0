package org.hbp.spectrum;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.IntConsumer;
import org.ejml.data.DMatrixRMaj;

/**
 * The spectral density {@code φ(t) = (1/n) Σ_i δ(t - λ_i)} of a symmetric operator by stochastic
 * Lanczos quadrature (Ubaru, Chen &amp; Saad 2017; as PyHessian computes it): from each of several
 * random unit starts {@code v} (Rademacher entries over {@code sqrt(n)}, seeded), m Lanczos steps
 * with full reorthogonalisation give the tridiagonal {@code T = S Θ S'}, and {@code v' f(A) v ≈
 * Σ_j τ_j f(θ_j)} with nodes {@code θ_j} and weights {@code τ_j = S[0,j]²} (summing to 1). The
 * density is the mean over the starts of {@code Σ_j τ_j g_σ(t - θ_j)}, g the Gaussian of width σ,
 * so it integrates to 1 and its mean is the mean of {@code v'Av}, an unbiased estimate of
 * {@code tr(A)/n}. The starts run in lockstep: each step is one product with all unfinished starts
 * as columns.
 */
public final class SpectralDensity {
  private SpectralDensity() {}

  /** The quadrature nodes and weights of each start. */
  public record Quadrature(List<double[]> nodes, List<double[]> weights) {
    public double min() {
      double m = Double.POSITIVE_INFINITY;
      for (double[] t : nodes) for (double x : t) m = Math.min(m, x);
      return m;
    }

    public double max() {
      double m = Double.NEGATIVE_INFINITY;
      for (double[] t : nodes) for (double x : t) m = Math.max(m, x);
      return m;
    }
  }

  /** The density on an evenly spaced grid, with the width σ of its Gaussians. */
  public record Density(double[] grid, double[] density, double sigma) {}

  public static Quadrature quadrature(SymmetricOperator op, int starts, int steps, long seed) {
    return quadrature(op, starts, steps, seed, i -> {});
  }

  /** The nodes and weights of {@code starts} starts of {@code min(steps, n)} steps; {@code progress} hears the steps done. */
  public static Quadrature quadrature(SymmetricOperator op, int starts, int steps, long seed, IntConsumer progress) {
    if (starts < 1 || steps < 1) throw new IllegalArgumentException("starts and steps must be positive");
    int n = op.dimension(), m = Math.min(steps, n);
    Random rng = new Random(seed);
    List<List<double[]>> q = new ArrayList<>();
    double[][] alpha = new double[starts][m], beta = new double[starts][m];
    int[] done = new int[starts];
    List<double[]> current = new ArrayList<>();
    for (int s = 0; s < starts; s++) {
      double[] v = Vectors.rademacher(rng, n);
      Vectors.scale(1 / Math.sqrt(n), v);
      current.add(v);
      q.add(new ArrayList<>());
    }
    List<Integer> active = new ArrayList<>();
    for (int s = 0; s < starts; s++) active.add(s);
    for (int j = 0; j < m && !active.isEmpty(); j++) {
      List<double[]> cols = new ArrayList<>();
      for (int s : active) cols.add(current.get(s));
      DMatrixRMaj w = op.apply(Vectors.columns(cols));
      List<Integer> still = new ArrayList<>();
      for (int c = 0; c < active.size(); c++) {
        int s = active.get(c);
        double[] qj = current.get(s), wj = Vectors.column(w, c);
        List<double[]> basis = q.get(s);
        basis.add(qj);
        alpha[s][j] = Vectors.dot(qj, wj);
        Vectors.axpy(-alpha[s][j], qj, wj);
        if (j > 0) Vectors.axpy(-beta[s][j - 1], basis.get(j - 1), wj);
        Vectors.orthogonalise(wj, basis);
        double b = Vectors.norm(wj);
        done[s] = j + 1;
        double scale = 0;
        for (int i = 0; i <= j; i++) scale = Math.max(scale, Math.abs(alpha[s][i]) + (i > 0 ? beta[s][i - 1] : 0));
        if (j + 1 < m && b > Lanczos.BREAKDOWN * Math.max(scale, Double.MIN_NORMAL)) {
          beta[s][j] = b;
          Vectors.scale(1 / b, wj);
          current.set(s, wj);
          still.add(s);
        }
      }
      active = still;
      progress.accept(j + 1);
    }
    List<double[]> nodes = new ArrayList<>(), weights = new ArrayList<>();
    for (int s = 0; s < starts; s++) {
      Tridiagonal t = Tridiagonal.decompose(alpha[s], beta[s], done[s]);
      double[] tau = new double[done[s]];
      for (int i = 0; i < tau.length; i++) tau[i] = t.vectors().get(0, i) * t.vectors().get(0, i);
      nodes.add(t.values());
      weights.add(tau);
    }
    return new Quadrature(nodes, weights);
  }

  /**
   * The density of {@code quadrature} on {@code points} grid points from {@code min - 6σ} to
   * {@code max + 6σ}, with {@code σ = relativeWidth · (max - min)} (of {@code max(|max|, 1)} when
   * all nodes coincide).
   */
  public static Density density(Quadrature quadrature, double relativeWidth, int points) {
    if (points < 2) throw new IllegalArgumentException("points must be at least 2");
    double lo = quadrature.min(), hi = quadrature.max();
    double range = hi - lo > 0 ? hi - lo : Math.max(Math.abs(hi), 1);
    double sigma = relativeWidth * range;
    double from = lo - 6 * sigma, to = hi + 6 * sigma;
    double[] grid = new double[points], phi = new double[points];
    int starts = quadrature.nodes().size();
    double norm = 1 / (starts * sigma * Math.sqrt(2 * Math.PI));
    for (int g = 0; g < points; g++) {
      double t = from + (to - from) * g / (points - 1);
      grid[g] = t;
      double sum = 0;
      for (int s = 0; s < starts; s++) {
        double[] theta = quadrature.nodes().get(s), tau = quadrature.weights().get(s);
        for (int j = 0; j < theta.length; j++) {
          double d = (t - theta[j]) / sigma;
          sum += tau[j] * Math.exp(-0.5 * d * d);
        }
      }
      phi[g] = sum * norm;
    }
    return new Density(grid, phi, sigma);
  }
}
