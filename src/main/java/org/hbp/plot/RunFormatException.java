package org.hbp.plot;

import java.io.IOException;

/**
 * A run directory that cannot be read as one written by {@code hbp train}: missing, or with a
 * {@code metrics.csv} or {@code config.json} that does not have the expected form. The message names
 * the file (and line) and says what was expected.
 */
public final class RunFormatException extends IOException {
  private static final long serialVersionUID = 1L;

  public RunFormatException(String message) {
    super(message);
  }

  public RunFormatException(String message, Throwable cause) {
    super(message, cause);
  }
}
