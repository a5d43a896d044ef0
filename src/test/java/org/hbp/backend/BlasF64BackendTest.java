package org.hbp.backend;

import org.hbp.backend.blas.BlasBackend;

/**
 * The OpenBLAS backend in float64 against the contract checks of {@link AbstractBackendTest}, to
 * 1e-12 like the CPU backend (dgemm sums in another order than the references; at these sizes
 * that moves results by a few units of 1e-16).
 */
class BlasF64BackendTest extends AbstractBackendTest {
  @Override
  protected Backend createBackend() {
    return new BlasBackend(Precision.FLOAT64);
  }

  @Override
  protected String expectedName() {
    return "blas-f64";
  }

  @Override
  protected Precision precision() {
    return Precision.FLOAT64;
  }

  @Override
  protected double tolerance() {
    return 1e-12;
  }
}
