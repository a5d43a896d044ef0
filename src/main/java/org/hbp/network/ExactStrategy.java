package org.hbp.network;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.runtime.ForwardCache;
import org.hbp.runtime.ModuleOperator;

/**
 * Exact block-diagonal curvature by matrix-free products, per sample: directions are pushed
 * through the parameter's Jacobian, through the rest of the network to the loss Hessian and back
 * ({@link HessianProducts}), with each module's residual term added on the way, modified per
 * sample by the {@link ResidualPolicy}. The block of a parameter θ of a layer with output z is
 * {@code (1/N) sum_n J_n' H_z,n J_n v + (1/N) sum_n mod(R_n) v}.
 */
final class ExactStrategy implements CurvatureStrategy {
  @Override
  public Blocks prepare(Pass pass, ResidualPolicy policy, long memoryLimitBytes) {
    return new ExactBlocks(pass, policy);
  }

  private static final class ExactBlocks implements Blocks {
    private final Pass pass;
    private final Network net;
    private final Backend be;
    private final ResidualPolicy policy;
    private final HessianProducts products;
    /** For every layer, the product with the curvature of its output (the rest of the network). */
    private final Map<Network.LayerNode, UnaryOperator<Batch>> continuations = new IdentityHashMap<>();

    ExactBlocks(Pass pass, ResidualPolicy policy) {
      this.pass = pass;
      this.net = pass.net;
      this.be = net.be;
      this.policy = policy;
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

    @Override
    public Batch matProd(Network.LayerNode l, String var, Batch v) {
      ModuleOperator op = l.op;
      ForwardCache c = pass.caches.get(l);
      int n = pass.samples;
      List<Batch> temporaries = new ArrayList<>();
      Batch u = op.jacMatProd(c, var, v);
      Batch w = continuations.get(l).apply(u);
      Batch sum = op.jacTMatProdSum(c, var, l.asOutput(w));
      Batch curvature = be.scale(sum, 1.0 / n);
      temporaries.addAll(List.of(u, w, sum));
      if (policy.contributes(op, var)) {
        Batch r = policy.product(op, c, var, pass.outputGradients.get(l), v);
        Batch mean = be.meanSamples(r, n);
        Batch before = curvature;
        curvature = be.add(before, mean);
        temporaries.addAll(List.of(r, mean, before));
      }
      net.releaseTemporaries(temporaries, v, curvature);
      return curvature;
    }

    @Override
    public List<Batch> drain() {
      return List.of();
    }
  }
}
