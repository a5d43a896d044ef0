package org.hbp.verify;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.hbp.derive.Derivation;
import org.hbp.derive.ModuleRules;
import org.hbp.dsl.Dsl;
import org.hbp.dsl.ModuleSpec;
import org.hbp.dsl.Spec;
import org.hbp.network.NetworkResolver;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code hbp verify --expect} by numbers: a piecewise rule whose threshold is slightly off is
 * caught for every seed, the right one agrees, and equal rules in different forms (each built-in
 * module's closed and compact forms) never differ, also at the scaled points.
 */
class ExpectCheckTest {
  /** PyTorch's SmoothL1Loss with beta = 0.5 per sample: its Hessian is 2*diag(step(0.5 - abs(x - y))), by hand. */
  static final String SMOOTH_L1 = "elementwise sl1(t) = (t.^2 - relu(abs(t) - 0.5).^2) / (2*0.5);\n"
      + "loss smoothl1 {\n  dims n;\n  input x: vector(n);\n  target y: vector(n);\n  output E = sum(sl1(x - y));\n}\n";

  static ExpectCheck.Result check(String specText, String expectation, long seed) {
    Spec spec = Dsl.parse(specText, "spec.hbp");
    ModuleSpec m = spec.modules().get(0);
    return ExpectCheck.check(spec, m, expectation, "--expect", seed);
  }

  @ParameterizedTest(name = "seed {0}")
  @ValueSource(longs = {1, 2, 3, 4, 5, 6, 7, 8})
  void aThresholdSlightlyOffIsCaught(long seed) {
    for (String t : List.of("0.52", "0.55", "0.48", "0.6")) {
      ExpectCheck.Result r = check(SMOOTH_L1, "x: 2*diag(step(" + t + " - abs(x - y)))", seed);
      assertFalse(r.equal(), t + ": " + r.describe());
      assertEquals("DIFFERS", r.verdict());
      assertEquals(ExpectCheck.DecidedBy.NUMERIC_IDENTITY, r.decidedBy());
    }
    ExpectCheck.Result ok = check(SMOOTH_L1, "x: 2*diag(step(0.5 - abs(x - y)))", seed);
    assertTrue(ok.equal(), ok.describe());
    assertEquals("AGREES", ok.verdict());
    assertEquals(ExpectCheck.POINTS, ok.points());
    assertTrue(ok.describe().contains("no difference found at " + ExpectCheck.POINTS + " random points"), ok.describe());
  }

  /** A threshold far outside [-2, 2], the range of x - y at unscaled points, is crossed only by the scaled ones. */
  @ParameterizedTest(name = "seed {0}")
  @ValueSource(longs = {1, 2, 3})
  void aThresholdAtAnotherScaleIsCaught(long seed) {
    String spec = SMOOTH_L1.replace("abs(t) - 0.5", "abs(t) - 20").replace("(2*0.5)", "1"); // t.^2 - relu(abs(t) - 20).^2
    assertTrue(check(spec, "x: 2*diag(step(20 - abs(x - y)))", seed).equal());
    for (String t : List.of("25", "15", "0.02"))
      assertFalse(check(spec, "x: 2*diag(step(" + t + " - abs(x - y)))", seed).equal(), t);
  }

  @Test
  void canonicalFormsProveEquality() {
    ExpectCheck.Result r = check("module lin { dims m, n; input x: vector(n); param W: matrix(m, n); output z = W*x; }\n", "x: W'*Hz*W", 1);
    assertEquals("EQUAL", r.verdict());
    assertEquals(ExpectCheck.DecidedBy.CANONICAL_FORMS, r.decidedBy());
  }

  /**
   * No false differences: every built-in module's rule in closed form (f'(x) written out) against
   * its compact form (f'(x) kept), two different expressions of one rule, agree at all points.
   */
  @Test
  void equalRulesInDifferentFormsAgreeForEveryBuiltInModule() {
    int compared = 0;
    for (ModuleSpec m : NetworkResolver.library(List.of(Path.of("modules-spec")))) {
      for (Derivation d : ModuleRules.derive(m)) {
        if (d.curvature().equals(d.curvatureCompact())) continue;
        ExpectCheck.Numeric n = ExpectCheck.numeric(m, d.curvatureCompact(), d.curvature(), 11);
        assertTrue(n.points() > ExpectCheck.POINTS / 2, m.name() + " " + d.wrt().name() + ": " + n);
        assertTrue(n.worst() <= ExpectCheck.IDENTITY_TOL, m.name() + " " + d.wrt().name() + ": " + n);
        compared++;
      }
    }
    assertTrue(compared >= 10, "compared " + compared);
  }
}
