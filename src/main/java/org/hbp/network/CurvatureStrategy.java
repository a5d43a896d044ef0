package org.hbp.network;

import java.util.List;
import org.hbp.backend.Batch;

/**
 * One way of propagating curvature back through a batch (paper Section 3): an approximation is
 * one implementation. {@link #prepare} does the work for one batch once (an explicit backward
 * pass of batch-averaged Hessians, or nothing but wiring for matrix-free products) and returns
 * the {@link Blocks}, which apply each parameter's block of the block-diagonal curvature to
 * directions. Which curvature flows back (Hessian, GGN, PCH) is not the strategy's choice: it
 * gets the {@link ResidualPolicy} and decides only where the modification applies (per sample,
 * or to the batch average).
 *
 * <p>The implementations: {@link ExactStrategy} (matrix-free, per sample), {@link KfraStrategy}
 * (eq. 8), {@link BdaStrategy} (eq. 9) and {@link KfacStrategy} (KFAC, KFLR, EKFAC);
 * {@link Strategy} is the user's choice among them.
 */
interface CurvatureStrategy {
  /**
   * Prepares the curvature of one batch; refuses (naming the layer) where the strategy's explicit
   * matrices would exceed {@code memoryLimitBytes}.
   */
  Blocks prepare(Pass pass, ResidualPolicy policy, long memoryLimitBytes);

  /**
   * {@link #prepare}, telling {@code notices} in one line where it does what the caller should know
   * of (the diagonals: that the batch is computed in chunks of samples).
   */
  default Blocks prepare(Pass pass, ResidualPolicy policy, long memoryLimitBytes, java.util.function.Consumer<String> notices) {
    return prepare(pass, policy, memoryLimitBytes);
  }

  /**
   * Refuses (naming the layer) where the strategy's explicit matrices for a batch of
   * {@code samples} would exceed {@code memoryLimitBytes}. {@link #prepare} calls it with its
   * batch; {@link MemoryEstimate} calls it with the run's batch size before it probes the run on a
   * small batch, so the probe never forms what the run would refuse.
   */
  default void checkMemory(Network net, int samples, long memoryLimitBytes) {}

  /**
   * Refuses (naming the layer, the merge or the option) a network and curvature that this strategy
   * does not define: the Kronecker-factored strategies a residual term that the curvature keeps, or
   * on a graph a shared instance; the diagonals a curvature other than their own. It reads only the
   * network's structure: {@link #prepare} calls it, and commands call it through
   * {@link Curvature#checkDefined} before they read a batch. Exact, kfra and bda define every
   * curvature (the default).
   */
  default void checkDefined(Network net, ResidualPolicy policy) {}

  /**
   * Whether {@link #prepare} fits its own working memory into the limit (in chunks of samples,
   * {@link SampleChunks}), so that a memory estimate counts what it keeps, not its preparation
   * scaled to the batch.
   */
  default boolean fitsItsPreparation() {
    return false;
  }

  /** The prepared curvature of one batch. */
  interface Blocks {
    /**
     * The block of a parameter applied to directions: V directions in the parameter's item shape
     * (one sample, already checked), result likewise. {@code var} is the parameter's variable in
     * the layer's operator.
     */
    Batch matProd(Network.LayerNode layer, String var, Batch v);

    /**
     * The block-diagonal part of the block over {@code blocks} row groups
     * ({@link Curvature#groupStarts}) in one product where the strategy has a cheaper form than
     * masking; null to let {@link Curvature} mask the directions and the products.
     */
    default Batch blockDiagonalMatProd(Network.LayerNode layer, String var, Batch v, int blocks) {
      return null;
    }

    /**
     * {@code (block + λ I)^-1 v} in closed form where the strategy has one (the Kronecker-factored
     * strategies, in their eigenbasis); null otherwise.
     */
    default Batch dampedInverse(Network.LayerNode layer, String var, Batch v, double lambda) {
      return null;
    }

    /** The Kronecker factors of a parameter's block where the strategy keeps them; null otherwise. */
    default KroneckerFactors kroneckerFactors(Network.LayerNode layer, String var) {
      return null;
    }

    /**
     * The joint block of all parameters of a layer (one block per layer, cross terms between its
     * parameters included) applied to directions for each of them, keyed by the operator's
     * variable (V directions each, in its item shape); the result likewise. Null where the
     * strategy has only per-parameter blocks.
     */
    default java.util.Map<String, Batch> layerMatProd(Network.LayerNode layer, java.util.Map<String, Batch> v) {
      return null;
    }

    /** Hands over what the blocks hold (explicit matrices, factors) for release, and forgets it. */
    List<Batch> drain();
  }
}
