package org.hbp.backend;

import java.util.List;
import org.hbp.UserError;
import org.hbp.backend.blas.BlasBackend;
import org.hbp.backend.cpu.CpuBackend;
import org.hbp.backend.opencl.OpenClBackend;
import org.hbp.backend.opencl.OpenClException;

/** The backends by name, for the command line. */
public final class Backends {
  private Backends() {}

  /**
   * The names {@link #create} accepts. The OpenCL names also take a device index, {@code
   * opencl-f32:INDEX}, not listed here.
   */
  public static List<String> names() {
    return List.of("cpu", "blas-f64", "blas-f32", "opencl-f32", "opencl-f64");
  }

  /**
   * A backend by name: {@code cpu} (plain Java, float64), {@code blas-f64} / {@code blas-f32}
   * (OpenBLAS, off-heap, in float64 / float32), {@code opencl-f32} / {@code opencl-f64} (OpenCL
   * through JOCL, on the default device: the first GPU, else the first device), or {@code
   * opencl-f32:INDEX} / {@code opencl-f64:INDEX} on the device with that index in the flat list of
   * all devices of all platforms that {@code hbp devices} prints. An OpenCL backend that cannot be
   * created (no OpenCL, no such device, no fp64 for opencl-f64) is an IllegalArgumentException
   * whose message says why and how to install OpenCL.
   *
   * @param threads threads for backends that use them; 0 for all cores (OpenCL backends ignore it)
   */
  public static Backend create(String name, int threads) {
    switch (name) {
      case "cpu":
        return new CpuBackend();
      case "blas-f64":
        return threads > 0 ? new BlasBackend(Precision.FLOAT64, threads) : new BlasBackend(Precision.FLOAT64);
      case "blas-f32":
        return threads > 0 ? new BlasBackend(Precision.FLOAT32, threads) : new BlasBackend(Precision.FLOAT32);
      default:
        break;
    }
    if (name != null && (name.startsWith("opencl-f32") || name.startsWith("opencl-f64"))) {
      Precision precision = name.startsWith("opencl-f64") ? Precision.FLOAT64 : Precision.FLOAT32;
      String rest = name.substring("opencl-f32".length());
      int device = -1;
      if (!rest.isEmpty()) {
        if (!rest.matches(":[0-9]{1,9}"))
          throw new UserError("unknown backend '" + name + "'; expected one of " + names()
              + ", the OpenCL ones optionally with a device index as in opencl-f32:0");
        device = Integer.parseInt(rest.substring(1));
      }
      try {
        return new OpenClBackend(precision, device);
      } catch (OpenClException e) {
        throw new UserError("backend '" + name + "': " + e.getMessage(), e);
      }
    }
    throw new UserError("unknown backend '" + name + "'; expected one of " + names());
  }
}
