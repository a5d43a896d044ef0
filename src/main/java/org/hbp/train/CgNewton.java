package org.hbp.train;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import org.hbp.UserError;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.network.ConjugateGradient;
import org.hbp.network.Curvature;
import org.hbp.network.CurvatureKind;
import org.hbp.network.GgnRoute;
import org.hbp.network.KfacOptions;
import org.hbp.network.Network;
import org.hbp.network.Pass;
import org.hbp.network.Strategy;

/**
 * The paper's Newton-style optimizer (Dangel et al. 2020, eq. 10): for every parameter block,
 * solve {@code [alpha I + (1 - alpha) C] d = -g} by conjugate gradients with the block's curvature
 * C (Hessian, GGN or PCH; exact, KFRA or BDA; optionally split into row sub-blocks), then
 * {@code theta <- theta + gamma d}. With {@link Settings#layerBlocks} the blocks are one per layer
 * over all its parameters, cross terms included ({@link Curvature#layerSolve}; exact strategy, GGN
 * or Hessian), a departure from the paper. Stateless between steps but for their count, which seeds the
 * Monte-Carlo strategies' draws (kfac, diag-ggn-mc: {@link Settings#options}, seed plus step). The curvature of a step is
 * prepared within the memory limit less what the step holds itself ({@link StepMemory}: the
 * parameters, their updates and {@value StepMemory#CG_VECTORS} CG vectors of the largest block, with
 * joint blocks the largest layer); where that alone exceeds the limit, the optimizer is refused when
 * it is made, before any step.
 */
public final class CgNewton implements Optimizer {
  /**
   * The settings of eq. 10 and its solve: {@code blocks} row sub-blocks per parameter, or with
   * {@code layerBlocks} one joint block per layer over all its parameters ({@link Curvature#layerSolve};
   * {@code blocks} is then 1).
   */
  public record Settings(double gamma, double alpha, CurvatureKind curvature, Strategy strategy, int blocks, boolean layerBlocks,
      ConjugateGradient.Settings cg, long memoryLimitBytes, GgnRoute ggnRoute, KfacOptions options) {
    public Settings {
      if (ggnRoute == null) throw new IllegalArgumentException("ggnRoute is required");
      if (options == null) throw new IllegalArgumentException("options are required");
      ggnRoute.check(curvature, strategy);
      if (!(gamma > 0)) throw new UserError("cg-newton: learning rate gamma must be > 0, not " + gamma);
      if (!(alpha >= 0 && alpha <= 1)) throw new UserError("cg-newton: damping alpha must be in [0, 1], not " + alpha);
      if (blocks < 1) throw new UserError("cg-newton: sub-blocks must be >= 1, not " + blocks);
      if (layerBlocks && blocks != 1) throw new UserError("cg-newton: one joint block per layer has no row sub-blocks, not " + blocks);
    }

    /** The Monte-Carlo strategies' defaults ({@link KfacOptions#defaults}: one vector per sample, seed 0). */
    public Settings(double gamma, double alpha, CurvatureKind curvature, Strategy strategy, int blocks, boolean layerBlocks,
        ConjugateGradient.Settings cg, long memoryLimitBytes, GgnRoute ggnRoute) {
      this(gamma, alpha, curvature, strategy, blocks, layerBlocks, cg, memoryLimitBytes, ggnRoute, KfacOptions.defaults());
    }

    /** The GGN's products through the network ({@link GgnRoute#NETWORK}). */
    public Settings(double gamma, double alpha, CurvatureKind curvature, Strategy strategy, int blocks, boolean layerBlocks,
        ConjugateGradient.Settings cg, long memoryLimitBytes) {
      this(gamma, alpha, curvature, strategy, blocks, layerBlocks, cg, memoryLimitBytes, GgnRoute.NETWORK);
    }

    /** Blocks per parameter ({@code blocks} row sub-blocks each), the paper's. */
    public Settings(double gamma, double alpha, CurvatureKind curvature, Strategy strategy, int blocks, ConjugateGradient.Settings cg,
        long memoryLimitBytes) {
      this(gamma, alpha, curvature, strategy, blocks, false, cg, memoryLimitBytes);
    }

    /**
     * These settings as entries of a run's {@code config.json}: alpha, curvature, strategy, blocks
     * (the number of row sub-blocks per parameter, or {@code "layer"}) and CG's; gamma is the run's
     * {@code lr}; the memory limit and the GGN's route, which change no result (the route up to
     * rounding), are not recorded.
     */
    public Map<String, Object> configEntries() {
      Map<String, Object> c = new LinkedHashMap<>();
      c.put("alpha", alpha);
      c.put("curvature", curvature.label());
      c.put("strategy", strategy.label());
      c.put("blocks", layerBlocks ? "layer" : blocks);
      c.put("cg_maxiter", cg.maxIterations());
      c.put("cg_tol", cg.tol());
      c.put("cg_atol", cg.atol());
      // the Monte-Carlo strategies' draw (seeded by the run's seed plus the step)
      if (strategy.drawsMonteCarlo()) c.put("mc_samples", options.mcSamples());
      if (strategy == Strategy.KFAC) c.put("fisher", options.fisher().label());
      return c;
    }
  }

  /**
   * The run's one notice of negative curvature, said the first time a block solve meets it (the
   * epoch lines count them, {@link StepReport#negativeCurvature}).
   */
  static final String NEGATIVE_CURVATURE = "cg-newton: CG met negative curvature in a damped block: the block is not positive definite, "
      + "so CG's premise fails; such a solve stops at its last iterate before that direction (at -g, steepest descent, when met "
      + "at the first iteration), as truncated Newton-CG does; the epoch lines count them. Use a larger damping alpha, "
      + "or --curvature ggn or a PCH curvature (pch-abs, pch-clip), which are PSD";

  private final Network net;
  private final Settings s;
  /** The curvature's notices (chunk plans), each ended by what the memory budget left out. */
  private final Consumer<String> notices;
  /** The optimizer's own notices (negative curvature), as they are. */
  private final Consumer<String> ownNotices;
  /** The memory limit less what a step holds itself: what the curvature may plan with. */
  private final long curvatureBudget;
  /** Steps taken (restored on --resume): the Monte-Carlo strategies' draws are seeded by it. */
  private long steps;

  /** An optimizer that says nothing of how it computes the curvature. */
  public CgNewton(Network net, Settings settings) {
    this(net, settings, line -> {});
  }

  /**
   * An optimizer that tells {@code notices} what the run should know of its curvature (a {@code
   * diag-*} strategy computed in chunks of samples), each distinct line once per run ({@link RunNotices}).
   *
   * @throws UserError when a step's own memory ({@link StepMemory}) exceeds the settings' memory limit, or
   *     the settings ask for per-layer joint blocks where they are not defined ({@link Curvature#checkLayerBlocks}), or a
   *     curvature the strategy does not define on the network ({@link Curvature#checkDefined})
   */
  public CgNewton(Network net, Settings settings, Consumer<String> notices) {
    this.net = net;
    this.s = settings;
    Curvature.checkDefined(net, settings.curvature(), settings.strategy(), settings.ggnRoute());
    if (settings.layerBlocks()) Curvature.checkLayerBlocks(net, settings.curvature(), settings.strategy());
    StepMemory own = settings.layerBlocks() ? StepMemory.ofLayers("cg-newton", net, StepMemory.CG_VECTORS) : stepMemory(net);
    this.curvatureBudget = own.budget(settings.memoryLimitBytes());
    this.notices = RunNotices.onceEach(own.explained(notices, settings.memoryLimitBytes()));
    this.ownNotices = RunNotices.onceEach(notices);
  }

  /** What a step on {@code net} holds besides the pass and the curvature ({@link StepMemory}, {@code k = 9}). */
  static StepMemory stepMemory(Network net) {
    return StepMemory.of("cg-newton", net, StepMemory.CG_VECTORS);
  }

  public Settings settings() {
    return s;
  }

  @Override
  public Map<String, Object> config() {
    Map<String, Object> c = Optimizer.baseConfig("cg-newton", s.gamma());
    c.putAll(s.configEntries());
    return c;
  }

  @Override
  public String label() {
    return "cg-newton " + s.curvature().label() + " " + s.strategy().label() + (s.layerBlocks() ? " blocks=layer" : s.blocks() > 1 ? " blocks=" + s.blocks() : "")
        + (s.ggnRoute() == GgnRoute.FACTORED ? " ggn-route=factored" : "") + " gamma=" + s.gamma() + " alpha=" + s.alpha();
  }

  @Override
  public StepReport step(Pass pass, Map<String, Batch> parameters) {
    Backend be = net.backend();
    // kfac's and diag-ggn-mc's vectors drawn anew each step, with seed + step (a resumed run draws the same), as KfacNewton's
    Curvature c = Curvature.of(pass, s.curvature(), s.strategy(), s.options().withSeed(s.options().seed() + steps), s.ggnRoute(), curvatureBudget,
        notices);
    steps++;
    int iterations = 0, solves = 0, negative = 0;
    if (s.layerBlocks()) {
      for (List<String> group : c.layerGroups()) {
        Map<String, Batch> minusG = new LinkedHashMap<>();
        for (String name : group) minusG.put(name, be.scale(pass.gradient(name), -1));
        ConjugateGradient.JointResult r = c.layerSolve(minusG, s.alpha(), s.cg());
        iterations += r.iterations();
        solves++;
        if (r.negativeCurvature() != null) {
          negative++;
          ownNotices.accept(NEGATIVE_CURVATURE);
        }
        for (String name : group) {
          Batch step = be.scale(r.solution().get(name), s.gamma());
          parameters.put(name, be.add(parameters.get(name), step));
          be.release(step);
          be.release(r.solution().get(name));
          be.release(minusG.get(name));
        }
      }
      c.release();
      return new StepReport(iterations, solves, negative);
    }
    for (String name : net.parameterNames()) {
      int[] shape = net.parameterShape(name);
      // a block with fewer rows than sub-blocks is split into single rows
      int blocks = Math.min(s.blocks(), shape[0]);
      Batch minusG = be.scale(pass.gradient(name), -1);
      ConjugateGradient.Result r = ConjugateGradient.solve(be, v -> c.matProd(name, v, blocks), s.alpha(), minusG, s.cg());
      iterations += r.iterations();
      solves++;
      if (r.negativeCurvature() != null) {
        negative++;
        ownNotices.accept(NEGATIVE_CURVATURE);
      }
      Batch step = be.scale(r.solution(), s.gamma());
      parameters.put(name, be.add(parameters.get(name), step));
      be.release(step);
      be.release(r.solution());
      be.release(minusG);
    }
    c.release();
    return new StepReport(iterations, solves, negative);
  }

  @Override
  public Map<String, double[]> state() {
    return Map.of();
  }

  @Override
  public void restore(Map<String, double[]> state, long steps) {
    OptimizerState.requireKeys(state, Set.of(), "cg-newton keeps no state between steps (its draws follow the step count)");
    this.steps = steps;
  }
}
