package org.hbp.network;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.hbp.UserError;
import org.hbp.calculus.Dim;
import org.hbp.calculus.Expr;
import org.hbp.calculus.Shape;
import org.hbp.codegen.OperatorGenerator;
import org.hbp.dsl.Dsl;
import org.hbp.dsl.DslException;
import org.hbp.dsl.ModuleSpec;
import org.hbp.dsl.ParsedNetwork;
import org.hbp.dsl.Spec;

/**
 * Resolves {@code network} declarations against a module library: looks up every module and the
 * loss, binds each module's dims (keyword arguments, and inference from the incoming per-sample
 * shape) and computes the shapes, layer by layer. Errors are {@link DslException}s at the offending
 * instance or keyword.
 *
 * <p>Shape rules, beyond plain unification of a module's input type with the incoming shape (same
 * rank: vector = 1 axis, matrix = 2, tensor = 3):
 *
 * <ul>
 *   <li>A module whose input is {@code vector(n)} and whose output has the same type (sigmoid,
 *       relu, tanh, bias, dropout, ...) accepts any shape: it acts on the column-major vec of the
 *       sample ({@code n} = its number of entries), and its output keeps the incoming shape.
 *   <li>A module whose output is {@code matrix(c, oh*ow)}, with {@code oh} and {@code ow} derived
 *       dims (conv2d, avgpool; the first declared is the height), records {@code (oh, ow)}; a later
 *       module with a {@code tensor(c, h, w)} input reads that matrix as {@code tensor(c, oh, ow)}
 *       (the same column-major layout). The record passes through the shape-keeping modules above
 *       and residual blocks. Without one, a matrix meets a tensor input only when {@code h} and
 *       {@code w} are given and {@code h*w} is its number of columns.
 * </ul>
 */
public final class NetworkResolver {
  private NetworkResolver() {}

  /** A layer with its PyTorch-style index path ({@code 0}, {@code 3.1}, ...). */
  public record LayerAt(String path, NetworkSpec.Layer layer) {}

  // ---------------- loading ----------------

  /**
   * Parses {@code file}, collects the modules and losses of {@code specDirs} (see
   * {@link #library}) and resolves the network called {@code networkName} ({@code null}: the only
   * one of the file).
   *
   * @throws UserError a missing file or folder, or no such network
   * @throws DslException an error in the file or in a spec, with its position
   */
  public static NetworkSpec load(Path file, String networkName, List<Path> specDirs) {
    if (!Files.exists(file)) throw new UserError("network file not found: " + file);
    if (!Files.isRegularFile(file)) throw new UserError("not a file: " + file);
    Spec spec = Dsl.parseFile(file);
    return resolve(spec, networkName, library(specDirs));
  }

  /**
   * The modules and losses of the given spec folders, each folder's {@code .hbp} files in sorted
   * order (a path to a single {@code .hbp} file is taken as is). Where two folders declare the
   * same name, the later one shadows the earlier (user folders after the built-in
   * {@code modules-spec/}); two files of one folder declaring the same name are refused, since
   * neither is meant to shadow the other.
   *
   * @throws UserError a folder that does not exist or cannot be read; two files of one folder
   *     declaring the same module or loss name (naming both at {@code file:line:col})
   */
  public static List<ModuleSpec> library(List<Path> specDirs) {
    List<ModuleSpec> out = new ArrayList<>();
    for (Path dir : specDirs) {
      if (!Files.exists(dir)) throw new UserError("spec folder not found: " + dir);
      Map<String, ModuleSpec> seen = new LinkedHashMap<>();
      for (Path f : specFiles(dir)) {
        for (ModuleSpec m : Dsl.parseFile(f).modules()) {
          ModuleSpec first = seen.putIfAbsent(m.name(), m);
          if (first != null)
            throw new UserError(where(m) + ": " + kind(m) + " '" + m.name() + "' is also declared in " + where(first) + ", a file of the same spec "
                + "folder " + dir + "; which one is meant is ambiguous: rename one of them or move it to a folder of its own");
          out.add(m);
        }
      }
    }
    return out;
  }

  private static String where(ModuleSpec m) {
    return m.source() + ":" + m.line() + ":" + m.column();
  }

  private static String kind(ModuleSpec m) {
    return m.isLoss() ? "loss" : "module";
  }

  /**
   * The spec files that {@link #library} reads from one entry of its folders: the entry itself
   * when it is a file, else its {@code *.hbp} files (not its subfolders), sorted; none when it
   * does not exist.
   */
  public static List<Path> specFiles(Path dir) {
    if (!Files.exists(dir)) return List.of();
    if (Files.isRegularFile(dir)) return List.of(dir);
    try (Stream<Path> s = Files.list(dir)) {
      return s.filter(p -> p.getFileName().toString().endsWith(".hbp") && Files.isRegularFile(p)).sorted().toList();
    } catch (IOException e) {
      throw new UserError("cannot read spec folder " + dir + ": " + e.getMessage());
    }
  }

  // ---------------- resolution ----------------

  /**
   * Resolves one network of a parsed file. The library is the given modules and losses (later
   * ones shadowing earlier ones) and those of the file itself, which shadow the library.
   *
   * @param networkName the network's name, or {@code null} for the only network of the file
   * @throws UserError no network of that name, or no or several when the name is null
   * @throws DslException an unknown module, a dim that cannot be bound, a shape that does not fit
   * @throws org.hbp.codegen.CodegenException two modules of the library (after shadowing) of
   *     different names that generate the same class ({@code foo_bar} and {@code fooBar}; also a
   *     user module named like a built-in in another case form, {@code Sigmoid}), before any
   *     operator is loaded
   */
  public static NetworkSpec resolve(Spec spec, String networkName, List<ModuleSpec> library) {
    List<String> names = spec.networks().stream().map(ParsedNetwork::name).toList();
    ParsedNetwork decl;
    if (networkName == null) {
      if (names.isEmpty()) throw new UserError(spec.source() + " declares no network");
      if (names.size() > 1)
        throw new UserError(spec.source() + " declares " + names.size() + " networks (" + String.join(", ", names) + "); name one (--network NAME)");
      decl = spec.networks().get(0);
    } else {
      decl = spec.network(networkName).orElseThrow(() -> new UserError("no network named '" + networkName + "' in "
          + spec.source() + (names.isEmpty() ? " (it declares none)" : " (networks: " + String.join(", ", names) + ")")));
    }
    Map<String, ModuleSpec> modules = new LinkedHashMap<>();
    for (ModuleSpec m : library) modules.put(m.name(), m);
    for (ModuleSpec m : spec.modules()) modules.put(m.name(), m);
    OperatorGenerator.requireDistinctClasses(modules.values(), false); // before any operator is loaded or compiled
    return new Resolver(decl, modules).resolve();
  }

  /** What flows between layers: the per-sample shape and, after a convolution-like module, its (oh, ow). */
  record Flow(List<Integer> shape, List<Integer> spatial) {}

  static final class Resolver {
    private final ParsedNetwork decl;
    private final Map<String, ModuleSpec> modules;

    Resolver(ParsedNetwork decl, Map<String, ModuleSpec> modules) {
      this.decl = decl;
      this.modules = modules;
    }

    NetworkSpec resolve() {
      if (decl.isGraph()) return new GraphResolver(decl, this).resolve();
      List<NetworkSpec.Node> body = new ArrayList<>();
      Flow out = body(decl.body(), new Flow(decl.input().shape(), null), body);
      ParsedNetwork.Instance l = decl.loss();
      NetworkSpec.Layer loss = place(l, loss(l), out, true).layer;
      return new NetworkSpec(decl.name(), decl.source(), decl.line(), decl.input().shape(), body, loss);
    }

    private Flow body(List<ParsedNetwork.Item> items, Flow flow, List<NetworkSpec.Node> out) {
      for (ParsedNetwork.Item item : items) {
        if (item instanceof ParsedNetwork.Instance inst) {
          Placed p = place(inst, module(inst), flow, false);
          out.add(p.layer);
          flow = p.out;
        } else {
          ParsedNetwork.Residual r = (ParsedNetwork.Residual) item;
          List<NetworkSpec.Node> inner = new ArrayList<>();
          Flow f = body(r.body(), flow, inner);
          if (!f.shape().equals(flow.shape()))
            throw at(r.line(), r.column(), "a residual block must map " + type(flow.shape()) + " to itself but its body gives " + type(f.shape()));
          out.add(new NetworkSpec.Residual(inner, flow.shape(), r.line(), r.column()));
        }
      }
      return flow;
    }

    ModuleSpec module(ParsedNetwork.Instance inst) {
      ModuleSpec m = modules.get(inst.name());
      if (m == null) throw at(inst.line(), inst.column(), "no module named '" + inst.name() + "' (modules, closest first: " + names(false, inst.name()) + "; a module of your own comes in with --specs DIR)");
      if (m.isLoss()) throw at(inst.line(), inst.column(), "'" + inst.name() + "' is a loss; use it as 'loss " + inst.name() + ";'");
      return m;
    }

    ModuleSpec loss(ParsedNetwork.Instance inst) {
      ModuleSpec m = modules.get(inst.name());
      if (m == null) throw at(inst.line(), inst.column(), "no loss named '" + inst.name() + "' (losses, closest first: " + names(true, inst.name()) + "; a loss of your own comes in with --specs DIR)");
      if (!m.isLoss()) throw at(inst.line(), inst.column(), "'" + inst.name() + "' is a module, not a loss (losses: " + names(true, null) + ")");
      return m;
    }

    /** The modules (or losses) by their edit distance to {@code name}, closest first, at most 10; all, sorted, when name is null. */
    private String names(boolean losses, String name) {
      List<String> all = modules.values().stream().filter(m -> m.isLoss() == losses).map(ModuleSpec::name).toList();
      if (all.isEmpty()) return "none";
      return name == null ? all.stream().sorted().collect(Collectors.joining(", ")) : Dsl.closestFirst(name, all, 10);
    }

    record Placed(NetworkSpec.Layer layer, Flow out) {}

    /** Binds the dims of one instance of a module or loss of one input and computes its output. */
    Placed place(ParsedNetwork.Instance inst, ModuleSpec m, Flow in, boolean isLoss) {
      List<Expr.Var> inputs = m.withRole(Expr.Role.INPUT);
      if (inputs.size() != 1) {
        String names = inputs.stream().map(Expr.Var::name).collect(Collectors.joining(", "));
        throw at(inst.line(), inst.column(), m.name() + ": a " + (isLoss ? "loss" : "layer") + " of a " + (isLoss ? "" : "sequential ")
            + "network needs exactly one input, but " + m.name() + " has " + inputs.size() + " (" + names + ")"
            + (isLoss || inputs.isEmpty() ? "" : "; apply it to " + inputs.size() + " values in a graph network: NAME = " + m.name() + "("
                + String.join(", ", java.util.Collections.nCopies(inputs.size(), "VALUE")) + ");"));
      }
      return place(inst, m, List.of(in), null, isLoss);
    }

    /**
     * Binds the dims of one instance and computes its output: {@code ins} are the values bound to
     * the module's inputs in declaration order ({@code argsAt}: where each is written, {line,
     * column}, for errors; null for one input, whose errors are at the instance). A module of one
     * vector input that keeps its type takes any shape (see the class comment); with several
     * inputs each is read by its declared type.
     */
    Placed place(ParsedNetwork.Instance inst, ModuleSpec m, List<Flow> ins, List<int[]> argsAt, boolean isLoss) {
      String who = m.name();
      int line = inst.line(), col = inst.column();
      List<Expr.Var> inputs = m.withRole(Expr.Role.INPUT);
      if (inputs.size() != ins.size()) throw new IllegalArgumentException(who + ": " + ins.size() + " values for " + inputs.size() + " inputs");
      List<String> base = baseDims(m);

      // keyword dims
      Map<String, Long> bound = new LinkedHashMap<>();
      Map<String, ParsedNetwork.Arg> given = new LinkedHashMap<>();
      for (ParsedNetwork.Arg a : inst.args()) {
        if (m.derivedDims().containsKey(a.name()))
          throw at(a.line(), a.column(), who + ": '" + a.name() + "' is a derived dim of " + who + " (" + a.name() + " = "
              + m.derivedDims().get(a.name()) + "), computed from the others; it cannot be given");
        if (!base.contains(a.name()))
          throw at(a.line(), a.column(), who + ": '" + a.name() + "' is not a dim of " + who + " (its dims: "
              + (base.isEmpty() ? "none" : String.join(", ", base)) + ")");
        bound.put(a.name(), (long) a.value());
        given.put(a.name(), a);
      }

      boolean keepsShape = false;
      List<Reading> readings = new ArrayList<>();
      for (int i = 0; i < ins.size(); i++) {
        Expr.Var v = inputs.get(i);
        int[] where = argsAt == null ? new int[] {line, col} : argsAt.get(i);
        String what = ins.size() == 1 ? "the input" : "input " + v.name() + " (argument " + (i + 1) + ")";
        Reading r = read(who, what, v.shape(), ins.get(i), ins.size() == 1 && !isLoss && m.output().shape().equals(v.shape()), bound, where);
        keepsShape |= r.keepsShape;
        readings.add(r);
      }

      // axes that are one symbol bind it (or must agree with it)
      for (Reading r : readings) {
        for (int i = 0; i < r.axes.size(); i++) {
          if (r.matrixAsTensor && i > 0) continue;
          Dim axis = r.axes.get(i);
          if (!axis.isSymbol()) continue;
          String sym = axis.symbols().first();
          long size = r.sizes.get(i);
          Long b = bound.get(sym);
          if (b == null) bound.put(sym, size);
          else if (b != size) {
            ParsedNetwork.Arg a = given.get(sym);
            if (a != null)
              throw at(a.line(), a.column(), who + ": " + sym + " = " + b + " is given but the incoming shape " + r.incoming
                  + (ins.size() == 1 ? "" : " of " + r.what) + " gives " + sym + " = " + size);
            throw at(r.where[0], r.where[1], who + ": " + r.what + " is " + typeText(r.type.substitute(constants(bound)), r.rank)
                + " but the incoming shape is " + r.incoming);
          }
        }
      }
      for (String d : base) {
        if (!bound.containsKey(d))
          throw at(line, col, "dim '" + d + "' of " + who + " is neither given nor determined by the incoming shape"
              + (ins.size() == 1 ? " " + readings.get(0).incoming : "s " + readings.stream().map(r -> r.incoming).collect(Collectors.joining(", ")))
              + "; give it, e.g. " + who + "(" + d + " = ...)");
      }
      // the other axes must agree
      for (Reading r : readings) {
        long[] actual = evaluate(r.what, r.type, bound, m, line, col);
        List<Long> want = new ArrayList<>();
        if (r.rank == 1) want.add(actual[0]);
        else for (long v : actual) want.add(v);
        List<Integer> s = r.flow.shape();
        boolean fits;
        if (r.matrixAsTensor) {
          fits = want.get(0) == (long) s.get(0) && want.get(1) > 0 && want.get(2) > 0 && want.get(1) * want.get(2) == (long) s.get(1);
        } else {
          fits = true;
          for (int i = 0; i < want.size(); i++) fits &= want.get(i) == (long) r.sizes.get(i);
        }
        if (!fits) {
          throw at(r.where[0], r.where[1], who + ": " + r.what + " is " + typeText(want) + " but the incoming shape is " + r.incoming
              + (r.matrixAsTensor ? "; a matrix(c, h*w) is read as tensor(c, h, w)" : ""));
        }
      }
      List<Integer> s = ins.get(0).shape();
      Flow in = ins.get(0);

      // derived dims, the output and the other variables must be positive
      for (Map.Entry<String, Dim> e : m.derivedDims().entrySet()) {
        String what = e.getKey() + " = " + e.getValue();
        long v;
        try {
          v = e.getValue().evaluate(bound);
        } catch (ArithmeticException ex) {
          throw at(line, col, who + ": division by zero in " + what + " (" + dimsText(m, bound) + ")");
        }
        if (v <= 0) throw at(line, col, who + ": " + what + " would be " + v + "; it must be positive (" + dimsText(m, bound) + ")");
      }
      Shape outShape = m.output().shape();
      List<Integer> out;
      if (isLoss) out = List.of(1);
      else {
        out = checkPositive("the output", outShape, bound, m, line, col);
        if (keepsShape) out = s;
      }
      for (Expr.Var v : m.variables()) {
        if (v.role() == Expr.Role.INPUT) continue;
        checkPositive(v.role().name().toLowerCase(Locale.ROOT) + " " + v.name(), v.shape(), bound, m, line, col);
      }

      // what the next layer sees
      List<Integer> spatial = null;
      if (keepsShape) spatial = in.spatial();
      else if (!isLoss && rank(outShape) == 2) spatial = spatial(m, outShape, bound, line, col);

      Map<String, Integer> dims = new LinkedHashMap<>();
      for (String d : base) dims.put(d, Math.toIntExact(bound.get(d)));
      NetworkSpec.Layer layer = new NetworkSpec.Layer(m, dims, s, out, line, col);
      return new Placed(layer, new Flow(out, spatial));
    }

    /**
     * How a module's input of declared type {@code type} reads an incoming value: the axes, the
     * sizes they see, and whether a matrix is read as a tensor by {@code h*w} columns.
     */
    private record Reading(String what, Shape type, int rank, List<Dim> axes, List<Integer> sizes, String incoming, boolean matrixAsTensor,
        boolean keepsShape, Flow flow, int[] where) {}

    private Reading read(String who, String what, Shape t, Flow in, boolean mayKeepShape, Map<String, Long> bound, int[] where) {
      int rank = rank(t);
      List<Dim> axes = rank == 1 ? List.of(t.rows()) : t.dims();
      List<Integer> s = in.shape();
      boolean keepsShape = mayKeepShape && rank == 1 && t.rows().isSymbol();
      List<Integer> sizes = s;
      String incoming = type(s);
      boolean matrixAsTensor = false;
      if (keepsShape && s.size() != 1) {
        sizes = List.of(numel(s, where[0], where[1], who));
      } else if (rank == 3 && s.size() == 2 && in.spatial() != null) {
        sizes = List.of(s.get(0), in.spatial().get(0), in.spatial().get(1));
        incoming = type(s) + " (read as " + type(sizes) + ")";
      } else if (rank == 3 && s.size() == 2) {
        matrixAsTensor = true;
      } else if (rank != s.size()) {
        throw at(where[0], where[1], who + ": " + what + " is " + typeText(t.substitute(constants(bound)), rank) + " but the incoming shape is " + type(s));
      }
      return new Reading(what, t, rank, axes, sizes, incoming, matrixAsTensor, keepsShape, in, where);
    }

    /** (oh, ow) when the output is matrix(c, oh*ow) for two derived dims, in declaration order. */
    private List<Integer> spatial(ModuleSpec m, Shape out, Map<String, Long> bound, int line, int col) {
      List<Dim> derived = new ArrayList<>(m.derivedDims().values());
      for (int i = 0; i < derived.size(); i++) {
        for (int j = i + 1; j < derived.size(); j++) {
          if (out.cols().equals(derived.get(i).times(derived.get(j)))) {
            return List.of(toInt(eval(derived.get(i), bound, line, col, m.name()), line, col, m.name()),
                toInt(eval(derived.get(j), bound, line, col, m.name()), line, col, m.name()));
          }
        }
      }
      return null;
    }

    private List<Integer> checkPositive(String what, Shape shape, Map<String, Long> bound, ModuleSpec m, int line, int col) {
      int rank = rank(shape);
      long[] v = evaluate(what, shape, bound, m, line, col);
      List<Long> values = new ArrayList<>();
      if (rank == 1) values.add(v[0]);
      else for (long x : v) values.add(x);
      for (long x : values) {
        if (x <= 0)
          throw at(line, col, m.name() + ": " + what + " would be " + typeText(values) + "; every extent must be positive (" + dimsText(m, bound) + ")");
      }
      List<Integer> out = new ArrayList<>();
      for (long x : values) out.add(toInt(x, line, col, m.name()));
      long entries = Shape.entries(values);
      if (entries > Dsl.MAX_ENTRIES)
        throw at(line, col, m.name() + ": " + what + " would be " + typeText(values) + " with " + (entries == Long.MAX_VALUE ? "more than 2^63" : entries)
            + " entries; an array has at most " + Dsl.MAX_ENTRIES + " entries (arrays are indexed by int)");
      return out;
    }

    private long[] evaluate(String what, Shape shape, Map<String, Long> bound, ModuleSpec m, int line, int col) {
      try {
        return shape.evaluate(bound);
      } catch (ArithmeticException e) {
        throw at(line, col, m.name() + ": division by zero in " + what + " " + typeText(shape, rank(shape)) + " (" + dimsText(m, bound) + ")");
      }
    }

    private long eval(Dim d, Map<String, Long> bound, int line, int col, String who) {
      try {
        return d.evaluate(bound);
      } catch (ArithmeticException e) {
        throw at(line, col, who + ": " + e.getMessage());
      }
    }

    private int toInt(long v, int line, int col, String who) {
      if (v > Integer.MAX_VALUE) throw at(line, col, who + ": an extent of " + v + " is too large");
      return (int) v;
    }

    private int numel(List<Integer> shape, int line, int col, String who) {
      long n = 1;
      for (int x : shape) n *= x;
      return toInt(n, line, col, who);
    }

    DslException at(int line, int col, String message) {
      return new DslException(decl.source(), line, col, message);
    }
  }

  private static String dimsText(ModuleSpec m, Map<String, Long> bound) {
    return baseDims(m).stream().filter(bound::containsKey).map(d -> d + " = " + bound.get(d)).collect(Collectors.joining(", "));
  }

  private static List<String> baseDims(ModuleSpec m) {
    Set<String> out = new LinkedHashSet<>();
    for (Dim d : m.dims()) out.addAll(d.symbols());
    return List.copyOf(out);
  }

  private static Map<String, Dim> constants(Map<String, Long> bound) {
    Map<String, Dim> out = new LinkedHashMap<>();
    bound.forEach((k, v) -> out.put(k, Dim.of(v)));
    return out;
  }

  /** The rank of a declared type as a per-sample shape: 1 for a vector (or scalar), 3 for a tensor, else 2. */
  private static int rank(Shape s) {
    return s.isTensor() ? 3 : s.isColumn() ? 1 : 2;
  }

  // ---------------- printing ----------------

  /** A per-sample shape in DSL type syntax: {@code vector(784)}, {@code matrix(3, 4)}, {@code tensor(1, 28, 28)}. */
  public static String type(List<Integer> shape) {
    return typeText(shape);
  }

  private static String typeText(List<? extends Number> shape) {
    String args = shape.stream().map(String::valueOf).collect(Collectors.joining(", "));
    return switch (shape.size()) {
      case 1 -> "vector(" + args + ")";
      case 2 -> "matrix(" + args + ")";
      case 3 -> "tensor(" + args + ")";
      default -> "shape(" + args + ")";
    };
  }

  /** A declared (symbolic) type with ", " between the dims, as the concrete ones. */
  private static String typeText(Shape s, int rank) {
    if (rank == 1) return "vector(" + s.rows() + ")";
    return (rank == 3 ? "tensor(" : "matrix(") + s.dims().stream().map(Dim::toString).collect(Collectors.joining(", ")) + ")";
  }

  /**
   * All layers (not the loss) in depth-first order with their index paths, as PyTorch's
   * {@code nn.Sequential} numbers them: top-level nodes by position, a residual block takes one
   * position and its body's layers are {@code <block>.<i>}.
   */
  public static List<LayerAt> layers(NetworkSpec net) {
    List<LayerAt> out = new ArrayList<>();
    collect(net.body(), "", out);
    return out;
  }

  private static void collect(List<NetworkSpec.Node> nodes, String prefix, List<LayerAt> out) {
    for (int i = 0; i < nodes.size(); i++) {
      NetworkSpec.Node n = nodes.get(i);
      if (n instanceof NetworkSpec.Layer l) out.add(new LayerAt(prefix + i, l));
      else collect(((NetworkSpec.Residual) n).body(), prefix + i + ".", out);
    }
  }

  /**
   * A short text, one line per node: index path, module, dims (a {@code *} marks those read off
   * the incoming shape), and input -> output shape; the loss last.
   */
  public static String describe(NetworkSpec net) {
    List<String[]> rows = new ArrayList<>();
    if (net.isGraph()) graphRows(net.graph(), rows);
    else rows(net.body(), "", 0, rows);
    NetworkSpec.Layer loss = net.loss();
    rows.add(new String[] {"loss", loss.module().name(), dimsOf(loss), type(loss.inputShape()) + " -> scalar"});
    int[] width = new int[3];
    for (String[] r : rows) for (int i = 0; i < 3; i++) width[i] = Math.max(width[i], r[i].length());
    StringBuilder sb = new StringBuilder();
    sb.append("network ").append(net.name()).append(" (").append(net.source()).append(':').append(net.line()).append("): input ")
        .append(type(net.inputShape())).append("; * = inferred from the incoming shape\n");
    for (String[] r : rows) {
      StringBuilder line = new StringBuilder("  ");
      for (int i = 0; i < 3; i++) line.append(pad(r[i], width[i])).append("  ");
      line.append(r[3]);
      sb.append(line.toString().stripTrailing()).append('\n');
    }
    return sb.toString();
  }

  private static void rows(List<NetworkSpec.Node> nodes, String prefix, int depth, List<String[]> rows) {
    String indent = "  ".repeat(depth);
    for (int i = 0; i < nodes.size(); i++) {
      NetworkSpec.Node n = nodes.get(i);
      String path = prefix + i;
      String shapes = type(n.inputShape()) + " -> " + type(n.outputShape());
      if (n instanceof NetworkSpec.Layer l) rows.add(new String[] {indent + path, l.module().name(), dimsOf(l), shapes});
      else {
        rows.add(new String[] {indent + path, "residual", "", shapes + " (x + body(x))"});
        rows(((NetworkSpec.Residual) n).body(), path + ".", depth + 1, rows);
      }
    }
  }

  /** A graph's rows: value, module (with its instance where shared) or merge, dims, and inputs -> shape. */
  private static void graphRows(NetworkSpec.Graph g, List<String[]> rows) {
    for (NetworkSpec.Step s : g.steps()) {
      String shapes = String.join(", ", s.inputs()) + " -> " + type(s.outputShape());
      if (s instanceof NetworkSpec.Apply a) {
        String module = a.instance().equals(a.value()) ? a.layer().module().name() : a.instance() + " = " + a.layer().module().name();
        rows.add(new String[] {a.value(), module, dimsOf(a.layer()), shapes});
      } else {
        rows.add(new String[] {s.value(), ((NetworkSpec.Merge) s).op().symbol(), "", shapes});
      }
    }
  }

  /** The dims in the module's order; those that are whole axes of its input type carry a {@code *}. */
  private static String dimsOf(NetworkSpec.Layer l) {
    Set<String> inferred = new LinkedHashSet<>();
    for (Expr.Var v : l.module().withRole(Expr.Role.INPUT)) {
      Shape t = v.shape();
      for (Dim d : rank(t) == 1 ? List.of(t.rows()) : t.dims()) if (d.isSymbol()) inferred.addAll(d.symbols());
    }
    List<String> parts = new ArrayList<>();
    for (String d : baseDims(l.module())) {
      if (l.dims().containsKey(d)) parts.add(d + "=" + l.dims().get(d) + (inferred.contains(d) ? "*" : ""));
    }
    return String.join(" ", parts);
  }

  private static String pad(String s, int width) {
    return s + " ".repeat(Math.max(0, width - s.length()));
  }
}
