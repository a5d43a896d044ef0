package org.hbp.network;

import org.hbp.backend.Backend;
import org.hbp.backend.Batch;

/**
 * First-order quantities of a pass, from the output gradients the gradient pass already computed
 * (BackPACK's BatchGrad, BatchL2Grad and Variance): for a parameter θ of a layer with output z,
 * the per-sample gradient of the per-sample loss is {@code ∇_θ ℓ_n = J_{θ,n}' dz_n} (one
 * {@code jacTMatProd} for the whole batch, no loop over samples). With the mean loss
 * {@code L = (1/N) sum_n ℓ_n}:
 *
 * <pre>
 *   batch gradients   (1/N) ∇ℓ_n                     (BatchGrad: they sum to ∇L)
 *   squared norms     ||(1/N) ∇ℓ_n||²                (BatchL2Grad)
 *   variance          (1/N) sum_n (∇ℓ_n)² - (∇L)²     (Variance: entrywise, of the per-sample gradients)
 * </pre>
 *
 * These compute one parameter's quantity on the caller's pass, the whole batch at once
 * ({@code N x numel} numbers, in the backend and copied to the heap), with no memory check. Within a
 * memory limit, for every parameter and in chunks of samples where the batch does not fit:
 * {@link SampleGradientChunks}.
 */
public final class SampleGradients {
  private SampleGradients() {}

  /**
   * {@code ∇_θ ℓ_n} of every sample: {@code [N x 1]} items in the parameter's item shape, a fresh
   * batch (the caller releases it). In a graph a shared instance's parameter sums its uses,
   * {@code sum_uses J_{θ,use,n}' dz_{use,n}}, each use's output gradient from the graph's gradient pass.
   */
  public static Batch perSample(Pass pass, String parameter) {
    Backend be = pass.net.be;
    String var = pass.net.parameterVariables.get(parameter);
    Batch sum = null;
    for (Network.LayerNode l : pass.net.uses(parameter)) {
      Batch dz = pass.outputGradients.get(l);
      if (dz == null) continue; // a use no gradient reaches
      Batch g = l.op.jacTMatProd(pass.caches.get(l), var, dz);
      // a bias's J' dz may be dz itself (a view): copy it, so that releasing the result leaves the pass intact
      if (be.sharesStorage(g, dz)) g = be.scale(g, 1);
      if (sum == null) sum = g;
      else {
        Batch next = be.add(sum, g);
        be.release(sum);
        be.release(g);
        sum = next;
      }
    }
    if (sum == null) {
      int[] s = pass.net.parameterShape(parameter);
      return be.fromArray(pass.samples, 1, s[0], s[1], new double[pass.samples * s[0] * s[1]]);
    }
    return sum;
  }

  /** BackPACK's BatchGrad: {@code (1/N) ∇_θ ℓ_n} per sample. */
  public static Batch batchGradients(Pass pass, String parameter) {
    Backend be = pass.net.be;
    Batch g = perSample(pass, parameter);
    Batch scaled = be.scale(g, 1.0 / pass.samples);
    if (!be.sharesStorage(g, scaled)) be.release(g);
    return scaled;
  }

  /** BackPACK's BatchL2Grad: {@code ||(1/N) ∇_θ ℓ_n||²} per sample. */
  public static double[] squaredNorms(Pass pass, String parameter) {
    Batch g = batchGradients(pass, parameter);
    double[] out = squaredNorms(pass.net.be.toArray(g), pass.samples);
    pass.net.be.release(g);
    return out;
  }

  /** BackPACK's Variance: {@code (1/N) sum_n (∇ℓ_n)² - ((1/N) sum_n ∇ℓ_n)²} entrywise, one item in the parameter's shape. */
  public static Batch variance(Pass pass, String parameter) {
    Backend be = pass.net.be;
    Batch g = perSample(pass, parameter);
    double[] per = be.toArray(g);
    be.release(g);
    int[] s = pass.net.parameterShape(parameter);
    return be.fromArray(1, 1, s[0], s[1], variance(per, pass.samples));
  }

  /** The squared norm of each of {@code samples} equal parts of {@code g}. */
  static double[] squaredNorms(double[] g, int samples) {
    int size = g.length / samples;
    double[] out = new double[samples];
    for (int n = 0; n < samples; n++) for (int k = 0; k < size; k++) out[n] += g[n * size + k] * g[n * size + k];
    return out;
  }

  /** The entrywise population variance over {@code samples} equal parts of {@code g}. */
  static double[] variance(double[] g, int samples) {
    SampleGradientChunks.Variance v = new SampleGradientChunks.Variance(g.length / samples);
    v.add(samples, g);
    return v.result();
  }
}
