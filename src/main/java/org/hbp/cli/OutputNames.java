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
}
