package org.hbp.cli;

import static org.hbp.cli.CliRun.hbp;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.function.Supplier;
import org.hbp.UserError;
import org.junit.jupiter.api.Test;

/**
 * Progress of the long commands on standard error: drawn only on a terminal or when forced, never
 * into redirected output; {@code bench --quick}; what an interrupt prints.
 */
class ProgressCliTest {
  /** Runs {@code run} with {@code -Dhbp.progress} and {@code -Dhbp.stderr.terminal} set as given (null: unset). */
  static <T> T with(String progress, String terminal, Supplier<T> run) {
    String p = System.getProperty("hbp.progress"), t = System.getProperty("hbp.stderr.terminal");
    set("hbp.progress", progress);
    set("hbp.stderr.terminal", terminal);
    try {
      return run.get();
    } finally {
      set("hbp.progress", p);
      set("hbp.stderr.terminal", t);
    }
  }

  private static void set(String key, String value) {
    if (value == null) System.clearProperty(key);
    else System.setProperty(key, value);
  }

  private static final String[] BENCH = {"bench", "--net", "networks/resnet.hbp", "--batch", "4", "--backend", "cpu", "--repeat", "1", "--warmup", "0",
      "--directions", "1", "--strategies", "exact,bda"};

  /**
   * Each command that draws bars refuses a bad HBP_PROGRESS before it reads any of its inputs (here files that do not
   * exist, which it would otherwise name), and prints its help all the same; a command that draws none ignores it.
   */
  @Test
  void aBadProgressSettingIsRefusedByEachCommandThatDrawsBarsBeforeItsInputs() {
    String missing = "no-such-file.npz";
    String[][] commands = {
        {"curvature", "--net", missing, "--batch", missing},
        {"spectrum", "--net", missing, "--batch", missing, "--out", "no-such-folder/out", "--top", "1"},
        {"train", "--net", missing, "--out", "no-such-folder/run"},
        {"bench", "--net", missing},
        {"verify", missing},
        {"experiment", "fig4", "--out", "no-such-folder/exp"},
        {"demo", "--out", "no-such-folder/demo"},
    };
    int drawing = 0;
    for (String[] c : commands) {
      CliRun r = with("foo", "false", () -> hbp(c));
      assertEquals("hbp: HBP_PROGRESS='foo': expected bar, lines or off\n", r.err(), String.join(" ", c));
      r.assertExit(2);
      assertEquals("", r.out());
      CliRun help = with("foo", "false", () -> hbp(c[0], "--help"));
      help.assertExit(0);
      assertTrue(help.out().contains("Usage: hbp " + c[0] + " "), help.out());
      assertTrue(Main.COMMANDS.get(c[0]) != null && DrawsProgress.class.isAssignableFrom(Main.COMMANDS.get(c[0])), c[0]);
      drawing++;
    }
    assertFalse(java.nio.file.Files.exists(java.nio.file.Path.of("no-such-folder")));
    assertEquals(Main.COMMANDS.values().stream().filter(DrawsProgress.class::isAssignableFrom).count(), drawing,
        "each command marked as drawing bars is tried here");
    CliRun derive = with("foo", "false", () -> hbp("derive", "-e", "W*x", "--var", "W:matrix(m,n)", "--var", "x:vector(n)", "--wrt", "W"));
    derive.assertExit(0);
    assertFalse(derive.err().contains("HBP_PROGRESS"), derive.err());
  }

  @Test
  void benchForcedToLinesPrintsAProgressLinePerMeasurementOnStandardError() {
    CliRun r = with("lines", "false", () -> hbp(BENCH));
    r.assertExit(0);
    List<String> lines = r.err().lines().toList();
    // gradient pass, exact products, bda pass, bda products: 4 measurements, a line as the first starts and as each ends
    assertEquals(5, lines.size(), r.err());
    assertTrue(lines.get(0).startsWith("bench [") && lines.get(0).contains(" 0/4  gradient pass"), r.err());
    assertTrue(lines.get(4).contains(" 4/4  bda products, all blocks, 1 direction  took "), r.err());
    assertFalse(r.err().contains("\r"), r.err());
    assertFalse(r.out().contains("bench ["), "progress stays off standard output:\n" + r.out());
  }

  @Test
  void benchWithRedirectedStandardErrorPrintsNoProgress() {
    CliRun r = with(null, "false", () -> hbp(BENCH));
    r.assertExit(0);
    assertEquals("", r.err());
  }

  @Test
  void benchOnATerminalRedrawsTheBarAndClearsItForEachResult() {
    CliRun r = with(null, "true", () -> hbp(BENCH));
    r.assertExit(0);
    assertTrue(r.err().contains("\rbench ["), r.err());
    assertTrue(r.err().endsWith("\n"), "the last draw ends its line");
  }

  /**
   * curvature's per-parameter work (--dense, --vectors, --solve) draws a step per parameter on standard error when forced to lines
   * (a line as each starts and one at the end), none when standard error is redirected; its standard output is the same either way.
   */
  @Test
  void curvatureForcedToLinesPrintsALinePerParameter(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
    String[][] runs = {{"--dense", "DENSE.npz"}, {"--solve", "0.5", "--out", "STEP.npz"}};
    String[] what = {"dense block", "CG solve"};
    for (int k = 0; k < runs.length; k++) {
      List<String> lines = curvatureLines(dir, runs[k]);
      assertEquals(5, lines.size(), lines.toString()); // 4 parameters: a line as each starts, one at the end
      assertTrue(lines.get(0).startsWith("curvature [") && lines.get(0).contains(" 0/4  0.W: " + what[k]), lines.toString());
      assertTrue(lines.get(3).contains(" 3/4  2.b: " + what[k]), lines.toString());
      assertTrue(lines.get(4).contains(" 4/4  " + what[k] + ": done"), lines.toString());
    }
  }

  /** --blocks layer: a line as each layer's joint block starts (the 2 layers with parameters), one at the end. */
  @Test
  void curvatureLayerBlocksForcedToLinesPrintALinePerLayer(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
    String[][] runs = {{"--blocks", "layer", "--dense", "DENSE.npz"}, {"--blocks", "layer", "--solve", "0.5", "--out", "STEP.npz"}};
    String[] what = {"dense joint block", "joint CG solve"};
    for (int k = 0; k < runs.length; k++) {
      List<String> lines = curvatureLines(dir, runs[k]);
      assertEquals(3, lines.size(), lines.toString());
      assertTrue(lines.get(0).startsWith("curvature [") && lines.get(0).contains(" 0/2  0.W,0.b: " + what[k]), lines.toString());
      assertTrue(lines.get(1).contains(" 1/2  2.W,2.b: " + what[k]), lines.toString());
      assertTrue(lines.get(2).contains(" 2/2  " + what[k] + ": done"), lines.toString());
    }
  }

  /** --diagonal: a line as the walk reaches each of the 3 layers (from the top), one at the end; for the GGN's and the Hessian's. */
  @Test
  void curvatureDiagonalForcedToLinesPrintsALinePerLayer(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
    String[][] runs = {{"--diagonal", "exact", "--out", "DIAG.npz"}, {"--diagonal", "mc", "--out", "DIAG.npz"},
        {"--curvature", "hessian", "--diagonal", "hessian", "--out", "DIAG.npz"}};
    for (String[] run : runs) {
      List<String> lines = curvatureLines(dir, run);
      String what = run[run.length - 3] + " diagonal: ";
      assertEquals(4, lines.size(), lines.toString());
      assertTrue(lines.get(0).startsWith("curvature [") && lines.get(0).contains(" 0/3  " + what + "layer 2 (linear)"), lines.toString());
      assertTrue(lines.get(1).contains(" 1/3  " + what + "layer 1 (tanh)"), lines.toString());
      assertTrue(lines.get(2).contains(" 2/3  " + what + "layer 0 (linear)"), lines.toString());
      assertTrue(lines.get(3).contains(" 3/3  " + what + "done"), lines.toString());
    }
  }

  /**
   * Runs {@code hbp curvature} on a small MLP (4 parameters, 3 layers) with {@code options} (an argument ending in .npz: a
   * file in a fresh folder), with HBP_PROGRESS=lines and without, standard error redirected; checks that nothing but the
   * bar differs on standard output, that the bar stays off it, and that without the setting nothing reaches standard
   * error; returns the bar's lines.
   */
  private static List<String> curvatureLines(java.nio.file.Path dir, String... options) throws Exception {
    java.nio.file.Path net = dir.resolve("mlp.hbp"), params = dir.resolve("params.npz"), batch = dir.resolve("batch.npz");
    if (!java.nio.file.Files.exists(net)) {
      java.nio.file.Files.writeString(net, "network mlp {\n  input x: vector(5);\n  linear(m = 4);\n  tanh;\n  linear(m = 3);\n  loss crossentropy;\n}\n");
      java.util.Random rng = new java.util.Random(3);
      org.hbp.io.DType f64 = org.hbp.io.DType.FLOAT64;
      org.hbp.io.Npz.write(params, java.util.Map.of("0.weight", CurvatureCliTest.random(rng, f64, 4, 5), "0.bias", CurvatureCliTest.random(rng, f64, 4),
          "2.weight", CurvatureCliTest.random(rng, f64, 3, 4), "2.bias", CurvatureCliTest.random(rng, f64, 3)));
      org.hbp.io.Npz.write(batch, java.util.Map.of("x", CurvatureCliTest.random(rng, f64, 6, 5),
          "y", org.hbp.io.NdArray.of(new double[] {0, 2, 1, 1, 0, 2}, org.hbp.io.DType.INT64, 6)));
    }
    String[] outputs = new String[2];
    List<String> bar = null;
    for (String progress : new String[] {"lines", null}) {
      java.nio.file.Path folder = java.nio.file.Files.createTempDirectory(dir, "run");
      List<String> args = new java.util.ArrayList<>(List.of("curvature", "--net", net.toString(), "--params", params.toString(), "--batch",
          batch.toString()));
      for (String a : options) args.add(a.endsWith(".npz") ? folder.resolve(a).toString() : a);
      CliRun r = with(progress, "false", () -> hbp(args.toArray(new String[0])));
      r.assertExit(0);
      outputs[progress == null ? 1 : 0] = r.out().replaceAll("in \\d+\\.\\d+ s", "in T s").replace(folder.toString(), "FOLDER");
      if (progress == null) {
        assertEquals("", r.err());
        continue;
      }
      bar = r.err().lines().toList();
      assertFalse(r.out().contains("curvature ["), "progress stays off standard output:\n" + r.out());
    }
    assertEquals(outputs[1], outputs[0], "standard output with and without the bar");
    return bar;
  }

  @Test
  void verifyForcedToLinesPrintsALinePerSpec() {
    CliRun r = with("lines", null, () -> hbp("verify", "modules-spec/linear.hbp", "--shapes", "1"));
    r.assertExit(0);
    assertTrue(r.err().startsWith("verify [........................]   0% 0/1  modules-spec/linear.hbp"), r.err());
    assertEquals(1, r.err().lines().count(), r.err());
  }

  /**
   * train with HBP_PROGRESS=off draws no bar, only a line per epoch; with lines, and when not forced with standard error
   * redirected, the bar's lines at each quarter of an epoch too.
   */
  @Test
  void trainHonoursProgressOff(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
    java.nio.file.Path net = dir.resolve("tiny.hbp");
    java.nio.file.Files.writeString(net, "network tiny {\n  input x: tensor(1, 4, 4);\n  flatten;\n  linear(m = 6);\n  sigmoid;\n"
        + "  linear(m = 3);\n  loss crossentropy;\n}\n");
    String[] args = {"train", "--net", net.toString(), "--data", "synthetic:200,100", "--optimizer", "sgd", "--batch", "50", "--epochs", "2",
        "--no-plots", "--out", null};
    args[args.length - 1] = dir.resolve("off").toString();
    CliRun off = with("off", "true", () -> hbp(args));
    off.assertExit(0);
    List<String> lines = off.err().lines().toList();
    assertEquals(2, lines.size(), off.err());
    assertTrue(lines.get(0).startsWith("epoch 1: train loss ") && lines.get(1).startsWith("epoch 2: train loss "), off.err());
    args[args.length - 1] = dir.resolve("lines").toString();
    CliRun logged = with("lines", "true", () -> hbp(args));
    logged.assertExit(0);
    assertTrue(logged.err().contains("epoch 1/2 [") && !logged.err().contains("\r"), logged.err());
    // not forced, standard error redirected: train prints the bar's lines (a log), as before
    args[args.length - 1] = dir.resolve("log").toString();
    CliRun log = with(null, "false", () -> hbp(args));
    log.assertExit(0);
    assertTrue(log.err().contains("epoch 2/2 [########################] 100% 4/4") && !log.err().contains("\r"), log.err());
  }

  /**
   * experiment draws its runs' bars on standard output with its log: none with HBP_PROGRESS=off (only a line per epoch), a line per
   * quarter epoch with lines, redrawn with bar, and lines when not forced and standard output is not a terminal (a log, as train).
   */
  @Test
  void experimentHonoursTheProgressVariable(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) {
    java.util.function.Function<String, String[]> args = out -> new String[] {"experiment", "fig4", "--scale", "small", "--only", "SGD", "--data",
        "synthetic:500,20", "--out", dir.resolve(out).toString()};
    CliRun off = with("off", "true", () -> hbp(args.apply("off")));
    off.assertExit(0);
    assertTrue(off.out().contains("epoch 4: train loss "), off.out());
    assertFalse(off.out().contains("epoch 1/4 [") || off.out().contains("\r"), off.out());
    CliRun lines = with("lines", "true", () -> hbp(args.apply("lines")));
    lines.assertExit(0);
    assertTrue(lines.out().contains("epoch 1/4 [########################] 100% 1/1") && !lines.out().contains("\r"), lines.out());
    CliRun bar = with("bar", "false", () -> hbp(args.apply("bar")));
    bar.assertExit(0);
    assertTrue(bar.out().contains("\repoch 1/4 ["), bar.out());
    CliRun log = with(null, "true", () -> hbp(args.apply("log")));
    log.assertExit(0);
    assertTrue(log.out().contains("epoch 4/4 [") && !log.out().contains("\r"), "no console: lines, whatever standard error is\n" + log.out());
  }

  @Test
  void aWrongProgressVariableIsAClearError() {
    CliRun r = with("sometimes", null, () -> hbp(BENCH));
    r.assertExit(2);
    assertEquals("hbp: HBP_PROGRESS='sometimes': expected bar, lines or off\n", r.err());
  }

  @Test
  void progressModeOfItsInputs() {
    assertEquals(ProgressMode.BAR, ProgressMode.of(null, "true", false));
    assertEquals(ProgressMode.OFF, ProgressMode.of(null, "false", true));
    assertEquals(ProgressMode.BAR, ProgressMode.of(null, null, true), "java -jar: a console counts");
    assertEquals(ProgressMode.OFF, ProgressMode.of(null, null, false));
    assertEquals(ProgressMode.LINES, ProgressMode.of("lines", "true", true));
    assertEquals(ProgressMode.OFF, ProgressMode.of("off", "true", true));
    assertEquals(ProgressMode.BAR, ProgressMode.of("bar", "false", false));
    assertThrows(UserError.class, () -> ProgressMode.of("yes", null, false));
  }

  @Test
  void benchQuickTakesItsSettingsUnlessGiven() {
    CliRun r = with(null, "false", () -> hbp("bench", "--net", "networks/resnet.hbp", "--backend", "blas-f64", "--quick"));
    r.assertExit(0);
    r.assertOutContains("batch 100", "quick (1 warm-up, 1 timed)", "exact products, all blocks, 1 direction", "bda products, all blocks, 1 direction");
    assertFalse(r.out().contains("10 directions"), r.out());
    CliRun given = with(null, "false", () -> hbp("bench", "--net", "networks/resnet.hbp", "--backend", "cpu", "--quick", "--batch", "3", "--directions",
        "2", "--strategies", "exact"));
    given.assertExit(0);
    given.assertOutContains("batch 3", "exact products, all blocks, 2 directions");
  }

  @Test
  void theMeasurementCount() {
    assertEquals(1 + 2 + 3 + 3, BenchCommand.measurements(List.of(org.hbp.network.Strategy.EXACT, org.hbp.network.Strategy.KFRA,
        org.hbp.network.Strategy.BDA), 2));
  }

  @Test
  void anInterruptedTrainingRunSaysHowToResume() {
    List<String> args = List.of("train", "--net", "networks/fc-fmnist.hbp", "--data", "fashion-mnist", "--out", "runs/my run");
    assertEquals("hbp: interrupted; the run keeps its last checkpoint (the last finished epoch); continue it with:\n"
        + "  hbp train --net networks/fc-fmnist.hbp --data fashion-mnist --out 'runs/my run' --resume\n", InterruptHint.message(args, true));
    assertEquals("hbp: interrupted before the run started; start it again with:\n"
        + "  hbp train --net networks/fc-fmnist.hbp --data fashion-mnist --out 'runs/my run'\n", InterruptHint.message(args, false));
    List<String> resumed = List.of("train", "--net", "n.hbp", "--out=r", "--resume");
    assertTrue(InterruptHint.message(resumed, true).endsWith("\n  hbp train --net n.hbp --out=r --resume\n"), "--resume is not doubled");
  }

  @Test
  void anInterruptedExperimentSaysToRunItAgain() {
    assertEquals("hbp: interrupted; finished runs are kept, and the same command continues the others (the interrupted one from its last "
        + "checkpoint):\n  hbp experiment fig4 --scale small\n", InterruptHint.message(List.of("experiment", "fig4", "--scale", "small"), false));
    assertEquals("hbp: interrupted\n", InterruptHint.message(List.of("derive", "x.hbp"), false));
  }

  @Test
  void theRunFolderIsTheLastOutOption() {
    assertEquals("b", InterruptHint.optionValue(List.of("train", "--out", "a", "--out=b"), "--out"));
    assertEquals(null, InterruptHint.optionValue(List.of("train", "--out"), "--out"));
  }
}
