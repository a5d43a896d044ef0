package org.hbp.network;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.IntFunction;

/**
 * The statistical check that a randomized estimator is unbiased for exact values: M independent
 * draws (draw i from its own fixed seed) have mean m with standard error se = s/sqrt(M) per entry
 * (s the sample standard deviation). If E[estimate] = exact, (m - exact)/se is about standard normal,
 * so |m - exact| <= 5 se fails for an entry with probability about 6e-7. The same bound must reject a
 * 5 % bias in at least half of the entries, which shows the check has the power to see one.
 */
final class UnbiasedEstimates {
  private UnbiasedEstimates() {}

  /**
   * Asserts that the draws' mean is within 5 standard errors of {@code exact} in every entry of every
   * named array, that there are more than {@code minEntries} entries, and that a 5 % bias would be seen.
   */
  static void assertUnbiased(String what, Map<String, double[]> exact, int draws, IntFunction<Map<String, double[]>> draw, int minEntries) {
    Map<String, double[]> sum = new LinkedHashMap<>(), squares = new LinkedHashMap<>();
    for (int i = 0; i < draws; i++) {
      for (var e : draw.apply(i).entrySet()) {
        double[] a = sum.computeIfAbsent(e.getKey(), k -> new double[e.getValue().length]);
        double[] b = squares.computeIfAbsent(e.getKey(), k -> new double[e.getValue().length]);
        for (int j = 0; j < a.length; j++) {
          a[j] += e.getValue()[j];
          b[j] += e.getValue()[j] * e.getValue()[j];
        }
      }
    }
    int entries = 0, biasedRejected = 0;
    for (String name : exact.keySet()) {
      double[] x = exact.get(name), a = sum.get(name), b = squares.get(name);
      for (int i = 0; i < x.length; i++) {
        double mean = a[i] / draws, var = Math.max(0, (b[i] - draws * mean * mean) / (draws - 1)), se = Math.sqrt(var / draws);
        assertTrue(Math.abs(mean - x[i]) <= 5 * se + 1e-14 * Math.max(1, Math.abs(x[i])),
            what + " " + name + "[" + i + "]: mean " + mean + ", exact " + x[i] + ", standard error " + se);
        if (Math.abs(1.05 * mean - x[i]) > 5 * se) biasedRejected++;
        entries++;
      }
    }
    assertTrue(entries > minEntries, what + ": entries " + entries);
    assertTrue(biasedRejected >= entries / 2, what + ": a 5 % bias was seen in only " + biasedRejected + " of " + entries + " entries: too little power");
  }
}
