package org.hbp.backend.blas;

import static org.bytedeco.openblas.global.openblas_nolapack.CblasColMajor;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasNoTrans;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasTrans;
import static org.bytedeco.openblas.global.openblas_nolapack.cblas_dgemm;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Random;
import org.bytedeco.javacpp.DoublePointer;

/**
 * A micro-benchmark (not a test): OpenBLAS's single-threaded dgemm on the shapes of c4d3's
 * convolution products, in both layouts, in GFLOP per CPU second of the calling thread (the work
 * done, whatever else shares the cores), against the n = 1024 square product. Forward: {@code W U}
 * ({@code cout x c·k·k} times the unfolding, {@code c·k·k x pixels}: what the backend runs) and
 * {@code U' W'} (pixels as the long M dimension, the result pixel-fastest); adjoint: {@code W' Y}
 * and {@code Y' W}. Run from the repository root after {@code mvn -o -q test-compile package
 * -DskipTests}: {@code java -cp target/test-classes:target/hbp.jar
 * org.hbp.backend.blas.ConvolutionGemmShapes}.
 */
public final class ConvolutionGemmShapes {
  private ConvolutionGemmShapes() {}

  public static void main(String[] args) {
    OpenBlasThreads.set(1);
    int sq = 1024;
    DoublePointer a = random((long) sq * sq), b = random((long) sq * sq), c = new DoublePointer((long) sq * sq);
    System.out.printf("square n=%d: %.1f GFLOP/s%n", sq, 2.0 * sq * sq * sq / cpuSeconds(() -> cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, sq, sq, sq, 1, a, sq, b, sq, 0, c, sq)) / 1e9);
    // cout, c·k·k, pixels of one item (c4d3's convolutions 2 to 4, and the first)
    int[][] shapes = {{16, 27, 1024}, {16, 144, 1024}, {32, 144, 256}, {32, 288, 256}};
    for (int[] s : shapes) {
      int m = s[0], k = s[1], n = s[2] * Math.max(1, 2048 / s[2]);
      DoublePointer w = random((long) m * k), u = random((long) k * n), y = random((long) m * n), out = new DoublePointer((long) k * n);
      double flops = 2.0 * m * k * n;
      double wu = cpuSeconds(() -> cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1, w, m, u, k, 0, out, m));
      double uw = cpuSeconds(() -> cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, n, m, k, 1, u, n, w, m, 0, out, n));
      double wy = cpuSeconds(() -> cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, k, n, m, 1, w, m, y, m, 0, out, k));
      double yw = cpuSeconds(() -> cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, k, m, 1, y, n, w, m, 0, out, n));
      System.out.printf("cout %2d, c·k·k %3d, %5d columns: W U %5.1f, U' W' %5.1f | W' Y %5.1f, Y' W %5.1f GFLOP/s%n", m, k, n, flops / wu / 1e9,
          flops / uw / 1e9, flops / wy / 1e9, flops / yw / 1e9);
      for (DoublePointer p : new DoublePointer[] {w, u, y, out}) p.close();
    }
    System.out.printf("square n=%d: %.1f GFLOP/s%n", sq, 2.0 * sq * sq * sq / cpuSeconds(() -> cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, sq, sq, sq, 1, a, sq, b, sq, 0, c, sq)) / 1e9);
  }

  /** The least CPU seconds of the calling thread over 7 runs of r, after 2 warm-up runs. */
  private static double cpuSeconds(Runnable r) {
    ThreadMXBean mx = ManagementFactory.getThreadMXBean();
    r.run();
    r.run();
    double best = Double.MAX_VALUE;
    for (int i = 0; i < 7; i++) {
      long t = mx.getCurrentThreadCpuTime();
      r.run();
      best = Math.min(best, (mx.getCurrentThreadCpuTime() - t) / 1e9);
    }
    return best;
  }

  private static DoublePointer random(long n) {
    DoublePointer p = new DoublePointer(n);
    Random rng = new Random(1);
    for (long i = 0; i < n; i++) p.put(i, rng.nextDouble());
    return p;
  }
}
