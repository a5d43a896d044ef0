package org.hbp.cli;

import java.io.IOException;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/** Finds a Python that has PyTorch, for the PyTorch comparisons. */
public final class Python {
  private Python() {}

  /** The Python found by the first successful {@link #withTorch}: the probe imports torch, about 2 s. */
  private static volatile String found;

  /**
   * The first of {@code python3} and Debian's {@code /usr/bin/python3} that imports torch (a pyenv
   * {@code python3} on PATH may lack Debian's {@code python3-torch}). Found once per JVM; a search
   * that found none is repeated at the next call.
   */
  public static Optional<String> withTorch() {
    if (found != null) return Optional.of(found);
    for (String py : new String[] {"python3", "/usr/bin/python3"}) {
      try {
        Process p = new ProcessBuilder(py, "-c", "import torch").redirectErrorStream(true).start();
        p.getInputStream().readAllBytes();
        if (p.waitFor(120, TimeUnit.SECONDS) && p.exitValue() == 0) {
          found = py;
          return Optional.of(py);
        }
      } catch (IOException e) {
        // try the next
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return Optional.empty();
      }
    }
    return Optional.empty();
  }
}
