package org.hbp.network;

import java.util.List;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.io.NdArray;

/**
 * A layer's dense joint block ({@link Curvature#layerDense}) in PyTorch's layout: {@code [D, D]}
 * over the layer's parameters stacked in the operator's order, each flattened row-major as PyTorch
 * flattens it ({@code [W.flatten(); b]} for a linear layer), where hbp's own order is each
 * parameter's column-major vec.
 */
public final class LayerBlockLayout {
  private LayerBlockLayout() {}

  /** The dense joint block of the parameters {@code names} (hbp's order, D x D) in PyTorch's row-major flattening. */
  public static NdArray toTorch(TorchLayout layout, Network net, List<String> names, Batch dense) {
    Backend be = net.backend();
    int d = 0;
    for (String n : names) d += net.parameterSize(n);
    // perm[k]: hbp's index (in the stacked vec order) of PyTorch's flat index k
    int[] perm = new int[d];
    int offset = 0;
    for (String n : names) {
      int[] s = net.parameterShape(n);
      int numel = s[0] * s[1];
      double[] index = new double[numel];
      for (int i = 0; i < numel; i++) index[i] = i;
      Batch b = be.fromArray(1, 1, s[0], s[1], index);
      double[] torch = layout.toTorch(n, b, true).data();
      be.release(b);
      for (int k = 0; k < numel; k++) perm[offset + k] = offset + (int) Math.round(torch[k]);
      offset += numel;
    }
    double[] ours = be.toArray(dense); // column-major d x d
    double[] out = new double[d * d];
    for (int k = 0; k < d; k++) for (int l = 0; l < d; l++) out[k * d + l] = ours[perm[k] + d * perm[l]];
    return NdArray.of(out, d, d);
  }
}
