package org.hbp.backend;

import org.hbp.backend.blas.BlasBackend;

/**
 * The OpenBLAS backend in float32 against the contract checks of {@link AbstractBackendTest}, to
 * 1e-4 relative to max(1, |expected|): float's unit roundoff 2^-24 (about 6e-8) times the at most
 * ~10-term accumulations of these sizes is about 1e-6; see {@link AbstractBackendTest}.
 */
class BlasF32BackendTest extends AbstractBackendTest {
  BlasF32BackendTest() {
    super(() -> new BlasBackend(Precision.FLOAT32), "blas-f32", Precision.FLOAT32, 1e-4);
  }
}
