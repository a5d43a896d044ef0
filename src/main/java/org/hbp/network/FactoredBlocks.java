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
 * {@code G_z,n = S_z,n S_z,n'} with {@code S_z,n = J_{f,z}' S_n}, the columns carried back to z
 * ({@link OutputColumns}): once per pass for every layer. A parameter θ of that layer then has the
 * block
 *
 * <pre>
 *   G_θ v = (1/N) sum_n J_θ,n' S_z,n (S_z,n' J_θ,n v)
 * </pre>
 *
 * the layer's two Jacobian products and two small ones with the r columns (an {@code r x D}
 * matrix per sample in between) instead of a trip through the rest of the network. Where a module
 * instance is used several times (a graph), its Jacobian is the sum over its uses, so {@code t =
 * sum_uses S_u' J_u v} and {@code G v = (1/N) sum_uses J_u' S_u t}: the cross terms between the
 * uses are in it, as in {@link GraphProducts}.
 *
 * <p>It holds {@code N r |z|} numbers for every layer with parameters; the walk back holds those of
 * every layer at once ({@link #bytes}).
 */
final class FactoredBlocks {
  private final Pass pass;
  private final Network net;
  private final Backend be;
  /** {@code [N x 1]} items {@code |z| x r}: the columns at the output of every layer (use) with parameters. */
  private final Map<Network.LayerNode, Batch> columns;
  private FactoredBlocks(Pass pass, Map<Network.LayerNode, Batch> columns) {
    this.pass = pass;
    this.net = pass.net;
    this.be = net.be;
    this.columns = columns;
  }

  /**
   * The bytes the walk back holds at its peak: {@code N r |z|} for the output of every layer (the
   * columns of parameter-free layers are released after the walk).
   */
  static long bytes(Network net, int samples) {
    long entries = 0;
    for (Network.LayerNode l : net.layers()) entries += l.op.numel(l.op.outputName());
    return samples * (long) net.lossFactorRank() * entries * MemoryEstimate.precisionOf(net.be).bytes();
  }

  /** Refuses, naming their size, columns of {@code samples} samples over {@code memoryLimitBytes}. */
  static void checkMemory(Network net, int samples, long memoryLimitBytes) {
    long bytes = bytes(net, samples);
    if (bytes > memoryLimitBytes)
      throw new UserError("--ggn-route factored needs N*r*sum|z| = " + MemoryEstimate.bytes(bytes) + " for the loss factor's columns at every layer's output "
          + "(N = " + samples + ", r = " + net.lossFactorRank() + "), over the memory limit " + MemoryEstimate.bytes(memoryLimitBytes)
          + "; use --ggn-route network, a smaller batch, or raise --memory-limit");
  }

  /**
   * Carries the loss factor's columns back once and keeps them at the output of every layer with
   * parameters.
   *
   * @throws UserError when the loss has no certified factor (the loss's own message), or the
   *     columns would exceed {@code memoryLimitBytes} (naming their size)
   */
  static FactoredBlocks of(Pass pass, long memoryLimitBytes) {
    Network net = pass.net;
    if (net.lossFactorRank() == 0) pass.lossFactor(); // throws the loss's own message
    checkMemory(net, pass.samples, memoryLimitBytes);
    Batch s = pass.lossFactor();
    Map<Network.LayerNode, Batch> outputs = OutputColumns.back(pass, s);
    Map<Network.LayerNode, Batch> kept = new IdentityHashMap<>();
    List<Batch> release = new ArrayList<>();
    release.add(s);
    for (Map.Entry<Network.LayerNode, Batch> e : outputs.entrySet()) {
      Batch z = e.getValue();
      release.add(z);
      if (e.getKey().op.parameters().isEmpty()) continue;
      kept.put(e.getKey(), net.be.directionsAsColumns(net.be.reshape(z, z.itemSize(), 1), z.directions()));
    }
    net.releaseTemporaries(release, kept.values().toArray(new Batch[0]));
    return new FactoredBlocks(pass, kept);
  }

  /**
   * {@code G_z u = S_z (S_z' u)} per sample at the output of layer l (with parameters): u
   * {@code [N x D]} (or {@code [1 x D]}, the same for all samples) in the output's item shape, the
   * result {@code [N x D]} likewise (a fresh batch).
   */
  Batch outputProduct(Network.LayerNode l, Batch u) {
    Batch s = columns(l);
    int d = u.directions();
    Batch uc = be.directionsAsColumns(be.reshape(u, u.itemSize(), 1), d);
    Batch t = be.matmul(s, true, uc, false); // [N x 1] r x D
    Batch w = be.matmul(s, false, t, false); // [N x 1] |z| x D
    be.release(t);
    return be.reshape(be.columnsAsDirections(w), u.rows(), u.cols());
  }

  /**
   * The joint block of a module instance's parameters applied to directions for each ({@code [1 x
   * D]} in their item shapes, keyed by parameter name), summed over its uses with the cross terms
   * between them: {@code (1/N) sum_uses J_p,u' S_u t} with {@code t = sum_uses sum_q S_u' J_q,u
   * v_q}. The results likewise, fresh batches.
   */
  Map<String, Batch> joint(Map<String, Batch> v) {
    List<Batch> temporaries = new ArrayList<>();
    Batch t = null;
    for (Map.Entry<String, Batch> e : v.entrySet()) {
      String var = net.parameterVariables.get(e.getKey());
      for (Network.LayerNode l : net.uses(e.getKey())) {
        if (!columns.containsKey(l)) continue; // a use whose output does not reach the loss adds nothing
        Batch u = l.op.jacMatProd(pass.caches.get(l), var, e.getValue());
        Batch uc = be.directionsAsColumns(be.reshape(u, u.itemSize(), 1), u.directions());
        Batch part = be.matmul(columns(l), true, uc, false); // [N x 1] r x D
        temporaries.add(u);
        if (t == null) t = part;
        else {
          Batch sum = be.add(t, part);
          temporaries.addAll(List.of(t, part));
          t = sum;
        }
      }
    }
    Map<String, Batch> out = new LinkedHashMap<>();
    for (Map.Entry<String, Batch> e : v.entrySet()) {
      String var = net.parameterVariables.get(e.getKey());
      Batch sum = null;
      for (Network.LayerNode l : net.uses(e.getKey())) {
        if (t == null || !columns.containsKey(l)) continue;
        ForwardCache c = pass.caches.get(l);
        Batch w = be.matmul(columns(l), false, t, false); // [N x 1] |z| x D
        int[] shape = l.op.itemShape(l.op.outputName());
        Batch g = l.op.jacTMatProdSum(c, var, be.reshape(be.columnsAsDirections(w), shape[0], shape[1]));
        temporaries.add(w);
        if (sum == null) sum = g;
        else {
          Batch next = be.add(sum, g);
          temporaries.addAll(List.of(sum, g));
          sum = next;
        }
      }
      Batch mean;
      if (sum == null) {
        int[] shape = net.parameterShape(e.getKey());
        int d = e.getValue().directions();
        mean = be.fromArray(1, d, shape[0], shape[1], new double[d * shape[0] * shape[1]]);
      } else {
        mean = be.scale(sum, 1.0 / pass.samples);
        temporaries.add(sum);
      }
      out.put(e.getKey(), mean);
    }
    if (t != null) temporaries.add(t);
    List<Batch> keep = new ArrayList<>(out.values());
    keep.addAll(v.values());
    net.releaseTemporaries(temporaries, keep.toArray(new Batch[0]));
    return out;
  }

  private Batch columns(Network.LayerNode l) {
    Batch s = columns.get(l);
    if (s == null) throw new IllegalStateException("no loss factor columns at the output of layer " + l.prefix);
    return s;
  }

  /** The columns, handed over for release; no products after. */
  List<Batch> drain() {
    List<Batch> held = new ArrayList<>(columns.values());
    columns.clear();
    return held;
  }

}
