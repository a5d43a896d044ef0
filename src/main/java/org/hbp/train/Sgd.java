package org.hbp.train;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.hbp.UserError;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.network.Network;
import org.hbp.network.Pass;

/**
 * Stochastic gradient descent with momentum, as PyTorch's {@code torch.optim.SGD} (dampening 0, no
 * Nesterov): {@code b <- mu b + g} (b = g at the first step), {@code theta <- theta - lr b}.
 */
public final class Sgd implements Optimizer {
  private final Network net;
  private final double lr;
  private final double momentum;
  private final Map<String, Batch> buffers = new LinkedHashMap<>();

  public Sgd(Network net, double lr, double momentum) {
    if (!(lr > 0)) throw new UserError("sgd: learning rate must be > 0, not " + lr);
    if (!(momentum >= 0 && momentum < 1)) throw new UserError("sgd: momentum must be in [0, 1), not " + momentum);
    this.net = net;
    this.lr = lr;
    this.momentum = momentum;
  }

  @Override
  public String label() {
    return "sgd lr=" + lr + " momentum=" + momentum;
  }

  @Override
  public Map<String, Object> config() {
    Map<String, Object> c = Optimizer.baseConfig("sgd", lr);
    c.put("momentum", momentum);
    return c;
  }

  @Override
  public StepReport step(Pass pass, Map<String, Batch> parameters) {
    Backend be = net.backend();
    for (String name : net.parameterNames()) {
      Batch g = pass.gradient(name);
      Batch direction = g;
      if (momentum > 0) {
        Batch old = buffers.get(name);
        if (old == null) direction = be.scale(g, 1);
        else {
          Batch scaled = be.scale(old, momentum);
          direction = be.add(scaled, g);
          be.release(scaled);
          be.release(old);
        }
        buffers.put(name, direction);
      }
      Batch step = be.scale(direction, -lr);
      parameters.put(name, be.add(parameters.get(name), step));
      be.release(step);
    }
    return StepReport.PLAIN;
  }

  @Override
  public Map<String, double[]> state() {
    Map<String, double[]> s = new LinkedHashMap<>();
    for (Map.Entry<String, Batch> e : buffers.entrySet()) s.put("momentum." + e.getKey(), net.backend().toArray(e.getValue()));
    return s;
  }

  @Override
  public void restore(Map<String, double[]> state, long steps) {
    buffers.clear();
    // a momentum buffer per parameter exists after the first step (none without momentum)
    Set<String> keys = new TreeSet<>();
    if (momentum > 0 && steps > 0) for (String name : net.parameterNames()) keys.add("momentum." + name);
    OptimizerState.requireKeys(state, keys, "sgd with momentum " + momentum + " after " + steps + " steps keeps "
        + (keys.isEmpty() ? "no arrays" : "one momentum array per parameter"));
    for (String name : net.parameterNames()) {
      if (!keys.contains("momentum." + name)) continue;
      double[] b = OptimizerState.parameterSized(state, "momentum." + name, net, name, Double.NEGATIVE_INFINITY);
      int[] s = net.parameterShape(name);
      buffers.put(name, net.backend().fromArray(1, 1, s[0], s[1], b));
    }
  }
}
