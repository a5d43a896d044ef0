package org.hbp.plot;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.Color;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.hbp.UserError;
import org.hbp.io.RegeneratedFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The four PNG figures: valid, of the right size, deterministic, with the ± std band, and written atomically. */
class TrainingPlotsTest {
  static {
    System.setProperty("java.awt.headless", "true");
  }

  @TempDir Path dir;

  /** Three seeds of "cg" around the curve of offset 0 (offsets -d, 0, +d), or just the middle one. */
  private List<RunMetrics> runs(boolean threeSeeds) throws IOException {
    List<RunMetrics> runs = new ArrayList<>();
    double[] offsets = threeSeeds ? new double[] {-0.12, 0.0, 0.12} : new double[] {0.0};
    String tag = threeSeeds ? "three" : "one";
    for (int s = 0; s < offsets.length; s++)
      runs.add(RunMetrics.read(RunFixtures.synthetic(dir.resolve(tag + "/cg" + s), "cg", s, 10, offsets[s], 30)));
    return runs;
  }

  private static List<String> names(Path d) throws IOException {
    try (Stream<Path> s = Files.list(d)) {
      return s.map(p -> p.getFileName().toString()).sorted().collect(Collectors.toList());
    }
  }

  @Test
  void writesFourPngsOfTheRightSizeDeterministically() throws Exception {
    List<RunMetrics> runs = runs(true);
    runs.add(RunMetrics.read(RunFixtures.synthetic(dir.resolve("sgd"), "sgd", 1, 10, 0.3, 8)));
    Path out = dir.resolve("plots");
    List<Path> files = TrainingPlots.write(runs, out, "test figure");
    assertEquals(TrainingPlots.FILES.stream().map(out::resolve).toList(), files);
    List<String> expected = new ArrayList<>(TrainingPlots.FILES);
    expected.add(RegeneratedFiles.RECORD); // their hashes: hbp's own, drawn again without --overwrite
    expected.sort(null);
    assertEquals(expected, names(out));
    for (Path f : files) {
      assertTrue(Files.size(f) > 5000, f.toString());
      BufferedImage img = ImageIO.read(f.toFile());
      assertNotNull(img, f + " is not a readable image");
      assertEquals(TrainingPlots.WIDTH, img.getWidth());
      assertEquals(TrainingPlots.HEIGHT, img.getHeight());
    }
    Path again = dir.resolve("again");
    TrainingPlots.write(runs, again, "test figure");
    for (String name : TrainingPlots.FILES)
      assertArrayEquals(Files.readAllBytes(out.resolve(name)), Files.readAllBytes(again.resolve(name)), name + " differs between two writes");
  }

  /** Pixels of the first label's band color (its line color, translucent, over white). */
  private static int bandPixels(BufferedImage img) {
    Color line = TrainingPlots.PALETTE[0];
    double a = TrainingPlots.BAND_ALPHA / 255.0;
    int r = (int) Math.round(255 + (line.getRed() - 255) * a), g = (int) Math.round(255 + (line.getGreen() - 255) * a),
        b = (int) Math.round(255 + (line.getBlue() - 255) * a);
    int count = 0;
    for (int y = 0; y < img.getHeight(); y++) {
      for (int x = 0; x < img.getWidth(); x++) {
        int p = img.getRGB(x, y);
        if (Math.abs(((p >> 16) & 255) - r) <= 3 && Math.abs(((p >> 8) & 255) - g) <= 3 && Math.abs((p & 255) - b) <= 3) count++;
      }
    }
    return count;
  }

  @Test
  void threeSeedsDrawABandThatOneSeedDoesNot() throws Exception {
    Path three = dir.resolve("plots3"), one = dir.resolve("plots1");
    TrainingPlots.write(runs(true), three, null);
    TrainingPlots.write(runs(false), one, null);
    for (String name : List.of("accuracy-vs-epoch.png", "accuracy-vs-time.png")) {
      BufferedImage withBand = ImageIO.read(three.resolve(name).toFile()), without = ImageIO.read(one.resolve(name).toFile());
      int banded = bandPixels(withBand), plain = bandPixels(without);
      // accuracy std is 0.03 on a range of about 0.8 over 10 epochs: a band of several thousand pixels
      assertTrue(banded > 5000, name + ": only " + banded + " band-colored pixels with three seeds");
      assertTrue(plain < 100, name + ": " + plain + " band-colored pixels with one seed");
    }
    // the loss figures differ too (bands around test and train loss)
    assertFalse(Arrays.equals(Files.readAllBytes(three.resolve("loss-vs-epoch.png")), Files.readAllBytes(one.resolve("loss-vs-epoch.png"))));
    assertTrue(bandPixels(ImageIO.read(three.resolve("loss-vs-epoch.png").toFile())) > 5000);
  }

  @Test
  void logScaleOnlyForPositiveLossesSpanningMoreThanTwoDecades() {
    SeedGroup.MeanStd wide = new SeedGroup.MeanStd(new double[] {2.3, 0.5, 0.01}, new double[3]);
    SeedGroup.MeanStd narrow = new SeedGroup.MeanStd(new double[] {2.3, 0.5, 0.1}, new double[3]);
    SeedGroup.MeanStd negative = new SeedGroup.MeanStd(new double[] {2.3, -0.5, 0.001}, new double[3]);
    assertTrue(TrainingPlots.useLogScale(List.of(wide)));
    assertFalse(TrainingPlots.useLogScale(List.of(narrow)));
    assertFalse(TrainingPlots.useLogScale(List.of(wide, negative)));
    assertFalse(TrainingPlots.useLogScale(List.of(new SeedGroup.MeanStd(new double[] {Double.NaN}, new double[1]))));
  }

  @Test
  void failedWriteLeavesNoPartialFile() throws Exception {
    Path out = dir.resolve("plots");
    Files.createDirectories(out.resolve("loss-vs-time.png")); // the third target is taken by a non-empty directory
    Files.writeString(out.resolve("loss-vs-time.png").resolve("keep.txt"), "x");
    // without --overwrite, the folder there is not hbp's own: refused before any write
    assertThrows(UserError.class, () -> TrainingPlots.write(runs(true), out, null));
    assertEquals(List.of("loss-vs-time.png"), names(out));
    assertThrows(IOException.class, () -> TrainingPlots.write(runs(true), out, null, w -> {}, true));
    // the two written before are complete, the failed one left no temporary, the last was not started, no record of them
    assertEquals(List.of("accuracy-vs-epoch.png", "loss-vs-epoch.png", "loss-vs-time.png"), names(out));
    assertEquals(List.of("keep.txt"), names(out.resolve("loss-vs-time.png")));
    for (String name : List.of("accuracy-vs-epoch.png", "loss-vs-epoch.png"))
      assertEquals(TrainingPlots.WIDTH, ImageIO.read(out.resolve(name).toFile()).getWidth());
  }

  @Test
  void badInputs() throws Exception {
    assertThrows(IllegalArgumentException.class, () -> TrainingPlots.write(List.of(), dir.resolve("p"), null));
    RunMetrics empty = RunMetrics.read(RunFixtures.run(dir.resolve("e"), "e", 1L, ""));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TrainingPlots.write(List.of(empty), dir.resolve("p"), null));
    assertEquals("nothing to plot: no run has a metrics row yet", e.getMessage());
    assertFalse(Files.exists(dir.resolve("p")), "nothing is written when nothing can be drawn");
    Path file = dir.resolve("file");
    Files.writeString(file, "x");
    UserError io = assertThrows(UserError.class, () -> TrainingPlots.write(runs(false), file, null));
    assertEquals("--out " + file + ": exists and is not a folder", io.getMessage());
  }

  @Test
  void nonFiniteValuesAndSingleEvaluationsStillPlot() throws Exception {
    List<RunMetrics> runs = new ArrayList<>();
    runs.add(RunMetrics.read(RunFixtures.run(dir.resolve("d1"), "diverged", 1L,
        "0,0,0,0.0,2.3,0.1,2.3,0.1,NaN\n1,1,1,1.0,Infinity,0.1,Infinity,0.1,NaN\n2,2,2,2.0,NaN,0.1,NaN,0.1,NaN\n")));
    runs.add(RunMetrics.read(RunFixtures.run(dir.resolve("s1"), "started", 1L, "0,0,0,0.0,2.3,0.1,2.3,0.1,NaN\n")));
    List<Path> files = TrainingPlots.write(runs, dir.resolve("p"), null);
    for (Path f : files) assertNotNull(ImageIO.read(f.toFile()));
  }
}
