package org.hbp.network;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BiConsumer;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;

/**
 * Columns given at a graph network's output (a loss factor's {@code S_n}, Monte-Carlo vectors)
 * carried back through its steps exactly as {@link GraphPasses#backward} carries the gradient:
 * the columns of a value are the sum over its uses (a branch point adds its consumers'
 * {@code J_i' u}); a module use of several inputs passes {@code J_i' u} to its i-th value; a merge
 * passes its Jacobian-transpose ({@link Merges#jacT}: the identity for {@code +}, its negative for
 * the subtrahend of {@code -}, {@code diag(b)} for {@code a .* b}, the row selection of a concat).
 * Only values downstream of a parameter ({@link GraphPasses#needGradient}) receive columns. The
 * result: each module use's columns at its output, {@code J_{z,n}' s_{n,c}} for its output z. A
 * module use with a diagonal Jacobian whose value only a max-pool reads goes back with it as one
 * pair ({@link DiagonalSelections}); neither has parameters, and the columns at the value between
 * them are never formed.
 */
final class GraphColumns {
  private GraphColumns() {}

  /**
   * The columns at the output of every module use that is downstream of a parameter
   * ({@code [N x r]} items in its output shape), except the diagonal layer of a pair (it has no
   * parameters); intermediate columns are released as the walk goes, the returned ones (and
   * {@code columns}) by the caller.
   */
  static Map<Network.LayerNode, Batch> back(Pass pass, Batch columns) {
    Map<Network.LayerNode, Batch> out = new IdentityHashMap<>();
    Walk walk = new Walk(pass);
    walk.kept.add(columns);
    walk.back(columns, (l, u) -> {
      Batch z = l.asOutput(u);
      out.put(l, z);
      walk.kept.add(z);
    });
    return out;
  }

  /**
   * A walk of columns back through a graph, in reverse graph order: a value's columns are complete
   * when its step is reached (its consumers come earlier in the walk), so a module use sees its
   * output's columns there ({@code atLayer}); they are then carried to its inputs ({@link
   * #pushBack}, or through both layers of a pair at once, {@link DiagonalSelections}; summed where a
   * value has several consumers) and released, unless they share storage
   * with a batch in {@link #kept} or with a value's not yet reached (a merge's {@code J'} may pass
   * them on as they are, a reshape-like module's may return a view). Shared by {@link #back} and
   * {@link FactoredBlocks}' set-up.
   */
  static final class Walk {
    private final Pass pass;
    private final Network net;
    private final Backend be;
    /** Batches the walk never releases: what its caller keeps (the walk's results, the caller's own columns). */
    final List<Batch> kept = new ArrayList<>();
    /** The columns of the values not yet reached, summed over the consumers reached so far. */
    private final Map<String, Batch> values = new LinkedHashMap<>();

    Walk(Pass pass) {
      this.pass = pass;
      this.net = pass.net;
      this.be = net.be;
    }

    /**
     * Carries {@code columns} (at the graph's output; released once carried below, unless kept)
     * back through the graph, calling {@code atLayer} with each module use downstream of a
     * parameter and the columns at its output (but the diagonal layer of a pair, which has no
     * parameters: {@link DiagonalSelections}); a batch it adds to {@link #kept} survives the walk.
     */
    void back(Batch columns, BiConsumer<Network.LayerNode, Batch> atLayer) {
      Set<String> needed = GraphPasses.needGradient(net);
      String output = net.spec.graph().output();
      values.put(output, GraphPasses.as(be, columns, GraphPasses.item(net, output)));
      for (int k = net.graph.size() - 1; k >= 0; k--) {
        GraphPasses.Step step = net.graph.get(k);
        Batch u = values.get(step.value());
        if (u == null || !needed.contains(step.value())) continue;
        if (step.layer() != null) atLayer.accept(step.layer(), u);
        Batch selected = step.layer() == null ? null : net.graphPairs.selectedAt(pass, step.layer());
        if (selected != null) { // a diagonal then a selection, neither with parameters: diag(d) S' u = S' ((S d) .* u)
          GraphPasses.Step before = net.graphPairs.diagonalBefore(step.layer());
          String in = before.inputs().get(0);
          if (needed.contains(in)) {
            add(in, DiagonalSelections.backward(pass, before.layer(), step.layer(), selected, u));
          }
        } else pushBack(pass, step, u, needed, this::add);
        values.remove(step.value());
        release(u);
      }
      List<Batch> left = new ArrayList<>(values.values()); // values no parameter depends on
      values.clear();
      net.releaseTemporaries(left, kept.toArray(new Batch[0]));
    }

    /** Adds columns d to those of a value (a branch point sums its consumers'). */
    private void add(String value, Batch d) {
      d = GraphPasses.as(be, d, GraphPasses.item(net, value));
      Batch before = values.get(value);
      if (before == null) values.put(value, d);
      else {
        values.put(value, be.add(before, d));
        release(before);
        release(d);
      }
    }

    /** Releases columns the walk is done with, unless they share storage with a kept batch or a value's not yet reached. */
    private void release(Batch done) {
      for (Batch k : kept) if (be.sharesStorage(done, k)) return;
      for (Batch v : values.values()) if (be.sharesStorage(done, v)) return;
      be.release(done);
    }
  }

  /**
   * The reverse walk's step: columns {@code u} at a step's value carried to each of its inputs
   * that is in {@code needed}, {@code to.accept(input value, J_i' u)} (a module use's
   * {@code jacTMatProd} of its i-th input at {@code u} in its output shape; a merge's
   * {@link Merges#jacT}, which may return u itself). The caller sums what reaches a value from its
   * several uses. Shared by every walk that carries columns back through a graph ({@link #back},
   * {@link GraphHessianDiagonal}).
   */
  static void pushBack(Pass pass, GraphPasses.Step s, Batch u, Set<String> needed, BiConsumer<String, Batch> to) {
    if (s.layer() != null) {
      Network.LayerNode l = s.layer();
      Batch z = l.asOutput(u);
      for (int i = 0; i < s.inputs().size(); i++) {
        String in = s.inputs().get(i);
        if (needed.contains(in)) to.accept(in, l.op.jacTMatProd(pass.caches.get(l), l.inputs.get(i), z));
      }
    } else {
      List<Batch> inputs = GraphPasses.values(pass, s);
      for (int i = 0; i < s.inputs().size(); i++) {
        String in = s.inputs().get(i);
        if (needed.contains(in)) to.accept(in, s.merge().jacT(i, inputs, u));
      }
    }
  }

  /**
   * {@code sum_uses J_{θ,use}' u_use} of a parameter over the given uses (each with its output
   * columns in {@code outputs}): a fresh batch, {@code [N x C]} items in the parameter's item shape.
   */
  static Batch sumOverUses(Pass pass, List<Network.LayerNode> uses, String var, Map<Network.LayerNode, Batch> outputs) {
    Backend be = pass.net.be;
    Batch sum = null;
    for (Network.LayerNode l : uses) {
      Batch u = outputs.get(l);
      Batch g = l.op.jacTMatProd(pass.caches.get(l), var, u);
      if (sum == null) sum = be.sharesStorage(g, u) ? be.scale(g, 1) : g; // a bias's J' u may be u itself
      else {
        Batch next = be.add(sum, g);
        pass.net.releaseTemporaries(List.of(sum, g), next, u);
        sum = next;
      }
    }
    return sum;
  }

  /** The uses of a parameter that have columns at their output. */
  static List<Network.LayerNode> usesWithColumns(Network net, String parameter, Map<Network.LayerNode, Batch> outputs) {
    List<Network.LayerNode> out = new ArrayList<>();
    for (Network.LayerNode l : net.uses(parameter)) if (outputs.containsKey(l)) out.add(l);
    return out;
  }
}
