package org.hbp.network;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;
import org.hbp.io.NpyException;

/**
 * Which array of a NumPy file holds which parameter. A parameter {@code <path>.<param>} is found
 * under its own name or, for {@code W} and {@code b}, under PyTorch's {@code <path>.weight} and
 * {@code <path>.bias}; never under both, and every parameter must be there (directions: where asked). Errors name the file
 * and the array.
 */
final class TorchNames {
  private TorchNames() {}

  /** PyTorch's name of a parameter ({@code 0.W} is {@code 0.weight}), or null when it has none. */
  static String alias(String parameter) {
    if (parameter.endsWith(".W")) return parameter.substring(0, parameter.length() - 2) + ".weight";
    if (parameter.endsWith(".b")) return parameter.substring(0, parameter.length() - 2) + ".bias";
    return null;
  }

  /**
   * Whether an array is part of an hbp training checkpoint's state rather than a parameter
   * ({@code optimizer.*}, {@code epoch}, {@code step}, {@code samples}, {@code wall_seconds}): no
   * parameter is named so, and a checkpoint serves as a parameters file.
   */
  static boolean checkpointState(String array) {
    return array.startsWith("optimizer.") || Set.of("epoch", "step", "samples", "wall_seconds").contains(array);
  }

  /**
   * For each parameter (in the given order), the name of the array holding it.
   *
   * @param ignored the arrays that may be in the file without holding a parameter; any other such
   *     array is an error
   * @param what what the arrays are, for errors ("parameters", "directions")
   */
  static Map<String, String> arrays(List<String> parameters, Set<String> arrays, String file, Predicate<String> ignored, String what) {
    return arrays(parameters, arrays, file, ignored, what, "");
  }

  /**
   * {@link #arrays(List, Set, String, Predicate, String)}, where {@code every} says why every
   * parameter needs an array (appended to the error, "" for nothing); with {@code every} null, only
   * the parameters that have an array, at least one (directions for some of the blocks).
   */
  static Map<String, String> arrays(List<String> parameters, Set<String> arrays, String file, Predicate<String> ignored, String what,
      String every) {
    Map<String, String> out = new LinkedHashMap<>();
    for (String p : parameters) {
      String alias = alias(p);
      boolean own = arrays.contains(p), torch = alias != null && arrays.contains(alias);
      if (own && torch)
        throw new NpyException(file + ": arrays '" + p + "' and '" + alias + "' both hold parameter " + p + "; keep one of them");
      if (!own && !torch) {
        if (every == null) continue;
        throw new NpyException(file + ": no array '" + p + "'" + (alias == null ? "" : " or '" + alias + "'") + " (has: "
            + String.join(", ", arrays) + ")" + (what.equals("parameters") ? "" : "; " + what + " are needed for every parameter")
            + (every.isEmpty() ? "" : ": " + every));
      }
      out.put(p, own ? p : alias);
    }
    for (String a : arrays)
      if (!out.containsValue(a) && !ignored.test(a))
        throw new NpyException(file + ": array '" + a + "' is not a parameter of the network; its parameters are " + accepted(parameters));
    if (out.isEmpty())
      throw new NpyException(file + ": no arrays; give " + what + " for at least one parameter of " + accepted(parameters));
    return out;
  }

  /** {@code 0.W (or 0.weight), 0.b (or 0.bias), ...}. */
  private static String accepted(List<String> parameters) {
    List<String> names = new ArrayList<>();
    for (String p : parameters) names.add(alias(p) == null ? p : p + " (or " + alias(p) + ")");
    return String.join(", ", names);
  }
}
