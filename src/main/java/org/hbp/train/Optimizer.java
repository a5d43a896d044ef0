package org.hbp.train;

import java.util.LinkedHashMap;
import java.util.Map;
import org.hbp.backend.Batch;
import org.hbp.network.Pass;

/**
 * A training step rule: given a pass (forward and gradients on one mini-batch), new values for the
 * parameters. Implementations keep their own state (momenta, moments) per parameter and expose it
 * for checkpoints.
 */
public interface Optimizer {
  /**
   * What a step did, for progress and metrics: the CG iterations over its blocks (-1 without CG),
   * and in how many of its {@code cgSolves} block solves CG stopped at negative curvature
   * ({@link org.hbp.network.ConjugateGradient.NegativeCurvature}).
   */
  record StepReport(int cgIterations, int cgSolves, int negativeCurvature) {
    /** A step that ran no conjugate gradients. */
    public static final StepReport PLAIN = new StepReport(-1, 0, 0);
  }

  /** A short label, e.g. {@code cg-newton ggn bda}. */
  String label();

  /** The optimizer and its settings as entries of a run's {@code config.json}: {@code optimizer}, {@code lr} and its own. */
  Map<String, Object> config();

  /** The first entries of {@link #config}, {@code optimizer} and {@code lr}, in a map that keeps their order. */
  static Map<String, Object> baseConfig(String optimizer, double lr) {
    Map<String, Object> c = new LinkedHashMap<>();
    c.put("optimizer", optimizer);
    c.put("lr", lr);
    return c;
  }

  /**
   * Computes the new parameter values from the pass (made with {@code parameters}) and puts them
   * into {@code parameters}. The old values are the caller's to release after the pass is closed.
   */
  StepReport step(Pass pass, Map<String, Batch> parameters);

  /** The state needed to resume exactly (host arrays by name, column-major items); may be empty. */
  Map<String, double[]> state();

  /**
   * Restores {@link #state()} as saved after {@code steps} steps. A missing or unexpected array, one
   * of another length, or a non-finite entry is a {@link org.hbp.UserError} naming the array
   * ({@code optimizer.<key>}) and what was expected.
   */
  void restore(Map<String, double[]> state, long steps);
}
