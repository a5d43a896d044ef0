package org.hbp.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.hbp.UserError;
import org.hbp.network.CurvatureKind;
import org.hbp.network.GgnDiagonal;
import org.hbp.network.Strategy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@code hbp curvature --diagonal}: the options that do not fit a GGN diagonal are refused by name. */
class DiagonalModeTest {
  @Test
  void exactAndMcAreAccepted() {
    assertEquals(GgnDiagonal.Sampling.RADEMACHER, DiagonalMode.check("exact", CurvatureKind.GGN, Strategy.EXACT, 1, "blocks", 1, "rademacher"));
    assertEquals(GgnDiagonal.Sampling.GAUSSIAN, DiagonalMode.check("mc", CurvatureKind.GGN, Strategy.EXACT, 1, "blocks", 8, "gaussian"));
    DiagonalMode.check("hessian", CurvatureKind.HESSIAN, Strategy.EXACT, 1, "blocks", 1, "rademacher");
  }

  @ParameterizedTest
  @CsvSource(delimiter = ';', value = {
      "diag; ggn; exact; 1; blocks; 1; rademacher; --diagonal diag: expected exact, mc or hessian",
      "hessian; ggn; exact; 1; blocks; 1; rademacher; --curvature ggn does not apply (use --curvature hessian)",
      "exact; hessian; exact; 1; blocks; 1; rademacher; --curvature hessian does not apply",
      "exact; ggn; kfra; 1; blocks; 1; rademacher; --strategy kfra does not apply",
      "exact; ggn; exact; 2; blocks; 1; rademacher; --blocks 2 does not apply",
      "exact; ggn; exact; 1; net; 1; rademacher; --scope net does not apply",
      "mc; ggn; exact; 1; blocks; 0; rademacher; --mc-samples must be at least 1, not 0",
      "mc; ggn; exact; 1; blocks; 1; uniform; --sampling uniform: expected rademacher or gaussian"})
  void misfitsAreRefusedByName(String mode, String kind, String strategy, int blocks, String scope, int k, String sampling, String message) {
    UserError e = assertThrows(UserError.class, () -> DiagonalMode.check(mode, CurvatureKind.parse(kind), Strategy.parse(strategy), blocks, scope,
        k, sampling));
    assertTrue(e.getMessage().contains(message), e.getMessage());
  }

  @Test
  void diagonalNeedsOut() {
    StringWriter out = new StringWriter(), err = new StringWriter();
    int code = Main.execute(new String[] {"curvature", "--net", "networks/fc.hbp", "--params", "p.npz", "--batch", "b.npz", "--diagonal", "exact"},
        new PrintWriter(out, true), new PrintWriter(err, true));
    assertEquals(2, code, out + "\n" + err);
    assertTrue(err.toString().contains("--diagonal needs --out OUT.npz"), err.toString());
  }
}
