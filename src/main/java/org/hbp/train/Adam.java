package org.hbp.train;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.hbp.UserError;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.backend.ScalarFunction;
import org.hbp.network.Network;
import org.hbp.network.Pass;

/**
 * Adam as PyTorch's {@code torch.optim.Adam} (no weight decay, no amsgrad): {@code m <- b1 m +
 * (1-b1) g}, {@code v <- b2 v + (1-b2) g.^2}, {@code theta <- theta - lr (m / (1-b1^t)) /
 * (sqrt(v / (1-b2^t)) + eps)}.
 */
public final class Adam implements Optimizer {
  private final Network net;
  private final double lr;
  private final double beta1;
  private final double beta2;
  private final double eps;
  private final Map<String, Batch> first = new LinkedHashMap<>();
  private final Map<String, Batch> second = new LinkedHashMap<>();
  private long steps;
  /** t + eps, also as OpenCL C for device backends. */
  private final ScalarFunction plusEps;

  public Adam(Network net, double lr, double beta1, double beta2, double eps) {
    if (!(lr > 0)) throw new UserError("adam: learning rate must be > 0, not " + lr);
    if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1))
      throw new UserError("adam: betas must be in [0, 1), not " + beta1 + ", " + beta2);
    if (!(eps > 0)) throw new UserError("adam: eps must be > 0, not " + eps);
    this.net = net;
    this.lr = lr;
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.eps = eps;
    this.plusEps = ScalarFunction.of("adam_plus_eps", "t + (REAL) " + Double.toString(eps), t -> t + eps);
  }

  @Override
  public String label() {
    return "adam lr=" + lr;
  }

  @Override
  public Map<String, Object> config() {
    Map<String, Object> c = Optimizer.baseConfig("adam", lr);
    c.put("beta1", beta1);
    c.put("beta2", beta2);
    c.put("eps", eps);
    return c;
  }

  @Override
  public StepReport step(Pass pass, Map<String, Batch> parameters) {
    Backend be = net.backend();
    steps++;
    double c1 = 1 - Math.pow(beta1, steps), c2 = 1 - Math.pow(beta2, steps);
    for (String name : net.parameterNames()) {
      Batch g = pass.gradient(name);
      Batch m = blend(be, first.get(name), beta1, g, 1 - beta1);
      Batch g2 = be.multiply(g, g);
      Batch v = blend(be, second.get(name), beta2, g2, 1 - beta2);
      be.release(g2);
      release(be, first.put(name, m));
      release(be, second.put(name, v));
      // theta - lr/c1 * m / (sqrt(v/c2) + eps)
      Batch vh = be.scale(v, 1 / c2), root = be.power(vh, 0.5);
      Batch denom = be.map(root, plusEps);
      Batch ratio = be.divide(m, denom), step = be.scale(ratio, -lr / c1);
      parameters.put(name, be.add(parameters.get(name), step));
      for (Batch t : new Batch[] {vh, root, denom, ratio, step}) be.release(t);
    }
    return StepReport.PLAIN;
  }

  /** a*old + b*g, with old = 0 before the first step. */
  private static Batch blend(Backend be, Batch old, double a, Batch g, double b) {
    Batch bg = be.scale(g, b);
    if (old == null) return bg;
    Batch aold = be.scale(old, a);
    Batch out = be.add(aold, bg);
    be.release(aold);
    be.release(bg);
    return out;
  }

  private static void release(Backend be, Batch b) {
    if (b != null) be.release(b);
  }

  @Override
  public Map<String, double[]> state() {
    Map<String, double[]> s = new LinkedHashMap<>();
    s.put("steps", new double[] {steps});
    for (String name : first.keySet()) {
      s.put("m." + name, net.backend().toArray(first.get(name)));
      s.put("v." + name, net.backend().toArray(second.get(name)));
    }
    return s;
  }

  @Override
  public void restore(Map<String, double[]> state, long steps) {
    first.clear();
    second.clear();
    // the step count, and after the first step the moments m and v of every parameter
    Set<String> keys = new TreeSet<>(List.of("steps"));
    if (steps > 0) for (String name : net.parameterNames()) keys.addAll(List.of("m." + name, "v." + name));
    OptimizerState.requireKeys(state, keys, "adam after " + steps + " steps keeps the step count"
        + (steps > 0 ? " and moments m, v per parameter" : ""));
    this.steps = OptimizerState.count(state, "steps", steps);
    if (steps == 0) return;
    for (String name : net.parameterNames()) {
      double[] m = OptimizerState.parameterSized(state, "m." + name, net, name, Double.NEGATIVE_INFINITY);
      double[] v = OptimizerState.parameterSized(state, "v." + name, net, name, 0);
      int[] s = net.parameterShape(name);
      first.put(name, net.backend().fromArray(1, 1, s[0], s[1], m));
      second.put(name, net.backend().fromArray(1, 1, s[0], s[1], v));
    }
  }
}
