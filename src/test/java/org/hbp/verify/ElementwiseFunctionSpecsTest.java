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
 * The specs that use the built-in functions erf, sin, cos and norm (exact GELU in modules-spec;
 * sin/cos and the 2-norm in src/test/resources/specs) derive, and their rules and operators pass
 * the finite-difference checks of {@code SpecCheck} and the EJML checks of {@code hbp verify}.
 */
class ElementwiseFunctionSpecsTest {
  @ParameterizedTest(name = "{0}")
  @CsvSource({"modules-spec/gelu.hbp, diagonal", "src/test/resources/specs/trig.hbp, diagonal",
      "src/test/resources/specs/normalize.hbp, general"})
  void derivesAndVerifies(String file, String residualKind) throws Exception {
    Path spec = Path.of(file);
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
    for (SpecVerifier.ModuleResult m : verified.modules()) assertTrue(m.report().rows().size() >= 4, m.module().name());
  }
}
