package org.hbp.network;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.hbp.UserError;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.runtime.ForwardCache;

/**
 * Kronecker-factored curvature of the GGN / Fisher for every parameter whose Jacobian is
 * {@code kron(A_n', I)} (linear and convolution weights, their biases, {@code Z_n = W A_n}): the
 * block is {@code A ⊗ G} with
 *
 * <pre>
 *   A = (1/(N T)) sum_n A_n A_n'                     (p x p; A_n p x T: a linear layer's input, T = 1;
 *                                                     a convolution's unfolded patches, T locations;
 *                                                     a bias's ones(1, T), so its block is G)
 *   G = (1/N) sum_n sum_c U_{n,c} U_{n,c}'           (m x m; U_{n,c} = J_{z,n}' s_{n,c}, m x T: vectors
 *                                                     from the loss carried back to the layer's output)
 * </pre>
 *
 * For T = 1 this is Martens and Grosse's KFAC; for a convolution it is Grosse and Martens' KFC
 * ({@code Ω ⊗ Γ} with spatially uncorrelated derivatives): A averages over the T locations and G
 * sums over them, the split of curvlinops' KFAC ("expand"); the product {@code A ⊗ G} is the same
 * in any split. The variants differ in the vectors s:
 * <ul>
 *   <li>{@link Variant#KFLR}: all columns of the loss-Hessian factor, {@code S_n S_n' = H_n}, so G
 *       is exact given the Kronecker assumption;</li>
 *   <li>{@link Variant#KFAC}: K Monte-Carlo vectors per sample, {@code S_n ξ / sqrt(K)} with ξ
 *       standard normal, or the loss gradient at labels drawn from softmax(f) (an unbiased G);</li>
 *   <li>{@link Variant#EKFAC} (George et al. 2018): KFLR's eigenbasis {@code Q_A ⊗ Q_G} with the
 *       diagonal replaced by the second moments of the per-sample, per-column gradients
 *       {@code U_{n,c} A_n'} in that basis, {@code D = (1/N) sum_{n,c} (Q_G' U_{n,c} A_n' Q_A)^2}:
 *       the exact GGN's diagonal in the Kronecker eigenbasis.</li>
 * </ul>
 * No residual term enters: these approximate the GGN. Under a curvature that keeps a residual the
 * strategy refuses where any module on the way has one (and agrees with the GGN elsewhere).
 * Parameters without a Kronecker factor (a layer norm's scale) are refused, naming them.
 *
 * <p>On a graph network the vectors s are carried back through the graph like gradients
 * ({@link GraphColumns}: summed at branch points, through merges and multi-input modules by their
 * Jacobians), so each module use has its U at its output and its own A and G. A shared instance is
 * refused, naming it: its block sums the Kronecker terms of every pair of uses, which is not one
 * Kronecker product.
 */
final class KfacStrategy implements CurvatureStrategy {
  enum Variant { KFAC, KFLR, EKFAC }

  private final Variant variant;
  private final KfacOptions options;

  KfacStrategy(Variant variant, KfacOptions options) {
    this.variant = variant;
    this.options = options;
  }

  /** Refuses where A and G of a layer (p x p and m x m, float64) exceed the limit. */
  @Override
  public void checkMemory(Network net, int samples, long limit) {
    for (Network.LayerNode l : net.layers())
      for (String var : l.op.parameters()) {
        if (!l.op.hasKroneckerFactor(var)) continue;
        int[] s = l.op.itemShape(var);
        long bytes = 8L * ((long) s[0] * s[0] + (long) s[1] * s[1]) * (variant == Variant.KFAC ? 1 : 2);
        if (bytes > limit)
          throw new UserError(String.format("layer %s (%s): the Kronecker factors of '%s' have %d x %d and %d x %d entries (%.1f GiB), "
              + "above the limit of %.1f GiB; use --strategy exact or raise --memory-limit", l.path, l.op.name(), var, s[1], s[1], s[0], s[0],
              bytes / (double) (1L << 30), limit / (double) (1L << 30)));
      }
  }

  @Override
  public Blocks prepare(Pass pass, ResidualPolicy policy, long memoryLimitBytes) {
    checkMemory(pass.net, pass.samples, memoryLimitBytes);
    checkDefined(pass.net, policy);
    return new KfacBlocks(pass);
  }

  /** Refuses a residual term that the curvature keeps, and on a graph a shared instance (see the two checks). */
  @Override
  public void checkDefined(Network net, ResidualPolicy policy) {
    if (net.isGraph()) {
      requireUnshared(net);
      requireNoGraphResiduals(net, policy);
    } else requireNoResiduals(net, policy);
  }

  private String label() {
    return variant.name().toLowerCase(java.util.Locale.ROOT);
  }

  /**
   * Refuses a shared instance (a parameter used by several modules of a graph): its GGN block is
   * {@code (1/N) sum_n sum_{u,v} J_{u,n}' H_n J_{v,n}}, a sum over pairs of uses (the cross terms
   * included), which is not one Kronecker product {@code A ⊗ G} (a sum of Kronecker products is not Kronecker), and no choice of
   * A and G is KFAC's own; so none is made up.
   */
  private void requireUnshared(Network net) {
    for (String p : net.parameterNames()) {
      List<Network.LayerNode> uses = net.uses(p);
      if (uses.size() > 1) {
        Network.LayerNode l = uses.get(0);
        throw new UserError("--strategy " + label() + ": instance " + l.prefix + " (" + l.op.name() + ") is used by " + uses.size()
            + " modules (" + String.join(", ", uses.stream().map(u -> u.path).toList()) + "); the GGN block of its shared parameter '" + p
            + "' sums the Kronecker terms of every pair of uses, which is not one Kronecker product A ⊗ G; use --strategy exact, diag-ggn, kfra or bda");
      }
    }
  }

  /**
   * On a graph: refuses a curvature that keeps a residual term of a module use with respect to an
   * input downstream of a parameter, or of a {@code .*} merge there (its second derivative).
   */
  private void requireNoGraphResiduals(Network net, ResidualPolicy policy) {
    java.util.Set<String> needed = GraphPasses.needGradient(net);
    for (GraphPasses.Step s : net.graph) {
      if (!needed.contains(s.value())) continue;
      if (s.layer() == null) {
        if (s.merge().hasResidual() && policy.modification() != ResidualModification.ZERO)
          throw new UserError("--strategy " + label() + " approximates the GGN (Fisher), which has no residual terms; the merge " + s.value()
              + " (.*) has a second derivative that this curvature keeps; use --curvature ggn, or --strategy exact, kfra or bda");
        continue;
      }
      Network.LayerNode l = s.layer();
      for (String d : l.op.differentiable()) {
        int i = l.inputs.indexOf(d);
        if (i >= 0 && !needed.contains(s.inputs().get(i))) continue; // nothing upstream to carry it to
        if (policy.contributes(l.op, d))
          throw new UserError("--strategy " + label() + " approximates the GGN (Fisher), which has no residual terms; layer " + l.path + " ("
              + l.op.name() + ") has a residual with respect to '" + d + "' that this curvature keeps; use --curvature ggn, or --strategy exact, kfra or bda");
      }
    }
  }

  /** Refuses a curvature that keeps a residual term somewhere on the way back (these strategies have none). */
  private void requireNoResiduals(Network net, ResidualPolicy policy) {
    int first = 0;
    while (first < net.body.size() && !Network.hasParameters(net.body.get(first))) first++;
    List<Network.LayerNode> skipped = new ArrayList<>();
    for (int i = 0; i < first; i++) if (net.body.get(i) instanceof Network.LayerNode l) skipped.add(l);
    Network.LayerNode firstLayer = first < net.body.size() && net.body.get(first) instanceof Network.LayerNode l ? l : null;
    for (Network.LayerNode l : net.layers()) {
      if (skipped.contains(l)) continue;
      for (String v : l.op.differentiable()) {
        if (v.equals(l.input) && l == firstLayer) continue;
        if (policy.contributes(l.op, v))
          throw new UserError("--strategy " + label() + " approximates the GGN (Fisher), which has no residual terms; layer " + l.path + " ("
              + l.op.name() + ") has a residual with respect to '" + v + "' that this curvature keeps; use --curvature ggn, or --strategy exact, kfra or bda");
      }
    }
  }

  /** The vectors s at the network's output whose outer products make G: [N x r] items in the loss input's shape. */
  private Batch outputVectors(Pass pass) {
    if (variant != Variant.KFAC) return options.lossFactor().columns(pass);
    return options.fisher() == KfacOptions.Fisher.SAMPLED ? sampledGradients(pass) : monteCarlo(pass);
  }

  /** {@code S_n ξ_k / sqrt(K)}, ξ_k standard normal (java.util.Random of the seed). */
  private Batch monteCarlo(Pass pass) {
    Backend be = pass.net.be;
    Batch s = options.lossFactor().columns(pass);
    double[] sh = be.toArray(s);
    int n = pass.samples, r = s.directions(), rows = s.rows(), cols = s.cols(), d = rows * cols, k = options.mcSamples();
    be.release(s);
    Random random = new Random(options.seed());
    double[] out = new double[n * k * d];
    double scale = 1 / Math.sqrt(k);
    for (int i = 0; i < n; i++)
      for (int j = 0; j < k; j++)
        for (int c = 0; c < r; c++) {
          double xi = random.nextGaussian() * scale;
          for (int e = 0; e < d; e++) out[(i * k + j) * d + e] += sh[(i * r + c) * d + e] * xi;
        }
    return be.fromArray(n, k, rows, cols, out);
  }

  /**
   * The loss gradient at labels {@code y ~ softmax(f_n)}, K per sample, scaled by {@code 1/sqrt(K)}:
   * the loss's own gradient at a one-hot target. Only softmax cross-entropy defines the distribution.
   */
  private Batch sampledGradients(Pass pass) {
    Network net = pass.net;
    Backend be = net.be;
    options.checkFits(net);
    int[] item = net.loss.op.itemShape(net.loss.input);
    int c = item[0] * item[1], n = pass.samples, k = options.mcSamples();
    double[] logits = be.toArray(pass.logits);
    Random random = new Random(options.seed());
    double[] out = new double[n * k * c];
    double scale = 1 / Math.sqrt(k);
    for (int j = 0; j < k; j++) {
      double[] targets = new double[n * c];
      for (int i = 0; i < n; i++) targets[i * c + draw(logits, i * c, c, random)] = 1;
      Batch y = be.fromArray(n, 1, item[0], item[1], targets);
      ForwardCache cache = net.loss.op.forward(Map.of(net.loss.input, net.loss.asInput(pass.logits), net.loss.target, y));
      Batch grad = net.loss.op.gradient(cache, net.loss.input);
      double[] gh = be.toArray(grad);
      List<Batch> release = new ArrayList<>(cache.memoized());
      release.add(net.loss.op.output(cache));
      release.add(grad);
      release.add(y);
      net.releaseTemporaries(release, pass.logits);
      for (int i = 0; i < n; i++) for (int e = 0; e < c; e++) out[(i * k + j) * c + e] = gh[i * c + e] * scale;
    }
    return be.fromArray(n, k, item[0], item[1], out);
  }

  /** A class drawn from softmax of {@code f[from .. from + c)}. */
  private static int draw(double[] f, int from, int c, Random random) {
    double max = Double.NEGATIVE_INFINITY;
    for (int e = 0; e < c; e++) max = Math.max(max, f[from + e]);
    double[] p = new double[c];
    double sum = 0;
    for (int e = 0; e < c; e++) sum += p[e] = Math.exp(f[from + e] - max);
    double u = random.nextDouble() * sum, acc = 0;
    for (int e = 0; e < c; e++) if ((acc += p[e]) > u) return e;
    return c - 1;
  }

  private final class KfacBlocks implements Blocks {
    private final Backend be;
    private final Map<String, KroneckerBlock> blocks = new HashMap<>();
    /** Every factor once (a layer's G serves its weight and its bias). */
    private final List<KroneckerFactor> factors = new ArrayList<>();
    private boolean decomposed;

    KfacBlocks(Pass pass) {
      this.be = pass.net.be;
      Batch s = outputVectors(pass);
      Map<Network.LayerNode, Batch> vectors = OutputColumns.back(pass, s);
      Map<KroneckerBlock, int[]> corrections = new java.util.LinkedHashMap<>();
      for (Map.Entry<Network.LayerNode, Batch> e : vectors.entrySet()) {
        Network.LayerNode l = e.getKey();
        List<String> factored = l.op.parameters().stream().filter(l.op::hasKroneckerFactor).toList();
        if (factored.isEmpty()) continue;
        Batch u = e.getValue();
        int m = u.rows(), t = u.cols(), items = u.items();
        KroneckerFactor g = new KroneckerFactor(be, be.toArray(u), items * t, m, 1.0 / pass.samples, "the Kronecker factor G of layer " + l.path);
        factors.add(g);
        for (String var : factored) {
          Batch af = l.op.kroneckerFactor(pass.caches.get(l), var);
          if (af.cols() != t)
            throw new IllegalStateException(l.path + "." + var + ": Kronecker factor " + af.describe() + " does not match the output " + u.describe());
          int p = af.rows(), na = af.samples();
          KroneckerFactor a = new KroneckerFactor(be, be.toArray(af), na * t, p, 1.0 / (na * (double) t), "the Kronecker factor A of " + l.path + "." + var);
          factors.add(a);
          KroneckerBlock block = new KroneckerBlock(a, g);
          if (variant == Variant.EKFAC) corrections.put(block, new int[] {u.samples(), u.directions(), na, t});
          blocks.put(l.path + "." + var, block);
        }
      }
      List<Batch> release = new ArrayList<>(vectors.values());
      release.add(s);
      pass.net.releaseTemporaries(release);
      if (variant == Variant.EKFAC) {
        decomposeAll();
        for (Map.Entry<KroneckerBlock, int[]> c : corrections.entrySet()) {
          int[] k = c.getValue();
          c.getKey().correct(KfacScalings.ekfac(be, c.getKey(), k[0], k[1], k[2], k[3], pass.samples));
        }
      }
    }

    /**
     * The eigendecompositions of all factors, once per pass: the backend work (forming the factors
     * that are decomposed whole) in turn, the host decompositions in parallel over the factors.
     */
    private void decomposeAll() {
      if (decomposed) return;
      for (KroneckerFactor f : factors) f.prepareDecomposition(be);
      factors.parallelStream().forEach(KroneckerFactor::decompose);
      for (KroneckerFactor f : factors) f.eigenbasis(be);
      decomposed = true;
    }

    @Override
    public Batch matProd(Network.LayerNode l, String var, Batch v) {
      return block(l, var).matProd(be, v);
    }

    @Override
    public Batch dampedInverse(Network.LayerNode l, String var, Batch v, double lambda) {
      decomposeAll();
      return block(l, var).dampedInverse(be, v, lambda);
    }

    @Override
    public KroneckerFactors kroneckerFactors(Network.LayerNode l, String var) {
      KroneckerBlock b = block(l, var);
      return new KroneckerFactors(b.rows(), b.cols(), b.factorA().gram(be).clone(), b.factorG().gram(be).clone(), b.scalings());
    }

    private KroneckerBlock block(Network.LayerNode l, String var) {
      KroneckerBlock b = blocks.get(l.path + "." + var);
      if (b != null) return b;
      if (!l.op.hasKroneckerFactor(var))
        throw new UserError("--strategy " + label() + ": parameter '" + l.parameterName(var) + "' of layer " + l.path + " (" + l.op.name()
            + ") has no Kronecker factor (its Jacobian is not kron(A', I), as a linear or convolution layer's is); use --strategy exact, kfra or bda "
            + "(with hbp train: --optimizer cg-newton), or a diagonal strategy, diag-ggn, diag-ggn-mc or diag-hessian (with hbp train: also "
            + "--optimizer kfac)");
      throw new IllegalStateException("no Kronecker block for " + l.path + "." + var);
    }

    @Override
    public List<Batch> drain() {
      List<Batch> out = new ArrayList<>();
      for (KroneckerBlock b : blocks.values()) out.addAll(b.drain());
      for (KroneckerFactor f : factors) out.addAll(f.drain());
      return out;
    }
  }
}
