package org.hbp.train;

import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import org.hbp.UserError;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.network.Curvature;
import org.hbp.network.CurvatureKind;
import org.hbp.network.GgnRoute;
import org.hbp.network.KfacOptions;
import org.hbp.network.Network;
import org.hbp.network.Pass;
import org.hbp.network.Strategy;

/**
 * Eq. 10 with a Kronecker-factored GGN (kfac, kflr or ekfac) solved in closed form instead of by
 * CG: per parameter block C, {@code d = -[α I + (1 - α) C]^-1 g}, which is
 * {@code -(C + α/(1-α) I)^-1 g / (1 - α)}, exact in the eigenbasis of the factors (the damping
 * added to the whole block, {@link Curvature#dampedSolve}); then {@code θ <- θ + γ d}. KFAC's
 * Monte-Carlo vectors are drawn anew each step, with seed {@code seed + step}, so a resumed run
 * draws the same ones. The curvature of a step is prepared within the memory limit less what the
 * step holds itself ({@link StepMemory}: the parameters, their updates and {@value
 * StepMemory#CLOSED_FORM_VECTORS} vectors of the largest block); where that alone exceeds the limit,
 * the optimizer is refused when it is made, before any step.
 */
public final class KfacNewton implements Optimizer {
  /**
   * The settings: learning rate γ, damping α of eq. 10, the curvature, the strategy and its options, the memory limit. The
   * curvature is one the strategy defines ({@link Curvature#checkDefined}, when the optimizer is made): its own
   * ({@link Strategy#fixedCurvature}), or another that equals it on the network (the Hessian with kflr where no layer keeps a
   * residual term).
   */
  public record Settings(double gamma, double alpha, CurvatureKind curvature, Strategy strategy, KfacOptions options, long memoryLimitBytes) {
    public Settings {
      if (!(gamma > 0)) throw new UserError("kfac: learning rate gamma must be > 0, not " + gamma);
      if (!(alpha > 0 && alpha <= 1)) throw new UserError("kfac: damping alpha must be in (0, 1], not " + alpha);
      if (!strategy.hasClosedFormInverse())
        throw new UserError("--optimizer kfac inverts blocks in closed form: use --strategy kfac, kflr, ekfac, diag-ggn, diag-ggn-mc or diag-hessian, not "
            + strategy.label());
      if (curvature == null) throw new IllegalArgumentException("curvature is required");
    }

    /** The strategy's own curvature ({@link Strategy#fixedCurvature}: the GGN, or the Hessian for diag-hessian). */
    public Settings(double gamma, double alpha, Strategy strategy, KfacOptions options, long memoryLimitBytes) {
      this(gamma, alpha, strategy.fixedCurvature(), strategy, options, memoryLimitBytes);
    }
  }

  private final Network net;
  private final Settings s;
  private final Consumer<String> notices;
  /** The memory limit less what a step holds itself: what the curvature may plan with. */
  private final long curvatureBudget;
  private long steps;

  /** An optimizer that says nothing of how it computes the curvature. */
  public KfacNewton(Network net, Settings settings) {
    this(net, settings, line -> {});
  }

  /**
   * An optimizer that tells {@code notices} what the run should know of its curvature (a {@code
   * diag-*} strategy computed in chunks of samples), each distinct line once per run ({@link RunNotices}).
   *
   * @throws UserError when a step's own memory ({@link StepMemory}) exceeds the settings' memory limit
   */
  public KfacNewton(Network net, Settings settings, Consumer<String> notices) {
    Curvature.checkDefined(net, settings.curvature(), settings.strategy(), GgnRoute.NETWORK);
    this.net = net;
    this.s = settings;
    StepMemory own = stepMemory(net);
    this.curvatureBudget = own.budget(settings.memoryLimitBytes());
    this.notices = RunNotices.onceEach(own.explained(notices, settings.memoryLimitBytes()));
  }

  /** What a step on {@code net} holds besides the pass and the curvature ({@link StepMemory}, {@code k = 6}). */
  static StepMemory stepMemory(Network net) {
    return StepMemory.of("kfac", net, StepMemory.CLOSED_FORM_VECTORS);
  }

  @Override
  public String label() {
    return "kfac " + s.strategy().label() + " gamma=" + s.gamma() + " alpha=" + s.alpha();
  }

  @Override
  public Map<String, Object> config() {
    Map<String, Object> c = Optimizer.baseConfig("kfac", s.gamma());
    c.put("alpha", s.alpha());
    c.put("strategy", s.strategy().label());
    c.put("mc_samples", s.options().mcSamples());
    c.put("fisher", s.options().fisher().label());
    return c;
  }

  @Override
  public StepReport step(Pass pass, Map<String, Batch> parameters) {
    Backend be = net.backend();
    Curvature c = Curvature.of(pass, s.curvature(), s.strategy(), s.options().withSeed(s.options().seed() + steps), curvatureBudget,
        notices);
    for (String name : net.parameterNames()) {
      Batch minusG = be.scale(pass.gradient(name), -1);
      Batch d = c.dampedSolve(name, minusG, s.alpha());
      Batch step = be.scale(d, s.gamma());
      parameters.put(name, be.add(parameters.get(name), step));
      be.release(step);
      be.release(d);
      be.release(minusG);
    }
    c.release();
    steps++;
    return StepReport.PLAIN;
  }

  @Override
  public Map<String, double[]> state() {
    return Map.of();
  }

  @Override
  public void restore(Map<String, double[]> state, long steps) {
    OptimizerState.requireKeys(state, Set.of(), "kfac keeps no state between steps (its draws follow the step count)");
    this.steps = steps;
  }
}
