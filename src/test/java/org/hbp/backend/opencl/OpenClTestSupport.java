package org.hbp.backend.opencl;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The one place that decides what OpenCL tests do without OpenCL: with the environment variable
 * {@code CI} set (to anything but an empty string or {@code false}) they FAIL with the reason (CI
 * installs PoCL, so a missing platform is a broken setup, not a reason to skip), otherwise they are
 * skipped through an assumption, with one line on standard error saying so. Call {@link
 * #requireOpenCl()} from a {@code @BeforeAll} method of every OpenCL test class.
 */
public final class OpenClTestSupport {
  private OpenClTestSupport() {}

  private static String reason;
  private static boolean checked;
  private static boolean told;

  /** Null when OpenCL has a device here, else why not (the OpenClException's message). */
  public static synchronized String unavailableReason() {
    if (!checked) {
      try {
        OpenClDevices.list();
        reason = null;
      } catch (OpenClException | LinkageError e) {
        reason = e.getMessage();
      }
      checked = true;
    }
    return reason;
  }

  /** Fails (CI) or skips (elsewhere) the calling test class when there is no OpenCL device. */
  public static void requireOpenCl() {
    String why = unavailableReason();
    if (why == null) return;
    if (inCi())
      fail("OpenCL tests need an OpenCL platform, and CI is set (CI installs ocl-icd-libopencl1 and pocl-opencl-icd): " + why);
    synchronized (OpenClTestSupport.class) {
      if (!told) System.err.println("OpenCL tests skipped (no OpenCL; with CI set they would fail): " + why);
      told = true;
    }
    assumeTrue(false, "OpenCL tests skipped (no OpenCL; with CI set they would fail): " + why);
  }

  /** Whether the environment variable CI is set to something other than empty or {@code false}. */
  public static boolean inCi() {
    String ci = System.getenv("CI");
    return ci != null && !ci.isBlank() && !ci.trim().equalsIgnoreCase("false");
  }

  /**
   * The device index the tests use: the system property or environment variable {@code
   * HBP_OPENCL_DEVICE}, else -1 (the default device).
   */
  public static int deviceIndex() {
    String v = System.getProperty("hbp.opencl.device", System.getenv("HBP_OPENCL_DEVICE"));
    return v == null || v.isBlank() ? -1 : Integer.parseInt(v.trim());
  }
}
