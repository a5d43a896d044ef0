package org.hbp.onnx;

import ai.onnx.proto.OnnxMl.NodeProto;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.hbp.UserError;
import org.hbp.io.NdArray;

/**
 * Turns an ONNX graph into a sequential hbp network ({@link ImportedNetwork}): walks the nodes in
 * their (topological) order, keeping the one computed value the chain holds, and maps each node,
 * or a known pattern of nodes (the Erf form of GELU, MatMul + Add), to a module spec of
 * {@code modules-spec/} ({@link OperatorMappings}) or of the user's {@code --map}. Every node must
 * read the chain's current value and constants only; a value read twice or a node reading two
 * computed values is a graph network, refused with the node named.
 */
public final class OnnxImporter {
  private final OnnxModel model;
  private final List<NodeProto> nodes;
  private final Map<String, CustomMapping> custom;
  private final Map<String, Integer> uses = new HashMap<>();
  private final List<ImportedNetwork.Layer> layers = new ArrayList<>();
  private final Map<String, NdArray> parameters = new LinkedHashMap<>();
  private final Map<String, String> sources = new LinkedHashMap<>();
  /** The value the chain holds now, and its per-sample shape as hbp sees it. */
  String current;
  List<Integer> shape;

  private OnnxImporter(OnnxModel model, List<CustomMapping> mappings) {
    this.model = model;
    this.nodes = model.nodes();
    this.custom = new LinkedHashMap<>();
    for (CustomMapping m : mappings) custom.put(m.opType(), m);
    for (NodeProto n : nodes) for (String in : n.getInputList()) if (!in.isEmpty()) uses.merge(in, 1, Integer::sum);
    for (String out : model.outputs()) uses.merge(out, 1, Integer::sum);
    current = model.input();
    shape = model.inputShape();
  }

  /**
   * Imports a model as a sequential network with the given loss.
   *
   * @param mappings the user's {@code --map} entries (checked before the built-in table)
   * @throws UserError an operator without a mapping, an unsupported attribute, or a graph network
   */
  public static ImportedNetwork load(OnnxModel model, String loss, List<CustomMapping> mappings) {
    if (loss == null || loss.isBlank())
      throw new UserError(model.file() + ": an ONNX graph holds no loss; give one with --loss (e.g. crossentropy or mse)");
    if (model.inputShape().size() != 1 && model.inputShape().size() != 3)
      throw new UserError(model.file() + ": input of per-sample shape " + model.inputShape()
          + "; hbp imports vectors [N, n] and images [N, C, H, W]");
    OnnxImporter w = new OnnxImporter(model, mappings);
    w.walk();
    List<Path> specFiles = new ArrayList<>();
    for (CustomMapping m : mappings) if (!specFiles.contains(m.file())) specFiles.add(m.file());
    return new ImportedNetwork(identifier(model), model.file(), model.inputShape(), List.copyOf(w.layers), loss,
        w.parameters, w.sources, specFiles);
  }

  /** Reads a file and imports it: {@link OnnxModel#read} then {@link #load}. */
  public static ImportedNetwork load(Path file, String loss, List<CustomMapping> mappings) {
    return load(OnnxModel.read(file), loss, mappings);
  }

  private void walk() {
    int i = 0;
    while (i < nodes.size()) {
      NodeProto n = nodes.get(i);
      if (n.getOpType().equals("Constant") || n.getOutputCount() == 1 && model.isConstant(n.getOutput(0))) { // folded
        i++;
        continue;
      }
      requireChain(i);
      CustomMapping c = custom.get(n.getOpType());
      int consumed = c != null ? c.apply(this, i) : OperatorMappings.apply(this, i);
      i += consumed;
    }
    if (!model.outputs().contains(current))
      throw new UserError(model.file() + ": the chain ends in '" + current + "' but the graph's outputs are " + model.outputs()
          + "; hbp imports one output (the logits the loss reads)");
    if (model.outputs().size() != 1) throw new UserError(model.file() + ": the graph has outputs " + model.outputs() + "; hbp imports one (the logits)");
  }

  /** Node i reads the current value and constants only, and the current value feeds only it. */
  private void requireChain(int i) {
    NodeProto n = nodes.get(i);
    List<String> computed = new ArrayList<>();
    for (String in : n.getInputList()) if (!in.isEmpty() && !model.isConstant(in)) computed.add(in);
    if (computed.size() > 1)
      throw graphError(i, "merges two computed values (" + String.join(", ", computed) + ")");
    if (computed.isEmpty())
      throw error(i, "computes from constants only; hbp folds " + String.join(", ", new java.util.TreeSet<>(ConstantFolding.OPERATORS))
          + " of constants (with the arguments PyTorch's exporter gives them), not this one");
    if (!computed.get(0).equals(current))
      throw graphError(i, "reads '" + computed.get(0) + "', not the chain's current value '" + current + "' (a branch)");
    for (String in : n.getInputList())
      if (model.isConstant(in) && uses.getOrDefault(in, 0) > 1 && isInitializerParameter(n, in))
        throw graphError(i, "reads initializer '" + in + "', which another node reads too (a shared parameter)");
  }

  /** Whether a constant input is a parameter (not a shape or an axes argument), judged by its type: floats with more than one entry. */
  private boolean isInitializerParameter(NodeProto n, String in) {
    return model.constant(in).numel() > 1 && !n.getOpType().equals("Reshape") && !n.getOpType().equals("Pad");
  }

  UserError graphError(int i, String what) {
    return new UserError(model.file() + ": graph networks are not supported by this importer yet: " + describe(i) + " " + what);
  }

  /** {@code node 3 '/0/Gemm' (Gemm)}. */
  String describe(int i) {
    NodeProto n = nodes.get(i);
    return "node " + i + (n.getName().isEmpty() ? "" : " '" + n.getName() + "'") + " (" + n.getOpType() + ")";
  }

  UserError error(int i, String what) {
    return new UserError(model.file() + ": " + describe(i) + ": " + what);
  }

  NodeProto node(int i) {
    return i < nodes.size() ? nodes.get(i) : null;
  }

  OnnxModel model() {
    return model;
  }

  /** The next node after i that is not a Constant, or -1. */
  int next(int i) {
    for (int j = i + 1; j < nodes.size(); j++) if (!nodes.get(j).getOpType().equals("Constant") && !model.isConstant(nodes.get(j).getOutput(0))) return j;
    return -1;
  }

  /** Adds a layer; returns its index (the prefix of its parameters' names). */
  int addLayer(String module, Map<String, Integer> args, String origin) {
    layers.add(new ImportedNetwork.Layer(module, args, origin));
    return layers.size() - 1;
  }

  void addParameter(int layer, String param, NdArray value, String source) {
    String name = layer + "." + param;
    parameters.put(name, value);
    sources.put(name, source);
  }

  /** The chain now holds {@code value} of hbp shape {@code newShape}. */
  void advance(String value, List<Integer> newShape) {
    current = value;
    shape = List.copyOf(newShape);
  }

  /** A DSL identifier from the graph's name or the file's. */
  private static String identifier(OnnxModel model) {
    String base = model.graphName();
    if (base.isBlank() || base.equals("torch_jit") || base.equals("main_graph")) {
      base = Path.of(model.file()).getFileName().toString();
      if (base.endsWith(".onnx")) base = base.substring(0, base.length() - 5);
    }
    String id = base.replaceAll("[^A-Za-z0-9_]", "_");
    if (id.isEmpty() || !Character.isLetter(id.charAt(0))) id = "net_" + id;
    return id;
  }
}
