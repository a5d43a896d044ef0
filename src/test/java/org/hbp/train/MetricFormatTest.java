package org.hbp.train;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Locale;
import org.junit.jupiter.api.Test;

/** How losses and metrics are printed: fixed point in [1e-3, 1e5), scientific outside, NaN and infinities plainly. */
class MetricFormatTest {
  @Test
  void fixedPointWhereShortScientificOutside() {
    assertEquals("2.3026", MetricFormat.of(Math.log(10)));
    assertEquals("0.0000", MetricFormat.of(0));
    assertEquals("-0.5000", MetricFormat.of(-0.5));
    assertEquals("0.0010", MetricFormat.of(1e-3));
    assertEquals("99999.0000", MetricFormat.of(99999));
    assertEquals("1.0000e+30", MetricFormat.of(1e30));
    assertEquals("-3.4500e+12", MetricFormat.of(-3.45e12));
    assertEquals("1.0000e+05", MetricFormat.of(1e5));
    assertEquals("1.0000e+05", MetricFormat.of(99999.99996), "rounds to 1e5 in fixed point: scientific");
    assertEquals("2.5000e-07", MetricFormat.of(2.5e-7));
    assertEquals("9.9990e-04", MetricFormat.of(9.999e-4));
    assertEquals("1.7977e+308", MetricFormat.of(Double.MAX_VALUE));
  }

  @Test
  void nanAndInfinitiesPlainly() {
    assertEquals("NaN", MetricFormat.of(Double.NaN));
    assertEquals("Infinity", MetricFormat.of(Double.POSITIVE_INFINITY));
    assertEquals("-Infinity", MetricFormat.of(Double.NEGATIVE_INFINITY));
  }

  @Test
  void theDefaultLocaleDoesNotChangeTheDecimalPoint() {
    Locale before = Locale.getDefault();
    Locale.setDefault(Locale.GERMANY);
    try {
      assertEquals("2.3026", MetricFormat.of(Math.log(10)));
      assertEquals("1.0000e+30", MetricFormat.of(1e30));
    } finally {
      Locale.setDefault(before);
    }
  }
}
