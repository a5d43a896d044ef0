package org.hbp.network;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
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
   * The exact diagonal of every parameter's GGN block, each one item in the parameter's shape.
   *
   * @throws UserError when the loss has no certified factor
   */
  public static Map<String, Batch> exact(Pass pass) {
    return diagonal(pass, pass.lossFactor());
  }

  /**
   * An unbiased Monte-Carlo estimate of the diagonal from K random vectors per sample.
   *
   * @throws UserError when the loss has no certified factor, or K < 1
   */
  public static Map<String, Batch> monteCarlo(Pass pass, int k, Sampling sampling, long seed) {
    return diagonal(pass, sampledColumns(pass, k, sampling, seed));
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
    if (k < 1) throw new UserError("--mc-samples must be at least 1, got " + k);
    Network.LossLayer loss = pass.net.loss;
    Backend be = pass.net.be;
    int[] ranks = loss.op.factorRanks(loss.input);
    if (ranks.length == 0) return pass.lossFactor(); // throws the loss's own message
    Random rng = new Random(seed);
    Batch sum = null;
    for (int i = 0; i < ranks.length; i++) {
      double[] omega = new double[pass.samples * k * ranks[i]];
      for (int j = 0; j < omega.length; j++) omega[j] = draw(rng, sampling) / Math.sqrt(k);
      Batch w = be.fromArray(pass.samples, k, ranks[i], 1, omega);
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

  /** (1/N) sum over samples and columns of (J_θ' u)^2 for every parameter θ, the columns u given at the output. */
  static Map<String, Batch> diagonal(Pass pass, Batch columns) {
    Network net = pass.net;
    Backward back = new Backward(pass);
    if (net.isGraph()) graph(back, columns);
    else {
      back.nodes(net.body, columns, true);
      // the columns at every layer's input, released once the pass is done (a product may be a view of its directions)
      back.temporaries.add(columns);
      net.releaseTemporaries(back.temporaries);
    }
    Map<String, Batch> out = new LinkedHashMap<>();
    for (String p : net.parameterNames()) {
      int[] s = net.parameterShape(p);
      Batch sum = back.sums.get(p);
      Batch mean = sum == null ? net.be.fill(s[0], s[1], 0) : net.be.reshape(net.be.scale(sum, 1.0 / pass.samples), s[0], s[1]);
      if (sum != null) net.be.release(sum);
      out.put(p, mean);
    }
    return out;
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
    for (String p : net.parameterNames()) {
      String var = net.parameterVariables.get(p);
      List<Network.LayerNode> uses = GraphColumns.usesWithColumns(net, p, outputs);
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
      if (a != null && a.cols() == 1) add(l.prefix + "." + p, kroneckerSquares(out, a));
      else accumulate(l.prefix + "." + p, l.op.jacTMatProd(c, p, out), u);
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
