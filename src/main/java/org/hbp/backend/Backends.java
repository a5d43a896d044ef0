package org.hbp.backend;

import java.util.List;
import org.hbp.backend.blas.BlasBackend;
import org.hbp.backend.cpu.CpuBackend;

/** The backends by name, for the command line. */
public final class Backends {
  private Backends() {}

  /** The names {@link #create} accepts. */
  public static List<String> names() {
    return List.of("cpu", "blas-f64", "blas-f32");
  }

  /**
   * A backend by name: {@code cpu} (plain Java, float64), {@code blas-f64} / {@code blas-f32}
   * (OpenBLAS, off-heap, in float64 / float32).
   *
   * @param threads threads for backends that use them; 0 for all cores
   */
  public static Backend create(String name, int threads) {
    switch (name) {
      case "cpu":
        return new CpuBackend();
      case "blas-f64":
        return threads > 0 ? new BlasBackend(Precision.FLOAT64, threads) : new BlasBackend(Precision.FLOAT64);
      case "blas-f32":
        return threads > 0 ? new BlasBackend(Precision.FLOAT32, threads) : new BlasBackend(Precision.FLOAT32);
      default:
        throw new IllegalArgumentException("unknown backend '" + name + "'; expected one of " + names());
    }
  }
}
