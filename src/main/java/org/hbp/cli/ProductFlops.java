package org.hbp.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.hbp.calculus.Expr;
import org.hbp.network.GgnRoute;
import org.hbp.network.NetworkSpec;

/**
 * The floating-point operations of the matrix products inside curvature products with D
 * directions on a sequential net of linear and conv2d layers (the GEMMs only: element-wise maps,
 * pooling and the loss are left out). A linear layer k with {@code W_k: m_k x n_k} touches its
 * parameters in four products over the N·D columns, each {@code 2 a_k N D} operations with {@code
 * a_k = m_k n_k}: {@code J_W v = dW x} forward, {@code W dx} forward, {@code W' g} back, {@code g
 * x'} for the parameter. A convolution's four are the same products with the unfolded input, each
 * {@code 2 a_k N D} with {@code a_k = cout·cin·k·k·oh·ow} (a gemm {@code cout x cin·k·k} times
 * {@code cin·k·k x oh·ow} per sample and direction; a direct kernel does the same multiply-adds).
 */
final class ProductFlops {
  private ProductFlops() {}

  /**
   * The sizes {@code a_k} of the linear ({@code m·n}) and conv2d ({@code cout·cin·k·k·oh·ow}) layers,
   * or null when the net is not a sequence of those and parameter-free layers.
   */
  static List<Long> productSizes(NetworkSpec ns) {
    if (ns.isGraph()) return null;
    List<Long> sizes = new ArrayList<>();
    for (NetworkSpec.Node node : ns.body()) {
      if (!(node instanceof NetworkSpec.Layer l)) return null;
      Map<String, Integer> d = l.dims();
      switch (l.module().name()) {
        case "linear" -> sizes.add((long) d.get("m") * d.get("n"));
        // the output [cout, oh, ow] holds cout·oh·ow entries, each a sum of cin·k·k products
        case "conv2d" -> sizes.add((long) d.get("cin") * d.get("k") * d.get("k") * l.outputShape().stream().mapToLong(Integer::longValue).reduce(1, (a, b) -> a * b));
        default -> {
          if (!l.module().withRole(Expr.Role.PARAM).isEmpty()) return null;
        }
      }
    }
    return sizes;
  }

  /**
   * The output sizes {@code |z_k|} of the layers of {@link #productSizes} (linear: m; conv2d:
   * cout·oh·ow), in the same order, or null where that is.
   */
  static List<Long> outputSizes(NetworkSpec ns) {
    if (productSizes(ns) == null) return null;
    List<Long> sizes = new ArrayList<>();
    for (NetworkSpec.Node node : ns.body()) {
      NetworkSpec.Layer l = (NetworkSpec.Layer) node;
      if (l.module().name().equals("linear") || l.module().name().equals("conv2d"))
        sizes.add(l.outputShape().stream().mapToLong(Integer::longValue).reduce(1, (a, b) -> a * b));
    }
    return sizes;
  }

  /**
   * The weights' sizes {@code P_k} of the layers of {@link #productSizes} (linear: m·n; conv2d:
   * cout·cin·k·k), in the same order, or null where that is.
   */
  static List<Long> weightSizes(NetworkSpec ns) {
    if (productSizes(ns) == null) return null;
    List<Long> sizes = new ArrayList<>();
    for (NetworkSpec.Node node : ns.body()) {
      Map<String, Integer> d = ((NetworkSpec.Layer) node).dims();
      switch (((NetworkSpec.Layer) node).module().name()) {
        case "linear" -> sizes.add((long) d.get("m") * d.get("n"));
        case "conv2d" -> sizes.add((long) d.get("cout") * d.get("cin") * d.get("k") * d.get("k"));
        default -> {}
      }
    }
    return sizes;
  }

  /**
   * Exact products with all blocks by the factored GGN route ({@code --ggn-routes factored}), per
   * sample and direction. A parameter that keeps its own columns M ({@link
   * GgnRoute#keepsParameterColumns}: every bias, and a weight with {@code P_k <= r |z_k|}) costs
   * {@code t = M' v} and {@code M t}, {@code 4 r P}; another weight its own {@code J_W v} and
   * {@code J_W' w} ({@code 4 a_k}) and the two products with the r columns at its layer's output
   * ({@code 4 r |z_k|}). The set-up, once per batch, is {@link #factoredSetUpPerSample}.
   */
  static double factoredBlocksPerColumn(List<Long> sizes, List<Long> weights, List<Long> outputs, int r) {
    double total = 0;
    for (int k = 0; k < sizes.size(); k++) {
      long bias = outputs.get(k) / (sizes.get(k) / weights.get(k)); // its output channels: a linear layer's m, a convolution's |z| over its pixels a/P
      total += 4.0 * r * bias;
      total += GgnRoute.keepsParameterColumns(weights.get(k), outputs.get(k), r) ? 4.0 * r * weights.get(k) : 4.0 * sizes.get(k) + 4.0 * r * outputs.get(k);
    }
    return total;
  }

  /**
   * The factored route's set-up per sample: the r columns carried back from the loss to the first
   * layer's output, {@code J_x' S} through every layer above it ({@code 2 r a_k}, k = 2..L), and
   * {@code M = J_W' S} of each weight that keeps its own columns ({@code 2 r a_k}).
   */
  static double factoredSetUpPerSample(List<Long> sizes, List<Long> weights, List<Long> outputs, int r) {
    double total = 0;
    for (int k = 0; k < sizes.size(); k++) {
      if (k > 0) total += 2.0 * r * sizes.get(k);
      if (GgnRoute.keepsParameterColumns(weights.get(k), outputs.get(k), r)) total += 2.0 * r * sizes.get(k);
    }
    return total;
  }

  /**
   * Exact products with all blocks (the exact strategy), per sample and direction: the block of
   * W_l costs {@code 4 m_l n_l} (J_W v in, J_W' u out) plus the trip through the layers above and
   * back, {@code 4 T_l} with {@code T_l = sum_{k>l} m_k n_k}; the bias's block the trip alone. In
   * all {@code 4 sum_l (m_l n_l + 2 T_l) = 4 sum_k (2k - 1) m_k n_k} (k = 1..L).
   */
  static double exactBlocksPerColumn(List<Long> sizes) {
    double total = 0;
    for (int k = 0; k < sizes.size(); k++) total += 4.0 * (2 * k + 1) * sizes.get(k);
    return total;
  }

  /**
   * Exact products with every layer's joint block ({@code --blocks layer}), per sample and
   * direction: {@code J_W v} in and {@code J_W' u} out ({@code 4 m_l n_l}; the bias's Jacobians
   * cost no products) and one trip through the layers above and back ({@code 4 T_l}) per layer. In
   * all {@code 4 sum_l (m_l n_l + T_l) = 4 sum_k k m_k n_k} (k = 1..L).
   */
  static double exactLayerBlocksPerColumn(List<Long> sizes) {
    double total = 0;
    for (int k = 0; k < sizes.size(); k++) total += 4.0 * (k + 1) * sizes.get(k);
    return total;
  }

  /**
   * The whole-network GGN product {@code J' H J v}, per sample and direction: forward
   * {@code dz_k = W_k dx_k + dW_k x_k} (the first layer has no dx), back {@code g_x = W_k' g_z}
   * (not below the first layer) and {@code g_W = g_z x_k'}: {@code 4 m_1 n_1 + 8 sum_{k>1} m_k n_k}.
   */
  static double networkGgnPerColumn(List<Long> sizes) {
    double total = 0;
    for (int k = 0; k < sizes.size(); k++) total += (k == 0 ? 4.0 : 8.0) * sizes.get(k);
    return total;
  }
}
