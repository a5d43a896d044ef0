package org.hbp.network;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.hbp.UserError;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.runtime.ForwardCache;
import org.hbp.runtime.ModuleOperator;

/**
 * Products of the curvature of the whole network (every parameter together, off-diagonal blocks
 * included) with directions {@code v = (v_θ)}, on one batch of mean loss {@code L = (1/N) sum_n l_n}:
 * <ol>
 *   <li>a forward-mode pass of directional derivatives, {@code u_0 = 0} and per layer
 *       {@code u_out = J_x u_in + sum_θ J_θ v_θ} (a residual block: {@code u + body(u)});</li>
 *   <li>at the loss, {@code w = H_l,n u_out} per sample;</li>
 *   <li>a backward pass, {@code w_in = J_x' w + mod(R_x) u_in [+ sum_θ M_xθ v_θ]}, and for every
 *       parameter {@code (1/N) sum_n (J_θ' w + mod(R_θ) v_θ [+ M_θx u_in + sum_θ' M_θθ' v_θ'])},
 *       with the residuals {@code R_a = sum_k dz_k d²z_k/da²} at each layer's per-sample output
 *       gradient dz modified per sample by the {@link ResidualPolicy}.</li>
 * </ol>
 * The mixed terms in brackets, {@code M_ab = sum_k dz_k d²z_k/(da db)}, are kept for the Hessian
 * only: then the product is Pearlmutter's R-operator applied to the gradient, {@code H v}. For the
 * GGN every residual is zero, {@code G v = (1/N) sum_n J_n' H_l,n J_n v}. For the PCH the product
 * is this network-wide definition: the GGN plus the modified residuals, without mixed terms; its
 * diagonal blocks are hbp's PCH blocks ({@link ExactStrategy}), as the diagonal blocks of the
 * other two are hbp's Hessian and GGN blocks.
 */
final class NetworkProducts {
  private final Pass pass;
  private final Network net;
  private final Backend be;
  private final CurvatureKind kind;
  private final ResidualPolicy policy;
  /** The directions of each parameter, in its item shape (one sample, V directions). */
  private final Map<String, Batch> v;
  /** The directional derivative at each layer's input (null: zero). */
  private final Map<Network.LayerNode, Batch> tangentIn = new IdentityHashMap<>();
  /** Per parameter, the sum over samples of its terms. */
  private final Map<String, Batch> sums = new LinkedHashMap<>();
  private final List<Batch> temporaries = new ArrayList<>();

  private NetworkProducts(Pass pass, CurvatureKind kind, Map<String, Batch> v) {
    this.pass = pass;
    this.net = pass.net;
    this.be = net.be;
    this.kind = kind;
    this.policy = ResidualPolicy.of(kind);
    this.v = v;
  }

  /**
   * The product of the whole-network curvature of {@code kind} with directions for the
   * parameters (one sample, the same V directions each, in the parameter's shape; a parameter
   * left out has direction zero). The result has every parameter, V directions each.
   */
  static Map<String, Batch> apply(Pass pass, CurvatureKind kind, Map<String, Batch> directions) {
    Map<String, Batch> v = checked(pass.net, directions);
    if (kind == CurvatureKind.HESSIAN) requireMixedResiduals(pass.net);
    if (pass.net.isGraph()) return GraphProducts.apply(pass, kind, v);
    NetworkProducts p = new NetworkProducts(pass, kind, v);
    return p.run();
  }

  private Map<String, Batch> run() {
    Batch u = tangent(net.body, null, true);
    Batch w = u == null ? null : own(net.loss.hessianProd(pass, u));
    int first = 0;
    while (first < net.body.size() && !Network.hasParameters(net.body.get(first))) first++;
    w = backward(net.body, first, w, false);
    Map<String, Batch> out = new LinkedHashMap<>();
    int directions = v.values().iterator().next().directions();
    for (String name : net.parameterNames()) {
      Batch sum = sums.get(name);
      int[] s = net.parameterShape(name);
      out.put(name, sum == null ? be.fromArray(1, directions, s[0], s[1], new double[directions * s[0] * s[1]]) : be.scale(sum, 1.0 / pass.samples));
    }
    List<Batch> keep = new ArrayList<>(out.values());
    keep.addAll(v.values());
    keep.addAll(pass.callerBatches);
    net.releaseTemporaries(temporaries, keep.toArray(new Batch[0]));
    return out;
  }

  // ---- forward mode ----------------------------------------------------------------------------

  /**
   * The directional derivative at the output of {@code nodes} for {@code u} at their input (null:
   * zero). A layer with a diagonal Jacobian and a max-pool after it go as one pair
   * ({@link DiagonalSelections}): the pool's input derivative is never formed, as the pool has no
   * residual or parameter that would need it.
   */
  private Batch tangent(List<Network.Node> nodes, Batch u, boolean topLevel) {
    for (int i = 0; i < nodes.size(); i++) {
      Network.Node n = nodes.get(i);
      Batch selected = u == null ? null : DiagonalSelections.after(pass, nodes, i);
      if (selected != null) {
        Network.LayerNode l = (Network.LayerNode) n, m = (Network.LayerNode) nodes.get(++i);
        tangentIn.put(l, u);
        u = own(DiagonalSelections.forward(pass, l, m, selected, u));
      } else if (n instanceof Network.LayerNode l) u = layerTangent(l, u);
      else {
        Network.ResidualNode r = (Network.ResidualNode) n;
        Batch body = tangent(r.body, u, false);
        u = u == null ? (body == null ? null : outputLike(r, body)) : body == null ? u : own(be.add(u, r.same(body, u)));
      }
    }
    return u;
  }

  /** A residual block's body output viewed in the block's item shape. */
  private Batch outputLike(Network.ResidualNode r, Batch body) {
    int[] s = r.outputItem();
    return body.rows() == s[0] && body.cols() == s[1] ? body : be.reshape(body, s[0], s[1]);
  }

  /** {@code J_x u + sum_θ J_θ v_θ} at one layer; records u as its input's derivative. */
  private Batch layerTangent(Network.LayerNode l, Batch u) {
    tangentIn.put(l, u);
    return tangent(pass, l, java.util.Collections.singletonList(u), v, this::own);
  }

  /**
   * {@code sum_i J_i u_i + sum_θ J_θ v_θ} at one module use, {@code u_i} the directional
   * derivative at its i-th input (one per input of {@code l.inputs}; null: zero), the parameter
   * directions {@code v} by name ({@code l.prefix}: in a graph, a shared instance's); every
   * intermediate goes through {@code own}, which records it for release. Shared with {@link GraphProducts}.
   */
  static Batch tangent(Pass pass, Network.LayerNode l, List<Batch> u, Map<String, Batch> v, java.util.function.UnaryOperator<Batch> own) {
    ForwardCache c = pass.caches.get(l);
    Backend be = pass.net.be;
    Batch out = null;
    for (int i = 0; i < u.size(); i++) {
      if (u.get(i) == null) continue;
      String x = l.inputs.get(i);
      Batch j = own.apply(l.asOutput(own.apply(l.op.jacMatProd(c, x, l.asInput(x, u.get(i))))));
      out = out == null ? j : own.apply(be.add(out, j));
    }
    for (String p : l.op.parameters()) {
      Batch d = v.get(l.parameterName(p));
      if (d == null) continue;
      Batch j = own.apply(l.asOutput(own.apply(l.op.jacMatProd(c, p, d))));
      out = out == null ? j : own.apply(be.add(out, j));
    }
    return out;
  }

  // ---- backward ---------------------------------------------------------------------------------

  /**
   * The backward steps of {@code nodes[first..]}, last to first, for w at the output of the last
   * (null: zero); w at the input of nodes[first] when {@code needInput}. A pair of a diagonal and a
   * selection goes as in {@link #tangent}.
   */
  private Batch backward(List<Network.Node> nodes, int first, Batch w, boolean needInput) {
    for (int i = nodes.size() - 1; i >= first; i--) {
      Batch selected = DiagonalSelections.endingAt(pass, nodes, i, first);
      if (selected != null) {
        Network.LayerNode l = (Network.LayerNode) nodes.get(i - 1), m = (Network.LayerNode) nodes.get(i);
        Batch through = w == null ? null : own(DiagonalSelections.backward(pass, l, m, selected, w));
        w = layerBackward(l, through, i - 1 > first || needInput, true);
        i--;
      } else {
        w = backward(nodes.get(i), w, i > first || needInput);
      }
    }
    return w;
  }

  /** The backward step of one node for w at its output (null: zero); w at its input when {@code needInput}. */
  private Batch backward(Network.Node n, Batch w, boolean needInput) {
    if (n instanceof Network.LayerNode l) return layerBackward(l, w, needInput, false);
    Network.ResidualNode r = (Network.ResidualNode) n;
    Batch d = backward(r.body, 0, w, true);
    if (d == null) return w;
    if (w == null) return d;
    return own(be.add(w, r.same(d, w)));
  }

  /**
   * One layer's backward step: its parameters' terms, and w at its input when {@code needInput}.
   * {@code throughJacobian}: w is already {@code J_x' w} at the layer's input (the layer has no
   * parameters; {@link DiagonalSelections}), so only the residual terms are added to it.
   */
  private Batch layerBackward(Network.LayerNode l, Batch w, boolean needInput, boolean throughJacobian) {
    ModuleOperator op = l.op;
    ForwardCache c = pass.caches.get(l);
    Batch dz = pass.outputGradients.get(l);
    Batch u = tangentIn.get(l);
    if (throughJacobian && !op.parameters().isEmpty()) throw new IllegalStateException(l.path + ": a product through the Jacobian of a layer with parameters");
    Batch wo = w == null || throughJacobian ? null : l.asOutput(w);
    for (String p : op.parameters()) {
      String name = l.parameterName(p);
      Batch vp = v.get(name);
      Batch sum = wo == null ? null : own(op.jacTMatProdSum(c, p, wo));
      if (vp != null && policy.contributes(op, p)) sum = plus(sum, own(be.sumSamples(own(policy.product(op, c, p, dz, vp)))));
      if (kind == CurvatureKind.HESSIAN) {
        if (u != null) sum = plus(sum, own(be.sumSamples(own(op.mixedResidualMatProd(c, p, l.input, dz, l.asInput(u))))));
        for (String q : op.parameters()) {
          Batch vq = v.get(l.parameterName(q));
          if (!q.equals(p) && vq != null) sum = plus(sum, own(be.sumSamples(own(op.mixedResidualMatProd(c, p, q, dz, vq)))));
        }
      }
      if (sum != null) sums.put(name, plus(sums.get(name), sum));
    }
    if (!needInput) return null;
    Batch in = throughJacobian ? (w == null ? null : l.asInput(w)) : wo == null ? null : own(op.jacTMatProd(c, l.input, wo));
    if (u != null && policy.contributes(op, l.input)) in = plus(in, own(policy.product(op, c, l.input, dz, l.asInput(u))));
    if (kind == CurvatureKind.HESSIAN)
      for (String p : op.parameters()) {
        Batch vp = v.get(l.parameterName(p));
        if (vp != null) in = plus(in, own(op.mixedResidualMatProd(c, l.input, p, dz, vp)));
      }
    return in;
  }

  // ---- helpers ----------------------------------------------------------------------------------

  private Batch plus(Batch a, Batch b) {
    if (a == null) return b;
    if (b == null) return a;
    return own(be.add(a, b));
  }

  private Batch own(Batch b) {
    temporaries.add(b);
    return b;
  }

  /** Directions by parameter, checked (known names, one sample, the parameter's size, the same V) and in its item shape. */
  private static Map<String, Batch> checked(Network net, Map<String, Batch> directions) {
    if (directions.isEmpty()) throw new UserError("no directions: give directions for at least one of the parameters " + net.parameterNames());
    Map<String, Batch> out = new LinkedHashMap<>();
    String first = null;
    for (Map.Entry<String, Batch> e : directions.entrySet()) {
      String name = e.getKey();
      Batch d = e.getValue();
      if (!net.parameterOwners.containsKey(name)) throw new UserError("directions for unknown parameter '" + name + "'; the network has " + net.parameterNames());
      int[] s = net.parameterShape(name);
      if (d.itemSize() != s[0] * s[1])
        throw new UserError("directions for '" + name + "' are " + d.describe() + ", expected items of its shape " + s[0] + "x" + s[1]);
      if (d.samples() != 1) throw new UserError("directions for '" + name + "' must be shared by all samples (1 sample), not " + d.samples());
      if (first != null && d.directions() != directions.get(first).directions())
        throw new UserError("directions for '" + name + "' are " + d.directions() + " but those for '" + first + "' are "
            + directions.get(first).directions() + "; give every parameter the same number");
      if (first == null) first = name;
      out.put(name, d.rows() == s[0] && d.cols() == s[1] ? d : net.be.reshape(d, s[0], s[1]));
    }
    return out;
  }

  /** The Hessian needs every parameterized layer's mixed second derivatives; refuses, naming the layer, where an operator has none. */
  private static void requireMixedResiduals(Network net) {
    for (Network.LayerNode l : net.layers())
      if (!l.op.parameters().isEmpty() && !l.op.hasMixedResiduals())
        throw new UserError("layer " + l.path + " (" + l.op.name() + "): its operator has no mixed second derivatives "
            + "sum_k dz_k d²z_k/(da db), which the whole-network Hessian product needs (written by hand, generated by an older hbp, "
            + "or from a spec whose mixed terms hbp cannot generate yet); use the GGN or a PCH");
  }
}
