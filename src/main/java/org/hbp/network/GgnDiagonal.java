package org.hbp.network;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.function.Consumer;
import org.hbp.UserError;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.runtime.ForwardCache;
import org.hbp.runtime.LossOperator;

/**
 * The diagonal of the GGN of the mean loss, {@code G = (1/N) sum_n J_n' H_n J_n} with {@code J_n}
 * the Jacobian of the network output with respect to all parameters, from the loss factor
 * {@code H_n = S_n S_n'} ({@link LossOperator#factor}): {@code diag(G) = (1/N) sum_n sum_c
 * (J_n' s_{n,c})^2} over the columns s_{n,c} of S_n (BackPACK's DiagGGNExact, for any loss with a
 * certified factor). The columns are propagated backward once through every module's
 * {@code jacTMatProd}; each parameter's part is the sum of the squares of {@code J_θ' s}.
 *
 * <p>The Monte-Carlo variant replaces the r columns of S_n by K columns {@code S_n ω_k / sqrt(K)}
 * with independent ω_k of identity covariance (Rademacher or standard Gaussian entries): since
 * {@code E[ω ω'] = I}, each sample's {@code (1/K) sum_k (J' S ω_k)^2} has expectation
 * {@code diag(J' S S' J)}, so the estimate is unbiased (BackPACK's DiagGGNMC, with S for any loss).
 */
public final class GgnDiagonal {
  private GgnDiagonal() {}

  /** The distribution of the entries of the random vectors ω. */
  public enum Sampling {
    RADEMACHER, GAUSSIAN;

    public String label() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /**
   * The exact diagonal of every parameter's GGN block, each one item in the parameter's shape,
   * within {@link Curvature#DEFAULT_MEMORY_LIMIT} ({@link #exact(Pass, long, Consumer)}).
   *
   * @throws UserError when the loss has no certified factor
   */
  public static Map<String, Batch> exact(Pass pass) {
    return exact(pass, Curvature.DEFAULT_MEMORY_LIMIT, line -> {});
  }

  /**
   * The exact diagonal within {@code memoryLimitBytes}: the columns of S grow as {@code N * r *
   * width}; where the whole batch does not fit, it is computed in chunks of samples
   * ({@link SampleChunks}), each with its own pass; {@code notices} gets one line when it chunks.
   *
   * @throws UserError when the loss has no certified factor, or not even one sample fits
   */
  public static Map<String, Batch> exact(Pass pass, long memoryLimitBytes, Consumer<String> notices) {
    return exact(pass, memoryLimitBytes, notices, WalkProgress.NONE);
  }

  /** As {@link #exact(Pass, long, Consumer)}, reporting the layers of each chunk's walk to {@code progress} (a progress bar). */
  public static Map<String, Batch> exact(Pass pass, long memoryLimitBytes, Consumer<String> notices, WalkProgress progress) {
    return SampleChunks.mean(pass, exactQuantity(), memoryLimitBytes, notices, progress);
  }

  /** The exact diagonal in chunks of {@code chunk} samples, whatever the memory (tests). */
  static Map<String, Batch> exact(Pass pass, int chunk) {
    return exact(pass, chunk, WalkProgress.NONE);
  }

  /** The same, reporting to {@code progress} (tests). */
  static Map<String, Batch> exact(Pass pass, int chunk, WalkProgress progress) {
    return SampleChunks.mean(pass, exactQuantity(), new SampleChunks.Plan(pass.samples, chunk), Curvature.DEFAULT_MEMORY_LIMIT, line -> {}, progress);
  }

  private static SampleChunks.Quantity exactQuantity() {
    return new SampleChunks.Quantity("the GGN diagonal", "ggn-diagonal", "raise --memory-limit", (chunk, first, total, limit, ticks) -> sums(chunk, chunk.lossFactor(), ticks));
  }

  /**
   * An unbiased Monte-Carlo estimate of the diagonal from K random vectors per sample, within
   * {@link Curvature#DEFAULT_MEMORY_LIMIT}.
   *
   * @throws UserError when the loss has no certified factor, or K < 1
   */
  public static Map<String, Batch> monteCarlo(Pass pass, int k, Sampling sampling, long seed) {
    return monteCarlo(pass, k, sampling, seed, Curvature.DEFAULT_MEMORY_LIMIT, line -> {});
  }

  /**
   * The Monte-Carlo estimate within {@code memoryLimitBytes}, in chunks of samples where the whole
   * batch does not fit; the random vectors are those of the whole batch whatever the chunks.
   *
   * @throws UserError when the loss has no certified factor, K < 1, or not even one sample fits
   */
  public static Map<String, Batch> monteCarlo(Pass pass, int k, Sampling sampling, long seed, long memoryLimitBytes, Consumer<String> notices) {
    return monteCarlo(pass, k, sampling, seed, memoryLimitBytes, notices, WalkProgress.NONE);
  }

  /** As above, reporting the layers of each chunk's walk to {@code progress} (a progress bar). */
  public static Map<String, Batch> monteCarlo(Pass pass, int k, Sampling sampling, long seed, long memoryLimitBytes, Consumer<String> notices,
      WalkProgress progress) {
    if (k < 1) throw new UserError("--mc-samples must be at least 1, got " + k);
    return SampleChunks.mean(pass, monteCarloQuantity(k, sampling, seed), memoryLimitBytes, notices, progress);
  }

  /** The Monte-Carlo estimate in chunks of {@code chunk} samples, whatever the memory (tests). */
  static Map<String, Batch> monteCarlo(Pass pass, int k, Sampling sampling, long seed, int chunk) {
    return SampleChunks.mean(pass, monteCarloQuantity(k, sampling, seed), new SampleChunks.Plan(pass.samples, chunk), Curvature.DEFAULT_MEMORY_LIMIT,
        line -> {});
  }

  private static SampleChunks.Quantity monteCarloQuantity(int k, Sampling sampling, long seed) {
    return new SampleChunks.Quantity("the Monte-Carlo GGN diagonal", "ggn-diagonal-mc-" + k, "use fewer --mc-samples, or raise --memory-limit",
        (chunk, first, total, limit, ticks) -> sums(chunk, sampledColumns(chunk, k, sampling, seed, first, total), ticks));
  }

  /**
   * K columns per sample {@code S_n ω_k / sqrt(K)} (ω_k with independent entries of the given
   * distribution, a fresh draw for every sample), {@code [N x K]} items of the loss input's shape:
   * their Gram matrix {@code (1/K) sum_k S ω_k ω_k' S'} is an unbiased estimate of {@code H_n}. With
   * several blocks, {@code S ω = sum_i S_i ω_i}.
   *
   * @throws UserError when the loss has no certified factor, or K < 1
   */
  public static Batch sampledColumns(Pass pass, int k, Sampling sampling, long seed) {
    return sampledColumns(pass, k, sampling, seed, 0, pass.samples);
  }

  /**
   * The columns of {@link #sampledColumns(Pass, int, Sampling, long)} for samples {@code first ..}
   * of a batch of {@code total} of which {@code pass} holds these: the stream of a batch of
   * {@code total} samples is drawn (block by block, sample by sample), and the pass's part taken.
   */
  static Batch sampledColumns(Pass pass, int k, Sampling sampling, long seed, int first, int total) {
    if (k < 1) throw new UserError("--mc-samples must be at least 1, got " + k);
    Network.LossLayer loss = pass.net.loss;
    Backend be = pass.net.be;
    int[] ranks = loss.op.factorRanks(loss.input);
    if (ranks.length == 0) return pass.lossFactor(); // throws the loss's own message
    Random rng = new Random(seed);
    Batch sum = null;
    for (int i = 0; i < ranks.length; i++) {
      int perSample = k * ranks[i];
      double[] omega = new double[total * perSample];
      for (int j = 0; j < omega.length; j++) omega[j] = draw(rng, sampling) / Math.sqrt(k);
      double[] mine = java.util.Arrays.copyOfRange(omega, first * perSample, (first + pass.samples) * perSample);
      Batch w = be.fromArray(pass.samples, k, ranks[i], 1, mine);
      Batch part = loss.op.factorMatProd(pass.lossCache, loss.input, i, w);
      be.release(w);
      if (sum == null) sum = part;
      else {
        Batch next = be.add(sum, part);
        be.release(sum);
        be.release(part);
        sum = next;
      }
    }
    return sum;
  }

  private static double draw(Random rng, Sampling s) {
    return s == Sampling.GAUSSIAN ? rng.nextGaussian() : rng.nextBoolean() ? 1 : -1;
  }

  /** The sum over samples and columns of (J_θ' u)^2 for every parameter θ that the columns reach, u given at the output (released). */
  static Map<String, Batch> sums(Pass pass, Batch columns) {
    return sums(pass, columns, LayerTicks.NONE);
  }

  /** As above, each layer the walk reaches reported to {@code ticks}. */
  static Map<String, Batch> sums(Pass pass, Batch columns, LayerTicks ticks) {
    Network net = pass.net;
    Backward back = new Backward(pass);
    back.ticks = ticks;
    if (net.isGraph()) graph(back, columns);
    else {
      back.nodes(net.body, columns, true);
      // the columns at every layer's input, released once the pass is done (a product may be a view of its directions)
      back.temporaries.add(columns);
      net.releaseTemporaries(back.temporaries);
    }
    return back.sums;
  }

  /**
   * A graph network: the columns at every module use's output ({@link GraphColumns}); a parameter
   * of one use squares its {@code J_θ' u} as in a chain; a shared instance's parameter squares the
   * sum over its uses, {@code (sum_uses J_{θ,use}' u_use)^2}: the diagonal of the exact GGN, whose
   * block holds every use and the cross terms between uses.
   */
  private static void graph(Backward back, Batch columns) {
    Network net = back.pass.net;
    Map<Network.LayerNode, Batch> outputs = OutputColumns.back(back.pass, columns);
    Set<Network.LayerNode> ticked = Collections.newSetFromMap(new IdentityHashMap<>());
    for (String p : net.parameterNames()) {
      String var = net.parameterVariables.get(p);
      List<Network.LayerNode> uses = GraphColumns.usesWithColumns(net, p, outputs);
      if (!uses.isEmpty() && ticked.add(uses.get(0))) back.ticks.layer(uses.get(0)); // a layer once, at its first parameter
      if (uses.size() == 1) {
        Network.LayerNode l = uses.get(0);
        back.parameter(l, var, back.pass.caches.get(l), outputs.get(l), outputs.get(l));
      } else if (uses.size() > 1) back.accumulate(p, GraphColumns.sumOverUses(back.pass, uses, var, outputs), null);
    }
    List<Batch> release = new ArrayList<>(outputs.values());
    release.add(columns);
    net.releaseTemporaries(release);
  }

  /** The backward pass of the columns, accumulating each parameter's sum of squares. */
  private static final class Backward extends ColumnsBackward {
    final Map<String, Batch> sums = new LinkedHashMap<>();

    Backward(Pass pass) {
      super(pass);
    }

    @Override
    void parameter(Network.LayerNode l, String p, ForwardCache c, Batch out, Batch u) {
      Batch a = l.op.hasKroneckerFactor(p) && out.cols() == 1 ? l.op.kroneckerFactor(c, p) : null;
      if (a != null && a.cols() == 1) add(l.parameterName(p), kroneckerSquares(out, a));
      else accumulate(l.parameterName(p), l.op.jacTMatProd(c, p, out), u);
    }

    /**
     * A Jacobian {@code kron(a', I)} with a vector a (a linear layer's input): {@code J' s = vec(s a')},
     * whose squares are {@code (s∘s)(a∘a)'}, so the sum over samples and columns is
     * {@code sum_n q_n (a_n∘a_n)'} with {@code q_n = sum_c s_nc∘s_nc}: one product, never the N*C
     * parameter-sized columns.
     */
    private Batch kroneckerSquares(Batch u, Batch a) {
      int columns = u.directions();
      Batch squares = be.multiply(u, u);
      Batch asColumns = be.directionsAsColumns(squares, columns);
      Batch ones = be.fill(columns, 1, 1.0);
      Batch q = be.matmul(asColumns, false, ones, false);
      Batch a2 = be.multiply(a, a);
      Batch total = be.matmulSumSamples(q, false, a2, true);
      pass.net.releaseTemporaries(List.of(squares, ones, q, a2), total, u, a);
      return total;
    }

    /** Adds sum over samples and columns of g∘g to the parameter's sum ({@code [N x C]} items of its shape). */
    void accumulate(String parameter, Batch g, Batch u) {
      int size = g.itemSize(), columns = g.directions();
      Batch squares = be.multiply(g, g);
      Batch asColumns = be.directionsAsColumns(be.reshape(squares, size, 1), columns);
      Batch ones = be.fill(columns, 1, 1.0);
      Batch perSample = be.matmul(asColumns, false, ones, false);
      Batch total = be.sumSamples(perSample);
      pass.net.releaseTemporaries(List.of(g, squares, ones, perSample), total, u);
      add(parameter, total);
    }

    /** Adds a sum of squares (one item) to the parameter's sum. */
    private void add(String parameter, Batch total) {
      Batch before = sums.get(parameter);
      if (before == null) sums.put(parameter, total);
      else {
        sums.put(parameter, be.add(before, total));
        be.release(before);
        be.release(total);
      }
    }
  }

  /** Every parameter's diagonal as host arrays (column-major in the parameter's item shape), for tests and tools. */
  public static Map<String, double[]> toHost(Backend be, Map<String, Batch> diagonal) {
    Map<String, double[]> out = new LinkedHashMap<>();
    diagonal.forEach((k, v) -> out.put(k, be.toArray(v)));
    return out;
  }
}
