package org.hbp.network;

import java.util.Map;
import java.util.function.Consumer;
import org.hbp.UserError;
import org.hbp.backend.Batch;

/**
 * The diagonal of each parameter's exact Hessian block of the mean loss, by HBP with diagonal
 * residuals (BackPACK's DiagHessian). The curvature at a layer's output is a signed sum of Gram
 * matrices, {@code H_z = sum_j σ_j C_j C_j'}: the loss factor S (σ = +1) at the network output,
 * and at the input of every module above with a diagonal residual {@code R = diag(r)} (per sample)
 * the two factors {@code diag(sqrt(max(r, 0)))} (σ = +1) and {@code diag(sqrt(max(-r, 0)))}
 * (σ = -1), whose signed Gram matrices add up to R. Every column set is propagated back through
 * the Jacobians (eq. 7: {@code J' H_z J + R}), and a parameter's diagonal is
 * {@code (1/N) sum_n [sum_j σ_j sum_c (J_θ' c)^2 + r_θ]} with its own diagonal residual r_θ.
 * A module with a general (non-diagonal) residual is refused, naming it.
 *
 * <p>One walk does it for every network ({@link GraphHessianDiagonal}): a graph's steps (branch
 * points, merges and their cross residuals, modules of several inputs, shared instances), and a
 * chain with residual blocks as the graph it is.
 */
public final class HessianDiagonal {
  private HessianDiagonal() {}

  /** A set of columns {@code [N x C]} and the sign of its Gram matrix. */
  record Columns(Batch batch, double sign) {}

  /**
   * The exact Hessian diagonal of every parameter's block, one item in the parameter's shape.
   *
   * @throws UserError when the loss has no certified factor, or a module has a general residual
   */
  public static Map<String, Batch> exact(Pass pass) {
    return exact(pass, Curvature.DEFAULT_MEMORY_LIMIT);
  }

  /**
   * The exact Hessian diagonal within {@code memoryLimitBytes}: the residual factors carry one
   * column per entry of a layer's input for every sample, so the column sets grow as {@code N *
   * numel * size}; where the whole batch does not fit, it is computed in chunks of samples
   * ({@link SampleChunks}), each with its own pass.
   *
   * @throws UserError as {@link #exact(Pass)}, and when not even one sample fits the limit
   */
  public static Map<String, Batch> exact(Pass pass, long memoryLimitBytes) {
    return exact(pass, memoryLimitBytes, line -> {});
  }

  /** {@link #exact(Pass, long)}, telling {@code notices} in one line when (and into how many chunks) it splits the batch. */
  public static Map<String, Batch> exact(Pass pass, long memoryLimitBytes, Consumer<String> notices) {
    return exact(pass, memoryLimitBytes, notices, WalkProgress.NONE);
  }

  /** As above, reporting the layers of each chunk's walk to {@code progress} (a progress bar). */
  public static Map<String, Batch> exact(Pass pass, long memoryLimitBytes, Consumer<String> notices, WalkProgress progress) {
    return SampleChunks.mean(pass, quantity(), memoryLimitBytes, notices, progress);
  }

  /** The Hessian diagonal in chunks of {@code chunk} samples, whatever the memory (tests). */
  static Map<String, Batch> exact(Pass pass, long memoryLimitBytes, int chunk) {
    return exact(pass, memoryLimitBytes, chunk, WalkProgress.NONE);
  }

  /** The same, reporting to {@code progress} (tests). */
  static Map<String, Batch> exact(Pass pass, long memoryLimitBytes, int chunk, WalkProgress progress) {
    return SampleChunks.mean(pass, quantity(), new SampleChunks.Plan(pass.samples(), chunk), memoryLimitBytes, line -> {}, progress);
  }

  private static SampleChunks.Quantity quantity() {
    return new SampleChunks.Quantity("the Hessian diagonal", "hessian-diagonal", "raise --memory-limit, or take the GGN diagonal (--diagonal exact)",
        (chunk, first, total, limit, ticks) -> GraphHessianDiagonal.sums(chunk, limit, ticks).sumBatches());
  }
}
