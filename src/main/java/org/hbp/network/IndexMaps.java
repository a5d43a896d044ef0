package org.hbp.network;

import java.util.Map;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;

/**
 * The index maps that gather-based modules take as {@code index} variables, computed by the
 * forward pass of a network: the arg-max of each pooling window ({@code maxpool}) and the source
 * of each padded position ({@code zeropad}). Indices are column-major positions in the input
 * tensor (c, h, w), i.e. {@code ch + c*(y + h*x)}; -1 marks a padded zero.
 */
final class IndexMaps {
  private IndexMaps() {}

  /** Computes the index variable of a module instance, or throws when hbp does not know how. */
  static Batch compute(Backend be, String module, String variable, Map<String, Integer> dims, Batch x) {
    switch (module) {
      case "maxpool":
        return maxpool(be, dims.get("c"), dims.get("h"), dims.get("w"), dims.get("k"), x);
      case "zeropad":
        return zeropad(be, dims.get("c"), dims.get("h"), dims.get("w"), dims.get("p"), x.samples());
      default:
        throw new IllegalArgumentException("module '" + module + "' has an index variable '" + variable
            + "' but hbp does not know how to compute it in a network (it computes those of maxpool and zeropad)");
    }
  }

  /** Arg-max of each k x k window (stride k), first maximum in column-major window order on ties. */
  static Batch maxpool(Backend be, int c, int h, int w, int k, Batch x) {
    return be.windowArgmax(x, c, h, w, k);
  }

  /** The source position of every entry of the padded tensor, -1 in the padding (same for all samples). */
  static Batch zeropad(Backend be, int c, int h, int w, int p, int samples) {
    int ph = h + 2 * p, pw = w + 2 * p;
    double[] idx = new double[c * ph * pw];
    for (int x = 0; x < pw; x++)
      for (int y = 0; y < ph; y++)
        for (int ch = 0; ch < c; ch++) {
          int sy = y - p, sx = x - p;
          idx[ch + c * (y + ph * x)] = sy < 0 || sy >= h || sx < 0 || sx >= w ? -1 : ch + c * (sy + h * sx);
        }
    return be.fromArray(1, 1, c, ph * pw, idx);
  }
}
