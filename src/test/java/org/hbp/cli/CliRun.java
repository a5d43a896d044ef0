package org.hbp.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import picocli.CommandLine;

/** One run of a command line in this JVM through {@link Main#execute}'s error handling: exit status, standard output, error output. */
record CliRun(int code, String out, String err) {
  /** Runs {@code hbp args}. */
  static CliRun hbp(String... args) {
    StringWriter out = new StringWriter(), err = new StringWriter();
    int code = Main.execute(args, new PrintWriter(out, true), new PrintWriter(err, true));
    return new CliRun(code, out.toString(), err.toString());
  }

  /** Runs {@code args} on the command line {@code cl} (one command alone), without stack traces. */
  static CliRun on(CommandLine cl, String... args) {
    StringWriter out = new StringWriter(), err = new StringWriter();
    int code = Main.execute(cl, args, new PrintWriter(out, true), new PrintWriter(err, true), false);
    return new CliRun(code, out.toString(), err.toString());
  }

  /** Asserts the exit status; a failure shows both outputs. */
  void assertExit(int expected) {
    assertEquals(expected, code, () -> "exit status; out and err were:\n" + out + err);
  }

  /** Asserts that neither output shows an exception or a stack trace. */
  void assertNoStackTrace() {
    String all = out + err;
    assertFalse(all.contains("Exception") || all.contains("\tat org."), all);
  }

  /** Asserts that standard output contains each of {@code texts}; a failure shows the output. */
  void assertOutContains(String... texts) {
    for (String t : texts) assertTrue(out.contains(t), () -> "expected '" + t + "' in the output:\n" + out);
  }

  /** The lines of standard output. */
  List<String> outLines() {
    return out.lines().toList();
  }

  /** The last line of standard output, "" if none. */
  String lastOutLine() {
    List<String> l = outLines();
    return l.isEmpty() ? "" : l.get(l.size() - 1);
  }
}
