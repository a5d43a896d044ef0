package org.hbp.backend.opencl;

import static org.jocl.CL.CL_CONTEXT_PLATFORM;
import static org.jocl.CL.CL_PROGRAM_BUILD_LOG;
import static org.jocl.CL.clBuildProgram;
import static org.jocl.CL.clCreateCommandQueue;
import static org.jocl.CL.clCreateContext;
import static org.jocl.CL.clCreateProgramWithSource;
import static org.jocl.CL.clGetProgramBuildInfo;
import static org.jocl.CL.clReleaseProgram;

import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.hbp.backend.Precision;
import org.jocl.CLException;
import org.jocl.Pointer;
import org.jocl.cl_command_queue;
import org.jocl.cl_context;
import org.jocl.cl_context_properties;
import org.jocl.cl_device_id;
import org.jocl.cl_program;

/**
 * What all {@link OpenClBackend}s of one device share for the life of the process: the OpenCL
 * context, ONE in-order command queue, the programs built so far (each source is compiled once per
 * context; keys include the precision) and the count of bytes in live device buffers.
 *
 * <p>The single in-order queue orders every command of every backend on the device, so a batch
 * made by one backend instance may be used by another (in another thread, handed over with the
 * usual Java synchronization) without events. OpenCL queues and contexts are thread-safe; kernel
 * objects are not (their arguments are state), so each backend creates its own.
 */
final class OpenClContext {
  private static final Map<Integer, OpenClContext> CONTEXTS = new HashMap<>();

  final OpenClDevices.Device device;
  final cl_context context;
  final cl_command_queue queue;
  /** Bytes of all live device buffers of this context (allocated, not yet released). */
  final AtomicLong liveBytes = new AtomicLong();
  /**
   * Per precision, the outcome of the CLBlast check on this device ({@link
   * OpenClBackend#clblastFailure}): "" when CLBlast's product was right, else why it cannot be used.
   */
  final Map<Precision, String> clblastCheck = new ConcurrentHashMap<>();
  private final Map<String, cl_program> programs = new HashMap<>();

  private OpenClContext(OpenClDevices.Device device) {
    this.device = device;
    try {
      cl_context_properties props = new cl_context_properties();
      props.addProperty(CL_CONTEXT_PLATFORM, device.platform);
      this.context = clCreateContext(props, 1, new cl_device_id[] {device.id}, null, null, null);
      this.queue = clCreateCommandQueue(context, device.id, 0, null);
    } catch (CLException e) {
      throw new OpenClException("OpenCL: could not create a context and command queue on device " + device.describe() + ": "
          + e.getMessage(), e);
    }
  }

  /** The shared context of a device (created on first use). */
  static synchronized OpenClContext of(OpenClDevices.Device device) {
    OpenClContext c = CONTEXTS.get(device.index());
    if (c == null) {
      c = new OpenClContext(device);
      CONTEXTS.put(device.index(), c);
    }
    return c;
  }

  /**
   * The program built from {@code source} with {@code options}, cached under {@code key}. A build
   * failure throws an {@link OpenClException} with the build log.
   */
  synchronized cl_program program(String key, String source, String options) {
    cl_program p = programs.get(key);
    if (p != null) return p;
    p = clCreateProgramWithSource(context, 1, new String[] {source}, null, null);
    try {
      clBuildProgram(p, 1, new cl_device_id[] {device.id}, options, null, null);
    } catch (CLException e) {
      String log = buildLog(p);
      clReleaseProgram(p);
      throw new OpenClException("OpenCL: building program '" + key + "' for " + device.describe() + " failed (" + e.getMessage()
          + ") with options '" + options + "'. Build log:\n" + log
          + (source.split("\n", -1).length <= 200 ? "\nSource:\n" + numbered(source) : ""), e);
    }
    programs.put(key, p);
    return p;
  }

  private String buildLog(cl_program p) {
    try {
      long[] size = new long[1];
      clGetProgramBuildInfo(p, device.id, CL_PROGRAM_BUILD_LOG, 0, null, size);
      byte[] buf = new byte[(int) Math.max(1, size[0])];
      clGetProgramBuildInfo(p, device.id, CL_PROGRAM_BUILD_LOG, buf.length, Pointer.to(buf), null);
      int n = 0;
      while (n < buf.length && buf[n] != 0) n++;
      return new String(buf, 0, n, StandardCharsets.UTF_8).trim();
    } catch (CLException e) {
      return "(no build log: " + e.getMessage() + ")";
    }
  }

  private static String numbered(String source) {
    StringBuilder b = new StringBuilder();
    String[] lines = source.split("\n", -1);
    for (int i = 0; i < lines.length; i++) b.append(String.format("%4d  ", i + 1)).append(lines[i]).append('\n');
    return b.toString();
  }
}
