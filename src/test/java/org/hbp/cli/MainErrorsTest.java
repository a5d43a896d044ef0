package org.hbp.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.concurrent.Callable;
import org.hbp.UserError;
import org.hbp.backend.cpu.CpuBackend;
import org.hbp.network.CurvatureKind;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * How {@link Main} reports what ends a command: a {@link UserError} in one line with exit status
 * 2; a bug (an IllegalStateException, or a plain IllegalArgumentException from any package) as an
 * internal error, exit status 1, stack trace only when asked.
 */
class MainErrorsTest {
  /** A test-only command that fails as its argument says. */
  @Command(name = "fail")
  static final class Fail implements Callable<Integer> {
    @Parameters(index = "0") String how;

    @Override
    public Integer call() {
      switch (how) {
        case "user": throw new UserError("--x 'y': expected a or b");
        case "state": throw new IllegalStateException("counter went negative");
        case "argument": throw new IllegalArgumentException("order 0"); // thrown in org.hbp.cli: a bug
        case "network": CurvatureKind.parse("fisher"); return 0; // an input error of the network package: a UserError
        case "memory": throw new OutOfMemoryError("Cannot allocate new FloatPointer(536870912)");
        case "kernel": new CpuBackend().eye(-1); return 0; // a broken kernel precondition: a bug wherever it is thrown
        default: return 0;
      }
    }
  }

  record Run(int code, String err) {}

  private static Run run(boolean debug, String how) {
    StringWriter out = new StringWriter(), err = new StringWriter();
    int code = Main.execute(new CommandLine(new Fail()), new String[] {how}, new PrintWriter(out, true), new PrintWriter(err, true), debug);
    return new Run(code, err.toString());
  }

  /**
   * What ends the test command, the exit status and the one line on stderr (a prefix where the
   * line goes on with the standard advice): user errors exit 2 with their message; bugs, wherever
   * they are thrown, exit 1 as internal errors; running out of memory exits 1 with advice.
   */
  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', textBlock = """
      user     | 2 | hbp: --x 'y': expected a or b
      network  | 2 | hbp: unknown curvature 'fisher'; expected hessian, ggn, pch-abs or pch-clip
      state    | 1 | hbp: internal error: java.lang.IllegalStateException: counter went negative; please report
      argument | 1 | hbp: internal error: java.lang.IllegalArgumentException: order 0; please report
      kernel   | 1 | hbp: internal error: java.lang.IllegalArgumentException: eye: invalid size -1; please report
      memory   | 1 | hbp: internal error: out of memory (Cannot allocate new FloatPointer(536870912)) in a run the memory estimate let through; lower --memory-limit, --batch or the directions, or use --strategy exact; please report
      """)
  void oneLineAndTheExitStatus(String how, int status, String line) {
    Run r = run(false, how);
    assertEquals(status, r.code(), r.err());
    assertEquals(1, r.err().lines().count(), r.err());
    String expected = status == 1 ? line + " (HBP_DEBUG=1 prints the stack trace)\n" : line + "\n";
    assertEquals(expected, r.err());
  }

  @Test
  void theStackTraceOnlyWhenDebugging() {
    for (String how : new String[] {"state", "memory"}) {
      Run r = run(true, how);
      assertEquals(1, r.code());
      assertTrue(r.err().contains("\tat org.hbp.cli.MainErrorsTest$Fail.call("), r.err());
      assertFalse(run(false, how).err().contains("\tat "));
    }
  }
}
