package org.hbp.plot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigDecimal;
import java.text.DecimalFormat;
import java.text.DecimalFormatSymbols;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.knowm.xchart.XYChart;

/**
 * The tick-label patterns of hbp's charts: which pattern a range gets, and that the labels it writes
 * at the ticks XChart can place (multiples of 1, 2 or 5 times a power of ten, 2 to 20 of them across
 * the range) are short, distinct and read back as the tick's value.
 */
class TickLabelsTest {
  private static String format(String pattern, double v) {
    return new DecimalFormat(pattern, DecimalFormatSymbols.getInstance(Locale.ROOT)).format(v);
  }

  /** The labels of the ticks at multiples of step within [lo, hi], in the pattern. */
  private static List<String> labels(String pattern, double lo, double hi, double step) {
    List<String> out = new ArrayList<>();
    BigDecimal s = BigDecimal.valueOf(step);
    for (BigDecimal t = BigDecimal.valueOf(Math.ceil(lo / step)).multiply(s); t.doubleValue() <= hi * (1 + 1e-12) + 1e-300; t = t.add(s))
      out.add(format(pattern, t.doubleValue()));
    return out;
  }

  @Test
  void plainDecimalsWhereTheRangeAllows() {
    assertEquals("0.##", TickLabels.linear(-0.04066, 0.3), "a density's eigenvalues, mixed sign");
    assertEquals(List.of("-0.04", "-0.02", "0", "0.02", "0.04"), labels("0.##", -0.04066, 0.05, 0.02));
    assertEquals("0", TickLabels.linear(0, 20), "epochs");
    assertEquals("0.#", TickLabels.linear(0, 3));
    assertEquals("0.##", TickLabels.linear(0, 1), "accuracy");
    assertEquals("0", TickLabels.linear(-500, 99000));
    assertEquals("0.####", TickLabels.linear(0.002, 0.005));
    assertEquals("0.##", TickLabels.linear(1, 0), "either order");
  }

  @Test
  void scientificOnlyWhereTheRangeIsTinyOrHuge() {
    assertEquals("0.##E0", TickLabels.linear(0, 1e-3));
    assertEquals(List.of("0E0", "2E-4", "4E-4", "6E-4", "8E-4", "1E-3"), labels("0.##E0", 0, 1e-3, 2e-4));
    assertEquals("0.#E0", TickLabels.linear(0, 3e6));
    assertEquals(List.of("0E0", "5E5", "1E6", "1.5E6", "2E6", "2.5E6", "3E6"), labels("0.#E0", 0, 3e6, 5e5));
    assertEquals("0.#E0", TickLabels.linear(-3e-7, 2e-6), "mixed sign, tiny");
    assertEquals("0.#E0", TickLabels.linear(-1e12, 1e12), "mixed sign, huge");
  }

  @Test
  void aRangeOfZeroWidthWritesItsValue() {
    assertEquals("0", TickLabels.linear(0, 0));
    assertEquals("5", format(TickLabels.linear(5, 5), 5));
    assertEquals("0.123", format(TickLabels.linear(0.1234567, 0.1234567), 0.1234567));
    assertEquals("-2.5E-7", format(TickLabels.linear(-2.5e-7, -2.5e-7), -2.5e-7));
    assertEquals("4.2E9", format(TickLabels.linear(4.2e9, 4.2e9), 4.2e9));
    assertThrows(IllegalArgumentException.class, () -> TickLabels.linear(0, Double.NaN));
    assertThrows(IllegalArgumentException.class, () -> TickLabels.linear(Double.NEGATIVE_INFINITY, 1));
  }

  /** Over ranges tiny, huge, mixed in sign and off zero: each step XChart may take gives short, distinct labels that read back as the ticks. */
  @Test
  void everyPossibleStepGivesShortDistinctExactLabels() {
    double[][] ranges = {{0, 1}, {-0.04066, 0.3}, {0.5, 0.51}, {0, 1e-3}, {-3e-7, 2e-6}, {1e-12, 5e-12}, {0, 3e6}, {-7e8, 2e9}, {1e30, 4e30},
        {0, 20}, {0, 600}, {2.2, 2.31}, {-1, 1}, {90000, 99999}, {0.001, 0.01}};
    for (double[] r : ranges) {
      String pattern = TickLabels.linear(r[0], r[1]);
      double span = r[1] - r[0];
      for (int k = (int) Math.floor(Math.log10(span)) - 2; k <= (int) Math.ceil(Math.log10(span)); k++) {
        for (double m : new double[] {1, 2, 5}) {
          double step = m * Math.pow(10, k);
          if (step < span / 20 || step > span / 2) continue;
          List<String> labels = labels(pattern, r[0], r[1], step);
          Set<String> distinct = new HashSet<>(labels);
          String where = "range [" + r[0] + ", " + r[1] + "], step " + step + ", pattern " + pattern + ": " + labels;
          assertEquals(labels.size(), distinct.size(), "distinct labels, " + where);
          for (String l : labels) {
            assertTrue(l.length() <= 8, "short labels, " + where);
          }
          BigDecimal s = BigDecimal.valueOf(step);
          int i = 0;
          for (BigDecimal t = BigDecimal.valueOf(Math.ceil(r[0] / step)).multiply(s); i < labels.size(); t = t.add(s), i++) {
            double back = new DecimalFormat(pattern, DecimalFormatSymbols.getInstance(Locale.ROOT)).parse(labels.get(i), new java.text.ParsePosition(0))
                .doubleValue();
            assertEquals(t.doubleValue(), back, step * 1e-6, "reads back, " + where);
          }
        }
      }
      boolean plain = !pattern.contains("E");
      double magnitude = Math.max(Math.abs(r[0]), Math.abs(r[1]));
      assertEquals(magnitude < 1e5 && span / 20 >= 1e-4, plain, "plain exactly where at most 4 decimals and 5 digits do: " + pattern + " for "
          + r[0] + ", " + r[1]);
    }
  }

  @Test
  void logarithmicAxesHaveTheirPowersOfTenPlainOrScientific() {
    assertEquals("0.##", TickLabels.logarithmic(0.05, 2.3), "losses");
    assertEquals(List.of("0.01", "0.1", "1", "10"), List.of(format("0.##", 0.01), format("0.##", 0.1), format("0.##", 1), format("0.##", 10)));
    assertEquals("0", TickLabels.logarithmic(1, 900));
    assertEquals("0.##E0", TickLabels.logarithmic(5e-7, 50), "a density down to 1e-8 of its maximum");
    assertEquals("1E-7", format("0.##E0", 1e-7));
    assertEquals("0.##E0", TickLabels.logarithmic(1, 2e5));
    assertThrows(IllegalArgumentException.class, () -> TickLabels.logarithmic(0, 1));
  }

  /** The tick labels XChart draws on an axis of {@code chart} (read from its internals after painting it). */
  static List<String> drawnLabels(XYChart chart, boolean xAxis) throws Exception {
    java.awt.image.BufferedImage image = new java.awt.image.BufferedImage(chart.getWidth(), chart.getHeight(), java.awt.image.BufferedImage.TYPE_INT_RGB);
    java.awt.Graphics2D g = image.createGraphics();
    try {
      chart.paint(g, chart.getWidth(), chart.getHeight());
    } finally {
      g.dispose();
    }
    java.lang.reflect.Field pairField = org.knowm.xchart.internal.chartpart.Chart.class.getDeclaredField("axisPair");
    pairField.setAccessible(true);
    Object pair = pairField.get(chart);
    java.lang.reflect.Method axisOf = pair.getClass().getDeclaredMethod(xAxis ? "getXAxis" : "getYAxis");
    axisOf.setAccessible(true);
    org.knowm.xchart.internal.chartpart.Axis<?, ?> axis = (org.knowm.xchart.internal.chartpart.Axis<?, ?>) axisOf.invoke(pair);
    return axis.getAxisTickCalculator().getTickLabels().stream().filter(l -> l != null && !l.isEmpty()).toList();
  }

  private static final String PLAIN = "-?\\d{1,5}(\\.\\d{1,4})?", SCIENTIFIC = "-?\\d(\\.\\d{1,2})?E-?\\d{1,3}";

  /**
   * The labels drawn: all plain or all scientific as {@code scientific} says, distinct, at most 8 characters and (on a linear
   * axis) evenly spaced, that is at round steps.
   */
  private static void assertReadable(List<String> labels, boolean scientific, boolean linear, String what) {
    assertTrue(labels.size() >= 2, what + ": " + labels);
    assertEquals(labels.size(), new HashSet<>(labels).size(), what + ": distinct " + labels);
    for (String l : labels) {
      assertTrue(l.length() <= 8 && l.matches(scientific ? SCIENTIFIC : PLAIN), what + ": " + l + " in " + labels);
    }
    if (!linear) return;
    double[] v = labels.stream().mapToDouble(l -> Double.parseDouble(l)).toArray();
    for (int i = 2; i < v.length; i++) assertEquals(v[1] - v[0], v[i] - v[i - 1], 1e-9 * Math.abs(v[1] - v[0]), what + ": evenly spaced " + labels);
  }

  /** A density over a grid of equally spaced eigenvalues: round ticks, plain where the range allows, a log axis of powers of ten. */
  @Test
  void aDensityPlotDrawsReadableTicks() throws Exception {
    double[] grid = new double[1000], density = new double[1000];
    for (int i = 0; i < grid.length; i++) {
      grid[i] = -0.04066 + i * (0.3 + 0.04066) / 999;
      density[i] = 20 * Math.exp(-(grid[i] - 0.01) * (grid[i] - 0.01) / 2e-4) + 0.5 * Math.exp(-(grid[i] - 0.25) * (grid[i] - 0.25) / 1e-4);
    }
    XYChart c = DensityPlot.chart(grid, density, "density");
    assertReadable(drawnLabels(c, true), false, true, "eigenvalues");
    assertReadable(drawnLabels(c, false), true, false, "density");
    double[] tiny = grid.clone(), huge = grid.clone();
    for (int i = 0; i < grid.length; i++) {
      tiny[i] *= 1e-4;
      huge[i] *= 1e8;
    }
    assertReadable(drawnLabels(DensityPlot.chart(tiny, density, "tiny"), true), true, true, "tiny eigenvalues");
    assertReadable(drawnLabels(DensityPlot.chart(huge, density, "huge"), true), true, true, "huge eigenvalues");
  }

  /** Training plots of losses near 1 and of tiny ones: each axis's labels plain, or scientific where the range is tiny. */
  @Test
  void trainingPlotsDrawReadableTicks(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
    List<RunMetrics> runs = new ArrayList<>();
    for (int s = 0; s < 2; s++) runs.add(RunMetrics.read(RunFixtures.synthetic(dir.resolve("cg" + s), "cg", s, 30, 0.05 * s, 30)));
    for (java.util.Map.Entry<String, XYChart> e : TrainingPlots.charts(SeedGroup.of(runs, w -> {}), "t").entrySet()) {
      assertReadable(drawnLabels(e.getValue(), true), false, true, e.getKey() + " x");
      assertReadable(drawnLabels(e.getValue(), false), false, !e.getValue().getStyler().isYAxisLogarithmic(), e.getKey() + " y");
    }
    StringBuilder body = new StringBuilder();
    for (int e = 0; e <= 5; e++)
      body.append(String.format(Locale.ROOT, "%d,%d,%d,%s,%s,0.5,%s,0.5,NaN%n", e, e, e, e * 2.0, 3e-5 - 2e-6 * e, 3.1e-5 - 2e-6 * e));
    List<RunMetrics> tiny = List.of(RunMetrics.read(RunFixtures.run(dir.resolve("tiny"), "tiny", 1L, body.toString())));
    XYChart loss = TrainingPlots.charts(SeedGroup.of(tiny, w -> {}), "t").get("loss-vs-epoch.png");
    assertReadable(drawnLabels(loss, false), true, true, "tiny losses");
    assertEquals("0.##E0", loss.getStyler().getYAxisDecimalPattern());
    assertEquals("0.#", loss.getStyler().getXAxisDecimalPattern(), "epochs 0 to 5");
  }

  /** The charts hbp draws get the patterns of their values' ranges. */
  @Test
  void theChartsStylersGetThePatterns() {
    double[] grid = new double[50], density = new double[50];
    for (int i = 0; i < grid.length; i++) {
      grid[i] = -0.04066 + i * (0.3 + 0.04066) / 49;
      density[i] = Math.exp(-grid[i] * grid[i] / 1e-3) * 20;
    }
    XYChart c = DensityPlot.chart(grid, density, "density");
    assertEquals("0.##", c.getStyler().getXAxisDecimalPattern());
    assertEquals("0.##E0", c.getStyler().getYAxisDecimalPattern());
    double[] tiny = grid.clone();
    for (int i = 0; i < tiny.length; i++) tiny[i] *= 1e-4;
    assertEquals("0.#E0", DensityPlot.chart(tiny, density, "tiny").getStyler().getXAxisDecimalPattern());

    XYChart empty = new org.knowm.xchart.XYChartBuilder().build();
    empty.addSeries("nan", new double[] {Double.NaN}, new double[] {Double.NaN});
    TickLabels.apply(empty);
    assertNull(empty.getStyler().getXAxisDecimalPattern(), "no finite values: XChart's own choice");
  }
}
