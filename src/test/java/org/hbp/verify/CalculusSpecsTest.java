package org.hbp.verify;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.stream.Collectors;
import org.hbp.cli.Main;
import org.hbp.dsl.Dsl;
import org.hbp.dsl.ModuleSpec;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The specs that use column-wise softmax and max/min (src/test/resources/specs: single-head
 * self-attention, maxout, clipping, column-wise log-softmax, scores plus a head mask of 1e30s written
 * as a distributed sum) derive, and their rules and generated
 * operators pass the finite-difference and EJML checks of {@code SpecCheck} and {@code hbp verify}
 * (the operator generated now and compiled in-process).
 */
class CalculusSpecsTest {
  private static final Path DIR = Path.of("src/test/resources/specs");

  @ParameterizedTest(name = "{0}")
  @CsvSource({"attention.hbp, general", "maxout.hbp, zero", "clip.hbp, zero", "logsoftmax_cols.hbp, general", "head_mask_sum.hbp, general"})
  void derivesAndVerifies(String file, String residualKind) throws Exception {
    SpecVerifier.FileResult verified = derivesChecksAndVerifies(DIR.resolve(file), residualKind);
    assertTrue(verified.modules().get(0).origin().startsWith("generated now and compiled in-process"), verified.modules().get(0).origin());
    assertTrue(verified.modules().get(0).report().rows().size() >= 15);
  }

  /**
   * {@code hbp derive} of the spec succeeds and names the residual kind; its rules pass
   * {@code SpecCheck}'s finite differences at two seeds; {@code hbp verify} passes every row.
   */
  static SpecVerifier.FileResult derivesChecksAndVerifies(Path spec, String residualKind) throws Exception {
    StringWriter out = new StringWriter(), err = new StringWriter();
    int code = Main.execute(new String[] {"derive", spec.toString()}, new PrintWriter(out, true), new PrintWriter(err, true));
    assertEquals(0, code, out + "\n" + err);
    assertTrue(out.toString().contains("[" + residualKind + "]"), out.toString());

    for (ModuleSpec m : Dsl.parseFile(spec).modules()) {
      for (long seed : new long[] {1, 2}) {
        SpecCheck.Report r = SpecCheck.check(m, seed, 3);
        assertTrue(r.checks() >= 3, "too few checks for " + m.name());
        assertTrue(r.failures().isEmpty(), m.name() + " seed " + seed + ": " + r.failures());
      }
    }

    SpecVerifier.FileResult verified = SpecVerifier.verify(spec, null, 3, 3);
    assertTrue(verified.passed(), verified.modules().stream().flatMap(m -> m.report().rows().stream())
        .filter(r -> !r.passed()).map(r -> r.method + " " + r.wrt + " " + r.maxRel()).collect(Collectors.joining("\n")));
    return verified;
  }
}
