package org.hbp.cli;

import org.hbp.backend.Backend;
import picocli.CommandLine.Option;

/** The {@code --device} option of the commands that compute (curvature, train, bench, experiment); see {@link Device}. */
final class DeviceOption {
  @Option(names = "--device", defaultValue = Defaults.DEVICE, paramLabel = "D",
      description = "cpu (--backend) or opencl[:INDEX] (an OpenCL device, see hbp devices; precision of --backend) (default: ${DEFAULT-VALUE}).")
  String device;

  /** The backend named by {@code --backend} on this device. */
  Backend backend(String backend, int threads) {
    return Device.backend(device, backend, threads);
  }
}
