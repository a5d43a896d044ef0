package org.hbp.train;

import java.io.PrintWriter;
import java.util.Locale;

/**
 * A progress bar for one epoch on a terminal ({@code \r} redraws, at most five per second), or,
 * when the output is not a terminal (CI logs, pipes), one line at each quarter of the epoch.
 */
final class Progress {
  private final PrintWriter out;
  private final boolean interactive;
  private final String prefix;
  private final int total;
  private final long start = System.nanoTime();
  private long lastDraw;
  private int lastQuarter;

  Progress(PrintWriter out, boolean interactive, String prefix, int total) {
    this.out = out;
    this.interactive = interactive;
    this.prefix = prefix;
    this.total = total;
  }

  /** After {@code done} of {@code total} steps, with the running mean loss and throughput. */
  void update(int done, double loss, long samples) {
    long now = System.nanoTime();
    double seconds = (now - start) / 1e9;
    String line = line(done, loss, samples / Math.max(seconds, 1e-9), seconds);
    if (interactive) {
      if (done == total || now - lastDraw > 200_000_000L) {
        out.print("\r" + line);
        if (done == total) out.println();
        out.flush();
        lastDraw = now;
      }
    } else {
      int quarter = total == 0 ? 4 : 4 * done / total;
      if (quarter > lastQuarter || done == total) {
        out.println(line);
        out.flush();
        lastQuarter = quarter;
      }
    }
  }

  String line(int done, double loss, double samplesPerSecond, double seconds) {
    int width = 24, filled = total == 0 ? width : (int) ((long) width * done / total);
    double eta = done == 0 ? Double.NaN : seconds * (total - done) / done;
    return String.format(Locale.ROOT, "%s [%s%s] %3d%% %d/%d  loss %.4f  %.0f samples/s  %s %s", prefix, "#".repeat(filled),
        ".".repeat(width - filled), total == 0 ? 100 : 100 * done / total, done, total, loss, samplesPerSecond,
        done == total ? "took" : "ETA", clock(done == total ? seconds : eta));
  }

  static String clock(double seconds) {
    if (!Double.isFinite(seconds)) return "?";
    long s = Math.round(seconds);
    return s >= 3600 ? String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
        : String.format(Locale.ROOT, "%d:%02d", s / 60, s % 60);
  }
}
