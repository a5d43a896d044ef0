package org.hbp.network;

import java.util.ArrayList;
import java.util.List;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.runtime.ForwardCache;

/**
 * What the strategies' prepared blocks share: the pass, its network and backend, the residual
 * policy, and the shape of a parameter block's product, {@code C v = (1/N) sum_n J_n' w_n + R v}:
 * a propagated term, which each strategy computes its own way (eq. 7 exactly, eq. 8, eq. 9), plus
 * the residual term where the policy keeps one, with the temporaries released at the end.
 */
abstract class ParameterBlocks implements CurvatureStrategy.Blocks {
  final Pass pass;
  final Network net;
  final Backend be;
  final ResidualPolicy policy;

  ParameterBlocks(Pass pass, ResidualPolicy policy) {
    this.pass = pass;
    this.net = pass.net;
    this.be = net.be;
    this.policy = policy;
  }

  /** The propagated term of the block of {@code var} applied to {@code v}; batches to release go to {@code temporaries}. */
  abstract Batch propagatedTerm(Network.LayerNode l, String var, ForwardCache c, Batch v, List<Batch> temporaries);

  /** The residual term (averaged over the batch) applied to {@code v}, for a parameter whose residual the policy keeps. */
  abstract Batch residualTerm(Network.LayerNode l, String var, ForwardCache c, Batch v, List<Batch> temporaries);

  /**
   * The block of a parameter; in a graph network, for a shared instance, the sum of the blocks of
   * its uses (each formed at that use; the cross terms between uses are not approximated).
   */
  @Override
  public final Batch matProd(Network.LayerNode l, String var, Batch v) {
    if (!net.isGraph()) return useProduct(l, var, v);
    List<Network.LayerNode> uses = net.uses(l.parameterName(var));
    Batch sum = null;
    for (Network.LayerNode u : uses) {
      Batch b = useProduct(u, var, v);
      Batch before = sum;
      sum = sum == null ? b : be.add(sum, b);
      if (before != null) net.releaseTemporaries(java.util.Arrays.asList(before, b), v, sum);
    }
    return sum;
  }

  private Batch useProduct(Network.LayerNode l, String var, Batch v) {
    ForwardCache c = pass.caches.get(l);
    List<Batch> temporaries = new ArrayList<>();
    Batch curvature = propagatedTerm(l, var, c, v, temporaries);
    if (policy.contributes(l.op, var)) {
      Batch mean = residualTerm(l, var, c, v, temporaries);
      Batch before = curvature;
      curvature = be.add(before, mean);
      temporaries.addAll(List.of(mean, before));
    }
    net.releaseTemporaries(temporaries, v, curvature);
    return curvature;
  }

  /** {@code (1/N) sum_n J_n' w_n} of the parameter {@code var}, for w in the layer's output items; w, and w scaled or the sum, go to {@code temporaries}. */
  final Batch meanJacTProduct(Network.LayerNode l, String var, ForwardCache c, Batch w, List<Batch> temporaries) {
    temporaries.add(w);
    if ((long) w.samples() * w.directions() * w.itemSize() < (long) l.op.numel(var) * w.directions()) {
      // the mean's 1/N on w where it holds fewer numbers than the product (a large linear weight's P D against N |z| D)
      Batch scaled = be.scale(w, 1.0 / pass.samples);
      temporaries.add(scaled);
      return l.op.jacTMatProdSum(c, var, l.asOutput(scaled));
    }
    Batch sum = l.op.jacTMatProdSum(c, var, l.asOutput(w));
    temporaries.add(sum);
    return be.scale(sum, 1.0 / pass.samples);
  }
}
