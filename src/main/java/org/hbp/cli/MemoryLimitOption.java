package org.hbp.cli;

import org.hbp.UserError;
import picocli.CommandLine.Option;

/** The {@code --memory-limit} option of the commands that estimate a run's memory first (curvature, gradients, spectrum, train, bench, experiment). */
final class MemoryLimitOption {
  @Option(names = "--memory-limit", defaultValue = Defaults.MEMORY_LIMIT_GIB, paramLabel = "GiB",
      description = "Refuse a run whose estimated memory exceeds this (default: ${DEFAULT-VALUE} GiB).")
  double gib;

  /** The limit in bytes. */
  long bytes() {
    return bytes(gib);
  }

  /** {@code gib} GiB in bytes; it must be positive. */
  static long bytes(double gib) {
    if (!(gib > 0)) throw new UserError("--memory-limit must be > 0 GiB, not " + gib);
    return (long) Math.min(gib * (1L << 30), Long.MAX_VALUE);
  }
}
