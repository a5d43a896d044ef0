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

  @Test
  void aUserErrorIsOneLineWithStatus2() {
    Run r = run(false, "user");
    assertEquals(2, r.code());
    assertEquals("hbp: --x 'y': expected a or b\n", r.err());
  }

  @Test
  void anIllegalStateIsAnInternalErrorWithStatus1() {
    Run r = run(false, "state");
    assertEquals(1, r.code());
    assertEquals("hbp: internal error: java.lang.IllegalStateException: counter went negative; please report (HBP_DEBUG=1 prints the stack trace)\n",
        r.err());
  }

  @Test
  void anIllegalArgumentIsAnInternalError() {
    Run r = run(false, "argument");
    assertEquals(1, r.code());
    assertTrue(r.err().startsWith("hbp: internal error: java.lang.IllegalArgumentException: order 0; please report"), r.err());
    assertEquals(1, r.err().strip().lines().count(), r.err());
  }

  @Test
  void runningOutOfMemoryIsOneLineWithAdvice() {
    Run r = run(false, "memory");
    assertEquals(1, r.code());
    assertEquals("hbp: internal error: out of memory (Cannot allocate new FloatPointer(536870912)) in a run the memory estimate let "
        + "through; lower --memory-limit, --batch or the directions, or use --strategy exact; please report (HBP_DEBUG=1 prints the "
        + "stack trace)\n", r.err());
    assertTrue(run(true, "memory").err().contains("\tat org.hbp.cli.MainErrorsTest$Fail.call("));
  }

  @Test
  void theStackTraceOnlyWhenDebugging() {
    Run r = run(true, "state");
    assertEquals(1, r.code());
    assertTrue(r.err().contains("\tat org.hbp.cli.MainErrorsTest$Fail.call("), r.err());
    assertFalse(run(false, "state").err().contains("\tat "));
  }

  @Test
  void anIllegalArgumentFromABackendIsAnInternalError() {
    Run r = run(false, "kernel");
    assertEquals(1, r.code());
    assertTrue(r.err().startsWith("hbp: internal error: java.lang.IllegalArgumentException: eye: invalid size -1; please report"), r.err());
  }

  @Test
  void aUserErrorOfTheNetworkPackageHasStatus2() {
    Run r = run(false, "network");
    assertEquals(2, r.code());
    assertEquals("hbp: unknown curvature 'fisher'; expected hessian, ggn, pch-abs or pch-clip\n", r.err());
  }
}
