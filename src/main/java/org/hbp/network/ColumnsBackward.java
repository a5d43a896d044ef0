package org.hbp.network;

import java.util.ArrayList;
import java.util.List;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.runtime.ForwardCache;

/**
 * Columns given at the network's output (a loss factor's {@code S_n}, Monte-Carlo vectors)
 * carried back through a sequential network, {@code u ← J_x' u} layer by layer (a residual block
 * {@code u + J_f' u}), handing each parameter the columns at its layer's output: what the factored
 * GGN quantities ({@link GgnDiagonal}, {@link FactoredGgn}) do with {@code J_θ' u} is theirs. A
 * layer with a diagonal Jacobian and a max-pool after it go back as one pair
 * ({@link DiagonalSelections}).
 */
abstract class ColumnsBackward {
  final Pass pass;
  final Backend be;
  /** The columns at every layer's input, for the caller to release once done (a product may be a view of its directions). */
  final List<Batch> temporaries = new ArrayList<>();
  /**
   * Whether the columns at a layer's input are released as soon as the walk has carried them
   * below (then at most those at two adjacent layers, and at each open residual block's output,
   * are held at once, not those of every layer), else kept in {@link #temporaries}.
   */
  private final boolean releaseAsItGoes;
  /** Where the walk reports each layer it reaches (a progress bar's units; {@link LayerTicks#NONE} by default). */
  LayerTicks ticks = LayerTicks.NONE;
  /** What a subclass keeps of the columns (views of them): never released by the walk. */
  final List<Batch> kept = new ArrayList<>();

  ColumnsBackward(Pass pass) {
    this(pass, false);
  }

  ColumnsBackward(Pass pass, boolean releaseAsItGoes) {
    this.pass = pass;
    this.be = pass.net.be;
    this.releaseAsItGoes = releaseAsItGoes;
  }

  /**
   * Parameter {@code p} of layer {@code l}: {@code out} the columns at the layer's output in its
   * shape ({@code l.asOutput(u)}), {@code u} as they came.
   */
  abstract void parameter(Network.LayerNode l, String p, ForwardCache c, Batch out, Batch u);

  /**
   * The columns through {@code nodes} from the last to the first; returns them at the input of
   * the first, or null when {@code top} and nothing below needs them (as the gradient pass
   * stops at the first node with parameters).
   */
  Batch nodes(List<Network.Node> nodes, Batch u, boolean top) {
    int first = 0;
    if (top) while (first < nodes.size() && !Network.hasParameters(nodes.get(first))) first++;
    Batch given = u;
    for (int i = nodes.size() - 1; i >= first; i--) {
      Batch selected = DiagonalSelections.endingAt(pass, nodes, i, first);
      Batch next;
      if (selected != null) { // a diagonal then a selection, neither with parameters: diag(d) S' u = S' ((S d) .* u)
        Network.LayerNode l = (Network.LayerNode) nodes.get(i - 1), m = (Network.LayerNode) nodes.get(i);
        ticks.layer(m);
        ticks.layer(l);
        next = DiagonalSelections.backward(pass, l, m, selected, u);
        i--;
      } else {
        next = node(nodes.get(i), u, !(top && i == first));
      }
      if (!releaseAsItGoes) {
        if (next != null) temporaries.add(next);
      } else if (u != given) release(u, given, next);
      u = next;
    }
    return u;
  }

  private Batch node(Network.Node n, Batch u, boolean needInput) {
    if (n instanceof Network.LayerNode l) return layer(l, u, needInput);
    Network.ResidualNode r = (Network.ResidualNode) n;
    // z = x + f(x): J_x' u = u + J_f' u; the body's parameters see u at the block's output
    Batch inner = nodes(r.body, u, false);
    Batch sum = be.add(u, r.same(inner, u));
    if (releaseAsItGoes && inner != u) release(inner, u, sum);
    return sum;
  }

  /** Releases columns the walk is done with, unless they share storage with what is still held: {@code a}, {@code b}, {@link #kept}. */
  private void release(Batch done, Batch a, Batch b) {
    if (done == null || (a != null && be.sharesStorage(done, a)) || (b != null && be.sharesStorage(done, b))) return;
    for (Batch k : kept) if (be.sharesStorage(done, k)) return;
    be.release(done);
  }

  private Batch layer(Network.LayerNode l, Batch u, boolean needInput) {
    ticks.layer(l);
    ForwardCache c = pass.caches.get(l);
    Batch out = l.asOutput(u);
    for (String p : l.op.parameters()) parameter(l, p, c, out, u);
    return needInput ? l.op.jacTMatProd(c, l.input, out) : null;
  }
}
