package org.hbp.runtime;

/** How a batch-averaged Hessian is propagated back through a module (paper Section 3). */
public enum Averaging {
  /** Eq. 8 (KFRA): the mean over samples of the per-sample products J_n' M J_n. */
  MEAN_OF_PRODUCTS,
  /** Eq. 9 (BDA): the product with the batch-averaged Jacobian, (mean J_n)' M (mean J_n). */
  PRODUCT_OF_MEANS
}
