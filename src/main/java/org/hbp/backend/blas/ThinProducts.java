package org.hbp.backend.blas;

import static org.bytedeco.openblas.global.openblas_nolapack.CblasColMajor;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasNoTrans;
import static org.bytedeco.openblas.global.openblas_nolapack.cblas_dgemm;
import static org.bytedeco.openblas.global.openblas_nolapack.cblas_dgemv;
import static org.bytedeco.openblas.global.openblas_nolapack.cblas_sgemm;
import static org.bytedeco.openblas.global.openblas_nolapack.cblas_sgemv;
import static org.hbp.backend.blas.BlasProducts.at;

import java.lang.ref.Reference;
import org.bytedeco.javacpp.Pointer;
import org.hbp.backend.Precision;

/**
 * Matrix products whose cost is writing their result: a short inner dimension k (at most {@link
 * #MAX_K}) and large result items, such as BDA's outer products {@code (H̄ V ā) ā'} (k = 1, one
 * m x p result per direction) or KFRA's products with few samples. A gemm writes such a result
 * with ordinary stores, and each line it writes is first read from memory (read for ownership):
 * on this project's machines OpenBLAS's sgemm with k = 1 wrote 4.5 GB/s per core where a plain
 * copy ({@code memcpy}, whose large copies use {@code rep movsb} and skip that read) moved 7 GB/s
 * both ways (docs/performance.md, "Writes that cost a read").
 *
 * <p>Here each result item is cut into column blocks of about {@link #CHUNK_BYTES} (column-major,
 * so a block is contiguous); each of the backend's threads takes the next block not yet taken
 * ({@link BlasProducts#singleThreadedInTurn}),
 * computes it with a single-threaded gemm into its own scratch block, which stays in the core's
 * L2 cache, and copies it into place with {@code memcpy}. The arithmetic is the gemm's, column
 * for column: the entries are those of one gemm over the whole item (each result entry is the
 * same dot product of k terms), bit for bit where OpenBLAS's kernel does not depend on n.
 *
 * <p>Its second kind, {@link #matrixVector}, is the other half of such products: several large
 * matrices times one column each ({@code V ā} per direction), one single-threaded gemv per core
 * side by side instead of one multi-threaded gemv after the other.
 */
final class ThinProducts {
  /** The largest inner dimension routed here: at 2k flops per entry written, the write still dominates. */
  static final int MAX_K = Integer.getInteger("hbp.blas.thinMaxK", 16);

  /** Bytes per column block (scratch per thread): within a core's L2 cache. */
  static final long CHUNK_BYTES = Long.getLong("hbp.blas.thinChunkBytes", 1L << 20);

  private final BlasBackend be;
  private final BlasProducts products;
  private final Precision precision;

  /** The thin products of a backend's {@link BlasProducts}, on its threads ({@link BlasProducts#singleThreadedInTurn}). */
  ThinProducts(BlasBackend be, BlasProducts products, Precision precision) {
    this.be = be;
    this.products = products;
    this.precision = precision;
  }

  /** Whether items of m x n with inner dimension k, beta = 0, go through {@link #multiply}. */
  static boolean applies(int m, int n, int k, int bytesPerEntry, int beta) {
    return beta == 0 && k <= MAX_K && n > 1 && (long) m * n * bytesPerEntry >= CHUNK_BYTES && (long) m * bytesPerEntry <= CHUNK_BYTES;
  }

  /**
   * {@code C_t = op(A_t) op(B_t)} for {@code items} result items t, each m x n column-major with
   * leading dimension m, item t of C at entry {@code t·m·n} of c; op(A_t) m x k starts at entry
   * {@code aOffsets[t]} of a (leading dimension lda), op(B_t) k x n at {@code bOffsets[t]} of b
   * (leading dimension ldb).
   */
  void multiply(int ta, int tb, int m, int n, int k, int items, BlasBatch a, long[] aOffsets, int lda, BlasBatch b, long[] bOffsets, int ldb,
      BlasBatch c) {
    int bytes = precision.bytes();
    int cols = (int) Math.max(1, Math.min(n, CHUNK_BYTES / ((long) m * bytes)));
    long perItem = (n + cols - 1) / cols, blocks = perItem * items;
    BlasBatch[] scratch = new BlasBatch[products.workers(blocks)];
    // column j of op(B): column j of B (ldb apart), or row j of B stored transposed (adjacent)
    long bStep = tb == CblasNoTrans ? ldb : 1;
    try {
      for (int i = 0; i < scratch.length; i++) scratch[i] = be.alloc("matmul", 1, 1, m, cols, false);
      products.singleThreadedInTurn(blocks, (long) m * n * items, (worker, blk) -> {
        BlasBatch s = scratch[worker];
        int t = (int) (blk / perItem), j0 = (int) (blk % perItem) * cols, jc = Math.min(cols, n - j0);
        long bo = bOffsets[t] + j0 * bStep, co = (long) t * m * n + (long) j0 * m;
        if (precision == Precision.FLOAT64)
          cblas_dgemm(CblasColMajor, ta, tb, m, jc, k, 1.0, at(a.doubles, aOffsets[t]), lda, at(b.doubles, bo), ldb, 0.0, s.doubles, m);
        else
          cblas_sgemm(CblasColMajor, ta, tb, m, jc, k, 1f, at(a.floats, aOffsets[t]), lda, at(b.floats, bo), ldb, 0f, s.floats, m);
        Pointer.memcpy(new Pointer(c.pointer()).position(co * bytes), s.pointer(), (long) m * jc * bytes);
      });
      Reference.reachabilityFence(a);
      Reference.reachabilityFence(b);
      Reference.reachabilityFence(c);
    } finally {
      for (BlasBatch s : scratch) if (s != null) be.release(s);
    }
  }

  /**
   * Whether items of m x k times one column each (n = 1), at least as many as the threads and each
   * of at least {@link #CHUNK_BYTES}, go through {@link #matrixVector}: gemvs stream their matrix
   * once, so several of them run best side by side, each on one core, rather than one after the
   * other on all cores with OpenBLAS's threads meeting at the end of each (bda's {@code V ā} for
   * each of D directions).
   */
  static boolean appliesToColumns(int m, int n, int k, int bytesPerEntry, long items, int threads) {
    return n == 1 && threads > 1 && items >= threads && (long) m * k * bytesPerEntry >= CHUNK_BYTES;
  }

  /**
   * {@code c_t = op(A_t) b_t + beta c_t} for {@code items} columns t (m x 1 each, item t of c at entry
   * {@code t·m}), op(A_t) m x k at entry {@code aOffsets[t]} of a (leading dimension lda), b_t at
   * {@code bOffsets[t]} of b (entries 1 apart, or ldb apart when {@code tb} transposes a row); each
   * worker takes the next item not yet taken and runs a single-threaded gemv.
   */
  void matrixVector(int ta, int tb, int m, int k, int items, BlasBatch a, long[] aOffsets, int lda, BlasBatch b, long[] bOffsets, int ldb,
      BlasBatch c, int beta) {
    int rows = ta == CblasNoTrans ? m : k, cols = ta == CblasNoTrans ? k : m, incx = tb == CblasNoTrans ? 1 : ldb;
    products.singleThreadedInTurn(items, (long) m * k * items, (worker, t) -> {
      int i = (int) t;
      if (precision == Precision.FLOAT64)
        cblas_dgemv(CblasColMajor, ta, rows, cols, 1.0, at(a.doubles, aOffsets[i]), lda, at(b.doubles, bOffsets[i]), incx, beta, at(c.doubles, t * m), 1);
      else
        cblas_sgemv(CblasColMajor, ta, rows, cols, 1f, at(a.floats, aOffsets[i]), lda, at(b.floats, bOffsets[i]), incx, beta, at(c.floats, t * m), 1);
    });
    Reference.reachabilityFence(a);
    Reference.reachabilityFence(b);
    Reference.reachabilityFence(c);
  }
}
