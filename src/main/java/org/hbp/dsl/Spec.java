package org.hbp.dsl;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.hbp.calculus.ElementwiseFunction;

/** A checked spec file: its elementwise functions (built-in and user-defined) and its modules. */
public record Spec(String source, Map<String, ElementwiseFunction> functions, List<ModuleSpec> modules) {
  public Optional<ModuleSpec> module(String name) {
    return modules.stream().filter(m -> m.name().equals(name)).findFirst();
  }
}
