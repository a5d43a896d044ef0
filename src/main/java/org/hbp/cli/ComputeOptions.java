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

  @Option(names = "--threads", defaultValue = Defaults.THREADS, converter = ThreadCount.class,
      description = "BLAS threads (0: all cores; default: ${DEFAULT-VALUE}).")
  int threads;

  /** A thread count: 0 (all cores) or positive; a negative count is refused, naming the option. */
  static final class ThreadCount implements picocli.CommandLine.ITypeConverter<Integer> {
    @Override
    public Integer convert(String value) {
      int n;
      try {
        n = Integer.parseInt(value.strip());
      } catch (NumberFormatException e) {
        throw new org.hbp.UserError("--threads '" + value + "' is not a whole number; expected 0 (all cores) or a positive count");
      }
      if (n < 0) throw new org.hbp.UserError("--threads " + n + " is negative; expected 0 (all cores) or a positive count");
      return n;
    }
  }

  /** The backend named {@code backend} on {@code --device} with {@code --threads}. */
  Backend backend(String backend) {
    return device.backend(backend, threads);
  }

  /** The network of {@code spec} with the built-in and spec-compiled operators, on {@link #backend}. */
  Network network(NetworkSpec spec, String backend) {
    Network net = new Network(spec, ModuleLibrary.forSpecs(), backend(backend));
    // every command that builds its network here computes with respect to the parameters: without any, it would write
    // empty files and exit 0
    if (net.parameterNames().isEmpty())
      throw new org.hbp.UserError("network " + spec.name() + " (" + spec.source() + ":" + spec.line() + ") has no parameters: its curvature, "
          + "gradients and training are with respect to parameters, so there is nothing to compute (an exported model's weights "
          + "may have been folded into constants, or its layers are all parameter-free)");
    return net;
  }
}
