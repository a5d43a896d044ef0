package org.hbp.network;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.UnaryOperator;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.runtime.ForwardCache;
import org.hbp.runtime.ModuleOperator;

/**
 * Matrix-free curvature products per sample through a sequence of nodes (paper eq. 7 applied to
 * directions): for a node with Jacobian J and residual R, the curvature at its input is
 * {@code H_x u = J' P(J u) + mod(R) u}, where P is the product with the curvature at its output
 * and mod is the {@link ResidualPolicy}'s, per sample. The exact strategy chains these from each
 * layer to the loss; the batch strategies use them for a residual block's own residual term.
 *
 * <p>A layer with a diagonal Jacobian followed by a max-pool goes as one pair: the directions are
 * multiplied by the selected diagonal on the entries the pool keeps ({@link DiagonalSelections}).
 */
final class HessianProducts {
  private final Pass pass;
  private final Network net;
  private final Backend be;
  private final ResidualPolicy policy;

  HessianProducts(Pass pass, ResidualPolicy policy) {
    this.pass = pass;
    this.net = pass.net;
    this.be = net.be;
    this.policy = policy;
  }

  /** The product through {@code nodes[from..]} followed by p. */
  Batch sequence(List<Network.Node> nodes, int from, Batch u, UnaryOperator<Batch> p) {
    if (from == nodes.size()) return p.apply(u);
    Batch selected = DiagonalSelections.after(pass, nodes, from);
    if (selected != null)
      return diagonalThenSelection((Network.LayerNode) nodes.get(from), (Network.LayerNode) nodes.get(from + 1), selected, u, y -> sequence(nodes, from + 2, y, p));
    return node(nodes.get(from), u, y -> sequence(nodes, from + 1, y, p));
  }

  /**
   * {@code H_x u} at the input of l for the pair l (Jacobian {@code diag(d)}) then m (the selection
   * S), followed by p: {@code diag(d) S' P(diag(S d) S u) + mod(R_l) u}, written as
   * {@code S' (S d .* P((S d) .* (S u))) + mod(R_l) u}.
   */
  private Batch diagonalThenSelection(Network.LayerNode l, Network.LayerNode m, Batch selected, Batch u, UnaryOperator<Batch> p) {
    Batch y = DiagonalSelections.forward(pass, l, m, selected, u);
    Batch w = p.apply(y);
    Batch back = DiagonalSelections.backward(pass, l, m, selected, w);
    List<Batch> temporaries = new ArrayList<>(List.of(y, w));
    if (!policy.contributes(l.op, l.input)) {
      net.releaseTemporaries(temporaries, u, back);
      return back;
    }
    Batch r = policy.product(l.op, pass.caches.get(l), l.input, pass.outputGradients.get(l), l.asInput(u));
    Batch sum = be.add(back, r);
    temporaries.addAll(List.of(back, r));
    net.releaseTemporaries(temporaries, u, sum);
    return sum;
  }

  /** {@code J' P(J u) + mod(R) u} at the input of one node. */
  private Batch node(Network.Node n, Batch u, UnaryOperator<Batch> p) {
    if (n instanceof Network.LayerNode l) return layer(l, u, p);
    return block((Network.ResidualNode) n, u, p);
  }

  private Batch layer(Network.LayerNode l, Batch u, UnaryOperator<Batch> p) {
    ModuleOperator op = l.op;
    ForwardCache c = pass.caches.get(l);
    Batch ju = op.jacMatProd(c, l.input, l.asInput(u));
    Batch pju = p.apply(ju);
    Batch back = op.jacTMatProd(c, l.input, l.asOutput(pju));
    if (!policy.contributes(op, l.input)) {
      net.releaseTemporaries(List.of(ju, pju), u, back);
      return back;
    }
    Batch r = policy.product(op, c, l.input, pass.outputGradients.get(l), l.asInput(u));
    Batch sum = be.add(back, r);
    net.releaseTemporaries(List.of(ju, pju, back, r), u, sum);
    return sum;
  }

  /**
   * A residual block z = x + f(x): {@code H_x u = (I + J_f)' P((I + J_f) u) + R_f u}; the body sees
   * {@code P'(y) = P(u + y)}, called once with {@code y = J_f u}.
   */
  private Batch block(Network.ResidualNode r, Batch u, UnaryOperator<Batch> p) {
    Batch[] q = new Batch[2];
    UnaryOperator<Batch> shifted = y -> {
      q[1] = be.add(u, r.same(y, u));
      q[0] = p.apply(q[1]);
      return be.scale(q[0], 1); // a copy: the body's last layer releases what it receives, q[0] is needed below
    };
    Batch inner = sequence(r.body, 0, u, shifted);
    Batch sum = be.add(r.same(q[0], u), r.same(inner, u));
    net.releaseTemporaries(Arrays.asList(q[1], q[0], inner), u, sum);
    return sum;
  }
}
