package org.hbp.backend.blas;

import static org.bytedeco.openblas.global.openblas_nolapack.CblasColMajor;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasNoTrans;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasTrans;
import static org.bytedeco.openblas.global.openblas_nolapack.cblas_dgemm;
import static org.bytedeco.openblas.global.openblas_nolapack.cblas_sgemm;
import static org.hbp.backend.BackendChecks.ADD;
import static org.hbp.backend.BackendChecks.DIVIDE;
import static org.hbp.backend.BackendChecks.MULTIPLY;
import static org.hbp.backend.BackendChecks.SUBTRACT;
import static org.hbp.backend.BackendChecks.item;

import java.lang.ref.Reference;
import java.util.Objects;
import java.util.function.DoubleUnaryOperator;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.openblas.global.openblas_nolapack;
import org.hbp.backend.Backend;
import org.hbp.backend.BackendChecks;
import org.hbp.backend.Batch;
import org.hbp.backend.ConvGeometry;
import org.hbp.backend.HostLinearAlgebra;
import org.hbp.backend.Precision;

/**
 * A {@link Backend} whose dense products run in OpenBLAS (multi-threaded {@code cblas_dgemm} or
 * {@code cblas_sgemm}, through JavaCPP's {@code org.bytedeco:openblas} bindings) on batches kept
 * in off-heap memory ({@link BlasBatch}), in {@link Precision#FLOAT64} or {@link
 * Precision#FLOAT32}.
 *
 * <p><b>matmul.</b> With a single shared left item and a non-transposed {@code b}, {@code b}'s
 * items side by side are one {@code k x (n*items)} matrix and the result is ONE gemm (this is the
 * shape of a layer's weight times a batch of inputs or directions). With a left item shared by the
 * directions of each sample (and {@code b} not transposed), one gemm per sample over that sample's
 * directions side by side. Otherwise one gemm per result item, on pointers into the blocks (the
 * Java bindings have no {@code cblas_?gemm_batch_strided}). Transposes are BLAS's {@code
 * CblasTrans} on the column-major items; nothing is copied. {@link #matmulSumSamples} sums in
 * BLAS too: {@code sum_s A_s B_s'} of one-direction batches is ONE gemm of the side-by-side items,
 * of column items one gemm per direction (a leading dimension that skips the other directions),
 * otherwise gemms accumulate into the result ({@code beta = 1}).
 *
 * <p><b>Other kernels</b> are Java loops over the off-heap blocks (bounds-checked Unsafe access
 * through JavaCPP's raw indexers, in fixed-size chunks or item-sized scratch arrays reused across
 * items), in parallel for large batches (below); inverse, determinant and the symmetric eigendecomposition copy each
 * (small) item to EJML ({@link HostLinearAlgebra}). They mirror the reference {@link
 * org.hbp.backend.cpu.CpuBackend}: the same shape checks, broadcasting and error messages (both
 * from {@link BackendChecks}).
 *
 * <p><b>FLOAT32.</b> Entries are stored as float ({@link #fromArray} rounds, {@link #toArray}
 * widens) and products run in {@code sgemm} (float accumulation). Scalar kernels evaluate each
 * entry in double and round the stored result to float: for {@code + - * /} of float operands that
 * is bit-identical to float arithmetic (double has more than 2*24+2 bits), for functions and
 * reductions (sums, softmax, log-sum-exp, EJML decompositions) it is at least as accurate. Indices
 * stored as float are exact only below 2^24: {@link #gather} and {@link #scatterAdd} refuse items
 * with more entries than that.
 *
 * <p><b>Threads.</b> OpenBLAS's thread count is a process-wide setting; each gemm call of this
 * backend first sets it to this backend's count when it differs (so two instances with different
 * counts used from different Java threads at once race for it: results stay correct, only the
 * count may be the other's).
 *
 * <p><b>Memory.</b> There is no {@code close()} on batches or on the backend, by design: see
 * {@link BlasBatch}. Every kernel returns a batch on a block from the backend's {@link BlockPool}:
 * a block handed back by {@link #release} (generated operators release their temporaries, a closed
 * pass everything it computed) is reused by the next allocation of its size with its pages already
 * mapped, so a training loop stops paying page faults after its first step. Blocks never released
 * are freed by JavaCPP once unreachable (after a garbage collection, or when JavaCPP's
 * {@code org.bytedeco.javacpp.maxBytes}, by default the maximum heap, is reached and it calls
 * {@code System.gc()}). The pool keeps at most {@code hbp.blas.poolBytes} bytes (default 2 GiB);
 * {@link #trimPool} frees them. On glibc, {@code GLIBC_TUNABLES=glibc.malloc.hugetlb=1} makes large
 * fresh blocks transparent huge pages, which cuts the cost of the first step.
 *
 * <p><b>Parallel loops.</b> The streaming kernels (elementwise, maps, unfold and fold, gathers,
 * sums over samples) split large batches over this backend's thread count, in a fork-join pool
 * of that size; small ones run on the caller's thread.
 */
public final class BlasBackend implements Backend {
  /** Entries per chunk of the streaming kernels (three chunks of doubles stay within L1/L2). */
  private static final int CHUNK = 1024;

  /** Indices held as float are exact up to here. */
  private static final int FLOAT_EXACT_INTS = 1 << 24;

  private final Precision precision;
  private final int threads;
  private final String name;
  /** Released blocks, reused by {@link #alloc}. */
  private final BlockPool pool;

  /** A FLOAT64 backend using all available processors. */
  public BlasBackend() {
    this(Precision.FLOAT64);
  }

  /** A backend of the given precision using {@link Runtime#availableProcessors()} BLAS threads. */
  public BlasBackend(Precision precision) {
    this(precision, Runtime.getRuntime().availableProcessors());
  }

  /**
   * A backend of the given precision whose gemm calls use {@code threads} OpenBLAS threads
   * ({@code openblas_set_num_threads}). Loads the OpenBLAS natives (extracted from the
   * {@code linux-x86_64} jar into JavaCPP's cache on first use).
   */
  public BlasBackend(Precision precision, int threads) {
    this.precision = Objects.requireNonNull(precision, "precision is null");
    if (threads < 1) throw new IllegalArgumentException("BlasBackend: thread count " + threads + "; expected >= 1");
    this.threads = threads;
    this.name = precision == Precision.FLOAT64 ? "blas-f64" : "blas-f32";
    this.pool = new BlockPool(precision, BlockPool.DEFAULT_LIMIT_BYTES);
    try {
      Loader.load(openblas_nolapack.class);
    } catch (UnsatisfiedLinkError | NoClassDefFoundError e) {
      throw new IllegalStateException("BlasBackend: the OpenBLAS natives (org.bytedeco:openblas, classifier "
          + Loader.getPlatform() + ") could not be loaded: " + e.getMessage(), e);
    }
    useThreads();
  }

  @Override
  public String name() {
    return name;
  }

  public Precision precision() {
    return precision;
  }

  /** The OpenBLAS threads of this backend's gemm calls. */
  public int threads() {
    return threads;
  }

  /** Sets OpenBLAS's (process-wide) thread count to this backend's, when it differs. */
  private void useThreads() {
    if (openblas_nolapack.blas_get_num_threads() != threads) {
      synchronized (BlasBackend.class) {
        if (openblas_nolapack.blas_get_num_threads() != threads) openblas_nolapack.blas_set_num_threads(threads);
      }
    }
  }

  // ---- helpers -----------------------------------------------------------------------------

  /** {@code b} as a batch of this backend, or an IllegalArgumentException naming the kernel and operand. */
  private BlasBatch blas(String kernel, String operand, Batch b) {
    Objects.requireNonNull(b, () -> kernel + ": operand " + operand + " is null");
    if (b instanceof BlasBatch c) {
      if (c.precision() == precision) return c.checkLive(kernel, operand);
      throw new IllegalArgumentException(kernel + ": operand " + operand + " " + b.describe() + " is a " + c.precision()
          + " batch, not a batch of the " + name + " backend");
    }
    throw new IllegalArgumentException(kernel + ": operand " + operand + " " + b.describe() + " is a "
        + b.getClass().getName() + ", not a batch of the " + name + " backend");
  }

  private BlasBatch alloc(String kernel, int samples, int directions, int rows, int cols, boolean zero) {
    long n = BlasBatch.entries(kernel, samples, directions, rows, cols);
    BlasBatch.Block block = pool.take(BlasBatch.capacity(n));
    if (zero) block.zero();
    return BlasBatch.on(block, precision, samples, directions, rows, cols, n);
  }

  /** Bytes of released blocks held for reuse now. */
  public long pooledBytes() {
    return pool.pooledBytes();
  }

  /** Allocations served from released blocks so far, and those that needed fresh memory. */
  public long[] poolHitsAndMisses() {
    return new long[] {pool.hits(), pool.misses()};
  }

  /** Frees the released blocks held for reuse (live batches are not affected). */
  public void trimPool() {
    pool.clear();
  }

  // ---- parallel loops ----------------------------------------------------------------------

  /** Below this many entries touched, a loop runs on the caller's thread (a fork costs microseconds). */
  private static final long PARALLEL_MIN_ENTRIES = Long.getLong("hbp.blas.parallelMinEntries", 1 << 15);

  /** The body of a parallel loop over a range of indices (items, or chunks of entries). */
  private interface RangeBody {
    void run(long from, long to);
  }

  private static final java.util.concurrent.ConcurrentHashMap<Integer, java.util.concurrent.ForkJoinPool> WORKERS =
      new java.util.concurrent.ConcurrentHashMap<>();

  /**
   * Runs {@code body} over {@code [0, n)}: at once when {@code entries} (the work, in entries
   * touched) is small or this backend has one thread, else in {@code threads} contiguous parts on a
   * fork-join pool of one thread fewer and the caller's thread, returning when all are done.
   */
  private void parallel(long n, long entries, RangeBody body) {
    int parts = (int) Math.min(threads, n);
    if (parts <= 1 || entries < PARALLEL_MIN_ENTRIES) {
      body.run(0, n);
      return;
    }
    // parts 1.. on the pool, part 0 on the caller's thread (one hand-off fewer per kernel)
    java.util.concurrent.ForkJoinPool workers = WORKERS.computeIfAbsent(threads - 1, java.util.concurrent.ForkJoinPool::new);
    java.util.List<java.util.concurrent.ForkJoinTask<?>> tasks = new java.util.ArrayList<>(parts - 1);
    for (int i = 1; i < parts; i++) {
      long from = n * i / parts, to = n * (i + 1) / parts;
      tasks.add(workers.submit(() -> body.run(from, to)));
    }
    RuntimeException failure = null;
    try {
      body.run(0, n / parts);
    } catch (RuntimeException e) {
      failure = e;
    }
    for (java.util.concurrent.ForkJoinTask<?> t : tasks) {
      try {
        t.join();
      } catch (RuntimeException e) {
        if (failure == null) failure = e;
      }
    }
    if (failure != null) throw failure;
  }

  /** Runs {@code body(from, to)} over entry ranges of {@code [0, n)} cut at multiples of {@link #CHUNK}. */
  private void parallelChunks(long n, RangeBody body) {
    long chunks = (n + CHUNK - 1) / CHUNK;
    parallel(chunks, n, (c0, c1) -> body.run(c0 * CHUNK, Math.min(n, c1 * CHUNK)));
  }

  // ---- transfer ------------------------------------------------------------------------------

  @Override
  public Batch fromArray(int samples, int directions, int rows, int cols, double[] data) {
    BackendChecks.checkFromArray(samples, directions, rows, cols, data);
    BlasBatch out = alloc("fromArray", samples, directions, rows, cols, false);
    if (precision == Precision.FLOAT64) {
      out.doubles.put(data, 0, data.length); // one native copy
    } else {
      float[] f = new float[Math.min(data.length, 1 << 16)];
      for (int o = 0; o < data.length; o += f.length) {
        int len = Math.min(f.length, data.length - o);
        for (int p = 0; p < len; p++) f[p] = (float) data[o + p];
        if (o == 0) out.floats.put(f, 0, len);
        else new FloatPointer(out.floats).position(o).put(f, 0, len);
      }
      Reference.reachabilityFence(out);
    }
    return out;
  }

  @Override
  public double[] toArray(Batch b) {
    BlasBatch x = blas("toArray", "b", b);
    if (x.length() > BackendChecks.MAX_ENTRIES)
      throw new IllegalArgumentException("toArray: " + x.describe() + " has " + x.length() + " entries, more than a Java array holds");
    int n = (int) x.length();
    double[] out = new double[n];
    if (precision == Precision.FLOAT64) {
      x.doubles.get(out, 0, n);
    } else {
      float[] f = new float[Math.min(n, 1 << 16)];
      for (int o = 0; o < n; o += f.length) {
        int len = Math.min(f.length, n - o);
        if (o == 0) x.floats.get(f, 0, len);
        else new FloatPointer(x.floats).position(o).get(f, 0, len);
        for (int p = 0; p < len; p++) out[o + p] = f[p];
      }
    }
    Reference.reachabilityFence(x);
    return out;
  }

  // ---- constants -----------------------------------------------------------------------------

  @Override
  public Batch fill(int rows, int cols, double value) {
    BackendChecks.checkFill(rows, cols);
    boolean zero = Double.doubleToRawLongBits(value) == 0; // +0.0 only: -0.0 is written like any value
    BlasBatch out = alloc("fill", 1, 1, rows, cols, zero);
    if (!zero) for (long p = 0, n = out.length(); p < n; p++) out.set(p, value);
    return out;
  }

  @Override
  public Batch eye(int n) {
    BackendChecks.checkEye(n);
    BlasBatch out = alloc("eye", 1, 1, n, n, true);
    for (int i = 0; i < n; i++) out.set(i + (long) n * i, 1);
    return out;
  }

  // ---- free views ----------------------------------------------------------------------------

  @Override
  public boolean sharesStorage(Batch a, Batch b) {
    return a instanceof BlasBatch x && b instanceof BlasBatch y && x.block == y.block && x.generation == y.generation;
  }

  /**
   * Hands the block back for reuse by a later allocation of the same size (its views die with it).
   * Using the batch or a view afterwards is a bug of the caller and fails with an
   * IllegalStateException; releasing it again is a no-op.
   */
  @Override
  public void release(Batch b) {
    Objects.requireNonNull(b, "release: operand b is null");
    if (!(b instanceof BlasBatch x) || x.precision() != precision) {
      blas("release", "b", b); // throws, naming the wrong kind of batch
      return;
    }
    pool.give(x.block, x.generation);
  }

  @Override
  public Batch reshape(Batch a, int rows, int cols) {
    BlasBatch x = blas("reshape", "a", a);
    BackendChecks.checkReshape(x, rows, cols);
    return x.view(x.samples(), x.directions(), rows, cols);
  }

  @Override
  public Batch columnsAsDirections(Batch a) {
    BlasBatch x = blas("columnsAsDirections", "a", a);
    return x.view(x.samples(), BackendChecks.columnsAsDirections(x), x.rows(), 1);
  }

  @Override
  public Batch directionsAsColumns(Batch a, int cols) {
    BlasBatch x = blas("directionsAsColumns", "a", a);
    BackendChecks.checkDirectionsAsColumns(x, cols);
    return x.view(x.samples(), x.directions() / cols, x.rows(), cols);
  }

  // ---- elementwise ---------------------------------------------------------------------------

  @Override
  public Batch add(Batch a, Batch b) {
    return elementwise("add", ADD, a, b);
  }

  @Override
  public Batch subtract(Batch a, Batch b) {
    return elementwise("subtract", SUBTRACT, a, b);
  }

  @Override
  public Batch multiply(Batch a, Batch b) {
    return elementwise("multiply", MULTIPLY, a, b);
  }

  @Override
  public Batch divide(Batch a, Batch b) {
    return elementwise("divide", DIVIDE, a, b);
  }

  private Batch elementwise(String kernel, int op, Batch a, Batch b) {
    BlasBatch x = blas(kernel, "a", a), y = blas(kernel, "b", b);
    BackendChecks.Elementwise e = BackendChecks.elementwise(kernel, x, y);
    int samples = e.samples(), directions = e.directions(), rows = e.rows(), cols = e.cols();
    boolean xScalar = e.aScalar(), yScalar = e.bScalar();
    BlasBatch out = alloc(kernel, samples, directions, rows, cols, false);
    if (!xScalar && !yScalar && x.samples() == y.samples() && x.directions() == y.directions()) {
      // same layout: one pass over the blocks
      parallelChunks(out.length(), (from, to) -> {
        double[] bx = new double[CHUNK], by = new double[CHUNK], bo = new double[CHUNK];
        streamBinary(op, x, from, false, y, from, false, out, from, to - from, bx, by, bo);
      });
      return out;
    }
    long xn = x.itemSize(), yn = y.itemSize(), n = (long) rows * cols;
    parallel((long) samples * directions, out.length(), (from, to) -> {
      double[] bx = new double[CHUNK], by = new double[CHUNK], bo = new double[CHUNK];
      for (long t = from; t < to; t++) {
        int sa = (int) (t / directions), d = (int) (t % directions);
        streamBinary(op, x, item(x, sa, d) * xn, xScalar, y, item(y, sa, d) * yn, yScalar, out, t * n, n, bx, by, bo);
      }
    });
    return out;
  }

  /** out[oo + p] = x[xo + p] op y[yo + p] for p < n in chunks, where a scalar operand is the one entry at its offset. */
  private static void streamBinary(int op, BlasBatch x, long xo, boolean xs, BlasBatch y, long yo, boolean ys, BlasBatch out,
      long oo, long n, double[] bx, double[] by, double[] bo) {
    if (xs) bx[0] = x.get(xo);
    if (ys) by[0] = y.get(yo);
    for (long q = 0; q < n; q += CHUNK) {
      int len = (int) Math.min(CHUNK, n - q);
      if (!xs) x.read(xo + q, bx, 0, len);
      if (!ys) y.read(yo + q, by, 0, len);
      combine(op, bx, xs, by, ys, bo, len);
      out.write(oo + q, bo, 0, len);
    }
  }

  /** out[p] = x[p] op y[p] for p < n, where a scalar operand is its entry 0. */
  private static void combine(int op, double[] x, boolean xs, double[] y, boolean ys, double[] out, int n) {
    if (xs && ys) {
      double r = BackendChecks.scalarOp(op, x[0], y[0]);
      for (int p = 0; p < n; p++) out[p] = r;
    } else if (xs) {
      double v = x[0];
      switch (op) {
        case ADD -> { for (int p = 0; p < n; p++) out[p] = v + y[p]; }
        case SUBTRACT -> { for (int p = 0; p < n; p++) out[p] = v - y[p]; }
        case MULTIPLY -> { for (int p = 0; p < n; p++) out[p] = v * y[p]; }
        default -> { for (int p = 0; p < n; p++) out[p] = v / y[p]; }
      }
    } else if (ys) {
      double w = y[0];
      switch (op) {
        case ADD -> { for (int p = 0; p < n; p++) out[p] = x[p] + w; }
        case SUBTRACT -> { for (int p = 0; p < n; p++) out[p] = x[p] - w; }
        case MULTIPLY -> { for (int p = 0; p < n; p++) out[p] = x[p] * w; }
        default -> { for (int p = 0; p < n; p++) out[p] = x[p] / w; }
      }
    } else {
      switch (op) {
        case ADD -> { for (int p = 0; p < n; p++) out[p] = x[p] + y[p]; }
        case SUBTRACT -> { for (int p = 0; p < n; p++) out[p] = x[p] - y[p]; }
        case MULTIPLY -> { for (int p = 0; p < n; p++) out[p] = x[p] * y[p]; }
        default -> { for (int p = 0; p < n; p++) out[p] = x[p] / y[p]; }
      }
    }
  }

  /** An entrywise map of a whole batch, chunk by chunk (f works in place on each chunk). */
  private interface ChunkOp {
    void apply(double[] chunk, int n);
  }

  private BlasBatch mapChunks(String kernel, BlasBatch x, ChunkOp f) {
    BlasBatch out = alloc(kernel, x.samples(), x.directions(), x.rows(), x.cols(), false);
    parallelChunks(x.length(), (from, to) -> {
      double[] buf = new double[CHUNK];
      for (long q = from; q < to; q += CHUNK) {
        int len = (int) Math.min(CHUNK, to - q);
        x.read(q, buf, 0, len);
        f.apply(buf, len);
        out.write(q, buf, 0, len);
      }
    });
    return out;
  }

  @Override
  public Batch mapMultiply(Batch a, DoubleUnaryOperator f, Batch b) {
    BlasBatch x = blas("mapMultiply", "a", a), y = blas("mapMultiply", "b", b);
    Objects.requireNonNull(f, "mapMultiply: function is null");
    // in one pass when both have the same layout: oneDNN's backward pass for a built-in's
    // derivative, else f's chunk form; other layouts (or no chunk form): map, then multiply
    if (!(f instanceof org.hbp.backend.ScalarFunction sf) || x.samples() != y.samples() || x.directions() != y.directions()
        || x.rows() != y.rows() || x.cols() != y.cols())
      return Backend.super.mapMultiply(a, f, b);
    DnnlKernels d = dnnl();
    int algorithm = DnnlKernels.eltwiseBackwardAlgorithm(sf.builtin());
    if (d != null && algorithm >= 0 && x.length() > 0) {
      BlasBatch out = alloc("mapMultiply", x.samples(), x.directions(), x.rows(), x.cols(), false);
      try {
        d.eltwiseBackward(algorithm, x, y, out, x.length());
        return out;
      } catch (DnnlKernels.Unsupported e) {
        release(out); // computed below in Java
      }
    }
    if (sf.chunk() == null) return Backend.super.mapMultiply(a, f, b);
    org.hbp.backend.ScalarFunction.ChunkMap fc = sf.chunk();
    BlasBatch out = alloc("mapMultiply", x.samples(), x.directions(), x.rows(), x.cols(), false);
    parallelChunks(out.length(), (from, to) -> {
      double[] bx = new double[CHUNK], by = new double[CHUNK];
      for (long q = from; q < to; q += CHUNK) {
        int len = (int) Math.min(CHUNK, to - q);
        x.read(q, bx, 0, len);
        fc.apply(bx, len);
        y.read(q, by, 0, len);
        for (int p = 0; p < len; p++) bx[p] *= by[p];
        out.write(q, bx, 0, len);
      }
    });
    return out;
  }

  @Override
  public Batch scale(Batch a, double c) {
    BlasBatch x = blas("scale", "a", a);
    return mapChunks("scale", x, (d, n) -> {
      for (int p = 0; p < n; p++) d[p] = c * d[p];
    });
  }

  @Override
  public Batch power(Batch a, double exponent) {
    BlasBatch x = blas("power", "a", a);
    if (exponent == 2) return mapChunks("power", x, (d, n) -> {
      for (int p = 0; p < n; p++) d[p] = d[p] * d[p];
    });
    if (exponent == 1) return mapChunks("power", x, (d, n) -> {});
    return mapChunks("power", x, (d, n) -> {
      for (int p = 0; p < n; p++) d[p] = Math.pow(d[p], exponent);
    });
  }

  @Override
  public Batch map(Batch a, DoubleUnaryOperator f) {
    BlasBatch x = blas("map", "a", a);
    Objects.requireNonNull(f, "map: function is null");
    if (f instanceof org.hbp.backend.ScalarFunction sf) {
      DnnlKernels d = dnnl();
      int algorithm = DnnlKernels.eltwiseAlgorithm(sf.builtin());
      if (d != null && algorithm >= 0 && x.length() > 0) {
        BlasBatch out = alloc("map", x.samples(), x.directions(), x.rows(), x.cols(), false);
        try {
          d.eltwise(algorithm, x, out, x.length());
          return out;
        } catch (DnnlKernels.Unsupported e) {
          release(out); // computed below in Java
        }
      }
      if (sf.chunk() != null) return mapChunks("map", x, sf.chunk()::apply);
    }
    return mapChunks("map", x, (d, n) -> {
      for (int p = 0; p < n; p++) d[p] = f.applyAsDouble(d[p]);
    });
  }

  // ---- per-item linear algebra ---------------------------------------------------------------

  @Override
  public Batch matmul(Batch a, boolean transposeA, Batch b, boolean transposeB) {
    return product("matmul", blas("matmul", "a", a), transposeA, blas("matmul", "b", b), transposeB, null);
  }

  @Override
  public Batch matmulAdd(Batch a, boolean transposeA, Batch b, boolean transposeB, Batch c) {
    Objects.requireNonNull(c, "matmulAdd: operand c is null");
    BlasBatch x = blas("matmulAdd", "a", a), y = blas("matmulAdd", "b", b), z = blas("matmulAdd", "c", c);
    BackendChecks.Product shape = BackendChecks.matmulShape(x, transposeA, y, transposeB);
    // c must have the product's item shape and no batch axis the product lacks; anything else (a
    // scalar c, a c with more samples) is the default's add, with its broadcasting and messages
    if (z.rows() != shape.m() || z.cols() != shape.n() || (z.samples() != 1 && z.samples() != shape.samples())
        || (z.directions() != 1 && z.directions() != shape.directions()))
      return Backend.super.matmulAdd(a, transposeA, b, transposeB, c);
    return product("matmulAdd", x, transposeA, y, transposeB, z);
  }

  /**
   * {@code op(a) * op(b)}, plus {@code c} (broadcast over the batch axes) when c is not null: the
   * result starts as c's items and the gemms accumulate onto it (beta = 1).
   */
  private Batch product(String kernel, BlasBatch x, boolean transposeA, BlasBatch y, boolean transposeB, BlasBatch c) {
    BackendChecks.Product shape = BackendChecks.matmulShape(x, transposeA, y, transposeB);
    int m = shape.m(), k = shape.k(), n = shape.n(), samples = shape.samples(), directions = shape.directions();
    // k == 0: the product is zero and BLAS is not called
    BlasBatch out = alloc(kernel, samples, directions, m, n, k == 0 && c == null);
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
    if (x.samples() == 1 && y.directions() == 1 && y.samples() == samples && n == 1 && !transposeB && (long) directions * m <= Integer.MAX_VALUE) {
      // a per-direction left item (shared by the samples) times per-sample columns: for each
      // direction one gemm over all samples' columns, written with leading dimension directions*m
      // (the result column of sample s, direction d starts at (s*directions + d)*m)
      for (int d = 0; d < directions; d++)
        gemm(ta, tb, m, samples, k, x, item(x, 0, d) * xn, lda, y, 0, ldb, out, (long) d * m, directions * m, beta);
      return out;
    }
    // one gemm per result item, on views into the blocks
    if (precision == Precision.FLOAT64) {
      DoublePointer av = new DoublePointer(x.doubles), bv = new DoublePointer(y.doubles), cv = new DoublePointer(out.doubles);
      for (int s = 0, t = 0; s < samples; s++)
        for (int d = 0; d < directions; d++, t++)
          cblas_dgemm(CblasColMajor, ta, tb, m, n, k, 1.0, av.position(item(x, s, d) * xn), lda, bv.position(item(y, s, d) * yn), ldb,
              beta, cv.position(t * mn), ldc);
    } else {
      FloatPointer av = new FloatPointer(x.floats), bv = new FloatPointer(y.floats), cv = new FloatPointer(out.floats);
      for (int s = 0, t = 0; s < samples; s++)
        for (int d = 0; d < directions; d++, t++)
          cblas_sgemm(CblasColMajor, ta, tb, m, n, k, 1f, av.position(item(x, s, d) * xn), lda, bv.position(item(y, s, d) * yn), ldb,
              beta, cv.position(t * mn), ldc);
    }
    Reference.reachabilityFence(x);
    Reference.reachabilityFence(y);
    Reference.reachabilityFence(out);
    return out;
  }

  /** Writes c's items into out's, c's batch axes of extent 1 broadcast (native copies of whole items). */
  private void copyBroadcast(BlasBatch c, BlasBatch out) {
    long mn = (long) out.rows() * out.cols(), bytes = mn * (precision == Precision.FLOAT64 ? 8 : 4);
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

  @Override
  public Batch matmulSumSamples(Batch a, boolean transposeA, Batch b, boolean transposeB) {
    BlasBatch x = blas("matmulSumSamples", "a", a), y = blas("matmulSumSamples", "b", b);
    BackendChecks.Product shape = BackendChecks.matmulSumSamplesShape(x, transposeA, y, transposeB);
    int m = shape.m(), k = shape.k(), n = shape.n(), samples = shape.samples(), directions = shape.directions();
    BlasBatch out = alloc("matmulSumSamples", 1, directions, m, n, k == 0);
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

  /** C = op(A) op(B) + beta C at the given entry offsets of the blocks (beta 0 ignores C's contents). */
  private void gemm(int ta, int tb, int m, int n, int k, BlasBatch a, long ao, int lda, BlasBatch b, long bo, int ldb, BlasBatch c,
      long co, int ldc, int beta) {
    if (precision == Precision.FLOAT64)
      cblas_dgemm(CblasColMajor, ta, tb, m, n, k, 1.0, at(a.doubles, ao), lda, at(b.doubles, bo), ldb, beta, at(c.doubles, co), ldc);
    else
      cblas_sgemm(CblasColMajor, ta, tb, m, n, k, 1f, at(a.floats, ao), lda, at(b.floats, bo), ldb, beta, at(c.floats, co), ldc);
    Reference.reachabilityFence(a);
    Reference.reachabilityFence(b);
    Reference.reachabilityFence(c);
  }

  /** The block itself at offset 0, else a view at the offset (the view references the block, keeping it alive). */
  private static DoublePointer at(DoublePointer p, long offset) {
    return offset == 0 ? p : new DoublePointer(p).position(offset);
  }

  private static FloatPointer at(FloatPointer p, long offset) {
    return offset == 0 ? p : new FloatPointer(p).position(offset);
  }

  @Override
  public Batch transpose(Batch a) {
    BlasBatch x = blas("transpose", "a", a);
    int m = x.rows(), n = x.cols(), mn = m * n;
    BlasBatch out = alloc("transpose", x.samples(), x.directions(), n, m, false);
    double[] s = new double[mn], d = new double[mn];
    for (int t = 0; t < x.items(); t++) {
      long o = (long) t * mn;
      x.read(o, s, 0, mn);
      for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) d[j + n * i] = s[i + m * j];
      out.write(o, d, 0, mn);
    }
    return out;
  }

  @Override
  public Batch kron(Batch a, Batch b) {
    BlasBatch x = blas("kron", "a", a), y = blas("kron", "b", b);
    BackendChecks.Kron shape = BackendChecks.kronShape(x, y);
    int samples = shape.samples(), directions = shape.directions(), rows = shape.rows(), cols = shape.cols();
    int m = x.rows(), n = x.cols(), p = y.rows(), q = y.cols();
    BlasBatch out = alloc("kron", samples, directions, rows, cols, false);
    int xn = x.itemSize(), yn = y.itemSize();
    long on = (long) rows * cols;
    double[] xd = new double[xn], yd = new double[yn], col = new double[rows];
    for (int s = 0, t = 0; s < samples; s++)
      for (int d = 0; d < directions; d++, t++) {
        x.read((long) item(x, s, d) * xn, xd, 0, xn);
        y.read((long) item(y, s, d) * yn, yd, 0, yn);
        long oo = t * on;
        // column j*q + l of the result: a(:, j) kron b(:, l)
        for (int j = 0; j < n; j++)
          for (int l = 0; l < q; l++) {
            for (int i = 0; i < m; i++) {
              double aij = xd[i + m * j];
              int src = p * l, dst = i * p;
              for (int kk = 0; kk < p; kk++) col[dst + kk] = aij * yd[src + kk];
            }
            out.write(oo + (long) rows * (j * q + l), col, 0, rows);
          }
      }
    return out;
  }

  @Override
  public Batch sum(Batch a) {
    BlasBatch x = blas("sum", "a", a);
    BlasBatch out = alloc("sum", x.samples(), x.directions(), 1, 1, false);
    long n = x.itemSize();
    double[] buf = new double[CHUNK];
    for (int t = 0; t < x.items(); t++) {
      double acc = 0;
      for (long q = 0; q < n; q += CHUNK) {
        int len = (int) Math.min(CHUNK, n - q);
        x.read(t * n + q, buf, 0, len);
        for (int p = 0; p < len; p++) acc += buf[p];
      }
      out.set(t, acc);
    }
    return out;
  }

  @Override
  public Batch trace(Batch a) {
    BlasBatch x = blas("trace", "a", a);
    BackendChecks.requireSquare("trace", x);
    int n = x.rows();
    long nn = (long) n * n;
    BlasBatch out = alloc("trace", x.samples(), x.directions(), 1, 1, false);
    for (int t = 0; t < x.items(); t++) {
      double acc = 0;
      for (int i = 0; i < n; i++) acc += x.get(t * nn + (long) i * (n + 1));
      out.set(t, acc);
    }
    return out;
  }

  @Override
  public Batch diagonal(Batch a) {
    BlasBatch x = blas("diagonal", "a", a);
    BackendChecks.requireSquare("diagonal", x);
    int n = x.rows();
    long nn = (long) n * n;
    BlasBatch out = alloc("diagonal", x.samples(), x.directions(), n, 1, false);
    for (int t = 0; t < x.items(); t++)
      for (int i = 0; i < n; i++) out.set((long) t * n + i, x.get(t * nn + (long) i * (n + 1)));
    return out;
  }

  @Override
  public Batch diagMatrix(Batch v) {
    BlasBatch x = blas("diagMatrix", "v", v);
    BackendChecks.checkDiagMatrix(x);
    int n = x.rows();
    BlasBatch out = alloc("diagMatrix", x.samples(), x.directions(), n, n, true);
    long nn = (long) n * n;
    for (int t = 0; t < x.items(); t++)
      for (int i = 0; i < n; i++) out.set(t * nn + (long) i * (n + 1), x.get((long) t * n + i));
    return out;
  }

  @Override
  public Batch softmax(Batch a) {
    BlasBatch x = blas("softmax", "a", a);
    int n = x.itemSize();
    BlasBatch out = alloc("softmax", x.samples(), x.directions(), x.rows(), x.cols(), false);
    double[] d = new double[n];
    for (int t = 0; t < x.items(); t++) {
      long o = (long) t * n;
      x.read(o, d, 0, n);
      double max = Double.NEGATIVE_INFINITY;
      for (int p = 0; p < n; p++) max = Math.max(max, d[p]);
      double z = 0;
      for (int p = 0; p < n; p++) {
        d[p] = Math.exp(d[p] - max);
        z += d[p];
      }
      double inv = 1 / z;
      for (int p = 0; p < n; p++) d[p] *= inv;
      out.write(o, d, 0, n);
    }
    return out;
  }

  @Override
  public Batch logSumExp(Batch a) {
    BlasBatch x = blas("logSumExp", "a", a);
    int n = x.itemSize();
    BlasBatch out = alloc("logSumExp", x.samples(), x.directions(), 1, 1, false);
    double[] s = new double[n];
    for (int t = 0; t < x.items(); t++) {
      x.read((long) t * n, s, 0, n);
      double max = Double.NEGATIVE_INFINITY;
      for (int p = 0; p < n; p++) max = Math.max(max, s[p]);
      if (max == Double.NEGATIVE_INFINITY || max == Double.POSITIVE_INFINITY || Double.isNaN(max)) {
        out.set(t, max);
        continue;
      }
      double z = 0;
      for (int p = 0; p < n; p++) z += Math.exp(s[p] - max);
      out.set(t, max + Math.log(z));
    }
    return out;
  }

  @Override
  public Batch inverse(Batch a) {
    BlasBatch x = blas("inverse", "a", a);
    BackendChecks.requireSquare("inverse", x);
    int n = x.rows(), nn = n * n;
    BlasBatch out = alloc("inverse", x.samples(), x.directions(), n, n, false);
    if (n == 0) return out;
    HostLinearAlgebra la = new HostLinearAlgebra(n);
    double[] s = new double[nn], d = new double[nn];
    for (int t = 0; t < x.items(); t++) {
      x.read((long) t * nn, s, 0, nn);
      la.inverse(s, 0, d, 0, precision, x, t);
      out.write((long) t * nn, d, 0, nn);
    }
    return out;
  }

  @Override
  public Batch determinant(Batch a) {
    BlasBatch x = blas("determinant", "a", a);
    BackendChecks.requireSquare("determinant", x);
    int nn = x.itemSize();
    BlasBatch out = alloc("determinant", x.samples(), x.directions(), 1, 1, false);
    HostLinearAlgebra la = new HostLinearAlgebra(x.rows());
    double[] s = new double[nn];
    for (int t = 0; t < x.items(); t++) {
      x.read((long) t * nn, s, 0, nn);
      out.set(t, la.determinant(s, 0));
    }
    return out;
  }

  @Override
  public Batch symmetricEigenMap(Batch a, DoubleUnaryOperator f) {
    BlasBatch x = blas("symmetricEigenMap", "a", a);
    BackendChecks.requireSquare("symmetricEigenMap", x);
    Objects.requireNonNull(f, "symmetricEigenMap: function is null");
    int n = x.rows(), nn = n * n;
    BlasBatch out = alloc("symmetricEigenMap", x.samples(), x.directions(), n, n, false);
    if (n == 0) return out;
    HostLinearAlgebra la = new HostLinearAlgebra(n);
    double[] s = new double[nn], d = new double[nn];
    for (int t = 0; t < x.items(); t++) {
      long o = (long) t * nn;
      x.read(o, s, 0, nn);
      la.symmetricEigenMap(s, 0, f, d, 0, x, t);
      out.write(o, d, 0, nn);
    }
    return out;
  }

  // ---- structured linear maps ----------------------------------------------------------------

  @Override
  public Batch unfold(Batch x, ConvGeometry g) {
    BlasBatch in = blas("unfold", "x", x);
    BackendChecks.checkUnfold(in, g);
    int[] table = BackendChecks.patchTable(g);
    int r = g.patchRows(), cols = g.patches(), n = in.itemSize(), m = table.length;
    BlasBatch out = alloc("unfold", in.samples(), in.directions(), r, cols, false);
    parallel(in.items(), out.length(), (t0, t1) -> {
      double[] s = new double[n], d = new double[Math.min(m, CHUNK)];
      for (long t = t0; t < t1; t++) {
        in.read(t * n, s, 0, n);
        long oo = t * m;
        for (int e0 = 0; e0 < m; e0 += d.length) {
          int len = Math.min(d.length, m - e0);
          for (int e = 0; e < len; e++) {
            int src = table[e0 + e];
            d[e] = src >= 0 ? s[src] : 0;
          }
          out.write(oo + e0, d, 0, len);
        }
      }
    });
    return out;
  }

  @Override
  public Batch fold(Batch columns, ConvGeometry g) {
    BlasBatch in = blas("fold", "columns", columns);
    BackendChecks.checkFold(in, g);
    int[] table = BackendChecks.patchTable(g);
    int n = g.inputSize(), m = table.length;
    BlasBatch out = alloc("fold", in.samples(), in.directions(), g.c(), g.h() * g.w(), false);
    parallel(in.items(), in.length(), (t0, t1) -> {
      double[] s = new double[Math.min(m, CHUNK)], d = new double[n];
      for (long t = t0; t < t1; t++) {
        java.util.Arrays.fill(d, 0);
        long io = t * m;
        for (int e0 = 0; e0 < m; e0 += s.length) {
          int len = Math.min(s.length, m - e0);
          in.read(io + e0, s, 0, len);
          for (int e = 0; e < len; e++) {
            int dst = table[e0 + e];
            if (dst >= 0) d[dst] += s[e];
          }
        }
        out.write(t * n, d, 0, n);
      }
    });
    return out;
  }

  // ---- convolutions (float32: oneDNN's direct kernels; float64: the default unfold and gemm) --

  /** oneDNN's kernels when this backend is float32 and they load, else null. */
  private DnnlKernels dnnl() {
    return precision == Precision.FLOAT32 ? DnnlKernels.get() : null;
  }

  /**
   * Whether this backend runs convolutions and the built-in sigmoid and tanh on oneDNN's
   * kernels (float32, natives loaded, not disabled by {@code -Dhbp.blas.dnnl=false}) rather than
   * unfold and gemm, and Java maps.
   */
  public boolean directConvolutions() {
    return dnnl() != null;
  }

  /** Why {@link #directConvolutions} is false, or null when it is true. */
  public String directConvolutionsUnavailable() {
    if (precision != Precision.FLOAT32) return "oneDNN has no float64 convolutions on CPUs";
    return DnnlKernels.get() == null ? DnnlKernels.unavailableReason() : null;
  }

  @Override
  public Batch convolution(Batch w, Batch x, ConvGeometry g, Batch c) {
    DnnlKernels d = dnnl();
    BlasBatch a = blas("convolution", "w", w), in = blas("convolution", "x", x), z = c == null ? null : blas("convolution", "c", c);
    Objects.requireNonNull(g, "convolution: geometry is null");
    int cout = a.rows(), p = g.patches();
    // the direct kernel: shared filters of the geometry's width, x of its size, and a c of the
    // result's item shape with no batch axis the result lacks; anything else is the default's
    if (d == null || a.items() != 1 || cout < 1 || a.cols() != g.patchRows() || in.itemSize() != g.inputSize()
        || (z != null && (z.rows() != cout || z.cols() != p || (z.samples() != 1 && z.samples() != in.samples())
            || (z.directions() != 1 && z.directions() != in.directions()))))
      return Backend.super.convolution(w, x, g, c);
    BlasBatch out = alloc("convolution", in.samples(), in.directions(), cout, p, false);
    try {
      if (z != null && z.items() == 1 && equalColumns(z)) {
        // c = b * ones' (a layer's bias): added by the kernel, c's first column the bias vector
        d.forwardBias(a, cout, in, z, g, in.items(), out);
        return out;
      }
      if (z != null) copyBroadcast(z, out); // copied, then accumulated onto (a sum post-op)
      d.forward(a, cout, in, g, in.items(), out, z != null);
      return out;
    } catch (DnnlKernels.Unsupported e) {
      release(out);
      return Backend.super.convolution(w, x, g, c);
    }
  }

  /** Whether the one item of c has all its columns equal (c = b * ones'). */
  private static boolean equalColumns(BlasBatch c) {
    int rows = c.rows(), cols = c.cols();
    double[] e = new double[rows * cols];
    c.read(0, e, 0, e.length);
    for (int j = 1; j < cols; j++)
      for (int i = 0; i < rows; i++)
        if (Double.compare(e[i + rows * j], e[i]) != 0) return false;
    return true;
  }

  @Override
  public Batch convolutionAdjoint(Batch w, Batch y, ConvGeometry g) {
    DnnlKernels d = dnnl();
    BlasBatch a = blas("convolutionAdjoint", "w", w), in = blas("convolutionAdjoint", "y", y);
    Objects.requireNonNull(g, "convolutionAdjoint: geometry is null");
    int cout = a.rows();
    if (d == null || a.items() != 1 || cout < 1 || a.cols() != g.patchRows() || (long) in.itemSize() != (long) cout * g.patches())
      return Backend.super.convolutionAdjoint(w, y, g);
    BlasBatch out = alloc("convolutionAdjoint", in.samples(), in.directions(), g.c(), g.h() * g.w(), false);
    try {
      d.adjoint(a, cout, in, g, in.items(), out);
      return out;
    } catch (DnnlKernels.Unsupported e) {
      release(out);
      return Backend.super.convolutionAdjoint(w, y, g);
    }
  }

  @Override
  public Batch convolutionWeightGradient(Batch y, Batch x, ConvGeometry g) {
    DnnlKernels d = dnnl();
    BlasBatch dy = blas("convolutionWeightGradient", "y", y), in = blas("convolutionWeightGradient", "x", x);
    Objects.requireNonNull(g, "convolutionWeightGradient: geometry is null");
    int cout = dy.rows(), samples = dy.samples(), directions = dy.directions();
    // y's items cout x patches, x's one image per sample; an x that varies by direction too would
    // need one call per (sample, direction) pair: the default's unfold and gemm serve it
    if (d == null || cout < 1 || dy.cols() != g.patches() || in.itemSize() != g.inputSize() || in.samples() != samples
        || in.directions() != 1)
      return Backend.super.convolutionWeightGradient(y, x, g);
    BlasBatch out = alloc("convolutionWeightGradient", 1, directions, cout, g.patchRows(), false);
    long yItem = dy.itemSize(), outItem = out.itemSize();
    BlasBatch column = null;
    try {
      if (directions == 1) {
        d.weightGradient(dy, 0, yItem, cout, in, 0, g, samples, out, 0);
        return out;
      }
      // direction v: y's items v, D+v, 2D+v, ... copied side by side (oneDNN's kernels computed
      // wrong gradients from a strided batch axis), against x's consecutive images
      column = alloc("convolutionWeightGradient", samples, 1, cout, g.patches(), false);
      long bytes = yItem * Float.BYTES;
      for (int v = 0; v < directions; v++) {
        for (int sa = 0; sa < samples; sa++)
          Pointer.memcpy(new Pointer(column.pointer()).position(sa * bytes), new Pointer(dy.pointer()).position(item(dy, sa, v) * bytes), bytes);
        d.weightGradient(column, 0, yItem, cout, in, 0, g, samples, out, v * outItem);
      }
      Reference.reachabilityFence(dy);
      return out;
    } catch (DnnlKernels.Unsupported e) {
      release(out);
      return Backend.super.convolutionWeightGradient(y, x, g);
    } finally {
      if (column != null) release(column);
    }
  }

  /**
   * The entries of an index batch as ints, each checked to be an integer in [-1, n); kept on the
   * batch for its next use as an index batch into items of n entries.
   */
  private int[] indices(String kernel, BlasBatch index, int n) {
    BackendChecks.checkIndexDirections(kernel, index);
    BlasBatch.Indices known = index.indices;
    if (known != null && known.itemSize() == n) return known.values();
    int[] idx = convertIndices(kernel, index, n);
    index.indices = new BlasBatch.Indices(n, idx);
    return idx;
  }

  private int[] convertIndices(String kernel, BlasBatch index, int n) {
    if (precision == Precision.FLOAT32 && n > FLOAT_EXACT_INTS)
      throw new IllegalArgumentException(kernel + ": items of " + n + " entries cannot be indexed exactly by the float32 index batch "
          + index.describe() + " (float holds integers exactly only up to 2^24 = " + FLOAT_EXACT_INTS + "); use a FLOAT64 backend");
    if (index.length() > BackendChecks.MAX_ENTRIES)
      throw new IllegalArgumentException(kernel + ": index batch " + index.describe() + " is too large");
    int len = (int) index.length();
    int[] idx = new int[len];
    double[] buf = new double[Math.min(Math.max(len, 1), CHUNK)];
    for (int o = 0; o < len; o += buf.length) {
      int c = Math.min(buf.length, len - o);
      index.read(o, buf, 0, c);
      for (int k = 0; k < c; k++) idx[o + k] = BackendChecks.indexEntry(kernel, index, buf[k], o + k, n);
    }
    return idx;
  }

  @Override
  public Batch gather(Batch x, Batch index) {
    BlasBatch src = blas("gather", "x", x), ix = blas("gather", "index", index);
    int n = src.itemSize();
    int[] idx = indices("gather", ix, n);
    int samples = BackendChecks.axis("gather", "samples", src, ix, src.samples(), ix.samples());
    int directions = src.directions(), m = ix.itemSize();
    BlasBatch out = alloc("gather", samples, directions, ix.rows(), ix.cols(), false);
    parallel((long) samples * directions, out.length(), (t0, t1) -> {
      double[] s = new double[n], d = new double[m];
      for (long t = t0; t < t1; t++) {
        int sa = (int) (t / directions), v = (int) (t % directions);
        int io = (ix.samples() == 1 ? 0 : sa) * m;
        src.read((long) item(src, sa, v) * n, s, 0, n);
        for (int j = 0; j < m; j++) {
          int q = idx[io + j];
          d[j] = q >= 0 ? s[q] : 0;
        }
        out.write(t * m, d, 0, m);
      }
    });
    return out;
  }

  @Override
  public Batch scatterAdd(Batch g, Batch index, int rows, int cols) {
    BlasBatch gr = blas("scatterAdd", "g", g), ix = blas("scatterAdd", "index", index);
    int n = BackendChecks.scatterAddTarget(gr, ix, rows, cols);
    int[] idx = indices("scatterAdd", ix, n);
    int samples = BackendChecks.axis("scatterAdd", "samples", gr, ix, gr.samples(), ix.samples());
    int directions = gr.directions(), m = ix.itemSize();
    BlasBatch out = alloc("scatterAdd", samples, directions, rows, cols, false);
    parallel((long) samples * directions, out.length() + (long) samples * directions * m, (t0, t1) -> {
      double[] s = new double[m], d = new double[n];
      for (long t = t0; t < t1; t++) {
        int sa = (int) (t / directions), v = (int) (t % directions);
        int io = (ix.samples() == 1 ? 0 : sa) * m;
        gr.read((long) item(gr, sa, v) * m, s, 0, m);
        java.util.Arrays.fill(d, 0);
        for (int j = 0; j < m; j++) {
          int q = idx[io + j];
          if (q >= 0) d[q] += s[j];
        }
        out.write(t * n, d, 0, n);
      }
    });
    return out;
  }

  @Override
  public Batch windowArgmax(Batch x, int c, int h, int w, int k) {
    BlasBatch in = blas("windowArgmax", "x", x);
    BackendChecks.checkWindowArgmax(in, c, h, w, k);
    if (precision == Precision.FLOAT32 && in.itemSize() > FLOAT_EXACT_INTS)
      throw new IllegalArgumentException("windowArgmax: items of " + in.itemSize() + " entries cannot be indexed exactly in float32"
          + " (float holds integers exactly only up to 2^24); use a FLOAT64 backend");
    int n = in.itemSize(), m = c * (h / k) * (w / k);
    BlasBatch out = alloc("windowArgmax", in.samples(), 1, c, (h / k) * (w / k), false);
    parallel(in.samples(), in.length(), (s0, s1) -> {
      double[] xs = new double[n], idx = new double[m];
      for (long s = s0; s < s1; s++) {
        in.read(s * n, xs, 0, n);
        BackendChecks.windowArgmax(xs, 0, c, h, w, k, idx, 0);
        out.write(s * m, idx, 0, m);
      }
    });
    return out;
  }

  // ---- batch axes ----------------------------------------------------------------------------

  @Override
  public Batch sumSamples(Batch a) {
    BlasBatch x = blas("sumSamples", "a", a);
    long block = (long) x.directions() * x.itemSize();
    BlasBatch out = alloc("sumSamples", 1, x.directions(), x.rows(), x.cols(), false);
    long chunks = (block + CHUNK - 1) / CHUNK;
    parallel(chunks, x.length(), (c0, c1) -> {
      double[] acc = new double[CHUNK], buf = new double[CHUNK];
      for (long q = c0 * CHUNK; q < Math.min(block, c1 * CHUNK); q += CHUNK) {
        int len = (int) Math.min(CHUNK, block - q);
        java.util.Arrays.fill(acc, 0, len, 0);
        for (int sa = 0; sa < x.samples(); sa++) {
          x.read(sa * block + q, buf, 0, len);
          for (int p = 0; p < len; p++) acc[p] += buf[p];
        }
        out.write(q, acc, 0, len);
      }
    });
    return out;
  }

  @Override
  public Batch meanSamples(Batch a, int n) {
    BlasBatch x = blas("meanSamples", "a", a);
    BackendChecks.checkMeanSamples(x, n);
    return Backend.super.meanSamples(x, n);
  }
}
