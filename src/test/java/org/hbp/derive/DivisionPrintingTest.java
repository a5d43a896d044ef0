package org.hbp.derive;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.hbp.calculus.Expr;
import org.hbp.calculus.Printer;
import org.hbp.dsl.Dsl;
import org.hbp.dsl.ModuleSpec;
import org.junit.jupiter.api.Test;

/**
 * A division by a scalar prints in one form, {@code ./ n} after the other factors (or {@code / n}
 * of an array), never as a leading factor {@code n.^-1*...}: the forward expression and every
 * derived form of a layer normalisation, which divides by the dim n in several places.
 */
class DivisionPrintingTest {
  private static final String LAYERNORM = """
      module layernorm {
        dims n;
        input x: vector(n);
        output z = (x - sum(x)/n) ./ sqrt(sum((x - sum(x)/n).^2)/n + 1e-5);
      }
      """;

  @Test
  void aReciprocalFactorPrintsAsADivisionAfterTheOthers() {
    ModuleSpec m = Dsl.parse(LAYERNORM, "layernorm.hbp").modules().get(0);
    assertEquals("(x - (sum(x) ./ n)*ones(n)) / sqrt(sum((x - (sum(x) ./ n)*ones(n)).^2) ./ n + 1e-5)", Printer.text(m.outputExpr()));
    List<Expr> all = new ArrayList<>();
    for (Derivation d : ModuleRules.derive(m)) {
      ModuleRule r = (ModuleRule) d;
      for (ModuleRule.Forms f : List.of(r.closedForm(), r.compact())) all.addAll(List.of(f.jacobian(), f.residual(), f.hbp()));
    }
    for (Expr e : all) {
      String text = Printer.text(e);
      assertFalse(text.contains("n.^-1"), text);
      assertTrue(text.contains("./ n"), text);
    }
  }
}
