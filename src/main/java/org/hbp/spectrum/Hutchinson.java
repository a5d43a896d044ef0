package org.hbp.spectrum;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.IntConsumer;
import org.ejml.data.DMatrixRMaj;

/**
 * Hutchinson's estimates of the trace and the diagonal of a symmetric operator A from m Rademacher
 * probes {@code z} (entries ±1, seeded): {@code tr A ≈ mean_i z_i' A z_i} and
 * {@code diag A ≈ mean_i z_i ∘ A z_i}, each with its standard error, the sample standard deviation
 * over the probes divided by {@code sqrt(m)}. Both are unbiased ({@code E[z z'] = I}); a probe's
 * trace sample has variance {@code 2 (|A|_F² - Σ_j A_jj²)}, its diagonal entry j
 * {@code Σ_{l≠j} A_jl²}. The probes go through the operator {@code chunk} at a time, as the
 * columns of one product.
 */
public final class Hutchinson {
  private Hutchinson() {}

  /** The estimates from {@code probes} probes. */
  public record Estimate(double trace, double traceStderr, double[] diagonal, double[] diagonalStderr, int probes) {}

  public static Estimate estimate(SymmetricOperator op, int probes, int chunk, long seed) {
    return estimate(op, probes, chunk, seed, i -> {});
  }

  /** Like {@link #estimate(SymmetricOperator, int, int, long)}; {@code progress} hears the number of probes done. */
  public static Estimate estimate(SymmetricOperator op, int probes, int chunk, long seed, IntConsumer progress) {
    if (probes < 2) throw new IllegalArgumentException("Hutchinson needs at least 2 probes for a standard error, not " + probes);
    if (chunk < 1) throw new IllegalArgumentException("chunk must be positive");
    int n = op.dimension();
    Random rng = new Random(seed);
    double[] traces = new double[probes];
    double[] sum = new double[n], sumSq = new double[n];
    for (int done = 0; done < probes; ) {
      int k = Math.min(chunk, probes - done);
      List<double[]> z = new ArrayList<>();
      for (int c = 0; c < k; c++) z.add(Vectors.rademacher(rng, n));
      DMatrixRMaj az = op.apply(Vectors.columns(z));
      for (int c = 0; c < k; c++) {
        double[] zc = z.get(c);
        double t = 0;
        for (int i = 0; i < n; i++) {
          double d = zc[i] * az.data[i * k + c];
          t += d;
          sum[i] += d;
          sumSq[i] += d * d;
        }
        traces[done + c] = t;
      }
      done += k;
      progress.accept(done);
    }
    double[] diagonal = new double[n], diagonalStderr = new double[n];
    for (int i = 0; i < n; i++) {
      diagonal[i] = sum[i] / probes;
      double var = Math.max(0, (sumSq[i] - probes * diagonal[i] * diagonal[i]) / (probes - 1));
      diagonalStderr[i] = Math.sqrt(var / probes);
    }
    double mean = 0;
    for (double t : traces) mean += t;
    mean /= probes;
    double ss = 0;
    for (double t : traces) ss += (t - mean) * (t - mean);
    return new Estimate(mean, Math.sqrt(ss / (probes - 1) / probes), diagonal, diagonalStderr, probes);
  }
}
