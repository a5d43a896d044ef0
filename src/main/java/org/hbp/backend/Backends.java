package org.hbp.backend;

import java.util.List;
import org.hbp.backend.cpu.CpuBackend;

/** The backends by name, for the command line. */
public final class Backends {
  private Backends() {}

  /** The names {@link #create} accepts. */
  public static List<String> names() {
    return List.of("cpu");
  }

  /**
   * A backend by name: {@code cpu} (plain Java, float64).
   *
   * @param threads threads for backends that use them; 0 for all cores
   */
  public static Backend create(String name, int threads) {
    switch (name) {
      case "cpu":
        return new CpuBackend();
      default:
        throw new IllegalArgumentException("unknown backend '" + name + "'; expected one of " + names());
    }
  }
}
