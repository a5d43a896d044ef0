package org.hbp.derive;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.hbp.codegen.OperatorGenerator;
import org.hbp.codegen.OperatorLoader;
import org.hbp.dsl.Dsl;
import org.hbp.dsl.ModuleSpec;
import org.hbp.dsl.Spec;
import org.hbp.verify.SpecVerifier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Specs that blew up: nested functions (30 nested sigmoids took 16 s to derive, 100 more than 20 s:
 * shared arguments re-expanded by every simplifier pass, every sort printing whole subtrees), 600
 * chained derived dims (36 s and 1.5 GB: all n^2 products of derived dims formed for printing, n^3
 * for factoring in code generation), 50 nested exp ("code too large": a generated method past the
 * JVM's 64 KB). The time bounds catch the blow-ups, they are not benchmarks: the fixed code takes a
 * few seconds of CPU for each.
 */
class BlowUpTest {
  /** f(f(...f(x)...)), levels deep. */
  private static String chain(String f, int levels) {
    return (f + "(").repeat(levels) + "x" + ")".repeat(levels);
  }

  private static String module(String name, String output) {
    return "module " + name + " {\n  dims n;\n  input x: vector(n);\n  output z = " + output + ";\n}\n";
  }

  @Test
  void nestedSigmoidsDeriveInBoundedTime() {
    String text = module("sig150", chain("sigmoid", 150));
    String printed = assertTimeoutPreemptively(Duration.ofSeconds(90), () -> {
      ModuleSpec m = Dsl.parse(text, "sig150.hbp").modules().get(0);
      return Formats.text(m, ModuleRules.derive(m));
    });
    // the compact rule has one residual term per level: dz .* f''(u_k) .* (product of f'(u_j)^2 below it)
    String compact = printed.lines().filter(l -> l.trim().startsWith("compact")).findFirst().orElseThrow();
    assertEquals(150, compact.split("sigmoid''\\(", -1).length - 1, "one second-derivative factor per level");
  }

  @Test
  void chainedDerivedDimsDeriveAndGenerateInBoundedTime() {
    int n = 600;
    String dims = IntStream.range(1, n).mapToObj(i -> "a" + i + " = a" + (i - 1) + " + 1").collect(Collectors.joining(", "));
    String text = "module chained {\n  dims a0;\n  dims " + dims + ";\n  input x: vector(a" + (n - 1) + ");\n  param W: matrix(a3, a" + (n - 1)
        + ");\n  output z = W*x;\n}\n";
    String source = assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
      Spec spec = Dsl.parse(text, "chained.hbp");
      ModuleSpec m = spec.modules().get(0);
      String printed = Formats.text(m, ModuleRules.derive(m));
      assertTrue(printed.contains("z = W*x    : vector(a3)"), printed);
      assertTrue(printed.contains("with respect to x: vector(a" + (n - 1) + ")"), printed);
      return OperatorGenerator.generate(spec, text, "chained.hbp", "hbp.test").get(0).toString();
    });
    // derived dims are named in the generated code, not expanded
    assertTrue(source.contains("a599"), "derived dim names in the generated code");
  }

  @Test
  void fiftyNestedExpsGenerateMethodsTheJvmAccepts(@TempDir Path tmp) throws Exception {
    Spec spec = Dsl.parse(module("exp50", chain("exp", 50)), "exp50.hbp");
    var files = OperatorGenerator.generate(spec, "", "exp50.hbp", "hbp.test");
    String source = files.get(0).toString();
    assertTrue(source.contains("private Batch part0("), "large sums are computed in helper methods");
    // javac refuses a method over 64 KB ("code too large"): compiling is the check
    assertTimeoutPreemptively(Duration.ofSeconds(180), () -> OperatorLoader.compile(files, tmp));
  }

  /**
   * An operator whose sums were split into helper methods computes the same as the references of
   * hbp verify (dense EJML and finite differences from the forward expression): tanh stays in
   * [-1, 1], so 40 levels are numerically meaningful, unlike nested exp, which overflows.
   */
  @Test
  void splitOperatorsPassVerify(@TempDir Path tmp) throws Exception {
    Path file = tmp.resolve("tanh40.hbp");
    Files.writeString(file, module("tanh40", chain("tanh", 40)));
    Spec spec = Dsl.parseFile(file);
    String source = OperatorGenerator.generate(spec, Files.readString(file), file.toString(), "hbp.test").get(0).toString();
    assertTrue(source.contains("private Batch part0("), "this module's operator is split into parts");
    SpecVerifier.FileResult r = assertTimeoutPreemptively(Duration.ofSeconds(240), () -> SpecVerifier.verify(file, null, 1, 1));
    assertTrue(r.passed(), () -> r.modules().get(0).report().toString());
  }
}
