package org.hbp.cli;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.hbp.train.Progress;

/**
 * What hbp prints when it is interrupted (Ctrl-C) before a command ends: a shutdown hook ends the
 * progress bar's line, so that the shell's prompt starts on a line of its own, and for the commands
 * that continue an interrupted run says how: {@code hbp train ... --resume}, or {@code hbp
 * experiment ...} again.
 */
final class InterruptHint {
  private final List<String> args;
  private final PrintWriter err;
  private volatile boolean finished;

  private InterruptHint(List<String> args, PrintWriter err) {
    this.args = args;
    this.err = err;
  }

  /** Installs the hook for the command line {@code args}; {@link #finished} disarms it when the command ends. */
  static InterruptHint install(String[] args, PrintWriter err) {
    InterruptHint hint = new InterruptHint(List.of(args), err);
    Runtime.getRuntime().addShutdownHook(new Thread(hint::onShutdown, "hbp-interrupt-hint"));
    return hint;
  }

  /** The command ended (normally or with an error): nothing to say at shutdown. */
  void finished() {
    finished = true;
  }

  private void onShutdown() {
    if (finished) return;
    String out = optionValue(args, "--out");
    boolean started = false;
    try {
      started = out != null && Files.exists(Path.of(out).resolve("config.json"));
    } catch (InvalidPathException e) {
      // not a path: the run never started
    }
    err.print((Progress.lineOpen() ? "\n" : "") + message(args, started));
    err.flush();
  }

  /**
   * The message for an interrupted command line {@code args} (the subcommand first);
   * {@code runStarted}: {@code train}'s run folder holds a run ({@code config.json}).
   */
  static String message(List<String> args, boolean runStarted) {
    String command = args.isEmpty() ? "" : args.get(0);
    switch (command) {
      case "train":
        if (!runStarted)
          return "hbp: interrupted before the run started; start it again with:\n  " + TrainCommand.commandLine(args) + "\n";
        List<String> resume = new ArrayList<>(args);
        if (!resume.contains("--resume")) resume.add("--resume");
        return "hbp: interrupted; the run keeps its last checkpoint (the last finished epoch); continue it with:\n  "
            + TrainCommand.commandLine(resume) + "\n";
      case "experiment":
        return "hbp: interrupted; finished runs are kept, and the same command continues the others (the interrupted one from its "
            + "last checkpoint):\n  " + TrainCommand.commandLine(args) + "\n";
      default:
        return "hbp: interrupted\n";
    }
  }

  /** The value of option {@code name} in {@code args} ({@code --out DIR} or {@code --out=DIR}; the last one), or null. */
  static String optionValue(List<String> args, String name) {
    String value = null;
    for (int i = 0; i < args.size(); i++) {
      String a = args.get(i);
      if (a.equals(name) && i + 1 < args.size()) value = args.get(i + 1);
      else if (a.startsWith(name + "=")) value = a.substring(name.length() + 1);
    }
    return value;
  }
}
