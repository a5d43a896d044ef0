package org.hbp.derive;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.hbp.calculus.Expr;
import org.hbp.calculus.Printer;
import org.hbp.dsl.Dsl;
import org.hbp.dsl.ModuleSpec;
import org.hbp.dsl.Spec;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Every derived expression prints in the DSL's syntax and parses back to an equal expression. */
class RoundTripTest {
  @ParameterizedTest(name = "{0}")
  @MethodSource("org.hbp.derive.SpecNumericTest#specs")
  void derivedOutputParsesBackToAnEqualExpression(Path file) {
    Spec spec = Dsl.parseFile(file);
    for (ModuleSpec m : spec.modules()) {
      Dsl.Scope scope = Dsl.Scope.of(spec, m);
      for (Derivation d : ModuleRules.derive(m)) {
        List<Expr> all = new ArrayList<>();
        if (d instanceof ModuleRule r)
          for (ModuleRule.Forms f : List.of(r.closedForm(), r.compact())) all.addAll(List.of(f.jacobian(), f.residual(), f.hbp()));
        if (d instanceof LossRule l) all.addAll(List.of(l.gradient(), l.hessian()));
        for (Expr e : all) {
          for (String text : new String[] {Printer.text(e), Printer.text(e, m.dimNames())}) {
            Expr back = m.simplifier().run(Dsl.parseExpression(text, scope, "round-trip"));
            assertEquals(e, back, m.name() + " wrt " + d.wrt().name() + ": " + text + " read back as " + Printer.text(back));
          }
        }
      }
    }
  }
}
