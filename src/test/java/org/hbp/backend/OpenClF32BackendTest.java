package org.hbp.backend;

import org.hbp.backend.opencl.OpenClBackend;
import org.hbp.backend.opencl.OpenClTestSupport;
import org.junit.jupiter.api.BeforeAll;

/**
 * The OpenCL backend in float32 (PoCL on the CPU here, a GPU where there is one; the device from
 * {@code HBP_OPENCL_DEVICE}, else the default) against the contract checks of {@link
 * AbstractBackendTest}, to 1e-4 relative to max(1, |expected|) as the BLAS float32 backend:
 * float's unit roundoff 2^-24 times the at most ~10-term sums of these sizes is about 1e-6, and
 * OpenCL's few ulp more for division and the exponential stay far below the margin. Without
 * OpenCL the class is skipped, or fails when {@code CI} is set ({@link OpenClTestSupport}).
 */
class OpenClF32BackendTest extends AbstractBackendTest {
  @BeforeAll
  static void openCl() {
    OpenClTestSupport.requireOpenCl();
  }

  OpenClF32BackendTest() {
    super(() -> new OpenClBackend(Precision.FLOAT32, OpenClTestSupport.deviceIndex()), "opencl-f32", Precision.FLOAT32, 1e-4);
  }
}
