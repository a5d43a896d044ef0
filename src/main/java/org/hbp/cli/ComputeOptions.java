package org.hbp.cli;

import org.hbp.backend.Backend;
import org.hbp.network.Network;
import org.hbp.network.ModuleLibrary;
import org.hbp.network.NetworkSpec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Where the commands that compute on a network run (curvature, train, bench, experiment):
 * {@code --device} and {@code --threads}, with the defaults of {@link Defaults}; the command's own
 * {@code --backend} names the backend (its default is {@link Defaults#BACKEND} or, for the commands
 * that train, {@link Defaults#TRAINING_BACKEND}).
 */
final class ComputeOptions {
  @Mixin DeviceOption device;

  @Option(names = "--threads", defaultValue = Defaults.THREADS, description = "BLAS threads (0: all cores; default: ${DEFAULT-VALUE}).")
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
