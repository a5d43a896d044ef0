package org.hbp.backend.opencl;

import org.hbp.UserError;
import static org.jocl.CL.CL_TRUE;
import static org.jocl.CL.clEnqueueReadBuffer;
import static org.jocl.CL.clFinish;

import java.util.Objects;
import java.util.function.DoubleUnaryOperator;
import org.hbp.backend.Backend;
import org.hbp.backend.BackendChecks;
import org.hbp.backend.Batch;
import org.hbp.backend.ConvGeometry;
import org.hbp.backend.Precision;
import org.hbp.backend.ScalarFunction;
import org.hbp.backend.host.AbstractBackend;
import org.hbp.backend.host.HostBuffer;
import org.hbp.backend.host.HostLinearAlgebra;
import org.hbp.backend.host.PooledBackend;
import org.hbp.backend.host.StoragePool;
import org.jocl.CLException;
import org.jocl.Pointer;
import org.jocl.cl_kernel;
import org.jocl.cl_program;

/**
 * A {@link Backend} on an OpenCL device through JOCL: batches live in device buffers ({@link
 * OpenClBatch}, float or double as the {@link Precision} says) and every kernel runs on the
 * device, from OpenCL C compiled once per context and precision ({@link OpenClKernels}). It runs on
 * any OpenCL 1.2 device: PoCL on the CPU, NVIDIA GPUs through {@code libnvidia-opencl.so.1}, and
 * others; work-group sizes come from the device's and the kernels' limits, and FLOAT64 requires
 * {@code cl_khr_fp64} (refused with a clear {@link OpenClException} otherwise).
 *
 * <p><b>Layout.</b> One buffer per batch, items contiguous, each column-major, item {@code (s, v)}
 * at entry {@code (s*directions + v) * rows*cols}, the layout of {@link Backend#fromArray} (and of
 * the BLAS backend). Reshapes and column/direction views are free: they share the buffer. Shapes,
 * broadcasting and error messages are those of every backend ({@link BackendChecks}).
 *
 * <p><b>Kernels.</b> {@link #matmul} and {@link #matmulSumSamples} run through CLBlast's GEMM where
 * it loads and passes its check on the device ({@link OpenClBlast}, {@link #gemmKernel}), else as
 * one launch of a hand-written product kernel batched over the items with the broadcasting of {@link Backend#matmul} (strides 0 for an axis of
 * extent 1); a single shared left item times non-transposed items is one wide product, as in the
 * BLAS backend, and sums over samples accumulate inside the kernel. On GPUs the kernel is tiled in
 * local memory (64 x 64 tiles, 4 x 4 entries per work item; 16 x 16 tiles for items with at most
 * 32 rows or columns); on CPU devices (PoCL) a kernel without local memory or barriers, 2 x 8
 * entries per work item in registers; an untiled kernel serves devices whose work-groups fit
 * neither ({@link #gemmKernel}). Elementwise kernels, maps, transposes, Kronecker
 * products, diagonals, unfold and fold, gather, scatterAdd, windowArgmax and sums over samples are
 * one work item per output entry; sums, softmax and log-sum-exp are one work-group per item. Every
 * sum is taken in a fixed order, so results are deterministic: {@link #scatterAdd} builds (once per
 * index batch and target size, cached with the index buffer) the inverse index of its index map on
 * the device, then gathers each output entry's contributions in index order; no float atomics.
 *
 * <p><b>Host round trips</b> (the only times entries leave the device, besides {@link #toArray}):
 * <ul>
 *   <li>{@link #inverse}, {@link #determinant} and {@link #symmetricEigenMap}: small per-item
 *       dense decompositions, computed on the host by {@link HostLinearAlgebra} (EJML); counted by
 *       {@link #hostLinearAlgebraCalls()}.
 * </ul>
 * Index checks read back a single int per index batch (the first invalid position, if any); the
 * result is cached with the buffer, so an index batch is checked once.
 *
 * <p><b>Memory.</b> Kernels return batches on buffers from the backend's pool: {@link #release}
 * hands a buffer back for reuse by the next allocation of its size (at most {@code
 * hbp.opencl.poolBytes} bytes are kept, by default a quarter of the device memory, at most 2 GiB);
 * using a batch after its release throws an {@link IllegalStateException}, and releasing twice is
 * a no-op. Buffers never released are freed when their batch becomes unreachable. When an
 * allocation would exceed the device memory, the pool is emptied and the garbage collector run
 * before an {@link OpenClException} names the requested bytes.
 *
 * <p><b>Threads.</b> A backend instance must be used from one thread at a time (its kernel objects
 * hold their arguments). Instances on the same device share one context and one in-order command
 * queue ({@link OpenClContext}), so batches may be handed between instances. Commands run
 * asynchronously; {@link #toArray} waits for them, {@link #finish} waits without copying.
 */
public final class OpenClBackend extends AbstractBackend<OpenClBatch> implements PooledBackend {
  private static final int FLOAT_EXACT_INTS = 1 << 24; // indices held as float are exact up to here

  private final Precision precision;
  private final OpenClContext ctx;
  private final OpenClDevices.Device device;
  /** Kernels, launches, buffers and transfers on the device. */
  private final OpenClLaunches q;
  private final OpenClProducts products;
  private final StoragePool<OpenClBatch.Buffer> pool;
  /** The system property choosing the products: {@code auto}, {@code clblast}, {@code kernels} or a kernel's name. */
  public static final String GEMM_PROPERTY = OpenClGemmChoice.PROPERTY;
  /** How products run: CLBlast or a hand-written kernel. */
  private final OpenClGemmChoice gemm;
  /** A 4-byte buffer for the index checks. */
  private OpenClBatch.Buffer scratchInt;
  private long hostLinearAlgebraCalls;

  /** A FLOAT32 backend on the default device. */
  public OpenClBackend() {
    this(Precision.FLOAT32);
  }

  /** A backend of the given precision on the default device (the first GPU, else the first device). */
  public OpenClBackend(Precision precision) {
    this(precision, -1);
  }

  /**
   * A backend of the given precision on the device with the given index in the flat list of all
   * devices of all platforms ({@link OpenClDevices#list()}, as {@code hbp devices} prints it), or
   * on the default device for -1. Compiles the kernels on first use of the device and precision
   * in this process. Throws an {@link OpenClException} when there is no OpenCL, no such device,
   * no fp64 for FLOAT64, or a kernel does not build (with the build log).
   */
  public OpenClBackend(Precision precision, int deviceIndex) {
    super(Objects.requireNonNull(precision, "precision is null") == Precision.FLOAT64 ? "opencl-f64" : "opencl-f32", OpenClBatch.class);
    this.precision = precision;
    this.device = OpenClDevices.select(deviceIndex);
    if (precision == Precision.FLOAT64 && !device.fp64())
      throw new OpenClException("OpenCL device " + device.describe() + " has no double precision (cl_khr_fp64), which FLOAT64 "
          + "(opencl-f64) needs; use FLOAT32 (opencl-f32) or another device (`hbp devices` lists them)");
    this.ctx = OpenClContext.of(device);
    this.q = new OpenClLaunches(precision, device, ctx, name());
    this.pool = q.pool;
    this.gemm = new OpenClGemmChoice(q, device, ctx, precision, this::checkClBlast);
    this.products = new OpenClProducts(q, gemm::variant, new OpenClBlast(precision, ctx.queue));
    gemm.useDefault();
  }

  /**
   * Why CLBlast cannot make this backend's products (its library did not load, or its product on
   * this device and precision was wrong or failed), or null when it can. Checked once per device
   * and precision in the process: a 3 x 4 times 4 x 2 product of small integers, which is exact.
   */
  public String clblastFailure() {
    return gemm.clblastFailure();
  }

  private String checkClBlast() {
    double[] a = {1, -2, 3, 0, 4, 5, -1, 2, 0, 3, 1, -4}, b = {2, 1, 0, -1, 3, 1, -2, 0}; // 3x4, 4x2 column-major
    double[] expected = {-1, -1, 15, 5, -6, 14}; // a b, by hand
    OpenClBatch x = null, y = null, z = null;
    String saved = gemm.force("clblast");
    try {
      x = (OpenClBatch) fromArray(1, 1, 3, 4, a);
      y = (OpenClBatch) fromArray(1, 1, 4, 2, b);
      z = (OpenClBatch) matmul(x, false, y, false);
      double[] got = toArray(z);
      return java.util.Arrays.equals(got, expected) ? ""
          : "CLBlast's product on " + device.describe() + " was wrong: " + java.util.Arrays.toString(got) + " for "
              + java.util.Arrays.toString(expected);
    } catch (RuntimeException e) {
      return "CLBlast failed on " + device.describe() + ": " + e.getMessage();
    } finally {
      gemm.force(saved);
      for (OpenClBatch t : new OpenClBatch[] {x, y, z}) if (t != null) release(t);
    }
  }

  /**
   * One line on how OpenCL backends of this process multiply matrices, before any device is used
   * (what {@code hbp devices} prints): CLBlast when it loaded (each backend still checks it on its
   * device, {@link #clblastFailure}), else the hand-written kernels, with why.
   */
  public static String productsNotice() {
    return OpenClGemmChoice.processNotice();
  }

  /**
   * One line on how this backend multiplies matrices: CLBlast or which hand-written kernel, and
   * why not CLBlast when it is not in use (what {@code hbp devices} and {@code hbp bench} print).
   */
  public String gemmNotice() {
    return gemm.notice();
  }

  /** The format of the batches. */
  public Precision precision() {
    return precision;
  }

  /** The device this backend runs on. */
  public OpenClDevices.Device device() {
    return device;
  }

  /** How many inverse, determinant and symmetricEigenMap calls so far ran on the host (by design). */
  public long hostLinearAlgebraCalls() {
    return hostLinearAlgebraCalls;
  }

  /**
   * The products in use: {@code clblast} (CLBlast's GEMM, plain, strided-batched or batched, see
   * {@link OpenClBlast}; the default wherever it loads and its check on the device passes, {@link
   * #clblastFailure}), or a hand-written kernel: {@code large} (64 x 64 tiles in local memory,
   * 4 x 4 entries per work item; 16 x 16 tiles when an item has at most 32 rows or columns), {@code
   * small} (16 x 16 tiles), {@code direct} (2 x 8 register blocks without local memory, the best
   * kernel on CPU devices) or {@code naive} (one work item per entry, for devices whose work-groups
   * fit no other). Without CLBlast the default is the best kernel that fits the device; the system
   * property {@code hbp.opencl.gemm} ({@code auto}, {@code clblast}, {@code kernels} or a kernel's
   * name) or {@link #useGemmKernel} choose another.
   */
  public String gemmKernel() {
    return gemm.variant();
  }

  /**
   * Makes products use {@code clblast}, {@code kernels} (the best hand-written kernel that fits the
   * device) or the named kernel ({@code large}, {@code small}, {@code direct} or {@code naive}, see
   * {@link #gemmKernel}); a {@link UserError} when it is unknown, does not fit the device, or is
   * {@code clblast} where CLBlast cannot be used (saying why).
   */
  public void useGemmKernel(String variant) {
    gemm.use(variant);
  }

  /** Waits until every command enqueued so far on the device's queue has finished (for timings). */
  @Override
  public void finish() {
    q.finish();
  }

  @Override
  public StoragePool<?> storagePool() {
    return pool;
  }

  /** Bytes in live device buffers of this device, over all backends of the process (pooled ones included). */
  public long deviceBytesInUse() {
    return ctx.liveBytes.get();
  }

  @Override
  protected String foreign(OpenClBatch b) {
    if (b.context != ctx)
      return "lives on OpenCL device " + b.context.device.describe() + ", not on the device of this " + name() + " backend ("
          + device.describe() + ")";
    return b.precision() == precision ? null : "is a " + b.precision() + " batch, not a batch of the " + name() + " backend";
  }

  // ---- transfer ------------------------------------------------------------------------------

  @Override
  public Batch fromArray(int samples, int directions, int rows, int cols, double[] data) {
    BackendChecks.checkFromArray(samples, directions, rows, cols, data);
    OpenClBatch out = q.alloc("fromArray", samples, directions, rows, cols);
    q.write(out.buffer, 0, data, data.length, "fromArray");
    return out;
  }

  @Override
  public double[] toArray(Batch b) {
    OpenClBatch x = own("toArray", "b", b);
    double[] out = new double[x.arrayLength("toArray")];
    q.read(x.buffer, 0, out, out.length, "toArray");
    return out;
  }

  @Override
  public double[] toArray(Batch b, int first, int count) {
    OpenClBatch x = own("toArray", "b", b);
    long item = BackendChecks.checkSampleRange(b, first, count);
    double[] out = new double[(int) (count * item)];
    q.read(x.buffer, first * item, out, out.length, "toArray");
    return out;
  }

  // ---- constants -----------------------------------------------------------------------------

  @Override
  public Batch fill(int rows, int cols, double value) {
    BackendChecks.checkFill(rows, cols);
    OpenClBatch out = q.alloc("fill", 1, 1, rows, cols);
    q.flat("fill_k", out.length(), value, out);
    return out;
  }

  @Override
  public Batch eye(int n) {
    BackendChecks.checkEye(n);
    OpenClBatch out = q.alloc("eye", 1, 1, n, n);
    q.flat("eye_k", out.length(), (long) n + 1, out);
    return out;
  }

  // ---- memory --------------------------------------------------------------------------------

  /**
   * Hands the buffer back for reuse by a later allocation of the same size (its views die with
   * it). Using the batch or a view afterwards is a bug of the caller and fails with an
   * IllegalStateException; releasing it again (or a view of it) is a no-op.
   */
  @Override
  public void release(Batch b) {
    releaseTo(pool, b);
  }

  // ---- elementwise ---------------------------------------------------------------------------

  @Override
  protected Batch elementwise(String kernel, int op, OpenClBatch x, OpenClBatch y, BackendChecks.Elementwise e) {
    OpenClBatch out = q.alloc(kernel, e.samples(), e.directions(), e.rows(), e.cols());
    if (sameLayout(e, x, y)) {
      q.flat("binary_flat_k", out.length(), op, x, y, out); // the same layout: entry by entry
    } else {
      q.flat("binary_k", out.length(), op, (long) e.rows() * e.cols(), (long) e.directions(), x, x.samples(), x.directions(),
          e.aScalar() ? 1 : 0, (long) x.itemSize(), y, y.samples(), y.directions(), e.bScalar() ? 1 : 0, (long) y.itemSize(), out);
    }
    return out;
  }

  /** A batch of {@code x}'s shape, from the device kernel {@code clKernel(c, x, out)} launched over its entries. */
  private OpenClBatch entrywise(String kernel, String clKernel, double c, OpenClBatch x) {
    OpenClBatch out = q.alloc(kernel, x.samples(), x.directions(), x.rows(), x.cols());
    q.flat(clKernel, out.length(), c, x, out);
    return out;
  }

  @Override
  public Batch scale(Batch a, double c) {
    return entrywise("scale", "scale_k", c, own("scale", "a", a));
  }

  @Override
  public Batch zerosLike(Batch a) {
    OpenClBatch x = own("zerosLike", "a", a);
    OpenClBatch out = q.alloc("zerosLike", x.samples(), x.directions(), x.rows(), x.cols());
    q.flat("fill_k", out.length(), 0.0, out);
    return out;
  }

  @Override
  public Batch power(Batch a, double exponent) {
    return entrywise("power", "power_k", exponent, own("power", "a", a));
  }

  /**
   * {@code f} applied to every entry, on the device: f's OpenCL C source is compiled with {@link
   * ScalarFunction#OPENCL_PRELUDE} into a map kernel (once per function name, source and precision
   * on the device; a build failure throws an {@link OpenClException} with the build log).
   */
  @Override
  public Batch map(Batch a, ScalarFunction f) {
    OpenClBatch x = own("map", "a", a);
    Objects.requireNonNull(f, "map: function is null");
    String key = "map-" + name() + "-" + f.name() + "-" + Integer.toHexString(f.openclSource().hashCode());
    cl_kernel k = q.kernels.get(key + f.openclSource());
    if (k == null) {
      cl_program p = ctx.program(key + "\n" + f.openclSource(), OpenClKernels.map(precision, f), "-cl-std=CL1.2");
      k = OpenClLaunches.createKernel(p, OpenClKernels.mapKernelName(f));
      q.kernels.put(key + f.openclSource(), k);
    }
    OpenClBatch out = q.alloc("map", x.samples(), x.directions(), x.rows(), x.cols());
    q.flat(key, k, out.length(), x, out);
    return out;
  }

  // ---- products (OpenClProducts) ---------------------------------------------------------------

  @Override
  public Batch matmul(Batch a, boolean transposeA, Batch b, boolean transposeB) {
    return products.matmul(own("matmul", "a", a), transposeA, own("matmul", "b", b), transposeB);
  }

  @Override
  public Batch matmulSumSamples(Batch a, boolean transposeA, Batch b, boolean transposeB) {
    return products.matmulSumSamples(own("matmulSumSamples", "a", a), transposeA, own("matmulSumSamples", "b", b), transposeB);
  }

  @Override
  public Batch transpose(Batch a) {
    OpenClBatch x = own("transpose", "a", a);
    OpenClBatch out = q.alloc("transpose", x.samples(), x.directions(), x.cols(), x.rows());
    q.flat("transpose_k", out.length(), (long) x.rows(), (long) x.cols(), x, out);
    return out;
  }

  @Override
  public Batch kron(Batch a, Batch b) {
    OpenClBatch x = own("kron", "a", a), y = own("kron", "b", b);
    BackendChecks.Kron shape = BackendChecks.kronShape(x, y);
    OpenClBatch out = q.alloc("kron", shape.samples(), shape.directions(), shape.rows(), shape.cols());
    q.flat("kron_k", out.length(), (long) shape.directions(), (long) x.rows(), (long) x.cols(), (long) y.rows(), (long) y.cols(), x,
        x.samples(), x.directions(), y, y.samples(), y.directions(), out);
    return out;
  }

  /**
   * A result of {@code x}'s batch shape with items {@code rows x cols}, from the device kernel
   * {@code clKernel(rows of x, x, out)} launched over the result's entries.
   */
  private OpenClBatch perItem(String kernel, String clKernel, OpenClBatch x, int rows, int cols) {
    OpenClBatch out = q.alloc(kernel, x.samples(), x.directions(), rows, cols);
    q.flat(clKernel, out.length(), (long) x.rows(), x, out);
    return out;
  }

  /** One scalar per item of {@code x}, from the device kernel {@code clKernel(item size, x, out)} run by one work-group per item. */
  private OpenClBatch reduceItems(String kernel, String clKernel, OpenClBatch x) {
    OpenClBatch out = q.alloc(kernel, x.samples(), x.directions(), 1, 1);
    q.groups(clKernel, x.items(), (long) x.itemSize(), x, out);
    return out;
  }

  @Override
  public Batch sum(Batch a) {
    return reduceItems("sum", "sum_k", own("sum", "a", a));
  }

  @Override
  public Batch trace(Batch a) {
    OpenClBatch x = own("trace", "a", a);
    BackendChecks.requireSquare("trace", x);
    return perItem("trace", "trace_k", x, 1, 1);
  }

  @Override
  public Batch diagonal(Batch a) {
    OpenClBatch x = own("diagonal", "a", a);
    BackendChecks.requireSquare("diagonal", x);
    return perItem("diagonal", "diagonal_k", x, x.rows(), 1);
  }

  @Override
  public Batch diagMatrix(Batch v) {
    OpenClBatch x = own("diagMatrix", "v", v);
    BackendChecks.checkDiagMatrix(x);
    return perItem("diagMatrix", "diag_matrix_k", x, x.rows(), x.rows());
  }

  @Override
  public Batch softmax(Batch a) {
    OpenClBatch x = own("softmax", "a", a);
    OpenClBatch out = q.alloc("softmax", x.samples(), x.directions(), x.rows(), x.cols());
    if (x.itemSize() > 0) q.groups("softmax_k", x.items(), (long) x.itemSize(), x, out);
    return out;
  }

  @Override
  public Batch logSumExp(Batch a) {
    return reduceItems("logSumExp", "logsumexp_k", own("logSumExp", "a", a));
  }

  // ---- per-item decompositions: host round trips ----------------------------------------------

  /**
   * The inverse of each square item: a <b>host round trip</b> (the batch is copied to the host,
   * each item inverted by {@link HostLinearAlgebra}, the result copied back), as these items are
   * small; counted by {@link #hostLinearAlgebraCalls()}.
   */
  @Override
  public Batch inverse(Batch a) {
    OpenClBatch x = own("inverse", "a", a);
    BackendChecks.requireSquare("inverse", x);
    hostLinearAlgebraCalls++;
    double[] d = new double[(int) x.length()];
    HostLinearAlgebra.inverse(HostBuffer.of(toArray(x)), HostBuffer.of(d), x, precision);
    return fromArray(x.samples(), x.directions(), x.rows(), x.rows(), d);
  }

  /** The determinant of each square item: a <b>host round trip</b> through {@link HostLinearAlgebra}. */
  @Override
  public Batch determinant(Batch a) {
    OpenClBatch x = own("determinant", "a", a);
    BackendChecks.requireSquare("determinant", x);
    hostLinearAlgebraCalls++;
    return fromArray(x.samples(), x.directions(), 1, 1, HostLinearAlgebra.determinants(HostBuffer.of(toArray(x)), x));
  }

  /** {@code Q f(L) Q'} per item: a <b>host round trip</b> through {@link HostLinearAlgebra}. */
  @Override
  public Batch symmetricEigenMap(Batch a, DoubleUnaryOperator f) {
    OpenClBatch x = own("symmetricEigenMap", "a", a);
    BackendChecks.requireSquare("symmetricEigenMap", x);
    Objects.requireNonNull(f, "symmetricEigenMap: function is null");
    hostLinearAlgebraCalls++;
    double[] d = new double[(int) x.length()];
    HostLinearAlgebra.symmetricEigenMap(HostBuffer.of(toArray(x)), f, HostBuffer.of(d), x);
    return fromArray(x.samples(), x.directions(), x.rows(), x.rows(), d);
  }

  // ---- structured linear maps ----------------------------------------------------------------

  @Override
  public Batch unfold(Batch x, ConvGeometry g) {
    OpenClBatch in = own("unfold", "x", x);
    BackendChecks.checkUnfold(in, g);
    OpenClBatch out = q.alloc("unfold", in.samples(), in.directions(), g.patchRows(), g.patches());
    q.flat("unfold_k", out.length(), g.c(), g.h(), g.w(), g.k(), g.s(), g.p(), g.d(), g.outH(), g.outW(), in, out);
    return out;
  }

  @Override
  public Batch fold(Batch columns, ConvGeometry g) {
    OpenClBatch in = own("fold", "columns", columns);
    BackendChecks.checkFold(in, g);
    OpenClBatch out = q.alloc("fold", in.samples(), in.directions(), g.c(), g.h() * g.w());
    q.flat("fold_k", out.length(), g.c(), g.h(), g.w(), g.k(), g.s(), g.p(), g.d(), g.outH(), g.outW(), in, out);
    return out;
  }

  /**
   * Checks an index batch for items of {@code n} entries: one direction, exact in the precision,
   * and every entry an integer in [-1, n). The entries are checked on the device (the first bad
   * position is read back, then its entry for the message); a batch found valid for n is valid for
   * every larger n, which its buffer remembers until it is released.
   */
  private void checkIndex(String kernel, OpenClBatch index, int n) {
    BackendChecks.checkIndexDirections(kernel, index);
    if (precision == Precision.FLOAT32 && n > FLOAT_EXACT_INTS)
      throw new IllegalArgumentException(kernel + ": items of " + n + " entries cannot be indexed exactly by the float32 index batch "
          + index.describe() + " (float holds integers exactly only up to 2^24 = " + FLOAT_EXACT_INTS + "); use a FLOAT64 backend");
    if (index.length() > BackendChecks.MAX_ENTRIES)
      throw new IllegalArgumentException(kernel + ": index batch " + index.describe() + " is too large");
    OpenClBatch.Buffer b = index.buffer.indexCaches();
    if (n >= b.validFor || index.length() == 0) return;
    if (scratchInt == null) scratchInt = q.fresh(kernel, Integer.BYTES);
    q.flat("fill_int_k", 1, Integer.MAX_VALUE, scratchInt);
    q.flat("validate_k", index.length(), (long) n, index, scratchInt);
    int[] bad = new int[1];
    try {
      clEnqueueReadBuffer(ctx.queue, scratchInt.mem, CL_TRUE, 0, Integer.BYTES, Pointer.to(bad), 0, null, null);
    } catch (CLException e) {
      throw q.failure(kernel, e, 0);
    }
    if (bad[0] != Integer.MAX_VALUE) {
      double[] v = new double[1];
      q.read(index.buffer, bad[0], v, 1, kernel);
      BackendChecks.indexEntry(kernel, index, v[0], bad[0], n); // throws
      throw new IllegalStateException(kernel + ": the device found entry " + v[0] + " at position " + bad[0] + " of " + index.describe()
          + " invalid for items of " + n + " entries, the host did not");
    }
    b.validFor = Math.min(b.validFor, n);
  }

  @Override
  public Batch gather(Batch x, Batch index) {
    OpenClBatch src = own("gather", "x", x), ix = own("gather", "index", index);
    int n = src.itemSize();
    checkIndex("gather", ix, n);
    int samples = BackendChecks.axis("gather", "samples", src, ix, src.samples(), ix.samples());
    int directions = src.directions(), m = ix.itemSize();
    OpenClBatch out = q.alloc("gather", samples, directions, ix.rows(), ix.cols());
    q.flat("gather_k", out.length(), (long) m, (long) n, (long) directions, src.samples(), ix.samples(), src, ix, out);
    return out;
  }

  /**
   * The adjoint of gather, deterministic: the inverse index of the index batch (for each target
   * entry, the positions that hit it, in increasing order) is built on the device once per index
   * buffer, item size and target size, and kept with the index buffer until it is released; then
   * each output entry sums its contributions in that order.
   */
  @Override
  public Batch scatterAdd(Batch g, Batch index, int rows, int cols) {
    OpenClBatch gr = own("scatterAdd", "g", g), ix = own("scatterAdd", "index", index);
    int n = BackendChecks.scatterAddTarget(gr, ix, rows, cols);
    checkIndex("scatterAdd", ix, n);
    int samples = BackendChecks.axis("scatterAdd", "samples", gr, ix, gr.samples(), ix.samples());
    int directions = gr.directions(), m = ix.itemSize();
    if (m == 0) return q.zeros("scatterAdd", samples, directions, rows, cols);
    OpenClBatch out = q.alloc("scatterAdd", samples, directions, rows, cols);
    if (out.length() == 0) return out;
    OpenClBatch.Buffer b = ix.buffer.indexCaches();
    if (b.csrN != n || b.csrList == null || b.csrList.bytes != (long) ix.samples() * m * Integer.BYTES) {
      b.dropIndexCachesCsr();
      int r = ix.samples();
      long arrEntries = (long) r * (n + 1);
      OpenClBatch.Buffer arr = q.fresh("scatterAdd", arrEntries * Integer.BYTES);
      OpenClBatch.Buffer list = q.fresh("scatterAdd", (long) r * m * Integer.BYTES);
      q.flat("fill_int_k", arrEntries, 0, arr);
      q.flat("csr_count_k", (long) r * m, (long) m, (long) n, ix, arr);
      q.groups("csr_scan_k", r, (long) n + 1, arr);
      q.flat("csr_place_k", r, (long) m, (long) n, ix, arr, list);
      b.csrArr = arr;
      b.csrList = list;
      b.csrN = n;
    }
    q.flat("scatter_k", out.length(), (long) n, (long) m, (long) directions, gr.samples(), ix.samples(), gr, b.csrArr, b.csrList, out);
    return out;
  }

  @Override
  public Batch windowArgmax(Batch x, int c, int h, int w, int k, int s, int p) {
    OpenClBatch in = own("windowArgmax", "x", x);
    BackendChecks.checkWindowArgmax(in, c, h, w, k, s, p);
    if (precision == Precision.FLOAT32 && in.itemSize() > FLOAT_EXACT_INTS)
      throw new IllegalArgumentException("windowArgmax: items of " + in.itemSize() + " entries cannot be indexed exactly in float32"
          + " (float holds integers exactly only up to 2^24); use a FLOAT64 backend");
    int oh = BackendChecks.pooledSize(h, k, s, p), ow = BackendChecks.pooledSize(w, k, s, p);
    OpenClBatch out = q.alloc("windowArgmax", in.samples(), 1, c, oh * ow);
    q.flat("window_argmax_k", out.length(), c, h, w, k, s, p, in, out);
    out.buffer.indexCaches().validFor = in.itemSize(); // positions in items of c*h*w entries, or -1: valid by construction
    return out;
  }

  // ---- batch axes ----------------------------------------------------------------------------

  @Override
  public Batch sumSamples(Batch a) {
    OpenClBatch x = own("sumSamples", "a", a);
    OpenClBatch out = q.alloc("sumSamples", 1, x.directions(), x.rows(), x.cols());
    q.flat("sum_samples_k", out.length(), (long) x.samples(), x, out);
    return out;
  }

  @Override
  public String toString() {
    return name() + " on " + device.describe();
  }
}
