package org.hbp;

import java.io.IOException;
import java.util.concurrent.TimeUnit;

/** Whether an external tool the tests use (node, python3 with numpy) is there. */
public final class ExternalTools {
  private ExternalTools() {}

  /**
   * Whether {@code command} starts and exits with status 0 within {@code timeoutSeconds}; false when
   * it cannot be started (not on the PATH) or is interrupted.
   */
  public static boolean succeeds(long timeoutSeconds, String... command) {
    try {
      Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
      p.getInputStream().readAllBytes();
      return p.waitFor(timeoutSeconds, TimeUnit.SECONDS) && p.exitValue() == 0;
    } catch (IOException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }
}
