package org.hbp.backend.opencl;

import static org.jocl.CL.CL_KERNEL_WORK_GROUP_SIZE;
import static org.jocl.CL.CL_MEM_OBJECT_ALLOCATION_FAILURE;
import static org.jocl.CL.CL_MEM_READ_WRITE;
import static org.jocl.CL.CL_OUT_OF_HOST_MEMORY;
import static org.jocl.CL.CL_OUT_OF_RESOURCES;
import static org.jocl.CL.CL_TRUE;
import static org.jocl.CL.clCreateBuffer;
import static org.jocl.CL.clCreateKernel;
import static org.jocl.CL.clEnqueueNDRangeKernel;
import static org.jocl.CL.clEnqueueReadBuffer;
import static org.jocl.CL.clEnqueueWriteBuffer;
import static org.jocl.CL.clFinish;
import static org.jocl.CL.clGetKernelWorkGroupInfo;
import static org.jocl.CL.clSetKernelArg;

import java.util.HashMap;
import java.util.Map;
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
import org.hbp.backend.host.HostKernels;
import org.hbp.backend.host.HostLinearAlgebra;
import org.hbp.backend.host.StoragePool;
import org.jocl.CLException;
import org.jocl.Pointer;
import org.jocl.Sizeof;
import org.jocl.cl_kernel;
import org.jocl.cl_mem;
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
 * <p><b>Kernels.</b> {@link #matmul} and {@link #matmulSumSamples} run one product kernel launch
 * batched over the items with the broadcasting of {@link Backend#matmul} (strides 0 for an axis of
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
 *   <li>{@link #map} with a function that is not a {@link ScalarFunction}: the batch is copied to
 *       the host, mapped in Java and copied back; counted by {@link #hostFallbacks()} (a map with a
 *       {@link ScalarFunction} compiles its OpenCL C source into a kernel instead, once per
 *       function and precision);
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
public final class OpenClBackend extends AbstractBackend<OpenClBatch> {
  /** Indices held as float are exact up to here. */
  private static final int FLOAT_EXACT_INTS = 1 << 24;

  /** Work items per launch of a flat kernel (a multiple of every power-of-two work-group size). */
  private static final long FLAT_CHUNK = 1L << 30;

  /** Work-groups per launch along a grid dimension other than the first (CUDA's 65535 limit). */
  private static final long GRID_CHUNK = 65535;

  private final Precision precision;
  private final OpenClContext ctx;
  private final OpenClDevices.Device device;
  private final StoragePool<OpenClBatch.Buffer> pool;
  private final cl_program program;
  /** Work-group size of the group kernels (a power of two). */
  private final int redWg;
  /** Which product kernels fit this device: the large and the small tile, the CPU kernel. */
  private final boolean gemmLarge;
  private final boolean gemmSmall;
  private final boolean gemmDirectFits;
  /** The product kernel in use: {@code large} (64x64 tiles, 16x16 for small items), {@code small}, {@code direct} or {@code naive}. */
  private String gemmVariant;
  private final Map<String, cl_kernel> kernels = new HashMap<>();
  private final Map<String, Long> flatWg = new HashMap<>();
  /** A 4-byte buffer for the index checks. */
  private OpenClBatch.Buffer scratchInt;
  private long hostFallbacks;
  private long hostLinearAlgebraCalls;

  /** A FLOAT32 backend on the default device (the first GPU, else the first device). */
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
    long defaultPool = Math.min(2L << 30, device.globalMemBytes() / 4);
    this.pool = new StoragePool<>("OpenClBackend", Long.getLong("hbp.opencl.poolBytes", defaultPool));
    // the group kernels' work-group: a power of two within the device's and the kernels' limits
    int wg = (int) Math.min(256, Long.highestOneBit(Math.max(1, device.maxWorkGroupSize())));
    cl_program p;
    while (true) {
      p = ctx.program("main-" + name() + "-" + wg, OpenClKernels.main(precision, wg), "-cl-std=CL1.2");
      int allowed = Integer.MAX_VALUE;
      for (String k : new String[] {"sum_k", "softmax_k", "logsumexp_k", "csr_scan_k"})
        allowed = (int) Math.min(allowed, kernelWorkGroupSize(createKernel(p, k)));
      if (allowed >= wg || wg == 1) break;
      wg = (int) Long.highestOneBit(Math.max(1, allowed));
    }
    this.program = p;
    this.redWg = wg;
    this.gemmLarge = fits("gemm_large", OpenClKernels.GEMM_LARGE);
    this.gemmSmall = fits("gemm_small", OpenClKernels.GEMM_SMALL);
    int[] dw = OpenClKernels.GEMM_DIRECT_SHAPE;
    this.gemmDirectFits = kernelWorkGroupSize(kernel("gemm_direct")) >= (long) dw[0] * dw[1]
        && device.maxWorkGroupSize() >= (long) dw[0] * dw[1];
    String auto = device.typeName().equals("cpu") && gemmDirectFits ? "direct"
        : gemmLarge && gemmSmall ? "large" : gemmSmall ? "small" : "naive";
    String chosen = System.getProperty("hbp.opencl.gemm", "auto");
    useGemmKernel(chosen.equals("auto") ? auto : chosen);
  }

  /** Whether a tiled product kernel's work-group and local memory fit this device. */
  private boolean fits(String kernel, int[] cfg) {
    long need = (long) cfg[0] * cfg[1];
    return kernelWorkGroupSize(kernel(kernel)) >= need && device.maxWorkGroupSize() >= need
        && OpenClKernels.gemmLocalBytes(cfg, precision) <= device.localMemBytes();
  }

  /** The format of the batches. */
  public Precision precision() {
    return precision;
  }

  /** The device this backend runs on. */
  public OpenClDevices.Device device() {
    return device;
  }

  /**
   * How many {@link #map} calls so far copied their batch to the host because the function was
   * not a {@link ScalarFunction} (zero in a pass whose operators map only ScalarFunctions).
   */
  public long hostFallbacks() {
    return hostFallbacks;
  }

  /** How many inverse, determinant and symmetricEigenMap calls so far ran on the host (by design). */
  public long hostLinearAlgebraCalls() {
    return hostLinearAlgebraCalls;
  }

  /**
   * The product kernel in use: {@code large} (64 x 64 tiles in local memory, 4 x 4 entries per
   * work item; 16 x 16 tiles when an item has at most 32 rows or columns), {@code small} (16 x 16
   * tiles), {@code direct} (2 x 8 register blocks without local memory, the default on CPU devices)
   * or {@code naive} (one work item per entry, for devices whose work-groups fit no other). The
   * default is the best that fits the device; the system property {@code hbp.opencl.gemm} or
   * {@link #useGemmKernel} choose another.
   */
  public String gemmKernel() {
    return gemmVariant;
  }

  /**
   * Makes products use the named kernel ({@code large}, {@code small}, {@code direct} or {@code
   * naive}, see {@link #gemmKernel}); an IllegalArgumentException when it does not fit the device.
   */
  public void useGemmKernel(String variant) {
    boolean ok = switch (variant) {
      case "large" -> gemmLarge && gemmSmall;
      case "small" -> gemmSmall;
      case "direct" -> gemmDirectFits;
      case "naive" -> true;
      default -> throw new IllegalArgumentException("unknown product kernel '" + variant + "'; expected large, small, direct or naive");
    };
    if (!ok) throw new IllegalArgumentException("the product kernel '" + variant + "' does not fit OpenCL device " + device.describe()
        + " (work-group size or local memory)");
    gemmVariant = variant;
  }

  /** Waits until every command enqueued so far on the device's queue has finished (for timings). */
  @Override
  public void finish() {
    try {
      clFinish(ctx.queue);
    } catch (CLException e) {
      throw failure("finish", e, 0);
    }
  }

  /** Bytes of released buffers held for reuse now. */
  public long pooledBytes() {
    return pool.pooledBytes();
  }

  /** Allocations served from released buffers so far, and those that needed a fresh buffer. */
  public long[] poolHitsAndMisses() {
    return pool.hitsAndMisses();
  }

  /** Frees the released buffers held for reuse (live batches are not affected). */
  public void trimPool() {
    pool.clear();
  }

  /** Bytes in live device buffers of this device, over all backends of the process (pooled ones included). */
  public long deviceBytesInUse() {
    return ctx.liveBytes.get();
  }

  // ---- kernels and launches --------------------------------------------------------------------

  private static cl_kernel createKernel(cl_program p, String name) {
    return clCreateKernel(p, name, null);
  }

  private cl_kernel kernel(String name) {
    cl_kernel k = kernels.get(name);
    if (k == null) {
      k = createKernel(program, name);
      kernels.put(name, k);
    }
    return k;
  }

  private long kernelWorkGroupSize(cl_kernel k) {
    long[] v = new long[1];
    clGetKernelWorkGroupInfo(k, device.id, CL_KERNEL_WORK_GROUP_SIZE, Sizeof.size_t, Pointer.to(v), null);
    return v[0];
  }

  /** The work-group size of a flat kernel: a power of two up to 256 within its limit. */
  private long flatLocal(String name, cl_kernel k) {
    Long wg = flatWg.get(name);
    if (wg == null) {
      wg = Math.min(256, Long.highestOneBit(Math.max(1, Math.min(kernelWorkGroupSize(k), device.maxWorkGroupSize()))));
      flatWg.put(name, wg);
    }
    return wg;
  }

  /** Sets kernel arguments from {@code first} on: ints, longs, doubles (as REAL), batches and buffers (as cl_mem). */
  private void setArgs(cl_kernel k, int first, Object... args) {
    for (int i = 0; i < args.length; i++) {
      Object a = args[i];
      int at = first + i;
      if (a instanceof Integer v) clSetKernelArg(k, at, Sizeof.cl_int, Pointer.to(new int[] {v}));
      else if (a instanceof Long v) clSetKernelArg(k, at, Sizeof.cl_long, Pointer.to(new long[] {v}));
      else if (a instanceof Double v) {
        if (precision == Precision.FLOAT64) clSetKernelArg(k, at, Sizeof.cl_double, Pointer.to(new double[] {v}));
        else clSetKernelArg(k, at, Sizeof.cl_float, Pointer.to(new float[] {(float) (double) v}));
      } else if (a instanceof OpenClBatch b) clSetKernelArg(k, at, Sizeof.cl_mem, Pointer.to(b.mem()));
      else if (a instanceof OpenClBatch.Buffer b) clSetKernelArg(k, at, Sizeof.cl_mem, Pointer.to(b.mem));
      else throw new IllegalStateException("kernel argument " + at + " of unsupported type " + a);
    }
  }

  /** Runs a flat kernel (arguments {@code base, total, args...}) over {@code total} entries. */
  private void flat(String name, long total, Object... args) {
    flat(name, kernel(name), total, args);
  }

  private void flat(String name, cl_kernel k, long total, Object... args) {
    if (total <= 0) return;
    setArgs(k, 2, args);
    long local = flatLocal(name, k);
    for (long base = 0; base < total; base += FLAT_CHUNK) {
      long n = Math.min(FLAT_CHUNK, total - base);
      setArgs(k, 0, base, total);
      enqueue(name, k, 1, new long[] {(n + local - 1) / local * local}, new long[] {local}, 0);
    }
  }

  /** Runs a group kernel (arguments {@code tbase, args...}) with one work-group per item. */
  private void groups(String name, long items, Object... args) {
    if (items <= 0) return;
    cl_kernel k = kernel(name);
    setArgs(k, 1, args);
    for (long t0 = 0; t0 < items; t0 += 1 << 20) {
      long n = Math.min(1 << 20, items - t0);
      setArgs(k, 0, (int) t0);
      enqueue(name, k, 1, new long[] {n * redWg}, new long[] {redWg}, 0);
    }
  }

  private void enqueue(String what, cl_kernel k, int dims, long[] global, long[] local, long outBytes) {
    try {
      clEnqueueNDRangeKernel(ctx.queue, k, dims, null, global, local, 0, null, null);
    } catch (CLException e) {
      throw failure(what, e, outBytes);
    }
  }

  private static boolean outOfMemory(CLException e) {
    int s = e.getStatus();
    return s == CL_MEM_OBJECT_ALLOCATION_FAILURE || s == CL_OUT_OF_RESOURCES || s == CL_OUT_OF_HOST_MEMORY;
  }

  /** An OpenCL error as an OpenClException: out of memory with the bytes involved, else the call's error. */
  private OpenClException failure(String what, CLException e, long bytes) {
    if (outOfMemory(e))
      return new OpenClException(what + ": OpenCL device " + device.describe() + " ran out of memory (" + e.getMessage() + ")"
          + (bytes > 0 ? " with " + bytes + " bytes (" + OpenClDevices.humanBytes(bytes) + ") requested" : "") + "; live device buffers "
          + ctx.liveBytes.get() + " bytes of " + device.globalMemBytes() + ". Release batches that are no longer needed "
          + "(Backend.release, Pass.close) or use smaller batches", e);
    return new OpenClException(what + ": OpenCL call failed on " + device.describe() + ": " + e.getMessage(), e);
  }

  // ---- buffers -----------------------------------------------------------------------------------

  /** A result batch of the given shape on a pooled or fresh buffer (contents undefined). */
  private OpenClBatch alloc(String kernel, int samples, int directions, int rows, int cols) {
    long n = BackendChecks.entries(kernel, samples, directions, rows, cols);
    OpenClBatch.Buffer b = buffer(kernel, Math.max(1, n) * precision.bytes());
    return new OpenClBatch(samples, directions, rows, cols, n, precision, b, b.generation(), ctx);
  }

  private OpenClBatch.Buffer buffer(String kernel, long bytes) {
    OpenClBatch.Buffer b = pool.take(bytes);
    return b != null ? b : fresh(kernel, bytes);
  }

  /**
   * A new device buffer. When it would not fit the device memory (by this process's count) or
   * OpenCL refuses it, the pool is emptied and the garbage collector run (unreachable batches free
   * their buffers), then it is tried again; in the end an OpenClException names the bytes.
   */
  private OpenClBatch.Buffer fresh(String kernel, long bytes) {
    if (bytes > device.maxAllocBytes())
      throw new OpenClException(kernel + ": a device buffer of " + bytes + " bytes (" + OpenClDevices.humanBytes(bytes)
          + ") exceeds the largest allocation of OpenCL device " + device.describe() + " (CL_DEVICE_MAX_MEM_ALLOC_SIZE "
          + device.maxAllocBytes() + " bytes); use smaller batches");
    CLException last = null;
    for (int attempt = 0; attempt < 5; attempt++) {
      if (attempt == 1) pool.clear();
      if (attempt >= 2) {
        System.gc();
        try {
          Thread.sleep(20L * attempt);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          break;
        }
      }
      if (ctx.liveBytes.get() + bytes > device.globalMemBytes()) continue;
      try {
        cl_mem m = clCreateBuffer(ctx.context, CL_MEM_READ_WRITE, bytes, null, null);
        return new OpenClBatch.Buffer(m, bytes, ctx.liveBytes);
      } catch (CLException e) {
        if (!outOfMemory(e) && e.getStatus() != org.jocl.CL.CL_INVALID_BUFFER_SIZE) throw failure(kernel, e, bytes);
        last = e;
      }
    }
    throw new OpenClException(kernel + ": out of device memory: requested " + bytes + " bytes (" + OpenClDevices.humanBytes(bytes)
        + ") on OpenCL device " + device.describe() + ", whose global memory is " + device.globalMemBytes() + " bytes ("
        + OpenClDevices.humanBytes(device.globalMemBytes()) + "); live buffers of this process hold " + ctx.liveBytes.get()
        + " bytes. Release batches that are no longer needed (Backend.release, Pass.close) or use smaller batches", last);
  }

  @Override
  protected String foreign(OpenClBatch b) {
    if (b.context != ctx)
      return "lives on OpenCL device " + b.context.device.describe() + ", not on the device of this " + name() + " backend ("
          + device.describe() + ")";
    return b.precision() == precision ? null : "is a " + b.precision() + " batch, not a batch of the " + name() + " backend";
  }

  // ---- transfer ------------------------------------------------------------------------------

  /** Entries staged per float32 transfer. */
  private static final int STAGE = 1 << 16;

  @Override
  public Batch fromArray(int samples, int directions, int rows, int cols, double[] data) {
    BackendChecks.checkFromArray(samples, directions, rows, cols, data);
    OpenClBatch out = alloc("fromArray", samples, directions, rows, cols);
    write(out.buffer, 0, data, data.length, "fromArray");
    return out;
  }

  /** Writes {@code data[0 .. n)} into the buffer from entry {@code offset} on (blocking). */
  private void write(OpenClBatch.Buffer b, long offset, double[] data, int n, String what) {
    if (n == 0) return;
    try {
      if (precision == Precision.FLOAT64) {
        clEnqueueWriteBuffer(ctx.queue, b.mem, CL_TRUE, offset * Double.BYTES, (long) n * Double.BYTES, Pointer.to(data), 0, null, null);
      } else {
        float[] f = new float[Math.min(n, STAGE)];
        for (int o = 0; o < n; o += f.length) {
          int len = Math.min(f.length, n - o);
          for (int p = 0; p < len; p++) f[p] = (float) data[o + p];
          clEnqueueWriteBuffer(ctx.queue, b.mem, CL_TRUE, (offset + o) * Float.BYTES, (long) len * Float.BYTES, Pointer.to(f), 0, null,
              null);
        }
      }
    } catch (CLException e) {
      throw failure(what, e, (long) n * precision.bytes());
    }
  }

  @Override
  public double[] toArray(Batch b) {
    OpenClBatch x = own("toArray", "b", b);
    if (x.length() > BackendChecks.MAX_ENTRIES)
      throw new IllegalArgumentException("toArray: " + x.describe() + " has " + x.length() + " entries, more than a Java array holds");
    double[] out = new double[(int) x.length()];
    read(x.buffer, 0, out, out.length, "toArray");
    return out;
  }

  /** Reads {@code n} entries from entry {@code offset} on into {@code dst} (blocking: waits for the queue). */
  private void read(OpenClBatch.Buffer b, long offset, double[] dst, int n, String what) {
    if (n == 0) {
      finish();
      return;
    }
    try {
      if (precision == Precision.FLOAT64) {
        clEnqueueReadBuffer(ctx.queue, b.mem, CL_TRUE, offset * Double.BYTES, (long) n * Double.BYTES, Pointer.to(dst), 0, null, null);
      } else {
        float[] f = new float[Math.min(n, STAGE)];
        for (int o = 0; o < n; o += f.length) {
          int len = Math.min(f.length, n - o);
          clEnqueueReadBuffer(ctx.queue, b.mem, CL_TRUE, (offset + o) * Float.BYTES, (long) len * Float.BYTES, Pointer.to(f), 0, null,
              null);
          for (int p = 0; p < len; p++) dst[o + p] = f[p];
        }
      }
    } catch (CLException e) {
      throw failure(what, e, 0);
    }
  }

  // ---- constants -----------------------------------------------------------------------------

  @Override
  public Batch fill(int rows, int cols, double value) {
    BackendChecks.checkFill(rows, cols);
    OpenClBatch out = alloc("fill", 1, 1, rows, cols);
    flat("fill_k", out.length(), value, out);
    return out;
  }

  /** A batch of the given shape with every entry 0. */
  private OpenClBatch zeros(String kernel, int samples, int directions, int rows, int cols) {
    OpenClBatch out = alloc(kernel, samples, directions, rows, cols);
    flat("fill_k", out.length(), 0.0, out);
    return out;
  }

  @Override
  public Batch eye(int n) {
    BackendChecks.checkEye(n);
    OpenClBatch out = alloc("eye", 1, 1, n, n);
    flat("eye_k", out.length(), (long) n + 1, out);
    return out;
  }

  // ---- free views ----------------------------------------------------------------------------

  @Override
  public boolean sharesStorage(Batch a, Batch b) {
    return a instanceof OpenClBatch x && b instanceof OpenClBatch y && x.sharesStorage(y);
  }

  /**
   * Hands the buffer back for reuse by a later allocation of the same size (its views die with
   * it). Using the batch or a view afterwards is a bug of the caller and fails with an
   * IllegalStateException; releasing it again (or a view of it) is a no-op.
   */
  @Override
  public void release(Batch b) {
    Objects.requireNonNull(b, "release: operand b is null");
    if (isOwn(b)) ((OpenClBatch) b).releaseTo(pool);
    else own("release", "b", b); // throws, naming the wrong kind of batch
  }

  @Override
  protected OpenClBatch view(OpenClBatch x, int samples, int directions, int rows, int cols) {
    return x.view(samples, directions, rows, cols);
  }

  // ---- elementwise ---------------------------------------------------------------------------

  @Override
  protected Batch elementwise(String kernel, int op, OpenClBatch x, OpenClBatch y, BackendChecks.Elementwise e) {
    OpenClBatch out = alloc(kernel, e.samples(), e.directions(), e.rows(), e.cols());
    if (sameLayout(e, x, y)) {
      flat("binary_flat_k", out.length(), op, x, y, out); // the same layout: entry by entry
    } else {
      flat("binary_k", out.length(), op, (long) e.rows() * e.cols(), (long) e.directions(), x, x.samples(), x.directions(),
          e.aScalar() ? 1 : 0, (long) x.itemSize(), y, y.samples(), y.directions(), e.bScalar() ? 1 : 0, (long) y.itemSize(), out);
    }
    return out;
  }

  @Override
  public Batch scale(Batch a, double c) {
    OpenClBatch x = own("scale", "a", a);
    OpenClBatch out = alloc("scale", x.samples(), x.directions(), x.rows(), x.cols());
    flat("scale_k", out.length(), c, x, out);
    return out;
  }

  @Override
  public Batch power(Batch a, double exponent) {
    OpenClBatch x = own("power", "a", a);
    OpenClBatch out = alloc("power", x.samples(), x.directions(), x.rows(), x.cols());
    flat("power_k", out.length(), exponent, x, out);
    return out;
  }

  /**
   * {@code f} applied to every entry. A {@link ScalarFunction} runs on the device: its OpenCL C
   * source is compiled with {@link ScalarFunction#OPENCL_PRELUDE} into a map kernel (once per
   * function name, source and precision on the device; a build failure throws an {@link
   * OpenClException} with the build log). Any other function is a <b>host round trip</b>: the
   * batch is copied to the host, mapped in Java and copied back, and {@link #hostFallbacks()}
   * counts it.
   */
  @Override
  public Batch map(Batch a, DoubleUnaryOperator f) {
    OpenClBatch x = own("map", "a", a);
    Objects.requireNonNull(f, "map: function is null");
    if (f instanceof ScalarFunction sf) {
      String key = "map-" + name() + "-" + sf.name() + "-" + Integer.toHexString(sf.openclSource().hashCode());
      cl_kernel k = kernels.get(key + sf.openclSource());
      if (k == null) {
        cl_program p = ctx.program(key + "\n" + sf.openclSource(), OpenClKernels.map(precision, sf), "-cl-std=CL1.2");
        k = createKernel(p, OpenClKernels.mapKernelName(sf));
        kernels.put(key + sf.openclSource(), k);
      }
      OpenClBatch out = alloc("map", x.samples(), x.directions(), x.rows(), x.cols());
      flat(key, k, out.length(), x, out);
      return out;
    }
    hostFallbacks++;
    double[] d = toArray(x);
    HostKernels.map(f, d, 0, d.length);
    return fromArray(x.samples(), x.directions(), x.rows(), x.cols(), d);
  }

  // ---- products --------------------------------------------------------------------------------

  /** Item stride of an operand along an axis: 0 where its extent is 1 (broadcast). */
  private static long stride(int extent, long step) {
    return extent == 1 ? 0 : step;
  }

  @Override
  public Batch matmul(Batch a, boolean transposeA, Batch b, boolean transposeB) {
    OpenClBatch x = own("matmul", "a", a), y = own("matmul", "b", b);
    BackendChecks.Product shape = BackendChecks.matmulShape(x, transposeA, y, transposeB);
    int m = shape.m(), k = shape.k(), n = shape.n(), samples = shape.samples(), directions = shape.directions();
    if (k == 0) return zeros("matmul", samples, directions, m, n);
    OpenClBatch out = alloc("matmul", samples, directions, m, n);
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

  @Override
  public Batch matmulSumSamples(Batch a, boolean transposeA, Batch b, boolean transposeB) {
    OpenClBatch x = own("matmulSumSamples", "a", a), y = own("matmulSumSamples", "b", b);
    BackendChecks.Product shape = BackendChecks.matmulSumSamplesShape(x, transposeA, y, transposeB);
    int m = shape.m(), k = shape.k(), n = shape.n(), samples = shape.samples(), directions = shape.directions();
    if (k == 0) return zeros("matmulSumSamples", 1, directions, m, n);
    OpenClBatch out = alloc("matmulSumSamples", 1, directions, m, n);
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
    String name = switch (gemmVariant) {
      case "direct", "naive" -> "gemm_" + gemmVariant;
      case "large" -> m <= 32 || n <= 32 ? "gemm_small" : "gemm_large";
      default -> "gemm_small";
    };
    cl_kernel kk = kernel(name);
    setArgs(kk, 0, m, n, k, ta ? 1 : 0, tb ? 1 : 0, lda, ldb, ldc, a, aSs, aSd, aSq, b, bSs, bSd, bSq, c, cSt, Dk, sumCount);
    long outBytes = c.bufferBytes();
    if (name.equals("gemm_naive")) {
      for (long t0 = 0; t0 < T; t0 += GRID_CHUNK)
        for (long j0 = 0; j0 < n; j0 += GRID_CHUNK) {
          setArgs(kk, 20, (int) t0, (int) j0);
          enqueue(what, kk, 3, new long[] {m, Math.min(GRID_CHUNK, n - j0), Math.min(GRID_CHUNK, T - t0)}, null, outBytes);
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
          setArgs(kk, 20, (int) t0, (int) j0);
          enqueue(what, kk, 3, new long[] {g0, g1, Math.min(GRID_CHUNK, T - t0)}, new long[] {wx, wy, 1}, outBytes);
        }
      return;
    }
    // tiled: jBase counts column tiles
    int[] cfg = name.equals("gemm_large") ? OpenClKernels.GEMM_LARGE : OpenClKernels.GEMM_SMALL;
    int wx = cfg[0], wy = cfg[1], tm = wx * cfg[2], tn = wy * cfg[3];
    long g0 = (m + tm - 1) / tm, g1 = (n + tn - 1) / tn;
    for (long t0 = 0; t0 < T; t0 += GRID_CHUNK)
      for (long j0 = 0; j0 < g1; j0 += GRID_CHUNK) {
        setArgs(kk, 20, (int) t0, (int) j0);
        enqueue(what, kk, 3, new long[] {g0 * wx, Math.min(GRID_CHUNK, g1 - j0) * wy, Math.min(GRID_CHUNK, T - t0)},
            new long[] {wx, wy, 1}, outBytes);
      }
  }

  @Override
  public Batch transpose(Batch a) {
    OpenClBatch x = own("transpose", "a", a);
    OpenClBatch out = alloc("transpose", x.samples(), x.directions(), x.cols(), x.rows());
    flat("transpose_k", out.length(), (long) x.rows(), (long) x.cols(), x, out);
    return out;
  }

  @Override
  public Batch kron(Batch a, Batch b) {
    OpenClBatch x = own("kron", "a", a), y = own("kron", "b", b);
    BackendChecks.Kron shape = BackendChecks.kronShape(x, y);
    OpenClBatch out = alloc("kron", shape.samples(), shape.directions(), shape.rows(), shape.cols());
    flat("kron_k", out.length(), (long) shape.directions(), (long) x.rows(), (long) x.cols(), (long) y.rows(), (long) y.cols(), x,
        x.samples(), x.directions(), y, y.samples(), y.directions(), out);
    return out;
  }

  @Override
  public Batch sum(Batch a) {
    OpenClBatch x = own("sum", "a", a);
    OpenClBatch out = alloc("sum", x.samples(), x.directions(), 1, 1);
    groups("sum_k", x.items(), (long) x.itemSize(), x, out);
    return out;
  }

  @Override
  public Batch trace(Batch a) {
    OpenClBatch x = own("trace", "a", a);
    BackendChecks.requireSquare("trace", x);
    OpenClBatch out = alloc("trace", x.samples(), x.directions(), 1, 1);
    flat("trace_k", out.length(), (long) x.rows(), x, out);
    return out;
  }

  @Override
  public Batch diagonal(Batch a) {
    OpenClBatch x = own("diagonal", "a", a);
    BackendChecks.requireSquare("diagonal", x);
    OpenClBatch out = alloc("diagonal", x.samples(), x.directions(), x.rows(), 1);
    flat("diagonal_k", out.length(), (long) x.rows(), x, out);
    return out;
  }

  @Override
  public Batch diagMatrix(Batch v) {
    OpenClBatch x = own("diagMatrix", "v", v);
    BackendChecks.checkDiagMatrix(x);
    OpenClBatch out = alloc("diagMatrix", x.samples(), x.directions(), x.rows(), x.rows());
    flat("diag_matrix_k", out.length(), (long) x.rows(), x, out);
    return out;
  }

  @Override
  public Batch softmax(Batch a) {
    OpenClBatch x = own("softmax", "a", a);
    OpenClBatch out = alloc("softmax", x.samples(), x.directions(), x.rows(), x.cols());
    if (x.itemSize() > 0) groups("softmax_k", x.items(), (long) x.itemSize(), x, out);
    return out;
  }

  @Override
  public Batch logSumExp(Batch a) {
    OpenClBatch x = own("logSumExp", "a", a);
    OpenClBatch out = alloc("logSumExp", x.samples(), x.directions(), 1, 1);
    groups("logsumexp_k", x.items(), (long) x.itemSize(), x, out);
    return out;
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
    int n = x.rows(), nn = n * n;
    hostLinearAlgebraCalls++;
    double[] d = new double[(int) x.length()];
    HostLinearAlgebra.inverse(HostBuffer.of(toArray(x)), HostBuffer.of(d), x, precision);
    return fromArray(x.samples(), x.directions(), n, n, d);
  }

  /** The determinant of each square item: a <b>host round trip</b> through {@link HostLinearAlgebra}. */
  @Override
  public Batch determinant(Batch a) {
    OpenClBatch x = own("determinant", "a", a);
    BackendChecks.requireSquare("determinant", x);
    int nn = x.itemSize();
    hostLinearAlgebraCalls++;
    return fromArray(x.samples(), x.directions(), 1, 1, HostLinearAlgebra.determinants(HostBuffer.of(toArray(x)), x));
  }

  /** {@code Q f(L) Q'} per item: a <b>host round trip</b> through {@link HostLinearAlgebra}. */
  @Override
  public Batch symmetricEigenMap(Batch a, DoubleUnaryOperator f) {
    OpenClBatch x = own("symmetricEigenMap", "a", a);
    BackendChecks.requireSquare("symmetricEigenMap", x);
    Objects.requireNonNull(f, "symmetricEigenMap: function is null");
    int n = x.rows(), nn = n * n;
    hostLinearAlgebraCalls++;
    double[] d = new double[(int) x.length()];
    HostLinearAlgebra.symmetricEigenMap(HostBuffer.of(toArray(x)), f, HostBuffer.of(d), x);
    return fromArray(x.samples(), x.directions(), n, n, d);
  }

  // ---- structured linear maps ----------------------------------------------------------------

  @Override
  public Batch unfold(Batch x, ConvGeometry g) {
    OpenClBatch in = own("unfold", "x", x);
    BackendChecks.checkUnfold(in, g);
    OpenClBatch out = alloc("unfold", in.samples(), in.directions(), g.patchRows(), g.patches());
    flat("unfold_k", out.length(), g.c(), g.h(), g.w(), g.k(), g.s(), g.p(), g.d(), g.outH(), g.outW(), in, out);
    return out;
  }

  @Override
  public Batch fold(Batch columns, ConvGeometry g) {
    OpenClBatch in = own("fold", "columns", columns);
    BackendChecks.checkFold(in, g);
    OpenClBatch out = alloc("fold", in.samples(), in.directions(), g.c(), g.h() * g.w());
    flat("fold_k", out.length(), g.c(), g.h(), g.w(), g.k(), g.s(), g.p(), g.d(), g.outH(), g.outW(), in, out);
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
    if (scratchInt == null) scratchInt = fresh(kernel, Integer.BYTES);
    flat("fill_int_k", 1, Integer.MAX_VALUE, scratchInt);
    flat("validate_k", index.length(), (long) n, index, scratchInt);
    int[] bad = new int[1];
    try {
      clEnqueueReadBuffer(ctx.queue, scratchInt.mem, CL_TRUE, 0, Integer.BYTES, Pointer.to(bad), 0, null, null);
    } catch (CLException e) {
      throw failure(kernel, e, 0);
    }
    if (bad[0] != Integer.MAX_VALUE) {
      double[] v = new double[1];
      read(index.buffer, bad[0], v, 1, kernel);
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
    OpenClBatch out = alloc("gather", samples, directions, ix.rows(), ix.cols());
    flat("gather_k", out.length(), (long) m, (long) n, (long) directions, src.samples(), ix.samples(), src, ix, out);
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
    if (m == 0) return zeros("scatterAdd", samples, directions, rows, cols);
    OpenClBatch out = alloc("scatterAdd", samples, directions, rows, cols);
    if (out.length() == 0) return out;
    OpenClBatch.Buffer b = ix.buffer.indexCaches();
    if (b.csrN != n || b.csrList == null || b.csrList.bytes != (long) ix.samples() * m * Integer.BYTES) {
      b.dropIndexCachesCsr();
      int r = ix.samples();
      long arrEntries = (long) r * (n + 1);
      OpenClBatch.Buffer arr = fresh("scatterAdd", arrEntries * Integer.BYTES);
      OpenClBatch.Buffer list = fresh("scatterAdd", (long) r * m * Integer.BYTES);
      flat("fill_int_k", arrEntries, 0, arr);
      flat("csr_count_k", (long) r * m, (long) m, (long) n, ix, arr);
      groups("csr_scan_k", r, (long) n + 1, arr);
      flat("csr_place_k", r, (long) m, (long) n, ix, arr, list);
      b.csrArr = arr;
      b.csrList = list;
      b.csrN = n;
    }
    flat("scatter_k", out.length(), (long) n, (long) m, (long) directions, gr.samples(), ix.samples(), gr, b.csrArr, b.csrList, out);
    return out;
  }

  @Override
  public Batch windowArgmax(Batch x, int c, int h, int w, int k) {
    OpenClBatch in = own("windowArgmax", "x", x);
    BackendChecks.checkWindowArgmax(in, c, h, w, k);
    if (precision == Precision.FLOAT32 && in.itemSize() > FLOAT_EXACT_INTS)
      throw new IllegalArgumentException("windowArgmax: items of " + in.itemSize() + " entries cannot be indexed exactly in float32"
          + " (float holds integers exactly only up to 2^24); use a FLOAT64 backend");
    OpenClBatch out = alloc("windowArgmax", in.samples(), 1, c, (h / k) * (w / k));
    flat("window_argmax_k", out.length(), c, h, w, k, in, out);
    out.buffer.indexCaches().validFor = in.itemSize(); // positions in items of c*h*w entries: valid by construction
    return out;
  }

  // ---- batch axes ----------------------------------------------------------------------------

  @Override
  public Batch sumSamples(Batch a) {
    OpenClBatch x = own("sumSamples", "a", a);
    OpenClBatch out = alloc("sumSamples", 1, x.directions(), x.rows(), x.cols());
    flat("sum_samples_k", out.length(), (long) x.samples(), x, out);
    return out;
  }

  @Override
  public String toString() {
    return name() + " on " + device.describe();
  }
}
