package org.hbp.network;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.hbp.UserError;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.runtime.Averaging;
import org.hbp.runtime.ForwardCache;

/**
 * kfra and bda on a graph network: the batch-averaged joint Hessian of the <em>frontier</em>, the
 * values live between the steps already passed (from the loss back) and the rest, propagated
 * back one step at a time. Its blocks {@code H̄(a, b)} are kept per pair of live values.
 *
 * <p>Start: the frontier is the loss's value with {@code H̄ = mean_n H_l,n}. A step
 * {@code z = f(a_1, ..., a_k)} (a module use of its spec's k inputs, or a merge), taken in reverse graph
 * order, replaces z in the frontier by its inputs. With T_i,n the Jacobian of z in a_i at sample n
 * and {@code T̄_i = mean_n T_i,n}, the other live values o unchanged:
 * <pre>
 *   H̄'(a_i, o)   += T̄_i' H̄(z, o)                                  (both eq. 8 and eq. 9)
 *   H̄'(a_i, a_j) += avg T_i' H̄(z, z) T_j + mod(mean_n R_n)(i, j)
 *       avg = mean_n T_i,n' H̄ T_j,n (kfra, eq. 8) or T̄_i' H̄ T̄_j (bda, eq. 9)
 * </pre>
 * where an input a that is already live keeps its blocks (the identity part), an input read twice
 * sums its slots, and R is the step's residual: a module's {@code R_x} (its averaged form of
 * eq. 8 / eq. 9 through {@code propagateAveraged}, the residual averaged then modified as in a
 * sequential network; for several inputs the joint residual of all of them,
 * {@link GraphJointResidual}, averaged and then modified as one matrix, with the cross blocks
 * {@code avg T_i' H̄ T_j} from the dense per-sample Jacobians), a {@code .*} merge's joint {@code [[0, D], [D, 0]]}, {@code D = diag(dz)},
 * averaged then modified ({@link Merges#residualDiagonals}); {@code + - concat} have none. A
 * branch point is thus the sum of its uses' blocks with the cross terms between them, and on a
 * skip connection {@code z = x + f(x)} with one module f this is Table 1's skip rule,
 * {@code H̄_x = avg (I + J_f)' H̄_z (I + J_f) + mod(mean_n R_f,n)}. The output Hessian of a module
 * use is {@code H̄(z, z)} when its step is taken; a parameter's block is formed from it as in a
 * sequential network, and a shared instance's block is the sum of its uses' blocks (the cross
 * terms between uses are not approximated: they are dropped). Values that no parameter precedes
 * leave the frontier (their Hessian is never formed).
 */
final class GraphFrontier {
  private final Pass pass;
  private final Network net;
  private final Backend be;
  private final ResidualPolicy policy;
  private final Averaging averaging;
  /** The joint blocks by pair of live values; both orientations are kept (H̄(b, a) = H̄(a, b)'). */
  private final Map<String, Map<String, Batch>> h = new LinkedHashMap<>();
  private final Set<String> live = new LinkedHashSet<>();
  private final Set<String> needed;
  private final List<Batch> temporaries = new ArrayList<>();

  GraphFrontier(Pass pass, ResidualPolicy policy, Averaging averaging) {
    this.pass = pass;
    this.net = pass.net;
    this.be = net.be;
    this.policy = policy;
    this.averaging = averaging;
    this.needed = GraphPasses.needGradient(net);
  }

  /** Refuses, naming the value, where the joint Hessian of a frontier would exceed {@code limit} bytes (float64, both orientations). */
  static void checkMemory(Network net, long limit) {
    Set<String> needed = GraphPasses.needGradient(net);
    Map<String, Integer> live = new LinkedHashMap<>();
    String out = net.spec.graph().output();
    live.put(out, size(net, out));
    for (int k = net.graph.size() - 1; k >= 0; k--) {
      GraphPasses.Step s = net.graph.get(k);
      if (live.remove(s.value()) == null) continue;
      for (String in : s.inputs()) if (needed.contains(in)) live.put(in, size(net, in));
      long d = 0;
      for (int x : live.values()) d += x;
      if (16 * d * d > limit)
        throw new UserError(String.format("graph network %s: the batch-averaged joint Hessian of the values live before '%s' (%s) has %d x %d entries "
            + "(%.1f GiB in float64, kept in both orientations), above the limit of %.1f GiB; use --strategy exact or raise --memory-limit",
            net.spec.name(), s.value(), String.join(", ", live.keySet()), d, d, 16.0 * d * d / (1L << 30), limit / (double) (1L << 30)));
    }
  }

  private static int size(Network net, String value) {
    int[] s = GraphPasses.item(net, value);
    return s[0] * s[1];
  }

  /** The walk from the loss back: each module use's output Hessian into {@code outputHessians} (kept by the caller). */
  void walk(Batch lossHessian, Map<Network.LayerNode, Batch> outputHessians) {
    String out = net.spec.graph().output();
    put(out, out, lossHessian);
    live.add(out);
    for (int k = net.graph.size() - 1; k >= 0; k--) {
      GraphPasses.Step s = net.graph.get(k);
      if (!live.contains(s.value())) continue;
      if (s.layer() != null) applyStep(s, outputHessians);
      else mergeStep(s);
    }
    for (Map<String, Batch> row : h.values()) temporaries.addAll(row.values());
    List<Batch> keep = new ArrayList<>(outputHessians.values());
    keep.addAll(pass.callerBatches);
    keep.addAll(pass.values.values());
    keep.addAll(pass.valueGradients.values());
    keep.addAll(pass.outputGradients.values());
    net.releaseTemporaries(temporaries, keep.toArray(new Batch[0]));
  }

  private void applyStep(GraphPasses.Step s, Map<Network.LayerNode, Batch> outputHessians) {
    Network.LayerNode l = s.layer();
    if (l.inputs.size() > 1) {
      multiInputStep(s, outputHessians);
      return;
    }
    String z = s.value(), a = s.inputs().get(0);
    Batch hzz = h.get(z).remove(z);
    outputHessians.put(l, hzz);
    if (!needed.contains(a)) {
      drop(z);
      return;
    }
    ForwardCache c = pass.caches.get(l);
    Batch aa = own(l.op.propagateAveraged(c, l.input, hzz, averaging));
    if (policy.contributes(l.op, l.input)) aa = own(be.add(aa, own(policy.averagedDense(l.op, c, l.input, pass.outputGradients.get(l)))));
    Batch jbar = live.size() > 1 ? own(be.meanSamples(own(denseJacobian(l, l.input)), pass.samples)) : null;
    replace(z, List.of(a), new Batch[] {jbar}, new Batch[][] {{aa}});
  }

  /**
   * A step {@code z = f(a_1, ..., a_k)} of a module use of several inputs: slots i of the inputs in
   * the frontier, {@code x(i, i)} by the operator's averaged propagation, {@code x(i, j)} =
   * {@code mean_n T_i,n' H̄ T_j,n} (kfra) or {@code T̄_i' H̄ T̄_j} (bda) from the dense per-sample
   * Jacobians, plus block (i, j) of the joint residual of all its inputs ({@link GraphJointResidual})
   * averaged over the batch and then modified as one matrix.
   */
  private void multiInputStep(GraphPasses.Step s, Map<Network.LayerNode, Batch> outputHessians) {
    Network.LayerNode l = s.layer();
    String z = s.value();
    Batch hzz = h.get(z).remove(z);
    outputHessians.put(l, hzz);
    List<Integer> slots = new ArrayList<>();
    for (int i = 0; i < s.inputs().size(); i++) if (needed.contains(s.inputs().get(i))) slots.add(i);
    if (slots.isEmpty()) {
      drop(z);
      return;
    }
    ForwardCache c = pass.caches.get(l);
    int k = slots.size();
    List<String> inputs = new ArrayList<>();
    Batch[] perSample = new Batch[k], tbar = new Batch[k];
    for (int i = 0; i < k; i++) {
      inputs.add(s.inputs().get(slots.get(i)));
      perSample[i] = own(denseJacobian(l, l.inputs.get(slots.get(i))));
      tbar[i] = own(be.meanSamples(perSample[i], pass.samples));
    }
    Batch[][] x = new Batch[k][k];
    for (int i = 0; i < k; i++)
      for (int j = 0; j < k; j++) {
        if (i == j) x[i][i] = own(l.op.propagateAveraged(c, l.inputs.get(slots.get(i)), hzz, averaging));
        else if (averaging == Averaging.PRODUCT_OF_MEANS) x[i][j] = own(be.matmul(tbar[i], true, own(be.matmul(hzz, false, tbar[j], false)), false));
        else x[i][j] = own(be.meanSamples(own(be.matmul(perSample[i], true, own(be.matmul(hzz, false, perSample[j], false)), false)), pass.samples));
      }
    if (policy.modification() != ResidualModification.ZERO) {
      Batch mean = own(be.meanSamples(own(GraphJointResidual.exact(pass, l, pass.outputGradients.get(l))), pass.samples));
      Batch r = policy.modification() == ResidualModification.NONE ? mean : own(be.symmetricEigenMap(mean, policy.modification()::apply));
      int[] sizes = GraphJointResidual.sizes(l);
      for (int i = 0; i < k; i++)
        for (int j = 0; j < k; j++) x[i][j] = own(be.add(x[i][j], own(GraphJointResidual.block(be, r, sizes, slots.get(i), slots.get(j)))));
    }
    replace(z, inputs, tbar, x);
  }

  /** The per-sample Jacobian of a module use in its input {@code var}, numel(z) x numel(var). */
  private Batch denseJacobian(Network.LayerNode l, String var) {
    int[] in = l.op.itemShape(var);
    int d = in[0] * in[1];
    Batch eye = own(be.reshape(be.columnsAsDirections(own(be.eye(d))), in[0], in[1]));
    Batch j = own(l.op.jacMatProd(pass.caches.get(l), var, eye));
    int[] o = l.outputItem();
    return be.directionsAsColumns(be.reshape(j, o[0] * o[1], 1), d);
  }

  private void mergeStep(GraphPasses.Step s) {
    String z = s.value();
    Merges m = s.merge();
    List<Batch> values = GraphPasses.values(pass, s);
    List<Integer> slots = new ArrayList<>();
    for (int i = 0; i < s.inputs().size(); i++) if (needed.contains(s.inputs().get(i))) slots.add(i);
    Batch hzz = h.get(z).remove(z);
    temporaries.add(hzz);
    if (slots.isEmpty()) {
      drop(z);
      return;
    }
    int k = slots.size();
    List<String> inputs = new ArrayList<>();
    Batch[] tbar = new Batch[k];
    for (int i = 0; i < k; i++) {
      inputs.add(s.inputs().get(slots.get(i)));
      tbar[i] = own(m.op() == NetworkSpec.MergeOp.MULTIPLY
          ? be.diagMatrix(own(columnOf(own(be.meanSamples(values.get(1 - slots.get(i)), pass.samples)))))
          : m.jacobian(slots.get(i), values, pass.samples));
    }
    Batch[][] x = new Batch[k][k];
    for (int i = 0; i < k; i++)
      for (int j = 0; j < k; j++) x[i][j] = own(averagedPair(m, values, slots.get(i), slots.get(j), tbar[i], tbar[j], hzz));
    if (m.hasResidual() && policy.modification() != ResidualModification.ZERO) {
      Batch meanDz = own(be.meanSamples(pass.valueGradients.get(z), pass.samples));
      Batch[] ab = m.residualDiagonals(meanDz, policy.modification());
      for (Batch r : ab) own(r);
      for (int i = 0; i < k; i++)
        for (int j = 0; j < k; j++) {
          Batch r = own(be.diagMatrix(own(columnOf(ab[slots.get(i).equals(slots.get(j)) ? 0 : 1]))));
          x[i][j] = own(be.add(x[i][j], r));
        }
    }
    replace(z, inputs, tbar, x);
  }

  /** {@code avg T_i' H T_j}: mean_n T_i,n' H T_j,n (kfra) or T̄_i' H T̄_j (bda); equal for the constant Jacobians of + - concat. */
  private Batch averagedPair(Merges m, List<Batch> values, int i, int j, Batch ti, Batch tj, Batch hzz) {
    if (m.op() != NetworkSpec.MergeOp.MULTIPLY || averaging == Averaging.PRODUCT_OF_MEANS)
      return be.matmul(ti, true, own(be.matmul(hzz, false, tj, false)), false);
    // mean_n diag(p_n) H diag(q_n) = H ∘ mean_n p_n q_n', p = the other factor of slot i, q of slot j
    Batch p = own(columnOf(values.get(1 - i))), q = own(columnOf(values.get(1 - j)));
    Batch outer = own(be.meanSamples(own(be.matmul(p, false, q, true)), pass.samples));
    return be.multiply(hzz, outer);
  }

  private Batch columnOf(Batch a) {
    return be.reshape(a, a.rows() * a.cols(), 1);
  }

  /**
   * Replaces z in the frontier by {@code inputs} (one per slot, a value may repeat), with the
   * averaged Jacobians {@code tbar} of each slot (needed only when other values are live) and
   * the slot-pair blocks {@code x} of {@code avg T_i' H̄(z, z) T_j + R(i, j)}.
   */
  private void replace(String z, List<String> inputs, Batch[] tbar, Batch[][] x) {
    live.remove(z);
    Map<String, Batch> zRow = h.remove(z);
    for (String o : live) h.get(o).remove(z);
    // cross terms with the other live values (an input already live included)
    for (int i = 0; i < inputs.size(); i++) {
      if (live.isEmpty()) break;
      for (String o : new ArrayList<>(live)) {
        Batch cross = own(be.matmul(tbar[i], true, zRow.get(o), false));
        add(inputs.get(i), o, cross);
      }
    }
    for (int i = 0; i < inputs.size(); i++) live.add(inputs.get(i));
    for (int i = 0; i < inputs.size(); i++)
      for (int j = 0; j < inputs.size(); j++) addOneWay(inputs.get(i), inputs.get(j), x[i][j]);
    temporaries.addAll(zRow.values());
  }

  /** H̄(a, b) += x and H̄(b, a) += x' (once where a = b: x' H̄(z,a) then counts in both orders). */
  private void add(String a, String b, Batch x) {
    if (a.equals(b)) {
      addOneWay(a, a, x);
      addOneWay(a, a, own(be.transpose(x)));
      return;
    }
    addOneWay(a, b, x);
    addOneWay(b, a, own(be.transpose(x)));
  }

  private void addOneWay(String a, String b, Batch x) {
    Map<String, Batch> row = h.computeIfAbsent(a, k -> new LinkedHashMap<>());
    Batch before = row.get(b);
    if (before == null) {
      row.put(b, x);
      return;
    }
    row.put(b, own(be.add(before, x)));
    temporaries.add(before);
  }

  private void put(String a, String b, Batch x) {
    h.computeIfAbsent(a, k -> new LinkedHashMap<>()).put(b, x);
  }

  /** Removes a value from the frontier (nothing before it has parameters). */
  private void drop(String z) {
    live.remove(z);
    Map<String, Batch> row = h.remove(z);
    if (row != null) temporaries.addAll(row.values());
    for (String o : live) {
      Batch b = h.get(o).remove(z);
      if (b != null) temporaries.add(b);
    }
  }

  private Batch own(Batch b) {
    temporaries.add(b);
    return b;
  }
}
