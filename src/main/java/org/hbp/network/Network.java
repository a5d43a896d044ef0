package org.hbp.network;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.hbp.UserError;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.dsl.ModuleSpec;
import org.hbp.runtime.BuiltInOperators;
import org.hbp.runtime.ForwardCache;
import org.hbp.runtime.LossOperator;
import org.hbp.runtime.ModuleOperator;

/**
 * A feedforward network made of generated operators: a sequence of module instances and
 * residual blocks ({@code z = x + body(x)}), ending in a loss averaged over the batch (as PyTorch's
 * default {@code reduction='mean'}). {@link #run} does the forward and gradient passes for one
 * batch; the resulting {@link Pass} gives the loss, the gradients and, through {@link Curvature},
 * block-diagonal curvature.
 *
 * <p>Parameters are named {@code <path>.<param>}: the path is the layer's position, with
 * {@code <block>.<i>} inside residual blocks (PyTorch's {@code nn.Sequential} numbering), and the
 * param is the spec's variable name ({@code W}, {@code b}).
 */
public final class Network {
  /** Creates the operator of a module or loss for its bound dims. */
  @FunctionalInterface
  public interface OperatorFactory {
    Object create(ModuleSpec module, Backend backend, Map<String, Integer> dims);
  }

  /** The operators built into hbp (generated from modules-spec/). */
  public static OperatorFactory builtIn() {
    return (m, be, dims) -> m.isLoss() ? BuiltInOperators.loss(m.name(), be, dims) : BuiltInOperators.module(m.name(), be, dims);
  }

  final NetworkSpec spec;
  final OperatorFactory operators;
  final Backend be;
  final List<Node> body;
  final LossLayer loss;
  final Map<String, LayerNode> parameterOwners = new LinkedHashMap<>();
  final Map<String, String> parameterVariables = new LinkedHashMap<>();
  /** A graph network's steps with their layers ({@link GraphPasses}); null for a sequential network. */
  final List<GraphPasses.Step> graph;
  /** A graph network's candidate pairs of a diagonal Jacobian and a selection ({@link DiagonalSelections}); null for a sequential network. */
  final DiagonalSelections.GraphPairs graphPairs;
  /** Every use of each parameter, in graph order (one, the owner, in a sequential network). */
  final Map<String, List<LayerNode>> parameterUses = new LinkedHashMap<>();
  /** Fixed values of data variables by {@code <path>.<name>} ({@link #setDataValues}). */
  private final Map<String, Batch> dataValues = new LinkedHashMap<>();
  private final Map<String, double[]> dataArrays = new LinkedHashMap<>();
  /** The layers' data variables, {@code <path>.<name>}, with their item shapes. */
  private final Map<String, int[]> dataShapes = new LinkedHashMap<>();

  public Network(NetworkSpec spec, OperatorFactory operators, Backend backend) {
    this.spec = spec;
    this.operators = operators;
    this.be = backend;
    this.body = build(spec.body(), "", operators);
    this.graph = spec.isGraph() ? GraphPasses.build(this, operators) : null;
    this.graphPairs = graph == null ? null : new DiagonalSelections.GraphPairs(this);
    NetworkSpec.Layer l = spec.loss();
    Object op = operators.create(l.module(), backend, l.dims());
    if (!(op instanceof LossOperator lo)) throw new UserError(l.module().name() + " is not a loss");
    this.loss = new LossLayer(l, lo);
  }

  private List<Node> build(List<NetworkSpec.Node> nodes, String prefix, OperatorFactory operators) {
    List<Node> out = new ArrayList<>();
    for (int i = 0; i < nodes.size(); i++) {
      String path = prefix + i;
      NetworkSpec.Node n = nodes.get(i);
      if (n instanceof NetworkSpec.Residual r) {
        out.add(new ResidualNode(path, r, build(r.body(), path + ".", operators)));
      } else {
        NetworkSpec.Layer l = (NetworkSpec.Layer) n;
        Object op = operators.create(l.module(), be, l.dims());
        if (!(op instanceof ModuleOperator mo)) throw new UserError(path + ": " + l.module().name() + " is a loss, not a module");
        LayerNode node = new LayerNode(path, path, l, mo);
        addUse(node);
        out.add(node);
      }
    }
    return out;
  }

  /** Records the parameters of a layer (a use of its instance); the first use owns them. */
  void addUse(LayerNode node) {
    for (String v : node.op.dataVariables()) dataShapes.put(node.path + "." + v, node.op.itemShape(v));
    for (String p : node.op.parameters()) {
      String name = node.parameterName(p);
      parameterOwners.putIfAbsent(name, node);
      parameterVariables.put(name, p);
      parameterUses.computeIfAbsent(name, k -> new ArrayList<>()).add(node);
    }
  }

  /**
   * Fixed values of data variables, by {@code <path>.<name>} (e.g. the running statistics of a
   * batch normalisation imported from ONNX), each one item given column-major in the variable's
   * item shape; a pass uses them where its caller gives no value (before the all-ones default).
   * They are constants: no gradient or curvature is taken in them.
   */
  public void setDataValues(Map<String, double[]> values) {
    for (Map.Entry<String, double[]> e : values.entrySet()) {
      int[] s = dataShapes.get(e.getKey());
      if (s == null)
        throw new UserError("data value '" + e.getKey() + "': no layer of network " + spec.name() + " has this data variable (its data variables: "
            + (dataShapes.isEmpty() ? "none" : String.join(", ", dataShapes.keySet())) + ")");
      if (s[0] * s[1] != e.getValue().length)
        throw new UserError("data value '" + e.getKey() + "' has " + e.getValue().length + " entries; the variable has " + s[0] + " x " + s[1]);
    }
    dataArrays.putAll(values);
    for (Map.Entry<String, double[]> e : values.entrySet()) dataValues.put(e.getKey(), be.fromArray(1, 1, e.getValue().length, 1, e.getValue()));
  }

  /** The layers' data variables, {@code <path>.<name>} (e.g. {@code 1.mean} of a batchnorm), with their item shapes (rows, cols). */
  public Map<String, int[]> dataVariables() {
    return java.util.Collections.unmodifiableMap(dataShapes);
  }

  /** Whether this is a graph network (its layers in {@link #graph}, {@link #body} empty). */
  public boolean isGraph() {
    return graph != null;
  }

  /** The layers using a parameter: its owner, and in a graph every use of a shared instance. */
  List<LayerNode> uses(String parameter) {
    owner(parameter);
    return parameterUses.get(parameter);
  }

  /** The same network on another backend, with the same operators (user specs are not compiled again). */
  Network on(Backend backend) {
    Network other = new Network(spec, operators, backend);
    other.setDataValues(dataArrays);
    return other;
  }

  public NetworkSpec spec() {
    return spec;
  }

  public Backend backend() {
    return be;
  }

  /** Parameter names in network order, e.g. {@code 0.W, 0.b, 2.W, ...}. */
  public List<String> parameterNames() {
    return List.copyOf(parameterOwners.keySet());
  }

  /** The item shape {rows, cols} of a parameter, as its spec declares it (column-major). */
  public int[] parameterShape(String name) {
    LayerNode n = owner(name);
    return n.op.itemShape(parameterVariables.get(name));
  }

  /** Entries of a parameter. */
  public int parameterSize(String name) {
    int[] s = parameterShape(name);
    return s[0] * s[1];
  }

  LayerNode owner(String name) {
    LayerNode n = parameterOwners.get(name);
    if (n == null) throw new UserError("no parameter named '" + name + "'; the network has " + parameterNames());
    return n;
  }

  /** Whether a node has parameters (a layer with params, or a block containing one). */
  static boolean hasParameters(Node n) {
    if (n instanceof LayerNode l) return !l.op.parameters().isEmpty();
    for (Node b : ((ResidualNode) n).body) if (hasParameters(b)) return true;
    return false;
  }

  /** All layers (depth first), with their paths; a graph's module uses in graph order. */
  List<LayerNode> layers() {
    List<LayerNode> out = new ArrayList<>();
    if (graph != null) {
      for (GraphPasses.Step s : graph) if (s.layer() != null) out.add(s.layer());
      return out;
    }
    collect(body, out);
    return out;
  }

  private static void collect(List<Node> nodes, List<LayerNode> out) {
    for (Node n : nodes) {
      if (n instanceof LayerNode l) out.add(l);
      else collect(((ResidualNode) n).body, out);
    }
  }

  /**
   * Forward and gradient passes for one batch.
   *
   * @param parameters every parameter by name, one sample each, in its item shape
   * @param x the inputs, N samples, items in the network's input shape (rows = first dim)
   * @param y the loss targets, N samples, items in the loss target's shape
   * @param data values of data variables by {@code <path>.<name>} (e.g. dropout masks); a missing
   *     one is all ones (evaluation mode)
   */
  public Pass run(Map<String, Batch> parameters, Batch x, Batch y, Map<String, Batch> data) {
    Pass pass = forward(parameters, x, y, data);
    if (graph != null) {
      GraphPasses.backward(pass);
      return pass;
    }
    Batch dz = pass.own(loss.op.gradient(pass.lossCache, loss.input));
    pass.outputGradient = dz;
    // below the first node with parameters no gradient is needed: stop there (the input gets none,
    // as in PyTorch for inputs that do not require grad)
    int first = 0;
    while (first < body.size() && !hasParameters(body.get(first))) first++;
    for (int i = body.size() - 1; i >= first; i--) {
      Node n = body.get(i);
      if (i == first && n instanceof LayerNode l) {
        pass.outputGradients.put(l, l.asOutput(dz));
        break;
      }
      dz = pass.own(n.backward(pass, dz));
    }
    return pass;
  }

  /** The outcome of a forward pass without gradients: the summed per-sample losses and the hits. */
  public record Evaluation(int samples, double lossSum, int correct) {
    public double meanLoss() {
      return lossSum / samples;
    }

    public double accuracy() {
      return correct / (double) samples;
    }
  }

  /**
   * The forward pass only (evaluation: dropout, if any, in evaluation mode), releasing what it
   * computed: the summed loss and the number of samples whose largest network output is at the
   * position of the target's largest entry (the class, for one-hot cross-entropy targets).
   */
  public Evaluation evaluate(Map<String, Batch> parameters, Batch x, Batch y) {
    Pass pass = forward(parameters, x, y, Map.of());
    try {
      double[] losses = be.toArray(pass.losses()), logits = be.toArray(pass.logits), targets = be.toArray(y);
      int n = x.samples(), d = logits.length / n, t = targets.length / n, correct = 0;
      double sum = 0;
      for (int i = 0; i < n; i++) {
        sum += losses[i];
        if (argmax(logits, i * d, d) == argmax(targets, i * t, t)) correct++;
      }
      return new Evaluation(n, sum, correct);
    } finally {
      pass.close();
    }
  }

  /** The forward pass through the body and the loss, in a new pass that knows the caller's batches. */
  private Pass forward(Map<String, Batch> parameters, Batch x, Batch y, Map<String, Batch> data) {
    checkParameters(parameters);
    Pass pass = new Pass(this, x.samples());
    pass.parameters = parameters;
    pass.inputs = x;
    pass.targets = y;
    pass.data = data == null ? Map.of() : data;
    pass.callerBatches.add(x);
    pass.callerBatches.add(y);
    pass.callerBatches.addAll(parameters.values());
    if (data != null) pass.callerBatches.addAll(data.values());
    pass.callerBatches.addAll(dataValues.values());
    if (graph != null) {
      pass.logits = GraphPasses.forward(pass, parameters, x, data == null ? Map.of() : data);
      loss.forward(pass, pass.logits, y);
      return pass;
    }
    Batch out = x;
    for (Node n : body) out = n.forward(pass, out, parameters, data == null ? Map.of() : data);
    pass.logits = out;
    loss.forward(pass, out, y);
    return pass;
  }

  private static int argmax(double[] a, int from, int length) {
    int best = 0;
    for (int k = 1; k < length; k++) if (a[from + k] > a[from + best]) best = k;
    return best;
  }

  private void checkParameters(Map<String, Batch> parameters) {
    for (String p : parameterNames()) {
      Batch b = parameters.get(p);
      if (b == null) throw new UserError("no value for parameter '" + p + "'; the network has " + parameterNames());
      int[] s = parameterShape(p);
      if (b.itemSize() != s[0] * s[1] || b.items() != 1)
        throw new UserError("parameter '" + p + "' is " + b.describe() + ", expected one " + s[0] + "x" + s[1] + " item");
    }
    for (String p : parameters.keySet())
      if (!parameterOwners.containsKey(p)) throw new UserError("unknown parameter '" + p + "'; the network has " + parameterNames());
  }

  public Pass run(Map<String, Batch> parameters, Batch x, Batch y) {
    return run(parameters, x, y, Map.of());
  }

  // ---- nodes -------------------------------------------------------------------------------

  /**
   * A node of the body: forward, backward and the Jacobian product, per sample. Curvature products
   * are the strategies' ({@link HessianProducts}, {@link CurvatureStrategy}).
   */
  abstract class Node {
    final String path;

    Node(String path) {
      this.path = path;
    }

    abstract Batch forward(Pass pass, Batch x, Map<String, Batch> parameters, Map<String, Batch> data);

    /** Records dz at the output (per sample, of the per-sample loss), returns dz at the input. */
    abstract Batch backward(Pass pass, Batch dz);

    /** J u for directions u at the input. */
    abstract Batch jac(Pass pass, Batch u);

    /** Per-sample output item shape {rows, cols}. */
    abstract int[] outputItem();
  }

  /** One module instance (in a graph, one use of it, of one or several inputs). */
  final class LayerNode extends Node {
    /** The prefix of its parameters' names: its path, or in a graph the instance's name. */
    final String prefix;
    final NetworkSpec.Layer layer;
    final ModuleOperator op;
    /** The first input (the only one in a sequential network). */
    final String input;
    /** The module's inputs in declaration order; a graph binds its values to them in this order. */
    final List<String> inputs;
    /** How each index variable is computed from the input, resolved from the spec once. */
    final Map<String, IndexMaps.IndexMap> indexMaps;

    LayerNode(String path, String prefix, NetworkSpec.Layer layer, ModuleOperator op) {
      this(path, prefix, layer, op, 1);
    }

    /** A layer whose module takes {@code inputs} values (a graph's module use; one in a sequential network). */
    LayerNode(String path, String prefix, NetworkSpec.Layer layer, ModuleOperator op, int inputs) {
      super(path);
      this.prefix = prefix;
      this.layer = layer;
      this.op = op;
      if (op.inputs().size() != inputs)
        throw new UserError(path + ": module " + op.name() + " has " + op.inputs().size() + " inputs; " + (inputs == 1 ? "a network layer needs one"
            : "it is applied to " + inputs + " values"));
      this.inputs = List.copyOf(op.inputs());
      this.input = this.inputs.get(0);
      this.indexMaps = IndexMaps.resolve(path, layer.module(), op);
    }

    /**
     * The full name of this layer's parameter {@code var} (a variable of {@link #op}):
     * {@code <prefix>.<var>}, e.g. {@code 0.W}, {@code 2.1.b} in a residual block, {@code fc.W} for
     * a graph's instance {@code fc} (the same for every use of a shared instance): one of
     * {@link Network#parameterNames}, the key of the maps by parameter (values, directions,
     * gradients, diagonals) and the name of the parameter's array in .npz files ({@code --params},
     * {@code --vectors}).
     */
    String parameterName(String var) {
      return prefix + "." + var;
    }

    /** The full names ({@link #parameterName}) of this layer's parameters, in the operator's order (e.g. {@code [0.W, 0.b]}). */
    List<String> parameterNames() {
      return op.parameters().stream().map(this::parameterName).toList();
    }

    /** Directions or values reshaped to this module's input item shape (a free view). */
    Batch asInput(Batch u) {
      return asInput(input, u);
    }

    /** Directions or values reshaped to the item shape of the input {@code var} (a free view). */
    Batch asInput(String var, Batch u) {
      int[] s = op.itemShape(var);
      if (u.itemSize() != s[0] * s[1])
        throw new IllegalStateException(path + ": " + u.describe() + " does not fit the input " + var + " of " + op.name() + ", " + s[0] + "x" + s[1]);
      return u.rows() == s[0] && u.cols() == s[1] ? u : be.reshape(u, s[0], s[1]);
    }

    Batch asOutput(Batch u) {
      int[] s = outputItem();
      return u.rows() == s[0] && u.cols() == s[1] ? u : be.reshape(u, s[0], s[1]);
    }

    @Override
    int[] outputItem() {
      return op.itemShape(op.outputName());
    }

    @Override
    Batch forward(Pass pass, Batch x, Map<String, Batch> parameters, Map<String, Batch> data) {
      return forward(pass, List.of(x), parameters, data);
    }

    /** The forward pass on one value per input (in the order of {@link #inputs}). */
    Batch forward(Pass pass, List<Batch> xs, Map<String, Batch> parameters, Map<String, Batch> data) {
      Map<String, Batch> values = new LinkedHashMap<>();
      for (int i = 0; i < inputs.size(); i++) values.put(inputs.get(i), asInput(inputs.get(i), xs.get(i)));
      for (String p : op.parameters()) {
        int[] s = op.itemShape(p);
        Batch b = parameters.get(parameterName(p));
        values.put(p, b.rows() == s[0] && b.cols() == s[1] ? b : be.reshape(b, s[0], s[1]));
      }
      for (String v : op.dataVariables()) {
        Batch d = data.get(path + "." + v);
        if (d == null) d = dataValues.get(path + "." + v);
        int[] s = op.itemShape(v);
        values.put(v, d == null ? be.fill(s[0], s[1], 1.0) : d.rows() == s[0] && d.cols() == s[1] ? d : be.reshape(d, s[0], s[1]));
      }
      // an index map is computed from the input its declaration names
      indexMaps.forEach((v, map) -> values.put(v, pass.own(map.compute(be,
          values.get(layer.module().indexDecl(v).map(org.hbp.dsl.IndexDecl::input).filter(values::containsKey).orElse(input))))));
      ForwardCache c = op.forward(values);
      pass.caches.put(this, c);
      return pass.own(op.output(c));
    }

    @Override
    Batch backward(Pass pass, Batch dz) {
      dz = asOutput(dz);
      pass.outputGradients.put(this, dz);
      return op.backward(pass.caches.get(this), input, dz);
    }

    /** {@code J' dz} at the input {@code var}, dz at the output already recorded by {@link #backward(Pass, Batch)}. */
    Batch backward(Pass pass, String var, Batch dz) {
      return op.backward(pass.caches.get(this), var, asOutput(dz));
    }

    @Override
    Batch jac(Pass pass, Batch u) {
      return op.jacMatProd(pass.caches.get(this), input, asInput(u));
    }
  }

  /** A residual block z = x + body(x). */
  final class ResidualNode extends Node {
    final NetworkSpec.Residual block;
    final List<Node> body;

    ResidualNode(String path, NetworkSpec.Residual block, List<Node> body) {
      super(path);
      this.block = block;
      this.body = body;
    }

    @Override
    int[] outputItem() {
      return itemOf(block.inputShape());
    }

    /** u with the item shape of like (a free view). */
    Batch same(Batch u, Batch like) {
      return u.rows() == like.rows() && u.cols() == like.cols() ? u : be.reshape(u, like.rows(), like.cols());
    }

    @Override
    Batch forward(Pass pass, Batch x, Map<String, Batch> parameters, Map<String, Batch> data) {
      Batch out = x;
      for (Node n : body) out = n.forward(pass, out, parameters, data);
      return pass.own(be.add(x, same(out, x)));
    }

    @Override
    Batch backward(Pass pass, Batch dz) {
      Batch d = dz;
      for (int i = body.size() - 1; i >= 0; i--) d = body.get(i).backward(pass, d);
      return be.add(dz, same(d, dz));
    }

    @Override
    Batch jac(Pass pass, Batch u) {
      Batch y = u;
      for (Node n : body) y = n.jac(pass, y);
      return be.add(u, same(y, u));
    }
  }

  /**
   * Releases the storage of intermediate products once a product is computed: each temporary
   * unless it shares storage with one of {@code keep} (the caller's directions, the result).
   * Products return fresh batches or views of their directions, never forward-cache values, so
   * only these aliases need checking.
   */
  void releaseTemporaries(List<Batch> temporaries, Batch... keep) {
    java.util.List<Batch> done = new java.util.ArrayList<>();
    outer:
    for (Batch t : temporaries) {
      if (t == null) continue;
      for (Batch k : keep) if (k != null && be.sharesStorage(t, k)) continue outer;
      for (Batch d : done) if (be.sharesStorage(t, d)) continue outer;
      be.release(t);
      done.add(t);
    }
  }

  /** The loss at the end. */
  final class LossLayer {
    final NetworkSpec.Layer layer;
    final LossOperator op;
    final String input;
    final String target;

    LossLayer(NetworkSpec.Layer layer, LossOperator op) {
      this.layer = layer;
      this.op = op;
      if (op.inputs().size() != 1 || op.constants().size() != 1)
        throw new UserError("loss " + op.name() + " needs one input and one target");
      this.input = op.inputs().get(0);
      this.target = op.constants().get(0);
    }

    Batch asInput(Batch u) {
      int[] s = op.itemShape(input);
      return u.rows() == s[0] && u.cols() == s[1] ? u : be.reshape(u, s[0], s[1]);
    }

    void forward(Pass pass, Batch logits, Batch y) {
      int[] t = op.itemShape(target);
      if (y.samples() != logits.samples() || y.itemSize() != t[0] * t[1])
        throw new UserError("targets " + y.describe() + " do not match: expected " + logits.samples() + " samples of " + t[0] + "x" + t[1]
            + " for loss " + op.name());
      pass.lossCache = op.forward(Map.of(input, asInput(logits), target, y.rows() == t[0] ? y : be.reshape(y, t[0], t[1])));
    }

    /** H u with the per-sample loss Hessian. */
    Batch hessianProd(Pass pass, Batch u) {
      return op.hessianMatProd(pass.lossCache, input, asInput(u));
    }
  }

  /** The item {rows, cols} of a per-sample tensor shape: a tensor (c, h, w) is c x (h*w). */
  static int[] itemOf(List<Integer> shape) {
    int cols = 1;
    for (int i = 1; i < shape.size(); i++) cols *= shape.get(i);
    return new int[] {shape.get(0), cols};
  }

  /** r, the columns per sample of the loss's certified factor {@code H_n = S_n S_n'}; 0 where the loss has none. */
  public int lossFactorRank() {
    int r = 0;
    for (int k : loss.op.factorRanks(loss.input)) r += k;
    return r;
  }

  /** The loss spec's target item. */
  public int[] targetShape() {
    return loss.op.itemShape(loss.target);
  }

  /** The network input's item shape {rows, cols}. */
  public int[] inputShape() {
    return itemOf(spec.inputShape());
  }
}
