package org.hbp.network;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.hbp.UserError;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;

/**
 * Block-diagonal curvature of the mean loss of one batch (paper eq. 7): one block per parameter,
 * for the Hessian, the GGN or the PCH. The {@link CurvatureKind} fixes how each module's residual
 * term enters ({@link ResidualPolicy}); the {@link Strategy} picks how curvature is propagated
 * ({@link CurvatureStrategy}):
 * <ul>
 *   <li>{@link Strategy#EXACT}: by matrix-free products, per sample, with each residual term
 *       modified per sample ({@link ExactStrategy});</li>
 *   <li>{@link Strategy#KFRA} / {@link Strategy#BDA}: with an explicit batch-averaged Hessian of
 *       every layer's output, propagated back by eq. 8 / eq. 9, whose residual term is the batch
 *       average {@code mean_n R_n} of the exact residuals, modified after averaging for PCH, as the
 *       paper and the authors' code do ({@link KfraStrategy}, {@link BdaStrategy}).</li>
 * </ul>
 * Directions and results have the parameter's item shape and one sample (they are the same for
 * all samples). Sub-blocks ({@code blocks > 1}) split a parameter by rows (a linear layer's output
 * units, a convolution's output channels) and keep the block-diagonal part. Per-layer joint blocks
 * ({@link #layerMatProd}, {@link #layerDense}, the Newton step {@link #layerSolve}; exact strategy)
 * join a layer's parameters into one block with their cross terms, a departure from the paper
 * ({@link LayerBlocks}).
 */
public final class Curvature {
  /** The default limit on explicit curvature matrices: 2 GiB. */
  public static final long DEFAULT_MEMORY_LIMIT = 2L << 30;

  private final Network net;
  private final Backend be;
  private final CurvatureKind kind;
  private final Strategy strategy;
  private final CurvatureStrategy.Blocks blocks;
  /** Row-group masks by "parameter/blocks", made once. */
  private final Map<String, List<Batch>> masks = new HashMap<>();

  Curvature(Pass pass, CurvatureKind kind, Strategy strategy, long memoryLimit) {
    this(pass, kind, strategy, KfacOptions.defaults(), memoryLimit);
  }

  Curvature(Pass pass, CurvatureKind kind, Strategy strategy, KfacOptions options, long memoryLimit) {
    this(pass, kind, strategy, options, GgnRoute.NETWORK, memoryLimit, line -> {});
  }

  private Curvature(Pass pass, CurvatureKind kind, Strategy strategy, KfacOptions options, GgnRoute route, long memoryLimit,
      Consumer<String> notices) {
    route.check(kind, strategy);
    this.net = pass.net;
    this.be = net.be;
    this.kind = kind;
    this.strategy = strategy;
    this.blocks = prepare(pass, ResidualPolicy.of(kind), strategy, options, route, memoryLimit, notices);
  }

  /**
   * The strategy's blocks; on a graph network the exact blocks by {@link GraphProducts} and kfra /
   * bda by the frontier walk ({@link GraphFrontier}, inside {@link ExplicitStrategy}); kfac, kflr,
   * ekfac and the diagonals (the Hessian's too, {@link GraphHessianDiagonal}) from columns carried
   * back through the graph ({@link GraphColumns}); a strategy without a graph form is refused there.
   */
  private static CurvatureStrategy.Blocks prepare(Pass pass, ResidualPolicy policy, Strategy strategy, KfacOptions options,
      GgnRoute route, long memoryLimit, Consumer<String> notices) {
    CurvatureStrategy impl = strategy.implementation(options, route);
    requireGraphForm(pass.net, strategy, impl);
    if (pass.net.isGraph() && impl instanceof ExactStrategy && route != GgnRoute.FACTORED) return new GraphExactBlocks(pass, policy);
    return impl.prepare(pass, policy, memoryLimit, notices);
  }

  /** Refuses, on a graph network, a strategy without a graph form (every strategy has one today: the check guards a new one). */
  private static void requireGraphForm(Network net, Strategy strategy, CurvatureStrategy impl) {
    if (!net.isGraph() || impl instanceof ExactStrategy || impl instanceof KfraStrategy || impl instanceof BdaStrategy
        || impl instanceof KfacStrategy || impl instanceof DiagonalStrategy)
      return;
    throw new UserError("--strategy " + strategy.label() + " is not defined on graph networks (network " + net.spec.name()
        + " names its values); use exact, kfra, bda, kfac, kflr, ekfac, diag-ggn, diag-ggn-mc or diag-hessian");
  }

  /**
   * Refuses what {@link #of} would refuse of {@code net}'s structure before any batch is read: the GGN route's curvature
   * ({@link GgnRoute#check}), a strategy without a graph form, and a curvature the strategy does not define there
   * ({@link CurvatureStrategy#checkDefined}: the Kronecker-factored strategies' residual terms and shared instances, the
   * diagonals' own curvature). Each refusal names the option and, where it is one, the layer.
   */
  public static void checkDefined(Network net, CurvatureKind kind, Strategy strategy, GgnRoute route) {
    route.check(kind, strategy);
    CurvatureStrategy impl = strategy.implementation(KfacOptions.defaults(), route);
    requireGraphForm(net, strategy, impl);
    impl.checkDefined(net, ResidualPolicy.of(kind));
  }

  /**
   * The exact blocks of a graph network: products with directions on one parameter ({@link
   * GraphProducts#block}), or on all parameters of one module instance ({@link GraphProducts#joint}).
   */
  private static final class GraphExactBlocks implements CurvatureStrategy.Blocks {
    private final Pass pass;
    private final ResidualPolicy policy;

    GraphExactBlocks(Pass pass, ResidualPolicy policy) {
      this.pass = pass;
      this.policy = policy;
    }

    @Override
    public Batch matProd(Network.LayerNode layer, String var, Batch v) {
      return GraphProducts.block(pass, policy, layer.parameterName(var), v);
    }

    @Override
    public Map<String, Batch> layerMatProd(Network.LayerNode layer, Map<String, Batch> v) {
      Map<String, Batch> byName = new java.util.LinkedHashMap<>();
      for (Map.Entry<String, Batch> e : v.entrySet()) byName.put(layer.parameterName(e.getKey()), e.getValue());
      Map<String, Batch> products = GraphProducts.joint(pass, policy, byName);
      Map<String, Batch> out = new java.util.LinkedHashMap<>();
      for (String var : v.keySet()) out.put(var, products.get(layer.parameterName(var)));
      return out;
    }

    @Override
    public List<Batch> drain() {
      return List.of();
    }
  }

  /**
   * Block-diagonal curvature of a pass with the Kronecker-factored strategies' options (Monte-Carlo
   * vectors, seed, loss factor); the other strategies ignore them.
   */
  public static Curvature of(Pass pass, CurvatureKind kind, Strategy strategy, KfacOptions options, long memoryLimit) {
    return new Curvature(pass, kind, strategy, options, memoryLimit);
  }

  /**
   * {@link #of(Pass, CurvatureKind, Strategy, KfacOptions, long)}, with {@code notices} told in one
   * line where the preparation does what the caller should know of: the diagonal strategies say
   * when they compute the batch in chunks of samples ({@link SampleChunks}).
   */
  public static Curvature of(Pass pass, CurvatureKind kind, Strategy strategy, KfacOptions options, long memoryLimit, Consumer<String> notices) {
    return new Curvature(pass, kind, strategy, options, GgnRoute.NETWORK, memoryLimit, notices);
  }

  /**
   * {@link #of(Pass, CurvatureKind, Strategy, KfacOptions, long, Consumer)} with the exact
   * strategy's GGN computed by {@code route} ({@link GgnRoute}; factored: the loss factor's columns
   * carried back here, once, refused with their size over {@code memoryLimit}).
   */
  public static Curvature of(Pass pass, CurvatureKind kind, Strategy strategy, KfacOptions options, GgnRoute route, long memoryLimit,
      Consumer<String> notices) {
    return new Curvature(pass, kind, strategy, options, route, memoryLimit, notices);
  }

  /**
   * {@code (C + λ I)^-1 v} with a parameter's block C in closed form (kfac, kflr, ekfac: exact in
   * the eigenbasis of the Kronecker factors, the damping added to the whole block); λ > 0.
   */
  public Batch dampedInverse(String parameter, Batch v, double lambda) {
    if (!(lambda > 0)) throw new UserError("the damping of the inverse must be > 0, not " + lambda);
    Network.LayerNode l = net.owner(parameter);
    String var = net.parameterVariables.get(parameter);
    Batch r = blocks.dampedInverse(l, var, directions(parameter, l, var, v), lambda);
    if (r == null)
      throw new UserError("--strategy " + strategy.label() + " has no closed-form damped inverse; use kfac, kflr or ekfac, or solve by CG");
    return r;
  }

  /**
   * The solution d of paper eq. 10's system {@code [α I + (1 - α) C] d = b} for a parameter's block
   * in closed form (kfac, kflr, ekfac): {@code b} for α = 1, else
   * {@code (C + α/(1-α) I)^-1 b / (1 - α)}; 0 < α <= 1.
   */
  public Batch dampedSolve(String parameter, Batch b, double alpha) {
    if (!(alpha > 0 && alpha <= 1))
      throw new UserError("the closed-form solve of [alpha I + (1 - alpha) C] d = b needs 0 < alpha <= 1, not " + alpha);
    if (alpha == 1) return be.scale(b, 1);
    Batch x = dampedInverse(parameter, b, alpha / (1 - alpha));
    Batch out = be.scale(x, 1 / (1 - alpha));
    if (!be.sharesStorage(out, x)) be.release(x);
    return out;
  }

  /** The Kronecker factors A and G (and EKFAC's scalings) of a parameter's block (kfac, kflr, ekfac). */
  public KroneckerFactors kroneckerFactors(String parameter) {
    Network.LayerNode l = net.owner(parameter);
    KroneckerFactors f = blocks.kroneckerFactors(l, net.parameterVariables.get(parameter));
    if (f == null) throw new UserError("--strategy " + strategy.label() + " keeps no Kronecker factors; use kfac, kflr or ekfac");
    return f;
  }

  /**
   * Releases what this curvature holds (the explicit batch-averaged Hessians of kfra/bda, their
   * Kronecker factors, sub-block masks), for backends that reuse memory; products computed
   * earlier stay valid, further products are not allowed.
   */
  public void release() {
    List<Batch> held = new ArrayList<>(blocks.drain());
    for (List<Batch> m : masks.values()) held.addAll(m);
    masks.clear();
    net.releaseTemporaries(held);
  }

  public CurvatureKind kind() {
    return kind;
  }

  public Strategy strategy() {
    return strategy;
  }

  /**
   * The block of a parameter applied to directions: V directions in the parameter's shape (one
   * sample), result likewise.
   */
  public Batch matProd(String parameter, Batch v) {
    Network.LayerNode l = net.owner(parameter);
    String var = net.parameterVariables.get(parameter);
    return blocks.matProd(l, var, directions(parameter, l, var, v));
  }

  /**
   * Refuses per-layer joint blocks ({@link LayerBlocks}) where they are not defined: strategies
   * other than exact, graph networks, PCH on a layer of several parameters, the Hessian on a layer
   * whose operator has no mixed residuals; the message names the option, the strategy or the layer.
   */
  public static void checkLayerBlocks(Network net, CurvatureKind kind, Strategy strategy) {
    LayerBlocks.check(net, kind, strategy);
  }

  /** Each layer's parameters, in network order: the rows of the per-layer joint blocks ({@code [0.W, 0.b], [2.W, 2.b], ...}). */
  public List<List<String>> layerGroups() {
    return LayerBlocks.groups(net);
  }

  /** Each layer's parameters of {@code net}, in network order: {@link #layerGroups} without a pass. */
  public static List<List<String>> layerGroups(Network net) {
    return LayerBlocks.groups(net);
  }

  /**
   * Each layer of {@code net} with parameters, by its name (the prefix of its parameters' names, as
   * PyTorch names the module: {@code 0}, {@code 2.1}), with its parameters in the operator's order:
   * {@link #layerGroups(Network)} keyed by layer, in network order.
   */
  public static Map<String, List<String>> namedLayerGroups(Network net) {
    return LayerBlocks.named(net);
  }

  /**
   * The joint block of one layer's parameters (one block per layer, the cross terms between its
   * parameters included; {@link LayerBlocks}) applied to directions: {@code directions} for some
   * or all parameters of one layer (V directions each, one sample, in the parameter's shape; a
   * parameter left out has direction zero). The result has every parameter of the layer, V
   * directions each: {@code (C v)_p = sum_q C_pq v_q}.
   */
  public Map<String, Batch> layerMatProd(Map<String, Batch> directions) {
    if (directions.isEmpty()) throw new UserError("no directions: give directions for the parameters of one layer");
    checkLayerBlocks(net, kind, strategy);
    Network.LayerNode l = null;
    Map<String, Batch> shaped = new HashMap<>();
    int count = -1;
    for (Map.Entry<String, Batch> e : directions.entrySet()) {
      Network.LayerNode owner = net.owner(e.getKey());
      if (l != null && owner != l)
        throw new UserError("directions for '" + e.getKey() + "' and for parameters of layer " + l.path + ": a joint block is one layer's; "
            + "give directions for the parameters of one layer");
      l = owner;
      Batch d = directions(e.getKey(), owner, net.parameterVariables.get(e.getKey()), e.getValue());
      if (count >= 0 && d.directions() != count)
        throw new UserError("directions for '" + e.getKey() + "' are " + d.directions() + ", for the others " + count + "; give every parameter the same number");
      count = d.directions();
      shaped.put(e.getKey(), d);
    }
    Map<String, Batch> v = LayerBlocks.byVariable(net, l, shaped, count);
    Map<String, Batch> byVariable = blocks.layerMatProd(l, v);
    if (byVariable == null) throw new UserError("--strategy " + strategy.label() + " has no per-layer blocks; use --blocks parameter");
    Map<String, Batch> out = new java.util.LinkedHashMap<>();
    for (Map.Entry<String, Batch> e : byVariable.entrySet()) out.put(l.parameterName(e.getKey()), e.getValue());
    List<Batch> zeros = new ArrayList<>(v.values());
    zeros.removeAll(shaped.values());
    net.releaseTemporaries(zeros, out.values().toArray(new Batch[0]));
    return out;
  }

  /**
   * The damped Newton step of paper eq. 10 with the joint block C of one layer ({@link #layerMatProd}):
   * solves {@code [alpha I + (1 - alpha) C] d = b} by CG ({@link ConjugateGradient#solveJoint}) over
   * all the layer's parameters at once. {@code b} has one direction (one sample, one item, in the
   * parameter's shape) for every parameter of one layer, no other; it is not modified. A layer of
   * one parameter has that parameter's block as its joint block: its step is the per-parameter step,
   * {@link ConjugateGradient#solve} with {@link #matProd(String, Batch)}. The solution is new, keyed
   * and ordered as the layer's parameters ({@link #layerGroups}).
   */
  public ConjugateGradient.JointResult layerSolve(Map<String, Batch> b, double alpha, ConjugateGradient.Settings settings) {
    if (b.isEmpty()) throw new UserError("no right-hand side: give one for every parameter of one layer");
    checkLayerBlocks(net, kind, strategy);
    Network.LayerNode l = net.owner(b.keySet().iterator().next());
    List<String> names = l.parameterNames();
    if (!b.keySet().equals(new java.util.HashSet<>(names)))
      throw new UserError("the joint block of layer " + l.path + " solves for its parameters " + names + " together; the right-hand side has "
          + b.keySet());
    Map<String, Batch> ordered = new java.util.LinkedHashMap<>();
    for (String n : names) {
      Batch given = b.get(n);
      Batch d = directions(n, l, net.parameterVariables.get(n), given);
      if (d.directions() != 1) throw new UserError("the right-hand side for '" + n + "' has " + d.directions() + " directions, expected 1");
      ordered.put(n, d);
    }
    ConjugateGradient.JointResult r;
    if (names.size() == 1) {
      String n = names.get(0);
      ConjugateGradient.Result one = ConjugateGradient.solve(be, v -> matProd(n, v), alpha, ordered.get(n), settings);
      r = new ConjugateGradient.JointResult(Map.of(n, one.solution()), one.iterations(), one.residualNorm(), one.rhsNorm(), one.converged(),
          one.negativeCurvature());
    } else r = ConjugateGradient.solveJoint(be, this::layerMatProd, alpha, ordered, settings);
    List<Batch> reshaped = new ArrayList<>();
    for (String n : names) if (ordered.get(n) != b.get(n)) reshaped.add(ordered.get(n));
    List<Batch> keep = new ArrayList<>(r.solution().values());
    keep.addAll(b.values());
    net.releaseTemporaries(reshaped, keep.toArray(new Batch[0]));
    return r;
  }

  /**
   * The dense joint block of the layer that owns {@code parameter}: D x D, D the entries of all its
   * parameters, in the order of {@link #layerGroups} ({@code [vec(W); b]}), each in column-major vec
   * order; refuses above {@code memoryLimit} bytes.
   */
  public Batch layerDense(String parameter, long memoryLimit) {
    Network.LayerNode l = net.owner(parameter);
    List<String> names = l.parameterNames();
    long d = 0;
    for (String n : names) d += net.parameterSize(n);
    if (8 * d * d > memoryLimit)
      throw new UserError(String.format("the dense joint block of layer %s %s has %d x %d entries (%.1f GiB), above the limit of %.1f GiB; "
          + "use products (--vectors) instead", l.path, names, d, d, 8.0 * d * d / (1L << 30), memoryLimit / (double) (1L << 30)));
    checkLayerBlocks(net, kind, strategy);
    return LayerBlocks.dense(net, names, this::layerMatProd);
  }

  /** Checks directions for a parameter (its entries per item, one sample) and gives them its shape. */
  private Batch directions(String parameter, Network.LayerNode l, String var, Batch v) {
    int[] s = l.op.itemShape(var);
    if (v.itemSize() != s[0] * s[1])
      throw new UserError("directions for '" + parameter + "' are " + v.describe() + ", expected items of its shape " + s[0] + "x" + s[1]);
    if (v.samples() != 1) throw new UserError("directions for '" + parameter + "' must be shared by all samples (1 sample), not " + v.samples());
    return v.rows() == s[0] && v.cols() == s[1] ? v : be.reshape(v, s[0], s[1]);
  }

  /**
   * The block-diagonal part of a parameter's block for {@code blocks} row groups (contiguous,
   * sizes differing by at most one), applied to directions: the strategy's own form where it has
   * one, else the masked products {@code sum_k B_k ∘ (block (B_k ∘ V))}.
   */
  public Batch matProd(String parameter, Batch v, int blocks) {
    if (blocks == 1) return matProd(parameter, v);
    int[] s = net.parameterShape(parameter);
    if (blocks < 1 || blocks > s[0])
      throw new UserError("--blocks " + blocks + " for '" + parameter + "': it has " + s[0] + " rows; use 1.." + s[0]);
    Network.LayerNode l = net.owner(parameter);
    String var = net.parameterVariables.get(parameter);
    Batch shaped = directions(parameter, l, var, v);
    Batch direct = this.blocks.blockDiagonalMatProd(l, var, shaped, blocks);
    if (direct != null) return direct;
    Batch sum = null;
    for (Batch mask : masks.computeIfAbsent(parameter + "/" + blocks, k -> rowMasks(s, blocks))) {
      Batch masked = be.multiply(mask, shaped);
      Batch product = matProd(parameter, masked);
      Batch r = be.multiply(mask, product);
      Batch before = sum;
      sum = sum == null ? r : be.add(sum, r);
      net.releaseTemporaries(Arrays.asList(masked, product, before == null ? null : r, before), v, sum);
    }
    return sum;
  }

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
      throw new UserError(String.format("the dense block of '%s' has %d x %d entries (%.1f GiB), above the limit of %.1f GiB; "
          + "use products (--vectors) instead", parameter, n, n, 8.0 * n * n / (1L << 30), memoryLimit / (double) (1L << 30)));
    Batch eye = be.reshape(be.columnsAsDirections(be.eye((int) n)), s[0], s[1]);
    Batch cols = matProd(parameter, eye, blocks);
    return be.directionsAsColumns(be.reshape(cols, (int) n, 1), (int) n);
  }
}
