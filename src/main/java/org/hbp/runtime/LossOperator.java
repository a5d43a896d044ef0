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
}
