package org.hbp.plot;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import javax.imageio.ImageIO;
import org.hbp.UserError;
import org.hbp.io.RegeneratedFiles;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries.XYSeriesRenderStyle;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler.LegendLayout;
import org.knowm.xchart.style.Styler.LegendPosition;
import org.knowm.xchart.style.XYStyler;
import org.knowm.xchart.style.lines.SeriesLines;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * Training curves of runs of {@code hbp train} as PNG figures in the style of Dangel, Harmeling &amp;
 * Hennig (2020), Figs. 4 and 5: for each configuration (label), the mean over its seeds as a line
 * and the mean ± one sample standard deviation as a translucent band of the same color (no band for
 * a single seed). Four figures: loss and test accuracy, each against epochs and against training
 * wall time (the mean over seeds at each epoch). The loss figures show test loss solid and training
 * loss dashed. Colors follow a fixed palette in the order in which labels first appear; the output
 * depends only on the inputs. Tick labels as {@link TickLabels} chooses them from the ranges drawn.
 */
public final class TrainingPlots {
  /** Figure size in pixels. */
  public static final int WIDTH = 900, HEIGHT = 600;

  /** The files {@link #write} writes, in order. */
  public static final List<String> FILES = List.of("loss-vs-epoch.png", "accuracy-vs-epoch.png", "loss-vs-time.png", "accuracy-vs-time.png");

  /** Opacity of the ± std bands. */
  static final int BAND_ALPHA = 56;

  /** Line colors, by label (matplotlib's "tab10"), reused cyclically after ten labels. */
  static final Color[] PALETTE = {new Color(0x1f77b4), new Color(0xff7f0e), new Color(0x2ca02c), new Color(0xd62728), new Color(0x9467bd),
      new Color(0x8c564b), new Color(0xe377c2), new Color(0x7f7f7f), new Color(0xbcbd22), new Color(0x17becf)};

  private static final String EPOCH_AXIS = "Epoch";

  private static final BasicStroke SOLID = new BasicStroke(2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_ROUND);
  private static final BasicStroke DASHED = new BasicStroke(2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_ROUND, 10f, new float[] {7f, 4f}, 0f);

  static {
    if (System.getProperty("java.awt.headless") == null) System.setProperty("java.awt.headless", "true");
  }

  private TrainingPlots() {
  }

  /** The band color of a line color: the same color, translucent. */
  static Color bandColor(Color line) {
    return new Color(line.getRed(), line.getGreen(), line.getBlue(), BAND_ALPHA);
  }

  /** Like {@link #write(List, Path, String, Consumer, boolean)}, ignoring warnings, without {@code --overwrite}. */
  public static List<Path> write(List<RunMetrics> runs, Path outDir, String title) throws IOException {
    return write(runs, outDir, title, w -> {}, false);
  }

  /**
   * Writes the four figures {@link #FILES} to {@code outDir} (created if needed), each atomically,
   * as outputs that hbp draws again ({@link RegeneratedFiles}): a file there that hbp did not
   * write (or that changed since) is refused before anything is written, unless {@code
   * overwrite}. All figures are drawn before the first file is written.
   *
   * @param title prefix of each figure's title, or null
   * @param warnings receives a line for each label whose seeds have different epochs (only the
   *     epochs common to all are plotted), has none in common, or repeats a seed
   * @return the files written
   * @throws UserError when there are no runs, or no run has a metrics row yet, or a file at an
   *     output path is not hbp's own and {@code overwrite} is false
   */
  public static List<Path> write(List<RunMetrics> runs, Path outDir, String title, Consumer<String> warnings, boolean overwrite) throws IOException {
    Map<String, XYChart> charts = charts(SeedGroup.of(runs, warnings), title);
    Map<String, byte[]> images = new LinkedHashMap<>();
    for (Map.Entry<String, XYChart> e : charts.entrySet()) images.put(e.getKey(), png(e.getValue()));
    return RegeneratedFiles.write("--out", outDir, images, overwrite);
  }

  /**
   * The chart as PNG bytes. XChart draws each segment of a line separately, so that antialiased
   * joints come out lighter (or, with round caps, darker) than the line; drawn at twice the size and
   * averaged down over 2 x 2 pixels, those seams all but vanish (and edges are smoother).
   */
  static byte[] png(XYChart chart) throws IOException {
    int w = chart.getWidth(), h = chart.getHeight();
    BufferedImage big = new BufferedImage(2 * w, 2 * h, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = big.createGraphics();
    try {
      g.setRenderingHint(RenderingHints.KEY_STROKE_CONTROL, RenderingHints.VALUE_STROKE_PURE);
      g.scale(2, 2);
      chart.paint(g, w, h);
    } finally {
      g.dispose();
    }
    BufferedImage image = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        int r = 0, gr = 0, b = 0;
        for (int dy = 0; dy < 2; dy++) {
          for (int dx = 0; dx < 2; dx++) {
            int p = big.getRGB(2 * x + dx, 2 * y + dy);
            r += (p >> 16) & 255;
            gr += (p >> 8) & 255;
            b += p & 255;
          }
        }
        image.setRGB(x, y, ((r + 2) / 4) << 16 | ((gr + 2) / 4) << 8 | (b + 2) / 4);
      }
    }
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    if (!ImageIO.write(image, "png", bytes)) throw new IOException("no PNG writer available");
    return bytes.toByteArray();
  }

  /** The four figures, by file name. */
  static Map<String, XYChart> charts(List<SeedGroup> groups, String title) {
    if (groups.isEmpty()) throw new UserError("no runs to plot");
    List<SeedGroup> plotted = new ArrayList<>();
    List<Color> colors = new ArrayList<>();
    for (int g = 0; g < groups.size(); g++) {
      if (groups.get(g).epochs().isEmpty()) continue;
      plotted.add(groups.get(g));
      colors.add(PALETTE[g % PALETTE.length]); // by label order, so a label keeps its color when another is empty
    }
    if (plotted.isEmpty()) throw new UserError("nothing to plot: no run has a metrics row yet");

    // x values: epochs, and mean wall time in a unit that keeps the numbers readable
    List<double[]> epochs = new ArrayList<>(), times = new ArrayList<>();
    double maxSeconds = 0;
    for (SeedGroup g : plotted) {
      epochs.add(g.epochs().stream().mapToDouble(Integer::doubleValue).toArray());
      double[] t = g.stat(RunMetrics.Row::wallSeconds).mean();
      times.add(t);
      for (double v : t) if (Double.isFinite(v)) maxSeconds = Math.max(maxSeconds, v);
    }
    String unit;
    double scale;
    if (maxSeconds <= 600) {
      unit = "s";
      scale = 1;
    } else if (maxSeconds <= 10 * 3600) {
      unit = "min";
      scale = 60;
    } else {
      unit = "h";
      scale = 3600;
    }
    for (int i = 0; i < times.size(); i++) {
      double[] t = times.get(i).clone();
      for (int j = 0; j < t.length; j++) t[j] /= scale;
      times.set(i, t);
    }

    List<SeedGroup.MeanStd> test = new ArrayList<>(), train = new ArrayList<>(), accuracy = new ArrayList<>();
    for (SeedGroup g : plotted) {
      test.add(g.stat(RunMetrics.Row::testLoss));
      train.add(g.stat(RunMetrics.Row::trainLoss));
      accuracy.add(g.stat(RunMetrics.Row::testAccuracy));
    }
    List<SeedGroup.MeanStd> losses = new ArrayList<>(test);
    losses.addAll(train);
    boolean logLoss = useLogScale(losses);

    String prefix = title == null || title.isBlank() ? "" : title.strip() + ": ";
    String lossAxis = "Loss (solid: test, dashed: train)" + (logLoss ? ", log scale" : "");
    String accuracyAxis = "Test accuracy (fraction correct)";
    String epochAxis = EPOCH_AXIS;
    String timeAxis = "Training wall time (" + unit + ")";
    Map<String, XYChart> charts = new LinkedHashMap<>();
    charts.put(FILES.get(0), lossChart(prefix + "loss vs. epoch", epochAxis, lossAxis, plotted, colors, epochs, test, train, logLoss));
    charts.put(FILES.get(1), chart(prefix + "test accuracy vs. epoch", epochAxis, accuracyAxis, plotted, colors, epochs, accuracy));
    charts.put(FILES.get(2), lossChart(prefix + "loss vs. training time", timeAxis, lossAxis, plotted, colors, times, test, train, logLoss));
    charts.put(FILES.get(3), chart(prefix + "test accuracy vs. training time", timeAxis, accuracyAxis, plotted, colors, times, accuracy));
    return charts;
  }

  /** Log scale when every finite mean is positive and they span more than two decades. */
  static boolean useLogScale(List<SeedGroup.MeanStd> curves) {
    double min = Double.POSITIVE_INFINITY, max = 0;
    boolean any = false;
    for (SeedGroup.MeanStd c : curves) {
      for (int i = 0; i < c.size(); i++) {
        double m = c.mean()[i];
        if (!Double.isFinite(m)) continue;
        if (m <= 0) return false;
        any = true;
        min = Math.min(min, m);
        max = Math.max(max, m);
      }
    }
    return any && max / min > 100;
  }

  private static XYChart lossChart(String title, String xAxis, String yAxis, List<SeedGroup> groups, List<Color> colors, List<double[]> xs,
      List<SeedGroup.MeanStd> test, List<SeedGroup.MeanStd> train, boolean log) {
    XYChart chart = newChart(title, xAxis, yAxis);
    chart.getStyler().setYAxisLogarithmic(log);
    roundTicks(chart, xs, test);
    double floor = log ? positiveMinimum(test, train) : Double.NaN;
    for (int g = 0; g < groups.size(); g++) {
      addBand(chart, "band " + g + " train", xs.get(g), train.get(g), colors.get(g), floor);
      addBand(chart, "band " + g + " test", xs.get(g), test.get(g), colors.get(g), floor);
    }
    for (int g = 0; g < groups.size(); g++) {
      addLine(chart, "train " + g, null, xs.get(g), train.get(g).mean(), colors.get(g), DASHED);
      addLine(chart, "test " + g, legend(groups.get(g)), xs.get(g), test.get(g).mean(), colors.get(g), SOLID);
    }
    legendLayout(chart, groups);
    TickLabels.apply(chart);
    return chart;
  }

  private static XYChart chart(String title, String xAxis, String yAxis, List<SeedGroup> groups, List<Color> colors, List<double[]> xs,
      List<SeedGroup.MeanStd> ys) {
    XYChart chart = newChart(title, xAxis, yAxis);
    roundTicks(chart, xs, ys);
    for (int g = 0; g < groups.size(); g++) addBand(chart, "band " + g, xs.get(g), ys.get(g), colors.get(g), Double.NaN);
    for (int g = 0; g < groups.size(); g++) addLine(chart, "line " + g, legend(groups.get(g)), xs.get(g), ys.get(g).mean(), colors.get(g), SOLID);
    legendLayout(chart, groups);
    TickLabels.apply(chart);
    return chart;
  }

  /** The legend below the plot: in one row when it fits the width, else one entry per row. */
  private static void legendLayout(XYChart chart, List<SeedGroup> groups) {
    XYStyler s = chart.getStyler();
    java.awt.image.BufferedImage scratch = new java.awt.image.BufferedImage(1, 1, java.awt.image.BufferedImage.TYPE_INT_ARGB);
    java.awt.Graphics2D g2 = scratch.createGraphics();
    try {
      java.awt.FontMetrics fm = g2.getFontMetrics(s.getLegendFont());
      int width = 2 * s.getLegendPadding();
      for (SeedGroup g : groups) width += fm.stringWidth(legend(g)) + s.getLegendSeriesLineLength() + 3 * s.getLegendPadding();
      s.setLegendLayout(width <= WIDTH - 2 * s.getChartPadding() ? LegendLayout.Horizontal : LegendLayout.Vertical);
    } finally {
      g2.dispose();
    }
  }

  private static String legend(SeedGroup g) {
    return g.label() + " (" + g.seeds() + (g.seeds() == 1 ? " seed)" : " seeds, mean ± std)");
  }

  private static double positiveMinimum(List<SeedGroup.MeanStd> a, List<SeedGroup.MeanStd> b) {
    double min = Double.POSITIVE_INFINITY;
    for (List<SeedGroup.MeanStd> list : List.of(a, b))
      for (SeedGroup.MeanStd c : list)
        for (double m : c.mean()) if (m > 0 && Double.isFinite(m)) min = Math.min(min, m);
    return min;
  }

  /**
   * XChart puts a tick at every k-th x value when all x values are equally spaced (as epochs are):
   * right for a few epochs (a tick per epoch), odd for many (0, 9, 18, ...). For those, and for time
   * axes, a hidden point whose x value breaks the spacing makes it choose round steps instead.
   */
  private static void roundTicks(XYChart chart, List<double[]> xs, List<SeedGroup.MeanStd> ys) {
    if (chart.getXAxisTitle().equals(EPOCH_AXIS)) { // the epoch axes
      double min = Double.POSITIVE_INFINITY, max = Double.NEGATIVE_INFINITY;
      for (double[] x : xs) for (double v : x) {
        min = Math.min(min, v);
        max = Math.max(max, v);
      }
      if (max - min <= 20) return;
    }
    for (int g = 0; g < xs.size(); g++) {
      double[] x = xs.get(g), y = ys.get(g).mean();
      for (int i = 0; i + 1 < x.length; i++) {
        if (Double.isFinite(x[i]) && Double.isFinite(x[i + 1]) && Double.isFinite(y[i]) && x[i + 1] > x[i]) {
          hiddenPoint(chart, (x[i] + x[i + 1]) / 2, y[i]);
          return;
        }
      }
    }
  }

  /** A point that is not drawn (nor in the legend) but counts in XChart's choice of ticks. */
  static void hiddenPoint(XYChart chart, double x, double y) {
    XYSeries s = chart.addSeries("tick helper", new double[] {x}, new double[] {y});
    s.setEnabled(false);
    s.setShowInLegend(false);
    s.setMarker(SeriesMarkers.NONE);
  }

  private static XYChart newChart(String title, String xAxis, String yAxis) {
    XYChart chart = new XYChartBuilder().width(WIDTH).height(HEIGHT).title(title).xAxisTitle(xAxis).yAxisTitle(yAxis).build();
    XYStyler s = chart.getStyler();
    s.setAntiAlias(true);
    s.setChartBackgroundColor(Color.WHITE);
    s.setPlotBackgroundColor(Color.WHITE);
    s.setPlotBorderVisible(true);
    s.setPlotBorderColor(new Color(0x555555));
    s.setPlotGridLinesVisible(true);
    s.setPlotGridLinesColor(new Color(0xe3e3e3));
    s.setPlotGridLinesStroke(new BasicStroke(1f));
    s.setChartTitleBoxVisible(false);
    s.setLegendPosition(LegendPosition.OutsideS);
    s.setLegendBorderColor(Color.WHITE);
    s.setLegendBackgroundColor(Color.WHITE);
    s.setLegendSeriesLineLength(28);
    s.setMarkerSize(7);
    s.setDefaultSeriesRenderStyle(XYSeriesRenderStyle.Line);
    s.setToolTipsEnabled(false);
    return chart;
  }

  /** A line of the means; NaN (and infinite) values leave gaps. One-point lines get a marker. */
  private static void addLine(XYChart chart, String name, String legend, double[] x, double[] y, Color color, BasicStroke stroke) {
    double[] yy = y.clone();
    for (int i = 0; i < yy.length; i++) if (!Double.isFinite(yy[i]) || !Double.isFinite(x[i])) yy[i] = Double.NaN;
    XYSeries s = chart.addSeries(name, x, yy);
    s.setXYSeriesRenderStyle(XYSeriesRenderStyle.Line);
    s.setLineColor(color);
    s.setLineStyle(stroke);
    s.setMarker(isolatedPoints(yy) ? SeriesMarkers.CIRCLE : SeriesMarkers.NONE);
    s.setMarkerColor(color);
    if (legend != null) s.setLabel(legend);
    s.setShowInLegend(legend != null);
  }

  /** Whether some finite value has no finite neighbour, so that a line would not show it. */
  private static boolean isolatedPoints(double[] y) {
    for (int i = 0; i < y.length; i++) {
      if (Double.isNaN(y[i])) continue;
      boolean left = i > 0 && !Double.isNaN(y[i - 1]), right = i + 1 < y.length && !Double.isNaN(y[i + 1]);
      if (!left && !right) return true;
    }
    return false;
  }

  /**
   * The band mean ± std as closed polygons (upper edge forward, lower edge backward), one per run of
   * consecutive epochs where it is finite. With {@code floor} (log scale), the lower edge is clipped
   * to it.
   */
  private static void addBand(XYChart chart, String name, double[] x, SeedGroup.MeanStd c, Color color, double floor) {
    int n = c.size(), part = 0;
    for (int start = 0; start < n; ) {
      if (!bandDefined(x, c, start)) {
        start++;
        continue;
      }
      int end = start;
      while (end + 1 < n && bandDefined(x, c, end + 1)) end++;
      if (end > start) {
        int k = end - start + 1;
        double[] px = new double[2 * k], py = new double[2 * k];
        for (int i = 0; i < k; i++) {
          int j = start + i, r = end - i;
          px[i] = x[j];
          py[i] = c.mean()[j] + c.std()[j];
          px[k + i] = x[r];
          double lower = c.mean()[r] - c.std()[r];
          py[k + i] = Double.isNaN(floor) ? lower : Math.max(lower, floor);
        }
        XYSeries s = chart.addSeries(name + " part " + part++, px, py);
        s.setXYSeriesRenderStyle(XYSeriesRenderStyle.PolygonArea);
        s.setFillColor(bandColor(color));
        s.setLineColor(new Color(0, 0, 0, 0));
        s.setLineStyle(SeriesLines.NONE);
        s.setMarker(SeriesMarkers.NONE);
        s.setShowInLegend(false);
      }
      start = end + 1;
    }
  }

  private static boolean bandDefined(double[] x, SeedGroup.MeanStd c, int i) {
    return Double.isFinite(x[i]) && Double.isFinite(c.mean()[i]) && Double.isFinite(c.std()[i]);
  }
}
