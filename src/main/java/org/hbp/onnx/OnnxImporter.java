package org.hbp.onnx;

import ai.onnx.proto.OnnxMl.NodeProto;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.hbp.UserError;
import org.hbp.io.NdArray;

/**
 * Turns an ONNX graph into an hbp network ({@link ImportedNetwork}): walks the nodes in their
 * (topological) order and maps each node, or a known pattern of nodes (the Erf form of GELU,
 * MatMul + Add), to a module spec of {@code modules-spec/} ({@link OperatorMappings}) or of the
 * user's {@code --map}. A chain (each node reads the value before it and constants) becomes a
 * sequential network; any other graph (a value read by several nodes, an Add, Sub or Mul of two
 * computed values, a Concat along axis 1, an initializer read by several nodes) the graph form
 * ({@link GraphForm}): merges become {@code + - .*} and {@code concat}, a Div of two values the
 * two-input module {@code divide(a, b)}, tied weights a named instance.
 */
public final class OnnxImporter {
  private final OnnxModel model;
  private final List<NodeProto> nodes;
  private final Map<String, CustomMapping> custom;
  /** The initializers named in {@code --constants} or {@code --buffers}: fixed data (PyTorch buffers), not parameters. */
  private final Set<String> fixed;
  private final Map<String, Integer> uses = new HashMap<>();
  private final List<ImportedNetwork.Layer> layers = new ArrayList<>();
  private final Map<String, NdArray> parameters = new LinkedHashMap<>();
  private final Map<String, String> sources = new LinkedHashMap<>();
  private final Map<String, NdArray> data = new LinkedHashMap<>();
  /** The value the chain holds now (in the graph form: the node's computed input), and its per-sample shape as hbp sees it. */
  String current;
  List<Integer> shape;
  /** Whether the graph is not a chain (then the DSL's graph form is written). */
  private final boolean graph;
  /** In the graph form: each ONNX value's DSL name and per-sample shape. */
  private final Map<String, String> names = new HashMap<>();
  private final Map<String, List<Integer>> shapes = new HashMap<>();
  private final GraphForm form = new GraphForm();

  private OnnxImporter(OnnxModel model, List<CustomMapping> mappings, Set<String> fixed) {
    this.model = model;
    this.fixed = Set.copyOf(fixed);
    this.nodes = model.nodes();
    this.custom = new LinkedHashMap<>();
    java.util.Set<String> types = new java.util.TreeSet<>();
    for (NodeProto n : nodes) types.add(n.getOpType());
    for (CustomMapping m : mappings) {
      CustomMapping earlier = custom.put(m.opType(), m);
      if (earlier != null)
        throw new UserError("--map " + m.entry() + ": operator type '" + m.opType() + "' is mapped twice (also by --map " + earlier.entry()
            + "); expected one --map per operator type");
      if (!types.contains(m.opType()))
        throw new UserError("--map " + m.entry() + ": no node of " + model.file() + " has operator type '" + m.opType()
            + "'; expected one of its operator types (" + String.join(", ", types) + ")");
    }
    for (NodeProto n : nodes) for (String in : n.getInputList()) if (!in.isEmpty()) uses.merge(in, 1, Integer::sum);
    for (String out : model.outputs()) uses.merge(out, 1, Integer::sum);
    current = model.input();
    shape = model.integerInput() ? Sequences.tokenInput(model) : model.inputShape();
    graph = !isChain();
    names.put(current, "x");
    shapes.put(current, shape);
  }

  /**
   * Imports a model with the given loss: a chain as a sequential network, any other graph in the graph form.
   *
   * @param mappings the user's {@code --map} entries (checked before the built-in table)
   * @throws UserError an operator without a mapping, an unsupported attribute, or a graph it does not map (a merge
   *     other than Add, Sub, Mul and Concat along axis 1, a dead value, an initializer shared by nodes that differ)
   */
  public static ImportedNetwork load(OnnxModel model, String loss, List<CustomMapping> mappings) {
    return load(model, loss, mappings, Set.of());
  }

  /**
   * Imports a model with the given loss, the initializers {@code constants} taken as fixed data
   * ({@code --constants}: PyTorch buffers, e.g. an input normalisation's mean and std), which Add,
   * Sub, Mul and Div then read as they read a Constant node's value ({@link Arithmetic}).
   *
   * @throws UserError as {@link #load(OnnxModel, String, List)}, and a name of {@code constants} that is not an
   *     initializer of the file, or one that a node reads as a parameter (a Gemm's weight, a bias)
   */
  public static ImportedNetwork load(OnnxModel model, String loss, List<CustomMapping> mappings, Set<String> constants) {
    return load(model, loss, mappings, constants, Set.of());
  }

  /**
   * Imports a model as {@link #load(OnnxModel, String, List, Set)} with, besides {@code constants}, the
   * PyTorch model's buffers ({@code --buffers}: the names of {@code model.named_buffers()}): those that
   * are initializers of the file are fixed data as {@code constants} are; the others (a buffer the
   * forward pass does not read, {@code num_batches_tracked}, running statistics folded away) are ignored.
   *
   * @throws UserError as {@link #load(OnnxModel, String, List, Set)}; a buffer that a node reads as a parameter
   */
  public static ImportedNetwork load(OnnxModel model, String loss, List<CustomMapping> mappings, Set<String> constants, Set<String> buffers) {
    for (String name : constants)
      if (!model.isInitializer(name))
        throw new UserError(model.file() + ": --constants names '" + name + "', which is not an initializer of the file (its initializers: "
            + listed(model.initializers()) + "); for a list of the PyTorch model's buffers, some of which the export may drop, use --buffers");
    Set<String> fixed = new java.util.LinkedHashSet<>(constants);
    for (String name : buffers) if (model.isInitializer(name)) fixed.add(name);
    if (loss == null || loss.isBlank())
      throw new UserError(model.file() + ": an ONNX graph holds no loss; give one with --loss (e.g. crossentropy or mse)");
    if (!model.integerInput() && model.inputShape().size() != 1 && model.inputShape().size() != 3)
      throw new UserError(model.file() + ": input of per-sample shape " + model.inputShape()
          + "; hbp imports vectors [N, n], images [N, C, H, W] and token ids [N, T] (integers, read by nn.Embedding's Gather)");
    OnnxImporter w = new OnnxImporter(model, mappings, fixed);
    List<Integer> input = w.shapes.get(model.input());
    w.walk();
    w.requireConstantsNotParameters(constants);
    List<Path> specFiles = new ArrayList<>();
    for (CustomMapping m : mappings) if (!specFiles.contains(m.file())) specFiles.add(m.file());
    if (!w.graph)
      return new ImportedNetwork(identifier(model), model.file(), input, List.copyOf(w.layers), loss,
          w.parameters, w.sources, specFiles, List.of(), null, w.data, initializerShapes(model));
    GraphForm.Result g = GraphForm.build(model.file(), w.form, w.layers, w.parameters, w.sources);
    Map<String, NdArray> data = new LinkedHashMap<>();
    for (Map.Entry<String, NdArray> e : w.data.entrySet()) data.put(renamed(e.getKey(), g.owners().get(layerOf(e.getKey()))), e.getValue());
    return new ImportedNetwork(identifier(model), model.file(), input, List.copyOf(w.layers), loss,
        g.parameters(), g.sources(), specFiles, List.copyOf(g.statements()), w.names.get(model.outputs().get(0)), data,
        initializerShapes(model));
  }

  private static Map<String, int[]> initializerShapes(OnnxModel model) {
    Map<String, int[]> out = new LinkedHashMap<>();
    for (String name : model.initializers()) out.put(name, model.constant(name).shape());
    return out;
  }

  /** Reads a file and imports it: {@link OnnxModel#read} then {@link #load}. */
  public static ImportedNetwork load(Path file, String loss, List<CustomMapping> mappings) {
    return load(OnnxModel.read(file), loss, mappings);
  }

  /** Reads a file and imports it with the initializers {@code constants} as fixed data: {@link OnnxModel#read} then {@link #load}. */
  public static ImportedNetwork load(Path file, String loss, List<CustomMapping> mappings, Set<String> constants) {
    return load(OnnxModel.read(file), loss, mappings, constants);
  }

  /** Reads a file and imports it with {@code constants} and the initializers among {@code buffers} as fixed data: {@link OnnxModel#read} then {@link #load}. */
  public static ImportedNetwork load(Path file, String loss, List<CustomMapping> mappings, Set<String> constants, Set<String> buffers) {
    return load(OnnxModel.read(file), loss, mappings, constants, buffers);
  }

  /** At most 20 names, comma-separated (and how many more). */
  private static String listed(List<String> names) {
    String shown = String.join(", ", names.subList(0, Math.min(20, names.size())));
    return names.isEmpty() ? "none" : names.size() > 20 ? shown + ", and " + (names.size() - 20) + " more" : shown;
  }

  /**
   * An initializer of {@code --constants} or {@code --buffers} that a mapping took as a parameter (a weight of Gemm,
   * MatMul or Conv, a bias after a MatMul, a --map module's parameter) is an error naming its layer:
   * hbp would train it and take its curvature.
   *
   * @param constants the names of {@code --constants} (the other fixed initializers came from {@code --buffers})
   */
  private void requireConstantsNotParameters(Set<String> constants) {
    for (Map.Entry<String, String> e : sources.entrySet()) {
      String source = e.getValue();
      for (String name : fixed)
        if (source.equals(name) || source.startsWith(name + " (") || source.startsWith(name + "[")) {
          String option = constants.contains(name) ? "--constants" : "--buffers";
          throw new UserError(model.file() + ": " + option + " names '" + name + "', which " + layers.get(layerOf(e.getKey())).origin()
              + " reads as a parameter; hbp takes fixed data (--constants, --buffers) in Add, Sub, Mul "
              + "and Div and batch normalisation's statistics, and as parameters the initializers that other nodes read (leave '" + name
              + "' out of " + option + (option.equals("--buffers") ? ", or make it a parameter of the PyTorch model" : "") + ")");
        }
    }
  }

  /** Whether an initializer was named in {@code --constants} (fixed data, not a parameter). */
  boolean isFixed(String name) {
    return fixed.contains(name);
  }

  private void walk() {
    int i = 0;
    while (i < nodes.size()) {
      NodeProto n = nodes.get(i);
      if (folded(n)) {
        i++;
        continue;
      }
      if (!graph) requireChain(i);
      else {
        if (uses.getOrDefault(n.getOutput(0), 0) == 0)
          throw error(i, "its value '" + n.getOutput(0) + "' is read by no node and is not the graph's output; hbp imports graphs whose every value "
              + "reaches the output");
        List<String> computed = computedInputs(i);
        if (computed.size() > 1) {
          i += merge(i, computed);
          continue;
        }
        current = computed.get(0);
        shape = shapes.get(current);
      }
      String input = current;
      int before = layers.size();
      CustomMapping c = custom.get(n.getOpType());
      int consumed = c != null ? c.apply(this, i) : OperatorMappings.apply(this, i);
      if (graph) record(i, consumed, input, before);
      i += consumed;
    }
    if (graph) {
      if (model.outputs().size() != 1 || !names.containsKey(model.outputs().get(0)))
        throw new UserError(model.file() + ": the graph has outputs " + model.outputs() + "; hbp imports one computed output (the logits the loss reads)");
      return;
    }
    if (!model.outputs().contains(current))
      throw new UserError(model.file() + ": the chain ends in '" + current + "' but the graph's outputs are " + model.outputs()
          + "; hbp imports one output (the logits the loss reads)");
    if (model.outputs().size() != 1) throw new UserError(model.file() + ": the graph has outputs " + model.outputs() + "; hbp imports one (the logits)");
  }

  /**
   * Whether every node to map reads one computed value, each computed value is read once, and no
   * parameter initializer is read twice (else the graph form is written).
   */
  private boolean isChain() {
    for (int i = 0; i < nodes.size(); i++) {
      NodeProto n = nodes.get(i);
      if (folded(n)) continue;
      List<String> computed = new ArrayList<>();
      for (String in : n.getInputList()) if (!in.isEmpty() && !model.isConstant(in)) computed.add(in);
      if (computed.size() > 1) return false;
      for (String in : n.getInputList())
        if (!in.isEmpty() && uses.getOrDefault(in, 0) > 1 && (!model.isConstant(in) || !fixed.contains(in) && isInitializerParameter(n, in))) return false;
    }
    return true;
  }

  private boolean folded(NodeProto n) {
    return n.getOpType().equals("Constant") || n.getOutputCount() == 1 && model.isConstant(n.getOutput(0));
  }

  /** The computed (non-constant) inputs of node i; none is an error naming the node. */
  private List<String> computedInputs(int i) {
    List<String> computed = new ArrayList<>();
    for (String in : nodes.get(i).getInputList()) if (!in.isEmpty() && !model.isConstant(in)) computed.add(in);
    if (computed.isEmpty())
      throw error(i, "computes from constants only; hbp folds " + String.join(", ", new java.util.TreeSet<>(ConstantFolding.OPERATORS))
          + " of constants (with the arguments PyTorch's exporter gives them), not this one");
    return computed;
  }

  /**
   * In the graph form, the statements of the layers a mapping of nodes i.. (consumed of them, read
   * from {@code input}) added: {@code v<i> = module(input);}; a mapping that added none (Identity,
   * Dropout, Flatten of a vector) names its output as its input. Values inside a pattern of nodes
   * must not be read outside it.
   */
  private void record(int i, int consumed, String input, int before) {
    for (int j = i; j < i + consumed; j++)
      for (String out : nodes.get(j).getOutputList())
        if (!out.equals(current) && !out.isEmpty() && (model.outputs().contains(out) || readOutside(out, i, i + consumed)))
          throw error(i, "the pattern of nodes " + i + ".." + (i + consumed - 1) + " it starts has the value '" + out
              + "' inside, which another node reads; hbp maps such a pattern whole");
    String value = names.get(input);
    for (int k = before; k < layers.size(); k++) {
      String name = "v" + i + (k == layers.size() - 1 ? "" : "_" + (k - before + 1));
      form.apply(name, k, value);
      value = name;
    }
    names.put(current, value);
    shapes.put(current, shape);
  }

  private boolean readOutside(String value, int from, int to) {
    for (int j = 0; j < nodes.size(); j++) if ((j < from || j >= to) && nodes.get(j).getInputList().contains(value)) return true;
    return false;
  }

  /**
   * A node reading several computed values: Add, Sub or Mul of two of equal shapes ({@code + - .*}),
   * Concat along axis 1 (hbp's first per-sample dim: features or channels) of values whose other
   * dims agree; returns 1.
   */
  private int merge(int i, List<String> computed) {
    NodeProto n = nodes.get(i);
    String op = n.getOpType();
    String out = "v" + i;
    List<String> dsl = new ArrayList<>();
    for (String in : computed) dsl.add(names.get(in));
    List<Integer> first = shapes.get(computed.get(0));
    if (op.equals("Concat")) {
      long axis = Attributes.integer(n, "axis", 1);
      int rank = first.size() + 1;
      if (computed.size() != n.getInputCount() || axis != 1 && axis != 1 - rank)
        throw error(i, "concatenates along axis " + axis + (computed.size() != n.getInputCount() ? " with constant inputs" : "")
            + "; hbp maps Concat of computed values along axis 1 (features, or channels of [N, C, H, W]), the first per-sample dim");
      List<Integer> joined = new ArrayList<>(first);
      for (int k = 1; k < computed.size(); k++) {
        List<Integer> s = shapes.get(computed.get(k));
        if (s.size() != first.size() || !s.subList(1, s.size()).equals(first.subList(1, first.size())))
          throw error(i, "concatenates per-sample shapes " + first + " and " + s + "; along axis 1 the other dims must agree");
        joined.set(0, joined.get(0) + s.get(0));
      }
      form.merge(out, out + " = concat(" + String.join(", ", dsl) + ");", describe(i));
      define(n.getOutput(0), out, joined);
      return 1;
    }
    if (op.equals("Div")) {
      if (computed.size() != 2 || !first.equals(shapes.get(computed.get(1))))
        throw error(i, "divides per-sample shapes " + first + " and " + shapes.get(computed.get(computed.size() - 1)) + "; hbp's divide takes two "
            + "values of equal shapes (no broadcasting)");
      form.apply(out, addLayer("divide", Map.of(), describe(i)), dsl.get(0) + ", " + dsl.get(1));
      define(n.getOutput(0), out, first);
      return 1;
    }
    String symbol = switch (op) {
      case "Add" -> "+";
      case "Sub" -> "-";
      case "Mul" -> ".*";
      default -> throw error(i, "reads " + computed.size() + " computed values (" + String.join(", ", computed) + "); hbp merges values by Add, Sub "
          + "and Mul (two of equal shapes) and Concat along axis 1, and maps Div of two as the module divide");
    };
    if (computed.size() != 2 || !first.equals(shapes.get(computed.get(1))))
      throw error(i, "merges per-sample shapes " + first + " and " + shapes.get(computed.get(computed.size() - 1)) + "; hbp's " + symbol
          + " takes two values of equal shapes (no broadcasting)");
    form.merge(out, out + " = " + dsl.get(0) + " " + symbol + " " + dsl.get(1) + ";", describe(i));
    define(n.getOutput(0), out, first);
    return 1;
  }

  private void define(String onnx, String dsl, List<Integer> s) {
    names.put(onnx, dsl);
    shapes.put(onnx, List.copyOf(s));
    current = onnx;
    shape = List.copyOf(s);
  }

  /**
   * In a chain ({@link #isChain}), node i reads the value before it: one not read by any node is
   * a dead end, which hbp does not import.
   */
  private void requireChain(int i) {
    List<String> computed = computedInputs(i);
    if (!computed.get(0).equals(current))
      throw error(i, "reads '" + computed.get(0) + "', not the value before it '" + current + "', which no node reads; hbp imports graphs whose "
          + "every value reaches the output");
  }

  /** Whether a constant input is a parameter (not a shape or an axes argument), judged by its type: floats with more than one entry. */
  private boolean isInitializerParameter(NodeProto n, String in) {
    return model.constant(in).numel() > 1 && !n.getOpType().equals("Reshape") && !n.getOpType().equals("Pad");
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

  /**
   * Adds a parameter of a layer from the initializer {@code source} ("X (transposed)" where hbp's layout is X's
   * transpose); a transposed constant that is the folded Transpose of an initializer (a MatMul by {@code W.t()}
   * exported without constant folding) is that initializer, in its own layout.
   */
  void addParameter(int layer, String param, NdArray value, String source) {
    String transposed = " (transposed)";
    if (source.endsWith(transposed)) {
      String of = model.transposedInitializer(source.substring(0, source.length() - transposed.length()));
      if (of != null) source = of;
    }
    String name = chainName(layer, param);
    String of = source.endsWith(transposed) ? source.substring(0, source.length() - transposed.length()) : source;
    if (model.isConstantNode(of))
      throw new UserError(model.file() + ": " + layers.get(layer).origin() + ": its input '" + of + "' (parameter " + param + " of module "
          + layers.get(layer).module() + ") is a Constant node's value; hbp takes Constant nodes as fixed data, not as learned parameters, "
          + "and maps them as data in Add, Sub, Mul, Div and batch normalisation only (export the weight as a parameter of the PyTorch model)");
    parameters.put(name, value);
    sources.put(name, source);
  }

  /**
   * The name of a parameter or data variable {@code var} of the chain's layer {@code layer}:
   * {@code <layer index>.<var>} (e.g. {@code 3.W}, {@code 3.mean}), as {@link #addParameter} and
   * {@link #addData} name them; {@link #layerOf} and {@link #renamed} read it back.
   */
  static String chainName(int layer, String var) {
    return layer + "." + var;
  }

  /** The layer index of a chain name ({@link #chainName}): {@code 3} for {@code 3.W}. */
  static int layerOf(String name) {
    return Integer.parseInt(name.substring(0, name.indexOf('.')));
  }

  /** The variable of a chain name ({@link #chainName}): {@code W} for {@code 3.W}. */
  static String variableOf(String name) {
    return name.substring(name.indexOf('.') + 1);
  }

  /** A chain name ({@link #chainName}) under another prefix (the graph form's value or instance): {@code v3.W} for {@code 3.W} and {@code v3}. */
  static String renamed(String name, String prefix) {
    return prefix + "." + variableOf(name);
  }

  /** Adds a constant value of a data variable of a layer (not a parameter: no gradient is taken in it). */
  void addData(int layer, String variable, NdArray value) {
    data.put(chainName(layer, variable), value);
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
