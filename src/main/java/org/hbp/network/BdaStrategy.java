package org.hbp.network;

import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.runtime.Averaging;

/**
 * BDA (paper eq. 9): the batch-averaged Hessian is propagated back with the batch-averaged
 * Jacobian, {@code H̄_x = (mean_n J_n)' H̄_z (mean_n J_n) + mod(mean_n R_n)}.
 */
final class BdaStrategy extends ExplicitStrategy {
  BdaStrategy() {
    super(Averaging.PRODUCT_OF_MEANS);
  }

  /** {@code (mean_n J_n)' H (mean_n J_n)}. */
  @Override
  Batch averagedProduct(Backend be, Batch jacobians, Batch h, int samples) {
    Batch mean = be.meanSamples(jacobians, samples);
    return be.matmul(mean, true, be.matmul(h, false, mean, false), false);
  }

  /** {@code (mean_n a_n)(mean_n a_n)'}, kept as its rank-one factor ({@link KroneckerLeft#outerProductOfMean}). */
  @Override
  KroneckerLeft kroneckerLeft(Backend be, Batch a, int samples, int outputs) {
    return KroneckerLeft.outerProductOfMean(be, a, samples);
  }

  /** {@code mean_n J_n v}: the averaged Jacobian applied to the directions. */
  @Override
  Batch parameterDirections(Backend be, Batch jv, int samples) {
    return be.meanSamples(jv, samples);
  }
}
