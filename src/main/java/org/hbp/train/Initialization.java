package org.hbp.train;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.hbp.backend.Batch;
import org.hbp.io.NdArray;
import org.hbp.network.Network;
import org.hbp.network.TorchLayout;

/**
 * Parameter initialization as the paper's code does it: Xavier-normal weights (PyTorch's {@code
 * xavier_normal_}: std = sqrt(2 / (fan_in + fan_out)), fans from the PyTorch shape, e.g. {@code
 * [C_out, C_in, k, k]} gives fan_in = C_in k k and fan_out = C_out k k) and zero biases (every
 * parameter whose PyTorch shape is one-dimensional). Entries are drawn in PyTorch's row-major order
 * from one {@code java.util.Random(seed)}, parameter after parameter in network order, so a seed
 * gives the same net on every backend.
 */
public final class Initialization {
  private Initialization() {}

  /** The initial parameters, in PyTorch's shapes and order (for checkpoints and export). */
  public static Map<String, NdArray> xavierNormalTorch(Network net, long seed) {
    TorchLayout layout = new TorchLayout(net);
    Random rng = new Random(seed);
    Map<String, NdArray> out = new LinkedHashMap<>();
    for (String name : net.parameterNames()) {
      int[] s = layout.torchShape(name);
      int numel = 1;
      for (int d : s) numel *= d;
      double[] v = new double[numel];
      if (s.length >= 2) {
        int receptive = 1;
        for (int i = 2; i < s.length; i++) receptive *= s[i];
        double fanIn = (double) s[1] * receptive, fanOut = (double) s[0] * receptive;
        double std = Math.sqrt(2.0 / (fanIn + fanOut));
        for (int i = 0; i < numel; i++) v[i] = std * rng.nextGaussian();
      }
      out.put(name, NdArray.of(v, s));
    }
    return out;
  }

  /** The initial parameters as batches of the network's backend. */
  public static Map<String, Batch> xavierNormal(Network net, long seed) {
    return new TorchLayout(net).parameters(xavierNormalTorch(net, seed), "initialization");
  }
}
