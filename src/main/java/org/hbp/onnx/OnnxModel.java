package org.hbp.onnx;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import com.google.protobuf.InvalidProtocolBufferException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.hbp.UserError;
import org.hbp.io.NdArray;

/**
 * An ONNX model file read with the ONNX protobuf schema ({@code ai.onnx.proto.OnnxMl}): its graph's
 * nodes (topologically sorted, as ONNX requires), its constants (initializers and the values of
 * {@code Constant} nodes), and its one computed input with the per-sample shape (the exported
 * shape without the batch axis).
 */
public final class OnnxModel {
  private final String file;
  private final GraphProto graph;
  private final Map<String, NdArray> constants = new LinkedHashMap<>();
  private final List<String> initializers = new ArrayList<>();
  /** The outputs of the graph's Constant nodes: fixed data, never parameters. */
  private final java.util.Set<String> constantNodeOutputs = new java.util.HashSet<>();
  private final String input;
  private final List<Integer> inputShape;
  /** Whether the input holds integers (token ids, as for nn.Embedding), not floats. */
  private final boolean integerInput;

  private OnnxModel(String file, GraphProto graph) {
    this.file = file;
    this.graph = graph;
    for (TensorProto t : graph.getInitializerList()) {
      constants.put(t.getName(), OnnxTensors.toArray(t, file + ": initializer '" + t.getName() + "'"));
      initializers.add(t.getName());
    }
    for (NodeProto n : graph.getNodeList()) {
      if (n.getOpType().equals("Constant") && n.getOutputCount() == 1) constantNodeOutputs.add(n.getOutput(0));
      if (n.getOpType().equals("Constant") && n.getOutputCount() == 1 && n.getAttributeCount() == 1 && n.getAttribute(0).hasT())
        constants.put(n.getOutput(0), OnnxTensors.toArray(n.getAttribute(0).getT(), file + ": constant '" + n.getOutput(0) + "'"));
      // computations on constants only (an Identity aliasing an initializer, the pads of ZeroPad2d) are constants
      NdArray folded = ConstantFolding.fold(n, constants);
      if (folded != null) constants.put(n.getOutput(0), folded);
    }
    List<ValueInfoProto> inputs = new ArrayList<>();
    for (ValueInfoProto v : graph.getInputList()) if (!constants.containsKey(v.getName())) inputs.add(v);
    if (inputs.size() != 1)
      throw new UserError(file + ": the graph has " + inputs.size() + " inputs besides its initializers ("
          + String.join(", ", inputs.stream().map(ValueInfoProto::getName).toList()) + "); hbp imports models of one input x");
    input = inputs.get(0).getName();
    inputShape = sampleShape(inputs.get(0));
    int type = inputs.get(0).getType().getTensorType().getElemType();
    integerInput = type == TensorProto.DataType.INT64_VALUE || type == TensorProto.DataType.INT32_VALUE;
  }

  /**
   * Reads an ONNX model.
   *
   * @throws UserError a missing or unreadable file, or one that is not an ONNX model (naming the file)
   */
  public static OnnxModel read(Path path) {
    if (!Files.exists(path)) throw new UserError("ONNX file not found: " + path);
    if (!Files.isRegularFile(path)) throw new UserError("not a file: " + path);
    ModelProto model;
    try (InputStream in = Files.newInputStream(path)) {
      model = ModelProto.parseFrom(in);
    } catch (InvalidProtocolBufferException e) {
      throw new UserError(path + ": not an ONNX model (the protobuf does not parse: " + e.getMessage() + ")");
    } catch (IOException e) {
      throw new UserError(path + ": cannot read: " + e.getMessage());
    }
    if (model.getIrVersion() <= 0 || !model.hasGraph() || model.getGraph().getNodeCount() == 0)
      throw new UserError(path + ": not an ONNX model (no IR version or no graph with nodes); export one with torch.onnx.export(model, x, \"model.onnx\")");
    return new OnnxModel(path.toString(), model.getGraph());
  }

  /** The input's shape without its first (batch) axis; every axis must have a fixed size. */
  private List<Integer> sampleShape(ValueInfoProto v) {
    if (!v.getType().hasTensorType() || !v.getType().getTensorType().hasShape())
      throw new UserError(file + ": input '" + v.getName() + "' has no tensor shape");
    List<TensorShapeProto.Dimension> dims = v.getType().getTensorType().getShape().getDimList();
    if (dims.size() < 2) throw new UserError(file + ": input '" + v.getName() + "' has " + dims.size() + " axes; expected [N, *sample shape]");
    List<Integer> out = new ArrayList<>();
    for (int i = 1; i < dims.size(); i++) {
      if (!dims.get(i).hasDimValue())
        throw new UserError(file + ": input '" + v.getName() + "' axis " + i + " has no fixed size (" + dims.get(i).getDimParam()
            + "); only the batch axis may be dynamic");
      out.add((int) dims.get(i).getDimValue());
    }
    return out;
  }

  /** The file, for messages. */
  public String file() {
    return file;
  }

  /** The graph's name (may be empty). */
  public String graphName() {
    return graph.getName();
  }

  List<NodeProto> nodes() {
    return graph.getNodeList();
  }

  /** The name of the graph's output values. */
  List<String> outputs() {
    return graph.getOutputList().stream().map(ValueInfoProto::getName).toList();
  }

  /** The value of a constant (initializer or Constant node), or null when it is computed. */
  NdArray constant(String name) {
    return constants.get(name);
  }

  /** Whether a value is one of the graph's initializers (a PyTorch model's parameters and buffers), not a Constant node's or folded value. */
  boolean isInitializer(String name) {
    return initializers.contains(name);
  }

  /** Whether a value is the output of a Constant node (fixed data, which hbp never takes as a parameter). */
  boolean isConstantNode(String name) {
    return constantNodeOutputs.contains(name);
  }

  /** The names of the graph's initializers, in the file's order. */
  public List<String> initializers() {
    return List.copyOf(initializers);
  }

  /**
   * The initializer of which {@code value} is the folded transpose (a Transpose node of a 2-d initializer, as
   * torch.onnx.export writes {@code x @ W.t()} without constant folding), or null.
   */
  String transposedInitializer(String value) {
    for (NodeProto n : graph.getNodeList())
      if (n.getOpType().equals("Transpose") && n.getOutputCount() == 1 && n.getOutput(0).equals(value) && n.getInputCount() == 1
          && isInitializer(n.getInput(0)) && constant(n.getInput(0)).rank() == 2 && isConstant(value))
        return n.getInput(0);
    return null;
  }

  boolean isConstant(String name) {
    return constants.containsKey(name);
  }

  /** A value's per-sample shape as the file records it (value_info or outputs; every axis fixed), or null when it does not. */
  List<Integer> sampleShape(String value) {
    List<ValueInfoProto> infos = new ArrayList<>(graph.getValueInfoList());
    infos.addAll(graph.getOutputList());
    for (ValueInfoProto v : infos) {
      if (!v.getName().equals(value) || !v.getType().hasTensorType() || !v.getType().getTensorType().hasShape()) continue;
      List<TensorShapeProto.Dimension> dims = v.getType().getTensorType().getShape().getDimList();
      List<Integer> out = new ArrayList<>();
      for (int i = 1; i < dims.size(); i++) {
        if (!dims.get(i).hasDimValue()) return null;
        out.add((int) dims.get(i).getDimValue());
      }
      return dims.size() < 2 ? null : out;
    }
    return null;
  }

  /** The computed input's name. */
  String input() {
    return input;
  }

  /** Whether the input is integer-typed (token ids [N, T] read by a Gather: nn.Embedding). */
  boolean integerInput() {
    return integerInput;
  }

  /** The per-sample input shape ([C, H, W] for images, [n] for vectors). */
  public List<Integer> inputShape() {
    return inputShape;
  }
}
