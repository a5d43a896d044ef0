package org.hbp.verify;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
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
    SpecVerifier.FileResult verified = CalculusSpecsTest.derivesChecksAndVerifies(Path.of(file), residualKind);
    for (SpecVerifier.ModuleResult m : verified.modules()) assertTrue(m.report().rows().size() >= 4, m.module().name());
  }
}
