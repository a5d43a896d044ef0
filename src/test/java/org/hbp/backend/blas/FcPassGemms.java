package org.hbp.backend.blas;

import static org.bytedeco.openblas.global.openblas_nolapack.CblasColMajor;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasNoTrans;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasTrans;
import static org.bytedeco.openblas.global.openblas_nolapack.cblas_dgemm;
import static org.bytedeco.openblas.global.openblas_nolapack.cblas_sgemm;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;

/**
 * A timing run by hand (not a test): the matrix products of the FC net's gradient pass (batch
 * 500; per layer the forward {@code W x}, the input gradient {@code W' dZ} except the first
 * layer's, the weight gradient {@code dZ x'}), each through OpenBLAS's gemm as the backend calls
 * it (column-major), best of three rounds, and their sum: the GEMM time of one pass.
 * {@code scripts/torch_fc_gemms.py} times the same products in PyTorch.
 *
 * <pre>{@code
 * OPENBLAS_THREAD_TIMEOUT=4 java -cp target/test-classes:target/hbp.jar org.hbp.backend.blas.FcPassGemms s|d THREADS
 * }</pre>
 */
public final class FcPassGemms {
  private FcPassGemms() {}

  public static void main(String[] args) {
    boolean float64 = args[0].equals("d");
    int threads = Integer.parseInt(args[1]);
    OpenBlasThreads.set(threads);
    int[] dims = {3072, 1024, 512, 256, 128, 64, 32, 16, 10};
    List<int[]> shapes = new ArrayList<>(); // m, n, k, transpose A, transpose B: C (m x n) = op(A) op(B)
    for (int i = 0; i < 8; i++) {
      int in = dims[i], out = dims[i + 1];
      shapes.add(new int[] {out, 500, in, 0, 0}); // W x
      if (i > 0) shapes.add(new int[] {in, 500, out, 1, 0}); // W' dZ
      shapes.add(new int[] {out, in, 500, 0, 1}); // dZ x'
    }
    double total = 0;
    for (int[] s : shapes) {
      int m = s[0], n = s[1], k = s[2];
      boolean ta = s[3] == 1, tb = s[4] == 1;
      int lda = ta ? k : m, ldb = tb ? n : k;
      Runnable product;
      if (float64) {
        DoublePointer a = filled(new DoublePointer((long) m * k)), b = filled(new DoublePointer((long) k * n));
        DoublePointer c = new DoublePointer((long) m * n);
        product = () -> cblas_dgemm(CblasColMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1, a, lda, b, ldb,
            0, c, m);
      } else {
        FloatPointer a = filled(new FloatPointer((long) m * k)), b = filled(new FloatPointer((long) k * n));
        FloatPointer c = new FloatPointer((long) m * n);
        product = () -> cblas_sgemm(CblasColMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1f, a, lda, b, ldb,
            0f, c, m);
      }
      int reps = (int) Math.max(3, 2e9 / (2.0 * m * n * k));
      for (int i = 0; i < 2; i++) product.run();
      double best = Double.MAX_VALUE;
      for (int round = 0; round < 3; round++) {
        long t0 = System.nanoTime();
        for (int i = 0; i < reps; i++) product.run();
        best = Math.min(best, (System.nanoTime() - t0) * 1e-9 / reps);
      }
      total += best;
      if ((double) m * n * k > 1e7)
        System.out.printf(Locale.ROOT, "%dx%dx%d%s%s %.3f ms %.1f GFLOP/s%n", m, n, k, ta ? " A'" : "", tb ? " B'" : "", best * 1e3,
            2.0 * m * n * k / best * 1e-9);
    }
    System.out.printf(Locale.ROOT, "total gemm time of the pass %.2f ms (%s, %d threads)%n", total * 1e3, float64 ? "dgemm" : "sgemm", threads);
  }

  private static DoublePointer filled(DoublePointer p) {
    for (long i = 0; i < p.capacity(); i++) p.put(i, Math.sin(i));
    return p;
  }

  private static FloatPointer filled(FloatPointer p) {
    for (long i = 0; i < p.capacity(); i++) p.put(i, (float) Math.sin(i));
    return p;
  }
}
