package org.hbp.network;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.hbp.backend.Batch;
import org.hbp.runtime.ForwardCache;

/**
 * Exact block-diagonal curvature by matrix-free products, per sample: directions are pushed
 * through the parameter's Jacobian, through the rest of the network to the loss Hessian and back
 * ({@link HessianProducts}), with each module's residual term added on the way, modified per
 * sample by the {@link ResidualPolicy}. The block of a parameter θ of a layer with output z is
 * {@code (1/N) sum_n J_n' H_z,n J_n v + (1/N) sum_n mod(R_n) v}.
 *
 * <p>For the GGN, {@link GgnRoute#FACTORED} replaces the trips by the loss factor's columns,
 * carried back once when the blocks are prepared ({@link FactoredBlocks}).
 *
 * <p>It also gives a layer's joint block over all its parameters (one block per layer, a departure
 * from the paper's one block per parameter; {@link ExactBlocks#layerMatProd}): the directions of
 * the parameters are pushed through the rest of the network once, together.
 */
final class ExactStrategy implements CurvatureStrategy {
  private final GgnRoute route;

  ExactStrategy(GgnRoute route) {
    this.route = route;
  }

  /** The products through the network, or for the GGN's factored route from the loss factor's columns ({@link FactoredBlocks}, graphs too). */
  @Override
  public Blocks prepare(Pass pass, ResidualPolicy policy, long memoryLimitBytes) {
    return route == GgnRoute.FACTORED ? FactoredBlocks.of(pass, memoryLimitBytes) : new ExactBlocks(pass, policy);
  }

  private static final class ExactBlocks extends ParameterBlocks {
    private final HessianProducts products;
    /** For every layer, the product with the curvature of its output (the rest of the network). */
    private final Map<Network.LayerNode, UnaryOperator<Batch>> continuations = new IdentityHashMap<>();

    ExactBlocks(Pass pass, ResidualPolicy policy) {
      super(pass, policy);
      this.products = new HessianProducts(pass, policy);
      assignContinuations(net.body, u -> net.loss.hessianProd(pass, u));
    }

    private void assignContinuations(List<Network.Node> nodes, UnaryOperator<Batch> after) {
      for (int i = 0; i < nodes.size(); i++) {
        int next = i + 1;
        UnaryOperator<Batch> cont = next == nodes.size() ? after : u -> products.sequence(nodes, next, u, after);
        Network.Node n = nodes.get(i);
        if (n instanceof Network.LayerNode l) continuations.put(l, cont);
        else assignContinuations(((Network.ResidualNode) n).body, cont);
      }
    }

    /** {@code (1/N) sum_n J_n' H_z,n J_n v}: the directions through the rest of the network and back. */
    @Override
    Batch propagatedTerm(Network.LayerNode l, String var, ForwardCache c, Batch v, List<Batch> temporaries) {
      Batch u = l.op.jacMatProd(c, var, v);
      temporaries.add(u);
      return meanJacTProduct(l, var, c, continuations.get(l).apply(u), temporaries);
    }

    /** {@code (1/N) sum_n mod(R_n) v}, modified per sample. */
    @Override
    Batch residualTerm(Network.LayerNode l, String var, ForwardCache c, Batch v, List<Batch> temporaries) {
      Batch r = policy.product(l.op, c, var, pass.outputGradients.get(l), v);
      temporaries.add(r);
      return be.meanSamples(r, pass.samples);
    }

    /**
     * The joint block of a layer's parameters θ_1..θ_k applied to directions {@code v_q} for each
     * (keyed by the operator's variable): {@code u = sum_q J_q v_q} is carried through the rest of
     * the network and back once, {@code w = H_z u} per sample, and each parameter gets
     * <pre>
     *   (C v)_p = (1/N) sum_n [ J_p,n' w_n + mod(R_pp,n) v_p + sum_{q != p} M_pq,n v_q ]
     * </pre>
     * with the mixed residuals {@code M_pq = sum_k dz_k d²z_k/(dθ_p dθ_q)} for the Hessian only
     * (the GGN has no residual terms; PCH is refused before, by {@link LayerBlocks#check}).
     */
    @Override
    public Map<String, Batch> layerMatProd(Network.LayerNode l, Map<String, Batch> v) {
      ForwardCache c = pass.caches.get(l);
      List<Batch> temporaries = new ArrayList<>();
      Batch u = null;
      for (String q : l.op.parameters()) {
        Batch j = l.asOutput(l.op.jacMatProd(c, q, v.get(q)));
        temporaries.add(j);
        if (u != null) temporaries.add(u);
        u = u == null ? j : be.add(u, j);
      }
      temporaries.add(u);
      Batch w = continuations.get(l).apply(u);
      temporaries.add(w);
      Batch dz = pass.outputGradients.get(l);
      boolean mixed = policy.modification() == ResidualModification.NONE;
      Map<String, Batch> out = new LinkedHashMap<>();
      for (String p : l.op.parameters()) {
        Batch sum = l.op.jacTMatProdSum(c, p, l.asOutput(w));
        for (String q : l.op.parameters()) {
          Batch r;
          if (q.equals(p)) r = policy.contributes(l.op, p) ? policy.product(l.op, c, p, dz, v.get(p)) : null;
          else r = mixed ? l.op.mixedResidualMatProd(c, p, q, dz, v.get(q)) : null;
          if (r == null) continue;
          Batch rs = be.sumSamples(r);
          Batch before = sum;
          sum = be.add(before, rs);
          temporaries.addAll(List.of(r, rs, before));
        }
        temporaries.add(sum);
        out.put(p, be.scale(sum, 1.0 / pass.samples));
      }
      List<Batch> keep = new ArrayList<>(out.values());
      keep.addAll(v.values());
      net.releaseTemporaries(temporaries, keep.toArray(new Batch[0]));
      return out;
    }

    @Override
    public List<Batch> drain() {
      return List.of();
    }
  }
}
