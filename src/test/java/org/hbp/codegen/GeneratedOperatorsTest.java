package org.hbp.codegen;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.hbp.dsl.Dsl;
import org.hbp.dsl.ModuleSpec;
import org.hbp.dsl.Spec;
import org.hbp.verify.OperatorCheck;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every operator compiled into hbp from modules-spec/ agrees, method by method, with references
 * built from its forward expression alone (OperatorCheck), at several random shapes.
 */
class GeneratedOperatorsTest {
  static Stream<String> specs() throws Exception {
    return SourceGeneration.specFiles(Path.of("modules-spec")).stream().map(p -> p.getFileName().toString());
  }

  @ParameterizedTest
  @MethodSource("specs")
  void builtInOperatorVerifies(String file) throws Exception {
    Path path = Path.of("modules-spec", file);
    String text = Files.readString(path);
    Spec spec = Dsl.parse(text, path.toString());
    for (ModuleSpec m : spec.modules()) {
      Class<?> c = OperatorLoader.builtIn(m, OperatorGenerator.sha256(text))
          .orElseThrow(() -> new AssertionError("no built-in operator for " + m.name() + " generated from the current " + file));
      OperatorLoader.Loaded loaded = new OperatorLoader.Loaded(c, true);
      OperatorCheck.Report r = OperatorCheck.check(m, loaded::create, 20261127L, 3);
      StringBuilder table = new StringBuilder();
      for (OperatorCheck.Row row : r.rows())
        table.append(String.format("%-28s %-4s %10.2e %10.2e %6.0e %s %s%n", row.method, row.wrt, row.maxAbs(), row.maxRel(), row.tolerance,
            row.passed() ? "PASS" : "FAIL", row.failure() == null ? "" : row.failure()));
      assertTrue(r.passed(), m.name() + ":\n" + table);
      assertTrue(r.rows().size() > 3, "too few checks");
    }
  }
}
