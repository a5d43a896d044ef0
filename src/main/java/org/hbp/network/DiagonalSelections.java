package org.hbp.network;

import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.runtime.ForwardCache;

/**
 * A layer whose derived Jacobian is {@code diag(d)} (an elementwise module, d its memoized
 * derivative such as {@code sigmoid'(x)}) followed by one whose Jacobian is a selection S that
 * keeps fewer entries than it reads (a max-pool's gather): since each row of S picks one entry or
 * none, {@code S diag(d) = diag(S d) S} and {@code diag(d) S' = S' diag(S d)}, entry by entry. The
 * products through the network then multiply their directions by {@code S d} after the selection
 * and before its adjoint, on the kept entries only (a quarter of them for a 2 x 2 max-pool),
 * instead of by d on all of them: the exact blocks ({@link HessianProducts}), the whole-network
 * products ({@link NetworkProducts}, {@link GraphProducts}) and the walks of columns back
 * ({@link ColumnsBackward}, {@link OutputColumns}, {@link GraphColumns.Walk}).
 *
 * <p>{@code S d} has one direction per sample; it is computed once per forward pass and kept in
 * the selection layer's cache ({@link ForwardCache#derived}), released with the pass.
 *
 * <p>In a sequential network a pair is two adjacent layers ({@link #after}); in a graph network,
 * two module uses where the first's value is read by the second alone ({@link GraphPairs}).
 */
final class DiagonalSelections {
  /** The key of {@code S d} in the selection layer's cache. */
  private static final String KEY = "the Jacobian diagonal of the layer before, selected";

  private DiagonalSelections() {}

  /**
   * {@code S d} where {@code nodes[i - 1]} and {@code nodes[i]} form a pair and both are at or
   * after {@code nodes[first]}; else null. For the walks back from the last node to
   * {@code nodes[first]}, which meet the pair's selection first.
   */
  static Batch endingAt(Pass pass, List<Network.Node> nodes, int i, int first) {
    return i - 1 >= first ? after(pass, nodes, i - 1) : null;
  }

  /**
   * {@code S d} where {@code nodes[i]} is a layer l and {@code nodes[i + 1]} a layer m after it
   * that form a pair ({@link #selected}); else null (also past the end).
   */
  static Batch after(Pass pass, List<Network.Node> nodes, int i) {
    if (i < 0 || i + 1 >= nodes.size() || !(nodes.get(i) instanceof Network.LayerNode l) || !(nodes.get(i + 1) instanceof Network.LayerNode m)) return null;
    return selected(pass, l, m);
  }

  /**
   * {@code S d} in m's output shape where l's Jacobian with respect to its input is
   * {@code diag(d)} (it claims a diagonal Jacobian and gives d), m's with respect to its input
   * (l's output) a selection S that keeps fewer entries than it reads and gives its index map
   * ({@link org.hbp.runtime.ModuleOperator#jacobianSelection}; operators generated before it take
   * no pair), neither layer has parameters or other inputs, and m has no residual term; else null.
   * d and the index map are asked for once per pass, when {@code S d} is made.
   */
  static Batch selected(Pass pass, Network.LayerNode l, Network.LayerNode m) {
    if (l.inputs.size() != 1 || m.inputs.size() != 1 || !l.op.parameters().isEmpty() || !m.op.parameters().isEmpty()) return null;
    if (!m.op.jacobianIsSelection(m.input) || m.op.residualKind(m.input) != org.hbp.runtime.ResidualKind.ZERO) return null;
    int[] kept = m.outputItem(), read = l.outputItem();
    if ((long) kept[0] * kept[1] >= (long) read[0] * read[1]) return null;
    if (!l.op.jacobianIsDiagonal(l.input)) return null; // the claim hbp verify checks off the diagonal too
    ForwardCache cm = pass.caches.get(m);
    return cm.derived(KEY, () -> {
      Batch d = l.op.jacobianDiagonal(pass.caches.get(l), l.input); // null for the identity: no pair
      if (d == null || m.op.jacobianSelection(cm, m.input) == null) return null;
      return m.asOutput(m.op.jacMatProd(cm, m.input, m.asInput(l.asOutput(d))));
    });
  }

  /**
   * {@code S (diag(d) u) = (S d) .* (S u)}: u at l's input, the result at m's output (fresh
   * storage, the caller's), in one kernel ({@link org.hbp.backend.Backend#gatherMultiply}) with
   * m's index map: {@code S u} is never stored.
   */
  static Batch forward(Pass pass, Network.LayerNode l, Network.LayerNode m, Batch selected, Batch u) {
    Backend be = pass.net.be;
    Batch idx = m.op.jacobianSelection(pass.caches.get(m), m.input);
    Batch flat = be.reshape(l.asInput(u), u.itemSize(), 1); // asInput: u must fit l's input
    return m.asOutput(be.gatherMultiply(flat, idx, be.reshape(selected, idx.rows(), idx.cols())));
  }

  /**
   * {@code diag(d) (S' w) = S' ((S d) .* w)}: w at m's output, the result at l's input (fresh
   * storage, the caller's), in one kernel ({@link org.hbp.backend.Backend#multiplyScatterAdd}) with
   * m's index map.
   */
  static Batch backward(Pass pass, Network.LayerNode l, Network.LayerNode m, Batch selected, Batch w) {
    Backend be = pass.net.be;
    Batch idx = m.op.jacobianSelection(pass.caches.get(m), m.input);
    int[] in = m.op.itemShape(m.input);
    Batch g = be.reshape(m.asOutput(w), idx.rows(), idx.cols());
    return l.asInput(be.reshape(be.multiplyScatterAdd(be.reshape(selected, idx.rows(), idx.cols()), g, idx, in[0] * in[1], 1), in[0], in[1]));
  }

  /**
   * The candidate pairs of a graph network by its topology: a module use m of one input z where z
   * is the value of a module use l of one input, read by m alone (once) and not the loss's input.
   * Whether a candidate is a pair is for the operators to say ({@link #selected}), at run time.
   * Then the directions and columns at l's value (the forward pass keeps the value itself) are
   * never formed by the products and walks that take pairs: forward, m's value
   * comes from l's input; backward, w at m's value goes to l's input, through both steps.
   */
  static final class GraphPairs {
    /** The step of l, by m. */
    private final Map<Network.LayerNode, GraphPasses.Step> diagonalBefore = new IdentityHashMap<>();
    /** m, by l. */
    private final Map<Network.LayerNode, Network.LayerNode> selectionAfter = new IdentityHashMap<>();

    GraphPairs(Network net) {
      Map<String, Integer> reads = new HashMap<>();
      Map<String, GraphPasses.Step> producers = new HashMap<>();
      for (GraphPasses.Step s : net.graph) {
        for (String in : s.inputs()) reads.merge(in, 1, Integer::sum);
        producers.put(s.value(), s);
      }
      String output = net.spec.graph().output();
      for (GraphPasses.Step s : net.graph) {
        if (s.layer() == null || s.inputs().size() != 1) continue;
        String z = s.inputs().get(0);
        GraphPasses.Step before = producers.get(z);
        if (before == null || before.layer() == null || before.inputs().size() != 1 || z.equals(output) || reads.get(z) != 1) continue;
        diagonalBefore.put(s.layer(), before);
        selectionAfter.put(before.layer(), s.layer());
      }
    }

    /** {@code S d} where m is the selection of a pair ({@link #selected}), else null. */
    Batch selectedAt(Pass pass, Network.LayerNode m) {
      GraphPasses.Step l = diagonalBefore.get(m);
      return l == null ? null : selected(pass, l.layer(), m);
    }

    /** Whether l is the diagonal of a pair: its value is then formed by neither the products nor the walks. */
    boolean pairedAfter(Pass pass, Network.LayerNode l) {
      Network.LayerNode m = selectionAfter.get(l);
      return m != null && selected(pass, l, m) != null;
    }

    /** The step of the diagonal layer before the selection m of a pair. */
    GraphPasses.Step diagonalBefore(Network.LayerNode m) {
      return diagonalBefore.get(m);
    }
  }
}
