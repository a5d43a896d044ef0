package org.hbp.train;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.hbp.UserError;
import org.hbp.network.Network;

/**
 * Checks of an optimizer's saved state before it is restored: exactly the expected arrays, each
 * with as many entries as its parameter and finite values. Messages name the array as the
 * checkpoint stores it ({@code optimizer.<key>}) and what was expected.
 */
final class OptimizerState {
  private OptimizerState() {}

  /** The arrays of {@code state} must be exactly {@code expected}; {@code why} says when the optimizer keeps them. */
  static void requireKeys(Map<String, double[]> state, Set<String> expected, String why) {
    Set<String> missing = new TreeSet<>(expected), unknown = new TreeSet<>(state.keySet());
    missing.removeAll(state.keySet());
    unknown.removeAll(expected);
    if (!missing.isEmpty())
      throw new UserError("no array " + quoted(missing) + " (" + why + ")");
    if (!unknown.isEmpty())
      throw new UserError("unexpected array " + quoted(unknown) + " (" + why + ")");
  }

  /** The array of a parameter's shape, every entry finite (and at least {@code min}). */
  static double[] parameterSized(Map<String, double[]> state, String key, Network net, String parameter, double min) {
    int[] s = net.parameterShape(parameter);
    long n = (long) s[0] * s[1];
    double[] a = state.get(key);
    if (a.length != n)
      throw new UserError("array 'optimizer." + key + "' has " + a.length + " entries, expected " + n + " (parameter '" + parameter
          + "' is " + s[0] + " x " + s[1] + ")");
    for (int i = 0; i < a.length; i++)
      if (!(a[i] >= min) || Double.isInfinite(a[i]))
        throw new UserError("array 'optimizer." + key + "' holds " + a[i] + " at entry " + i + ", expected finite values"
            + (min > Double.NEGATIVE_INFINITY ? " >= " + min : ""));
    return a;
  }

  /** A one-entry array holding a whole number, equal to {@code expected}. */
  static long count(Map<String, double[]> state, String key, long expected) {
    double[] a = state.get(key);
    if (a.length != 1 || a[0] != expected)
      throw new UserError("array 'optimizer." + key + "' is " + Arrays.toString(a) + ", expected [" + expected
          + "] (the steps taken)");
    return expected;
  }

  private static String quoted(Set<String> keys) {
    List<String> q = keys.stream().map(k -> "'optimizer." + k + "'").toList();
    return String.join(", ", q);
  }
}
