package org.hbp.derive;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.hbp.dsl.Dsl;
import org.hbp.dsl.ModuleSpec;
import org.hbp.dsl.Spec;
import org.junit.jupiter.api.Test;

/**
 * Local definitions ({@code let t = ...;}) are substitutions: a spec written with lets reads as the
 * same forward expressions, and derives the same rules, as the spec written out without them.
 */
class LetsTest {
  private static final String WITH_LETS = """
      module layernorm {
        dims n;
        input x: vector(n);
        param g: vector(n);
        let mu = sum(x) / n;
        let xc = x - mu;
        let sigma = sqrt(sum(xc.^2) / n + 1e-5);
        output z = g .* xc / sigma;
      }
      module gelu {
        dims n;
        input x: vector(n);
        let phi = (1 + erf(x / sqrt(2))) / 2;
        output z = x .* phi;
      }
      loss ce {
        dims c;
        input x: vector(c);
        target y: vector(c) probability;
        let total = sum(y);
        assume total == 1;
        let logp = log(softmax(x));
        output E = -y'*logp;
      }
      """;

  private static final String WRITTEN_OUT = """
      module layernorm {
        dims n;
        input x: vector(n);
        param g: vector(n);
        output z = g .* (x - sum(x) / n) / sqrt(sum((x - sum(x) / n).^2) / n + 1e-5);
      }
      module gelu {
        dims n;
        input x: vector(n);
        output z = x .* ((1 + erf(x / sqrt(2))) / 2);
      }
      loss ce {
        dims c;
        input x: vector(c);
        target y: vector(c) probability;
        assume sum(y) == 1;
        output E = -y'*log(softmax(x));
      }
      """;

  @Test
  void aSpecWithLetsReadsAndDerivesAsTheSpecWrittenOut() {
    Spec lets = Dsl.parse(WITH_LETS, "lets.hbp"), plain = Dsl.parse(WRITTEN_OUT, "plain.hbp");
    assertEquals(3, lets.modules().size());
    for (int i = 0; i < 3; i++) {
      ModuleSpec a = lets.modules().get(i), b = plain.modules().get(i);
      assertEquals(b.outputExpr(), a.outputExpr(), a.name());
      assertEquals(b.variables(), a.variables(), a.name());
      assertEquals(b.domains(), a.domains(), a.name());
      List<Derivation> da = ModuleRules.derive(a), db = ModuleRules.derive(b);
      assertEquals(db, da, a.name());
    }
  }
}
