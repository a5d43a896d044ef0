package org.hbp.network;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.hbp.calculus.Expr;
import org.hbp.dsl.DslException;
import org.hbp.dsl.ModuleSpec;
import org.hbp.dsl.ParsedNetwork;

/**
 * Resolves a graph network's statements, in order, into {@link NetworkSpec.Graph} steps: every
 * name is defined once and before it is used (so the graph is acyclic), a module or named instance
 * takes as many values as its spec declares inputs (bound in declaration order), a named instance
 * is applied to one input shape per input, merges meet matching shapes
 * ({@code + - .*}: equal; {@code concat}: equal but for the first dim), and every value and
 * instance is used. Each module use is placed as in a sequential network
 * ({@link NetworkResolver.Resolver#place}: dims from keywords and the incoming shape). Errors are
 * {@link DslException}s at the statement, the reference or the keyword.
 */
final class GraphResolver {
  private final ParsedNetwork decl;
  private final NetworkResolver.Resolver resolver;
  /** The values defined so far, with what flows out of them. */
  private final Map<String, NetworkResolver.Flow> values = new LinkedHashMap<>();
  /** The named instances defined so far. */
  private final Map<String, ParsedNetwork.Declare> instances = new LinkedHashMap<>();
  /** The first use of each named instance. */
  private final Map<String, NetworkSpec.Apply> firstUse = new HashMap<>();
  /** Where each name is defined, {line, column}. */
  private final Map<String, int[]> definedAt = new LinkedHashMap<>();
  /** The names used (values read, instances applied). */
  private final Map<String, Integer> uses = new HashMap<>();
  /** Every name of the network with where it is defined, for "defined later" errors. */
  private final Map<String, int[]> allNames = new HashMap<>();

  GraphResolver(ParsedNetwork decl, NetworkResolver.Resolver resolver) {
    this.decl = decl;
    this.resolver = resolver;
  }

  NetworkSpec resolve() {
    ParsedNetwork.Graph g = decl.graph();
    ParsedNetwork.Input in = decl.input();
    allNames.put(in.name(), new int[] {in.line(), in.column()});
    for (ParsedNetwork.Statement s : g.statements()) allNames.putIfAbsent(s.name(), new int[] {s.line(), s.column()});
    define(in.name(), in.line(), in.column());
    values.put(in.name(), new NetworkResolver.Flow(in.shape(), null));
    List<NetworkSpec.Step> steps = new ArrayList<>();
    for (ParsedNetwork.Statement s : g.statements()) {
      define(s.name(), s.line(), s.column());
      if (s instanceof ParsedNetwork.Declare d) {
        resolver.module(d.module());
        instances.put(d.name(), d);
      } else if (s instanceof ParsedNetwork.Apply a) steps.add(apply(a));
      else steps.add(merge((ParsedNetwork.Merge) s));
    }
    ParsedNetwork.Ref out = g.lossInput();
    NetworkResolver.Flow flow = value(out);
    ParsedNetwork.Instance l = decl.loss();
    NetworkSpec.Layer loss = resolver.place(l, resolver.loss(l), flow, true).layer();
    for (Map.Entry<String, int[]> e : definedAt.entrySet()) {
      if (uses.containsKey(e.getKey())) continue;
      String name = e.getKey();
      throw at(e.getValue()[0], e.getValue()[1], (instances.containsKey(name) ? "instance '" + name + "' is never applied"
          : "value '" + name + "' is never used") + "; every value of a graph network must reach the loss");
    }
    NetworkSpec.Graph graph = new NetworkSpec.Graph(in.name(), steps, out.name());
    return new NetworkSpec(decl.name(), decl.source(), decl.line(), in.shape(), List.of(), loss, graph);
  }

  private void define(String name, int line, int column) {
    int[] before = definedAt.get(name);
    if (before != null) throw at(line, column, "'" + name + "' is already defined at " + before[0] + ":" + before[1] + "; each name is defined once");
    definedAt.put(name, new int[] {line, column});
  }

  /** The flow of a value read at {@code r}; a name that is not (yet) a value is an error at the reference. */
  private NetworkResolver.Flow value(ParsedNetwork.Ref r) {
    NetworkResolver.Flow f = values.get(r.name());
    if (f != null) {
      uses.merge(r.name(), 1, Integer::sum);
      return f;
    }
    if (instances.containsKey(r.name()))
      throw at(r.line(), r.column(), "'" + r.name() + "' is a module instance, not a value; apply it to a value: " + r.name() + "(VALUE)");
    int[] later = allNames.get(r.name());
    if (later != null)
      throw at(r.line(), r.column(), "value '" + r.name() + "' is used before its definition at " + later[0] + ":" + later[1]
          + "; a graph network defines each value before it is used (it has no cycles)");
    throw at(r.line(), r.column(), "unknown value '" + r.name() + "' (values so far: " + String.join(", ", values.keySet()) + ")");
  }

  private NetworkSpec.Apply apply(ParsedNetwork.Apply a) {
    ParsedNetwork.Instance callee = a.callee();
    ParsedNetwork.Declare shared = instances.get(callee.name());
    if (shared == null && values.containsKey(callee.name()))
      throw at(callee.line(), callee.column(), "'" + callee.name() + "' is a value, not a module or instance");
    ModuleSpec m = resolver.module(shared == null ? callee : shared.module());
    List<Expr.Var> declared = m.withRole(Expr.Role.INPUT);
    if (a.inputs().size() != declared.size()) {
      String names = declared.stream().map(Expr.Var::name).collect(Collectors.joining(", "));
      throw at(callee.line(), callee.column(), callee.name() + " is applied to " + a.inputs().size() + " value" + (a.inputs().size() == 1 ? "" : "s")
          + " but " + (shared == null ? "" : "its module " + m.name() + " ") + "takes " + declared.size() + " (its input" + (declared.size() == 1 ? " " + names : "s " + names + ", bound in this order") + ")");
    }
    List<NetworkResolver.Flow> flows = new ArrayList<>();
    List<int[]> argsAt = new ArrayList<>();
    for (ParsedNetwork.Ref r : a.inputs()) {
      flows.add(value(r));
      argsAt.add(new int[] {r.line(), r.column()});
    }
    List<String> inputNames = a.inputs().stream().map(ParsedNetwork.Ref::name).toList();
    List<List<Integer>> shapes = flows.stream().map(NetworkResolver.Flow::shape).toList();
    if (shared == null) {
      NetworkResolver.Resolver.Placed p = place(callee, m, flows, argsAt);
      values.put(a.name(), p.out());
      return new NetworkSpec.Apply(a.name(), a.name(), p.layer(), inputNames, shapes, a.line(), a.column());
    }
    if (!callee.args().isEmpty())
      throw at(callee.args().get(0).line(), callee.args().get(0).column(), "instance '" + callee.name() + "' has its dims from its definition at "
          + shared.line() + ":" + shared.column() + "; apply it without them: " + callee.name() + "(" + String.join(", ", Collections.nCopies(declared.size(), "VALUE")) + ")");
    uses.merge(callee.name(), 1, Integer::sum);
    ParsedNetwork.Instance at = new ParsedNetwork.Instance(shared.module().name(), shared.module().args(), callee.line(), callee.column());
    NetworkResolver.Resolver.Placed p = place(at, m, flows, argsAt);
    NetworkSpec.Apply first = firstUse.get(callee.name());
    if (first != null && (!first.inputShapes().equals(shapes) || !first.layer().dims().equals(p.layer().dims()))) {
      int i = 0;
      while (i < shapes.size() - 1 && shapes.get(i).equals(first.inputShapes().get(i))) i++;
      ParsedNetwork.Ref r = a.inputs().get(i);
      throw at(r.line(), r.column(), "instance '" + callee.name() + "' is applied to " + NetworkResolver.type(shapes.get(i))
          + (shapes.size() == 1 ? "" : " (argument " + (i + 1) + ")") + " here but to " + NetworkResolver.type(first.inputShapes().get(i))
          + " at " + first.line() + ":" + first.column() + "; a shared instance (one set of parameters) takes one input shape");
    }
    values.put(a.name(), p.out());
    NetworkSpec.Apply step = new NetworkSpec.Apply(a.name(), callee.name(), p.layer(), inputNames, shapes, a.line(), a.column());
    firstUse.putIfAbsent(callee.name(), step);
    return step;
  }

  /** Places a module use on its values: one value as in a sequential network, several bound to the inputs in order. */
  private NetworkResolver.Resolver.Placed place(ParsedNetwork.Instance callee, ModuleSpec m, List<NetworkResolver.Flow> flows, List<int[]> argsAt) {
    if (flows.size() == 1) return resolver.place(callee, m, flows.get(0), false);
    return resolver.place(callee, m, flows, argsAt, false);
  }

  private NetworkSpec.Merge merge(ParsedNetwork.Merge m) {
    NetworkSpec.MergeOp op = NetworkSpec.MergeOp.of(m.op());
    List<NetworkResolver.Flow> in = new ArrayList<>();
    for (ParsedNetwork.Ref r : m.inputs()) in.add(value(r));
    List<Integer> first = in.get(0).shape();
    List<Integer> out;
    if (op == NetworkSpec.MergeOp.CONCAT) {
      int rows = 0;
      for (int i = 0; i < in.size(); i++) {
        List<Integer> s = in.get(i).shape();
        if (s.size() != first.size() || !s.subList(1, s.size()).equals(first.subList(1, first.size())))
          throw mismatch(m, i, "concat joins along the first dim and needs the other dims equal");
        rows += s.get(0);
      }
      out = new ArrayList<>(first);
      out.set(0, rows);
    } else {
      for (int i = 1; i < in.size(); i++) if (!in.get(i).shape().equals(first)) throw mismatch(m, i, m.op() + " needs equal shapes");
      out = first;
    }
    List<Integer> spatial = in.get(0).spatial();
    for (NetworkResolver.Flow f : in) if (f.spatial() == null || !f.spatial().equals(spatial)) spatial = null;
    values.put(m.name(), new NetworkResolver.Flow(out, spatial));
    return new NetworkSpec.Merge(m.name(), op, m.inputs().stream().map(ParsedNetwork.Ref::name).toList(),
        in.stream().map(NetworkResolver.Flow::shape).toList(), out, m.line(), m.column());
  }

  private DslException mismatch(ParsedNetwork.Merge m, int i, String rule) {
    ParsedNetwork.Ref a = m.inputs().get(0), b = m.inputs().get(i);
    return at(b.line(), b.column(), "shape mismatch at '" + m.name() + "': " + a.name() + " is " + NetworkResolver.type(values.get(a.name()).shape())
        + " but " + b.name() + " is " + NetworkResolver.type(values.get(b.name()).shape()) + "; " + rule);
  }

  private DslException at(int line, int column, String message) {
    return resolver.at(line, column, message);
  }
}
