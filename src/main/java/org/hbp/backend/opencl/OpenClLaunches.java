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
import org.hbp.backend.BackendChecks;
import org.hbp.backend.Precision;
import org.hbp.backend.host.StoragePool;
import org.jocl.CLException;
import org.jocl.Pointer;
import org.jocl.Sizeof;
import org.jocl.cl_kernel;
import org.jocl.cl_mem;
import org.jocl.cl_program;

/**
 * The device side of one {@link OpenClBackend}: its compiled program and kernel objects, the
 * launches of flat kernels (one work item per entry) and group kernels (one work-group per item),
 * the buffers (from the backend's {@link StoragePool}, else fresh, with a clear error when the
 * device memory runs out) and the blocking transfers to and from the host. Used from one thread
 * at a time, as the backend is (kernel objects hold their arguments).
 */
final class OpenClLaunches {
  /** Work items per launch of a flat kernel (a multiple of every power-of-two work-group size). */
  private static final long FLAT_CHUNK = 1L << 30;

  private final Precision precision;
  private final OpenClDevices.Device device;
  private final OpenClContext ctx;
  final StoragePool<OpenClBatch.Buffer> pool;
  private final cl_program program;
  /** Work-group size of the group kernels (a power of two). */
  private final int redWg;
  final Map<String, cl_kernel> kernels = new HashMap<>();
  private final Map<String, Long> flatWg = new HashMap<>();

  /** Compiles (once per context, precision and work-group size) the main program for a backend named {@code name}. */
  OpenClLaunches(Precision precision, OpenClDevices.Device device, OpenClContext ctx, String name) {
    this.precision = precision;
    this.device = device;
    this.ctx = ctx;
    long defaultPool = Math.min(2L << 30, device.globalMemBytes() / 4);
    this.pool = new StoragePool<>("OpenClBackend", Long.getLong("hbp.opencl.poolBytes", defaultPool));
    // the group kernels' work-group: a power of two within the device's and the kernels' limits
    int wg = (int) Math.min(256, Long.highestOneBit(Math.max(1, device.maxWorkGroupSize())));
    cl_program p;
    while (true) {
      p = ctx.program("main-" + name + "-" + wg, OpenClKernels.main(precision, wg), "-cl-std=CL1.2");
      int allowed = Integer.MAX_VALUE;
      for (String k : new String[] {"sum_k", "softmax_k", "logsumexp_k", "csr_scan_k"})
        allowed = (int) Math.min(allowed, kernelWorkGroupSize(createKernel(p, k)));
      if (allowed >= wg || wg == 1) break;
      wg = (int) Long.highestOneBit(Math.max(1, allowed));
    }
    this.program = p;
    this.redWg = wg;
  }

  /** Waits until every command enqueued so far on the device's queue has finished. */
  void finish() {
    try {
      clFinish(ctx.queue);
    } catch (CLException e) {
      throw failure("finish", e, 0);
    }
  }

  /** Entries staged per float32 transfer. */
  private static final int STAGE = 1 << 16;

  // ---- kernels and launches --------------------------------------------------------------------

  static cl_kernel createKernel(cl_program p, String name) {
    return clCreateKernel(p, name, null);
  }

  cl_kernel kernel(String name) {
    cl_kernel k = kernels.get(name);
    if (k == null) {
      k = createKernel(program, name);
      kernels.put(name, k);
    }
    return k;
  }

  long kernelWorkGroupSize(cl_kernel k) {
    long[] v = new long[1];
    clGetKernelWorkGroupInfo(k, device.id, CL_KERNEL_WORK_GROUP_SIZE, Sizeof.size_t, Pointer.to(v), null);
    return v[0];
  }

  /** The work-group size of a flat kernel: a power of two up to 256 within its limit. */
  long flatLocal(String name, cl_kernel k) {
    Long wg = flatWg.get(name);
    if (wg == null) {
      wg = Math.min(256, Long.highestOneBit(Math.max(1, Math.min(kernelWorkGroupSize(k), device.maxWorkGroupSize()))));
      flatWg.put(name, wg);
    }
    return wg;
  }

  /** Sets kernel arguments from {@code first} on: ints, longs, doubles (as REAL), batches and buffers (as cl_mem). */
  void setArgs(cl_kernel k, int first, Object... args) {
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
  void flat(String name, long total, Object... args) {
    flat(name, kernel(name), total, args);
  }

  void flat(String name, cl_kernel k, long total, Object... args) {
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
  void groups(String name, long items, Object... args) {
    if (items <= 0) return;
    cl_kernel k = kernel(name);
    setArgs(k, 1, args);
    for (long t0 = 0; t0 < items; t0 += 1 << 20) {
      long n = Math.min(1 << 20, items - t0);
      setArgs(k, 0, (int) t0);
      enqueue(name, k, 1, new long[] {n * redWg}, new long[] {redWg}, 0);
    }
  }

  void enqueue(String what, cl_kernel k, int dims, long[] global, long[] local, long outBytes) {
    try {
      clEnqueueNDRangeKernel(ctx.queue, k, dims, null, global, local, 0, null, null);
    } catch (CLException e) {
      throw failure(what, e, outBytes);
    }
  }

  static boolean outOfMemory(CLException e) {
    int s = e.getStatus();
    return s == CL_MEM_OBJECT_ALLOCATION_FAILURE || s == CL_OUT_OF_RESOURCES || s == CL_OUT_OF_HOST_MEMORY;
  }

  /** An OpenCL error as an OpenClException: out of memory with the bytes involved, else the call's error. */
  OpenClException failure(String what, CLException e, long bytes) {
    if (outOfMemory(e))
      return new OpenClException(what + ": OpenCL device " + device.describe() + " ran out of memory (" + e.getMessage() + ")"
          + (bytes > 0 ? " with " + bytes + " bytes (" + OpenClDevices.humanBytes(bytes) + ") requested" : "") + "; live device buffers "
          + ctx.liveBytes.get() + " bytes of " + device.globalMemBytes() + ". Release batches that are no longer needed "
          + "(Backend.release, Pass.close) or use smaller batches", e);
    return new OpenClException(what + ": OpenCL call failed on " + device.describe() + ": " + e.getMessage(), e);
  }

  // ---- buffers -----------------------------------------------------------------------------------

  /** A result batch of the given shape on a pooled or fresh buffer (contents undefined). */
  OpenClBatch alloc(String kernel, int samples, int directions, int rows, int cols) {
    long n = BackendChecks.entries(kernel, samples, directions, rows, cols);
    OpenClBatch.Buffer b = buffer(kernel, Math.max(1, n) * precision.bytes());
    return new OpenClBatch(samples, directions, rows, cols, n, precision, b, b.generation(), ctx);
  }

  OpenClBatch.Buffer buffer(String kernel, long bytes) {
    OpenClBatch.Buffer b = pool.take(bytes);
    return b != null ? b : fresh(kernel, bytes);
  }

  /**
   * A new device buffer. When it would not fit the device memory (by this process's count) or
   * OpenCL refuses it, the pool is emptied and the garbage collector run (unreachable batches free
   * their buffers), then it is tried again; in the end an OpenClException names the bytes.
   */
  OpenClBatch.Buffer fresh(String kernel, long bytes) {
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

  /** A float32 transfer of entries {@code [o, o+len)} through the staging array {@code f}. */
  @FunctionalInterface
  private interface Stage {
    void move(float[] f, int o, int len);
  }

  /** Runs {@code stage} over consecutive chunks of {@code [0, n)}, at most {@link #STAGE} entries each, with one staging array. */
  private static void staged(int n, Stage stage) {
    float[] f = new float[Math.min(n, STAGE)];
    for (int o = 0; o < n; o += f.length) stage.move(f, o, Math.min(f.length, n - o));
  }

  /** Writes {@code data[0 .. n)} into the buffer from entry {@code offset} on (blocking). */
  void write(OpenClBatch.Buffer b, long offset, double[] data, int n, String what) {
    if (n == 0) return;
    try {
      if (precision == Precision.FLOAT64) {
        clEnqueueWriteBuffer(ctx.queue, b.mem, CL_TRUE, offset * Double.BYTES, (long) n * Double.BYTES, Pointer.to(data), 0, null, null);
      } else {
        staged(n, (f, o, len) -> {
          for (int p = 0; p < len; p++) f[p] = (float) data[o + p];
          clEnqueueWriteBuffer(ctx.queue, b.mem, CL_TRUE, (offset + o) * Float.BYTES, (long) len * Float.BYTES, Pointer.to(f), 0, null,
              null);
        });
      }
    } catch (CLException e) {
      throw failure(what, e, (long) n * precision.bytes());
    }
  }

  /** Reads {@code n} entries from entry {@code offset} on into {@code dst} (blocking: waits for the queue). */
  void read(OpenClBatch.Buffer b, long offset, double[] dst, int n, String what) {
    if (n == 0) {
      finish();
      return;
    }
    try {
      if (precision == Precision.FLOAT64) {
        clEnqueueReadBuffer(ctx.queue, b.mem, CL_TRUE, offset * Double.BYTES, (long) n * Double.BYTES, Pointer.to(dst), 0, null, null);
      } else {
        staged(n, (f, o, len) -> {
          clEnqueueReadBuffer(ctx.queue, b.mem, CL_TRUE, (offset + o) * Float.BYTES, (long) len * Float.BYTES, Pointer.to(f), 0, null,
              null);
          for (int p = 0; p < len; p++) dst[o + p] = f[p];
        });
      }
    } catch (CLException e) {
      throw failure(what, e, 0);
    }
  }

  /** A batch of the given shape with every entry 0. */
  OpenClBatch zeros(String kernel, int samples, int directions, int rows, int cols) {
    OpenClBatch out = alloc(kernel, samples, directions, rows, cols);
    flat("fill_k", out.length(), 0.0, out);
    return out;
  }

}
