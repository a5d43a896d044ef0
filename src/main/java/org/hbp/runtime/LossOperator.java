package org.hbp.runtime;

import org.hbp.backend.Batch;

/**
 * The math of one loss (generated from a {@code loss} spec): the per-sample loss value, its
 * gradient and its Hessian (as products and densely) with respect to each input, where HBP starts.
 * Batches follow {@link ModuleOperator}'s conventions; averaging over the batch is the runtime's.
 */
public interface LossOperator extends Operator {
  /** The gradient of the per-sample loss with respect to an input, in its shape. */
  Batch gradient(ForwardCache cache, String wrt);

  /** H v with the per-sample Hessian with respect to an input. */
  Batch hessianMatProd(ForwardCache cache, String wrt, Batch v);

  /** The dense per-sample Hessian, numel x numel. */
  Batch hessian(ForwardCache cache, String wrt);

  /** Whether the derived Hessian is proven positive semi-definite. */
  boolean hessianIsPsd(String wrt);

  /**
   * The column counts r_i of the blocks of the derived factor {@code H = S S' = sum_i S_i S_i'} of
   * the per-sample Hessian with respect to an input (S = [S_1, ..., S_k], numel x r with r = sum
   * r_i); empty when no factor is certified (the Hessian is not proven PSD).
   */
  default int[] factorRanks(String wrt) {
    return new int[0];
  }

  /**
   * Why no factor is certified for an input: the derivation's reason that its Hessian is not
   * proven PSD, with the declaration or {@code assume} that would help where the derivation has
   * one (as {@code hbp derive} prints it); blank where a factor is certified or nothing is known.
   */
  default String noFactorReason(String wrt) {
    return "";
  }

  /**
   * {@code S_i u} with block i of the derived factor: u are [N x V] directions of r_i entries; the
   * result has the input's shape.
   *
   * @throws org.hbp.UserError when no factor is certified for the input
   */
  default Batch factorMatProd(ForwardCache cache, String wrt, int block, Batch u) {
    throw AbstractLossOperator.noFactor(name(), wrt, noFactorReason(wrt));
  }

  /**
   * The per-sample factor S of the Hessian with respect to an input, {@code H_n = S_n S_n'}: its r
   * columns as directions, {@code [N x r]} items of the input's shape (blocks in order; N the
   * forward batch's samples, also where S does not depend on the sample).
   *
   * @throws org.hbp.UserError when no factor is certified for the input
   */
  default Batch factor(ForwardCache cache, String wrt) {
    throw AbstractLossOperator.noFactor(name(), wrt, noFactorReason(wrt));
  }
}
