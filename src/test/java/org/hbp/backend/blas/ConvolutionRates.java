package org.hbp.backend.blas;

import static org.bytedeco.openblas.global.openblas_nolapack.CblasColMajor;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasNoTrans;
import static org.bytedeco.openblas.global.openblas_nolapack.cblas_dgemm;

import java.util.Random;
import org.bytedeco.javacpp.DoublePointer;
import org.hbp.backend.ConvGeometry;
import org.hbp.backend.Precision;

/**
 * A micro-benchmark (not a test): the float64 convolution kernels of {@link BlasConvolutions} on
 * the four convolutions of c4d3 for N·D items (default 1000: batch 100, 10 directions), forward
 * and adjoint, in GFLOP/s of their gemm FLOPs {@code 2·cout·(c·k·k)·patches} per item, each round
 * followed by the n = 1024 float64 GEMM rate (best of 5) for the fraction. Run from the
 * repository root after {@code mvn -o -q test-compile package -DskipTests}:
 * {@code java -cp target/test-classes:target/hbp.jar org.hbp.backend.blas.ConvolutionRates [items] [rounds] [threads]}.
 */
public final class ConvolutionRates {
  private ConvolutionRates() {}

  public static void main(String[] args) {
    int items = args.length > 0 ? Integer.parseInt(args[0]) : 1000, rounds = args.length > 1 ? Integer.parseInt(args[1]) : 3;
    threads = args.length > 2 ? Integer.parseInt(args[2]) : Runtime.getRuntime().availableProcessors();
    BlasBackend be = new BlasBackend(Precision.FLOAT64, threads);
    // c4d3: conv3->16 at 32x32, 16->16 at 32x32, 16->32 at 16x16, 32->32 at 16x16 (3x3, stride 1, padding 1)
    ConvGeometry[] geometries = {new ConvGeometry(3, 32, 32, 3, 1, 1, 1), new ConvGeometry(16, 32, 32, 3, 1, 1, 1),
        new ConvGeometry(16, 16, 16, 3, 1, 1, 1), new ConvGeometry(32, 16, 16, 3, 1, 1, 1)};
    int[] couts = {16, 16, 32, 32};
    Random rng = new Random(1);
    for (int round = 0; round < rounds; round++) {
      double totalFlops = 0, totalSeconds = 0;
      for (int i = 0; i < geometries.length; i++) {
        ConvGeometry g = geometries[i];
        int cout = couts[i];
        BlasBatch w = (BlasBatch) be.fromArray(1, 1, cout, g.patchRows(), rng.doubles((long) cout * g.patchRows(), -1, 1).toArray());
        BlasBatch x = (BlasBatch) be.fromArray(items, 1, g.c(), g.h() * g.w(), rng.doubles((long) items * g.inputSize(), -1, 1).toArray());
        BlasBatch y = (BlasBatch) be.fromArray(items, 1, cout, g.patches(), rng.doubles((long) items * cout * g.patches(), -1, 1).toArray());
        double flops = 2.0 * cout * g.patchRows() * g.patches() * items;
        double fwd = best(() -> be.release(be.convolution(w, x, g, null)), 3);
        double adj = best(() -> be.release(be.convolutionAdjoint(w, y, g)), 3);
        if (i > 0) { // the adjoint of c4d3's first convolution is not needed by the products (its input is data)
          totalFlops += 2 * flops;
          totalSeconds += fwd + adj;
        } else {
          totalFlops += flops;
          totalSeconds += fwd;
        }
        System.out.printf("  %-34s cout %2d: forward %.4f s %6.1f GFLOP/s, adjoint %.4f s %6.1f GFLOP/s%n", g, cout, fwd, flops / fwd / 1e9, adj,
            flops / adj / 1e9);
        be.release(w);
        be.release(x);
        be.release(y);
      }
      double gemm = gemmRate(1024, threads);
      double conv = totalFlops / totalSeconds / 1e9;
      System.out.printf("round %d: convolutions %.1f GFLOP/s (%.2f GFLOP in %.3f s), GEMM n=1024 %.1f GFLOP/s: %.0f %%%n", round + 1, conv,
          totalFlops / 1e9, totalSeconds, gemm, 100 * conv / gemm);
    }
  }

  /**
   * The best of {@code repeats} timings of r after a warm-up: wall seconds, or with {@code
   * -Dcpu=true} CPU seconds (the work done, whatever else shares the cores; threads waiting by
   * spinning count): the calling thread's with one thread (its kernels and gemms all run on the
   * caller), else the process's.
   */
  private static double best(Runnable r, int repeats) {
    r.run();
    double best = Double.MAX_VALUE;
    for (int i = 0; i < repeats; i++) {
      long t = clock();
      r.run();
      best = Math.min(best, (clock() - t) / 1e9);
    }
    return best;
  }

  private static int threads;

  /** Nanoseconds of the clock that {@link #best} reads. */
  private static long clock() {
    if (!Boolean.getBoolean("cpu")) return System.nanoTime();
    if (threads == 1) return java.lang.management.ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime();
    return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
  }

  /** OpenBLAS's dgemm rate for n x n times n x n, best of 5, at the given thread count. */
  private static double gemmRate(int n, int threads) {
    OpenBlasThreads.set(threads);
    DoublePointer a = new DoublePointer((long) n * n), b = new DoublePointer((long) n * n), c = new DoublePointer((long) n * n);
    Random rng = new Random(2);
    for (long i = 0; i < (long) n * n; i++) {
      a.put(i, rng.nextDouble());
      b.put(i, rng.nextDouble());
    }
    double t = best(() -> cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n), 5);
    a.close();
    b.close();
    c.close();
    return 2.0 * n * n * n / t / 1e9;
  }
}
