package org.hbp.backend.blas;

import static org.bytedeco.openblas.global.openblas_nolapack.CblasColMajor;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasNoTrans;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasTrans;
import static org.bytedeco.openblas.global.openblas_nolapack.cblas_dcopy;
import static org.bytedeco.openblas.global.openblas_nolapack.cblas_dgemm;
import static org.bytedeco.openblas.global.openblas_nolapack.cblas_dgemv;
import static org.bytedeco.openblas.global.openblas_nolapack.cblas_dscal;
import static org.bytedeco.openblas.global.openblas_nolapack.cblas_scopy;
import static org.bytedeco.openblas.global.openblas_nolapack.cblas_sgemm;
import static org.bytedeco.openblas.global.openblas_nolapack.cblas_sgemv;
import static org.bytedeco.openblas.global.openblas_nolapack.cblas_sscal;
import static org.hbp.backend.BackendChecks.item;

import java.lang.ref.Reference;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;
import org.hbp.backend.BackendChecks;
import org.hbp.backend.Precision;
import org.hbp.backend.host.ParallelLoops;

/**
 * The products of the {@link BlasBackend}: the dispatch of {@code matmul}, {@code matmulAdd} and
 * {@code matmulSumSamples} to as few OpenBLAS gemm calls as the operands' layout allows (see the
 * backend's documentation), on pointers into the blocks; nothing is copied but a {@code c} that
 * the product accumulates onto.
 */
final class BlasProducts {
  private final BlasBackend be;
  private final Precision precision;
  private final int threads;
  private final ParallelLoops loops;
  private final ThinProducts thin;
  /** Whether this backend's float32 gemm calls go to oneDNN's matmul primitive ({@link #SGEMM_ONEDNN}). */
  private final boolean onednnMatmul;

  BlasProducts(BlasBackend be, Precision precision, int threads, ParallelLoops loops) {
    this.be = be;
    this.precision = precision;
    this.threads = threads;
    this.loops = loops;
    this.thin = new ThinProducts(be, this, precision);
    // oneDNN's threads are OpenMP's (one per core), not this backend's count: a backend asked for fewer threads keeps OpenBLAS
    this.onednnMatmul = precision == Precision.FLOAT32 && SGEMM_ONEDNN && threads == Runtime.getRuntime().availableProcessors()
        && DnnlEngine.get() != null;
    useThreads();
  }

  /** Sets OpenBLAS's (process-wide) thread count to this backend's, when it differs. */
  void useThreads() {
    OpenBlasThreads.set(threads);
  }

  /**
   * {@link ParallelLoops#inTurn} on this backend's threads with OpenBLAS single-threaded meanwhile
   * (each worker's BLAS calls run on its own core, with no meeting inside a call), set back to the
   * backend's thread count afterwards.
   */
  void singleThreadedInTurn(long tasks, long entries, ParallelLoops.TaskBody body) {
    try {
      OpenBlasThreads.set(1);
      loops.inTurn(tasks, entries, body);
    } finally {
      useThreads();
    }
  }

  /** The workers of {@link #singleThreadedInTurn} for {@code tasks} tasks (per-worker scratch is sized by it). */
  int workers(long tasks) {
    return loops.workers(tasks);
  }

  /**
   * {@code op(a) * op(b)}, plus {@code c} (broadcast over the batch axes) when c is not null: the
   * result starts as c's items and the gemms accumulate onto it (beta = 1).
   */
  BlasBatch product(String kernel, BlasBatch x, boolean transposeA, BlasBatch y, boolean transposeB, BlasBatch c) {
    BackendChecks.Product shape = BackendChecks.matmulShape(x, transposeA, y, transposeB);
    int m = shape.m(), k = shape.k(), n = shape.n(), samples = shape.samples(), directions = shape.directions();
    // k == 0: the product is zero and BLAS is not called
    BlasBatch out = be.alloc(kernel, samples, directions, m, n, k == 0 && c == null);
    if (c != null && biasOfOneGemm(x, transposeB, m, n, k, y.items(), c)) {
      // a linear layer's W x + b over the batch: one oneDNN matmul with b as its bias, added to
      // each result column in the kernel's epilogue (no copy of b into every item, no sum post-op)
      useThreads();
      DnnlEngine.get().matmul().multiply(transposeA, false, m, y.items(), k, x, 0, transposeA ? k : m, y, 0, k, out, 0, m, c);
      return out;
    }
    int beta = 0;
    if (c != null) {
      copyBroadcast(c, out);
      beta = 1;
    }
    if (m == 0 || n == 0 || k == 0) return out;
    useThreads();
    int ta = transposeA ? CblasTrans : CblasNoTrans, tb = transposeB ? CblasTrans : CblasNoTrans;
    int lda = transposeA ? k : m, ldb = transposeB ? n : k, ldc = m;
    if (x.items() == 1 && !transposeB) {
      // one shared left item: b's items side by side form one k x (n*items) matrix, and the
      // result's items side by side are op(a) times it: a single gemm (split only past the int range)
      long wide = (long) n * y.items();
      for (long c0 = 0; c0 < wide; c0 += Integer.MAX_VALUE) {
        int w = (int) Math.min(Integer.MAX_VALUE, wide - c0);
        gemm(ta, tb, m, w, k, x, 0, lda, y, c0 * k, ldb, out, c0 * m, ldc, beta);
      }
      return out;
    }
    long xn = x.itemSize(), yn = y.itemSize(), mn = (long) m * n;
    if (x.directions() == 1 && !transposeB && (long) n * directions <= Integer.MAX_VALUE) {
      // a's item is the same for all directions of a sample, and b's directions of that sample are
      // adjacent: one gemm per sample over them side by side (per-sample factor times V directions)
      int wide = n * directions;
      for (int s = 0; s < samples; s++)
        gemm(ta, tb, m, wide, k, x, item(x, s, 0) * xn, lda, y, item(y, s, 0) * yn, ldb, out, (long) s * directions * mn, ldc, beta);
      return out;
    }
    int bytes = precision.bytes(), items = samples * directions;
    boolean columns = ThinProducts.appliesToColumns(m, n, k, bytes, items, threads);
    // with one sample the next path is a gemv per direction, which the columns' route runs side by side
    if (x.samples() == 1 && y.directions() == 1 && y.samples() == samples && n == 1 && !transposeB && (long) directions * m <= Integer.MAX_VALUE
        && (samples > 1 || !columns)) {
      // a per-direction left item (shared by the samples) times per-sample columns: for each
      // direction one gemm over all samples' columns, written with leading dimension directions*m
      // (the result column of sample s, direction d starts at (s*directions + d)*m)
      for (int d = 0; d < directions; d++)
        gemm(ta, tb, m, samples, k, x, item(x, 0, d) * xn, lda, y, 0, ldb, out, (long) d * m, directions * m, beta);
      return out;
    }
    if (c == null && x.samples() == 1 && directions > 1 && y.directions() == 1 && samples > 1 && y.samples() == samples && !transposeB
        && (long) n * samples <= Integer.MAX_VALUE) {
      // per-direction left items shared by the samples (a convolution's filter directions) times
      // per-sample items (its unfolded inputs): for each direction one gemm over all samples' items
      // side by side into a scratch block, each sample's m x n result then copied into place (the
      // result's items are sample-major): D gemms of N·n columns instead of N·D small ones
      if (!transposeA && directDirectionsOverSamples(m, n, k, samples, directions, x, y, out)) return out;
      directionsOverSamples(ta, tb, m, n, k, samples, directions, x, lda, y, ldb, out);
      return out;
    }
    if (c == null && !transposeA && !columns && samples > 1 && n > 1 && directions > 1 && x.directions() == directions && x.samples() == samples
        && y.directions() == 1 && y.samples() == samples && k >= STACKED_MIN_DEPTH
        && (long) directions * m * Math.max(k, n) * precision.bytes() <= Integer.MAX_VALUE && x.block.bytes != null && out.block.bytes != null) {
      // per-(sample, direction) left items times one right item per sample, several samples (a
      // convolution weight's columns J_W' S, r per sample): the D left items of a sample stacked
      // into one D·m x k matrix, one gemm per sample, D·m rows deep where the items' gemms are m
      // deep. Not for one sample (bda's V ā, the Kronecker eigenbases: their routes are measured),
      // nor for column results (n = 1)
      stackedLeftItems(tb, m, n, k, samples, directions, x, y, ldb, out);
      return out;
    }
    boolean writeBound = !columns && ThinProducts.applies(m, n, k, bytes, beta);
    if (columns || writeBound) {
      // several large matrices times a column each (bda's V ā per direction): one gemv per core;
      // products whose cost is writing the result (bda's outer products (H̄ V ā) ā' per direction):
      // in column blocks computed in the cache and copied into place
      long[] ao = new long[items], bo = new long[items];
      for (int s = 0, t = 0; s < samples; s++)
        for (int d = 0; d < directions; d++, t++) {
          ao[t] = item(x, s, d) * xn;
          bo[t] = item(y, s, d) * yn;
        }
      if (columns) thin.matrixVector(ta, tb, m, k, items, x, ao, lda, y, bo, ldb, out, beta);
      else thin.multiply(ta, tb, m, n, k, items, x, ao, lda, y, bo, ldb, out);
      return out;
    }
    // one product per result item, on views into the blocks, each routed by gemm (gemv for a column,
    // large float32 ones on oneDNN's matmul)
    for (int s = 0, t = 0; s < samples; s++)
      for (int d = 0; d < directions; d++, t++)
        gemm(ta, tb, m, n, k, x, item(x, s, d) * xn, lda, y, item(y, s, d) * yn, ldb, out, t * mn, ldc, beta);
    return out;
  }

  /**
   * Whether {@code op(a) b + c} is a single float32 gemm on oneDNN with c as the matmul's bias: one
   * shared left item, column items (n = 1) side by side, c one m x 1 column added to every item (a
   * linear layer's bias), a product large enough for oneDNN ({@link #ONEDNN_MIN_VOLUME}).
   */
  private boolean biasOfOneGemm(BlasBatch x, boolean transposeB, int m, int n, int k, long items, BlasBatch c) {
    return onednnMatmul && x.items() == 1 && !transposeB && n == 1 && c.items() == 1 && c.rows() == m && c.cols() == 1
        && items <= Integer.MAX_VALUE && m * items * k >= ONEDNN_MIN_VOLUME;
  }

  /**
   * Bytes of stacked filters up to which {@link #directDirectionsOverSamples} runs: they are read
   * once per block of pixels, so they should stay in a core's L2 cache.
   */
  private static final long DIRECT_FILTER_BYTES = 1L << 20;

  /**
   * {@link #product}'s path for per-direction left items times per-sample right items (a
   * convolution's filter directions times its unfolded inputs, {@code J_W v}) on {@link
   * VectorConvolution}'s kernel, where it runs and the shapes suit it: float64, m a multiple of 8,
   * at least 64 columns per sample, the D filters stacked ({@code D·m x k}) within {@link
   * #DIRECT_FILTER_BYTES}, a sample's item within {@link BlasConvolutions#DIRECT_ARRAY_BYTES}, a
   * result block of at most 2 GiB. Each sample's item is read once and
   * multiplied by all D filters, {@code D·m} rows deep where OpenBLAS's gemms per direction are m
   * deep; the results go straight into their items. False (nothing done) elsewhere.
   */
  private boolean directDirectionsOverSamples(int m, int n, int k, int samples, int directions, BlasBatch x, BlasBatch y, BlasBatch out) {
    if (precision != Precision.FLOAT64 || !BlasConvolutions.DIRECT_AVAILABLE || !VectorConvolution.supports(m) || n < 64
        || (long) directions * m * k * Double.BYTES > DIRECT_FILTER_BYTES || (long) k * n * Double.BYTES > BlasConvolutions.DIRECT_ARRAY_BYTES
        || out.block.bytes == null)
      return false;
    long xn = x.itemSize(), yn = y.itemSize(), mn = (long) m * n;
    double[] f = new double[directions * m * k];
    for (int d = 0; d < directions; d++) x.read(item(x, 0, d) * xn, f, d * m * k, m * k);
    VectorConvolution kernel = VectorConvolution.columns(f, m, k, n, directions);
    java.nio.ByteBuffer target = out.block.bytes;
    int workers = workers(samples);
    double[][] input = new double[workers][];
    singleThreadedInTurn(samples, samples * directions * mn, (worker, s) -> {
      if (input[worker] == null) input[worker] = kernel.newInput();
      y.read(item(y, (int) s, 0) * yn, input[worker], 0, k * n);
      kernel.apply(input[worker], target, (int) (s * directions * mn * Double.BYTES));
    });
    Reference.reachabilityFence(out.block);
    return true;
  }

  /**
   * The bytes of right items (unfolded inputs) that {@link #directionsOverSamples} multiplies by every direction before it
   * moves on: a run of samples read from memory once and then from the cache by the other directions' gemms, where the
   * whole batch's would be read from memory once per direction (m, the filters' rows, is only 16 or 32 deep). Measured
   * (docs/performance.md, fifth session of 2026-12-06): c4d3's {@code J_W v} of its second convolution, float32, 10
   * directions, batch 100, min of 15: 36-42 ms with the whole batch, 25-26 ms in runs of 12-25 samples (7-15 MB); the
   * other shapes of c4d3 unchanged. Package-private and not final for the tests, which force short runs.
   */
  static volatile long directionsRunBytes = Long.getLong("hbp.blas.directionsRunBytes", 8L << 20);

  /** The samples of a run: as many items of {@code itemBytes} as fit {@code runBytes}, at least one, at most all. */
  static int samplesPerRun(long itemBytes, int samples, long runBytes) {
    return (int) Math.max(1, Math.min(samples, runBytes / Math.max(1, itemBytes)));
  }

  /**
   * The per-direction gemms of {@link #product}'s path for shared left items per direction and per-sample right items, over
   * runs of samples ({@link #directionsRunBytes}).
   */
  private void directionsOverSamples(int ta, int tb, int m, int n, int k, int samples, int directions, BlasBatch x, int lda, BlasBatch y, int ldb,
      BlasBatch out) {
    long mn = (long) m * n, bytes = mn * precision.bytes();
    int run = samplesPerRun(y.itemSize() * precision.bytes(), samples, directionsRunBytes);
    BlasBatch scratch = be.alloc("product", 1, 1, m, n * run, false);
    try {
      for (int s0 = 0; s0 < samples; s0 += run) {
        int count = Math.min(run, samples - s0);
        for (int d = 0; d < directions; d++) {
          gemm(ta, tb, m, n * count, k, x, item(x, 0, d) * x.itemSize(), lda, y, item(y, s0, 0) * y.itemSize(), ldb, scratch, 0, m, 0);
          for (int s = 0; s < count; s++)
            Pointer.memcpy(new Pointer(out.pointer()).position(((long) (s0 + s) * directions + d) * bytes), new Pointer(scratch.pointer()).position(s * bytes),
                bytes);
        }
      }
      Reference.reachabilityFence(out);
      Reference.reachabilityFence(scratch);
    } finally {
      be.release(scratch);
    }
  }

  /**
   * The least reduction depth k for {@link #stackedLeftItems}: shallower products (outer products,
   * k = 1) cost their writes, which the thin products' route handles.
   */
  static final int STACKED_MIN_DEPTH = 32;

  /**
   * {@code C_{s,d} = A_{s,d} op(B_s)} for D left items per sample and one right item per sample:
   * per sample, the D items {@code A_{s,d}} (m x k each) copied into the rows of one D·m x k
   * scratch matrix, one gemm with {@code B_s}, and the D·m x n result copied into the D result
   * items: each column's m entries are one bulk copy of the blocks' buffers each way.
   */
  private void stackedLeftItems(int tb, int m, int n, int k, int samples, int directions, BlasBatch x, BlasBatch y, int ldb, BlasBatch out) {
    int rows = directions * m, eb = precision.bytes(), column = m * eb;
    long xn = x.itemSize(), yn = y.itemSize(), mn = (long) m * n;
    BlasBatch left = be.alloc("product", 1, 1, rows, k, false), result = be.alloc("product", 1, 1, rows, n, false);
    try {
      java.nio.ByteBuffer a = x.block.bytes, stacked = left.block.bytes, r = result.block.bytes, c = out.block.bytes;
      for (int s = 0; s < samples; s++) {
        for (int d = 0; d < directions; d++) {
          long from = item(x, s, d) * xn;
          for (int j = 0; j < k; j++) stacked.put(((j * rows) + d * m) * eb, a, (int) ((from + (long) j * m) * eb), column);
        }
        gemm(CblasNoTrans, tb, rows, n, k, left, 0, rows, y, item(y, s, 0) * yn, ldb, result, 0, rows, 0);
        for (int d = 0; d < directions; d++) {
          long to = ((long) s * directions + d) * mn;
          for (int j = 0; j < n; j++) c.put((int) ((to + (long) j * m) * eb), r, (j * rows + d * m) * eb, column);
        }
      }
      Reference.reachabilityFence(x);
      Reference.reachabilityFence(out);
    } finally {
      be.release(left);
      be.release(result);
    }
  }

  /** A column of ones for {@link #sumSamples}, grown as needed (never shrunk). */
  private Pointer ones;
  private long onesLength;

  private synchronized Pointer ones(long n) {
    if (n > onesLength) {
      if (precision == Precision.FLOAT64) {
        DoublePointer p = new DoublePointer(n);
        for (long i = 0; i < n; i++) p.put(i, 1.0);
        ones = p;
      } else {
        FloatPointer p = new FloatPointer(n);
        for (long i = 0; i < n; i++) p.put(i, 1f);
        ones = p;
      }
      onesLength = n;
    }
    return ones;
  }

  /**
   * The sum over samples of x's items into out (1 x D items), or false where the sizes pass the
   * int range of BLAS: x's items, sample-major, are the columns of a (D·item) x N matrix, and the
   * sum is that matrix times a column of N ones, one gemv (which streams x once; OpenBLAS splits its
   * rows between the threads, so the order of the additions does not depend on their number). Sums
   * of at most {@link #SUM_ONE_THREAD_BYTES} run on one thread: a bias gradient of the FC net (1024 x
   * 500 floats) took 14 µs on one thread and 18 µs on two at best, 14–27 against 25–52 µs on average,
   * the second thread's wake-up and the meeting at the end costing more than half the streaming.
   */
  boolean sumSamples(BlasBatch x, BlasBatch out) {
    long rows = (long) x.directions() * x.itemSize();
    int samples = x.samples();
    if (rows > Integer.MAX_VALUE || rows == 0 || samples == 0) return false;
    boolean oneThread = rows * samples * precision.bytes() <= SUM_ONE_THREAD_BYTES;
    if (oneThread) OpenBlasThreads.set(1);
    else useThreads();
    try {
      Pointer e = ones(samples);
      if (precision == Precision.FLOAT64)
        cblas_dgemv(CblasColMajor, CblasNoTrans, (int) rows, samples, 1.0, x.doubles, (int) rows, (DoublePointer) e, 1, 0.0, out.doubles, 1);
      else
        cblas_sgemv(CblasColMajor, CblasNoTrans, (int) rows, samples, 1f, x.floats, (int) rows, (FloatPointer) e, 1, 0f, out.floats, 1);
    } finally {
      if (oneThread) useThreads();
    }
    Reference.reachabilityFence(x);
    Reference.reachabilityFence(out);
    return true;
  }

  /** The largest sum over samples (bytes of x) that {@link #sumSamples} runs on one thread. */
  static final long SUM_ONE_THREAD_BYTES = Long.getLong("hbp.blas.sumOneThreadBytes", 4L << 20);

  /**
   * {@code out = c x} over the first n entries (n within the int range): a native copy, then
   * OpenBLAS's scal on it. In float32 the factor is rounded to float first, as BLAS takes it.
   */
  void scale(BlasBatch x, double c, BlasBatch out, int n) {
    if (precision == Precision.FLOAT64) {
      cblas_dcopy(n, x.doubles, 1, out.doubles, 1);
      cblas_dscal(n, c, out.doubles, 1);
    } else {
      cblas_scopy(n, x.floats, 1, out.floats, 1);
      cblas_sscal(n, (float) c, out.floats, 1);
    }
    Reference.reachabilityFence(x);
    Reference.reachabilityFence(out);
  }

  /** Writes c's items into out's, c's batch axes of extent 1 broadcast (native copies of whole items). */
  void copyBroadcast(BlasBatch c, BlasBatch out) {
    long mn = (long) out.rows() * out.cols(), bytes = mn * precision.bytes();
    if (mn == 0) return;
    if (c.samples() == out.samples() && c.directions() == out.directions()) {
      Pointer.memcpy(out.pointer(), c.pointer(), bytes * out.samples() * out.directions());
    } else {
      for (int s = 0, t = 0; s < out.samples(); s++)
        for (int d = 0; d < out.directions(); d++, t++) {
          // Pointer.memcpy offsets untyped pointers by their position in bytes
          long to = t * bytes, from = item(c, s, d) * bytes;
          Pointer.memcpy(new Pointer(out.pointer()).position(to), new Pointer(c.pointer()).position(from), bytes);
        }
    }
    Reference.reachabilityFence(c);
    Reference.reachabilityFence(out);
  }

  /** {@link BlasBackend#matmulSumSamples} of checked operands. */
  BlasBatch matmulSumSamples(BlasBatch x, boolean transposeA, BlasBatch y, boolean transposeB) {
    BackendChecks.Product shape = BackendChecks.matmulSumSamplesShape(x, transposeA, y, transposeB);
    int m = shape.m(), k = shape.k(), n = shape.n(), samples = shape.samples(), directions = shape.directions();
    BlasBatch out = be.alloc("matmulSumSamples", 1, directions, m, n, k == 0);
    if (m == 0 || n == 0 || k == 0) return out;
    useThreads();
    int ta = transposeA ? CblasTrans : CblasNoTrans, tb = transposeB ? CblasTrans : CblasNoTrans;
    int lda = transposeA ? k : m, ldb = transposeB ? n : k, ldc = m;
    long xn = x.itemSize(), yn = y.itemSize(), mn = (long) m * n;
    if (x.samples() == samples && y.samples() == samples && !transposeA && transposeB && (long) k * samples <= Integer.MAX_VALUE) {
      if (directions == 1) {
        // sum_s A_s B_s' = [A_1 ... A_S] [B_1 ... B_S]': one m x (S*k) times (S*k) x n gemm
        gemm(ta, tb, m, n, k * samples, x, 0, lda, y, 0, ldb, out, 0, ldc, 0);
        return out;
      }
      long ldx = (long) m * x.directions(), ldy = (long) n * y.directions();
      if (k == 1 && ldx <= Integer.MAX_VALUE && ldy <= Integer.MAX_VALUE) {
        // outer products (a weight gradient per direction): the column items of one direction are
        // every D-th column of the matrix of all items, a matrix with leading dimension m*D; one gemm
        // per direction, nothing copied
        for (int d = 0; d < directions; d++)
          gemm(ta, tb, m, n, samples, x, item(x, 0, d) * xn, (int) ldx, y, item(y, 0, d) * yn, (int) ldy, out, d * mn, ldc, 0);
        return out;
      }
    }
    if (x.samples() == samples && x.directions() == directions && directions > 1 && samples > 1 && y.samples() == samples && y.directions() == 1
        && !transposeA && transposeB && (long) k * samples <= Integer.MAX_VALUE) {
      // per-direction items against per-sample ones (a convolution weight's gradient for D
      // directions: sum_s Y_{s,d} U_s'): for each direction its samples' items copied side by side,
      // then one m x (S*k) times (S*k) x n gemm, as for one direction (N·D small gemms otherwise)
      long mk = (long) m * k, bytes = mk * precision.bytes();
      BlasBatch side = be.alloc("matmulSumSamples", 1, 1, m, k * samples, false);
      try {
        for (int d = 0; d < directions; d++) {
          for (int s = 0; s < samples; s++)
            Pointer.memcpy(new Pointer(side.pointer()).position(s * bytes), new Pointer(x.pointer()).position(item(x, s, d) * bytes), bytes);
          gemm(ta, tb, m, n, k * samples, side, 0, lda, y, 0, ldb, out, d * mn, ldc, 0);
        }
        Reference.reachabilityFence(x);
        Reference.reachabilityFence(side);
      } finally {
        be.release(side);
      }
      return out;
    }
    if (x.directions() == 1 && !transposeB && (long) n * directions <= Integer.MAX_VALUE) {
      // per sample, op(A_s) times that sample's directions side by side, accumulated (beta = 1)
      for (int s = 0; s < samples; s++)
        gemm(ta, tb, m, n * directions, k, x, item(x, s, 0) * xn, lda, y, item(y, s, 0) * yn, ldb, out, 0, ldc, s == 0 ? 0 : 1);
      return out;
    }
    for (int s = 0; s < samples; s++)
      for (int d = 0; d < directions; d++)
        gemm(ta, tb, m, n, k, x, item(x, s, d) * xn, lda, y, item(y, s, d) * yn, ldb, out, d * mn, ldc, s == 0 ? 0 : 1);
    return out;
  }

  /** C = op(A) op(B) at the given entry offsets of the blocks (beta = 0). */
  private void gemm(int ta, int tb, int m, int n, int k, BlasBatch a, long ao, int lda, BlasBatch b, long bo, int ldb, BlasBatch c,
      long co, int ldc) {
    gemm(ta, tb, m, n, k, a, ao, lda, b, bo, ldb, c, co, ldc, 0);
  }

  /**
   * float32 matrix products by oneDNN's matmul primitive (the default where oneDNN loads; {@link
   * DnnlMatmul#multiply}, not its sgemm, which corrupts the heap when a signal interrupts it) or
   * OpenBLAS's sgemm ({@code -Dhbp.blas.sgemm=openblas}); timings in docs/performance.md. Matrix-vector
   * products (gemv) and float64 stay on OpenBLAS.
   */
  /**
   * The smallest product {@code m n k} sent to oneDNN. Measured quiet here (docs/performance.md,
   * 2026-12-05): a matmul call costs 3.5 µs of set-up for the smallest products and about 47 µs
   * from 32^3 on (its OpenMP threads waking), where OpenBLAS multiplies a 10 x 10 by a 10 x 1 in
   * 0.05 µs; the many per-sample products of a loss Hessian stay on OpenBLAS. 2^18 and 2^24 timed
   * alike on the FC and c4d3 passes and products (three alternate rounds).
   */
  static final long ONEDNN_MIN_VOLUME = Long.getLong("hbp.blas.onednnMinVolume", 1L << 18);

  static final boolean SGEMM_ONEDNN = !"openblas".equals(System.getProperty("hbp.blas.sgemm", "onednn"));

  /** Which library runs these products' float32 matrix products: "oneDNN" or "OpenBLAS" (float64, fewer threads, or no oneDNN). */
  String sgemmLibrary() {
    return onednnMatmul ? "oneDNN" : "OpenBLAS";
  }

  /** C = op(A) op(B) + beta C at the given entry offsets of the blocks (beta 0 ignores C's contents). */
  void gemm(int ta, int tb, int m, int n, int k, BlasBatch a, long ao, int lda, BlasBatch b, long bo, int ldb, BlasBatch c,
      long co, int ldc, int beta) {
    if (n == 1) {
      // a matrix times one column: gemv, which streams A once; OpenBLAS's gemm packs A first
      // (measured: the bda product's V ā per direction took 8x the time of its outer product)
      int rows = ta == CblasNoTrans ? m : k, cols = ta == CblasNoTrans ? k : m, incx = tb == CblasNoTrans ? 1 : ldb;
      if (precision == Precision.FLOAT64)
        cblas_dgemv(CblasColMajor, ta, rows, cols, 1.0, at(a.doubles, ao), lda, at(b.doubles, bo), incx, beta, at(c.doubles, co), 1);
      else
        cblas_sgemv(CblasColMajor, ta, rows, cols, 1f, at(a.floats, ao), lda, at(b.floats, bo), incx, beta, at(c.floats, co), 1);
    } else if (precision == Precision.FLOAT64)
      cblas_dgemm(CblasColMajor, ta, tb, m, n, k, 1.0, at(a.doubles, ao), lda, at(b.doubles, bo), ldb, beta, at(c.doubles, co), ldc);
    else if (onednnMatmul && (long) m * n * k >= ONEDNN_MIN_VOLUME) {
      DnnlEngine.get().matmul().multiply(ta != CblasNoTrans, tb != CblasNoTrans, m, n, k, a, ao, lda, b, bo, ldb, c, co, ldc, beta != 0);
    } else
      cblas_sgemm(CblasColMajor, ta, tb, m, n, k, 1f, at(a.floats, ao), lda, at(b.floats, bo), ldb, beta, at(c.floats, co), ldc);
    Reference.reachabilityFence(a);
    Reference.reachabilityFence(b);
    Reference.reachabilityFence(c);
  }

  /** The block itself at offset 0, else a view at the offset (the view references the block, keeping it alive). */
  static DoublePointer at(DoublePointer p, long offset) {
    return offset == 0 ? p : new DoublePointer(p).position(offset);
  }

  static FloatPointer at(FloatPointer p, long offset) {
    return offset == 0 ? p : new FloatPointer(p).position(offset);
  }
}
