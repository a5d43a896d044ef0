package org.hbp.train;

import java.util.Locale;

/**
 * How hbp prints a loss or a metric (accuracy, a mean over seeds, its spread) in its progress
 * lines, summaries and reports: four decimals in fixed point where that is short and exact enough,
 * 1e-3 &lt;= |v| &lt; 1e5 (and 0); outside that range in scientific notation with four decimals
 * ({@code 1.0000e+30}, {@code 2.5000e-07}), so that a diverging loss does not print as a
 * 31-digit number nor a tiny one as {@code 0.0000}; NaN and infinities as {@code NaN},
 * {@code Infinity}, {@code -Infinity}. Independent of the default locale.
 */
public final class MetricFormat {
  /** Magnitudes printed in fixed point: [{@value #SMALLEST}, {@value #LARGEST}), and 0. */
  static final double SMALLEST = 1e-3, LARGEST = 1e5;

  private MetricFormat() {}

  /** {@code v} as the class comment says. */
  public static String of(double v) {
    if (Double.isNaN(v)) return "NaN";
    if (Double.isInfinite(v)) return v > 0 ? "Infinity" : "-Infinity";
    double a = Math.abs(v);
    // 99999.99996 rounds to 100000.0000 in fixed point: decide on the rounded magnitude
    boolean fixed = a == 0 || (a >= SMALLEST && Math.abs(Double.parseDouble(String.format(Locale.ROOT, "%.4f", v))) < LARGEST);
    return String.format(Locale.ROOT, fixed ? "%.4f" : "%.4e", v);
  }
}
