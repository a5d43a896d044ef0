package org.hbp.plot;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Grouping runs by label, aligning seeds by epoch, and mean ± sample std over seeds. */
class SeedGroupTest {
  @TempDir Path dir;

  @Test
  void meanAndSampleStdByHand() {
    // epoch 0: 1, 2, 4 -> mean 7/3, squared deviations 16/9 + 1/9 + 25/9 = 42/9, / (3 - 1) -> variance 7/3
    // epoch 1: all 0.5 -> std 0
    SeedGroup.MeanStd s = SeedGroup.meanStd(new double[][] {{1, 0.5}, {2, 0.5}, {4, 0.5}});
    assertArrayEquals(new double[] {7.0 / 3, 0.5}, s.mean(), 1e-15);
    assertArrayEquals(new double[] {Math.sqrt(7.0 / 3), 0}, s.std(), 1e-15);
    assertEquals(1.5275252316519468, s.std()[0], 1e-15);
  }

  @Test
  void oneSeedHasNoStdAndNonFiniteValuesGiveNaN() {
    SeedGroup.MeanStd one = SeedGroup.meanStd(new double[][] {{3, 4}});
    assertArrayEquals(new double[] {3, 4}, one.mean());
    assertTrue(Double.isNaN(one.std()[0]) && Double.isNaN(one.std()[1]));
    SeedGroup.MeanStd diverged = SeedGroup.meanStd(new double[][] {{1, 2}, {1, Double.POSITIVE_INFINITY}});
    assertEquals(1, diverged.mean()[0]);
    assertEquals(0, diverged.std()[0]);
    assertTrue(Double.isNaN(diverged.mean()[1]) && Double.isNaN(diverged.std()[1]));
  }

  @Test
  void groupsByLabelInOrderAndAlignsOnCommonEpochs() throws Exception {
    List<RunMetrics> runs = new ArrayList<>();
    runs.add(RunMetrics.read(RunFixtures.synthetic(dir.resolve("b1"), "b", 1, 5, 0.0, 1)));
    runs.add(RunMetrics.read(RunFixtures.synthetic(dir.resolve("a1"), "a", 1, 4, 0.0, 1)));
    runs.add(RunMetrics.read(RunFixtures.synthetic(dir.resolve("b2"), "b", 2, 3, 0.1, 2)));
    runs.add(RunMetrics.read(RunFixtures.synthetic(dir.resolve("b3"), "b", 2, 5, 0.2, 3)));
    List<String> warnings = new ArrayList<>();
    List<SeedGroup> groups = SeedGroup.of(runs, warnings::add);
    assertEquals(List.of("b", "a"), groups.stream().map(SeedGroup::label).toList());
    SeedGroup b = groups.get(0);
    assertEquals(3, b.seeds());
    assertEquals(List.of(0, 1, 2, 3), b.epochs());
    assertEquals(List.of(0, 1, 2, 3, 4), groups.get(1).epochs());
    assertEquals(List.of("'b': the seeds have different epochs (b1: epochs up to 5, b2: epochs up to 3, b3: epochs up to 5); using the 4 evaluations all of them have",
        "'b': seed 2 appears twice (" + dir.resolve("b2") + " and " + dir.resolve("b3") + ")"), warnings);
    SeedGroup.MeanStd time = b.stat(RunMetrics.Row::wallSeconds);
    assertArrayEquals(new double[] {0, 2, 4, 6}, time.mean(), 1e-12); // seconds per epoch 1, 2, 3
    assertArrayEquals(new double[] {0, 1, 2, 3}, time.std(), 1e-12);
  }

  @Test
  void aRunWithoutRowsLeavesItsGroupEmpty() throws Exception {
    List<RunMetrics> runs = List.of(RunMetrics.read(RunFixtures.synthetic(dir.resolve("x1"), "x", 1, 2, 0, 1)),
        RunMetrics.read(RunFixtures.run(dir.resolve("x2"), "x", 2L, "")));
    List<String> warnings = new ArrayList<>();
    List<SeedGroup> groups = SeedGroup.of(runs, warnings::add);
    assertEquals(List.of(), groups.get(0).epochs());
    assertEquals("'x': no metrics rows yet common to all seeds; not plotted", warnings.get(warnings.size() - 1));
  }
}
