package org.hbp.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.InvalidPathException;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.hbp.UserError;
import org.hbp.backend.opencl.OpenClException;
import org.hbp.io.IoErrors;
import picocli.CommandLine.Command;
import picocli.CommandLine;

/** The {@code hbp} command line. */
@Command(name = "hbp", mixinStandardHelpOptions = true, version = "hbp 0.1.0",
    description = "Hessian backpropagation: derive curvature rules of neural-network modules from their forward expressions.")
public final class Main implements Runnable {
  /**
   * The subcommands by name, in the order {@code hbp --help} lists them. picocli builds a command's
   * model (every option, mixin and converter) when the command is added; {@link #commandLine(String[])}
   * adds only the one a command line runs, which saves most of the start-up of a short command.
   */
  static final Map<String, Class<?>> COMMANDS = commands();

  private static Map<String, Class<?>> commands() {
    Map<String, Class<?>> m = new LinkedHashMap<>();
    m.put("derive", DeriveCommand.class);
    m.put("generate", GenerateCommand.class);
    m.put("verify", VerifyCommand.class);
    m.put("import", ImportCommand.class);
    m.put("curvature", CurvatureCommand.class);
    m.put("gradients", GradientsCommand.class);
    m.put("spectrum", SpectrumCommand.class);
    m.put("bench", BenchCommand.class);
    m.put("demo", DemoCommand.class);
    m.put("train", TrainCommand.class);
    m.put("plot", PlotCommand.class);
    m.put("experiment", ExperimentCommand.class);
    m.put("devices", DevicesCommand.class);
    m.put("help", CommandLine.HelpCommand.class);
    return Collections.unmodifiableMap(m);
  }

  /** The command line with every subcommand (for {@code --help}, {@code help}, and unknown commands' suggestions). */
  static CommandLine commandLine() {
    CommandLine cl = new CommandLine(new Main());
    for (Map.Entry<String, Class<?>> c : COMMANDS.entrySet()) cl.addSubcommand(c.getKey(), c.getValue());
    return cl;
  }

  /**
   * The command line for {@code args}: when the first argument names a command other than
   * {@code help}, only that command (its own {@code --help} is the same), else every command.
   */
  static CommandLine commandLine(String[] args) {
    Class<?> command = args.length == 0 || args[0].equals("help") ? null : COMMANDS.get(args[0]);
    if (command == null) return commandLine();
    CommandLine cl = new CommandLine(new Main());
    cl.addSubcommand(args[0], command);
    return cl;
  }
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
    InterruptHint interrupted = InterruptHint.install(args, err);
    command.start();
    command.join();
    interrupted.finished();
    System.exit(status[0]);
  }

  /** Exit status of a command whose input was wrong. */
  static final int USER_ERROR = 2;

  /** Exit status of a command that failed through a bug of hbp. */
  static final int INTERNAL_ERROR = 1;

  /** Set to 1 to print the stack trace of an internal error. */
  static final String DEBUG_VARIABLE = "HBP_DEBUG";

  /**
   * Runs a command line; errors in input print one clear line to err and give exit status 2,
   * internal errors one line asking for a report (and the stack trace if {@code HBP_DEBUG=1}), exit 1.
   */
  public static int execute(String[] args, PrintWriter out, PrintWriter err) {
    return execute(args, out, err, "1".equals(System.getenv(DEBUG_VARIABLE)));
  }

  static int execute(String[] args, PrintWriter out, PrintWriter err, boolean debug) {
    return execute(commandLine(args), args, out, err, debug);
  }

  /** Runs {@code args} on a command line built by the caller (tests add commands of their own). */
  static int execute(CommandLine cl, String[] args, PrintWriter out, PrintWriter err, boolean debug) {
    cl.setOut(out);
    cl.setErr(err);
    cl.setParameterExceptionHandler((ex, given) -> {
      // a value an option converter refused: its message names the option and lists the choices
      if (ex.getCause() instanceof UserError e) return report(e, err, debug);
      err.println("hbp: " + parseError(ex));
      err.flush();
      return USER_ERROR;
    });
    cl.setExecutionExceptionHandler((ex, line, parsed) -> report(ex, err, debug));
    cl.setExecutionStrategy(parsed -> {
      // a command that draws bars reads HBP_PROGRESS before it runs (not for its help)
      CommandLine last = parsed.asCommandLineList().get(parsed.asCommandLineList().size() - 1);
      if (last.getCommand() instanceof DrawsProgress && !last.isUsageHelpRequested() && !last.isVersionHelpRequested()) {
        try {
          ProgressMode.current();
        } catch (UserError e) {
          return report(e, err, debug);
        }
      }
      return new CommandLine.RunLast().execute(parsed);
    });
    try {
      return cl.execute(args);
    } catch (StackOverflowError e) {
      err.println("hbp: the input is too deeply nested for hbp's recursion (nesting is limited to a few hundred levels; "
          + "run from the hbp command, whose stack is larger, or split the expression)");
      err.flush();
      return USER_ERROR;
    } catch (OutOfMemoryError e) {
      // the memory estimate should have refused this run before it started: a bug of the estimate
      err.println("hbp: internal error: out of memory (" + e.getMessage() + ") in a run the memory estimate let through; "
          + "lower --memory-limit, --batch or the directions, or use --strategy exact; please report (" + DEBUG_VARIABLE
          + "=1 prints the stack trace)");
      if (debug) e.printStackTrace(err);
      err.flush();
      return INTERNAL_ERROR;
    }
  }

  /**
   * One line for a command line picocli could not parse: what was wrong (an unknown option or
   * argument first, with picocli's suggestions, even when a required option is missing too), and
   * where the options are listed, instead of picocli's message followed by the whole usage.
   */
  static String parseError(CommandLine.ParameterException ex) {
    CommandLine where = ex.getCommandLine();
    String name = where.getCommandSpec().qualifiedName(" ");
    String help = (name.equals("hbp") || name.startsWith("hbp ") ? name : "hbp " + name) + " --help";
    List<String> unknown = where.getUnmatchedArguments();
    String what;
    if (!unknown.isEmpty()) {
      what = (unknown.size() == 1 ? "unknown option or argument " : "unknown options or arguments ")
          + unknown.stream().map(u -> "'" + u + "'").collect(Collectors.joining(", "));
      List<String> near = ex instanceof CommandLine.UnmatchedArgumentException u ? u.getSuggestions() : List.of();
      if (!near.isEmpty()) what += "; did you mean " + near.stream().map(u -> "'" + u + "'").collect(Collectors.joining(" or ")) + "?";
      if (!(ex instanceof CommandLine.UnmatchedArgumentException)) what += "; and " + lowerFirst(ex.getMessage());
    } else {
      what = lowerFirst(ex.getMessage());
    }
    return what + " (" + help + (where.getSubcommands().isEmpty() ? " lists the options)" : " lists the commands and options)");
  }

  private static String lowerFirst(String s) {
    return s == null || s.isEmpty() ? "invalid command line" : Character.toLowerCase(s.charAt(0)) + s.substring(1);
  }

  /** Prints an exception that ended a command and returns the exit status. */
  static int report(Throwable ex, PrintWriter err, boolean debug) {
    if (isUserError(ex)) {
      err.println("hbp: " + (ex instanceof IOException io ? IoErrors.describe(io) : ex.getMessage()));
    } else {
      err.println("hbp: internal error: " + ex + "; please report (" + DEBUG_VARIABLE + "=1 prints the stack trace)");
      if (debug) ex.printStackTrace(err);
    }
    err.flush();
    return isUserError(ex) ? USER_ERROR : INTERNAL_ERROR;
  }

  /** Whether an exception is an error in the user's input (exit 2) rather than a bug (exit 1). */
  static boolean isUserError(Throwable ex) {
    // a path given by the user that the file system cannot name (a NUL character, say)
    return ex instanceof UserError || ex instanceof IOException || ex instanceof InvalidPathException || ex instanceof OpenClException;
  }
}
