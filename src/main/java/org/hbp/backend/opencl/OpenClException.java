package org.hbp.backend.opencl;

/**
 * A failure of the OpenCL backend that is not a caller's shape or argument error: no OpenCL
 * platform or device, a device without what the backend needs (fp64 for FLOAT64), a kernel that
 * does not build (the message carries the build log), device memory exhausted (the message names
 * the requested bytes), or an OpenCL call that failed (the message names the call and the error
 * code). Argument errors stay {@link IllegalArgumentException}s, as in every backend.
 */
public class OpenClException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** A failure with a message that says what happened and what to do. */
  public OpenClException(String message) {
    super(message);
  }

  /** A failure with a message and its cause (a JOCL {@code CLException} or a native-loading error). */
  public OpenClException(String message, Throwable cause) {
    super(message, cause);
  }
}
