package org.hbp.backend.blas;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Random;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.backend.Precision;

/**
 * A micro-benchmark (not a test): the kernels of c4d3's two max-pools on the {@link BlasBackend}
 * for a batch of N samples (default 100) and D directions (1 and 10): the index map ({@code
 * windowArgmax}), the Jacobian product ({@code gather} of N·D items) and its adjoint ({@code
 * scatterAdd} of N·D items), in CPU milliseconds of the calling thread per call (best of the
 * repeats), on a one-thread backend so that every kernel runs on the caller and the figures
 * measure the work done whatever else shares the cores. It uses the public {@link Backend} API
 * only, so the same class times another build's jar. Run from the repository root after
 * {@code mvn -o -q test-compile package -DskipTests}:
 * {@code java -cp target/test-classes:target/hbp.jar org.hbp.backend.blas.MaxPoolRates [f32|f64] [samples] [repeats]}.
 */
public final class MaxPoolRates {
  private MaxPoolRates() {}

  private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

  public static void main(String[] args) {
    Precision precision = args.length > 0 && args[0].equals("f64") ? Precision.FLOAT64 : Precision.FLOAT32;
    int samples = args.length > 1 ? Integer.parseInt(args[1]) : 100, repeats = args.length > 2 ? Integer.parseInt(args[2]) : 20;
    Backend be = new BlasBackend(precision, 1);
    Random rng = new Random(1);
    int[][] pools = {{16, 32, 32}, {32, 16, 16}}; // c4d3: max-pools of (16, 32, 32) and (32, 16, 16), window 2
    double total1 = 0, total10 = 0;
    for (int[] p : pools) {
      int c = p[0], h = p[1], w = p[2], k = 2, n = c * h * w, m = n / (k * k);
      Batch x = be.fromArray(samples, 1, c, h * w, rng.doubles((long) samples * n, -1, 1).toArray());
      double argmax = best(() -> be.release(be.windowArgmax(x, c, h, w, k)), repeats);
      Batch idx = be.windowArgmax(x, c, h, w, k);
      be.gather(x, idx); // converts the index batch once, as the forward pass does
      StringBuilder line = new StringBuilder(String.format("(%d, %d, %d) windowArgmax %.3f ms", c, h, w, argmax * 1e3));
      for (int d : new int[] {1, 10}) {
        Batch v = be.fromArray(samples, d, n, 1, rng.doubles((long) samples * d * n, -1, 1).toArray());
        Batch u = be.fromArray(samples, d, m, 1, rng.doubles((long) samples * d * m, -1, 1).toArray());
        double gather = best(() -> be.release(be.gather(v, idx)), repeats);
        double scatter = best(() -> be.release(be.scatterAdd(u, idx, n, 1)), repeats);
        line.append(String.format(", D=%d: gather %.3f ms, scatterAdd %.3f ms", d, gather * 1e3, scatter * 1e3));
        if (d == 1) total1 += gather + scatter;
        else total10 += gather + scatter;
        be.release(v);
        be.release(u);
      }
      System.out.println(line);
    }
    System.out.printf("%s, %d samples: gather + scatterAdd of both pools, D=1 %.3f ms, D=10 %.3f ms (CPU, best of %d)%n", be.name(), samples,
        total1 * 1e3, total10 * 1e3, repeats);
  }

  /** The least CPU seconds of the calling thread over {@code repeats} runs of r, after five warm-up runs. */
  private static double best(Runnable r, int repeats) {
    for (int i = 0; i < 5; i++) r.run();
    double best = Double.MAX_VALUE;
    for (int i = 0; i < repeats; i++) {
      long t = THREADS.getCurrentThreadCpuTime();
      r.run();
      best = Math.min(best, (THREADS.getCurrentThreadCpuTime() - t) / 1e9);
    }
    return best;
  }
}
