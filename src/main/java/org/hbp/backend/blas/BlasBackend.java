package org.hbp.backend.blas;

import org.hbp.UserError;
import static org.hbp.backend.host.ParallelLoops.CHUNK;

import java.lang.ref.Reference;
import java.util.List;
import java.util.Objects;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.openblas.global.openblas_nolapack;
import org.hbp.backend.Backend;
import org.hbp.backend.BackendChecks;
import org.hbp.backend.Batch;
import org.hbp.backend.ConvGeometry;
import org.hbp.backend.Precision;
import org.hbp.backend.ScalarFunction;
import org.hbp.backend.host.HostBackend;
import org.hbp.backend.host.HostKernels;
import org.hbp.backend.host.ParallelLoops;
import org.hbp.backend.host.PooledBackend;
import org.hbp.backend.host.StoragePool;

/**
 * A {@link Backend} whose dense products run in OpenBLAS (multi-threaded {@code cblas_dgemm} or
 * {@code cblas_sgemm}, through JavaCPP's {@code org.bytedeco:openblas} bindings; float32 matrix
 * products by default on oneDNN's matmul primitive, see {@link #sgemmLibrary}) on batches kept
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
 * (small) item to EJML ({@link org.hbp.backend.host.HostLinearAlgebra}). They are the reference
 * {@link org.hbp.backend.cpu.CpuBackend}'s kernels ({@link HostBackend}): the same code, shape
 * checks, broadcasting and error messages.
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
 * {@link BlasBatch}. Every kernel returns a batch on a block from the backend's {@link StoragePool}:
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
 * sums over samples) split large batches over this backend's thread count ({@link ParallelLoops});
 * small ones run on the caller's thread.
 *
 * <p><b>Structure.</b> As EJML's ops classes delegate to implementation classes, this class
 * checks operands and delegates: products to {@link BlasProducts}, oneDNN's convolutions and
 * maps to {@link BlasDnnl}, the other convolutions with one filter item (float64: a layer's forward
 * pass, its Jacobian and adjoint times N·D directions) to {@link BlasConvolutions}, which unfolds
 * and multiplies in cache-sized chunks of items, gather, scatter-add (a max-pool's products) and transposition to {@link
 * BlasIndexKernels}, which index the blocks in place, every other kernel to the shared host kernels of {@link HostBackend}
 * run on the blocks ({@link BlasBatch} is a {@link org.hbp.backend.host.HostBuffer}).
 */
public final class BlasBackend extends HostBackend<BlasBatch> implements PooledBackend {
  private final int threads;
  /** Released blocks, reused by {@link #alloc}. */
  private final StoragePool<BlasBatch.Block> pool;
  final BlasProducts products;
  private final BlasDnnl dnnl;
  private final BlasConvolutions convolutions;

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
    super(precision == Precision.FLOAT64 ? "blas-f64" : "blas-f32", BlasBatch.class, precision, loops(threads));
    this.threads = threads;
    this.pool = new StoragePool<>("BlasBackend", Long.getLong("hbp.blas.poolBytes", 2L << 30));
    try {
      Loader.load(openblas_nolapack.class);
    } catch (UnsatisfiedLinkError | NoClassDefFoundError e) {
      throw new IllegalStateException("BlasBackend: the OpenBLAS natives (org.bytedeco:openblas, classifier "
          + Loader.getPlatform() + ") could not be loaded: " + e.getMessage(), e);
    }
    this.products = new BlasProducts(this, precision, threads, loops);
    this.dnnl = new BlasDnnl(this, precision == Precision.FLOAT32);
    this.convolutions = new BlasConvolutions(this, products, threads, BlasConvolutions.CHUNK_BYTES);
  }

  /** The loops that split this backend's streaming kernels over its threads. */
  ParallelLoops parallelLoops() {
    return loops;
  }

  private static ParallelLoops loops(int threads) {
    if (threads < 1) throw new UserError("BlasBackend: thread count " + threads + "; expected >= 1");
    return new ParallelLoops(threads);
  }

  public Precision precision() {
    return precision;
  }

  /** The OpenBLAS threads of this backend's gemm calls. */
  public int threads() {
    return threads;
  }

  @Override
  protected String foreign(BlasBatch b) {
    return b.precision() == precision ? null : "is a " + b.precision() + " batch, not a batch of the " + name() + " backend";
  }

  // ---- memory --------------------------------------------------------------------------------

  @Override
  protected BlasBatch alloc(String kernel, int samples, int directions, int rows, int cols, boolean zero) {
    long n = BackendChecks.entries(kernel, samples, directions, rows, cols);
    long capacity = BlasBatch.capacity(n);
    BlasBatch.Block block = pool.take(capacity * precision.bytes());
    if (block == null) block = new BlasBatch.Block(precision, capacity);
    if (zero) block.zero();
    return BlasBatch.on(block, precision, samples, directions, rows, cols, n);
  }

  @Override
  public StoragePool<?> storagePool() {
    return pool;
  }

  /**
   * Hands the block back for reuse by a later allocation of the same size (its views die with it).
   * Using the batch or a view afterwards is a bug of the caller and fails with an
   * IllegalStateException; releasing it again is a no-op.
   */
  @Override
  public void release(Batch b) {
    releaseTo(pool, b);
  }

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
    BlasBatch x = own("toArray", "b", b);
    return read(x, 0, x.arrayLength("toArray"));
  }

  @Override
  public double[] toArray(Batch b, int first, int count) {
    BlasBatch x = own("toArray", "b", b);
    long item = BackendChecks.checkSampleRange(b, first, count);
    return read(x, first * item, (int) (count * item));
  }

  /**
   * Entries {@code offset .. offset + n - 1} of the batch's storage, as doubles: {@link BlasBatch#read} in pieces of
   * {@value #READ_PIECE}, which keep its float32 staging buffer small.
   */
  private static double[] read(BlasBatch x, long offset, int n) {
    double[] out = new double[n];
    for (int o = 0; o < n; o += READ_PIECE) x.read(offset + o, out, o, Math.min(READ_PIECE, n - o));
    return out;
  }

  private static final int READ_PIECE = 1 << 16;

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

  /**
   * Which library runs this backend's matrix products: "oneDNN" (its matmul primitive: float32 with all cores' threads where oneDNN loads,
   * unless {@code -Dhbp.blas.sgemm=openblas}) or "OpenBLAS".
   */
  public String sgemmLibrary() {
    return products.sgemmLibrary();
  }

  // ---- elementwise: oneDNN's binary kernels (float32), else the host kernels -----------------

  @Override
  protected Batch elementwise(String kernel, int op, BlasBatch x, BlasBatch y, BackendChecks.Elementwise e) {
    BlasBatch out = dnnl.binary(kernel, op, x, y, e);
    if (out == null) out = vectorBinary(kernel, op, x, y, e);
    return out != null ? out : super.elementwise(kernel, op, x, y, e);
  }

  /**
   * Whether the entrywise kernels run on {@link VectorElementwise}: the JVM has the Vector
   * API ({@code --add-modules jdk.incubator.vector}, as {@code ./hbp} starts it) and {@code
   * -Dhbp.blas.vectorElementwise=false} does not turn them off.
   */
  static final boolean VECTOR_ELEMENTWISE = vectorElementwiseUnavailableReason() == null;

  /** Why {@link VectorElementwise} does not run here, or null when it does. */
  static String vectorElementwiseUnavailableReason() {
    if (!Boolean.parseBoolean(System.getProperty("hbp.blas.vectorElementwise", "true"))) return "-Dhbp.blas.vectorElementwise=false";
    return vectorApiMissing(); // checked before VectorElementwise is loaded: its class links against the module
  }

  /**
   * Why this JVM cannot load the Vector API kernels ({@link VectorElementwise}, {@link
   * VectorConvolution}), or null when it can: the module {@code jdk.incubator.vector} must be in
   * its boot layer. Checks without touching the module, so callers ask before loading a kernel class.
   */
  static String vectorApiMissing() {
    return ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()
        ? "no Vector API in this JVM: start it with --add-modules jdk.incubator.vector, as ./hbp does" : null;
  }

  /**
   * A result batch for a Vector API kernel, or null (released) when its block has no byte view
   * (over 2 GiB): the kernels store straight into the bytes.
   */
  private BlasBatch vectorResult(String kernel, int samples, int directions, int rows, int cols) {
    BlasBatch out = alloc(kernel, samples, directions, rows, cols, false);
    if (out.block.bytes != null) return out;
    release(out);
    return null;
  }

  /** How this backend's entrywise kernels run: on the Vector API ({@link VectorElementwise}), or Java loops and why (for {@code hbp bench}'s header). */
  public String entrywiseKernels() {
    String why = vectorElementwiseUnavailableReason();
    if (why != null) return (precision == Precision.FLOAT32 ? "oneDNN's, else " : "") + "Java loops over copied chunks (" + why + ")";
    return precision == Precision.FLOAT64
        ? "Vector API on the off-heap blocks" + (SVML ? ", sigmoid and tanh included (SVML's exp and tanh, -Dhbp.blas.svml=true: not bit-reproducible)"
            : "; sigmoid and tanh: Java loops (bit-reproducible; -Dhbp.blas.svml=true for SVML's, faster, on x86-64)")
        : "oneDNN's, else the Vector API on the off-heap blocks (what oneDNN's binary kernels refuse, f(x) .* y of other functions)";
  }

  /** A block's bytes for the vector kernels, or null (a block over 2 GiB, no Vector API). */
  private static java.nio.ByteBuffer vectorBytes(BlasBatch b) {
    return VECTOR_ELEMENTWISE ? b.block.bytes : null;
  }

  /**
   * {@code x op y} on {@link VectorElementwise}, broadcast over samples and directions as the host
   * kernel does, in tasks of an item's {@link VectorElementwise#TASK_ENTRIES} entries; null where
   * the host kernel serves (a scalar operand, a block over 2 GiB). Float32 comes here after oneDNN's
   * binary kernels, for what they do not take: both operands broadcast, a difference or quotient
   * whose first operand is broadcast, fewer than {@link BlasDnnl#BINARY_MIN_ENTRIES} entries.
   */
  BlasBatch vectorBinary(String kernel, int op, BlasBatch x, BlasBatch y, BackendChecks.Elementwise e) {
    java.nio.ByteBuffer xb = vectorBytes(x), yb = vectorBytes(y);
    if (xb == null || yb == null || e.aScalar() || e.bScalar()) return null;
    BlasBatch out = vectorResult(kernel, e.samples(), e.directions(), e.rows(), e.cols());
    if (out == null) return null;
    java.nio.ByteBuffer ob = out.block.bytes;
    boolean float32 = precision == Precision.FLOAT32;
    int n = e.rows() * e.cols(), directions = e.directions(), chunks = Math.max(1, (n + VectorElementwise.TASK_ENTRIES - 1) / VectorElementwise.TASK_ENTRIES);
    long items = (long) e.samples() * directions;
    loops.run(items * chunks, items * n, (from, to) -> {
      for (long task = from; task < to; task++) {
        int t = (int) (task / chunks), p = (int) (task % chunks) * VectorElementwise.TASK_ENTRIES, len = Math.min(VectorElementwise.TASK_ENTRIES, n - p);
        int sa = t / directions, d = t % directions;
        int xo = BackendChecks.item(x, sa, d) * n + p, yo = BackendChecks.item(y, sa, d) * n + p;
        if (float32) VectorElementwise.binaryFloat(op, xb, xo, yb, yo, ob, t * n + p, len);
        else VectorElementwise.binary(op, xb, xo, yb, yo, ob, t * n + p, len);
      }
    });
    Reference.reachabilityFence(x.block);
    Reference.reachabilityFence(y.block);
    Reference.reachabilityFence(out.block);
    return out;
  }

  /**
   * {@code f(x) .* y} on {@link VectorElementwise}, broadcast as {@link #multiply}: each stretch of
   * an item of x is mapped once and multiplied into every item of y that it meets (one sample's
   * activation into its D directions), so neither {@code f(x)} nor a copy of it is stored. Null where
   * the other routes serve: f without a chunk form, items of different shapes, axes that do
   * not broadcast (whose messages the default gives), a block over 2 GiB. Float32 comes here after
   * oneDNN's backward kernel, which takes built-in functions on operands laid out alike.
   */
  BlasBatch vectorMapMultiply(BlasBatch x, ScalarFunction f, BlasBatch y) {
    java.nio.ByteBuffer xb = vectorBytes(x), yb = vectorBytes(y);
    ScalarFunction.ChunkMap fc = f.chunk();
    if (xb == null || yb == null || fc == null || x.rows() != y.rows() || x.cols() != y.cols() || !broadcasts(x.samples(), y.samples())
        || !broadcasts(x.directions(), y.directions()))
      return null;
    int samples = Math.max(x.samples(), y.samples()), directions = Math.max(x.directions(), y.directions());
    BlasBatch out = vectorResult("mapMultiply", samples, directions, x.rows(), x.cols());
    if (out == null) return null;
    java.nio.ByteBuffer ob = out.block.bytes;
    int n = x.rows() * x.cols(), chunks = Math.max(1, (n + VectorElementwise.TASK_ENTRIES - 1) / VectorElementwise.TASK_ENTRIES);
    int xd = x.directions();
    // an item (s, d) of x meets the items of out with sample s (all samples when x has one) and direction d (all when x has one)
    int meetSamples = x.samples() == 1 ? samples : 1, meetDirections = xd == 1 ? directions : 1, meet = meetSamples * meetDirections;
    // the items a stretch meets go in parts when x has too few stretches to share among the threads
    // (x shared by all samples and directions): each part maps the stretch again
    long stretches = (long) x.items() * chunks;
    int parts = (int) Math.min(meet, Math.max(1, (4L * threads + stretches - 1) / stretches));
    boolean float32 = precision == Precision.FLOAT32;
    loops.run(stretches * parts, (long) samples * directions * n, (from, to) -> {
      int size = Math.min(n, VectorElementwise.TASK_ENTRIES);
      double[] fx = new double[size];
      float[] fxFloat = float32 ? new float[size] : null;
      for (long task = from; task < to; task++) {
        long stretch = task / parts;
        int part = (int) (task % parts), xi = (int) (stretch / chunks), p = (int) (stretch % chunks) * VectorElementwise.TASK_ENTRIES;
        int len = Math.min(VectorElementwise.TASK_ENTRIES, n - p);
        if (float32) VectorElementwise.mapFloat(fc, xb, xi * n + p, fx, fxFloat, len);
        else VectorElementwise.map(fc, xb, xi * n + p, fx, len);
        int s0 = x.samples() == 1 ? 0 : xi / xd, d0 = xd == 1 ? 0 : xi % xd;
        for (int k = (int) ((long) meet * part / parts), end = (int) ((long) meet * (part + 1) / parts); k < end; k++) {
          int s = s0 + k / meetDirections, d = d0 + k % meetDirections;
          int t = s * directions + d, yo = BackendChecks.item(y, s, d) * n + p;
          if (float32) VectorElementwise.multiplyIntoFloat(fxFloat, yb, yo, ob, t * n + p, len);
          else VectorElementwise.multiplyInto(fx, yb, yo, ob, t * n + p, len);
        }
      }
    });
    Reference.reachabilityFence(x.block);
    Reference.reachabilityFence(y.block);
    Reference.reachabilityFence(out.block);
    return out;
  }

  /** Whether batch axes of extents a and b broadcast (equal, or one of them 1). */
  private static boolean broadcasts(int a, int b) {
    return a == b || a == 1 || b == 1;
  }

  // ---- maps: oneDNN's kernels for built-ins (float32), else chunk forms ---------------------

  @Override
  public Batch map(Batch a, ScalarFunction f) {
    BlasBatch x = own("map", "a", a);
    Objects.requireNonNull(f, "map: function is null");
    BlasBatch out = dnnl.map(x, f);
    if (out == null) out = vectorMap(x, f);
    return out != null ? out : super.map(x, f);
  }

  /**
   * Whether float64 sigmoid and tanh run on the Vector API's exp and tanh, which C2 compiles to
   * Intel's SVML routines on x86-64 (5 and 12 times faster than {@code Math.exp} and {@code
   * Math.tanh}, docs/performance.md): only with {@code -Dhbp.blas.svml=true}. Off by default because
   * the results are not reproducible: before C2 compiles a kernel, the Vector API computes exp lane
   * by lane with {@code Math.exp}, after it with SVML, and the two differ in the last bit, so the
   * same computation twice in one JVM (a training and its resumed run) can differ.
   */
  static final boolean SVML = Boolean.getBoolean("hbp.blas.svml") && List.of("amd64", "x86_64").contains(System.getProperty("os.arch"));

  /**
   * A float64 built-in sigmoid or tanh on {@link VectorElementwise#map} (float32 has oneDNN's)
   * where {@link #SVML} allows it; null where the host kernel serves (the default, no Vector API,
   * not x86-64).
   */
  BlasBatch vectorMap(BlasBatch x, ScalarFunction f) {
    return SVML ? svmlMap(x, f) : null;
  }

  /** {@link #vectorMap}'s route itself, in tasks of {@link VectorElementwise#TASK_ENTRIES} entries; null without the Vector API. */
  BlasBatch svmlMap(BlasBatch x, ScalarFunction f) {
    java.nio.ByteBuffer xb = vectorBytes(x);
    if (xb == null || precision != Precision.FLOAT64 || !VectorElementwise.maps(f.builtin())) return null;
    BlasBatch out = vectorResult("map", x.samples(), x.directions(), x.rows(), x.cols());
    if (out == null) return null;
    java.nio.ByteBuffer ob = out.block.bytes;
    String builtin = f.builtin();
    vectorStretches(x, out, (p, len) -> VectorElementwise.map(builtin, xb, p, ob, p, len));
    return out;
  }

  /** The body of {@link #vectorStretches}: the entries {@code [p, p + len)}. */
  private interface Stretch {
    void run(int p, int len);
  }

  /**
   * {@code body} over x's entries in stretches of {@link VectorElementwise#TASK_ENTRIES}, split over
   * the threads: an entrywise pass from x into out, laid out alike (blocks within 2 GiB).
   */
  private void vectorStretches(BlasBatch x, BlasBatch out, Stretch body) {
    long length = x.length();
    loops.run((length + VectorElementwise.TASK_ENTRIES - 1) / VectorElementwise.TASK_ENTRIES, 2 * length, (from, to) -> {
      for (long task = from; task < to; task++) {
        int p = (int) (task * VectorElementwise.TASK_ENTRIES);
        body.run(p, (int) Math.min(VectorElementwise.TASK_ENTRIES, length - p));
      }
    });
    Reference.reachabilityFence(x.block);
    Reference.reachabilityFence(out.block);
  }

  /**
   * Where x (one direction) is multiplied into the several directions of v with items of the same
   * shape, v with x's samples or one sample for all (a bias's directions): a stored f(x) times v,
   * oneDNN's broadcasting product in float32 (the Vector API's where both operands broadcast, and
   * in float64), streamed 1.3 to 1.7 times faster than {@link #vectorMapMultiply}'s pass, which
   * maps a stretch of x and multiplies it into each direction (c4d3's first activation, batch 100,
   * 10 directions: 2.7 against 4.5 ms in float32, 6.7 against 8.5 ms in float64; its bias's
   * directions 2.2–2.4 against 3.1–3.3 ms; docs/performance.md). Float32 only where oneDNN runs.
   */
  @Override
  public boolean multipliesStoredMaps(Batch x, Batch v) {
    return isOwn(x) && isOwn(v) && x.directions() == 1 && v.directions() > 1 && (x.samples() == v.samples() || v.samples() == 1)
        && x.rows() == v.rows() && x.cols() == v.cols() && (precision == Precision.FLOAT64 || dnnl.kernels() != null);
  }

  @Override
  public Batch mapMultiply(Batch a, ScalarFunction f, Batch b) {
    BlasBatch x = own("mapMultiply", "a", a), y = own("mapMultiply", "b", b);
    Objects.requireNonNull(f, "mapMultiply: function is null");
    // in one pass: oneDNN's backward pass for a built-in's derivative (float32, same layout), else
    // the Vector API route (any broadcast), else f's chunk form (same layout); otherwise map, then multiply
    boolean sameLayout = x.samples() == y.samples() && x.directions() == y.directions() && x.rows() == y.rows() && x.cols() == y.cols();
    BlasBatch out = sameLayout ? dnnl.mapMultiply(x, f, y) : null;
    if (out == null) out = vectorMapMultiply(x, f, y);
    if (out != null) return out;
    if (!sameLayout || f.chunk() == null) return super.mapMultiply(a, f, b);
    return chunkMapMultiply(x, f.chunk(), y);
  }

  /**
   * {@code f(x) .* y} for x and y laid out alike, chunk by chunk through Java arrays: the route
   * without the Vector API. Float32: {@code f(x)} rounded to float, then the float product, as
   * mapping, then multiplying and the vector route give.
   */
  BlasBatch chunkMapMultiply(BlasBatch x, ScalarFunction.ChunkMap fc, BlasBatch y) {
    boolean float32 = precision == Precision.FLOAT32;
    BlasBatch result = alloc("mapMultiply", x.samples(), x.directions(), x.rows(), x.cols(), false);
    loops.chunks(result.length(), (from, to) -> {
      double[] bx = new double[CHUNK], by = new double[CHUNK];
      for (long q = from; q < to; q += CHUNK) {
        int len = (int) Math.min(CHUNK, to - q);
        x.read(q, bx, 0, len);
        fc.apply(bx, len);
        if (float32) for (int p = 0; p < len; p++) bx[p] = (float) bx[p]; // f(x) as a stored map holds it
        y.read(q, by, 0, len);
        HostKernels.combine(BackendChecks.MULTIPLY, bx, 0, false, by, 0, false, bx, 0, len);
        result.write(q, bx, 0, len);
      }
    });
    return result;
  }

  // ---- scaling and sums over samples: OpenBLAS on the blocks (BlasProducts) --------------------

  /**
   * {@code c a}: one pass on the Vector API, split over the threads, where the blocks have byte
   * views; else a native copy and OpenBLAS's scal, a second pass (the host form converts every
   * entry to double and back). The same entries either way: one rounded product each. FC's
   * 500 x 10 directions of 1024 entries: 1.25 ms in two passes (docs/performance.md).
   */
  @Override
  public Batch scale(Batch a, double c) {
    BlasBatch x = own("scale", "a", a);
    long n = length(x);
    if (n == 0 || n > Integer.MAX_VALUE) return super.scale(a, c);
    java.nio.ByteBuffer xb = vectorBytes(x);
    BlasBatch out = xb == null ? null : vectorResult("scale", x.samples(), x.directions(), x.rows(), x.cols());
    if (out == null) {
      out = alloc("scale", x.samples(), x.directions(), x.rows(), x.cols(), false);
      products.scale(x, c, out, (int) n);
      return out;
    }
    java.nio.ByteBuffer ob = out.block.bytes;
    if (precision == Precision.FLOAT32) vectorStretches(x, out, (p, len) -> VectorElementwise.scaleFloat((float) c, xb, p, ob, p, len));
    else vectorStretches(x, out, (p, len) -> VectorElementwise.scale(c, xb, p, ob, p, len));
    return out;
  }

  /** The sum over samples as one gemv with a column of ones ({@link BlasProducts#sumSamples}). */
  @Override
  public Batch sumSamples(Batch a) {
    BlasBatch x = own("sumSamples", "a", a);
    BlasBatch out = alloc("sumSamples", 1, x.directions(), x.rows(), x.cols(), false);
    if (products.sumSamples(x, out)) return out;
    release(out);
    return super.sumSamples(a);
  }

  // ---- products (BlasProducts) ---------------------------------------------------------------

  @Override
  public Batch matmul(Batch a, boolean transposeA, Batch b, boolean transposeB) {
    return products.product("matmul", own("matmul", "a", a), transposeA, own("matmul", "b", b), transposeB, null);
  }

  @Override
  public Batch matmulAdd(Batch a, boolean transposeA, Batch b, boolean transposeB, Batch c) {
    Objects.requireNonNull(c, "matmulAdd: operand c is null");
    BlasBatch x = own("matmulAdd", "a", a), y = own("matmulAdd", "b", b), z = own("matmulAdd", "c", c);
    BackendChecks.Product shape = BackendChecks.matmulShape(x, transposeA, y, transposeB);
    // c must have the product's item shape and no batch axis the product lacks; anything else (a
    // scalar c, a c with more samples) is the default's add, with its broadcasting and messages
    if (z.rows() != shape.m() || z.cols() != shape.n() || (z.samples() != 1 && z.samples() != shape.samples())
        || (z.directions() != 1 && z.directions() != shape.directions()))
      return super.matmulAdd(a, transposeA, b, transposeB, c);
    return products.product("matmulAdd", x, transposeA, y, transposeB, z);
  }

  @Override
  public Batch matmulSumSamples(Batch a, boolean transposeA, Batch b, boolean transposeB) {
    return products.matmulSumSamples(own("matmulSumSamples", "a", a), transposeA, own("matmulSumSamples", "b", b), transposeB);
  }

  // ---- convolutions (float32: oneDNN's direct kernels, BlasDnnl; float64: BlasConvolutions, hbp's direct kernels or unfold and gemm in chunks)

  /** How float64 convolutions run here: hbp's direct kernels ({@link VectorConvolution}), or unfold and gemm and why. */
  public static String float64Convolutions() {
    String why = BlasConvolutions.directUnavailableReason();
    return why == null ? "direct kernels (Vector API, AVX-512; with a multiple of 8 output channels, else unfold + gemm)" : "unfold + gemm (" + why + ")";
  }

  /**
   * Whether this backend runs convolutions and the built-in sigmoid and tanh on oneDNN's
   * kernels (float32, natives loaded, not disabled by {@code -Dhbp.blas.dnnl=false}) rather than
   * unfold and gemm, and Java maps.
   */
  public boolean directConvolutions() {
    return dnnl.kernels() != null;
  }

  /** Why {@link #directConvolutions} is false, or null when it is true. */
  public String directConvolutionsUnavailable() {
    if (precision != Precision.FLOAT32) return "oneDNN has no float64 convolutions on CPUs";
    return DnnlEngine.get() == null ? DnnlEngine.unavailableReason() : null;
  }

  @Override
  public Batch convolution(Batch w, Batch x, ConvGeometry g, Batch bias) {
    BlasBatch a = own("convolution", "w", w), in = own("convolution", "x", x), b = bias == null ? null : own("convolution", "bias", bias);
    Objects.requireNonNull(g, "convolution: geometry is null");
    BackendChecks.checkBias("convolution", a, b);
    BlasBatch out = dnnl.convolution(a, in, g, b);
    if (out == null) out = convolutions.convolution(a, in, g, b);
    return out != null ? out : super.convolution(w, x, g, bias);
  }

  /** Float32 with oneDNN: filters shared by all items, or in directions over inputs of one direction ({@link BlasDnnl#convolves}). */
  @Override
  public boolean convolvesDirectly(Batch w, Batch x, ConvGeometry g) {
    return w instanceof BlasBatch a && x instanceof BlasBatch in && g != null && dnnl.convolves(a, in, g);
  }

  @Override
  public Batch convolutionAdjoint(Batch w, Batch y, ConvGeometry g) {
    BlasBatch a = own("convolutionAdjoint", "w", w), in = own("convolutionAdjoint", "y", y);
    Objects.requireNonNull(g, "convolutionAdjoint: geometry is null");
    BlasBatch out = dnnl.convolutionAdjoint(a, in, g);
    if (out == null) out = convolutions.convolutionAdjoint(a, in, g);
    return out != null ? out : super.convolutionAdjoint(w, y, g);
  }

  @Override
  public Batch convolutionWeightGradient(Batch y, Batch x, ConvGeometry g) {
    BlasBatch dy = own("convolutionWeightGradient", "y", y), in = own("convolutionWeightGradient", "x", x);
    Objects.requireNonNull(g, "convolutionWeightGradient: geometry is null");
    BlasBatch out = dnnl.convolutionWeightGradient(dy, in, g);
    if (out == null) out = convolutions.weightGradient(dy, in, g);
    return out != null ? out : super.convolutionWeightGradient(y, x, g);
  }

  // ---- gather and scatter-add: index batches keep their converted entries; the loops on the blocks

  /**
   * The entries of an index batch as ints, each checked to be an integer in [-1, n); kept on the
   * batch for its next use as an index batch into items of n entries.
   */
  @Override
  protected int[] indices(String kernel, BlasBatch index, int n) {
    BackendChecks.checkIndexDirections(kernel, index);
    BlasBatch.Indices known = index.indices;
    if (known != null && known.itemSize == n) return known.values;
    int[] idx = super.indices(kernel, index, n);
    index.indices = new BlasBatch.Indices(n, index.itemSize(), idx);
    return idx;
  }

  /**
   * Keeps a max-pool's index map as {@link #indices} would convert it, so that its gathers and
   * scatter-adds do not read and check its entries again, nor ask whether two of an item coincide
   * where they cannot (the windows do not overlap); where they overlap, the first scatter-add asks.
   */
  @Override
  protected void madeIndices(BlasBatch index, int n, int[] idx, boolean injective) {
    index.indices = injective ? BlasBatch.Indices.injective(n, index.itemSize(), idx) : new BlasBatch.Indices(n, index.itemSize(), idx);
  }

  /** Each item transposed tile by tile on the blocks ({@link BlasIndexKernels#transpose}; the host loop for blocks beyond a direct buffer's reach). */
  @Override
  public Batch transpose(Batch a) {
    BlasBatch x = own("transpose", "a", a);
    if (!BlasIndexKernels.direct(x)) return super.transpose(a);
    BlasBatch out = alloc("transpose", x.samples(), x.directions(), x.cols(), x.rows(), false);
    if (!BlasIndexKernels.direct(out)) {
      release(out);
      return super.transpose(a);
    }
    BlasIndexKernels.transpose(loops, x, out);
    return out;
  }

  /** {@link BlasIndexKernels#gather} on the blocks (the host loop for blocks beyond a direct buffer's reach). */
  @Override
  protected void gatherItems(BlasBatch src, BlasBatch ix, int[] idx, BlasBatch factor, BlasBatch out) {
    if (BlasIndexKernels.direct(src, out) && (factor == null || BlasIndexKernels.direct(factor)))
      BlasIndexKernels.gather(loops, src, ix, idx, factor, out);
    else super.gatherItems(src, ix, idx, factor, out);
  }

  /** {@link BlasIndexKernels#scatterAdd} on the blocks (the host loop for blocks beyond a direct buffer's reach). */
  @Override
  protected void scatterAddItems(BlasBatch factor, BlasBatch g, BlasBatch ix, int[] idx, BlasBatch out) {
    if (!BlasIndexKernels.direct(g, out) || factor != null && !BlasIndexKernels.direct(factor)) {
      super.scatterAddItems(factor, g, ix, idx, out);
      return;
    }
    BlasBatch.Indices known = ix.indices; // as indices left it, unless another thread converted ix since
    boolean injective = known != null && known.values == idx ? known.injective()
        : BlasIndexKernels.injective(idx, ix.itemSize(), out.itemSize());
    BlasIndexKernels.scatterAdd(loops, factor, g, ix, idx, injective, out);
  }
}
