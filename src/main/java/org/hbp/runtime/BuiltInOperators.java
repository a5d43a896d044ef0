package org.hbp.runtime;

import java.util.Map;
import org.hbp.UserError;
import org.hbp.backend.Backend;

/**
 * The operators generated from {@code modules-spec/} at build time, by module name. They are
 * compiled after the runtime (from {@code generated/}), so they are found by their generated class
 * name ({@code conv2d} is {@code org.hbp.generated.Conv2dOperator}) rather than referenced here.
 */
public final class BuiltInOperators {
  private BuiltInOperators() {}

  public static final String PACKAGE = "org.hbp.generated";

  /** The operator of a built-in module for the given dims (derived dims are computed). */
  public static ModuleOperator module(String name, Backend backend, Map<String, Integer> dims) {
    Object op = create(name, backend, dims);
    if (!(op instanceof ModuleOperator m)) throw new UserError("'" + name + "' is a loss, not a module");
    return m;
  }

  /** The operator of a built-in loss. */
  public static LossOperator loss(String name, Backend backend, Map<String, Integer> dims) {
    Object op = create(name, backend, dims);
    if (!(op instanceof LossOperator l)) throw new UserError("'" + name + "' is a module, not a loss");
    return l;
  }

  /** The generated class name of a module: {@code conv2d} gives {@code Conv2dOperator}. */
  public static String className(String module) {
    StringBuilder sb = new StringBuilder();
    boolean up = true;
    for (char c : module.toCharArray()) {
      if (c == '_') {
        up = true;
        continue;
      }
      sb.append(up ? Character.toUpperCase(c) : c);
      up = false;
    }
    return sb + "Operator";
  }

  private static Object create(String name, Backend backend, Map<String, Integer> dims) {
    Class<?> c;
    try {
      c = Class.forName(PACKAGE + "." + className(name));
    } catch (ClassNotFoundException e) {
      throw new UserError("no built-in module or loss named '" + name + "' (no class " + PACKAGE + "." + className(name)
          + "; built-in specs are in modules-spec/)");
    }
    return OperatorSupport.instantiate(c, backend, dims);
  }
}
