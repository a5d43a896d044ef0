package org.hbp.cli;

/**
 * The one set of defaults of the options that several commands share. Every option that has one
 * of these defaults names the constant in its annotation and shows it in its help as
 * {@code ${DEFAULT-VALUE}}; the README's "Defaults" table lists the same values, and
 * {@code DefaultsTest} checks that the three agree.
 *
 * <p>Two options have a second default, for a reason stated here, in the option's help and in the
 * README: the backend and the strategy of the commands that train.
 */
final class Defaults {
  private Defaults() {}

  /** {@code --device}: the CPU. */
  static final String DEVICE = "cpu";

  /** {@code --threads}: 0, all cores. */
  static final String THREADS = "0";

  /**
   * {@code --memory-limit} in GiB, for every command that has it: the library's own default
   * ({@code Curvature.DEFAULT_MEMORY_LIMIT}, 2 GiB).
   */
  static final String MEMORY_LIMIT_GIB = "2";

  /** {@code --curvature}: the generalized Gauss-Newton matrix, PSD for every net. */
  static final String CURVATURE = "ggn";

  /**
   * {@code --backend} of the commands whose numbers are the result ({@code curvature}): OpenBLAS in
   * float64, so that products, dense blocks and Newton steps are exact to float64 round-off.
   */
  static final String BACKEND = "blas-f64";

  /**
   * {@code --backend} of the commands that train or time training ({@code train}, {@code experiment},
   * {@code bench}): OpenBLAS in float32, as PyTorch trains; about twice as fast as float64, and
   * the precision a stochastic optimizer needs.
   */
  static final String TRAINING_BACKEND = "blas-f32";

  /** The reason for {@link #TRAINING_BACKEND}, as the options' help gives it. */
  static final String TRAINING_BACKEND_REASON = "float32, as PyTorch trains: about twice as fast as float64";

  /**
   * {@code --strategy} of {@code curvature}: exact, matrix-free products: the curvature itself, and
   * within the memory limit for every net (kfra and bda hold a dense matrix per layer).
   */
  static final String STRATEGY = "exact";

  /**
   * {@code --strategy} of {@code train}: bda (paper eq. 9), as the paper's Fig. 4 trains: one
   * explicit backward pass per step, after which each CG iteration is a cheap product.
   */
  static final String TRAINING_STRATEGY = "bda";

  /** The reason for {@link #TRAINING_STRATEGY}, as the option's help gives it. */
  static final String TRAINING_STRATEGY_REASON = "as the paper's Fig. 4 trains: one explicit pass per step, then cheap CG products";

  /**
   * {@code --blocks} of {@code train} (row groups per parameter, or {@code layer}): one block per parameter.
   */
  static final String BLOCKS = "1";

  /**
   * {@code --blocks} of {@code curvature}, {@code spectrum} and {@code bench}: one block per parameter, the paper's
   * blocks ({@code layer}, one joint block per layer, is the departure to ask for).
   */
  static final String BLOCK_UNIT = "parameter";

  /** {@code --cg-tol}: CG's relative tolerance ({@code ConjugateGradient.Settings.defaults()}). */
  static final String CG_TOL = "0.1";

  /** {@code --cg-atol}: CG's absolute tolerance. */
  static final String CG_ATOL = "0";

  /** {@code --cg-maxiter}: CG's iteration limit. */
  static final String CG_MAXITER = "50";
}
