package org.hbp.backend;

import org.hbp.backend.cpu.CpuBackend;

/** The reference CPU backend against the contract checks of {@link AbstractBackendTest}, to 1e-12. */
class CpuBackendTest extends AbstractBackendTest {
  @Override
  protected Backend createBackend() {
    return new CpuBackend();
  }

  @Override
  protected String expectedName() {
    return "cpu";
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
