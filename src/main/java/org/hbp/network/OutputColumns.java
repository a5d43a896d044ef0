package org.hbp.network;

import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.hbp.backend.Batch;

/**
 * Per-sample vectors at the network's output carried back to every layer's output (but the first
 * of a pair, below): {@code
 * J_{z,n}' s_{n,c}} for each layer output z (the gradient of {@code f_n · s_{n,c}} in z), from the
 * loss input down to the first node with parameters, through residual blocks ({@code (I + J_f)'}).
 * With the columns of a loss-Hessian factor S these are the output gradients whose outer products
 * make KFLR's and KFAC's factor G; with the loss gradient they are the pass's output gradients. A
 * layer with a diagonal Jacobian and a max-pool after it go back as one pair
 * ({@link DiagonalSelections}): neither has parameters, and the vectors at the pool's input are
 * never formed.
 */
final class OutputColumns {
  private OutputColumns() {}

  /**
   * The vectors at each layer's output ({@code [N x r]} items in its output shape), for the layers
   * at or after the first node with parameters, except the first layer of a pair (it has no
   * parameters); the caller releases them. A graph network's
   * columns go back through its steps ({@link GraphColumns}), summed at branch points.
   */
  static Map<Network.LayerNode, Batch> back(Pass pass, Batch columns) {
    if (pass.net.isGraph()) return GraphColumns.back(pass, columns);
    Map<Network.LayerNode, Batch> out = new IdentityHashMap<>();
    back(pass, pass.net.body, columns, out, true);
    return out;
  }

  /** Walks {@code nodes} backwards from {@code u}; returns the vectors at their input (null where not needed). */
  private static Batch back(Pass pass, List<Network.Node> nodes, Batch u, Map<Network.LayerNode, Batch> out, boolean top) {
    int first = 0;
    if (top) while (first < nodes.size() && !Network.hasParameters(nodes.get(first))) first++;
    for (int i = nodes.size() - 1; i >= first; i--) {
      Network.Node n = nodes.get(i);
      Batch selected = DiagonalSelections.endingAt(pass, nodes, i, first);
      if (selected != null) { // diag(d) S' u = S' ((S d) .* u), l before m: l's output (the pool's input) never formed
        Network.LayerNode l = (Network.LayerNode) nodes.get(i - 1), m = (Network.LayerNode) n;
        Batch z = m.asOutput(u);
        out.put(m, z);
        u = DiagonalSelections.backward(pass, l, m, selected, z);
        i--;
      } else if (n instanceof Network.LayerNode l) {
        Batch z = l.asOutput(u);
        out.put(l, z);
        if (top && i == first) return null; // nothing below needs it
        u = l.op.jacTMatProd(pass.caches.get(l), l.input, z);
      } else {
        Network.ResidualNode r = (Network.ResidualNode) n;
        Batch inner = back(pass, r.body, u, out, false);
        Batch sum = pass.net.be.add(u, r.same(inner, u));
        pass.net.releaseTemporaries(java.util.List.of(inner), sum, u);
        u = sum;
      }
    }
    return u;
  }
}
