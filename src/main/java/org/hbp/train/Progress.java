package org.hbp.train;

import java.io.PrintWriter;
import java.util.Locale;

/**
 * A progress bar: on a terminal, one line redrawn in place ({@code \r}, at most five times a
 * second, padded so that a shorter line leaves no characters of the longer one before it); in a
 * log (CI, pipes), a few plain lines. Two kinds: an epoch of training (loss and throughput; lines
 * at each quarter) and a count of steps with a description of the current one (bench, verify; a
 * line per step, at most {@value #STEP_LINES} lines).
 */
public final class Progress {
  /** Most lines a step bar prints in a log. */
  static final int STEP_LINES = 20;

  /**
   * The terminal's width in columns ({@code -Dhbp.terminal.columns}, which the {@code hbp} launcher
   * sets; 0: unknown): a line redrawn in place must fit on one row, or {@code \r} returns only to
   * the start of its last row.
   */
  private static final int COLUMNS = Integer.getInteger("hbp.terminal.columns", 0);

  /** Whether some bar has drawn a line on a terminal that it has not ended yet (what an interrupt must end). */
  private static volatile boolean lineOpen;

  private final PrintWriter out;
  private final boolean interactive;
  private final String prefix;
  private final int total;
  private final int logLines;
  private final long start = System.nanoTime();
  private long lastDraw;
  private int lastLogLine;
  private int drawnLength;

  /** A bar for one epoch of {@code total} mini-batches. */
  Progress(PrintWriter out, boolean interactive, String prefix, int total) {
    this(out, interactive, prefix, total, 4, 0);
  }

  private Progress(PrintWriter out, boolean interactive, String prefix, int total, int logLines, int firstLogLine) {
    this.out = out;
    this.interactive = interactive;
    this.prefix = prefix;
    this.total = total;
    this.logLines = logLines;
    this.lastLogLine = firstLogLine;
  }

  /**
   * A bar of {@code total} steps on {@code out}: redrawn in place if {@code interactive}, else a
   * line whenever a step starts (at most {@value #STEP_LINES}).
   */
  public static Progress steps(PrintWriter out, boolean interactive, String prefix, int total) {
    return new Progress(out, interactive, prefix, total, Math.min(Math.max(total, 1), STEP_LINES), -1);
  }

  /** A bar that draws nothing. */
  public static Progress none() {
    return new Progress(null, false, "", 0, 1, 0);
  }

  /** Whether a bar's line is open on the terminal: an interrupt ends it before printing. */
  public static boolean lineOpen() {
    return lineOpen;
  }

  /** After {@code done} of {@code total} steps, with the running mean loss and throughput. */
  void update(int done, double loss, long samples) {
    double seconds = seconds();
    String tail = String.format(Locale.ROOT, "loss %s  %.0f samples/s  %s", MetricFormat.of(loss), samples / Math.max(seconds, 1e-9), timing(done, seconds));
    draw(done, fit(done, tail));
  }

  /** {@code done} of {@code total} steps finished; {@code detail} says what runs now. */
  public void step(int done, String detail) {
    draw(done, fit(done, detail + "  " + timing(done, seconds())));
  }

  /** The line of {@code done} steps and {@code tail}, on a terminal within its width: a narrower bar, then cut. */
  private String fit(int done, String tail) {
    return fit(done, tail, interactive ? COLUMNS : 0);
  }

  /**
   * {@code prefix [bar] pct done/total  tail} within {@code columns - 1} characters (0: any
   * length): the bar narrowed down to {@value #MIN_BAR} characters first, then the end cut.
   */
  String fit(int done, String tail, int columns) {
    String line = line(done, tail, BAR);
    if (columns <= 0 || line.length() < columns) return line;
    line = line(done, tail, Math.max(MIN_BAR, BAR - (line.length() - columns + 1)));
    return line.length() < columns ? line : line.substring(0, columns - 1);
  }

  private static final int BAR = 24, MIN_BAR = 8;

  private String line(int done, String tail, int barWidth) {
    return prefix + " " + counter(done, barWidth) + "  " + tail;
  }

  /**
   * Takes the bar off the terminal (blanks over its line, the cursor at its start), so that other
   * output can be printed there; the next step draws it again.
   */
  public void clear() {
    if (out == null || drawnLength == 0) return;
    out.print("\r" + " ".repeat(drawnLength) + "\r");
    out.flush();
    drawnLength = 0;
    lineOpen = false;
  }

  /** Ends the bar's line on a terminal if it is still open (the last step ends it by itself). */
  public void close() {
    if (out == null || drawnLength == 0) return;
    out.println();
    out.flush();
    drawnLength = 0;
    lineOpen = false;
  }

  private double seconds() {
    return (System.nanoTime() - start) / 1e9;
  }

  private void draw(int done, String line) {
    if (out == null) return;
    long now = System.nanoTime();
    if (interactive) {
      if (done == total || now - lastDraw > 200_000_000L || drawnLength == 0) {
        out.print(redraw(drawnLength, line));
        drawnLength = line.length();
        lineOpen = true;
        if (done == total) {
          out.println();
          drawnLength = 0;
          lineOpen = false;
        }
        out.flush();
        lastDraw = now;
      }
    } else {
      int logLine = total == 0 ? logLines : (int) ((long) logLines * done / total);
      if (logLine > lastLogLine || done == total) {
        out.println(line);
        out.flush();
        lastLogLine = logLine;
      }
    }
  }

  /**
   * What redraws a terminal line that shows {@code previousLength} characters as {@code next}: a
   * carriage return, the new line, and blanks over what the old line had beyond it.
   */
  static String redraw(int previousLength, String next) {
    return "\r" + next + " ".repeat(Math.max(0, previousLength - next.length()));
  }

  /** {@code [#####...]  42% 5/12}, the bar {@code width} characters wide. */
  private String counter(int done, int width) {
    int filled = total == 0 ? width : (int) ((long) width * done / total);
    return String.format(Locale.ROOT, "[%s%s] %3d%% %d/%d", "#".repeat(filled), ".".repeat(width - filled),
        total == 0 ? 100 : 100 * done / total, done, total);
  }

  /** {@code ETA m:ss} while running (from the mean time per step so far), {@code took m:ss} at the end. */
  private String timing(int done, double seconds) {
    double eta = done == 0 ? Double.NaN : seconds * (total - done) / done;
    return (done == total ? "took " : "ETA ") + clock(done == total ? seconds : eta);
  }

  static String clock(double seconds) {
    if (!Double.isFinite(seconds)) return "?";
    long s = Math.round(seconds);
    return s >= 3600 ? String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
        : String.format(Locale.ROOT, "%d:%02d", s / 60, s % 60);
  }
}
