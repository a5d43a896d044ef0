package org.hbp.network;

import java.util.ArrayList;
import java.util.List;
import org.hbp.UserError;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.runtime.ForwardCache;
import org.hbp.runtime.ModuleOperator;

/**
 * The joint residual of a module use of several inputs {@code a_1, ..., a_k} (a graph's
 * {@code z = f(a_1, ..., a_k)}): per sample, the symmetric matrix over the stacked inputs
 * {@code a = (a_1; ...; a_k)} with blocks
 * <pre>
 *   R(i, j) = sum_k dz_k d²z_k / (da_i da_j)     (numel(a_i) x numel(a_j))
 * </pre>
 * {@code R(i, i)} is the operator's residual of a_i, {@code R(i, j)} its mixed residual. PCH
 * modifies it as one matrix, as it would the residual of one module reading the concatenation of
 * the inputs: {@code Q f(Λ) Q'} of {@code R = Q Λ Q'}, per sample (exact) or after the batch
 * average (kfra, bda); {@link #block} reads a block of the stacked matrix back.
 */
final class GraphJointResidual {
  private GraphJointResidual() {}

  /** Entries of each input of a layer, in the order of {@link Network.LayerNode#inputs}. */
  static int[] sizes(Network.LayerNode l) {
    int[] out = new int[l.inputs.size()];
    for (int i = 0; i < out.length; i++) out[i] = l.op.numel(l.inputs.get(i));
    return out;
  }

  /** The exact joint residual of each sample at the layer's output gradient dz: N samples of D x D, D = sum_i numel(a_i). */
  static Batch exact(Pass pass, Network.LayerNode l, Batch dz) {
    ModuleOperator op = requireMixed(l);
    Backend be = op.backend();
    ForwardCache c = pass.caches.get(l);
    int[] sizes = sizes(l);
    List<Batch> temporaries = new ArrayList<>();
    List<Batch> selections = new ArrayList<>();
    for (int i = 0; i < sizes.length; i++) selections.add(own(temporaries, selection(be, sizes, i)));
    Batch sum = null;
    for (int i = 0; i < sizes.length; i++)
      for (int j = 0; j < sizes.length; j++) {
        Batch rij = i == j ? op.residual(c, l.inputs.get(i), dz) : mixedDense(pass, l, i, j, dz, temporaries);
        temporaries.add(rij);
        Batch placed = be.matmul(selections.get(i), false, own(temporaries, be.matmul(rij, false, selections.get(j), true)), false);
        if (sum == null) sum = placed;
        else {
          temporaries.add(sum);
          temporaries.add(placed);
          sum = be.add(sum, placed);
        }
      }
    pass.net.releaseTemporaries(temporaries, sum, dz);
    return sum;
  }

  /** {@code M_ij} per sample, numel(a_i) x numel(a_j), from the mixed residual applied to the unit directions of a_j. */
  private static Batch mixedDense(Pass pass, Network.LayerNode l, int i, int j, Batch dz, List<Batch> temporaries) {
    Backend be = l.op.backend();
    String ai = l.inputs.get(i), aj = l.inputs.get(j);
    int[] sj = l.op.itemShape(aj), si = l.op.itemShape(ai);
    int nj = sj[0] * sj[1];
    Batch eye = own(temporaries, be.eye(nj));
    Batch units = own(temporaries, be.reshape(own(temporaries, be.columnsAsDirections(eye)), sj[0], sj[1]));
    Batch m = own(temporaries, l.op.mixedResidualMatProd(pass.caches.get(l), ai, aj, dz, units));
    return be.directionsAsColumns(be.reshape(m, si[0] * si[1], 1), nj);
  }

  /** The stacked inputs' selection of input i: D x numel(a_i), ones at (offset_i + k, k); one sample. */
  static Batch selection(Backend be, int[] sizes, int i) {
    int d = 0, offset = 0;
    for (int k = 0; k < sizes.length; k++) {
      if (k < i) offset += sizes[k];
      d += sizes[k];
    }
    double[] s = new double[d * sizes[i]];
    for (int k = 0; k < sizes[i]; k++) s[(offset + k) + d * k] = 1;
    return be.fromArray(1, 1, d, sizes[i], s);
  }

  /** Block (i, j) of a stacked D x D matrix: {@code S_i' R S_j}. */
  static Batch block(Backend be, Batch r, int[] sizes, int i, int j) {
    Batch si = selection(be, sizes, i), sj = selection(be, sizes, j);
    Batch right = be.matmul(r, false, sj, false);
    Batch out = be.matmul(si, true, right, false);
    for (Batch t : List.of(si, sj, right)) be.release(t);
    return out;
  }

  /** The operator of a layer of several inputs, which must have mixed residuals; refuses, naming the layer, where it has none. */
  static ModuleOperator requireMixed(Network.LayerNode l) {
    if (!l.op.hasMixedResiduals())
      throw new UserError("layer " + l.path + " (" + l.op.name() + "): its operator has no mixed second derivatives sum_k dz_k d²z_k/(da db), "
          + "which the joint residual of its " + l.inputs.size() + " inputs needs; use the GGN");
    return l.op;
  }

  private static Batch own(List<Batch> temporaries, Batch b) {
    temporaries.add(b);
    return b;
  }
}
