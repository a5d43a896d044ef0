package org.hbp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.hbp.cli.Python;

/** Whether an external tool the tests use (node, python3 with numpy) is there; the PyTorch reference scripts. */
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

  /**
   * Runs the PyTorch reference {@code script} of src/test/resources/torch with {@code args}, on the
   * python3 that has torch (CI installs python3-torch in .ci/run); fails with its log if it fails.
   * A missing torch is a failure, not a skip.
   */
  public static void runTorchScript(String script, String... args) throws Exception {
    List<String> command = new ArrayList<>(List.of(Python.withTorch().orElse("python3"),
        Path.of("src/test/resources/torch", script).toAbsolutePath().toString()));
    command.addAll(List.of(args));
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String log = new String(p.getInputStream().readAllBytes());
    assertTrue(p.waitFor(600, TimeUnit.SECONDS), "python timed out");
    assertEquals(0, p.exitValue(), "the PyTorch reference needs python3 with torch (.ci/run installs python3-torch):\n" + log);
  }
}
