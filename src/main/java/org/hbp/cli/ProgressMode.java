package org.hbp.cli;

import java.io.PrintWriter;
import java.util.Locale;
import org.hbp.UserError;
import org.hbp.train.Progress;

/**
 * Whether the long commands draw progress bars on standard error: a bar redrawn in place when
 * standard error is a terminal, none when it is redirected (the output stays plain). The variable
 * {@code HBP_PROGRESS} (or {@code -Dhbp.progress}) forces {@code bar}, {@code lines} (plain lines,
 * for logs) or {@code off}. The {@code hbp} launcher says whether standard error is a terminal
 * ({@code -Dhbp.stderr.terminal}, from {@code [ -t 2 ]}); without it ({@code java -jar}), a
 * console (standard input and output terminals) counts as one.
 */
enum ProgressMode {
  OFF, LINES, BAR;

  /** The variable that forces a mode. */
  static final String VARIABLE = "HBP_PROGRESS";

  /** The mode of this process. */
  static ProgressMode current() {
    return of(forced(), System.getProperty("hbp.stderr.terminal"), System.console() != null);
  }

  /**
   * The mode of bars drawn on standard output, with a command's own lines ({@code experiment},
   * {@code demo}): as forced ({@code HBP_PROGRESS}, {@code -Dhbp.progress}), else {@link #BAR}
   * when standard output is a terminal (a console), else {@link #OFF}. As {@code train} does, a
   * training run draws its bar as plain lines when not forced and not on a terminal (a log), and
   * none when forced off ({@link #forcedOff()}).
   */
  static ProgressMode onStandardOutput() {
    return of(forced(), null, System.console() != null);
  }

  /** The mode the user forced ({@code -Dhbp.progress}, else {@code HBP_PROGRESS}), as given; null or empty when none. */
  private static String forced() {
    return System.getProperty("hbp.progress", System.getenv(VARIABLE));
  }

  /**
   * Whether the user forced {@link #OFF}: {@code train}, which prints lines where other commands
   * print nothing (standard error redirected), draws no bar then.
   */
  static boolean forcedOff() {
    return current() == OFF && forced() != null && !forced().isEmpty();
  }

  /**
   * The mode {@code forced} names, else {@link #BAR} when standard error is a terminal
   * ({@code stderrTerminal} "true"; when null, {@code console} decides), else {@link #OFF}.
   */
  static ProgressMode of(String forced, String stderrTerminal, boolean console) {
    if (forced != null && !forced.isEmpty()) {
      for (ProgressMode m : values()) if (m.name().toLowerCase(Locale.ROOT).equals(forced)) return m;
      throw new UserError(VARIABLE + "='" + forced + "': expected bar, lines or off");
    }
    boolean terminal = stderrTerminal != null ? Boolean.parseBoolean(stderrTerminal) : console;
    return terminal ? BAR : OFF;
  }

  /** A bar of {@code total} steps on {@code err} in this mode ({@link Progress#none()} when off). */
  Progress bar(PrintWriter err, String prefix, int total) {
    return this == OFF ? Progress.none() : Progress.steps(err, this == BAR, prefix, total);
  }
}
