package org.hbp.network;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.runtime.ResidualKind;
import org.hbp.runtime.Averaging;
import org.hbp.runtime.ForwardCache;
import org.hbp.runtime.ModuleOperator;
import org.hbp.runtime.ResidualModification;

/**
 * Block-diagonal curvature of the mean loss of one batch (paper eq. 7): one block per parameter,
 * for the Hessian, the GGN or the PCH, computed
 * <ul>
 *   <li>{@link Strategy#EXACT}: by matrix-free products, per sample: directions are pushed through
 *       the parameter's Jacobian, through the rest of the network to the loss Hessian and back,
 *       with each module's residual term (modified for PCH, per sample) added on the way;</li>
 *   <li>{@link Strategy#KFRA} / {@link Strategy#BDA}: with an explicit batch-averaged Hessian of
 *       every layer's output, propagated back by eq. 8 / eq. 9, whose residual term is the batch
 *       average {@code mean_n R_n} of the exact residuals, modified for PCH after averaging (|.| or
 *       max(., 0) of its diagonal, or of the eigenvalues of a general one), as the paper and the
 *       authors' code do, for layer inputs, parameters and residual blocks; parameter blocks whose Jacobian is
 *       {@code kron(a', I)} with a column a (linear and bias) are applied in Kronecker-factored
 *       form {@code G ⊗ H̄} (G = mean a a' for eq. 8, mean(a) mean(a)' for eq. 9), others by
 *       per-sample products with H̄.</li>
 * </ul>
 * Directions and results have the parameter's item shape and one sample (they are the same for
 * all samples). Sub-blocks ({@code blocks > 1}) split a parameter by rows (a linear layer's output
 * units, a convolution's output channels) and keep the block-diagonal part.
 */
public final class Curvature {
  /** The default limit on explicit curvature matrices: 2 GiB. */
  public static final long DEFAULT_MEMORY_LIMIT = 2L << 30;

  private final Pass pass;
  private final Network net;
  private final Backend be;
  private final CurvatureKind kind;
  private final Strategy strategy;
  private final ResidualModification mod;
  private final Map<Network.LayerNode, UnaryOperator<Batch>> continuations = new IdentityHashMap<>();
  private final Map<Network.LayerNode, Batch> outputHessians = new IdentityHashMap<>();
  /** The left Kronecker factor G of each parameter block applied in factored form, computed once. */
  private final Map<String, Batch> kroneckerLeft = new java.util.HashMap<>();

  Curvature(Pass pass, CurvatureKind kind, Strategy strategy, long memoryLimit) {
    this.pass = pass;
    this.net = pass.net;
    this.be = net.be;
    this.kind = kind;
    this.strategy = strategy;
    this.mod = kind.residual();
    if (strategy == Strategy.EXACT) {
      assignContinuations(net.body, u -> net.loss.hessianProd(pass, u));
    } else {
      checkMemory(memoryLimit);
      int d = numel(net.loss.op.itemShape(net.loss.input));
      Batch h = be.reshape(be.meanSamples(net.loss.op.hessian(pass.lossCache, net.loss.input), pass.samples), d, d);
      explicitBack(net.body, h);
    }
  }

  /**
   * Releases what this curvature holds (the explicit batch-averaged Hessians of kfra/bda, their
   * Kronecker factors, sub-block masks), for backends that reuse memory; products computed
   * earlier stay valid, further products are not allowed.
   */
  public void release() {
    List<Batch> held = new ArrayList<>(outputHessians.values());
    held.addAll(kroneckerLeft.values());
    held.addAll(averagedResiduals.values());
    held.addAll(maskedHessians.values());
    for (List<Batch> m : masks.values()) held.addAll(m);
    maskedHessians.clear();
    outputHessians.clear();
    kroneckerLeft.clear();
    averagedResiduals.clear();
    masks.clear();
    net.releaseTemporaries(held);
  }

  public CurvatureKind kind() {
    return kind;
  }

  public Strategy strategy() {
    return strategy;
  }

  private static int numel(int[] s) {
    return s[0] * s[1];
  }

  // ---- exact: continuations ------------------------------------------------------------------

  /** For every layer, the product with the curvature of its output (the rest of the network). */
  private void assignContinuations(List<Network.Node> nodes, UnaryOperator<Batch> after) {
    for (int i = 0; i < nodes.size(); i++) {
      int next = i + 1;
      UnaryOperator<Batch> cont = next == nodes.size() ? after : u -> net.sequenceHessianInputProd(pass, nodes, next, u, after, mod);
      Network.Node n = nodes.get(i);
      if (n instanceof Network.LayerNode l) continuations.put(l, cont);
      else assignContinuations(((Network.ResidualNode) n).body, cont);
    }
  }

  // ---- kfra / bda: explicit batch-averaged output Hessians ----------------------------------

  /** Estimates the explicit matrices' memory and refuses above the limit, naming the layer. */
  private void checkMemory(long limit) {
    // top-level nodes before the first with parameters need no curvature; the first needs its output's only
    int first = 0;
    while (first < net.body.size() && !hasParameters(net.body.get(first))) first++;
    java.util.Set<Network.LayerNode> skipped = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
    for (int i = 0; i < first; i++) if (net.body.get(i) instanceof Network.LayerNode l) skipped.add(l);
    Network.LayerNode outputOnly = first < net.body.size() && net.body.get(first) instanceof Network.LayerNode l ? l : null;
    for (Network.LayerNode l : net.layers()) {
      if (skipped.contains(l)) continue;
      long d = numel(l.outputItem()), in = l == outputOnly ? 0 : numel(l.op.itemShape(l.input));
      // a Jacobian that differs per sample and is not diagonal: eq. 8/9 form J_n' M per sample
      long perSample = in == 0 || l.op.jacobianIsShared(l.input) || l.op.jacobianIsDiagonal(l.input) ? 0 : (long) pass.samples * d * in;
      long bytes = 8 * (d * d + in * in + perSample);
      if (bytes > limit)
        throw new IllegalArgumentException(String.format(
            "layer %s (%s): the explicit batch-averaged Hessian%s %d x %d%s entries%s (%.1f GiB in float64), above the limit of %.1f GiB; "
                + "use --strategy exact (matrix-free products) or raise --memory-limit",
            l.path, l.op.name(), in == 0 ? " of its output has" : "s of its output and input have", d, d,
            in == 0 ? "" : " and " + in + " x " + in, perSample == 0 ? "" : String.format(", and its per-sample products %d x %d x %d", pass.samples, in, d),
            bytes / (double) (1L << 30), limit / (double) (1L << 30)));
    }
  }

  private static boolean hasParameters(Network.Node n) {
    return Network.hasParameters(n);
  }

  /**
   * Walks back from the end, recording each layer's output Hessian; returns the Hessian at the
   * start. Below the first node with parameters nothing needs it, so the walk stops there (the
   * input Hessian of the first layer, e.g. 3072 x 3072 for a flattened image, is never formed).
   */
  private Batch explicitBack(List<Network.Node> nodes, Batch h) {
    int first = 0;
    while (first < nodes.size() && !hasParameters(nodes.get(first))) first++;
    for (int i = nodes.size() - 1; i >= 0; i--) {
      Network.Node n = nodes.get(i);
      if (i < first) break;
      if (i == first && n instanceof Network.LayerNode l) {
        outputHessians.put(l, h);
        break;
      }
      if (n instanceof Network.LayerNode l) {
        outputHessians.put(l, h);
        ForwardCache c = pass.caches.get(l);
        Batch prop = l.op.propagateAveraged(c, l.input, h, averaging());
        ResidualKind kind = l.op.residualKind(l.input);
        if (kind != ResidualKind.ZERO && mod != ResidualModification.ZERO) {
          // mod(mean_n R_n): averaged first, then modified (a diagonal one as its diagonal, never N dense matrices)
          Batch r = l.op.averagedResidual(c, l.input, pass.outputGradients.get(l), mod);
          Batch before = prop;
          prop = be.add(prop, r);
          net.releaseTemporaries(List.of(before, r), prop, h); // h is the output Hessian kept for the layer
        }
        h = prop;
      } else {
        Network.ResidualNode r = (Network.ResidualNode) n;
        explicitBack(r.body, h);
        h = blockBack(r, h);
      }
    }
    return h;
  }

  private Averaging averaging() {
    return strategy == Strategy.KFRA ? Averaging.MEAN_OF_PRODUCTS : Averaging.PRODUCT_OF_MEANS;
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
    Batch prop;
    if (strategy == Strategy.KFRA) {
      prop = be.meanSamples(be.matmul(jb, true, be.matmul(h, false, jb, false), false), pass.samples);
    } else {
      Batch mean = be.meanSamples(jb, pass.samples);
      prop = be.matmul(mean, true, be.matmul(h, false, mean, false), false);
    }
    if (mod == ResidualModification.ZERO) return prop;
    Batch rb = columns(net.sequenceHessianInputProd(pass, r.body, 0, eye, y -> be.scale(y, 0), ResidualModification.NONE), d);
    Batch mean = be.meanSamples(rb, pass.samples);
    Batch modified = mod == ResidualModification.NONE ? mean : be.symmetricEigenMap(mean, mod::apply);
    Batch sum = be.add(prop, modified);
    net.releaseTemporaries(java.util.Arrays.asList(rb, mean, modified, prop), sum, h);
    return sum;
  }

  /** Directions d x 1 (one per column) back into a d x d matrix per sample. */
  private Batch columns(Batch directions, int d) {
    return be.directionsAsColumns(be.reshape(directions, d, 1), d);
  }

  // ---- products ----------------------------------------------------------------------------

  /**
   * The block of a parameter applied to directions: V directions in the parameter's shape (one
   * sample), result likewise.
   */
  public Batch matProd(String parameter, Batch v) {
    Network.LayerNode l = net.owner(parameter);
    String var = net.parameterVariables.get(parameter);
    ModuleOperator op = l.op;
    int[] s = op.itemShape(var);
    if (v.itemSize() != numel(s))
      throw new IllegalArgumentException("directions for '" + parameter + "' are " + v.describe() + ", expected items of its shape " + s[0] + "x" + s[1]);
    if (v.samples() != 1) throw new IllegalArgumentException("directions for '" + parameter + "' must be shared by all samples (1 sample), not " + v.samples());
    v = v.rows() == s[0] && v.cols() == s[1] ? v : be.reshape(v, s[0], s[1]);
    ForwardCache c = pass.caches.get(l);
    Batch dz = pass.outputGradients.get(l);
    int n = pass.samples;
    Batch curvature;
    List<Batch> temporaries = new ArrayList<>();
    if (strategy == Strategy.EXACT) {
      Batch u = op.jacMatProd(c, var, v);
      Batch w = continuations.get(l).apply(u);
      Batch sum = op.jacTMatProdSum(c, var, l.asOutput(w));
      curvature = be.scale(sum, 1.0 / n);
      temporaries.addAll(List.of(u, w, sum));
    } else {
      Batch h = outputHessians.get(l);
      Batch kron = kroneckerFactored(l, var, c, h, v);
      if (kron != null) curvature = kron;
      else {
        int dOut = numel(l.outputItem());
        Batch u = op.jacMatProd(c, var, v);
        temporaries.add(u);
        if (strategy == Strategy.BDA) {
          u = be.meanSamples(u, n);
          temporaries.add(u);
        }
        Batch w = be.matmul(h, false, be.reshape(u, dOut, 1), false);
        Batch sum = op.jacTMatProdSum(c, var, l.asOutput(w));
        curvature = be.scale(sum, 1.0 / n);
        temporaries.addAll(List.of(w, sum));
      }
    }
    if (op.residualKind(var) != ResidualKind.ZERO && mod != ResidualModification.ZERO) {
      Batch mean;
      if (strategy == Strategy.EXACT || mod == ResidualModification.NONE) {
        // per sample (exact) or exact residuals, whose mean is the same either way
        Batch r = op.residualMatProd(c, var, dz, v, mod);
        mean = be.meanSamples(r, n);
        temporaries.add(r);
      } else mean = averagedResidualProd(l, var, c, dz, v);
      Batch before = curvature;
      curvature = be.add(before, mean);
      temporaries.addAll(List.of(mean, before));
    }
    net.releaseTemporaries(temporaries, v, curvature);
    return curvature;
  }

  /**
   * mod(mean_n R_n) v for a parameter under kfra/bda with PCH: the batch-averaged residual,
   * modified after averaging (its diagonal, or the dense matrix for a general residual), computed
   * once per parameter.
   */
  private Batch averagedResidualProd(Network.LayerNode l, String var, ForwardCache c, Batch dz, Batch v) {
    boolean diagonal = l.op.residualKind(var) == ResidualKind.DIAGONAL;
    Batch r = averagedResiduals.computeIfAbsent(l.path + "." + var,
        k -> diagonal ? l.op.averagedResidualDiagonal(c, var, dz, mod) : l.op.averagedResidual(c, var, dz, mod));
    if (diagonal) return be.multiply(r, v);
    int[] s = l.op.itemShape(var);
    Batch column = be.matmul(r, false, be.reshape(v, s[0] * s[1], 1), false);
    return be.reshape(column, s[0], s[1]);
  }

  /** The modified batch-averaged residual of each parameter by "layer.parameter", for PCH under kfra/bda. */
  private final Map<String, Batch> averagedResiduals = new java.util.HashMap<>();

  /** (G ⊗ H̄) vec(V) = vec(H̄ V G) where the Jacobian is kron(a', I) with a column a; else null. */
  private Batch kroneckerFactored(Network.LayerNode l, String var, ForwardCache c, Batch h, Batch v) {
    if (!l.op.hasKroneckerFactor(var)) return null;
    Batch a = l.op.kroneckerFactor(c, var);
    if (a.cols() != 1) return null;
    Batch g = kroneckerLeft.get(l.path + "." + var);
    if (g == null) {
      if (strategy == Strategy.KFRA) {
        // mean_n a_n a_n': one product of the side-by-side a_n (a shared a counts for every sample)
        g = a.samples() == 1 ? be.matmul(a, false, a, true) : be.scale(be.matmulSumSamples(a, false, a, true), 1.0 / pass.samples);
      } else {
        Batch mean = be.meanSamples(a, pass.samples);
        g = be.matmul(mean, false, mean, true);
      }
      kroneckerLeft.put(l.path + "." + var, g);
    }
    int p = a.rows(), m = v.itemSize() / p;
    int[] s = l.op.itemShape(var);
    Batch x = be.reshape(v, m, p);
    Batch hx = be.matmul(h, false, x, false);
    Batch out = be.reshape(be.matmul(hx, false, g, false), s[0], s[1]);
    be.release(hx);
    return out;
  }

  /**
   * The block-diagonal part of a parameter's block for {@code blocks} row groups (contiguous,
   * sizes differing by at most one), applied to directions.
   */
  public Batch matProd(String parameter, Batch v, int blocks) {
    if (blocks == 1) return matProd(parameter, v);
    int[] s = net.parameterShape(parameter);
    if (blocks < 1 || blocks > s[0])
      throw new IllegalArgumentException("--blocks " + blocks + " for '" + parameter + "': it has " + s[0] + " rows; use 1.." + s[0]);
    Batch kron = blockDiagonalKronecker(parameter, v, blocks);
    if (kron != null) return kron;
    Batch sum = null;
    for (Batch mask : masks.computeIfAbsent(parameter + "/" + blocks, k -> rowMasks(s, blocks))) {
      Batch masked = be.multiply(mask, v.rows() == s[0] ? v : be.reshape(v, s[0], s[1]));
      Batch product = matProd(parameter, masked);
      Batch r = be.multiply(mask, product);
      Batch before = sum;
      sum = sum == null ? r : be.add(sum, r);
      net.releaseTemporaries(java.util.Arrays.asList(masked, product, before == null ? null : r, before), v, sum);
    }
    return sum;
  }

  /**
   * The sub-blocked product in one Kronecker product, where the block is {@code G ⊗ H̄} with H̄
   * on the parameter's rows (linear weights and biases under kfra/bda, no residual): the
   * block-diagonal part over row groups is {@code G ⊗ (H̄ ∘ B)}, B the 0/1 block-diagonal mask of
   * the groups, so one product serves all sub-blocks instead of one masked product per group.
   * Null where this does not apply.
   */
  private Batch blockDiagonalKronecker(String parameter, Batch v, int blocks) {
    if (strategy == Strategy.EXACT) return null;
    Network.LayerNode l = net.owner(parameter);
    String var = net.parameterVariables.get(parameter);
    ModuleOperator op = l.op;
    int[] s = op.itemShape(var);
    Batch h = outputHessians.get(l);
    if (!op.hasKroneckerFactor(var) || op.residualKind(var) != ResidualKind.ZERO || h == null || h.rows() != s[0]) return null;
    String key = l.path + "/" + blocks;
    Batch masked = maskedHessians.get(key);
    if (masked == null) {
      int m = s[0];
      int[] starts = groupStarts(m, blocks);
      double[] b = new double[m * m];
      for (int k = 0; k < blocks; k++)
        for (int j = starts[k]; j < starts[k + 1]; j++) for (int i = starts[k]; i < starts[k + 1]; i++) b[i + m * j] = 1;
      Batch mask = be.fromArray(1, 1, m, m, b);
      masked = be.multiply(h, mask);
      be.release(mask);
      maskedHessians.put(key, masked);
    }
    if (v.samples() != 1) throw new IllegalArgumentException("directions for '" + parameter + "' must be shared by all samples (1 sample), not " + v.samples());
    Batch shaped = v.rows() == s[0] && v.cols() == s[1] ? v : be.reshape(v, s[0], s[1]);
    return kroneckerFactored(l, var, pass.caches.get(l), masked, shaped);
  }

  /** H̄ ∘ B of {@link #blockDiagonalKronecker} by "layer/blocks". */
  private final Map<String, Batch> maskedHessians = new java.util.HashMap<>();

  /** Row-group masks by "parameter/blocks", made once. */
  private final Map<String, List<Batch>> masks = new java.util.HashMap<>();

  /** Masks of the row groups of a rows x cols parameter. */
  List<Batch> rowMasks(int[] s, int blocks) {
    List<Batch> out = new ArrayList<>();
    int[] starts = groupStarts(s[0], blocks);
    for (int k = 0; k < blocks; k++) {
      double[] m = new double[s[0] * s[1]];
      for (int j = 0; j < s[1]; j++) for (int i = starts[k]; i < starts[k + 1]; i++) m[i + s[0] * j] = 1;
      out.add(be.fromArray(1, 1, s[0], s[1], m));
    }
    return out;
  }

  /** The first row of each of {@code blocks} contiguous row groups (sizes differing by at most one), and {@code rows} at the end. */
  static int[] groupStarts(int rows, int blocks) {
    int[] starts = new int[blocks + 1];
    for (int k = 0; k < blocks; k++) starts[k + 1] = starts[k] + rows / blocks + (k < rows % blocks ? 1 : 0);
    return starts;
  }

  /**
   * The dense block (or its block-diagonal part for {@code blocks > 1}), numel x numel in
   * column-major vec order of the parameter; refuses above {@code memoryLimit} bytes.
   */
  public Batch dense(String parameter, int blocks, long memoryLimit) {
    int[] s = net.parameterShape(parameter);
    long n = (long) s[0] * s[1];
    if (8 * n * n > memoryLimit)
      throw new IllegalArgumentException(String.format("the dense block of '%s' has %d x %d entries (%.1f GiB), above the limit of %.1f GiB; "
          + "use products (--vectors) instead", parameter, n, n, 8.0 * n * n / (1L << 30), memoryLimit / (double) (1L << 30)));
    Batch eye = be.reshape(be.columnsAsDirections(be.eye((int) n)), s[0], s[1]);
    Batch cols = matProd(parameter, eye, blocks);
    return be.directionsAsColumns(be.reshape(cols, (int) n, 1), (int) n);
  }
}
