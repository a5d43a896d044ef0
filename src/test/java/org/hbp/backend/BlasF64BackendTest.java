package org.hbp.backend;

import org.hbp.backend.blas.BlasBackend;

/**
 * The OpenBLAS backend in float64 against the contract checks of {@link AbstractBackendTest}, to
 * 1e-12 like the CPU backend (dgemm sums in another order than the references; at these sizes
 * that moves results by a few units of 1e-16).
 */
class BlasF64BackendTest extends AbstractBackendTest {
  BlasF64BackendTest() {
    super(() -> new BlasBackend(Precision.FLOAT64), "blas-f64", Precision.FLOAT64, 1e-12);
  }
}
