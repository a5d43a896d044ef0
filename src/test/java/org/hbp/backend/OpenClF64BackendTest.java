package org.hbp.backend;

import org.hbp.backend.opencl.OpenClBackend;
import org.hbp.backend.opencl.OpenClTestSupport;
import org.junit.jupiter.api.BeforeAll;

/**
 * The OpenCL backend in float64 (PoCL on the CPU here, a GPU where there is one; the device from
 * {@code HBP_OPENCL_DEVICE}, else the default) against the contract checks of {@link
 * AbstractBackendTest}, to 1e-12 absolutely like the CPU and BLAS backends: OpenCL's double exp,
 * log and pow are within a few ulp, and sums run in another order than the references, which at
 * these sizes moves results by a few units of 1e-16. Without OpenCL the class is skipped, or
 * fails when {@code CI} is set ({@link OpenClTestSupport}).
 */
class OpenClF64BackendTest extends AbstractBackendTest {
  @BeforeAll
  static void openCl() {
    OpenClTestSupport.requireOpenCl();
  }

  OpenClF64BackendTest() {
    super(() -> new OpenClBackend(Precision.FLOAT64, OpenClTestSupport.deviceIndex()), "opencl-f64", Precision.FLOAT64, 1e-12);
  }
}
