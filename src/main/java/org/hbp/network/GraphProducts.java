package org.hbp.network;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.hbp.UserError;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.runtime.ForwardCache;
import org.hbp.runtime.ModuleOperator;

/**
 * Curvature products on a graph network, the DAG form of {@link NetworkProducts}: for directions
 * {@code v = (v_θ)},
 * <ol>
 *   <li>forward mode, in graph order: {@code u_value = J_x u_input + sum_θ J_θ v_θ} at a module use
 *       (every use of a shared instance takes its parameters' directions), {@code sum_i J_i u_i} at a
 *       merge ({@link Merges});</li>
 *   <li>{@code w = H_l,n u} at the loss's value;</li>
 *   <li>backward, in reverse graph order, {@code w} of a value summed over its uses: at a module use
 *       {@code w_in += J_x' w + mod(R_x) u_in [+ sum_θ M_xθ v_θ]} and, per parameter,
 *       {@code J_θ' w + mod(R_θ) v_θ [+ M_θx u_in + sum_θ' M_θθ' v_θ']}, summed over its uses; at
 *       {@code z = a .* b}, {@code w_a += b .* w + A .* u_a + B .* u_b} (and symmetrically) with
 *       {@code mod([[0, D], [D, 0]]) = [[A, B], [B, A]]}, {@code D = diag(dz)}
 *       ({@link Merges#residualDiagonals}).</li>
 * </ol>
 * The bracketed mixed terms are kept for the Hessian only, which makes the product Pearlmutter's
 * {@code H v} of the mean loss, exact on any DAG: a shared parameter's block sums its uses and the
 * cross terms between them (they arrive through {@code u_in} and {@code w_in}). A module use of
 * several inputs {@code a_i} takes {@code sum_i J_i u_i} forward and gives each input
 * {@code J_i' w}, with, for the Hessian, {@code R_i u_i + sum_{j≠i} M_ij u_j + sum_θ M_iθ v_θ}
 * (and {@code sum_i M_θi u_i} for its parameters), for PCH the modified joint residual of its
 * inputs ({@link GraphJointResidual}). For the GGN every
 * residual is zero; the PCH keeps the modified residuals and no mixed terms. The exact strategy's
 * block of θ is this product with directions on θ alone, read at θ ({@link #block}). A module use
 * with a diagonal Jacobian whose value only a max-pool reads goes with it as one pair
 * ({@link DiagonalSelections}): the directions are multiplied by {@code S d} on the entries the
 * pool keeps, both ways, and no directions at the value between the two are formed.
 */
final class GraphProducts {
  private final Pass pass;
  private final Network net;
  private final Backend be;
  /** Whether the mixed terms are kept (the Hessian). */
  private final boolean mixedTerms;
  private final ResidualPolicy policy;
  private final Map<String, Batch> v;
  /** The parameters whose part of the product is wanted. */
  private final Set<String> wanted;
  /** The values whose w is needed: those with a use of a wanted parameter at or above them. */
  private final Set<String> upstreamOfWanted = new HashSet<>();
  private final Map<String, Batch> tangent = new LinkedHashMap<>();
  /** The directional derivative at each input of each module use (null: zero); none for the selection of a pair. */
  private final Map<Network.LayerNode, List<Batch>> tangentIn = new IdentityHashMap<>();
  /** The per-sample modified joint residual of each PCH module use of several inputs ({@link GraphJointResidual}). */
  private final Map<Network.LayerNode, Batch> jointResiduals = new IdentityHashMap<>();
  private final Map<String, Batch> w = new LinkedHashMap<>();
  /** {@code J' w} at the input of the diagonal layer of a pair, from the selection's step ({@link DiagonalSelections}). */
  private final Map<Network.LayerNode, Batch> throughDiagonal = new IdentityHashMap<>();
  private final Map<String, Batch> sums = new LinkedHashMap<>();
  private final List<Batch> temporaries = new ArrayList<>();

  private GraphProducts(Pass pass, ResidualPolicy policy, Map<String, Batch> v, Set<String> wanted) {
    this.pass = pass;
    this.net = pass.net;
    this.be = net.be;
    this.policy = policy;
    this.mixedTerms = policy.modification() == ResidualModification.NONE;
    this.v = v;
    this.wanted = wanted;
    for (GraphPasses.Step s : net.graph) {
      boolean up = false;
      if (s.layer() != null) for (String p : s.layer().op.parameters()) up |= wanted.contains(s.layer().parameterName(p));
      for (String in : s.inputs()) up |= upstreamOfWanted.contains(in);
      if (up) upstreamOfWanted.add(s.value());
    }
  }

  /** The whole-network product ({@link Pass#networkProduct}) of a graph network: every parameter, V directions each. */
  static Map<String, Batch> apply(Pass pass, CurvatureKind kind, Map<String, Batch> checkedDirections) {
    Set<String> all = new HashSet<>(pass.net.parameterNames());
    GraphProducts p = new GraphProducts(pass, ResidualPolicy.of(kind), checkedDirections, all);
    Map<String, Batch> out = p.run();
    p.release(out.values(), checkedDirections.values());
    return out;
  }

  /**
   * The exact block of one parameter applied to directions (one sample, V directions, its item
   * shape): {@code (1/N) sum_n} of the product above with directions on this parameter only.
   */
  static Batch block(Pass pass, ResidualPolicy policy, String parameter, Batch directions) {
    GraphProducts p = new GraphProducts(pass, policy, Map.of(parameter, directions), Set.of(parameter));
    Batch out = p.run().get(parameter);
    p.release(List.of(out), List.of(directions));
    return out;
  }

  /**
   * The joint block of several parameters (one module instance's: {@link LayerBlocks}) applied to
   * directions: {@code directions} on each of them (one sample, V directions each, its item shape),
   * the product read at each of them, cross terms included; {@code (1/N) sum_n} as {@link #block}.
   */
  static Map<String, Batch> joint(Pass pass, ResidualPolicy policy, Map<String, Batch> directions) {
    GraphProducts p = new GraphProducts(pass, policy, directions, directions.keySet());
    Map<String, Batch> out = p.run();
    p.release(out.values(), directions.values());
    return out;
  }

  private Map<String, Batch> run() {
    forward();
    String output = net.spec.graph().output();
    Batch u = tangent.get(output);
    if (u != null) w.put(output, own(net.loss.hessianProd(pass, u)));
    for (int k = net.graph.size() - 1; k >= 0; k--) {
      GraphPasses.Step s = net.graph.get(k);
      backward(s);
      // w of this value has reached its inputs, and its tangent every consumer (their steps came before)
      releaseEarly(w.remove(s.value()));
      releaseEarly(tangent.remove(s.value()));
      if (s.layer() != null) {
        tangentIn.remove(s.layer()); // its inputs' tangents, released at their own steps
        releaseEarly(jointResiduals.remove(s.layer()));
      }
    }
    Map<String, Batch> out = new LinkedHashMap<>();
    int directions = v.values().iterator().next().directions();
    for (String name : net.parameterNames()) {
      if (!wanted.contains(name)) continue;
      Batch sum = sums.get(name);
      int[] s = net.parameterShape(name);
      out.put(name, sum == null ? be.fromArray(1, directions, s[0], s[1], new double[directions * s[0] * s[1]]) : be.scale(sum, 1.0 / pass.samples));
    }
    return out;
  }

  private void release(java.util.Collection<Batch> results, java.util.Collection<Batch> directions) {
    List<Batch> keep = new ArrayList<>(results);
    keep.addAll(directions);
    keep.addAll(pass.callerBatches);
    keep.addAll(pass.values.values());
    keep.addAll(pass.valueGradients.values());
    keep.addAll(pass.outputGradients.values());
    net.releaseTemporaries(temporaries, keep.toArray(new Batch[0]));
  }

  // ---- forward mode ----------------------------------------------------------------------------

  private void forward() {
    for (GraphPasses.Step s : net.graph) {
      Batch out;
      List<Batch> u = new ArrayList<>();
      for (String in : s.inputs()) u.add(tangent.get(in));
      if (s.layer() != null && net.graphPairs.pairedAfter(pass, s.layer())) {
        tangentIn.put(s.layer(), u); // its value's derivative is formed only after the selection that reads it
        continue;
      }
      Batch selected = s.layer() == null ? null : net.graphPairs.selectedAt(pass, s.layer());
      if (selected != null) { // a diagonal then a selection: S (diag(d) u) = (S d) .* (S u), u at the diagonal layer's input
        Network.LayerNode l = net.graphPairs.diagonalBefore(s.layer()).layer();
        Batch ul = tangentIn.get(l).get(0);
        out = ul == null ? null : own(DiagonalSelections.forward(pass, l, s.layer(), selected, ul));
      } else if (s.layer() != null) out = layerTangent(s.layer(), u);
      else out = s.merge().tangent(GraphPasses.values(pass, s), u, temporaries);
      if (out != null) tangent.put(s.value(), own(GraphPasses.as(be, out, GraphPasses.item(net, s.value()))));
    }
  }

  /** {@code sum_i J_i u_i + sum_θ J_θ v_θ} at one module use; records u as its inputs' derivatives. */
  private Batch layerTangent(Network.LayerNode l, List<Batch> u) {
    tangentIn.put(l, u);
    return NetworkProducts.tangent(pass, l, u, v, this::own);
  }

  // ---- backward ---------------------------------------------------------------------------------

  private void backward(GraphPasses.Step s) {
    if (!upstreamOfWanted.contains(s.value())) return;
    Batch wz = w.get(s.value());
    if (s.layer() != null) {
      Batch selected = net.graphPairs.selectedAt(pass, s.layer());
      if (selected != null) { // diag(d) (S' w) = S' ((S d) .* w), w at the diagonal layer's input; its residual terms added at its step
        GraphPasses.Step before = net.graphPairs.diagonalBefore(s.layer());
        Network.LayerNode l = before.layer();
        if (wz != null && upstreamOfWanted.contains(before.inputs().get(0))) throughDiagonal.put(l, own(DiagonalSelections.backward(pass, l, s.layer(), selected, wz)));
        return;
      }
      boolean paired = net.graphPairs.pairedAfter(pass, s.layer());
      boolean[] need = new boolean[s.inputs().size()];
      for (int i = 0; i < need.length; i++) need[i] = upstreamOfWanted.contains(s.inputs().get(i));
      Batch[] wi = layerBackward(s.layer(), paired ? throughDiagonal.remove(s.layer()) : wz, need, paired);
      for (int i = 0; i < need.length; i++) add(s.inputs().get(i), wi[i]);
      return;
    }
    List<Batch> values = GraphPasses.values(pass, s);
    Batch[] residual = null;
    boolean anyTangent = false;
    for (String in : s.inputs()) anyTangent |= tangent.get(in) != null;
    if (s.merge().hasResidual() && anyTangent && policy.modification() != ResidualModification.ZERO) {
      residual = s.merge().residualDiagonals(pass.valueGradients.get(s.value()), policy.modification());
      for (Batch r : residual) if (!pass.valueGradients.values().contains(r)) own(r);
    }
    for (int i = 0; i < s.inputs().size(); i++) {
      String in = s.inputs().get(i);
      if (!upstreamOfWanted.contains(in)) continue;
      Batch contribution = wz == null ? null : own(s.merge().jacT(i, values, wz));
      if (residual != null) {
        Batch ua = tangent.get(in), ub = tangent.get(s.inputs().get(1 - i));
        if (ua != null) contribution = plus(contribution, own(be.multiply(residual[0], ua)));
        if (ub != null) contribution = plus(contribution, own(be.multiply(residual[1], ub)));
      }
      add(in, contribution);
    }
  }

  private void add(String value, Batch d) {
    if (d == null) return;
    d = GraphPasses.as(be, d, GraphPasses.item(net, value));
    w.put(value, plus(w.get(value), d));
  }

  /**
   * The backward step of one module use: the parameters' terms into {@link #sums}, and w at each
   * input i that {@code need}s it (else null): {@code J_i' w} plus, for the Hessian,
   * {@code R_i u_i + sum_{j≠i} M_ij u_j + sum_θ M_iθ v_θ}; for PCH the i-th block row of the
   * modified residual of its input ({@code mod(R_x) u}, one input) or of its joint input
   * ({@link GraphJointResidual}, several) applied to the u_j. {@code throughJacobian}: w is already
   * {@code J_x' w} at the input of a layer of one input and no parameters (the diagonal of a pair,
   * {@link DiagonalSelections}), so only the residual terms are added to it.
   */
  private Batch[] layerBackward(Network.LayerNode l, Batch w, boolean[] need, boolean throughJacobian) {
    ModuleOperator op = l.op;
    ForwardCache c = pass.caches.get(l);
    Batch dz = pass.outputGradients.get(l);
    List<Batch> u = tangentIn.get(l);
    int k = l.inputs.size();
    if (throughJacobian && (k != 1 || !op.parameters().isEmpty()))
      throw new IllegalStateException(l.path + ": a product through the Jacobian of a layer with parameters or several inputs");
    Batch wo = w == null || throughJacobian ? null : l.asOutput(w);
    for (String p : op.parameters()) {
      String name = l.parameterName(p);
      if (!wanted.contains(name)) continue;
      Batch vp = v.get(name);
      Batch sum = wo == null ? null : own(op.jacTMatProdSum(c, p, wo));
      if (vp != null && policy.contributes(op, p)) sum = plus(sum, own(be.sumSamples(own(policy.product(op, c, p, dz, vp)))));
      if (mixedTerms) {
        for (int i = 0; i < k; i++) {
          String x = l.inputs.get(i);
          if (u.get(i) != null) sum = plus(sum, own(be.sumSamples(own(mixed(l).mixedResidualMatProd(c, p, x, dz, l.asInput(x, u.get(i)))))));
        }
        for (String q : op.parameters()) {
          Batch vq = v.get(l.parameterName(q));
          if (!q.equals(p) && vq != null) sum = plus(sum, own(be.sumSamples(own(mixed(l).mixedResidualMatProd(c, p, q, dz, vq)))));
        }
      }
      if (sum != null) sums.put(name, plus(sums.get(name), sum));
    }
    Batch[] out = new Batch[k];
    for (int i = 0; i < k; i++) {
      if (!need[i]) continue;
      String x = l.inputs.get(i);
      Batch in = throughJacobian ? w : wo == null ? null : own(op.jacTMatProd(c, x, wo));
      Batch ui = u.get(i);
      if (mixedTerms) {
        if (ui != null && policy.contributes(op, x)) in = plus(in, own(op.residualMatProd(c, x, dz, l.asInput(x, ui))));
        for (int j = 0; j < k; j++) {
          String y = l.inputs.get(j);
          if (j != i && u.get(j) != null) in = plus(in, own(mixed(l).mixedResidualMatProd(c, x, y, dz, l.asInput(y, u.get(j)))));
        }
        for (String p : op.parameters()) {
          Batch vp = v.get(l.parameterName(p));
          if (vp != null) in = plus(in, own(mixed(l).mixedResidualMatProd(c, x, p, dz, vp)));
        }
      } else if (policy.modification() != ResidualModification.ZERO) {
        if (k == 1) {
          if (ui != null && policy.contributes(op, x)) in = plus(in, own(policy.product(op, c, x, dz, l.asInput(ui))));
        } else in = plus(in, jointModified(l, i, u, dz));
      }
      out[i] = in;
    }
    return out;
  }

  /**
   * Row block i of {@code mod(R) u} with R the joint residual of a module use of several inputs
   * (per sample, modified per sample) and u the stacked directions of its inputs; null if all are zero.
   */
  private Batch jointModified(Network.LayerNode l, int i, List<Batch> u, Batch dz) {
    int[] sizes = GraphJointResidual.sizes(l);
    Batch stacked = null;
    for (int j = 0; j < sizes.length; j++) {
      if (u.get(j) == null) continue;
      Batch column = own(be.reshape(u.get(j), sizes[j], 1));
      Batch placed = own(be.matmul(own(GraphJointResidual.selection(be, sizes, j)), false, column, false));
      stacked = plus(stacked, placed);
    }
    if (stacked == null) return null;
    Batch r = jointResiduals.computeIfAbsent(l, k -> {
      Batch exact = own(GraphJointResidual.exact(pass, l, dz));
      return own(be.symmetricEigenMap(exact, policy.modification()::apply));
    });
    Batch all = own(be.matmul(r, false, stacked, false));
    Batch rows = own(be.matmul(own(GraphJointResidual.selection(be, sizes, i)), true, all, false));
    int[] s = l.op.itemShape(l.inputs.get(i));
    return own(be.reshape(rows, s[0], s[1]));
  }

  /** The operator of a layer whose mixed second derivatives the Hessian needs here; refuses, naming the layer, where it has none. */
  private ModuleOperator mixed(Network.LayerNode l) {
    if (!l.op.hasMixedResiduals())
      throw new UserError("layer " + l.path + " (" + l.op.name() + "): its operator has no mixed second derivatives sum_k dz_k d²z_k/(da db), "
          + "which the Hessian of a shared instance's parameters (or the whole-network Hessian) needs; use the GGN or a PCH");
    return l.op;
  }

  // ---- helpers ----------------------------------------------------------------------------------

  /**
   * Releases a batch the backward pass is done with (a value's w or tangent once its step is taken),
   * unless it shares storage with one still held: the other values' w and tangents, the parameters'
   * sums, the directions, the pass's batches. So a product holds the w of the values between the
   * steps taken and the rest, not of every value. What it releases is in {@link #temporaries}
   * too, whose release at the end is then a no-op for it (a backend releases storage once).
   */
  private void releaseEarly(Batch b) {
    if (b == null) return;
    List<java.util.Collection<Batch>> held = List.of(w.values(), tangent.values(), throughDiagonal.values(), sums.values(), jointResiduals.values(),
        v.values(), pass.callerBatches, pass.values.values(), pass.valueGradients.values(), pass.outputGradients.values());
    for (java.util.Collection<Batch> c : held)
      for (Batch h : c) if (h != null && be.sharesStorage(b, h)) return;
    for (List<Batch> in : tangentIn.values())
      for (Batch h : in) if (h != null && be.sharesStorage(b, h)) return;
    for (Batch t : temporaries) // only what the product made
      if (t != null && be.sharesStorage(b, t)) {
        be.release(b);
        return;
      }
  }

  private Batch plus(Batch a, Batch b) {
    if (a == null) return b;
    if (b == null) return a;
    return own(be.add(a, b));
  }

  private Batch own(Batch b) {
    temporaries.add(b);
    return b;
  }
}
