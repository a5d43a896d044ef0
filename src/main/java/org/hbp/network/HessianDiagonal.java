package org.hbp.network;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.hbp.UserError;
import org.hbp.backend.Batch;
import org.hbp.runtime.ForwardCache;
import org.hbp.runtime.ResidualKind;

/**
 * The diagonal of each parameter's exact Hessian block of the mean loss, by HBP with diagonal
 * residuals (BackPACK's DiagHessian). The curvature at a layer's output is a signed sum of Gram
 * matrices, {@code H_z = sum_j σ_j C_j C_j'}: the loss factor S (σ = +1) at the network output,
 * and at the input of every module above with a diagonal residual {@code R = diag(r)} (per sample)
 * the two factors {@code diag(sqrt(max(r, 0)))} (σ = +1) and {@code diag(sqrt(max(-r, 0)))}
 * (σ = -1), whose signed Gram matrices add up to R. Every column set is propagated back through
 * the Jacobians (eq. 7: {@code J' H_z J + R}), and a parameter's diagonal is
 * {@code (1/N) sum_n [sum_j σ_j sum_c (J_θ' c)^2 + r_θ]} with its own diagonal residual r_θ.
 * A module with a general (non-diagonal) residual is refused, naming it.
 *
 * <p>A graph network takes the same recursion through its steps ({@link GraphHessianDiagonal}:
 * branch points, merges, modules of several inputs, shared instances); a chain with residual
 * blocks is walked here.
 */
public final class HessianDiagonal {
  private HessianDiagonal() {}

  /** A set of columns {@code [N x C]} and the sign of its Gram matrix. */
  record Columns(Batch batch, double sign) {}

  /**
   * The exact Hessian diagonal of every parameter's block, one item in the parameter's shape.
   *
   * @throws UserError when the loss has no certified factor, or a module has a general residual
   */
  public static Map<String, Batch> exact(Pass pass) {
    return exact(pass, Curvature.DEFAULT_MEMORY_LIMIT);
  }

  /**
   * The exact Hessian diagonal; refuses, naming the layer and the size, before it would form a
   * column set over {@code memoryLimitBytes} (the residual factors carry one column per entry of a
   * layer's input for every sample, so the sets grow as {@code N * numel * size}).
   */
  public static Map<String, Batch> exact(Pass pass, long memoryLimitBytes) {
    Network net = pass.net;
    if (net.isGraph()) return GraphHessianDiagonal.sums(pass, memoryLimitBytes).means();
    Walk walk = new Walk(pass, memoryLimitBytes);
    walk.nodes(net.body, new ArrayList<>(List.of(new Columns(pass.lossFactor(), 1))), true);
    return walk.means();
  }

  /** The backward walk of the signed column sets through a chain with residual blocks. */
  private static final class Walk extends HessianSums {
    Walk(Pass pass, long limit) {
      super(pass, limit);
    }

    List<Columns> nodes(List<Network.Node> nodes, List<Columns> sets, boolean top) {
      int first = 0;
      if (top) while (first < nodes.size() && !Network.hasParameters(nodes.get(first))) first++;
      for (int i = nodes.size() - 1; i >= first; i--) sets = node(nodes.get(i), sets, !(top && i == first));
      return sets;
    }

    private List<Columns> node(Network.Node n, List<Columns> sets, boolean needInput) {
      if (n instanceof Network.LayerNode l) return layer(l, sets, needInput);
      Network.ResidualNode r = (Network.ResidualNode) n;
      // z = x + f(x): the body's sets come back at x; the skip passes every set on unchanged
      List<Columns> inner = nodes(r.body, sets, false);
      List<Columns> out = new ArrayList<>();
      for (int i = 0; i < sets.size(); i++) out.add(new Columns(be.add(sets.get(i).batch, r.same(inner.get(i).batch, sets.get(i).batch)), sets.get(i).sign));
      // sets the body added (residuals of its modules) enter at x only through the body
      for (int i = sets.size(); i < inner.size(); i++) out.add(inner.get(i));
      return out;
    }

    private List<Columns> layer(Network.LayerNode l, List<Columns> sets, boolean needInput) {
      ForwardCache c = pass.caches.get(l);
      Batch dz = pass.outputGradients.get(l);
      for (String p : l.op.parameters()) {
        String name = l.path + "." + p;
        for (Columns s : sets) addSquares(l, p, name, c, l.asOutput(s.batch), s.sign);
        add(name, diagonalSum(residualDiagonal(l, c, p, dz)));
      }
      if (!needInput) return List.of();
      List<Columns> out = new ArrayList<>();
      int[] in = l.op.itemShape(l.input);
      String where = "the input of layer " + l.path + " (" + l.op.name() + ")";
      for (Columns s : sets) {
        check(s.batch.samples(), s.batch.directions(), (long) in[0] * in[1], where);
        out.add(new Columns(l.op.jacTMatProd(c, l.input, l.asOutput(s.batch)), s.sign));
      }
      if (l.op.residualKind(l.input) != ResidualKind.ZERO) {
        check(2L * pass.samples, (long) in[0] * in[1], (long) in[0] * in[1], where + ", its residual's factors");
        out.addAll(residualFactors(residualDiagonal(l, c, l.input, dz), in));
      }
      return out;
    }
  }
}
