package org.hbp.dsl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import org.hbp.derive.Derivation;
import org.hbp.derive.ModuleRules;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Input nested past {@link Nesting#MAX_DEPTH} levels is refused with a positioned error (it gave a
 * StackOverflowError at 10^4 levels, and at 1000 in verify), on the default thread stack.
 */
class NestingTest {
  private static final int DEEP = 10_000;

  private static String module(String output) {
    return "module deep {\n  dims n;\n  input x: vector(n);\n  output z = " + output + ";\n}\n";
  }

  private static DslException refused(String text) {
    DslException e = Assertions.assertTimeoutPreemptively(Duration.ofSeconds(20),
        () -> assertThrows(DslException.class, () -> Dsl.parse(text, "deep.hbp")));
    assertTrue(e.getMessage().startsWith("deep.hbp:"), e.getMessage());
    assertTrue(e.detail().startsWith("nested more than " + Nesting.MAX_DEPTH + " levels deep"), e.getMessage());
    return e;
  }

  @ParameterizedTest
  @ValueSource(strings = {"parentheses", "unary minus", "calls", "transposes", "products"})
  void deepExpressionsAreRefusedWithAPosition(String kind) {
    String output = switch (kind) {
      case "parentheses" -> "(".repeat(DEEP) + "x" + ")".repeat(DEEP);
      case "unary minus" -> "- ".repeat(DEEP) + "x";
      case "calls" -> "sigmoid(".repeat(DEEP) + "x" + ")".repeat(DEEP);
      case "transposes" -> "x" + "''".repeat(DEEP / 2);
      default -> "x" + " .* x".repeat(1000);
    };
    DslException e = refused(module(output));
    assertEquals(4, e.line(), e.getMessage());
  }

  @Test
  void deepResidualBlocksAreRefused() {
    String net = "network deep {\n  input x: vector(4);\n" + "residual {\n".repeat(DEEP) + "relu;\n" + "}\n".repeat(DEEP)
        + "  loss squareloss;\n}\n";
    DslException e = refused(net);
    assertTrue(e.line() > 2 && e.line() < 2 + Nesting.MAX_DEPTH + 2, e.getMessage());
  }

  @Test
  void expressionsBelowTheLimitParseAndDerive() {
    int levels = Nesting.MAX_DEPTH / 2 - 5;
    Spec parens = Dsl.parse(module("(".repeat(levels) + "x" + ")".repeat(levels)), "ok.hbp");
    List<Derivation> d = ModuleRules.derive(parens.modules().get(0));
    assertEquals(1, d.size());
    Spec chain = Dsl.parse(module("x" + " + x".repeat(levels)), "ok.hbp");
    assertEquals(1, ModuleRules.derive(chain.modules().get(0)).size());
  }
}
