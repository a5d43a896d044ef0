package org.hbp.backend;

import java.util.Arrays;
import java.util.Random;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.openblas.global.openblas_nolapack;
import org.hbp.backend.blas.BlasBackend;
import org.hbp.backend.cpu.CpuBackend;

/**
 * A throughput check run by hand (not a test: timings depend on the machine): {@code n x n} times
 * {@code n x n} through {@link Backend#matmul} of the BLAS backend (dgemm and sgemm on off-heap
 * batches, 1 and 2 threads) and of the CPU backend, in GFLOP/s ({@code 2 n^3} flops per product;
 * the median of the timed repetitions, after warm-up; output allocation included).
 *
 * <pre>{@code
 * mvn -q test-compile dependency:build-classpath -Dmdep.outputFile=/tmp/cp.txt
 * java -cp target/classes:target/test-classes:$(cat /tmp/cp.txt) org.hbp.backend.BlasThroughput [n] [reps]
 * }</pre>
 */
public final class BlasThroughput {
  private BlasThroughput() {}

  public static void main(String[] args) {
    int n = args.length > 0 ? Integer.parseInt(args[0]) : 1024;
    int reps = args.length > 1 ? Integer.parseInt(args[1]) : 7;
    System.out.println("n = " + n + ", availableProcessors = " + Runtime.getRuntime().availableProcessors() + ", "
        + System.getProperty("os.arch") + ", java " + System.getProperty("java.version"));
    double[] a = new double[n * n], b = new double[n * n];
    Random rng = new Random(1);
    for (int i = 0; i < a.length; i++) {
      a[i] = rng.nextDouble() - 0.5;
      b[i] = rng.nextDouble() - 0.5;
    }
    double[] reference = null;
    for (Backend be : new Backend[] {new BlasBackend(Precision.FLOAT64, 1), new BlasBackend(Precision.FLOAT64, 2),
        new BlasBackend(Precision.FLOAT32, 1), new BlasBackend(Precision.FLOAT32, 2), new CpuBackend()}) {
      Batch x = be.fromArray(1, 1, n, n, a), y = be.fromArray(1, 1, n, n, b);
      boolean slow = be instanceof CpuBackend;
      int warm = slow ? 1 : 3, timed = slow ? Math.min(reps, 3) : reps;
      Batch z = null;
      for (int i = 0; i < warm; i++) z = be.matmul(x, false, y, false);
      double[] t = new double[timed];
      for (int i = 0; i < timed; i++) {
        long t0 = System.nanoTime();
        z = be.matmul(x, false, y, false);
        t[i] = (System.nanoTime() - t0) * 1e-9;
      }
      Arrays.sort(t);
      double median = t[timed / 2], gflops = 2.0 * n * n * n / median * 1e-9;
      double[] out = be.toArray(z);
      if (reference == null) reference = out;
      double err = 0;
      for (int i = 0; i < out.length; i++) err = Math.max(err, Math.abs(out[i] - reference[i]));
      String label = be instanceof BlasBackend bb ? be.name() + " threads=" + bb.threads() : be.name() + " (Java loops, 1 thread)";
      System.out.printf("%-32s median %8.2f ms  %7.2f GFLOP/s  (best %7.2f; %d runs; max |diff| vs blas-f64 %.1e)%n", label,
          median * 1e3, gflops, 2.0 * n * n * n / t[0] * 1e-9, timed, err);
    }
    rawGemm(n, reps);
    smallItems();
  }

  /** Entries {@code (i % period) * 0.1} for {@code i < count}: simple deterministic operands. */
  private static double[] pattern(int count, int period) {
    double[] d = new double[count];
    for (int i = 0; i < count; i++) d[i] = (i % period) * 0.1;
    return d;
  }

  /** The entries rounded to float. */
  private static float[] floats(double[] d) {
    float[] f = new float[d.length];
    for (int i = 0; i < d.length; i++) f[i] = (float) d[i];
    return f;
  }

  /** Seconds of each of {@code reps} calls of {@code call}, after three calls to warm up. */
  private static double[] seconds(int reps, Runnable call) {
    double[] t = new double[reps];
    for (int i = -3; i < reps; i++) {
      long t0 = System.nanoTime();
      call.run();
      if (i >= 0) t[i] = (System.nanoTime() - t0) * 1e-9;
    }
    return t;
  }

  /**
   * The same products straight through cblas_dgemm/cblas_sgemm into one preallocated output: the
   * difference to the backend's numbers is the cost of a fresh off-heap result block per call
   * (malloc and first-touch page faults), which the Backend interface's value semantics require.
   */
  private static void rawGemm(int n, int reps) {
    for (Precision p : Precision.values())
      for (int threads : new int[] {1, 2}) {
        org.hbp.backend.blas.OpenBlasThreads.set(threads);
        double[] t;
        if (p == Precision.FLOAT64) {
          DoublePointer a = new DoublePointer(pattern(n * n, 7)), b = new DoublePointer(pattern(n * n, 5)), c = new DoublePointer((long) n * n);
          t = seconds(reps, () -> openblas_nolapack.cblas_dgemm(openblas_nolapack.CblasColMajor, openblas_nolapack.CblasNoTrans,
              openblas_nolapack.CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n));
        } else {
          FloatPointer a = new FloatPointer(floats(pattern(n * n, 7))), b = new FloatPointer(floats(pattern(n * n, 5))),
              c = new FloatPointer((long) n * n);
          t = seconds(reps, () -> openblas_nolapack.cblas_sgemm(openblas_nolapack.CblasColMajor, openblas_nolapack.CblasNoTrans,
              openblas_nolapack.CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n));
        }
        Arrays.sort(t);
        System.out.printf("%-32s median %8.2f ms  %7.2f GFLOP/s  (best %7.2f; raw gemm, output reused)%n",
            (p == Precision.FLOAT64 ? "cblas_dgemm" : "cblas_sgemm") + " threads=" + threads, t[reps / 2] * 1e3,
            2.0 * n * n * n / t[reps / 2] * 1e-9, 2.0 * n * n * n / t[0] * 1e-9);
      }
  }

  /**
   * Many small products: a left item per sample shared by its 16 directions (one gemm per sample
   * over the directions side by side), and a left item per (sample, direction) (one gemm call per
   * item), where the cost per call (JNI, OpenBLAS dispatch) rather than the flops dominates.
   */
  private static void smallItems() {
    int samples = 64, directions = 16, m = 8;
    Random rng = new Random(2);
    for (int aDirections : new int[] {1, directions}) {
      double[] a = new double[samples * aDirections * m * m], b = new double[samples * directions * m * m];
      for (int i = 0; i < a.length; i++) a[i] = rng.nextDouble();
      for (int i = 0; i < b.length; i++) b[i] = rng.nextDouble();
      System.out.println("small products: [" + samples + " x " + aDirections + "] " + m + "x" + m + " times [" + samples + " x "
          + directions + "] " + m + "x" + m + " (blas: " + (aDirections == 1 ? samples : samples * directions) + " gemm calls per matmul)");
      for (Backend be : new Backend[] {new BlasBackend(Precision.FLOAT64, 1), new BlasBackend(Precision.FLOAT32, 1), new CpuBackend()}) {
        Batch x = be.fromArray(samples, aDirections, m, m, a), y = be.fromArray(samples, directions, m, m, b);
        for (int i = 0; i < 200; i++) be.matmul(x, false, y, false);
        int reps = 500;
        long t0 = System.nanoTime();
        for (int i = 0; i < reps; i++) be.matmul(x, false, y, false);
        double per = (System.nanoTime() - t0) * 1e-9 / reps;
        System.out.printf("  %-30s %8.1f us per matmul  %7.2f GFLOP/s%n", be.name(), per * 1e6,
            2.0 * m * m * m * samples * directions / per * 1e-9);
      }
    }
  }
}
