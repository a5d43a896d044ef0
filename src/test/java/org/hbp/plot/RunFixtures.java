package org.hbp.plot;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/** Writes run directories in the format of {@code hbp train}, for tests. */
public final class RunFixtures {
  private RunFixtures() {
  }

  /** A run directory with config.json and the given metrics.csv body (lines after the header). */
  public static Path run(Path dir, String label, Long seed, String body) throws IOException {
    Files.createDirectories(dir);
    StringBuilder config = new StringBuilder("{\n  \"optimizer\": \"sgd\",\n");
    if (label != null) config.append("  \"label\": \"").append(label).append("\",\n");
    if (seed != null) config.append("  \"seed\": ").append(seed).append(",\n");
    config.append("  \"epochs\": 3\n}\n");
    Files.writeString(dir.resolve("config.json"), config.toString());
    Files.writeString(dir.resolve("metrics.csv"), RunMetrics.HEADER + "\n" + body);
    return dir;
  }

  /**
   * A synthetic run: {@code epochs + 1} rows of smoothly decreasing losses and increasing accuracy,
   * shifted by {@code offset} (different per seed), wall time {@code secondsPerEpoch} per epoch.
   */
  public static Path synthetic(Path dir, String label, long seed, int epochs, double offset, double secondsPerEpoch) throws IOException {
    StringBuilder b = new StringBuilder();
    for (int e = 0; e <= epochs; e++) {
      double test = 2.3 * Math.exp(-0.35 * e) + 0.25 + offset, train = test - 0.04 * e / (1.0 + e);
      double acc = Math.min(1, 0.1 + 0.8 * (1 - Math.exp(-0.5 * e)) - offset / 4);
      b.append(String.format(Locale.ROOT, "%d,%d,%d,%s,%s,%s,%s,%s,%s%n", e, e * 100, e * 6000L, Double.toString(e * secondsPerEpoch),
          Double.toString(train), Double.toString(acc + 0.01), Double.toString(test), Double.toString(acc), e == 0 ? "NaN" : "7.0"));
    }
    return run(dir, label, seed, b.toString());
  }
}
