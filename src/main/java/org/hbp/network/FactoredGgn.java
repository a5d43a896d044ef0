package org.hbp.network;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.hbp.UserError;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.runtime.ForwardCache;

/**
 * The GGN of the whole network (off-diagonal blocks included) in factored form: with the loss
 * factor {@code H_n = S_n S_n'} ({@link Pass#lossFactor()}, r columns per sample), the GGN is
 * {@code G = (1/N) sum_n (J_n' S_n)(J_n' S_n)'}. The columns {@code M_θ,n = J_θ,n' S_n} of every
 * parameter are carried back once ({@link ColumnsBackward}; on a graph {@link GraphColumns}, a
 * shared instance's columns summed over its uses); then each product with D directions
 * costs two products per parameter, {@code t_n = sum_θ M_θ,n' V_θ} (r x D per sample) and
 * {@code (1/N) sum_n M_θ,n t_n}, instead of a forward and a backward trip through the network
 * ({@link Pass#networkProduct}). It holds {@code N r P} numbers (P parameters), so it pays where
 * many products are taken of one batch (CG, Lanczos) and {@code N r P} fits: the cost of setting
 * it up is about r backward passes.
 */
public final class FactoredGgn {
  private final Network net;
  private final Backend be;
  private final int samples;
  /** {@code [N x 1]} items {@code P_θ x r}: the columns {@code J_θ,n' S_n} of each parameter. */
  private final Map<String, Batch> columns;

  private FactoredGgn(Network net, int samples, Map<String, Batch> columns) {
    this.net = net;
    this.be = net.be;
    this.samples = samples;
    this.columns = columns;
  }

  /** The bytes the columns take: {@code N r P} entries. */
  public static long bytes(Pass pass) {
    return bytes(pass.net, pass.samples);
  }

  /** The bytes the columns of {@code samples} samples take on {@code net}: {@code N r P} entries, for an estimate before the pass. */
  public static long bytes(Network net, int samples) {
    long p = 0;
    for (String name : net.parameterNames()) p += net.parameterSize(name);
    return samples * (long) net.lossFactorRank() * p * MemoryEstimate.precisionOf(net.be).bytes();
  }

  /**
   * Carries the loss factor's columns back through the network once.
   *
   * @throws UserError when the loss has no certified factor, or the columns
   *     would exceed {@code memoryLimitBytes} (naming their size)
   */
  public static FactoredGgn of(Pass pass, long memoryLimitBytes) {
    Network net = pass.net;
    if (net.lossFactorRank() == 0) pass.lossFactor(); // throws the loss's own message
    long bytes = bytes(pass);
    if (bytes > memoryLimitBytes)
      throw new UserError("the factored GGN needs N*r*P = " + MemoryEstimate.bytes(bytes) + " for its columns, over the memory limit "
          + MemoryEstimate.bytes(memoryLimitBytes) + "; use the products through the network (--ggn-route network), a smaller batch, or raise --memory-limit");
    Batch s = pass.lossFactor();
    if (net.isGraph()) return new FactoredGgn(net, pass.samples, graphColumns(pass, s));
    Collect collect = new Collect(pass);
    collect.nodes(net.body, s, true);
    collect.temporaries.add(s);
    net.releaseTemporaries(collect.temporaries, collect.columns.values().toArray(new Batch[0]));
    return new FactoredGgn(net, pass.samples, collect.columns);
  }

  /**
   * {@code G V}: directions {@code [1 x D]} in each parameter's item shape (every parameter), the
   * products likewise (fresh batches).
   */
  public Map<String, Batch> apply(Map<String, Batch> directions) {
    Batch t = null;
    int d = -1;
    for (Map.Entry<String, Batch> e : columns.entrySet()) {
      Batch v = directions.get(e.getKey());
      if (v == null) throw new IllegalArgumentException("no directions for " + e.getKey());
      d = v.directions();
      Batch vc = be.directionsAsColumns(be.reshape(v, v.itemSize(), 1), d);
      Batch part = be.matmul(e.getValue(), true, vc, false); // [N x 1] r x D
      if (t == null) t = part;
      else {
        Batch sum = be.add(t, part);
        be.release(t);
        be.release(part);
        t = sum;
      }
    }
    Map<String, Batch> out = new LinkedHashMap<>();
    for (Map.Entry<String, Batch> e : columns.entrySet()) {
      int[] shape = net.parameterShape(e.getKey());
      Batch sum = be.matmulSumSamples(e.getValue(), false, t, false); // P x D
      Batch mean = be.scale(sum, 1.0 / samples);
      if (!be.sharesStorage(mean, sum)) be.release(sum);
      out.put(e.getKey(), be.reshape(be.columnsAsDirections(mean), shape[0], shape[1]));
    }
    if (t != null) be.release(t);
    return out;
  }

  /** Releases the columns; no products after. */
  public void release() {
    for (Batch b : columns.values()) be.release(b);
    columns.clear();
  }

  /**
   * A graph network's columns: S carried back through the graph ({@link GraphColumns}), each
   * parameter's {@code J_θ' S} summed over the uses of its instance ({@code P x r} per sample).
   */
  private static Map<String, Batch> graphColumns(Pass pass, Batch s) {
    Network net = pass.net;
    Map<Network.LayerNode, Batch> outputs = OutputColumns.back(pass, s);
    Map<String, Batch> columns = new LinkedHashMap<>();
    List<Batch> release = new java.util.ArrayList<>(outputs.values());
    for (String p : net.parameterNames()) {
      List<Network.LayerNode> uses = GraphColumns.usesWithColumns(net, p, outputs);
      Batch g;
      if (uses.isEmpty()) {
        int[] shape = net.parameterShape(p);
        g = net.be.fromArray(pass.samples, s.directions(), shape[0], shape[1], new double[pass.samples * s.directions() * shape[0] * shape[1]]);
      } else g = GraphColumns.sumOverUses(pass, uses, net.parameterVariables.get(p), outputs);
      columns.put(p, net.be.directionsAsColumns(net.be.reshape(g, g.itemSize(), 1), g.directions()));
      release.add(g); // kept where the columns are a view of it
    }
    release.add(s);
    net.releaseTemporaries(release, columns.values().toArray(new Batch[0]));
    return columns;
  }

  /** Keeps {@code J_θ' S} of every parameter as {@code P x r} per sample. */
  private static final class Collect extends ColumnsBackward {
    final Map<String, Batch> columns = new LinkedHashMap<>();

    Collect(Pass pass) {
      super(pass);
    }

    @Override
    void parameter(Network.LayerNode l, String p, ForwardCache c, Batch out, Batch u) {
      Batch g = l.op.jacTMatProd(c, p, out);
      if (be.sharesStorage(g, out) || be.sharesStorage(g, u)) g = be.scale(g, 1); // a bias's J' u may be u itself
      columns.put(l.path + "." + p, be.directionsAsColumns(be.reshape(g, g.itemSize(), 1), g.directions()));
    }
  }

}
