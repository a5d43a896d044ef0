package org.hbp.network;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.hbp.UserError;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.runtime.ForwardCache;

/**
 * The exact GGN blocks from the loss factor ({@link GgnRoute#FACTORED}). With {@code H_n = S_n
 * S_n'} (r columns per sample, {@link Pass#lossFactor()}) the GGN at the output z of a layer is
 * {@code S_z,n S_z,n'} with {@code S_z,n = J_{f,z}' S_n}, the columns carried back to z once per
 * pass ({@link ColumnsBackward} on a chain, {@link GraphColumns#pushBack} on a graph, releasing
 * the columns of a layer or value once carried below), and the block of a parameter θ of that
 * layer is
 *
 * <pre>
 *   G_θ v = (1/N) sum_n M_n t_n,   t_n = M_n' v,   M_n = J_θ,n' S_z,n  (P_θ x r)
 * </pre>
 *
 * with no trip through the rest of the network. Each parameter keeps one of two forms of M:
 * <ul>
 *   <li><b>parameter columns</b>, M itself ({@code N r P_θ} numbers): then a product is two
 *       products with M. Kept where {@code P_θ <= r |z|}, i.e. where M takes at most r
 *       times the memory of the output columns it replaces: biases, and convolution weights, which
 *       share few weights over large maps (a product then costs no convolution at all). The
 *       samples' M side by side make one {@code P_θ x N r} matrix, so a product is two matrix
 *       products over the whole batch;</li>
 *   <li><b>output columns</b>, {@code S_z} ({@code N r |z|}, shared by the layer's parameters):
 *       then {@code t = S_z' (J_θ v)} and {@code G_θ v = (1/N) sum_n J_θ' (S_z t)}, the layer's own
 *       two Jacobian products and two with the r columns. Kept for the others (a linear layer's
 *       weight, {@code m n} against {@code m}).</li>
 * </ul>
 * Where a module instance is used several times (a graph), its Jacobian is the sum over its uses:
 * {@code M = sum_uses J_u' S_u} (summed as the walk reaches each use), and the output form sums
 * {@code t} and the products over the uses, so the cross terms between the uses are in the block
 * as in {@link GraphProducts}. A layer's joint block ({@link #layerMatProd}) shares one t between
 * its parameters, which gives the cross terms between them.
 */
final class FactoredBlocks implements CurvatureStrategy.Blocks {
  private final Pass pass;
  private final Network net;
  private final Backend be;
  /** {@code [N x 1]} items {@code P_θ x r}: M of the parameters kept in parameter columns, by name. */
  private final Map<String, Batch> parameterColumns;
  /** {@code [N x 1]} items {@code |z| x r}: S_z at the output of every layer (use) with a parameter kept in output columns. */
  private final Map<Network.LayerNode, Batch> outputColumns;
  /** Set by {@link #drain}: the columns are gone. */
  private boolean drained;

  private FactoredBlocks(Pass pass, Map<String, Batch> parameterColumns, Map<Network.LayerNode, Batch> outputColumns) {
    this.pass = pass;
    this.net = pass.net;
    this.be = net.be;
    this.parameterColumns = parameterColumns;
    this.outputColumns = outputColumns;
  }

  /** Whether the parameter keeps its own columns M ({@code P_θ <= r |z|}, z its layer's output); else its layer's output columns. */
  static boolean inParameterColumns(Network net, String parameter) {
    Network.LayerNode l = net.owner(parameter);
    return GgnRoute.keepsParameterColumns(net.parameterSize(parameter), l.op.numel(l.op.outputName()), net.lossFactorRank());
  }

  /**
   * The bytes the set-up holds at its peak, {@code N r} times: the parameter columns ({@code P_θ}
   * each), the output columns kept ({@code |z|} per layer, or use, with a parameter without its
   * own), and what the walk holds while it goes: on a chain the loss factor's columns, and those
   * at two adjacent layers and at the output of each open residual block (at most the largest
   * {@code |z|} each); on a graph {@link #graphWalkPeak}.
   */
  static long bytes(Network net, int samples) {
    long entries = 0, largest = 0;
    for (String p : net.parameterNames()) if (inParameterColumns(net, p)) entries += net.parameterSize(p);
    java.util.Set<Network.LayerNode> keptOutputs = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
    for (Network.LayerNode l : net.layers()) {
      long z = l.op.numel(l.op.outputName());
      largest = Math.max(largest, z);
      for (String p : l.op.parameters())
        if (!inParameterColumns(net, l.parameterName(p)) && keptOutputs.add(l)) entries += z;
    }
    // a chain: the loss factor's columns (held until the walk ends), two adjacent layers', one per open residual block
    entries += net.isGraph() ? graphWalkPeak(net) : lossInputSize(net) + (2 + residualDepth(net.body)) * largest;
    return samples * (long) net.lossFactorRank() * entries * MemoryEstimate.precisionOf(net.be).bytes();
  }

  /**
   * The entries per sample and column that {@link GraphColumns.Walk} holds at its widest, besides what it
   * keeps: the values reached by a consumer and not yet by their own step (the loss input's
   * first), with a value's new part and its sum where it already has columns, and a shared
   * instance's M being summed.
   */
  private static long graphWalkPeak(Network net) {
    java.util.Set<String> needed = GraphPasses.needGradient(net);
    Map<String, Long> live = new LinkedHashMap<>();
    live.put(net.spec.graph().output(), size(net, net.spec.graph().output()));
    long peak = 0;
    for (int k = net.graph.size() - 1; k >= 0; k--) {
      GraphPasses.Step step = net.graph.get(k);
      if (!live.containsKey(step.value()) || !needed.contains(step.value())) continue;
      long sum = 0;
      for (String in : step.inputs())
        if (needed.contains(in)) {
          long n = size(net, in);
          sum = Math.max(sum, live.containsKey(in) ? 2 * n : 0); // J' u and the sum with what the value has
          live.putIfAbsent(in, n);
        }
      long held = 0;
      for (long n : live.values()) held += n;
      peak = Math.max(peak, held + sum);
      live.remove(step.value());
    }
    long summing = 0; // a shared instance's M summed over its uses: the new part and the sum beside the parameter columns
    for (String p : net.parameterNames())
      if (inParameterColumns(net, p) && net.uses(p).size() > 1) summing = Math.max(summing, 2L * net.parameterSize(p));
    return peak + summing;
  }

  private static long lossInputSize(Network net) {
    List<Network.LayerNode> layers = net.layers();
    Network.LayerNode last = layers.get(layers.size() - 1);
    return last.op.numel(last.op.outputName());
  }

  private static long size(Network net, String value) {
    int[] item = GraphPasses.item(net, value);
    return (long) item[0] * item[1];
  }

  /** How deeply residual blocks nest in {@code nodes}. */
  private static int residualDepth(List<Network.Node> nodes) {
    int depth = 0;
    for (Network.Node n : nodes)
      if (n instanceof Network.ResidualNode r) depth = Math.max(depth, 1 + residualDepth(r.body));
    return depth;
  }

  /**
   * The bytes a product with D directions holds besides its directions and result: per sample t
   * ({@code r x D}, and the part being added) and a layer's {@code J_θ v} or {@code S_z t}
   * ({@code |z| x D}, the largest layer keeping output columns).
   */
  static long productBytes(Network net, int samples, long directions) {
    long largest = 0;
    for (Network.LayerNode l : net.layers())
      for (String p : l.op.parameters())
        if (!inParameterColumns(net, l.parameterName(p))) largest = Math.max(largest, l.op.numel(l.op.outputName()));
    return samples * directions * (largest + 2L * net.lossFactorRank()) * MemoryEstimate.precisionOf(net.be).bytes();
  }

  /** Refuses, naming their size, columns of {@code samples} samples over {@code memoryLimitBytes}. */
  static void checkMemory(Network net, int samples, long memoryLimitBytes) {
    long bytes = bytes(net, samples);
    if (bytes > memoryLimitBytes)
      throw new UserError("--ggn-route factored needs " + MemoryEstimate.bytes(bytes) + " for the loss factor's columns (N*r numbers per entry of the "
          + "parameters that keep their own and of the layer outputs the walk holds; N = " + samples + ", r = " + net.lossFactorRank() + "), over the memory limit "
          + MemoryEstimate.bytes(memoryLimitBytes) + "; use --ggn-route network, a smaller batch, or raise --memory-limit");
  }

  /**
   * Carries the loss factor's columns back once and keeps, for every parameter, its columns or
   * those at its layer's output.
   *
   * @throws UserError when the loss has no certified factor (the loss's own message), or the
   *     columns would exceed {@code memoryLimitBytes} (naming their size)
   */
  static FactoredBlocks of(Pass pass, long memoryLimitBytes) {
    Network net = pass.net;
    if (net.lossFactorRank() == 0) pass.lossFactor(); // throws the loss's own message
    checkMemory(net, pass.samples, memoryLimitBytes);
    Batch s = pass.lossFactor();
    if (!net.isGraph()) {
      // a chain: each layer's columns released once the walk has carried them below
      Walk walk = new Walk(pass);
      walk.nodes(net.body, s, true);
      net.releaseTemporaries(List.of(s), walk.kept.toArray(new Batch[0])); // the last layer's S_z may be s itself
      return new FactoredBlocks(pass, walk.parameters, walk.outputs);
    }
    // a graph: each value's columns released once carried to its inputs, unless kept or shared
    Map<String, Batch> parameters = new LinkedHashMap<>();
    Map<Network.LayerNode, Batch> outputs = new IdentityHashMap<>();
    GraphColumns.Walk walk = new GraphColumns.Walk(pass);
    walk.back(s, (l, u) -> {
      Batch z = l.asOutput(u);
      for (String p : l.op.parameters()) take(pass, l, p, z, parameters, outputs, walk.kept);
    });
    return new FactoredBlocks(pass, parameters, outputs);
  }

  /** The walk back through a chain ({@link ColumnsBackward}): each parameter's M, or its layer's S_z, taken as the columns pass. */
  private static final class Walk extends ColumnsBackward {
    final Map<String, Batch> parameters = new LinkedHashMap<>();
    final Map<Network.LayerNode, Batch> outputs = new IdentityHashMap<>();

    Walk(Pass pass) {
      super(pass, true);
    }

    @Override
    void parameter(Network.LayerNode l, String p, ForwardCache c, Batch out, Batch u) {
      take(pass, l, p, out, parameters, outputs, kept);
    }
  }

  /**
   * What parameter p of a use l keeps of the columns z at its output, for both walks: its M
   * ({@code J_p' z}, added to what earlier uses gave), or z itself as its layer's S_z (a view: added
   * to {@code kept}, which the walks do not release).
   */
  private static void take(Pass pass, Network.LayerNode l, String p, Batch z, Map<String, Batch> parameters, Map<Network.LayerNode, Batch> outputs,
      List<Batch> kept) {
    Backend be = pass.net.be;
    String name = l.parameterName(p);
    if (inParameterColumns(pass.net, name)) {
      Batch g = l.op.jacTMatProd(pass.caches.get(l), p, z);
      if (be.sharesStorage(g, z)) g = be.scale(g, 1); // a bias's J' u may be u itself
      Batch m = asColumns(be, g);
      Batch before = parameters.get(name);
      if (before == null) parameters.put(name, m);
      else {
        parameters.put(name, be.add(before, m));
        be.release(before);
        be.release(m);
      }
    } else if (!outputs.containsKey(l)) {
      Batch s = asColumns(be, z);
      outputs.put(l, s);
      kept.add(s);
    }
  }

  /** Directions as columns: {@code [S x D]} items b to {@code [S x 1]} items {@code numel(b) x D} (a view). */
  private static Batch asColumns(Backend be, Batch b) {
    return be.directionsAsColumns(be.reshape(b, b.itemSize(), 1), b.directions());
  }

  @Override
  public Batch matProd(Network.LayerNode layer, String var, Batch v) {
    String name = layer.parameterName(var);
    return joint(Map.of(name, v)).get(name);
  }

  @Override
  public Map<String, Batch> layerMatProd(Network.LayerNode layer, Map<String, Batch> v) {
    Map<String, Batch> byName = new LinkedHashMap<>();
    for (Map.Entry<String, Batch> e : v.entrySet()) byName.put(layer.parameterName(e.getKey()), e.getValue());
    Map<String, Batch> products = joint(byName);
    Map<String, Batch> out = new LinkedHashMap<>();
    for (String var : v.keySet()) out.put(var, products.get(layer.parameterName(var)));
    return out;
  }

  /**
   * The joint block of parameters (one, or all of a module instance) applied to directions for each
   * ({@code [1 x D]} in their item shapes, keyed by parameter name): {@code t = sum_q M_q' v_q}
   * ({@code [N x 1]} items {@code r x D}), scaled by 1/N, then {@code sum_n M_p,n t_n} for each p.
   * Fresh batches.
   */
  private Map<String, Batch> joint(Map<String, Batch> v) {
    if (drained) throw new IllegalStateException("the factored blocks were released (Curvature.release): no products after");
    if (parameterColumns.keySet().containsAll(v.keySet())) return jointOfParameterColumns(v);
    List<Batch> temporaries = new ArrayList<>();
    Batch t = null;
    for (Map.Entry<String, Batch> e : v.entrySet())
      for (Batch part : transposedProducts(e.getKey(), e.getValue())) t = plus(t, part, temporaries);
    if (t != null) {
      // the mean's 1/N on t (N r D numbers), not on the products (P D each: a large weight's are the bigger)
      Batch scaled = be.scale(t, 1.0 / pass.samples);
      temporaries.add(t);
      t = scaled;
    }
    Map<String, Batch> out = new LinkedHashMap<>();
    for (Map.Entry<String, Batch> e : v.entrySet()) {
      Batch mean = t == null ? null : products(e.getKey(), t, temporaries);
      if (mean == null) { // no use of the parameter reaches the loss: its block is zero
        int[] shape = net.parameterShape(e.getKey());
        int d = e.getValue().directions();
        mean = be.fromArray(1, d, shape[0], shape[1], new double[d * shape[0] * shape[1]]);
      }
      out.put(e.getKey(), mean);
    }
    if (t != null) temporaries.add(t);
    List<Batch> keep = new ArrayList<>(out.values());
    keep.addAll(v.values());
    net.releaseTemporaries(temporaries, keep.toArray(new Batch[0]));
    return out;
  }

  /**
   * {@link #joint} where every parameter keeps its own columns, as two matrix products per
   * parameter over all samples at once: the samples' M side by side ({@link #sideBySide}, {@code P
   * x N r}, a view), {@code t = sum_q M_q' v_q} ({@code N r x D}, one item), scaled by 1/N, then
   * {@code M_p t} ({@code P x D}), which is {@code sum_n M_p,n t_n}. Each reads M once, where per-sample
   * products read the directions and add into the result once per sample.
   */
  private Map<String, Batch> jointOfParameterColumns(Map<String, Batch> v) {
    List<Batch> temporaries = new ArrayList<>();
    Batch t = null;
    for (Map.Entry<String, Batch> e : v.entrySet())
      t = plus(t, be.matmul(sideBySide(parameterColumns.get(e.getKey())), true, asColumns(be, e.getValue()), false), temporaries);
    Batch scaled = be.scale(t, 1.0 / pass.samples); // the mean's 1/N on t's N r D numbers
    temporaries.add(t);
    Map<String, Batch> out = new LinkedHashMap<>();
    for (String p : v.keySet()) {
      int[] shape = net.parameterShape(p);
      Batch product = be.matmul(sideBySide(parameterColumns.get(p)), false, scaled, false); // [1 x 1] P x D
      out.put(p, be.reshape(be.columnsAsDirections(product), shape[0], shape[1]));
    }
    temporaries.add(scaled);
    List<Batch> keep = new ArrayList<>(out.values());
    keep.addAll(v.values());
    net.releaseTemporaries(temporaries, keep.toArray(new Batch[0]));
    return out;
  }

  /** {@code sum + part} (part itself where sum is null), the two operands added to {@code temporaries} once summed. */
  private Batch plus(Batch sum, Batch part, List<Batch> temporaries) {
    if (sum == null) return part;
    Batch next = be.add(sum, part);
    temporaries.addAll(List.of(sum, part));
    return next;
  }

  /** Parameter columns ({@code [N x 1]} items {@code P x r}) as one item {@code P x N r}, sample n's in columns {@code n r} on: a view. */
  private Batch sideBySide(Batch m) {
    int p = m.rows(), r = m.cols();
    return be.reshape(be.samplesAsColumns(be.reshape(m, p * r, 1)), p, r * m.samples());
  }

  /** The parts of {@code t = M' v} of one parameter: {@code M' v}, or {@code S_u' J_u v} per use ({@code [N x 1]} items r x D each). */
  private List<Batch> transposedProducts(String parameter, Batch v) {
    Batch m = parameterColumns.get(parameter);
    if (m != null) return List.of(be.matmul(m, true, asColumns(be, v), false));
    List<Batch> parts = new ArrayList<>();
    String var = net.parameterVariables.get(parameter);
    for (Network.LayerNode l : net.uses(parameter)) {
      Batch s = outputColumns.get(l);
      if (s == null) continue;
      Batch u = l.op.jacMatProd(pass.caches.get(l), var, v);
      parts.add(be.matmul(s, true, asColumns(be, u), false));
      net.releaseTemporaries(List.of(u), v); // done with at once: N |z| D numbers
    }
    return parts;
  }

  /**
   * {@code sum_n M_n t_n} of one parameter in its item shape ({@code [1 x D]}): from its columns, or
   * {@code sum_uses J_u' (S_u t)} summed over the samples; null where no use reaches the loss.
   */
  private Batch products(String parameter, Batch t, List<Batch> temporaries) {
    int[] shape = net.parameterShape(parameter);
    Batch m = parameterColumns.get(parameter);
    if (m != null) {
      Batch sum = be.matmulSumSamples(m, false, t, false); // [1 x 1] P x D
      return be.reshape(be.columnsAsDirections(sum), shape[0], shape[1]);
    }
    String var = net.parameterVariables.get(parameter);
    Batch sum = null;
    for (Network.LayerNode l : net.uses(parameter)) {
      Batch s = outputColumns.get(l);
      if (s == null) continue;
      ForwardCache c = pass.caches.get(l);
      Batch w = be.matmul(s, false, t, false); // [N x 1] |z| x D
      int[] z = l.op.itemShape(l.op.outputName());
      Batch g = l.op.jacTMatProdSum(c, var, be.reshape(be.columnsAsDirections(w), z[0], z[1]));
      net.releaseTemporaries(List.of(w), g); // done with at once: N |z| D numbers
      sum = plus(sum, g, temporaries);
    }
    return sum;
  }

  @Override
  public List<Batch> drain() {
    drained = true;
    List<Batch> held = new ArrayList<>(parameterColumns.values());
    held.addAll(outputColumns.values());
    parameterColumns.clear();
    outputColumns.clear();
    return held;
  }
}
