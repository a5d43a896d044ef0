package org.hbp.cli;

import java.io.PrintWriter;
import org.hbp.dsl.DslException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code hbp} command line. */
@Command(name = "hbp", mixinStandardHelpOptions = true, version = "hbp 0.1.0",
    description = "Hessian backpropagation: derive curvature rules of neural-network modules from their forward expressions.",
    subcommands = {DeriveCommand.class, GenerateCommand.class, VerifyCommand.class, CurvatureCommand.class, BenchCommand.class, DemoCommand.class,
        TrainCommand.class, PlotCommand.class, ExperimentCommand.class, DevicesCommand.class,
        CommandLine.HelpCommand.class})
public final class Main implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(System.out);
  }

  /**
   * The stack of the thread that runs a command: derivation, simplification and code generation
   * recurse over expression trees, which the DSL bounds by {@code Nesting.MAX_DEPTH} levels; the
   * JVM's default (about 1 MiB) is too small for the deepest trees a derivation builds from them.
   * Reserved, not committed: untouched pages cost nothing.
   */
  static final long COMMAND_STACK_BYTES = 1L << 30;

  public static void main(String[] args) throws InterruptedException {
    int[] status = {1};
    PrintWriter out = new PrintWriter(System.out, true), err = new PrintWriter(System.err, true);
    Thread command = new Thread(null, () -> status[0] = execute(args, out, err), "hbp", COMMAND_STACK_BYTES);
    command.start();
    command.join();
    System.exit(status[0]);
  }

  /** Runs a command line; errors in input print one clear line to err and give exit status 2. */
  public static int execute(String[] args, PrintWriter out, PrintWriter err) {
    CommandLine cl = new CommandLine(new Main());
    cl.setOut(out);
    cl.setErr(err);
    cl.setExecutionExceptionHandler((ex, line, parsed) -> {
      if (ex instanceof DslException || ex instanceof IllegalArgumentException || ex instanceof org.hbp.io.NpyException
          || ex instanceof java.io.IOException || ex instanceof org.hbp.codegen.CodegenException
          || ex instanceof org.hbp.train.DivergedException || ex instanceof org.hbp.backend.opencl.OpenClException) {
        err.println("hbp: " + (ex instanceof java.io.IOException io ? org.hbp.io.IoErrors.describe(io) : ex.getMessage()));
        err.flush();
        return 2;
      }
      throw ex;
    });
    try {
      return cl.execute(args);
    } catch (StackOverflowError e) {
      err.println("hbp: the input is too deeply nested for hbp's recursion (nesting is limited to a few hundred levels; "
          + "run from the hbp command, whose stack is larger, or split the expression)");
      err.flush();
      return 2;
    }
  }
}
