package org.hbp.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;
import org.hbp.plot.RunFixtures;
import org.hbp.plot.TrainingPlots;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code hbp plot} end to end on run directories written here. */
class PlotCommandTest {
  static {
    System.setProperty("java.awt.headless", "true");
  }

  @TempDir Path dir;

  /** Runs the command through {@link Main#execute}'s error handling: input errors give one line on err and status 2. */
  private static CliRun plot(String... args) {
    return CliRun.on(new CommandLine(new PlotCommand()), args);
  }

  /** A run whose last test loss and accuracy are given. */
  private Path run(String name, String label, long seed, double finalLoss, double finalAccuracy) throws Exception {
    String body = String.format(Locale.ROOT, "0,0,0,0.0,2.3,0.1,2.3,0.1,NaN%n1,100,6000,10.0,1.0,0.6,1.1,0.6,5.0%n2,200,12000,20.0,%s,0.9,%s,%s,6.0%n",
        Double.toString(finalLoss - 0.01), Double.toString(finalLoss), Double.toString(finalAccuracy));
    return RunFixtures.run(dir.resolve(name), label, seed, body);
  }

  @Test
  void plotsSeedsAndPrintsTheTable() throws Exception {
    List<String> args = new ArrayList<>();
    args.add(run("cg1", "cg-newton ggn bda", 1, 0.30, 0.90).toString());
    args.add(run("cg2", "cg-newton ggn bda", 2, 0.32, 0.91).toString());
    args.add(run("cg3", "cg-newton ggn bda", 3, 0.34, 0.92).toString());
    args.add(run("sgd1", "sgd", 1, 0.5, 0.8).toString());
    Path out = dir.resolve("figures");
    args.addAll(List.of("--out", out.toString(), "--title", "FC on Fashion-MNIST"));
    CliRun r = plot(args.toArray(String[]::new));
    r.assertExit(0);
    assertEquals("", r.err());
    StringBuilder expected = new StringBuilder();
    for (String f : TrainingPlots.FILES) {
      expected.append("wrote ").append(out.resolve(f)).append('\n');
      assertEquals(TrainingPlots.WIDTH, ImageIO.read(out.resolve(f).toFile()).getWidth());
    }
    // mean of 0.30, 0.32, 0.34 is 0.32, sample std 0.02; of 0.90, 0.91, 0.92: 0.91 and 0.01
    expected.append("label              seeds  epochs  final test loss  final test accuracy\n");
    expected.append("cg-newton ggn bda      3       2  0.3200 ± 0.020   0.9100 ± 0.010\n");
    expected.append("sgd                    1       2  0.5000           0.8000\n");
    assertEquals(expected.toString(), r.out().replace(System.lineSeparator(), "\n"));
  }

  @Test
  void oneRunPlotsIntoItsPlotsFolder() throws Exception {
    Path one = run("only", "adam", 7, 0.4, 0.85);
    CliRun r = plot(one.toString());
    r.assertExit(0);
    for (String f : TrainingPlots.FILES) assertTrue(Files.size(one.resolve("plots").resolve(f)) > 0, f);
    assertTrue(r.out().contains("wrote " + one.resolve("plots").resolve("loss-vs-epoch.png")), r.out());
  }

  @Test
  void plotsAgainOverItsOwnPngsButNotOverAUsersFile() throws Exception {
    Path one = run("only", "adam", 7, 0.4, 0.85);
    plot(one.toString()).assertExit(0);
    plot(one.toString()).assertExit(0); // hbp's own PNGs, unchanged since: drawn again without --overwrite
    Path mine = one.resolve("plots").resolve("loss-vs-time.png");
    Files.writeString(mine, "my own figure");
    byte[] epochPng = Files.readAllBytes(one.resolve("plots").resolve("loss-vs-epoch.png"));
    CliRun r = plot(one.toString());
    r.assertExit(2);
    r.assertNoStackTrace();
    assertEquals("hbp: --out " + one.resolve("plots") + " holds loss-vs-time.png, not written by hbp there (or changed since); "
        + "choose another --out, remove them, or pass --overwrite", r.err().strip());
    assertEquals("", r.out());
    assertEquals("my own figure", Files.readString(mine));
    assertArrayEquals(epochPng, Files.readAllBytes(one.resolve("plots").resolve("loss-vs-epoch.png")), "nothing is written when one file is refused");
    plot(one.toString(), "--overwrite").assertExit(0);
    assertEquals(TrainingPlots.WIDTH, ImageIO.read(mine.toFile()).getWidth());
  }

  @Test
  void seedsWithDifferentEpochsAreWarnedAbout() throws Exception {
    Path a = run("a1", "a", 1, 0.3, 0.9);
    Path b = RunFixtures.run(dir.resolve("a2"), "a", 2L, "0,0,0,0.0,2.3,0.1,2.3,0.1,NaN\n1,100,6000,10.0,1.0,0.6,1.2,0.6,5.0\n");
    CliRun r = plot(a.toString(), b.toString(), "--out", dir.resolve("p").toString());
    r.assertExit(0);
    assertTrue(r.err().startsWith("hbp plot: warning: 'a': the seeds have different epochs"), r.err());
    assertTrue(r.out().contains("a          2       1  1.150 ± 0.071"), r.out()); // 1.1 and 1.2 at epoch 1
  }

  @Test
  void badInputGivesOneClearLine() throws Exception {
    Path missing = dir.resolve("missing");
    CliRun r = plot(missing.toString(), "--out", dir.resolve("p").toString());
    assertEquals(2, r.code());
    assertEquals("hbp: " + missing + ": no such directory; expected a run directory written by `hbp train`", r.err().strip());

    Path bad = run("bad", "x", 1, 0.3, 0.9);
    Files.writeString(bad.resolve("metrics.csv"), "0,0,0\n", java.nio.file.StandardOpenOption.APPEND);
    r = plot(bad.toString());
    assertEquals(2, r.code());
    assertEquals("hbp: " + bad.resolve("metrics.csv") + ":5: expected 9 comma-separated values, found 3", r.err().strip());

    Path good = run("good", "x", 1, 0.3, 0.9);
    r = plot(good.toString(), good.resolve(".").toString());
    assertEquals(2, r.code());
    assertTrue(r.err().startsWith("hbp: run directory given twice"), r.err());

    r = plot();
    assertEquals(2, r.code());
    assertEquals("hbp: missing required parameter: 'RUN_DIR' (hbp plot --help lists the options)", r.err().strip());
  }
}
