package org.hbp.runtime;

import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.hbp.UserError;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;

/** Checks shared by generated operators. */
public final class OperatorSupport {
  private OperatorSupport() {}

  /**
   * Checks the values given to a forward pass: every required variable present, with the item
   * shape it declares, one direction, and a sample extent of 1 or the common batch size.
   */
  public static void checkForwardValues(String operator, Function<String, int[]> itemShape, Map<String, Batch> values,
      List<String> required) {
    int n = 1;
    String nFrom = null;
    for (String name : required) {
      Batch b = values.get(name);
      if (b == null) throw new UserError(operator + ".forward: no value for '" + name + "'; expected values for " + required);
      int[] s = itemShape.apply(name);
      if (b.rows() != s[0] || b.cols() != s[1])
        throw new UserError(operator + ".forward: '" + name + "' has items " + b.rows() + "x" + b.cols() + ", expected "
            + s[0] + "x" + s[1]);
      if (b.directions() != 1)
        throw new UserError(operator + ".forward: '" + name + "' has " + b.directions() + " directions, expected 1");
      if (b.samples() != 1) {
        if (nFrom != null && b.samples() != n)
          throw new UserError(operator + ".forward: '" + name + "' has " + b.samples() + " samples but '" + nFrom + "' has " + n);
        n = b.samples();
        nFrom = name;
      }
    }
    for (String name : values.keySet())
      if (!required.contains(name))
        throw new UserError(operator + ".forward: unexpected value '" + name + "'; expected values for " + required);
  }

  /**
   * A new instance of a generated operator class for a backend and dims; the constructor's own
   * exceptions (a missing or invalid dim) are rethrown as they are.
   */
  public static Object instantiate(Class<?> type, Backend backend, Map<String, Integer> dims) {
    try {
      return type.getConstructor(Backend.class, Map.class).newInstance(backend, dims);
    } catch (java.lang.reflect.InvocationTargetException e) {
      if (e.getCause() instanceof RuntimeException r) throw r;
      throw new IllegalStateException(e.getCause());
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException(type.getName() + " is not a generated operator: " + e, e);
    }
  }

  /**
   * Directions with numel(variable) entries per item, given the variable's item shape (a free
   * reshape); anything else is an error naming the operator method and both shapes.
   */
  public static Batch shaped(Backend be, String operator, Batch v, String variable, int[] shape, String what) {
    if (v.itemSize() != shape[0] * shape[1])
      throw new UserError(operator + "." + what + ": directions " + v.describe() + " do not have the shape of '" + variable + "', "
          + shape[0] + "x" + shape[1]);
    return v.rows() == shape[0] && v.cols() == shape[1] ? v : be.reshape(v, shape[0], shape[1]);
  }

  /** Reads a base dimension, which must be given and non-negative (a padding may be 0). */
  public static int requireDim(String operator, Map<String, Integer> dims, String name) {
    Integer v = dims.get(name);
    if (v == null) throw new UserError(operator + ": dimension '" + name + "' is not given; given " + dims.keySet());
    if (v < 0) throw new UserError(operator + ": dimension '" + name + "' = " + v + ", expected a non-negative integer");
    return v;
  }

  /** Checks a derived dimension, which must come out positive. */
  public static int derivedDim(String operator, String name, String formula, int value) {
    if (value < 1)
      throw new UserError(operator + ": derived dimension " + name + " = " + formula + " is " + value + "; expected a positive integer");
    return value;
  }
}
