package org.hbp.cli;

import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * The base of hbp's subcommands: {@code -h}/{@code -V} (picocli applies a superclass's
 * {@code @Command} attributes to its subclasses), and the command line's output and error writers,
 * which {@link Main#execute} sets (tests read them back).
 */
@Command(mixinStandardHelpOptions = true)
abstract class HbpCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  /** The command line's standard output. */
  PrintWriter out() {
    return spec.commandLine().getOut();
  }

  /** The command line's error output. */
  PrintWriter err() {
    return spec.commandLine().getErr();
  }

  /** One line on the command line's error output, "hbp: ...": a notice, e.g. that a quantity is computed in chunks of samples. */
  void notice(String line) {
    err().println("hbp: " + line);
    err().flush();
  }
}
