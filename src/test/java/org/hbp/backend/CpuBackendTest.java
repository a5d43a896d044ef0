package org.hbp.backend;

import org.hbp.backend.cpu.CpuBackend;

/** The reference CPU backend against the contract checks of {@link AbstractBackendTest}, to 1e-12. */
class CpuBackendTest extends AbstractBackendTest {
  CpuBackendTest() {
    super(CpuBackend::new, "cpu", Precision.FLOAT64, 1e-12);
  }
}
