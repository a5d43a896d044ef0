package org.hbp.backend.opencl;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.backend.Precision;
import org.hbp.backend.cpu.CpuBackend;

/**
 * A throughput check run by hand (not a test: timings depend on the machine): {@code n x n} times
 * {@code n x n} through {@link Backend#matmul} of the OpenCL backend (float32 and float64, on the
 * default device or {@code HBP_OPENCL_DEVICE}), in GFLOP/s ({@code 2 n^3} flops per product; the
 * median of the timed repetitions after a warm-up; each timing waits for the device with {@link
 * OpenClBackend#finish()} and includes the output allocation, not the transfers), for {@code A B},
 * {@code A' B} and {@code A B'}; {@code A B} is checked against the CPU backend in float64 up to
 * n = 1024.
 *
 * <pre>{@code
 * mvn -q test-compile dependency:build-classpath -Dmdep.outputFile=/tmp/cp.txt
 * java -cp target/classes:target/test-classes:$(cat /tmp/cp.txt) org.hbp.backend.opencl.OpenClThroughput [n ...] [--reps R] [--all-kernels]
 * }</pre>
 *
 * <p>Sizes default to 512 and 1024. {@code --all-kernels} times every product kernel that fits the
 * device ({@link OpenClBackend#useGemmKernel}; the untiled one up to n = 1024), not only the
 * device's default.
 */
public final class OpenClThroughput {
  private OpenClThroughput() {}

  /** Prints one line per precision, kernel, size and transpose combination; see the class comment for the arguments. */
  public static void main(String[] args) {
    int reps = 5;
    boolean allKernels = false;
    List<Integer> sizes = new ArrayList<>();
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--reps")) reps = Integer.parseInt(args[++i]);
      else if (args[i].equals("--all-kernels")) allKernels = true;
      else sizes.add(Integer.parseInt(args[i]));
    }
    if (sizes.isEmpty()) sizes = List.of(512, 1024);
    int device = OpenClTestSupport.deviceIndex();
    OpenClBackend[] backends = {new OpenClBackend(Precision.FLOAT32, device), new OpenClBackend(Precision.FLOAT64, device)};
    System.out.println("device " + backends[0].device().describe() + ", " + backends[0].device().computeUnits()
        + " compute units; default product kernel " + backends[0].gemmKernel() + "; java " + System.getProperty("java.version"));
    CpuBackend cpu = new CpuBackend();
    for (int n : sizes) {
      double[] a = new double[n * n], b = new double[n * n];
      Random rng = new Random(1);
      for (int i = 0; i < a.length; i++) {
        a[i] = rng.nextDouble() - 0.5;
        b[i] = rng.nextDouble() - 0.5;
      }
      // the CPU backend's single-threaded product is the reference up to n = 1024 (larger ones go unchecked)
      double[] reference = n > 1024 ? null
          : cpu.toArray(cpu.matmul(cpu.fromArray(1, 1, n, n, a), false, cpu.fromArray(1, 1, n, n, b), false));
      for (OpenClBackend be : backends) {
        String standard = be.gemmKernel();
        for (String kernel : allKernels ? List.of("clblast", "large", "small", "direct", "naive") : List.of(standard)) {
          if (kernel.equals("naive") && n > 1024) continue;
          try {
            be.useGemmKernel(kernel);
          } catch (IllegalArgumentException e) {
            System.out.println(be.name() + " " + kernel + ": " + e.getMessage());
            continue;
          }
          for (boolean[] t : new boolean[][] {{false, false}, {true, false}, {false, true}})
            time(be, kernel, n, a, b, t[0], t[1], reps, reference);
        }
        be.useGemmKernel(standard);
      }
    }
  }

  private static void time(OpenClBackend be, String kernel, int n, double[] a, double[] b, boolean ta, boolean tb, int reps,
      double[] reference) {
    Batch x = be.fromArray(1, 1, n, n, a), y = be.fromArray(1, 1, n, n, b);
    Batch z = be.matmul(x, ta, y, tb);
    be.finish();
    double[] times = new double[reps];
    for (int r = 0; r < reps; r++) {
      be.release(z);
      long t0 = System.nanoTime();
      z = be.matmul(x, ta, y, tb);
      be.finish();
      times[r] = (System.nanoTime() - t0) * 1e-9;
    }
    Arrays.sort(times);
    double median = times[reps / 2], flops = 2.0 * n * n * n;
    String err = "";
    if (!ta && !tb && reference != null) {
      double[] out = be.toArray(z);
      double e = 0;
      for (int i = 0; i < out.length; i++) e = Math.max(e, Math.abs(out[i] - reference[i]));
      err = String.format(Locale.ROOT, "; max |diff| vs cpu %.1e", e);
    }
    System.out.printf(Locale.ROOT, "%-10s %-6s n=%-5d %s  median %9.2f ms  %9.2f GFLOP/s  (best %9.2f; %d runs%s)%n", be.name(), kernel,
        n, (ta ? "A'" : "A ") + (tb ? "B'" : "B "), median * 1e3, flops / median * 1e-9, flops / times[0] * 1e-9, reps, err);
    be.release(x);
    be.release(y);
    be.release(z);
  }
}
