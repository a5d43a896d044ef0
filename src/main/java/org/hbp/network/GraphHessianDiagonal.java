package org.hbp.network;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.hbp.backend.Batch;
import org.hbp.backend.host.PooledBackend;
import org.hbp.runtime.ForwardCache;
import org.hbp.runtime.ResidualKind;

/**
 * The exact Hessian diagonal ({@link HessianDiagonal#exact}), by HBP with signed column sets
 * carried back through a graph's steps; a sequential network is walked as the graph it is
 * ({@link Dag#chain}: a residual block is the {@code +} merge of its input and its body).
 *
 * <p><b>The recursion.</b> For one sample, the Hessian of the loss in the parameters of a DAG is
 * {@code J_out' H_ℓ J_out + sum_steps J_in' R_step J_in}: the loss Hessian at the output, and for
 * every step (module use or merge) its joint residual {@code R = sum_k dz_k d²z_k/(da da')} over
 * its stacked inputs and parameters {@code a = (a_1; ...; a_k; θ)} at its output gradient dz,
 * each taken back by the total Jacobian of the step's inputs in the parameters. Each term is
 * written as signed Gram matrices {@code σ C C'} of column sets: S with {@code S S' = H_ℓ} (σ = +1)
 * at the output; a set introduced at a step has a piece at each of the step's inputs (and shared
 * parameters) it touches. A set is carried back as {@link GraphColumns} carries columns: the
 * pieces reaching a value from its uses are added column by column (a branch point sums its
 * consumers' {@code J_i' c}), merges apply their transposed Jacobians, a module use of several
 * inputs feeds {@code J_i' c} to its i-th value. A parameter's diagonal is then
 * {@code (1/N) sum_n [sum_sets σ sum_c (J_θ' c)^2 + sum_uses r_θ,use]}, with its own diagonal
 * residual r_θ at every use.
 *
 * <p><b>The residual blocks as Gram matrices.</b>
 * <ul>
 *   <li>A diagonal block {@code R(i, i) = diag(r)} (an elementwise module): the sets
 *       {@code diag(sqrt(max(r, 0)))} (+) and {@code diag(sqrt(max(-r, 0)))} (-) at a_i, as on a
 *       chain. A general (non-diagonal) {@code R(i, i)} is refused, naming the layer.</li>
 *   <li>A cross block between two different inputs, {@code R(j, i) = B} (numel(a_j) x numel(a_i),
 *       {@code R(i, j) = B'}), whatever B is: with the stacked {@code (a_i; a_j)},
 *       <pre>
 *   [[0, B'], [B, 0]] = ½ (I; B)(I; B)' − ½ (I; −B)(I; −B)'
 *       </pre>
 *       since {@code (I; ±B)(I; ±B)' = [[I, ±B'], [±B, B B']]}: two sets of numel(a_i) columns
 *       {@code (e_m; ±B e_m)/√2}, the piece {@code e_m/√2} at a_i and {@code ±B e_m/√2} at a_j
 *       ({@code B e_m} by the operator's {@code mixedResidualMatProd} on the unit directions). For
 *       the merge {@code z = a .* b}, {@code B = diag(dz)}: {@code [[0, D], [D, 0]]} with
 *       {@code D = diag(dz)} is ½(I; D)(I; D)' − ½(I; −D)(I; −D)', the pieces {@code e_m/√2} at a
 *       and {@code ±dz_m e_m/√2} at b (equivalently ½[(I; I) D (I; I)' − (I; −I) D (I; −I)'],
 *       which needs D split into its positive and negative parts; the form above needs no square
 *       root). A value given to both inputs (a bilinear(b, b), {@code a .* a}) takes both pieces
 *       in each column: {@code ½(e + Be)(e + Be)' − ½(e − Be)(e − Be)' = B + B'}, its residual.
 *       A pair where one input does not depend on a parameter contributes nothing and is skipped.</li>
 *   <li>A shared parameter θ (one instance used by several modules): its pieces from all uses are
 *       added per column, {@code sum_uses J_θ,use' c}, before they are squared (the cross terms
 *       between uses); and where a use's input a_i itself depends on θ (an earlier use upstream),
 *       the cross block {@code R(θ, a_i)} of that use enters by the identity above with the piece
 *       {@code ±B e_m/√2} at θ itself: {@code ½(J'e + Be)^2 − ½(J'e − Be)^2 = 2 (Be)(J'e)}, summed
 *       over m, is {@code diag(B J + J' B')} with J the Jacobian of a_i in θ.</li>
 * </ul>
 * The pieces of a set at a value live until the walk passes the step that makes the value.
 */
final class GraphHessianDiagonal extends HessianSums {
  /** A signed set of C columns per sample: its pieces at the values, and at the shared parameters, it has reached. */
  private static final class ColumnSet {
    final double sign;
    final Map<String, Batch> atValue = new HashMap<>();
    final Map<String, Batch> atParameter = new LinkedHashMap<>();

    ColumnSet(double sign) {
      this.sign = sign;
    }
  }

  private static final double HALF_ROOT = Math.sqrt(0.5);

  /**
   * The steps walked: a graph network's own, or a chain's written as a graph ({@link #chain}: each
   * layer a module use of the value before it, a residual block {@code z = x + f(x)} the {@code +}
   * merge of x and its body's last value), with each value's item shape.
   */
  record Dag(List<GraphPasses.Step> steps, String input, String output, Map<String, int[]> items) {
    static Dag of(Network net) {
      if (!net.isGraph()) return chain(net);
      Map<String, int[]> items = new HashMap<>();
      NetworkSpec.Graph g = net.spec.graph();
      items.put(g.input(), GraphPasses.item(net, g.input()));
      for (GraphPasses.Step s : net.graph) items.put(s.value(), GraphPasses.item(net, s.value()));
      return new Dag(net.graph, g.input(), g.output(), items);
    }

    /** A sequential network as a graph: values named by the layers' paths, a residual block's sum {@code <path>+}. */
    static Dag chain(Network net) {
      List<GraphPasses.Step> steps = new ArrayList<>();
      Map<String, int[]> items = new HashMap<>();
      String input = "input";
      items.put(input, Network.itemOf(net.spec.inputShape()));
      String output = chain(net, net.body, input, steps, items);
      return new Dag(List.copyOf(steps), input, output, items);
    }

    private static String chain(Network net, List<Network.Node> nodes, String value, List<GraphPasses.Step> steps, Map<String, int[]> items) {
      for (Network.Node n : nodes) {
        if (n instanceof Network.LayerNode l) {
          NetworkSpec.Layer layer = l.layer;
          steps.add(new GraphPasses.Step(new NetworkSpec.Apply(l.path, l.path, layer, List.of(value), List.of(layer.inputShape()), layer.line(),
              layer.column()), l, null));
          value = l.path;
          items.put(value, l.outputItem());
        } else {
          Network.ResidualNode r = (Network.ResidualNode) n;
          String body = chain(net, r.body, value, steps, items);
          List<Integer> shape = r.block.inputShape();
          NetworkSpec.Merge sum = new NetworkSpec.Merge(r.path + "+", NetworkSpec.MergeOp.ADD, List.of(value, body), List.of(shape, shape), shape,
              r.block.line(), r.block.column());
          steps.add(new GraphPasses.Step(sum, null, new Merges(net.be, sum)));
          value = sum.value();
          items.put(value, Network.itemOf(shape));
        }
      }
      return value;
    }

    /**
     * The values downstream of (or made by) a use of a parameterized module, as
     * {@link GraphPasses#needGradient}: those whose columns are needed.
     */
    Set<String> needed() {
      Set<String> out = new HashSet<>();
      for (GraphPasses.Step s : steps) {
        boolean needs = s.layer() != null && !s.layer().op.parameters().isEmpty();
        for (String v : s.inputs()) needs |= out.contains(v);
        if (needs) out.add(s.value());
      }
      return out;
    }
  }

  private final Network net;
  private final Dag dag;
  private final Set<String> needed;
  /** For each value, the shared parameters (several uses) a use of which it is computed from. */
  private final Map<String, Set<String>> sharedUpstream;
  private final List<ColumnSet> sets = new ArrayList<>();
  private List<Batch> temporaries = new ArrayList<>();

  private GraphHessianDiagonal(Pass pass, long limit) {
    super(pass, limit);
    this.net = pass.net;
    this.dag = Dag.of(net);
    this.needed = dag.needed();
    this.sharedUpstream = sharedUpstream(net, dag);
  }

  /** The walk's sums over samples, each parameter's diagonal ({@link HessianSums#means}); a chain is walked as a graph. */
  static GraphHessianDiagonal sums(Pass pass, long limit) {
    return sums(pass, limit, LayerTicks.NONE);
  }

  /** As above, each module use the walk reaches reported to {@code ticks}. */
  static GraphHessianDiagonal sums(Pass pass, long limit, LayerTicks ticks) {
    GraphHessianDiagonal walk = new GraphHessianDiagonal(pass, limit);
    walk.walk(ticks);
    return walk;
  }

  private void walk(LayerTicks ticks) {
    Batch factor = pass.lossFactor();
    temporaries.add(factor);
    ColumnSet loss = new ColumnSet(1);
    loss.atValue.put(dag.output(), GraphPasses.as(be, factor, dag.items().get(dag.output())));
    sets.add(loss);
    for (int k = dag.steps().size() - 1; k >= 0; k--) {
      GraphPasses.Step s = dag.steps().get(k);
      if (!needed.contains(s.value())) continue;
      if (s.layer() != null) ticks.layer(s.layer());
      int before = sets.size(); // sets introduced at this step start at its inputs
      for (int j = 0; j < before; j++) carry(sets.get(j), s);
      if (s.layer() != null) layerResidual(s, s.layer());
      else if (s.merge().hasResidual()) productResidual(s);
      releaseDead();
    }
    for (ColumnSet set : sets) set.atParameter.forEach((p, b) -> add(p, squares(b, set.sign)));
    net.releaseTemporaries(temporaries);
  }

  /** A set's pieces at the step's value (complete: every use of it is later in the graph) to its parameters and inputs. */
  private void carry(ColumnSet set, GraphPasses.Step s) {
    Batch u = set.atValue.remove(s.value());
    if (u == null) return;
    String where = s.layer() != null ? layerName(s.layer()) : "the " + s.merge().op().name().toLowerCase(java.util.Locale.ROOT) + " merge making '" + s.value() + "'";
    if (s.layer() != null) parameters(set, s.layer(), s.layer().asOutput(u));
    for (String in : s.inputs()) {
      int[] item = dag.items().get(in);
      if (needed.contains(in)) check(u.samples(), u.directions(), (long) item[0] * item[1], "value '" + in + "', an input of " + where);
    }
    GraphColumns.pushBack(pass, s, u, needed, (in, d) -> place(set, in, d));
  }

  /** {@code J_θ' c} of every parameter of a use: squared now for a parameter of one use, kept to be summed over the uses of a shared one. */
  private void parameters(ColumnSet set, Network.LayerNode l, Batch z) {
    ForwardCache c = pass.caches.get(l);
    for (String p : l.op.parameters()) {
      String name = l.parameterName(p);
      if (net.uses(name).size() == 1) {
        addSquares(l, p, name, c, z, set.sign);
        continue;
      }
      int[] ps = l.op.itemShape(p);
      check(z.samples(), z.directions(), (long) ps[0] * ps[1], layerName(l) + ", shared parameter " + p);
      placeParameter(set, name, l.op.jacTMatProd(c, p, z));
    }
  }

  /** The sets of a module use's residual: its parameters' own diagonals, each input's diagonal residual, the cross blocks. */
  private void layerResidual(GraphPasses.Step s, Network.LayerNode l) {
    ForwardCache c = pass.caches.get(l);
    Batch dz = pass.outputGradients.get(l);
    for (String p : l.op.parameters()) add(l.parameterName(p), diagonalSum(residualDiagonal(l, c, p, dz)));
    List<Integer> live = new ArrayList<>();
    for (int i = 0; i < s.inputs().size(); i++) if (needed.contains(s.inputs().get(i))) live.add(i);
    for (int i : live) {
      String var = l.inputs.get(i), value = s.inputs().get(i);
      if (l.op.residualKind(var) == ResidualKind.ZERO) continue;
      int[] in = l.op.itemShape(var);
      long numel = (long) in[0] * in[1];
      check(2L * pass.samples, numel, numel, "input '" + var + "' of " + layerName(l) + ", its residual's factors");
      for (HessianDiagonal.Columns f : residualFactors(residualDiagonal(l, c, var, dz), in)) {
        temporaries.add(f.batch());
        ColumnSet set = new ColumnSet(f.sign());
        place(set, value, f.batch());
        sets.add(set);
      }
    }
    for (int a = 0; a < live.size(); a++)
      for (int b = a + 1; b < live.size(); b++) {
        int i = live.get(a), j = live.get(b);
        String vi = l.inputs.get(i), vj = l.inputs.get(j);
        check(2L * pass.samples, l.op.numel(vi), (long) l.op.numel(vi) + l.op.numel(vj), "inputs '" + vi + "' and '" + vj + "' of " + layerName(l));
        Batch units = units(l.op.itemShape(vi));
        Batch cross = GraphJointResidual.requireMixed(l).mixedResidualMatProd(c, vj, vi, dz, units); // R(j, i) e_m
        crossSets(units, s.inputs().get(i), cross, s.inputs().get(j), null);
      }
    for (String p : l.op.parameters()) {
      String name = l.parameterName(p);
      for (int i : live) {
        String value = s.inputs().get(i), vi = l.inputs.get(i);
        if (!sharedUpstream.get(value).contains(name)) continue;
        check(2L * pass.samples, l.op.numel(vi), (long) l.op.numel(vi) + l.op.numel(p), "input '" + vi + "' and shared parameter " + p + " of " + layerName(l));
        Batch units = units(l.op.itemShape(vi));
        Batch cross = GraphJointResidual.requireMixed(l).mixedResidualMatProd(c, p, vi, dz, units); // R(θ, i) e_m
        crossSets(units, value, cross, null, name);
      }
    }
  }

  /** {@code z = a .* b}: the cross block {@code B = diag(dz)} between a and b, the pieces {@code e_m} at a and {@code dz_m e_m} at b. */
  private void productResidual(GraphPasses.Step s) {
    String a = s.inputs().get(0), b = s.inputs().get(1);
    if (!needed.contains(a) || !needed.contains(b)) return;
    int[] ia = s.merge().inputItem(0), ib = s.merge().inputItem(1);
    int numel = ia[0] * ia[1], samples = pass.samples;
    check(2L * samples, numel, 2L * numel, "the .* merge making '" + s.value() + "'");
    Batch units = units(ia);
    Batch g = pass.valueGradients.get(s.value());
    double[] dz = be.toArray(g), scaled = new double[samples * numel * numel];
    for (int n = 0; n < samples; n++)
      for (int m = 0; m < numel; m++) scaled[(n * numel + m) * numel + m] = dz[(n % g.samples()) * numel + m];
    crossSets(units, a, be.fromArray(samples, numel, ib[0], ib[1], scaled), b, null);
  }

  /**
   * The two sets of {@code ½(I; B)(I; B)' − ½(I; −B)(I; −B)'}: columns {@code e_m/√2} at value
   * {@code first} and {@code ±B e_m/√2} at value {@code second} or at the shared parameter
   * {@code parameter} ({@code cross}: the columns {@code B e_m}).
   */
  private void crossSets(Batch units, String first, Batch cross, String second, String parameter) {
    temporaries.add(units);
    temporaries.add(cross);
    Batch e = own(be.scale(units, HALF_ROOT));
    for (double sign : new double[] {1, -1}) {
      ColumnSet set = new ColumnSet(sign);
      Batch b = own(be.scale(cross, sign * HALF_ROOT));
      place(set, first, e);
      if (parameter != null) placeParameter(set, parameter, b);
      else place(set, second, b);
      sets.add(set);
    }
  }

  /** The unit directions of a variable, for every sample: {@code [N x numel]} items of its shape. */
  private Batch units(int[] shape) {
    int numel = shape[0] * shape[1], samples = pass.samples;
    double[] d = new double[samples * numel * numel];
    for (int n = 0; n < samples; n++) for (int m = 0; m < numel; m++) d[(n * numel + m) * numel + m] = 1;
    return be.fromArray(samples, numel, shape[0], shape[1], d);
  }

  /** Adds columns {@code d} to a set's piece at a value (in the value's item shape). */
  private void place(ColumnSet set, String value, Batch d) {
    set.atValue.put(value, sum(set.atValue.get(value), own(GraphPasses.as(be, d, dag.items().get(value)))));
  }

  /** Adds columns {@code d} to a set's piece at a shared parameter (in its item shape). */
  private void placeParameter(ColumnSet set, String parameter, Batch d) {
    int[] s = net.parameterShape(parameter);
    set.atParameter.put(parameter, sum(set.atParameter.get(parameter), own(GraphPasses.as(be, d, s))));
  }

  private Batch sum(Batch before, Batch d) {
    return before == null ? d : own(be.add(before, d));
  }

  private Batch own(Batch b) {
    temporaries.add(b);
    return b;
  }

  /**
   * Releases the temporaries no live piece shares storage with, and frees them at once on a backend
   * that pools released storage ({@link PooledBackend#trimPool}): the column sets have a size of
   * their own at every layer, so that pooled ones would hardly be reused and would only add to the
   * peak (measured in docs/performance.md).
   */
  private void releaseDead() {
    List<Batch> live = new ArrayList<>();
    for (ColumnSet set : sets) {
      live.addAll(set.atValue.values());
      live.addAll(set.atParameter.values());
    }
    List<Batch> keep = new ArrayList<>(), dead = new ArrayList<>();
    outer:
    for (Batch t : temporaries) {
      for (Batch l : live)
        if (be.sharesStorage(t, l)) {
          keep.add(t);
          continue outer;
        }
      dead.add(t);
    }
    net.releaseTemporaries(dead);
    temporaries = keep;
    if (!dead.isEmpty() && be instanceof PooledBackend pooled) pooled.trimPool();
  }

  private static String layerName(Network.LayerNode l) {
    return "layer " + l.path + " (" + l.op.name() + ")";
  }

  /** For each value, the shared parameters a use of which precedes it (so that the value depends on them). */
  private static Map<String, Set<String>> sharedUpstream(Network net, Dag dag) {
    Map<String, Set<String>> out = new HashMap<>();
    out.put(dag.input(), Set.of());
    for (GraphPasses.Step s : dag.steps()) {
      Set<String> up = new HashSet<>();
      for (String in : s.inputs()) up.addAll(out.getOrDefault(in, Set.of()));
      if (s.layer() != null)
        for (String p : s.layer().op.parameters()) {
          String name = s.layer().parameterName(p);
          if (net.uses(name).size() > 1) up.add(name);
        }
      out.put(s.value(), up);
    }
    return out;
  }
}
