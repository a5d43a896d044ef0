package org.hbp.network;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.hbp.UserError;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;

/**
 * Per-layer joint blocks: one curvature block per layer over all its parameters together (a
 * linear layer's {@code [W, b]}), a departure from the paper's one block per parameter (as
 * curvlinops' {@code separate_weight_and_bias=False} and KFAC's augmented factors). The joint block
 * of a layer with parameters θ_1..θ_k is the k x k block matrix
 * <pre>
 *   C_pq = (1/N) sum_n [ J_p,n' H_z,n J_q,n + R_pq,n ]       (z the layer's output)
 * </pre>
 * whose diagonal blocks C_pp are the per-parameter blocks and whose off-diagonal blocks add the
 * cross terms: the GGN's {@code J_p' H_z J_q}, and for the Hessian also the mixed residuals
 * {@code R_pq = M_pq = sum_k dz_k d²z_k/(dθ_p dθ_q)}. Its products cost one trip through the rest
 * of the network per layer instead of one per parameter ({@link ExactStrategy}).
 *
 * <p>Defined for the exact strategy, for the GGN and the Hessian, and for PCH on layers of one
 * parameter only. On a graph network a layer is a module instance: a shared (tied) one's joint
 * block sums its uses and the cross terms between them ({@link GraphProducts#joint}). PCH on a layer of several parameters is refused: it makes a
 * residual PSD by modifying its eigenvalues, and the residual of a joint block is the joint matrix
 * {@code [R_pq]}, whose eigenvalues are not those of its diagonal blocks; modifying it needs that
 * matrix densely per sample (numel(θ)² entries per sample), which hbp does not form for products.
 * The dense form is ordered as the parameters are in the operator ({@code [vec(W); b]}), each in
 * column-major vec order.
 */
final class LayerBlocks {
  private LayerBlocks() {}

  /** Refuses what the joint blocks are not defined for, naming the option, the strategy or the layer. */
  static void check(Network net, CurvatureKind kind, Strategy strategy) {
    if (strategy != Strategy.EXACT)
      throw new UserError("--blocks layer (per-layer joint blocks) is available with --strategy exact only, not --strategy " + strategy.label()
          + " (its blocks are per parameter); use --blocks parameter");
    for (Network.LayerNode l : net.layers()) check(l, kind);
  }

  /** Refuses the joint block of one layer where its cross terms are not available (see the class comment). */
  static void check(Network.LayerNode l, CurvatureKind kind) {
    List<String> params = l.op.parameters();
    if (params.size() < 2) return;
    ResidualModification m = kind.residual();
    if (m == ResidualModification.ABS || m == ResidualModification.CLIP)
      throw new UserError("--blocks layer with --curvature " + kind.label() + ": layer " + l.path + " (" + l.op.name() + ") has " + params.size()
          + " parameters " + params + "; PCH modifies the eigenvalues of a residual, and the residual of their joint block is one matrix "
          + "with the mixed terms between them, which hbp does not form per sample; use --curvature ggn or hessian, or --blocks parameter");
    if (m == ResidualModification.NONE && !l.op.hasMixedResiduals())
      throw new UserError("--blocks layer with --curvature hessian: layer " + l.path + " (" + l.op.name() + ") has no mixed second derivatives "
          + "sum_k dz_k d²z_k/(da db) between its parameters " + params + ", which the cross terms of its joint block need; "
          + "use --curvature ggn, or --blocks parameter");
  }

  /**
   * Each layer's parameters (full names), in network order: the rows of the per-layer joint
   * blocks; a module instance used several times (a graph network's tied layer) once, at its first use.
   */
  static List<List<String>> groups(Network net) {
    List<List<String>> out = new ArrayList<>();
    for (Network.LayerNode l : net.layers())
      if (!l.op.parameters().isEmpty() && !out.contains(l.parameterNames())) out.add(l.parameterNames());
    return out;
  }

  /**
   * Each layer's name (the prefix of its parameters' names, PyTorch's module name: {@code 0},
   * {@code 2.1}) and its parameters (full names), in network order: {@link #groups} by name.
   */
  static Map<String, List<String>> named(Network net) {
    Map<String, List<String>> out = new LinkedHashMap<>();
    for (Network.LayerNode l : net.layers()) if (!l.op.parameters().isEmpty()) out.put(l.prefix, l.parameterNames());
    return out;
  }

  /**
   * The directions of one layer's parameters keyed by the operator's variables: those given, zeros
   * (V directions) for the others; refuses directions for parameters of different layers.
   */
  static Map<String, Batch> byVariable(Network net, Network.LayerNode l, Map<String, Batch> shaped, int directions) {
    Map<String, Batch> v = new LinkedHashMap<>();
    for (String p : l.op.parameters()) {
      Batch d = shaped.get(l.parameterName(p));
      if (d == null) {
        int[] s = l.op.itemShape(p);
        d = net.be.fromArray(1, directions, s[0], s[1], new double[directions * s[0] * s[1]]);
      }
      v.put(p, d);
    }
    return v;
  }

  /**
   * The dense joint block of a layer, D x D with D the layer's entries, parameters in the
   * operator's order, each in column-major vec order; block (p, q) is the products with q's unit
   * directions read at p.
   */
  static Batch dense(Network net, List<String> names, java.util.function.Function<Map<String, Batch>, Map<String, Batch>> product) {
    Backend be = net.be;
    int[] sizes = new int[names.size()];
    int[] offsets = new int[names.size()];
    int d = 0;
    for (int i = 0; i < sizes.length; i++) {
      offsets[i] = d;
      sizes[i] = net.parameterSize(names.get(i));
      d += sizes[i];
    }
    double[] m = new double[d * d];
    for (int j = 0; j < names.size(); j++) {
      int[] s = net.parameterShape(names.get(j));
      Batch eye = be.eye(sizes[j]);
      Batch cols = be.columnsAsDirections(eye);
      Batch units = be.reshape(cols, s[0], s[1]);
      Map<String, Batch> out = product.apply(Map.of(names.get(j), units));
      List<Batch> done = new ArrayList<>(out.values());
      done.addAll(List.of(eye, cols, units));
      for (int i = 0; i < names.size(); i++) {
        Batch block = be.directionsAsColumns(be.reshape(out.get(names.get(i)), sizes[i], 1), sizes[j]);
        double[] b = be.toArray(block); // column-major sizes[i] x sizes[j]
        for (int c = 0; c < sizes[j]; c++)
          System.arraycopy(b, sizes[i] * c, m, offsets[i] + d * (offsets[j] + c), sizes[i]);
        done.add(block);
      }
      net.releaseTemporaries(done);
    }
    return be.fromArray(1, 1, d, d, m);
  }
}
