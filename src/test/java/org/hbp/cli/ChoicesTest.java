package org.hbp.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
  void aMissingRequiredOptionIsOneLine() {
    String[] r = run("train", "--out", "unused");
    assertEquals("2", r[0]);
    assertEquals("hbp: missing required option: '--net=NET' (hbp train --help lists the options)\n", r[1]);
  }

  @Test
  void commandLinesPicocliCannotParseAreOneLineNamingWhatIsWrong() {
    // a value of the wrong type, a repeated option: picocli's message, without the whole usage after it
    String[] r = run("curvature", "--net", "networks/fc.hbp", "--batch", "b.npz", "--solve", "abc");
    assertEquals("2", r[0]);
    assertEquals("hbp: invalid value for option '--solve': 'abc' is not a double (hbp curvature --help lists the options)\n", r[1]);
    r = run("curvature", "--net", "a.hbp", "--batch", "b.npz", "--params", "p.npz", "--params", "q.npz");
    assertEquals("hbp: option '--params' (P.npz) should be specified only once (hbp curvature --help lists the options)\n", r[1]);
    // an unknown option is named, with picocli's suggestion, even when a required option is missing too
    r = run("curvature", "--net", "a.hbp", "--batch", "b.npz", "--solv", "3");
    assertEquals("hbp: unknown options or arguments '--solv', '3'; did you mean '--solve'? (hbp curvature --help lists the options)\n", r[1]);
    r = run("curvature", "--nonsense");
    assertEquals("hbp: unknown option or argument '--nonsense'; and missing required options: '--net=NET', '--batch=B.npz'"
        + " (hbp curvature --help lists the options)\n", r[1]);
    r = run("frobnicate");
    assertEquals("2", r[0]);
    assertTrue(r[1].startsWith("hbp: unknown option or argument 'frobnicate'") && r[1].endsWith("(hbp --help lists the commands and options)\n")
        && r[1].lines().count() == 1, r[1]);
    assertEquals("", r[2], "nothing ran");
  }

  @Test
  void aNegativeThreadCountIsRefused() {
    String[] r = run("curvature", "--net", "networks/fc.hbp", "--batch", "b.npz", "--threads", "-2");
    assertEquals("2", r[0]);
    assertEquals("hbp: --threads -2 is negative; expected 0 (all cores) or a positive count\n", r[1]);
    r = run("bench", "--threads", "two");
    assertEquals("hbp: --threads 'two' is not a whole number; expected 0 (all cores) or a positive count\n", r[1]);
  }

  @Test
  void optionsThatDoNotApplyToTheRunAreRefusedNotIgnored() {
    String net = "networks/fc.hbp";
    String[][] cases = {
        {"--alpha applies only to --optimizer cg-newton and kfac", "train", "--net", net, "--out", "unused", "--optimizer", "sgd", "--alpha", "0.5"},
        {"--curvature applies only to --optimizer cg-newton and kfac", "train", "--net", net, "--out", "unused", "--optimizer", "adam",
            "--curvature", "hessian"},
        {"--cg-maxiter applies only to --optimizer cg-newton", "train", "--net", net, "--out", "unused", "--optimizer", "kfac", "--strategy", "kflr",
            "--cg-maxiter", "5"},
        {"--momentum applies only to --optimizer sgd", "train", "--net", net, "--out", "unused", "--optimizer", "adam", "--momentum", "0.5"},
        {"--beta1 applies only to --optimizer adam", "train", "--net", net, "--out", "unused", "--optimizer", "sgd", "--beta1", "0.5"},
        {"--fisher applies only with --strategy kfac", "train", "--net", net, "--out", "unused", "--strategy", "bda", "--fisher", "sampled"},
        {"--cg-tol applies only with --solve", "curvature", "--net", net, "--batch", "b.npz", "--dense", "d.npz", "--cg-tol", "0.5"},
        {"--sampling applies only with --diagonal mc", "curvature", "--net", net, "--batch", "b.npz", "--diagonal", "exact", "--out", "d.npz",
            "--sampling", "gaussian"},
        {"--mc-samples applies only with --strategy kfac or diag-ggn-mc, or --diagonal mc", "curvature", "--net", net, "--batch", "b.npz",
            "--diagonal", "hessian", "--curvature", "hessian", "--out", "d.npz", "--mc-samples", "7"},
        {"--seed applies only with --strategy kfac or diag-ggn-mc, or --diagonal mc", "curvature", "--net", net, "--batch", "b.npz", "--dense",
            "d.npz", "--seed", "5"}};
    for (String[] c : cases) {
      String[] r = run(java.util.Arrays.copyOfRange(c, 1, c.length));
      assertEquals("2", r[0], String.join(" ", c));
      assertEquals("hbp: " + c[0] + "; drop it or change the run\n", r[1], String.join(" ", c));
      assertEquals("", r[2], "nothing ran");
    }
    // where they apply they are taken: the same options pass this check (and fail later, on the missing batch file)
    String[] r = run("curvature", "--net", net, "--params", "missing.npz", "--batch", "missing.npz", "--diagonal", "mc", "--out", "d.npz",
        "--sampling", "gaussian", "--mc-samples", "3", "--seed", "2");
    assertTrue(r[1].contains("missing.npz") && !r[1].contains("applies only"), r[1]);
  }
}
