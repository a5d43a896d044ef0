package org.hbp.cli;

import org.hbp.UserError;
import org.hbp.backend.Backend;
import org.hbp.backend.Backends;

/**
 * The {@code --device} option of the commands that compute: {@code cpu} (the default) runs on the
 * {@code --backend} named (cpu, blas-f64, blas-f32); {@code opencl} or {@code opencl:INDEX} runs on
 * an OpenCL device (index as {@code hbp devices} lists them; default: the first GPU, else the first
 * device) in the precision of {@code --backend} (float64 for blas-f64 or cpu, float32 for blas-f32).
 */
final class Device {
  private Device() {}

  static Backend backend(String device, String backend, int threads) {
    if (device == null || device.equals("cpu")) return Backends.create(backend, threads);
    if (device.equals("opencl") || device.startsWith("opencl:")) {
      String precision = backend.endsWith("f32") ? "f32" : "f64";
      return Backends.create("opencl-" + precision + device.substring("opencl".length()), threads);
    }
    throw new UserError("--device '" + device + "': expected cpu, opencl or opencl:INDEX (see hbp devices)");
  }
}
