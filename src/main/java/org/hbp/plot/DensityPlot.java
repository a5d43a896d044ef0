package org.hbp.plot;

import java.awt.BasicStroke;
import java.awt.Color;
import java.io.IOException;
import java.nio.file.Path;
import org.hbp.io.AtomicFiles;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.XYStyler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * A spectral density (of {@code hbp spectrum}) as a PNG: density against eigenvalue, the density on
 * a logarithmic axis as PyHessian draws it. Values below {@value #FLOOR} of the maximum (the
 * Gaussians' far tails, and zeros) are drawn at that floor, which a log axis needs. Tick labels as
 * {@link TickLabels} chooses them from the ranges drawn.
 */
public final class DensityPlot {
  /** The smallest density drawn, relative to the largest. */
  static final double FLOOR = 1e-8;

  static {
    if (System.getProperty("java.awt.headless") == null) System.setProperty("java.awt.headless", "true");
  }

  private DensityPlot() {}

  /** The chart of {@code density} over {@code grid}. */
  static XYChart chart(double[] grid, double[] density, String title) {
    if (grid.length != density.length || grid.length < 2) throw new IllegalArgumentException("a density needs at least 2 grid points, one value each");
    double max = 0;
    for (double d : density) max = Math.max(max, d);
    double floor = max > 0 ? max * FLOOR : 1e-300;
    double[] y = new double[density.length];
    for (int i = 0; i < y.length; i++) y[i] = Math.max(density[i], floor);
    XYChart chart = new XYChartBuilder().width(TrainingPlots.WIDTH).height(TrainingPlots.HEIGHT).title(title)
        .xAxisTitle("Eigenvalue").yAxisTitle("Density (log scale)").build();
    XYStyler s = chart.getStyler();
    s.setChartBackgroundColor(Color.WHITE);
    s.setPlotBackgroundColor(Color.WHITE);
    s.setPlotBorderVisible(true);
    s.setPlotBorderColor(new Color(0x555555));
    s.setPlotGridLinesVisible(true);
    s.setPlotGridLinesColor(new Color(0xe3e3e3));
    s.setLegendVisible(false);
    s.setYAxisLogarithmic(true);
    XYSeries series = chart.addSeries("density", grid, y);
    series.setLineColor(TrainingPlots.PALETTE[0]);
    series.setLineStyle(new BasicStroke(2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_ROUND));
    series.setMarker(SeriesMarkers.NONE);
    // the grid is equally spaced, and XChart then puts its ticks at every k-th grid point (labels like -0.04066):
    // a hidden point between the first two makes it choose round steps
    TrainingPlots.hiddenPoint(chart, (grid[0] + grid[1]) / 2, y[0]);
    TickLabels.apply(chart);
    return chart;
  }

  /** Writes the chart of {@code density} over {@code grid} to {@code file} as a PNG, atomically, replacing an existing file. */
  public static void write(Path file, double[] grid, double[] density, String title) throws IOException {
    write(file, AtomicFiles.Existing.REPLACE, grid, density, title);
  }

  /** As {@link #write(Path, double[], double[], String)}, an existing file replaced or kept as {@code existing} says. */
  public static void write(Path file, AtomicFiles.Existing existing, double[] grid, double[] density, String title) throws IOException {
    byte[] png = TrainingPlots.png(chart(grid, density, title));
    AtomicFiles.write(file, existing, out -> out.write(png));
  }
}
