package org.hbp.network;

import org.hbp.backend.Batch;

/**
 * A factor of each sample's loss Hessian with respect to the network's output: columns
 * {@code s_{n,1..r}} with {@code S_n S_n' = H_n = d²ℓ(f_n, y_n)/df_n²} (the per-sample loss, not
 * divided by N). Curvature that is built from the loss Hessian's square root (KFLR's and EKFAC's
 * exact factors, KFAC's Monte-Carlo vectors {@code S_n ξ}) propagates these columns back instead
 * of the Hessian.
 *
 * <p>{@link #derived()} (the default) is the factor derived symbolically along the loss's PSD
 * proof and generated into its operator ({@link Pass#lossFactor()}); {@link #eigen()} factors the
 * dense per-sample Hessian numerically instead (a second, independent route: the tests compare them).
 */
public interface LossFactorColumns {
  /**
   * The columns for a pass: {@code [N x r]} items in the loss input's item shape, direction c of
   * sample n being {@code s_{n,c}}, with {@code sum_c s_{n,c} s_{n,c}' = H_n}.
   */
  Batch columns(Pass pass);

  /**
   * The derived factor ({@link Pass#lossFactor()}, {@code LossOperator.factor}): exact, cheap (e.g.
   * {@code diag(sqrt(p)) - p*sqrt(p)'} for cross-entropy), and refused with a {@code UserError}
   * naming the loss where its Hessian is not proven positive semi-definite.
   */
  static LossFactorColumns derived() {
    return Pass::lossFactor;
  }

  /**
   * The factor {@code S_n = Q_n sqrt(max(Λ_n, 0))} of the eigendecomposition {@code H_n = Q_n Λ_n
   * Q_n'} of the dense per-sample loss Hessian ({@code LossOperator.hessian}); r is the number of
   * network outputs. Exact for a positive semi-definite loss Hessian (every loss whose Hessian the
   * PSD prover certifies); for another loss the negative eigenvalues are dropped, which is the
   * factor of its nearest PSD matrix, and the result is the curvature of that.
   */
  static LossFactorColumns eigen() {
    return EigenLossFactor.INSTANCE;
  }
}
