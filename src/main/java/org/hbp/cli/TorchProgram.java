package org.hbp.cli;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Predicate;
import org.hbp.UserError;
import org.hbp.calculus.Dim;
import org.hbp.calculus.Expr;
import org.hbp.codegen.PyTorchGeneration;
import org.hbp.dsl.ModuleSpec;
import org.hbp.network.NetworkSpec;

/**
 * The network of {@code hbp bench --torch} as a PyTorch program: any declaration (a chain, residual
 * blocks, or a graph with merges and shared instances) lowered layer by layer, the same way for
 * every kind of network. Each module use becomes one PyTorch call on its inputs (all of them, in
 * declared order, for a module of several inputs such as {@code bilinear(m = 4)(a, b)}):
 * <ul>
 *   <li>a built-in module PyTorch has as a native operation (linear, conv2d, relu, tanh, sigmoid,
 *       gelu, maxpool, avgpool, flatten) is that operation ({@code F.linear}, {@code F.conv2d}, ...),
 *       as a PyTorch user writes it;</li>
 *   <li>every other module (built in or from {@code --specs}: layer norms, attention, embeddings,
 *       ...) is the forward pass of its {@code torch.nn.Module} from the PyTorch code target
 *       ({@code hbp generate --target pytorch}), generated from its spec next to the program.</li>
 * </ul>
 * Values flow as hbp's items {@code [N, rows, cols]} (rows the first dim of a value's shape,
 * columns column-major over the others), so a value means the same on both sides; where a module
 * declares another item shape for its input it is reshaped column-major, as hbp does. A residual
 * block adds its input to its body's output; merges add, subtract, multiply entrywise and
 * concatenate along rows; a shared instance is one module object whose parameters are one tensor
 * for all its uses. Parameters are {@code torch.nn.Parameter}s in their spec's natural shapes,
 * read from hbp's items; the loss is the mean of the per-sample losses ({@code F.cross_entropy}
 * for the built-in crossentropy, else the generated loss module).
 */
final class TorchProgram {
  /** The Python package of the generated modules, next to the program. */
  static final String PACKAGE = "hbp_bench";

  /** Built-in modules with a native PyTorch operation (see {@link #nativeCall}). */
  static final List<String> NATIVE = List.of("linear", "conv2d", "relu", "tanh", "sigmoid", "gelu", "maxpool", "avgpool", "flatten");

  private final Predicate<ModuleSpec> builtIn;
  private final StringBuilder setup = new StringBuilder();
  private final StringBuilder forward = new StringBuilder();
  /** The Python module object of each instance (by its parameters' prefix). */
  private final Map<String, String> instances = new LinkedHashMap<>();
  private final TreeSet<String> modules = new TreeSet<>();
  private int values;

  /** The data variables ({@code <path>.<name>}) with fixed values, read from the input file as {@code d.<path>.<name>}; the others are ones. */
  private final Set<String> boundData;

  private TorchProgram(Predicate<ModuleSpec> builtIn, Set<String> boundData) {
    this.builtIn = builtIn;
    this.boundData = Set.copyOf(boundData);
  }

  /** The program's source; {@code builtIn} says whether a module is hbp's own (its spec from the built-in folders). */
  static String of(NetworkSpec ns, List<String> parameterNames, Predicate<ModuleSpec> builtIn) {
    return of(ns, parameterNames, builtIn, Set.of());
  }

  /**
   * The program's source, the data variables {@code boundData} ({@code <path>.<name>}, e.g. a batch norm's
   * running mean {@code 1.mean}) taking the values {@code d.<path>.<name>} of the input file (one item, column-major,
   * as {@link org.hbp.network.Network#setDataValues} takes them), the others all ones.
   */
  static String of(NetworkSpec ns, List<String> parameterNames, Predicate<ModuleSpec> builtIn, Set<String> boundData) {
    return new TorchProgram(builtIn, boundData).program(ns, parameterNames);
  }

  /** The modules of a network and its loss, by name. */
  static Map<String, ModuleSpec> moduleSpecs(NetworkSpec ns) {
    Map<String, ModuleSpec> out = new TreeMap<>();
    if (ns.isGraph()) {
      for (NetworkSpec.Step s : ns.graph().steps()) if (s instanceof NetworkSpec.Apply a) out.put(a.layer().module().name(), a.layer().module());
    } else {
      collect(ns.body(), out);
    }
    out.put(ns.loss().module().name(), ns.loss().module());
    return out;
  }

  private static void collect(List<NetworkSpec.Node> nodes, Map<String, ModuleSpec> out) {
    for (NetworkSpec.Node n : nodes) {
      if (n instanceof NetworkSpec.Residual r) collect(r.body(), out);
      else out.put(((NetworkSpec.Layer) n).module().name(), ((NetworkSpec.Layer) n).module());
    }
  }

  /** Whether a module is lowered to a native PyTorch operation (a built-in one PyTorch has, or the built-in cross-entropy). */
  static boolean isNative(ModuleSpec m, Predicate<ModuleSpec> builtIn) {
    return builtIn.test(m) && (m.isLoss() ? m.name().equals("crossentropy") : NATIVE.contains(m.name()));
  }

  private String program(NetworkSpec ns, List<String> parameterNames) {
    String z;
    if (ns.isGraph()) {
      NetworkSpec.Graph g = ns.graph();
      Map<String, String> vars = new LinkedHashMap<>();
      vars.put(g.input(), "x");
      for (NetworkSpec.Step s : g.steps()) {
        if (s instanceof NetworkSpec.Apply a) vars.put(a.value(), layer(a.instance(), a.layer(), a.inputs().stream().map(vars::get).toList()));
        else vars.put(s.value(), merge((NetworkSpec.Merge) s, vars));
      }
      z = vars.get(g.output());
    } else {
      z = chain(ns.body(), "", "x");
    }
    String loss = loss(ns.loss(), "z");
    StringBuilder py = new StringBuilder();
    py.append("# hbp bench --torch: network ").append(ns.name()).append(" (").append(ns.source())
        .append(") lowered to PyTorch by hbp (org.hbp.cli.TorchProgram).\n");
    py.append("import os\nimport statistics\nimport sys\nimport time\n\nimport numpy as np\nimport torch\nimport torch.nn.functional as F\n\n");
    py.append("sys.path.insert(0, sys.argv[1])\n");
    py.append("from ").append(PACKAGE).append(" import hbp_runtime as K  # noqa: E402\n");
    for (String m : modules)
      py.append("from ").append(PACKAGE).append(" import ").append(PyTorchGeneration.pythonModule(m)).append(" as M_").append(m).append("  # noqa: E402\n");
    py.append(PRELUDE);
    py.append(setup);
    py.append("\n\ndef net(x):\n    \"\"\"The network's output for inputs x, items [N, rows, cols].\"\"\"\n").append(forward);
    py.append("    return ").append(z).append("\n");
    py.append("\n\ndef loss(z, y):\n    \"\"\"The mean loss of the outputs z for the targets y (items).\"\"\"\n    return ").append(loss).append("\n");
    py.append("\n\nNAMES = [").append(String.join(", ", parameterNames.stream().map(TorchProgram::quote).toList())).append("]\n");
    py.append(TorchBench.MEASURE);
    return py.toString();
  }

  /** A chain of layers and residual blocks (parameters {@code <prefix><i>.<param>}); the variable of its output. */
  private String chain(List<NetworkSpec.Node> nodes, String prefix, String h) {
    for (int i = 0; i < nodes.size(); i++) {
      NetworkSpec.Node n = nodes.get(i);
      if (n instanceof NetworkSpec.Residual r) {
        String body = chain(r.body(), prefix + i + ".", h);
        String item = tuple(r.inputShape());
        h = assign("as_item(" + h + ", " + item + ") + as_item(" + body + ", " + item + ")", "residual block " + prefix + i);
      } else {
        h = layer(prefix + i, (NetworkSpec.Layer) n, List.of(h));
      }
    }
    return h;
  }

  /** A merge of graph values, each first in the item of its shape. */
  private String merge(NetworkSpec.Merge m, Map<String, String> vars) {
    List<String> in = new ArrayList<>();
    for (int i = 0; i < m.inputs().size(); i++) in.add("as_item(" + vars.get(m.inputs().get(i)) + ", " + tuple(m.inputShapes().get(i)) + ")");
    String expr = switch (m.op()) {
      case ADD -> in.get(0) + " + " + in.get(1);
      case SUBTRACT -> in.get(0) + " - " + in.get(1);
      case MULTIPLY -> in.get(0) + " * " + in.get(1);
      case CONCAT -> "torch.cat([" + String.join(", ", in) + "], dim=1)";
    };
    return assign(expr, m.value() + " = " + (m.op() == NetworkSpec.MergeOp.CONCAT ? "concat(" + String.join(", ", m.inputs()) + ")"
        : String.join(" " + m.op().symbol() + " ", m.inputs())));
  }

  /**
   * One use of a module instance on the values hs (one for each of its inputs, in declared order:
   * a module of several inputs, e.g. {@code bilinear(m = 4)(a, b)}, gets them all); the variable of its output.
   */
  private String layer(String prefix, NetworkSpec.Layer l, List<String> hs) {
    ModuleSpec m = l.module();
    if (m.isLoss()) throw new UserError(prefix + ": " + m.name() + " is a loss, not a module");
    List<Expr.Var> inputs = m.withRole(Expr.Role.INPUT);
    if (inputs.size() != hs.size())
      throw new IllegalStateException(prefix + ": module " + m.name() + " takes " + inputs.size() + " inputs, applied to " + hs.size());
    String mod = instance(prefix, l);
    List<String> in = new ArrayList<>();
    for (int i = 0; i < inputs.size(); i++) in.add("as_item(" + hs.get(i) + ", " + mod + "_s[" + quote(inputs.get(i).name()) + "])");
    String expr = isNative(m, builtIn) ? nativeCall(m.name(), mod, hs.get(0), in.get(0)) : generatedCall(m, mod, in, prefix);
    return assign(expr, prefix + ": " + m.name());
  }

  /** A native PyTorch operation on a built-in module's input: in (its item) or h (as it comes, for entrywise maps). */
  private static String nativeCall(String module, String mod, String h, String in) {
    return switch (module) {
      case "linear" -> "F.linear(" + in + "[..., 0], " + mod + ".W, " + mod + ".b)[..., None]";
      case "conv2d" -> "K.item_of(F.conv2d(K.natural_of(" + in + ", " + mod + "_s[\"X\"]), " + mod + ".W.reshape(" + mod + ".cout, " + mod
          + ".cin, " + mod + ".k, " + mod + ".k), " + mod + ".b, stride=" + mod + ".s, padding=" + mod + ".p, dilation=" + mod + ".d), ("
          + mod + ".cout, " + mod + ".oh, " + mod + ".ow))";
      case "relu", "tanh", "sigmoid" -> "torch." + module + "(" + h + ")";
      case "gelu" -> "F.gelu(" + h + ")";
      case "maxpool" -> "K.item_of(F.max_pool2d(K.natural_of(" + in + ", " + mod + "_s[\"x\"]), " + mod + ".k), " + mod + "_s[\"z\"])";
      case "avgpool" -> "K.item_of(F.avg_pool2d(K.natural_of(" + in + ", " + mod + "_s[\"x\"]), " + mod + ".k), (" + mod + ".c, " + mod + ".oh, "
          + mod + ".ow))";
      case "flatten" -> in + ".mT.reshape(" + in + ".shape[0], -1, 1)";
      default -> throw new IllegalArgumentException("no native PyTorch operation for " + module);
    };
  }

  /**
   * The generated module's forward on the items of its inputs, in declared order (through its
   * forward on natural shapes where it computes index or data variables).
   */
  private String generatedCall(ModuleSpec m, String mod, List<String> in, String prefix) {
    List<Expr.Var> keywords = new ArrayList<>(m.withRole(Expr.Role.DATA));
    keywords.addAll(m.withRole(Expr.Role.INDEX));
    List<Expr.Var> inputs = m.withRole(Expr.Role.INPUT);
    String z = m.output().name();
    if (keywords.isEmpty()) {
      List<String> values = new ArrayList<>(), params = new ArrayList<>();
      for (int i = 0; i < inputs.size(); i++) values.add("(" + quote(inputs.get(i).name()) + ", " + in.get(i) + ")");
      for (Expr.Var p : m.withRole(Expr.Role.PARAM)) params.add("(" + quote(p.name()) + ", " + quote(PyTorchGeneration.pythonName(m, p.name())) + ")");
      return "generated(" + mod + ", " + tuple(values) + ", " + tuple(params) + ")";
    }
    // data variables (e.g. dropout masks) are all ones, as in hbp's networks, or their bound values (a batch norm's running
    // statistics); index variables are computed by the module
    List<String> args = new ArrayList<>();
    for (int i = 0; i < inputs.size(); i++) args.add("K.natural_of(" + in.get(i) + ", " + mod + "_s[" + quote(inputs.get(i).name()) + "])");
    for (Expr.Var d : m.withRole(Expr.Role.DATA)) {
      String shape = mod + "_s[" + quote(d.name()) + "]", key = prefix + "." + d.name();
      args.add(PyTorchGeneration.pythonName(m, d.name()) + "=" + (boundData.contains(key)
          ? "data_value(" + quote("d." + key) + ", " + in.get(0) + ".shape[0], " + shape + ")"
          : "torch.ones(" + in.get(0) + ".shape[0], *" + shape + ", dtype=dt)"));
    }
    return "K.item_of(" + mod + "(" + String.join(", ", args) + "), " + mod + "_s[" + quote(z) + "])";
  }

  /** The module object of an instance, made at its first use with its parameters (hbp's values). */
  private String instance(String prefix, NetworkSpec.Layer l) {
    String known = instances.get(prefix);
    if (known != null) return known;
    String mod = "m" + instances.size();
    instances.put(prefix, mod);
    ModuleSpec m = l.module();
    modules.add(m.name());
    setup.append(mod).append(" = ").append(construct(m, l.dims())).append("  # ").append(prefix).append(": ").append(m.name()).append('\n');
    setup.append(mod).append("_s = shapes(").append(mod).append(", ").append(quote(m.output().name())).append(")\n");
    for (Expr.Var p : m.withRole(Expr.Role.PARAM))
      setup.append("parameter(").append(mod).append(", ").append(quote(p.name())).append(", ").append(quote(PyTorchGeneration.pythonName(m, p.name())))
          .append(", ").append(quote(prefix + "." + p.name())).append(")\n");
    return mod;
  }

  /** The generated class of a module for its dims (positional, in the order of its constructor). */
  private static String construct(ModuleSpec m, Map<String, Integer> dims) {
    List<String> symbols = new ArrayList<>();
    for (Dim d : m.dims()) for (String s : d.symbols()) if (!symbols.contains(s)) symbols.add(s);
    List<String> args = new ArrayList<>();
    for (String s : symbols) {
      Integer v = dims.get(s);
      if (v == null) throw new IllegalStateException(m.name() + ": dim " + s + " is not bound");
      args.add(String.valueOf(v));
    }
    args.add("dtype=dt");
    return "M_" + m.name() + "." + PyTorchGeneration.className(m.name()) + "(" + String.join(", ", args) + ")";
  }

  /** The mean loss of the output z: native cross-entropy, or the generated loss module. */
  private String loss(NetworkSpec.Layer l, String z) {
    ModuleSpec m = l.module();
    String mod = instance("loss", l);
    List<Expr.Var> inputs = m.withRole(Expr.Role.INPUT), targets = m.withRole(Expr.Role.TARGET);
    if (inputs.size() != 1 || targets.size() != 1 || !m.withRole(Expr.Role.DATA).isEmpty() || !m.withRole(Expr.Role.INDEX).isEmpty())
      throw new UserError("loss " + m.name() + ": bench --torch lowers losses of one input and one target");
    String x = inputs.get(0).name(), in = "as_item(" + z + ", " + mod + "_s[" + quote(x) + "])";
    if (isNative(m, builtIn)) return "F.cross_entropy(" + in + "[..., 0], y[..., 0])";
    return mod + "._forward(K.Cache({" + quote(x) + ": " + in + "[None], " + quote(targets.get(0).name()) + ": y[None]}, dt, y.device))[0].mean()";
  }

  private String assign(String expr, String comment) {
    String v = "h" + ++values;
    forward.append("    ").append(v).append(" = ").append(expr).append("  # ").append(comment).append('\n');
    return v;
  }

  private static String tuple(List<?> items) {
    return "(" + String.join(", ", items.stream().map(String::valueOf).toList()) + (items.size() == 1 ? ",)" : ")");
  }

  private static String quote(String s) {
    return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
  }

  /** Helpers and data of the program, before its modules. */
  private static final String PRELUDE = """

      folder = sys.argv[1]
      dt = getattr(torch, sys.argv[2])
      torch.set_num_threads(int(sys.argv[3]))
      data = np.load(folder + "/in.npz")


      def array(key):
          return torch.tensor(data[key], dtype=dt)


      def as_item(h, shape):
          \"\"\"Items [N, r, c] as the items of a natural shape (rows its first dim), reshaped column-major as hbp does.\"\"\"
          r, c = (shape[0] if len(shape) else 1), 1
          for s in shape[1:]:
              c *= s
          if h.shape[1] == r and h.shape[2] == c:
              return h
          return h.mT.reshape(h.shape[0], c, r).mT


      def shapes(mod, output):
          \"\"\"The natural shapes of a generated module's variables and output.\"\"\"
          return {v: mod.shape(v) for v in mod.VARIABLES + (output,)}


      P = {}


      def parameter(mod, var, attr, name):
          \"\"\"hbp's parameter `name` (items) as the module's parameter `var`, in its natural shape.\"\"\"
          t = torch.nn.Parameter(K.natural_of(array("p." + name), mod.shape(var)).contiguous())
          setattr(mod, attr, t)
          P[name] = t


      def data_value(key, n, shape):
          \"\"\"A data variable's fixed value (one item, column-major) in its natural shape, the same for each of the n samples.\"\"\"
          rows = shape[0] if len(shape) else 1
          item = array(key).reshape(-1, rows).T
          return K.natural_of(item, shape).expand(n, *shape)


      def generated(mod, inputs, params):
          \"\"\"A generated module's forward on its inputs' items [N, rows, cols] ((name, items) pairs): its kernel program on a cache of items.\"\"\"
          values = {name: x[None] for name, x in inputs}
          for var, attr in params:
              values[var] = K.item_of(getattr(mod, attr), mod.shape(var))[None, None]
          return mod._forward(K.Cache(values, inputs[0][1].dtype, inputs[0][1].device))[0]


      """;
}
