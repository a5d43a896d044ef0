package org.hbp.network;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.hbp.UserError;
import org.hbp.backend.Backend;
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
 */
public final class HessianDiagonal {
  private HessianDiagonal() {}

  /** A set of columns {@code [N x C]} and the sign of its Gram matrix. */
  private record Columns(Batch batch, double sign) {}

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
    net.requireSequential("the Hessian diagonal");
    Walk walk = new Walk(pass, memoryLimitBytes);
    walk.nodes(net.body, new ArrayList<>(List.of(new Columns(pass.lossFactor(), 1))), true);
    Backend be = net.be;
    Map<String, Batch> out = new LinkedHashMap<>();
    for (String p : net.parameterNames()) {
      int[] s = net.parameterShape(p);
      double[] sum = walk.sums.get(p);
      double[] mean = new double[s[0] * s[1]];
      if (sum != null) for (int i = 0; i < mean.length; i++) mean[i] = sum[i] / pass.samples;
      out.put(p, be.fromArray(1, 1, s[0], s[1], mean));
    }
    return out;
  }

  /** The backward walk of the signed column sets (host sums: a diagonal is small). */
  private static final class Walk {
    private final Pass pass;
    private final Backend be;
    final Map<String, double[]> sums = new LinkedHashMap<>();

    private final long limit;

    Walk(Pass pass, long limit) {
      this.pass = pass;
      this.be = pass.net.be;
      this.limit = limit;
    }

    /** Refuses a set of {@code samples * columns} items of {@code size} entries over the limit, naming where. */
    private void check(long samples, long columns, long size, String where) {
      long bytes = samples * columns * size * MemoryEstimate.precisionOf(be).bytes();
      if (bytes > limit)
        throw new UserError("the Hessian diagonal would form " + samples + " x " + columns + " columns of " + size + " entries ("
            + MemoryEstimate.bytes(bytes) + ") at " + where + ", over the memory limit " + MemoryEstimate.bytes(limit)
            + "; use a smaller batch, raise --memory-limit, or take the GGN diagonal (--diagonal exact)");
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
        Batch factor = l.op.hasKroneckerFactor(p) ? l.op.kroneckerFactor(c, p) : null;
        for (Columns s : sets) {
          double[] kron = kroneckerSquares(factor, s);
          if (kron != null) {
            add(name, kron);
            continue;
          }
          int[] ps = l.op.itemShape(p);
          check(s.batch.samples(), s.batch.directions(), (long) ps[0] * ps[1], "layer " + l.path + " (" + l.op.name() + "), parameter " + p);
          add(name, squares(l.op.jacTMatProd(c, p, l.asOutput(s.batch)), s.sign));
        }
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

    private Batch residualDiagonal(Network.LayerNode l, ForwardCache c, String var, Batch dz) {
      if (l.op.residualKind(var) == ResidualKind.GENERAL)
        throw new UserError("the Hessian diagonal needs diagonal residuals: layer " + l.path + " (" + l.op.name() + ") has a general residual "
            + "with respect to '" + var + "'; use the exact Hessian blocks (--dense) instead");
      return l.op.residualDiagonal(c, var, dz);
    }

    /** {@code diag(sqrt(max(r, 0)))} (+) and {@code diag(sqrt(max(-r, 0)))} (-) per sample, as numel columns each. */
    private List<Columns> residualFactors(Batch r, int[] shape) {
      int numel = shape[0] * shape[1], samples = r.samples();
      double[] d = be.toArray(r), plus = new double[samples * numel * numel], minus = new double[samples * numel * numel];
      for (int s = 0; s < samples; s++)
        for (int i = 0; i < numel; i++) {
          double v = d[s * numel + i];
          int at = (s * numel + i) * numel + i; // sample s, direction i, entry i
          plus[at] = Math.sqrt(Math.max(v, 0));
          minus[at] = Math.sqrt(Math.max(-v, 0));
        }
      return List.of(new Columns(be.fromArray(samples, numel, shape[0], shape[1], plus), 1),
          new Columns(be.fromArray(samples, numel, shape[0], shape[1], minus), -1));
    }

    /**
     * {@code sign · sum_{n,c} (c_{n,c} a_n')∘(c_{n,c} a_n') = sign · sum_n (sum_c c_{n,c}∘c_{n,c}) (a_n∘a_n)'}
     * for a parameter whose Jacobian is {@code kron(a_n', I)} with one column a_n per sample (T = 1:
     * a linear layer's weight, a ones(1,1) for its bias), {@code J' c = c a_n'}: the same sum as
     * {@link #squares} of the Jacobian-transpose products, exactly, without forming the m x p
     * product of every column (BackPACK's DiagHessian does the same for linear layers). Null where
     * it does not apply: no factor, several locations T (a convolution, whose squared sums over
     * locations do not separate), or a column set shared by the samples.
     */
    private double[] kroneckerSquares(Batch a, Columns s) {
      Batch cols = s.batch;
      if (a == null || a.cols() != 1 || cols.cols() != 1 || cols.samples() != pass.samples || cols.directions() == 0) return null;
      Batch cc = be.multiply(cols, cols); // [N x C] m x 1
      Batch side = be.directionsAsColumns(cc, cc.directions()); // [N x 1] m x C, a free view
      Batch ones = be.fill(cc.directions(), 1, 1.0);
      Batch summed = be.matmul(side, false, ones, false); // [N x 1] m x 1: sum_c c∘c
      Batch aa = be.multiply(a, a);
      Batch d = be.matmulSumSamples(summed, false, aa, true); // m x p
      double[] out = be.toArray(d);
      for (int i = 0; i < out.length; i++) out[i] *= s.sign;
      for (Batch b : List.of(cc, ones, summed, aa, d)) be.release(b);
      return out;
    }

    /** sign * sum over samples and columns of g∘g, per entry. */
    private double[] squares(Batch g, double sign) {
      int size = g.itemSize();
      double[] d = be.toArray(g), out = new double[size];
      for (int item = 0; item < g.items(); item++)
        for (int i = 0; i < size; i++) {
          double v = d[item * size + i];
          out[i] += sign * v * v;
        }
      return out;
    }

    /** The sum over samples of a per-sample diagonal (a diagonal shared by all samples counts N times). */
    private double[] diagonalSum(Batch r) {
      int size = r.itemSize();
      double[] d = be.toArray(r), out = new double[size];
      int times = r.samples() == 1 ? pass.samples : 1;
      for (int item = 0; item < r.items(); item++) for (int i = 0; i < size; i++) out[i] += times * d[item * size + i];
      return out;
    }

    private void add(String parameter, double[] values) {
      double[] sum = sums.computeIfAbsent(parameter, k -> new double[values.length]);
      for (int i = 0; i < values.length; i++) sum[i] += values[i];
    }
  }
}
