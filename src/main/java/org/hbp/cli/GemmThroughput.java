package org.hbp.cli;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import org.hbp.UserError;
import org.hbp.backend.Backend;
import org.hbp.backend.Backends;
import org.hbp.backend.Batch;
import org.hbp.backend.opencl.OpenClBackend;
import org.hbp.train.Progress;

/**
 * {@code hbp bench --gemm-sizes}: matrix-product throughput of a backend. For each size n and each
 * product implementation ({@code --gemm}: on OpenCL devices CLBlast and the hand-written kernels;
 * other backends have one), the median time of {@code C = A B} for random {@code n x n} operands
 * ({@code 2 n^3} flops), after warm-up runs, each timing waiting for the device ({@link
 * Backend#finish()}) and including the output's allocation, not the transfers. Every result is
 * compared with the float64 BLAS backend's product: {@code max |C - C_ref| / max |C_ref|}.
 */
final class GemmThroughput {
  private GemmThroughput() {}

  /** One measurement: implementation, size, median seconds, GFLOP/s and the relative error against the reference. */
  record Row(String implementation, int n, double medianSeconds, double gflops, double relativeError) {}

  /** The implementations timed when {@code --gemm} is not given: CLBlast and the kernels on OpenCL, the backend itself elsewhere. */
  static List<String> defaultImplementations(Backend be) {
    return be instanceof OpenClBackend ? List.of("clblast", "kernels") : List.of(be.name());
  }

  /** The names {@code --gemm} takes. */
  static final List<String> IMPLEMENTATIONS = List.of("clblast", "kernels", "large", "small", "direct", "naive");

  /** Refuses a name {@code --gemm} does not know (before any timing). */
  static void checkNames(List<String> implementations) {
    for (String impl : implementations)
      if (!IMPLEMENTATIONS.contains(impl))
        throw new UserError("--gemm '" + impl + "': expected one of " + String.join(", ", IMPLEMENTATIONS));
  }

  /**
   * Times every implementation at every size on {@code be} (an implementation that cannot be used
   * on the device is reported with the reason and skipped); one progress step per measurement.
   */
  static List<Row> run(PrintWriter w, Progress bar, Backend be, List<String> implementations, List<Integer> sizes, int warmup, int repeat) {
    for (int n : sizes) if (n < 1) throw new UserError("--gemm-sizes: sizes must be >= 1, got " + n);
    if (be instanceof OpenClBackend) checkNames(implementations);
    List<Row> rows = new ArrayList<>();
    int step = 0;
    for (int n : sizes) {
      Random rng = new Random(n);
      double[] a = random(rng, n), b = random(rng, n);
      double[] expected = reference(n, a, b);
      Batch x = be.fromArray(1, 1, n, n, a), y = be.fromArray(1, 1, n, n, b);
      for (String impl : implementations) {
        bar.step(step++, impl + " n=" + n);
        String unavailable = use(be, impl);
        if (unavailable != null) {
          bar.clear();
          w.printf(Locale.ROOT, "  %-14s n=%-5d not available: %s%n", impl, n, unavailable);
          w.flush();
          continue;
        }
        Row r = time(be, label(be, impl), n, x, y, expected, warmup, repeat);
        rows.add(r);
        bar.clear();
        w.printf(Locale.ROOT, "  %-14s n=%-5d %10.4f s  %9.1f GFLOP/s  max |diff| / max |ref| %.1e%n", r.implementation(), n, r.medianSeconds(),
            r.gflops(), r.relativeError());
        w.flush();
      }
      be.release(x);
      be.release(y);
    }
    return rows;
  }

  /**
   * The rate of the product the backend uses ({@code --gemm}'s on OpenCL devices) at {@code n x n},
   * timed and checked as {@link #run} does, printing nothing: {@code hbp bench --gemm-rate}'s
   * reference for a network's products in the same run.
   */
  static Row rate(Backend be, int n, int warmup, int repeat) {
    Random rng = new Random(n);
    double[] a = random(rng, n), b = random(rng, n);
    double[] expected = reference(n, a, b);
    Batch x = be.fromArray(1, 1, n, n, a), y = be.fromArray(1, 1, n, n, b);
    try {
      return time(be, be instanceof OpenClBackend ocl ? be.name() + " (" + ocl.gemmKernel() + ")" : be.name(), n, x, y, expected, warmup, repeat);
    } finally {
      be.release(x);
      be.release(y);
    }
  }

  /** {@code A B} by the float64 BLAS backend on all cores, its batches released (not left to the garbage collector, which would free them during later timings). */
  private static double[] reference(int n, double[] a, double[] b) {
    Backend reference = Backends.create("blas-f64", 0);
    Batch x = reference.fromArray(1, 1, n, n, a), y = reference.fromArray(1, 1, n, n, b), z = reference.matmul(x, false, y, false);
    try {
      return reference.toArray(z);
    } finally {
      reference.release(x);
      reference.release(y);
      reference.release(z);
    }
  }

  /** The heap {@link #rate} and {@link #run} take for one size: the two operands and the reference product as Java arrays. */
  static long heapBytes(int n) {
    return 3L * n * n * Double.BYTES;
  }

  /** The implementation's name as printed: for {@code kernels}, the kernel it stands for. */
  private static String label(Backend be, String impl) {
    return be instanceof OpenClBackend ocl && impl.equals("kernels") ? "kernel:" + ocl.gemmKernel() : impl;
  }

  /** Switches an OpenCL backend to {@code impl}; null when done, else why not. */
  private static String use(Backend be, String impl) {
    if (!(be instanceof OpenClBackend ocl)) return impl.equals(be.name()) ? null : "--gemm applies to OpenCL devices (--device opencl)";
    try {
      ocl.useGemmKernel(impl);
      return null;
    } catch (IllegalArgumentException e) {
      return e.getMessage();
    }
  }

  private static Row time(Backend be, String impl, int n, Batch x, Batch y, double[] expected, int warmup, int repeat) {
    Batch z = be.matmul(x, false, y, false);
    double error = relativeError(be.toArray(z), expected);
    for (int i = 0; i < warmup; i++) {
      be.release(z);
      z = be.matmul(x, false, y, false);
    }
    be.finish();
    double[] s = new double[repeat];
    for (int i = 0; i < repeat; i++) {
      be.release(z);
      long t0 = System.nanoTime();
      z = be.matmul(x, false, y, false);
      be.finish();
      s[i] = (System.nanoTime() - t0) / 1e9;
    }
    be.release(z);
    double median = median(s);
    return new Row(impl, n, median, 2.0 * n * n * n / median / 1e9, error);
  }

  /** The median of {@code s} (the mean of the middle two for an even count). */
  static double median(double[] s) {
    double[] t = s.clone();
    Arrays.sort(t);
    int k = t.length;
    return k % 2 == 1 ? t[k / 2] : (t[k / 2 - 1] + t[k / 2]) / 2;
  }

  /** {@code max |actual - expected| / max |expected|} (the plain maximum difference when expected is all zero). */
  static double relativeError(double[] actual, double[] expected) {
    double diff = 0, scale = 0;
    for (int i = 0; i < expected.length; i++) {
      diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
      scale = Math.max(scale, Math.abs(expected[i]));
    }
    return scale == 0 ? diff : diff / scale;
  }

  private static double[] random(Random rng, int n) {
    double[] d = new double[n * n];
    for (int i = 0; i < d.length; i++) d[i] = rng.nextDouble() - 0.5;
    return d;
  }

  /** The rows as the JSON array of {@code --out}. */
  static String json(List<Row> rows) {
    StringBuilder sb = new StringBuilder("[\n");
    for (int i = 0; i < rows.size(); i++) {
      Row r = rows.get(i);
      sb.append(String.format(Locale.ROOT, "    {\"implementation\": \"%s\", \"n\": %d, \"median_s\": %.6f, \"gflops\": %.3f, \"relative_error\": %.3e}%s%n",
          r.implementation(), r.n(), r.medianSeconds(), r.gflops(), r.relativeError(), i + 1 < rows.size() ? "," : ""));
    }
    return sb.append("  ]").toString();
  }
}
