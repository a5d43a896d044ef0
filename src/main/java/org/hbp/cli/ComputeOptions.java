package org.hbp.cli;

import org.hbp.backend.Backend;
import org.hbp.network.Network;
import org.hbp.network.ModuleLibrary;
import org.hbp.network.NetworkSpec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Where the commands that compute on a network run (curvature, train, experiment): {@code --device}
 * and {@code --threads}; the command's own {@code --backend} (its default differs) names the backend.
 */
final class ComputeOptions {
  @Mixin DeviceOption device;

  @Option(names = "--threads", defaultValue = "0", description = "BLAS threads (0: all cores).")
  int threads;

  /** The backend named {@code backend} on {@code --device} with {@code --threads}. */
  Backend backend(String backend) {
    return device.backend(backend, threads);
  }

  /** The network of {@code spec} with the built-in and spec-compiled operators, on {@link #backend}. */
  Network network(NetworkSpec spec, String backend) {
    return new Network(spec, ModuleLibrary.forSpecs(), backend(backend));
  }
}
