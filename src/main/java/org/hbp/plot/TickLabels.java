package org.hbp.plot;

import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.XYStyler;

/**
 * The tick labels of hbp's charts: a {@link java.text.DecimalFormat} pattern for each axis, chosen
 * from the range of the values drawn on it, so that labels are short plain decimals ({@code 0.05},
 * {@code -2}, {@code 1500}) where the range allows, and a compact scientific form ({@code 2E-4},
 * {@code 1.5E6}) only where plain decimals would need more than {@value #MAX_DECIMALS} decimals or
 * more than five digits before the point (one fixed pattern for every range wrote labels such as
 * {@code -4.066E-2}).
 *
 * <p>XChart places linear ticks at multiples of a step 1, 2 or 5 times a power of ten, about a
 * tenth of the range or more on hbp's figure width ({@link TrainingPlots#WIDTH}), unless the x
 * values are equally spaced (then at every k-th of them: the plots add a hidden point that breaks
 * the spacing, {@link TrainingPlots#hiddenPoint}); the patterns
 * allow digits for steps down to {@value #FINEST_STEP} of the range, as optional digits
 * ({@code #}), so that a tick at a round value prints without trailing zeros. A logarithmic axis
 * has its labels at powers of ten.
 */
public final class TickLabels {
  /** The finest tick step assumed, as a fraction of the axis range. */
  static final double FINEST_STEP = 1.0 / 20;

  /** The most decimals a plain label gets; a finer range is written in scientific form. */
  static final int MAX_DECIMALS = 4;

  /** Magnitudes from which labels are written in scientific form (more than five digits before the point). */
  static final double LARGE = 1e5;

  private TickLabels() {}

  /**
   * The pattern of a linear axis over [min, max] (in either order): {@code 0.##} with as many
   * optional decimals as a step of {@value #FINEST_STEP} of the range needs, when that is at most
   * {@value #MAX_DECIMALS} and the labels stay below {@value #LARGE} in magnitude; else
   * {@code 0.#E0} with as many optional mantissa digits as that step needs. A range of zero width
   * (one value) is taken as the width of its value's magnitude ({@code 0}: "0").
   *
   * @throws IllegalArgumentException when min or max is not finite
   */
  public static String linear(double min, double max) {
    if (!Double.isFinite(min) || !Double.isFinite(max)) throw new IllegalArgumentException("an axis range needs finite ends, not [" + min + ", " + max + "]");
    double lo = Math.min(min, max), hi = Math.max(min, max);
    double magnitude = Math.max(Math.abs(lo), Math.abs(hi));
    if (magnitude == 0) return "0";
    double span = hi - lo > 0 ? hi - lo : magnitude;
    double step = span * FINEST_STEP;
    int stepExponent = (int) Math.floor(Math.log10(step));
    int decimals = Math.max(0, -stepExponent);
    if (decimals <= MAX_DECIMALS && magnitude < LARGE) return decimals == 0 ? "0" : "0." + "#".repeat(decimals);
    int mantissa = Math.max(0, (int) Math.floor(Math.log10(magnitude)) - stepExponent);
    return mantissa == 0 ? "0E0" : "0." + "#".repeat(mantissa) + "E0";
  }

  /**
   * The pattern of a logarithmic axis over the positive [min, max]: its labels are powers of ten,
   * from the one at or below min to the one at or above max; plain ({@code 0.###}, as many optional
   * decimals as the smallest needs) when they lie in [1e-{@value #MAX_DECIMALS}, {@value #LARGE}),
   * else scientific ({@code 0.##E0}: {@code 1E-8}, {@code 1E3}).
   *
   * @throws IllegalArgumentException when min or max is not finite and positive
   */
  public static String logarithmic(double min, double max) {
    if (!(min > 0 && max > 0 && Double.isFinite(min) && Double.isFinite(max)))
      throw new IllegalArgumentException("a logarithmic axis needs a positive finite range, not [" + min + ", " + max + "]");
    int lowest = (int) Math.floor(Math.log10(Math.min(min, max))), highest = (int) Math.ceil(Math.log10(Math.max(min, max)));
    if (lowest >= -MAX_DECIMALS && Math.pow(10, highest) < LARGE) return lowest >= 0 ? "0" : "0." + "#".repeat(-lowest);
    return "0.##E0";
  }

  /**
   * Sets the decimal pattern of both axes of {@code chart} (its styler's {@code xAxisDecimalPattern}
   * and {@code yAxisDecimalPattern}; modified) from the finite values of its series ({@link
   * #linear}, or {@link #logarithmic} over the positive values of a logarithmic axis). An axis
   * without such values keeps XChart's choice. Call it after the last series is added.
   */
  public static void apply(XYChart chart) {
    XYStyler s = chart.getStyler();
    double[] x = range(chart, true, s.isXAxisLogarithmic()), y = range(chart, false, s.isYAxisLogarithmic());
    if (x != null) s.setXAxisDecimalPattern(s.isXAxisLogarithmic() ? logarithmic(x[0], x[1]) : linear(x[0], x[1]));
    if (y != null) s.setYAxisDecimalPattern(s.isYAxisLogarithmic() ? logarithmic(y[0], y[1]) : linear(y[0], y[1]));
  }

  /** {min, max} of the finite (on a log axis: finite positive) x or y values of the chart's series; null when there are none. */
  private static double[] range(XYChart chart, boolean xAxis, boolean log) {
    double min = Double.POSITIVE_INFINITY, max = Double.NEGATIVE_INFINITY;
    for (XYSeries series : chart.getSeriesMap().values()) {
      for (double v : xAxis ? series.getXData() : series.getYData()) {
        if (!Double.isFinite(v) || (log && v <= 0)) continue;
        min = Math.min(min, v);
        max = Math.max(max, v);
      }
    }
    return min <= max ? new double[] {min, max} : null;
  }
}
