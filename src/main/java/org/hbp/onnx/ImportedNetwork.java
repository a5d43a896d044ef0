package org.hbp.onnx;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.hbp.io.NdArray;

/**
 * An ONNX graph as an hbp network, sequential (a chain) or in the graph form: its layers (a built-in or user module each, with the
 * keyword arguments the DSL needs), the loss, and the parameters taken from the initializers, named
 * {@code <layer index>.<param>} in a chain and {@code <value or instance>.<param>} in the graph
 * form (as {@code network.GraphResolver} names them, e.g. {@code v3.W}), in PyTorch's layouts (what {@code --params} reads, see
 * {@code network.TorchLayout}: linear weights {@code [out, in]}, convolution weights
 * {@code [C_out, C_in, k, k]}, biases {@code [out]}).
 *
 * @param name the network's name (a DSL identifier)
 * @param source the ONNX file, for messages
 * @param inputShape the per-sample input shape
 * @param layers the layers in order
 * @param loss the loss module's name
 * @param parameters the parameters by hbp name, in layer order
 * @param sources for each parameter, the ONNX initializer it came from (and how: "transposed")
 * @param specFiles the user spec files that {@code --map} named (to be added to the module library)
 * @param graph the statements of the graph form, one per value (the input is {@code x}); empty for a chain
 * @param output the value the loss reads in the graph form (null for a chain)
 * @param data constant values of the modules' data variables, named as the parameters ({@code 3.mean} or
 *     {@code v3.mean}): the running statistics of BatchNormalization, from its initializers; no gradient
 *     or curvature is taken in them (see {@code network.Network#setDataValues})
 * @param initializerShapes the shape of each initializer of the file (as PyTorch holds the parameter: a per-channel scale
 *     {@code [C, 1, 1]} that hbp holds as {@code [C]}, attention's {@code in_proj_weight} that hbp splits), for
 *     {@link InitializerNames}
 */
public record ImportedNetwork(String name, String source, List<Integer> inputShape, List<Layer> layers, String loss,
    Map<String, NdArray> parameters, Map<String, String> sources, List<Path> specFiles, List<Statement> graph, String output,
    Map<String, NdArray> data, Map<String, int[]> initializerShapes) {

  /** Whether the network is in the graph form (branches, merges or tied weights). */
  public boolean isGraph() {
    return !graph.isEmpty();
  }

  /**
   * One statement of the graph form, e.g. {@code v3 = linear(m = 4)(v2);} or {@code v7 = v5 + v6;}.
   *
   * @param origin the ONNX node(s) it came from, for the comment
   */
  public record Statement(String text, String origin) {}

  /**
   * One layer: a module, its keyword arguments, and the ONNX node(s) it came from.
   *
   * @param origin e.g. {@code node 3 '/0/Gemm' (Gemm)}, for the comment in the DSL text
   */
  public record Layer(String module, Map<String, Integer> args, String origin) {}

  /** The parameters' hbp names, in layer (statement) order. */
  public List<String> parameterNames() {
    return List.copyOf(parameters.keySet());
  }
}
