package org.hbp.network;

import java.util.IdentityHashMap;
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
 */
final class ExactStrategy implements CurvatureStrategy {
  @Override
  public Blocks prepare(Pass pass, ResidualPolicy policy, long memoryLimitBytes) {
    return new ExactBlocks(pass, policy);
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

    @Override
    public List<Batch> drain() {
      return List.of();
    }
  }
}
