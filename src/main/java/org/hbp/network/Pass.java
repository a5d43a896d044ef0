package org.hbp.network;

import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import org.hbp.backend.Batch;
import org.hbp.runtime.ForwardCache;

/**
 * The forward and gradient passes of a {@link Network} on one batch: the mean loss, the
 * gradients of the mean loss, and what curvature products need (each layer's forward cache and
 * the per-sample gradient of the per-sample loss at its output).
 */
public final class Pass implements AutoCloseable {
  final Network net;
  final int samples;
  final Map<Network.LayerNode, ForwardCache> caches = new IdentityHashMap<>();
  final Map<Network.LayerNode, Batch> outputGradients = new IdentityHashMap<>();
  /** A graph network's values by name, in their item shapes ({@link GraphPasses}). */
  final Map<String, Batch> values = new LinkedHashMap<>();
  /** A graph network's per-sample value gradients, summed over each value's uses. */
  final Map<String, Batch> valueGradients = new LinkedHashMap<>();
  ForwardCache lossCache;
  Batch logits;
  Batch outputGradient;
  private final Map<String, Batch> gradients = new LinkedHashMap<>();
  /** What the passes computed (layer outputs, index maps, output gradients): released by close. */
  private final java.util.List<Batch> owned = new java.util.ArrayList<>();
  private boolean closed;
  /** The inputs, targets, parameters and data the caller gave: never released. */
  final java.util.List<Batch> callerBatches = new java.util.ArrayList<>();
  /** What the pass ran on, as given ({@link SampleChunks} runs it again on chunks of the samples). */
  Map<String, Batch> parameters;
  Batch inputs;
  Batch targets;
  Map<String, Batch> data;

  Pass(Network net, int samples) {
    this.net = net;
    this.samples = samples;
  }

  /** Records a batch this pass computed; returns it. */
  Batch own(Batch b) {
    owned.add(b);
    return b;
  }

  /**
   * Releases the storage of what the passes computed: layer outputs, output gradients, index
   * maps, the loss's values, every memoized subexpression and the parameter gradients. Backends
   * with native memory reuse it at once, so a training loop does not wait for the garbage
   * collector. Nothing of this pass (its gradients and curvature included) may be used afterwards:
   * apply or copy the gradients first. The inputs, targets and parameters given to
   * {@link Network#run} are the caller's and are not touched.
   */
  @Override
  public void close() {
    if (closed) return;
    closed = true;
    java.util.List<Batch> release = new java.util.ArrayList<>(owned);
    release.addAll(gradients.values());
    for (ForwardCache c : caches.values()) release.addAll(c.memoized());
    if (lossCache != null) {
      release.add(net.loss.op.output(lossCache));
      release.addAll(lossCache.memoized());
    }
    // a layer output may be a view of the caller's input (a flatten of x): never release those
    for (Batch b : release) {
      boolean callers = false;
      for (Batch c : callerBatches) callers |= net.be.sharesStorage(b, c);
      if (!callers) net.be.release(b);
    }
    owned.clear();
  }

  public Network network() {
    return net;
  }

  /** The batch size N. */
  public int samples() {
    return samples;
  }

  /** The network's outputs (the loss's input), per sample. */
  public Batch logits() {
    return logits;
  }

  /** The per-sample losses, 1x1 items. */
  public Batch losses() {
    return net.loss.op.output(lossCache);
  }

  /** The mean loss over the batch. */
  public double loss() {
    double[] l = net.be.toArray(losses());
    double s = 0;
    for (double v : l) s += v;
    return s / samples;
  }

  /** The gradient of the mean loss with respect to a parameter, one item in its shape. */
  public Batch gradient(String parameter) {
    Batch g = gradients.get(parameter);
    if (g != null) return g;
    Network.LayerNode n = net.owner(parameter);
    String var = net.parameterVariables.get(parameter);
    if (net.isGraph()) {
      g = sharedGradient(parameter, var);
      gradients.put(parameter, g);
      return g;
    }
    // the mean of the per-sample gradients: 1/N applied to the smaller of dz and the summed product
    Batch dz = outputGradients.get(n);
    long dzEntries = (long) dz.samples() * dz.directions() * dz.rows() * dz.cols();
    if (dzEntries <= net.parameterSize(parameter)) {
      Batch scaled = net.be.scale(dz, 1.0 / samples);
      g = n.op.jacTMatProdSum(caches.get(n), var, scaled);
      if (!net.be.sharesStorage(g, scaled)) net.be.release(scaled);
    } else {
      Batch sum = n.op.jacTMatProdSum(caches.get(n), var, dz);
      g = net.be.scale(sum, 1.0 / samples);
      if (!net.be.sharesStorage(sum, dz) && !net.be.sharesStorage(sum, g)) net.be.release(sum);
    }
    gradients.put(parameter, g);
    return g;
  }

  /** {@code (1/N) sum_uses sum_n J_θ,n' dz_n}: a graph parameter's gradient, summed over the uses of its instance. */
  private Batch sharedGradient(String parameter, String var) {
    Batch sum = null;
    java.util.List<Batch> temporaries = new java.util.ArrayList<>(), keep = new java.util.ArrayList<>();
    for (Network.LayerNode n : net.uses(parameter)) {
      Batch dz = outputGradients.get(n);
      if (dz == null) continue;
      keep.add(dz);
      Batch t = n.op.jacTMatProdSum(caches.get(n), var, dz);
      temporaries.add(t);
      sum = sum == null ? t : net.be.add(sum, t);
      temporaries.add(sum);
    }
    int[] s = net.parameterShape(parameter);
    Batch g = sum == null ? net.be.fill(s[0], s[1], 0) : net.be.scale(sum, 1.0 / samples);
    keep.add(g);
    net.releaseTemporaries(temporaries, keep.toArray(new Batch[0]));
    return g;
  }

  /** The Euclidean norm of a parameter's gradient. */
  public double gradientNorm(String parameter) {
    double s = 0;
    for (double v : net.be.toArray(gradient(parameter))) s += v * v;
    return Math.sqrt(s);
  }

  /**
   * The per-sample factor S of the loss Hessian at the network output, {@code H_n = S_n S_n'}
   * ({@link org.hbp.runtime.LossOperator#factor}): its r columns as directions, {@code [N x r]}
   * items of the loss input's shape (r = the loss's {@code factorRanks} summed; for cross-entropy
   * over C classes r = C). Propagated back through the Jacobians these give the GGN
   * {@code (1/N) sum_n J_n' S_n S_n' J_n} in factored form ({@link GgnDiagonal}, KFLR). A fresh
   * batch: the caller releases it.
   *
   * @throws org.hbp.UserError when the loss has no certified factor (its Hessian is not proven PSD)
   */
  public Batch lossFactor() {
    return net.loss.op.factor(lossCache, net.loss.input);
  }

  /** Block-diagonal curvature on this batch. */
  public Curvature curvature(CurvatureKind kind, Strategy strategy) {
    return new Curvature(this, kind, strategy, Curvature.DEFAULT_MEMORY_LIMIT);
  }

  /**
   * Block-diagonal curvature on this batch; explicit strategies refuse (naming the layer) when
   * their matrices would exceed {@code memoryLimitBytes}.
   */
  public Curvature curvature(CurvatureKind kind, Strategy strategy, long memoryLimitBytes) {
    return new Curvature(this, kind, strategy, memoryLimitBytes);
  }

  /**
   * The product of the curvature of the whole network (all parameters together, off-diagonal
   * blocks included) with directions, on this batch: {@code H v} (Pearlmutter's R-operator),
   * {@code G v = (1/N) sum_n J_n' H_l,n J_n v}, or the PCH's network-wide form (the GGN plus the
   * modified residuals of every layer, without mixed terms); see {@link NetworkProducts}. Its
   * diagonal blocks are those of {@link #curvature} with the exact strategy.
   *
   * @param directions by parameter name, V directions shared by all samples (one sample) in the
   *     parameter's item shape, as {@link Curvature#matProd} takes them; the same V for each; a
   *     parameter left out has direction zero
   * @return every parameter's part of the product, V directions each
   */
  public Map<String, Batch> networkProduct(CurvatureKind kind, Map<String, Batch> directions) {
    return NetworkProducts.apply(this, kind, directions);
  }
}
