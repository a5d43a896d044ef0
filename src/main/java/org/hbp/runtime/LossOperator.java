package org.hbp.runtime;

import java.util.List;
import java.util.Map;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;

/**
 * The math of one loss (generated from a {@code loss} spec): the per-sample loss value, its
 * gradient and its Hessian (as products and densely) with respect to each input, where HBP starts.
 * Batches follow {@link ModuleOperator}'s conventions; averaging over the batch is the runtime's.
 */
public interface LossOperator {
  String name();

  String specSource();

  Backend backend();

  Map<String, Integer> dims();

  /** The differentiated inputs (the network output). */
  List<String> inputs();

  /** Targets and other constants. */
  List<String> constants();

  String outputName();

  int[] itemShape(String variable);

  default int numel(String variable) {
    int[] s = itemShape(variable);
    return s[0] * s[1];
  }

  /** The per-sample loss (1x1 items) from all inputs and targets, by name. */
  ForwardCache forward(Map<String, Batch> values);

  default Batch output(ForwardCache cache) {
    return cache.get(outputName());
  }

  /** The gradient of the per-sample loss with respect to an input, in its shape. */
  Batch gradient(ForwardCache cache, String wrt);

  /** H v with the per-sample Hessian with respect to an input. */
  Batch hessianMatProd(ForwardCache cache, String wrt, Batch v);

  /** The dense per-sample Hessian, numel x numel. */
  Batch hessian(ForwardCache cache, String wrt);

  /** Whether the derived Hessian is proven positive semi-definite. */
  boolean hessianIsPsd(String wrt);
}
