package org.hbp.network;

import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.runtime.Averaging;

/**
 * KFRA (paper eq. 8): the batch-averaged Hessian is propagated back by the mean of the per-sample
 * products, {@code H̄_x = mean_n J_n' H̄_z J_n + mod(mean_n R_n)}.
 */
final class KfraStrategy extends ExplicitStrategy {
  KfraStrategy() {
    super(Averaging.MEAN_OF_PRODUCTS);
  }

  /** {@code mean_n J_n' H J_n}. */
  @Override
  Batch averagedProduct(Backend be, Batch jacobians, Batch h, int samples) {
    return be.meanSamples(be.matmul(jacobians, true, be.matmul(h, false, jacobians, false), false), samples);
  }

  /** {@code mean_n a_n a_n' = A A' / N}, factored where that is cheaper ({@link KroneckerLeft#meanOfOuterProducts}). */
  @Override
  KroneckerLeft kroneckerLeft(Backend be, Batch a, int samples, int outputs) {
    return KroneckerLeft.meanOfOuterProducts(be, a, samples, outputs);
  }

  /** The directions J_n v of each sample, as they are. */
  @Override
  Batch parameterDirections(Backend be, Batch jv, int samples) {
    return jv;
  }
}
