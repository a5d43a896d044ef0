package org.hbp.backend.opencl;

import java.util.function.Supplier;
import org.hbp.backend.BackendChecks;
import org.jocl.cl_kernel;

/**
 * The products of the {@link OpenClBackend}: {@code matmul} and {@code matmulSumSamples} as one
 * launch of a product kernel batched over the items (see the backend's documentation for the
 * layouts and the kernel variants, {@link OpenClKernels#gemm} for the kernels), or the same launch
 * as CLBlast calls ({@link OpenClBlast}) when the variant is {@code clblast}.
 */
final class OpenClProducts {
  /** Work-groups per launch along a grid dimension other than the first (CUDA's 65535 limit). */
  private static final long GRID_CHUNK = 65535;

  private final OpenClLaunches q;
  /** The product kernel in use ({@link OpenClBackend#gemmKernel}). */
  private final Supplier<String> variant;
  /** The CLBlast calls, used when the variant is {@code clblast}. */
  private final OpenClBlast blast;

  OpenClProducts(OpenClLaunches q, Supplier<String> variant, OpenClBlast blast) {
    this.q = q;
    this.variant = variant;
    this.blast = blast;
  }

  /** Item stride of an operand along an axis: 0 where its extent is 1 (broadcast). */
  private static long stride(int extent, long step) {
    return extent == 1 ? 0 : step;
  }

  /** {@link OpenClBackend#matmul} of checked operands. */
  OpenClBatch matmul(OpenClBatch x, boolean transposeA, OpenClBatch y, boolean transposeB) {
    BackendChecks.Product shape = BackendChecks.matmulShape(x, transposeA, y, transposeB);
    int m = shape.m(), k = shape.k(), n = shape.n(), samples = shape.samples(), directions = shape.directions();
    if (k == 0) return q.zeros("matmul", samples, directions, m, n);
    OpenClBatch out = q.alloc("matmul", samples, directions, m, n);
    if (m == 0 || n == 0) return out;
    int lda = transposeA ? k : m, ldb = transposeB ? n : k;
    long xn = x.itemSize(), yn = y.itemSize(), mn = (long) m * n;
    if (x.items() == 1 && !transposeB && (long) n * y.items() <= Integer.MAX_VALUE) {
      // one shared left item: b's items side by side are one k x (n*items) matrix, one wide product
      gemm("matmul", m, n * y.items(), k, transposeA, false, lda, ldb, m, x, 0, 0, 0, y, 0, 0, 0, out, 0, 1, 1, 1);
    } else if (x.directions() == 1 && !transposeB && (long) n * directions <= Integer.MAX_VALUE) {
      // a's item is the same for the directions of a sample, whose items of b are adjacent: one wide product per sample
      gemm("matmul", m, n * directions, k, transposeA, false, lda, ldb, m, x, stride(x.samples(), xn), 0, 0, y,
          stride(y.samples(), (long) y.directions() * yn), 0, 0, out, directions * mn, samples, 1, 1);
    } else {
      gemm("matmul", m, n, k, transposeA, transposeB, lda, ldb, m, x, stride(x.samples(), x.directions() * xn),
          stride(x.directions(), xn), 0, y, stride(y.samples(), y.directions() * yn), stride(y.directions(), yn), 0, out, mn,
          (long) samples * directions, directions, 1);
    }
    return out;
  }

  /** {@link OpenClBackend#matmulSumSamples} of checked operands. */
  OpenClBatch matmulSumSamples(OpenClBatch x, boolean transposeA, OpenClBatch y, boolean transposeB) {
    BackendChecks.Product shape = BackendChecks.matmulSumSamplesShape(x, transposeA, y, transposeB);
    int m = shape.m(), k = shape.k(), n = shape.n(), samples = shape.samples(), directions = shape.directions();
    if (k == 0) return q.zeros("matmulSumSamples", 1, directions, m, n);
    OpenClBatch out = q.alloc("matmulSumSamples", 1, directions, m, n);
    if (m == 0 || n == 0) return out;
    int lda = transposeA ? k : m, ldb = transposeB ? n : k;
    long xn = x.itemSize(), yn = y.itemSize(), mn = (long) m * n;
    boolean allSamples = x.samples() == samples && y.samples() == samples;
    if (allSamples && !transposeA && transposeB && directions == 1 && (long) k * samples <= Integer.MAX_VALUE) {
      // sum_s A_s B_s' = [A_1 ... A_S] [B_1 ... B_S]': one product of inner dimension S*k
      gemm("matmulSumSamples", m, n, k * samples, false, true, m, n, m, x, 0, 0, 0, y, 0, 0, 0, out, 0, 1, 1, 1);
    } else if (allSamples && !transposeA && transposeB && k == 1 && x.directions() == directions && y.directions() == directions
        && (long) m * directions <= Integer.MAX_VALUE && (long) n * directions <= Integer.MAX_VALUE) {
      // outer products (a weight gradient per direction): direction d's columns are every D-th column, one product each
      gemm("matmulSumSamples", m, n, samples, false, true, m * directions, n * directions, m, x, 0, xn, 0, y, 0, yn, 0, out, mn,
          directions, directions, 1);
    } else if (x.directions() == 1 && !transposeB && (long) n * directions <= Integer.MAX_VALUE) {
      // op(A_s) times sample s's directions side by side, summed over the samples in the kernel
      gemm("matmulSumSamples", m, n * directions, k, transposeA, false, lda, ldb, m, x, 0, 0, stride(x.samples(), xn), y, 0, 0,
          stride(y.samples(), (long) y.directions() * yn), out, 0, 1, 1, samples);
    } else {
      gemm("matmulSumSamples", m, n, k, transposeA, transposeB, lda, ldb, m, x, 0, stride(x.directions(), xn),
          stride(x.samples(), x.directions() * xn), y, 0, stride(y.directions(), yn), stride(y.samples(), y.directions() * yn), out,
          mn, directions, directions, samples);
    }
    return out;
  }

  /**
   * Launches a product kernel: for batch index {@code t < T} ({@code s = t / Dk}, {@code d = t % Dk}),
   * {@code C_t = sum_{q < sumCount} op(A) op(B)} with A at {@code s*aSs + d*aSd + q*aSq}, B likewise,
   * C_t at {@code t*cSt}; see {@link OpenClKernels#gemm}.
   */
  private void gemm(String what, int m, int n, int k, boolean ta, boolean tb, int lda, int ldb, int ldc, OpenClBatch a, long aSs,
      long aSd, long aSq, OpenClBatch b, long bSs, long bSd, long bSq, OpenClBatch c, long cSt, long T, int Dk, int sumCount) {
    String v = variant.get();
    if (v.equals("clblast")) {
      blast.gemm(what, m, n, k, ta, tb, lda, ldb, ldc, a, aSs, aSd, aSq, b, bSs, bSd, bSq, c, cSt, T, Dk, sumCount);
      return;
    }
    String name = switch (v) {
      case "direct", "naive" -> "gemm_" + v;
      case "large" -> m <= 32 || n <= 32 ? "gemm_small" : "gemm_large";
      default -> "gemm_small";
    };
    cl_kernel kk = q.kernel(name);
    q.setArgs(kk, 0, m, n, k, ta ? 1 : 0, tb ? 1 : 0, lda, ldb, ldc, a, aSs, aSd, aSq, b, bSs, bSd, bSq, c, cSt, Dk, sumCount);
    long outBytes = c.bufferBytes();
    if (name.equals("gemm_naive")) {
      for (long t0 = 0; t0 < T; t0 += GRID_CHUNK)
        for (long j0 = 0; j0 < n; j0 += GRID_CHUNK) {
          q.setArgs(kk, 20, (int) t0, (int) j0);
          q.enqueue(what, kk, 3, new long[] {m, Math.min(GRID_CHUNK, n - j0), Math.min(GRID_CHUNK, T - t0)}, null, outBytes);
        }
      return;
    }
    if (name.equals("gemm_direct")) {
      // work items of 2 x 8 entries; jBase counts columns, a launch covers exactly GRID_CHUNK*wy*8 columns but the last
      int[] dw = OpenClKernels.GEMM_DIRECT_SHAPE;
      long wx = dw[0], wy = dw[1], g0 = ((m + dw[2] - 1) / dw[2] + wx - 1) / wx * wx;
      long chunkCols = GRID_CHUNK * wy * dw[3];
      for (long t0 = 0; t0 < T; t0 += GRID_CHUNK)
        for (long j0 = 0; j0 < n; j0 += chunkCols) {
          long cols = Math.min(chunkCols, n - j0), g1 = ((cols + dw[3] - 1) / dw[3] + wy - 1) / wy * wy;
          q.setArgs(kk, 20, (int) t0, (int) j0);
          q.enqueue(what, kk, 3, new long[] {g0, g1, Math.min(GRID_CHUNK, T - t0)}, new long[] {wx, wy, 1}, outBytes);
        }
      return;
    }
    // tiled: jBase counts column tiles
    int[] cfg = name.equals("gemm_large") ? OpenClKernels.GEMM_LARGE : OpenClKernels.GEMM_SMALL;
    int wx = cfg[0], wy = cfg[1], tm = wx * cfg[2], tn = wy * cfg[3];
    long g0 = (m + tm - 1) / tm, g1 = (n + tn - 1) / tn;
    for (long t0 = 0; t0 < T; t0 += GRID_CHUNK)
      for (long j0 = 0; j0 < g1; j0 += GRID_CHUNK) {
        q.setArgs(kk, 20, (int) t0, (int) j0);
        q.enqueue(what, kk, 3, new long[] {g0 * wx, Math.min(GRID_CHUNK, g1 - j0) * wy, Math.min(GRID_CHUNK, T - t0)},
            new long[] {wx, wy, 1}, outBytes);
      }
  }
}
