package org.hbp.network;

import java.util.Locale;
import org.hbp.UserError;

/**
 * Settings of the Kronecker-factored strategies ({@link Strategy#KFAC}, {@link Strategy#KFLR},
 * {@link Strategy#EKFAC}): where KFAC's output-gradient vectors come from, how many per sample, the
 * seed of their random draws, and the loss-Hessian factor that KFLR and EKFAC propagate exactly.
 *
 * @param fisher KFAC's vectors: {@link Fisher#MC} ({@code S_n ξ}, ξ standard normal) or
 *     {@link Fisher#SAMPLED} (the loss gradient at labels drawn from the model, cross-entropy only)
 * @param mcSamples K, the vectors per sample (KFAC only; the estimate is their mean)
 * @param seed the seed of the draws (the same seed gives the same KFAC)
 * @param lossFactor the factor S of the per-sample loss Hessians
 */
public record KfacOptions(Fisher fisher, int mcSamples, long seed, LossFactorColumns lossFactor) {
  /** KFAC's source of output-gradient vectors. */
  public enum Fisher {
    /** {@code S_n ξ_k / sqrt(K)}, ξ_k standard normal: {@code E[S ξ ξ' S'] = S S' = H_n}. */
    MC,
    /**
     * The gradient of the loss at a label {@code y ~ softmax(f_n)} drawn from the model's predictive
     * distribution (the Fisher as BackPACK's and curvlinops' KFAC sample it): {@code E[g g'] =
     * diag(p) - p p' = H_n} for softmax cross-entropy.
     */
    SAMPLED;

    public String label() {
      return name().toLowerCase(Locale.ROOT);
    }

    public static Fisher parse(String s) {
      for (Fisher f : values()) if (f.label().equals(s)) return f;
      throw new UserError("unknown --fisher '" + s + "'; expected mc or sampled");
    }
  }

  public KfacOptions {
    if (fisher == null || lossFactor == null) throw new IllegalArgumentException("fisher and lossFactor are required");
    if (mcSamples < 1) throw new UserError("--mc-samples must be at least 1, not " + mcSamples);
  }

  /** One Monte-Carlo vector per sample, seed 0, the derived loss factor. */
  public static KfacOptions defaults() {
    return new KfacOptions(Fisher.MC, 1, 0, LossFactorColumns.derived());
  }

  /** These options with another seed (an optimizer draws new vectors each step). */
  public KfacOptions withSeed(long newSeed) {
    return new KfacOptions(fisher, mcSamples, newSeed, lossFactor);
  }

  /**
   * Refuses options the network's loss cannot take: {@code --fisher sampled} draws labels from
   * softmax(f), which only the crossentropy loss defines. The one place this is decided; commands
   * call it before any work, the strategy again when it samples.
   */
  public void checkFits(Network net) {
    if (fisher == Fisher.SAMPLED && !net.loss.op.name().equals("crossentropy"))
      throw new org.hbp.UserError("--fisher sampled draws labels from the model's distribution softmax(f), which only the crossentropy loss defines; the loss is "
          + net.loss.op.name() + ": use --fisher mc");
  }
}
