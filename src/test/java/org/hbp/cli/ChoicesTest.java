package org.hbp.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Choice options are read into enums; an unknown value is one line listing the choices, exit status 2, before the command runs. */
class ChoicesTest {
  private static String[] run(String... args) {
    StringWriter out = new StringWriter(), err = new StringWriter();
    int code = Main.execute(args, new PrintWriter(out, true), new PrintWriter(err, true), false);
    return new String[] {Integer.toString(code), err.toString(), out.toString()};
  }

  @Test
  void alternativesReadAsAList() {
    assertEquals("a", Choices.alternatives(List.of("a")));
    assertEquals("a or b", Choices.alternatives(List.of("a", "b")));
    assertEquals("a, b or c", Choices.alternatives(List.of("a", "b", "c")));
  }

  @Test
  void anUnknownStrategyInAListIsOneLineListingTheChoices() {
    String[] r = run("bench", "--strategies", "exact,kfc");
    assertEquals("2", r[0], r[1]);
    assertEquals("hbp: unknown strategy 'kfc'; expected exact, kfra, bda, kfac, kflr, ekfac, diag-ggn, diag-ggn-mc or diag-hessian\n", r[1]);
    assertEquals("", r[2], "nothing ran");
  }

  @Test
  void anUnknownOptimizerOrCurvatureOfTrainIsOneLine() {
    String[] r = run("train", "--net", "networks/fc.hbp", "--out", "unused", "--optimizer", "lbfgs");
    assertEquals("2", r[0], r[1]);
    assertEquals("hbp: unknown optimizer 'lbfgs'; expected cg-newton, sgd, adam or kfac\n", r[1]);
    r = run("train", "--net", "networks/fc.hbp", "--out", "unused", "--curvature", "fisher");
    assertEquals("hbp: unknown curvature 'fisher'; expected hessian, ggn, pch-abs or pch-clip\n", r[1]);
  }

  @Test
  void aMissingRequiredOptionIsStillPicocliUsageError() {
    String[] r = run("train", "--out", "unused");
    assertEquals("2", r[0]);
    assertEquals("Missing required option: '--net=NET'", r[1].lines().findFirst().orElse(""));
  }
}
