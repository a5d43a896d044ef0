package org.hbp.network;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.Set;
import org.hbp.runtime.ModuleOperator;

/** Built-in operators with one method answering otherwise, for the tests of what a network does with an operator's claims. */
final class OperatorOverrides {
  private OperatorOverrides() {}

  /**
   * The built-in operators, except that those of the modules named in {@code modules} answer
   * {@code method} with {@code answer} (whatever its arguments); every other call goes to the
   * built-in operator.
   */
  static Network.OperatorFactory answering(Set<String> modules, String method, Object answer) {
    Network.OperatorFactory builtIn = Network.builtIn();
    return (m, be, dims) -> {
      Object op = builtIn.create(m, be, dims);
      if (!modules.contains(m.name())) return op;
      return Proxy.newProxyInstance(OperatorOverrides.class.getClassLoader(), new Class<?>[] {ModuleOperator.class}, (proxy, called, args) -> {
        if (called.getName().equals(method)) return answer;
        try {
          return called.invoke(op, args);
        } catch (InvocationTargetException e) {
          throw e.getCause();
        }
      });
    };
  }
}
