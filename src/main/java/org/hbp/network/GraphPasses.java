package org.hbp.network;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.hbp.UserError;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.runtime.ModuleOperator;

/**
 * The forward and gradient passes of a graph network ({@link NetworkSpec.Graph}): the steps in
 * their order, each value kept in the pass in its item shape ({@link Network#itemOf} of its
 * per-sample shape). Backward, the gradient of a value is the sum over its uses (a branch point
 * adds the gradients of its consumers); a shared instance's parameter gradient sums its uses
 * ({@link Pass#gradient}); a module use of several inputs passes {@code J_i' dz} to its i-th value.
 * Gradients are computed only for values downstream of a parameter.
 */
final class GraphPasses {
  private GraphPasses() {}

  /** One step at run time: a module use ({@code layer}) or a merge ({@code merge}). */
  record Step(NetworkSpec.Step spec, Network.LayerNode layer, Merges merge) {
    String value() {
      return spec.value();
    }

    List<String> inputs() {
      return spec.inputs();
    }
  }

  /** The steps of the network's graph, each module use a layer named by its value (parameters by the instance). */
  static List<Step> build(Network net, Network.OperatorFactory operators) {
    List<Step> out = new ArrayList<>();
    Map<String, ModuleOperator> instances = new LinkedHashMap<>();
    for (NetworkSpec.Step s : net.spec.graph().steps()) {
      if (s instanceof NetworkSpec.Apply a) {
        ModuleOperator op = instances.get(a.instance());
        if (op == null) {
          Object o = operators.create(a.layer().module(), net.be, a.layer().dims());
          if (!(o instanceof ModuleOperator mo)) throw new UserError(a.value() + ": " + a.layer().module().name() + " is a loss, not a module");
          op = mo;
          instances.put(a.instance(), op);
        }
        Network.LayerNode node = net.new LayerNode(a.value(), a.instance(), a.layer(), op, a.inputs().size());
        net.addUse(node);
        out.add(new Step(s, node, null));
      } else {
        out.add(new Step(s, null, new Merges(net.be, (NetworkSpec.Merge) s)));
      }
    }
    return List.copyOf(out);
  }

  /** The item {rows, cols} of a value. */
  static int[] item(Network net, String value) {
    NetworkSpec.Graph g = net.spec.graph();
    if (value.equals(g.input())) return Network.itemOf(net.spec.inputShape());
    for (NetworkSpec.Step s : g.steps()) if (s.value().equals(value)) return Network.itemOf(s.outputShape());
    throw new IllegalStateException("no value " + value);
  }

  /** u viewed with the item of a value (free). */
  static Batch as(Backend be, Batch u, int[] item) {
    return u.rows() == item[0] && u.cols() == item[1] ? u : be.reshape(u, item[0], item[1]);
  }

  /** The forward pass of the steps; returns the loss's input value. */
  static Batch forward(Pass pass, Map<String, Batch> parameters, Batch x, Map<String, Batch> data) {
    Network net = pass.net;
    NetworkSpec.Graph g = net.spec.graph();
    pass.values.put(g.input(), as(net.be, x, item(net, g.input())));
    for (Step s : net.graph) {
      Batch out;
      List<Batch> in = values(pass, s);
      if (s.layer != null) out = s.layer.forward(pass, in, parameters, data);
      else out = pass.own(s.merge.forward(in));
      pass.values.put(s.value(), as(net.be, out, s.layer != null ? itemOf(s.layer) : s.merge.outputItem()));
    }
    return pass.values.get(g.output());
  }

  private static int[] itemOf(Network.LayerNode l) {
    return Network.itemOf(l.layer.outputShape());
  }

  /** The values downstream of (or produced by) a use of a parameterized module: those whose gradient is needed. */
  static Set<String> needGradient(Network net) {
    Set<String> out = new HashSet<>();
    for (Step s : net.graph) {
      boolean needs = s.layer != null && !s.layer.op.parameters().isEmpty();
      for (String v : s.inputs()) needs |= out.contains(v);
      if (needs) out.add(s.value());
    }
    return out;
  }

  /** The gradient pass: each value's per-sample gradient (summed over its uses), each layer's output gradient. */
  static void backward(Pass pass) {
    Network net = pass.net;
    Backend be = net.be;
    Set<String> needed = needGradient(net);
    Batch dz = pass.own(net.loss.op.gradient(pass.lossCache, net.loss.input));
    pass.outputGradient = dz;
    Map<String, Batch> grads = pass.valueGradients;
    grads.put(net.spec.graph().output(), as(be, dz, item(net, net.spec.graph().output())));
    for (int k = net.graph.size() - 1; k >= 0; k--) {
      Step s = net.graph.get(k);
      Batch g = grads.get(s.value());
      if (g == null || !needed.contains(s.value())) continue;
      if (s.layer != null) {
        Network.LayerNode l = s.layer;
        boolean anyInput = false;
        for (String in : s.inputs()) anyInput |= needed.contains(in);
        if (!anyInput) {
          pass.outputGradients.put(l, l.asOutput(g));
          continue;
        }
        // the first input's gradient records dz; every input whose value needs one gets J_i' dz
        Batch d0 = pass.own(l.backward(pass, g));
        for (int i = 0; i < s.inputs().size(); i++) {
          String in = s.inputs().get(i);
          if (!needed.contains(in)) continue;
          accumulate(pass, in, i == 0 ? d0 : pass.own(l.backward(pass, l.inputs.get(i), g)));
        }
      } else {
        List<Batch> values = values(pass, s);
        for (int i = 0; i < s.inputs().size(); i++) {
          String v = s.inputs().get(i);
          if (!needed.contains(v)) continue;
          Batch d = s.merge.jacT(i, values, g);
          if (d != g) pass.own(d);
          accumulate(pass, v, d);
        }
      }
    }
  }

  /** The values of a step's inputs. */
  static List<Batch> values(Pass pass, Step s) {
    List<Batch> out = new ArrayList<>();
    for (String v : s.inputs()) out.add(pass.values.get(v));
    return out;
  }

  /** Adds a gradient contribution to a value's gradient. */
  private static void accumulate(Pass pass, String value, Batch d) {
    Network net = pass.net;
    d = as(net.be, d, item(net, value));
    Batch before = pass.valueGradients.get(value);
    pass.valueGradients.put(value, before == null ? d : pass.own(net.be.add(before, d)));
  }
}
