package org.hbp.network;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.hbp.UserError;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.runtime.Averaging;
import org.hbp.runtime.ForwardCache;
import org.hbp.runtime.ModuleOperator;
import org.hbp.runtime.ResidualKind;

/**
 * The batch strategies of the paper (Section 3): an explicit batch-averaged Hessian H̄ of every
 * layer's output, from the loss back, propagated by eq. 8 ({@link KfraStrategy}) or eq. 9
 * ({@link BdaStrategy}), whose residual term is the batch average {@code mean_n R_n} of the exact
 * residuals, modified after averaging ({@link ResidualPolicy#averagedDense}), for layer inputs,
 * parameters and residual blocks. Parameter blocks whose Jacobian is {@code kron(a', I)} with a
 * column a (linear and bias) are applied in Kronecker-factored form {@code G ⊗ H̄}; others by
 * per-sample products with H̄. The subclasses give the four places where eq. 8 and eq. 9 differ:
 * the averaging of the operators' propagation, and three products.
 */
abstract class ExplicitStrategy implements CurvatureStrategy {
  /** How a module's operator averages J' M J over the batch. */
  private final Averaging averaging;

  ExplicitStrategy(Averaging averaging) {
    this.averaging = averaging;
  }

  /** A residual block's {@code J' H J} averaged over the batch, from its per-sample Jacobians (d x d). */
  abstract Batch averagedProduct(Backend be, Batch jacobians, Batch h, int samples);

  /**
   * The left factor G of {@code G ⊗ H̄} for a parameter whose Jacobian is {@code kron(a', I)}, for
   * a layer with {@code outputs} outputs (the order of H̄, which decides the cheaper form of G).
   */
  abstract KroneckerLeft kroneckerLeft(Backend be, Batch a, int samples, int outputs);

  /** The per-sample {@code J_n v} of a parameter's directions, as the block multiplies them by H̄. */
  abstract Batch parameterDirections(Backend be, Batch jv, int samples);

  /**
   * Refuses, naming the layer, where the explicit matrices of a layer for a batch of
   * {@code samples} would exceed {@code limit} bytes (counted in float64): its output and input
   * Hessians (d x d, in x in) and, where its Jacobian differs per sample and is not diagonal, the
   * per-sample products of eq. 8/9, {@code J_n' M'} (in x d, with its transpose) and
   * {@code J_n' (M J_n)} (in x in) for every sample. For a module of several inputs (in a graph) in
   * counts them all (their joint Hessian, in x in, in blocks), and its dense per-sample Jacobians
   * and their products are formed for every input (GraphFrontier), so they are always counted.
   */
  @Override
  public void checkMemory(Network net, int samples, long limit) {
    // top-level nodes before the first with parameters need no curvature; the first needs its output's only
    int first = firstWithParameters(net.body);
    Set<Network.LayerNode> skipped = Collections.newSetFromMap(new IdentityHashMap<>());
    for (int i = 0; i < first; i++) if (net.body.get(i) instanceof Network.LayerNode l) skipped.add(l);
    Network.LayerNode outputOnly = first < net.body.size() && net.body.get(first) instanceof Network.LayerNode l ? l : null;
    for (Network.LayerNode l : net.layers()) {
      if (skipped.contains(l)) continue;
      boolean several = l.inputs.size() > 1;
      long d = numel(l.outputItem()), in = l == outputOnly ? 0 : inputEntries(l);
      boolean perSampleProducts = in > 0 && (several || !l.op.jacobianIsShared(l.input) && !l.op.jacobianIsDiagonal(l.input));
      long perSample = perSampleProducts ? (long) samples * (2 * in * d + in * in) : 0;
      long bytes = 8 * (d * d + in * in + perSample);
      if (bytes > limit)
        throw new UserError(String.format(
            "layer %s (%s): the explicit batch-averaged Hessian%s %d x %d%s entries%s (%.1f GiB in float64), above the limit of %.1f GiB; "
                + "use --strategy exact (matrix-free products) or raise --memory-limit",
            l.path, l.op.name(),
            in == 0 ? " of its output has" : several ? "s of its output and its inputs (jointly) have" : "s of its output and input have", d, d,
            in == 0 ? "" : " and " + in + " x " + in,
            perSampleProducts ? String.format(", and its per-sample products for %d samples %d x %d (twice) and %d x %d", samples, in, d, in, in) : "",
            bytes / (double) (1L << 30), limit / (double) (1L << 30)));
    }
  }

  /** The entries of every input of a layer (one input, or all of a module of several). */
  private static long inputEntries(Network.LayerNode l) {
    long n = 0;
    for (String v : l.inputs) n += numel(l.op.itemShape(v));
    return n;
  }

  private static int firstWithParameters(List<Network.Node> nodes) {
    int first = 0;
    while (first < nodes.size() && !Network.hasParameters(nodes.get(first))) first++;
    return first;
  }

  @Override
  public Blocks prepare(Pass pass, ResidualPolicy policy, long memoryLimitBytes) {
    return new ExplicitBlocks(pass, policy, memoryLimitBytes);
  }

  private static int numel(int[] s) {
    return s[0] * s[1];
  }

  private final class ExplicitBlocks extends ParameterBlocks {
    private final Map<Network.LayerNode, Batch> outputHessians = new IdentityHashMap<>();
    /** The left Kronecker factor G of each parameter block applied in factored form, by "layer.parameter". */
    private final Map<String, KroneckerLeft> kroneckerLeft = new HashMap<>();
    /** The parameters by "layer.parameter" whose block is not applied in Kronecker-factored form. */
    private final Set<String> notFactored = new HashSet<>();
    /** The modified batch-averaged residual of each parameter by "layer.parameter", for PCH. */
    private final Map<String, Batch> averagedResiduals = new HashMap<>();
    /** H̄ ∘ B of {@link #blockDiagonalMatProd} by "layer/blocks". */
    private final Map<String, Batch> maskedHessians = new HashMap<>();

    ExplicitBlocks(Pass pass, ResidualPolicy policy, long memoryLimit) {
      super(pass, policy);
      checkMemory(net, pass.samples, memoryLimit);
      int d = numel(net.loss.op.itemShape(net.loss.input));
      Batch h = be.reshape(be.meanSamples(net.loss.op.hessian(pass.lossCache, net.loss.input), pass.samples), d, d);
      if (net.isGraph()) {
        GraphFrontier.checkMemory(net, memoryLimit);
        new GraphFrontier(pass, policy, averaging).walk(h, outputHessians);
      } else back(net.body, h);
      // the Kronecker factors G belong to the pass: formed here (dense where that is cheaper), not in the first product
      for (Network.LayerNode l : outputHessians.keySet())
        for (String var : l.op.parameters()) leftFactor(l, var, pass.caches.get(l));
    }

    @Override
    public List<Batch> drain() {
      List<Batch> held = new ArrayList<>(outputHessians.values());
      for (KroneckerLeft g : kroneckerLeft.values()) held.addAll(g.owned());
      held.addAll(averagedResiduals.values());
      held.addAll(maskedHessians.values());
      outputHessians.clear();
      kroneckerLeft.clear();
      averagedResiduals.clear();
      maskedHessians.clear();
      return held;
    }


    /**
     * Walks back from the end, recording each layer's output Hessian; returns the Hessian at the
     * start. Below the first node with parameters nothing needs it, so the walk stops there (the
     * input Hessian of the first layer, e.g. 3072 x 3072 for a flattened image, is never formed).
     */
    private Batch back(List<Network.Node> nodes, Batch h) {
      int first = firstWithParameters(nodes);
      for (int i = nodes.size() - 1; i >= 0; i--) {
        Network.Node n = nodes.get(i);
        if (i < first) break;
        if (i == first && n instanceof Network.LayerNode l) {
          outputHessians.put(l, h);
          break;
        }
        if (n instanceof Network.LayerNode l) {
          outputHessians.put(l, h);
          h = layerBack(l, h);
        } else {
          Network.ResidualNode r = (Network.ResidualNode) n;
          back(r.body, h);
          h = blockBack(r, h);
        }
      }
      return h;
    }

    /** {@code H̄_x = avg J' H̄_z J + mod(mean_n R_n)} through one layer (eq. 8 / eq. 9). */
    private Batch layerBack(Network.LayerNode l, Batch h) {
      ForwardCache c = pass.caches.get(l);
      Batch prop = l.op.propagateAveraged(c, l.input, h, averaging);
      if (!policy.contributes(l.op, l.input)) return prop;
      // mod(mean_n R_n): averaged first, then modified (a diagonal one as its diagonal, never N dense matrices)
      Batch r = policy.averagedDense(l.op, c, l.input, pass.outputGradients.get(l));
      Batch sum = be.add(prop, r);
      net.releaseTemporaries(List.of(prop, r), sum, h); // h is the output Hessian kept for the layer
      return sum;
    }

    /**
     * A residual block as one module (paper Table 1, skip-connection): its per-sample Jacobian
     * I + J_f and residual R_f = sum_k H f_k(x) dz_k (the body's exact recursion with zero output
     * curvature and exact residuals) formed densely, then eq. 8/9 with the batch-averaged residual
     * mean_n R_f,n, modified after averaging for PCH by an eigendecomposition (R_f is general).
     */
    private Batch blockBack(Network.ResidualNode r, Batch h) {
      int[] item = r.outputItem();
      int d = numel(item);
      Batch eye = be.reshape(be.columnsAsDirections(be.eye(d)), item[0], item[1]);
      Batch jb = columns(r.jac(pass, eye), d); // I + J_f per sample: the block's jac includes the identity
      Batch prop = averagedProduct(be, jb, h, pass.samples);
      ResidualModification mod = policy.modification();
      if (mod == ResidualModification.ZERO) return prop;
      HessianProducts exact = new HessianProducts(pass, ResidualPolicy.of(ResidualModification.NONE));
      Batch rb = columns(exact.sequence(r.body, 0, eye, y -> be.scale(y, 0)), d);
      Batch mean = be.meanSamples(rb, pass.samples);
      Batch modified = mod == ResidualModification.NONE ? mean : be.symmetricEigenMap(mean, mod::apply);
      Batch sum = be.add(prop, modified);
      net.releaseTemporaries(Arrays.asList(rb, mean, modified, prop), sum, h);
      return sum;
    }

    /** Directions d x 1 (one per column) back into a d x d matrix per sample. */
    private Batch columns(Batch directions, int d) {
      return be.directionsAsColumns(be.reshape(directions, d, 1), d);
    }

    /** {@code (1/N) sum_n J_n' H̄ J_n v} (eq. 8) or with the averaged {@code J_n v} (eq. 9); Kronecker-factored where it can be. */
    @Override
    Batch propagatedTerm(Network.LayerNode l, String var, ForwardCache c, Batch v, List<Batch> temporaries) {
      Batch h = outputHessians.get(l);
      Batch factored = kroneckerFactored(l, var, c, h, v);
      if (factored != null) return factored;
      Batch u = l.op.jacMatProd(c, var, v);
      temporaries.add(u);
      Batch averaged = parameterDirections(be, u, pass.samples);
      if (averaged != u) temporaries.add(averaged);
      Batch w = be.matmul(h, false, be.reshape(averaged, numel(l.outputItem()), 1), false);
      return meanJacTProduct(l, var, c, w, temporaries);
    }

    @Override
    Batch residualTerm(Network.LayerNode l, String var, ForwardCache c, Batch v, List<Batch> temporaries) {
      return residualMean(l, var, c, pass.outputGradients.get(l), v, temporaries);
    }

    /**
     * The residual term of a parameter's block: {@code mod(mean_n R_n) v}, the batch-averaged
     * residual modified after averaging (its diagonal, or the dense matrix for a general residual),
     * computed once per parameter; for the exact Hessian the mean of the per-sample products (the
     * same matrix, without forming it).
     */
    private Batch residualMean(Network.LayerNode l, String var, ForwardCache c, Batch dz, Batch v, List<Batch> temporaries) {
      if (policy.modification() == ResidualModification.NONE) {
        Batch r = policy.product(l.op, c, var, dz, v);
        temporaries.add(r);
        return be.meanSamples(r, pass.samples);
      }
      boolean diagonal = l.op.residualKind(var) == ResidualKind.DIAGONAL;
      Batch r = averagedResiduals.computeIfAbsent(l.path + "." + var,
          k -> diagonal ? policy.averagedDiagonal(l.op, c, var, dz) : policy.averagedDense(l.op, c, var, dz));
      if (diagonal) return be.multiply(r, v);
      int[] s = l.op.itemShape(var);
      Batch column = be.matmul(r, false, be.reshape(v, s[0] * s[1], 1), false);
      return be.reshape(column, s[0], s[1]);
    }

    /** (G ⊗ H̄) vec(V) = vec(H̄ V G) where the Jacobian is kron(a', I) with a column a; else null. */
    private Batch kroneckerFactored(Network.LayerNode l, String var, ForwardCache c, Batch h, Batch v) {
      KroneckerLeft g = leftFactor(l, var, c);
      if (g == null) return null;
      int p = g.rows(), m = v.itemSize() / p;
      int[] s = l.op.itemShape(var);
      Batch x = be.reshape(v, m, p);
      return be.reshape(g.sandwich(be, h, x), s[0], s[1]);
    }

    /** The left factor G of a parameter whose Jacobian is kron(a', I) with a column a (computed once); else null. */
    private KroneckerLeft leftFactor(Network.LayerNode l, String var, ForwardCache c) {
      String key = l.path + "." + var;
      KroneckerLeft g = kroneckerLeft.get(key);
      if (g != null || notFactored.contains(key)) return g;
      Batch a = l.op.hasKroneckerFactor(var) ? l.op.kroneckerFactor(c, var) : null;
      if (a == null || a.cols() != 1) {
        notFactored.add(key); // a factor with several columns (a convolution's patches) is applied per sample
        return null;
      }
      g = ExplicitStrategy.this.kroneckerLeft(be, a, pass.samples, numel(l.outputItem()));
      kroneckerLeft.put(key, g);
      return g;
    }

    /**
     * The sub-blocked product in one Kronecker product, where the block is {@code G ⊗ H̄} with H̄
     * on the parameter's rows (linear weights and biases, no residual): the block-diagonal part
     * over row groups is {@code G ⊗ (H̄ ∘ B)}, B the 0/1 block-diagonal mask of the groups, so one
     * product serves all sub-blocks instead of one masked product per group. Null where this does
     * not apply.
     */
    @Override
    public Batch blockDiagonalMatProd(Network.LayerNode l, String var, Batch v, int blocks) {
      ModuleOperator op = l.op;
      int[] s = op.itemShape(var);
      Batch h = outputHessians.get(l);
      if (!op.hasKroneckerFactor(var) || op.residualKind(var) != ResidualKind.ZERO || h == null || h.rows() != s[0]) return null;
      Batch masked = maskedHessians.computeIfAbsent(l.path + "/" + blocks, k -> blockMasked(h, s[0], blocks));
      return kroneckerFactored(l, var, pass.caches.get(l), masked, v);
    }

    /** H̄ ∘ B for the 0/1 mask B of {@code blocks} diagonal blocks of an m x m matrix. */
    private Batch blockMasked(Batch h, int m, int blocks) {
      int[] starts = Curvature.groupStarts(m, blocks);
      double[] b = new double[m * m];
      for (int k = 0; k < blocks; k++)
        for (int j = starts[k]; j < starts[k + 1]; j++) for (int i = starts[k]; i < starts[k + 1]; i++) b[i + m * j] = 1;
      Batch mask = be.fromArray(1, 1, m, m, b);
      Batch masked = be.multiply(h, mask);
      be.release(mask);
      return masked;
    }
  }
}
