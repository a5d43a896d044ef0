package org.hbp.derive;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.hbp.dsl.Dsl;
import org.hbp.dsl.ModuleSpec;
import org.hbp.verify.SpecCheck;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every spec in modules-spec/: Jacobians, residual Hessians and HBP rules (closed and compact
 * forms), and loss gradients and Hessians, against central finite differences of the forward
 * expression at three random shapes and points (fp64, EJML).
 */
class SpecNumericTest {
  static Stream<Path> specs() throws IOException {
    return Files.list(Path.of("modules-spec")).filter(p -> p.toString().endsWith(".hbp")).sorted();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("specs")
  void everyRuleAgreesWithFiniteDifferences(Path spec) {
    for (ModuleSpec m : Dsl.parseFile(spec).modules()) {
      for (long seed : new long[] {1, 2}) {
        SpecCheck.Report r = SpecCheck.check(m, seed, 3);
        assertTrue(r.checks() >= 3, "too few checks for " + m.name());
        assertTrue(r.failures().isEmpty(), m.name() + ": " + r.failures());
      }
    }
  }
}
