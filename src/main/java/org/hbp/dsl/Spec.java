package org.hbp.dsl;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.hbp.calculus.ElementwiseFunction;

/**
 * A checked spec file: its elementwise functions (built-in and user-defined), its modules and
 * losses, and its network declarations (structure checked; resolved against a module library by
 * {@code org.hbp.network.NetworkResolver}).
 */
public record Spec(String source, Map<String, ElementwiseFunction> functions, List<ModuleSpec> modules, List<ParsedNetwork> networks) {
  public Spec {
    networks = List.copyOf(networks);
  }

  /** A file without networks. */
  public Spec(String source, Map<String, ElementwiseFunction> functions, List<ModuleSpec> modules) {
    this(source, functions, modules, List.of());
  }

  public Optional<ModuleSpec> module(String name) {
    return modules.stream().filter(m -> m.name().equals(name)).findFirst();
  }

  public Optional<ParsedNetwork> network(String name) {
    return networks.stream().filter(n -> n.name().equals(name)).findFirst();
  }
}
