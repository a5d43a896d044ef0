package org.hbp.cli;

import java.util.Map;
import java.util.Set;
import org.hbp.io.NdArray;
import org.hbp.network.TorchLayout;
import org.hbp.onnx.InitializerNames;

/**
 * The names of a command's output arrays, one per parameter (products, dense blocks, steps,
 * diagonals, per-sample gradients, eigenvectors): the names the user's input gives the parameters,
 * so that a script reads its outputs by the names it wrote. For an ONNX {@code --net}, its
 * initializers' names (PyTorch's {@code state_dict} keys); for a DSL network, the names of the
 * {@code --params} file, each parameter as the file names it (hbp's {@code 0.W} or PyTorch's
 * {@code 0.weight}); products follow the names of their {@code --vectors} file ({@link #following}).
 */
final class OutputNames {
  private final InitializerNames onnx;
  private final Set<String> given;

  private OutputNames(InitializerNames onnx, Set<String> given) {
    this.onnx = onnx;
    this.given = given;
  }

  /**
   * The names of an ONNX network's initializers ({@code onnx} not null), else those of the input
   * arrays {@code arrays} (the --params file as read, before any renaming); PyTorch's where a
   * parameter is in neither spelling there.
   */
  static OutputNames of(InitializerNames onnx, Map<String, NdArray> arrays) {
    return new OutputNames(onnx, arrays == null ? Set.of() : Set.copyOf(arrays.keySet()));
  }

  /** The same policy, following the names of another input ({@code --vectors}) for a DSL network. */
  OutputNames following(Map<String, NdArray> arrays) {
    return of(onnx, arrays);
  }

  /** The output array's name for hbp's parameter {@code parameter}. */
  String of(String parameter) {
    return onnx != null ? onnx.name(parameter) : TorchLayout.arrayName(parameter, given);
  }

  /**
   * A result of hbp's parameter {@code parameter} (hbp's shape, or {@code [V, *that]}) in the shape its output
   * name has: on an ONNX network, an initializer hbp holds squeezed ({@code [C, 1, 1]} as {@code [C]}, 0-d as
   * {@code [1]}) in the initializer's shape ({@link InitializerNames#toInitializerShape}); else unchanged. Not for
   * dense blocks.
   */
  NdArray shaped(String parameter, NdArray result) {
    return onnx != null ? onnx.toInitializerShape(parameter, result) : result;
  }

  /**
   * The name a result keyed by parameter (a block of {@code hbp spectrum}) goes by: an ONNX network's
   * initializer name (hbp's own, e.g. {@code v3.W} or {@code 2.W} counted over hbp's layers, means nothing to
   * the user and may be another layer's PyTorch index); hbp's name on a DSL network.
   */
  String key(String parameter) {
    return onnx != null ? onnx.name(parameter) : parameter;
  }

  /**
   * hbp's parameter that the user's {@code name} means, or null: its hbp name or, on an ONNX network, its
   * initializer name (PyTorch's {@code state_dict} key); on a DSL network also PyTorch's spelling
   * ({@code 0.weight} for {@code 0.W}). On an ONNX network PyTorch's spelling of hbp's layer index is not
   * taken: {@code 4.weight} is the initializer of that name, never hbp's {@code 4.W}. An initializer hbp holds
   * transposed ({@code onnx::MatMul_8}) names its parameter too, whose results go by hbp's name.
   */
  String parameterNamed(String name, java.util.List<String> parameters) {
    for (String p : parameters) if (onnx != null ? onnx.name(p).equals(name) : TorchLayout.arrayName(p, Set.of()).equals(name)) return p;
    // an initializer hbp holds transposed: its results go by hbp's name, and its own name names it too
    if (onnx != null && onnx.parameter(name) != null && parameters.contains(onnx.parameter(name))) return onnx.parameter(name);
    for (String p : parameters) if (p.equals(name)) return p;
    return null;
  }

  /** The parameters as the user may name them: initializer names on an ONNX network, else {@code 0.W (or 0.weight)}. */
  String listed(java.util.List<String> parameters) {
    java.util.List<String> out = new java.util.ArrayList<>();
    for (String p : parameters) {
      String torch = onnx != null ? onnx.name(p) : TorchLayout.arrayName(p, Set.of());
      out.add(onnx != null || torch.equals(p) ? torch : p + " (or " + torch + ")");
    }
    return String.join(", ", out);
  }
}
