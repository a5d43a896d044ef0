package org.hbp.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.hbp.UserError;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.io.AtomicFiles;
import org.hbp.io.NdArray;
import org.hbp.io.Npz;
import org.hbp.network.ConjugateGradient;
import org.hbp.network.Curvature;
import org.hbp.network.LayerBlockLayout;
import org.hbp.network.Network;
import org.hbp.network.Pass;
import org.hbp.network.Strategy;
import org.hbp.network.TorchLayout;

/**
 * {@code hbp curvature --blocks layer}: one joint block per layer over all its parameters
 * ({@link Curvature#layerMatProd}): products with directions for every parameter
 * ({@code --vectors V.npz --out OUT.npz}, written per parameter as with per-parameter blocks), or
 * each layer's block densely ({@code --dense OUT.npz}: one {@code [D, D]} array per layer named
 * by its parameters joined with commas, e.g. {@code 0.W,0.b} ({@link OutputNames}), rows and columns over the parameters
 * stacked in that order, each flattened row-major as PyTorch flattens it: {@code [W.flatten(); b]}),
 * or the damped Newton step of paper eq. 10 with each layer's joint block
 * ({@code --solve ALPHA --out STEP.npz}: {@code [ALPHA I + (1 - ALPHA) C] d = -g} over the layer's
 * parameters together by CG, {@link Curvature#layerSolve}; written per parameter as the
 * per-parameter solve writes it; a layer of one parameter gets its parameter block's step).
 */
final class LayerBlockRuns {
  private final Network net;
  private final TorchLayout layout;
  private final Curvature c;
  private final PrintWriter w;
  private final OutputNames names;
  private final AtomicFiles.Existing existing;
  /** Runs the layers one by one with a progress bar, printing each layer's line. */
  private final CurvatureCommand.UnitSteps steps;

  /**
   * {@code existing}: what the writes do with a file at the output path (replace it, or keep it and fail); {@code steps}:
   * runs the layers in turn with a progress bar and prints each one's line.
   */
  LayerBlockRuns(Network net, TorchLayout layout, Curvature c, PrintWriter w, OutputNames names, AtomicFiles.Existing existing,
      CurvatureCommand.UnitSteps steps) {
    this.net = net;
    this.layout = layout;
    this.c = c;
    this.w = w;
    this.names = names;
    this.existing = existing;
    this.steps = steps;
    w.printf("curvature %s, strategy %s, one joint block per layer (--blocks layer)%n", c.kind().label(), c.strategy().label());
  }

  /** Refuses the modes and options that per-layer blocks do not have, naming them (before any work). */
  static void checkMode(String diagonal, String scope, Strategy strategy) {
    if (strategy != Strategy.EXACT)
      throw new UserError("--blocks layer (per-layer joint blocks) is available with --strategy exact only, not --strategy " + strategy.label()
          + " (its blocks are per parameter); use --blocks parameter");
    if (diagonal != null) throw new UserError("--diagonal gives the whole diagonal; --blocks layer does not apply");
    if (!scope.equals("blocks")) throw new UserError("--scope " + scope + " takes the whole network; --blocks layer does not apply");
  }

  /** Each layer's joint block applied to the directions of its parameters; written per parameter in PyTorch's names and shapes. */
  void products(Map<String, Batch> directions, OutputNames productNames, Path out) throws java.io.IOException {
    Map<String, NdArray> result = new LinkedHashMap<>();
    List<List<String>> groups = c.layerGroups();
    steps.each(labels(groups), "joint products", (i, label) -> {
      List<String> group = groups.get(i);
      Map<String, Batch> v = new LinkedHashMap<>();
      for (String p : group) if (directions.get(p) != null) v.put(p, directions.get(p));
      if (v.isEmpty()) throw new UserError("--vectors has no directions for the parameters " + group + " of one layer; give them");
      long t0 = System.nanoTime();
      Map<String, Batch> products = c.layerMatProd(v);
      for (String p : group) result.put(productNames.of(p), productNames.shaped(p, layout.toTorch(p, products.get(p), false)));
      return String.format("  %s: %s in %.2f s", label, Words.count(v.values().iterator().next().directions(), "product"), (System.nanoTime() - t0) / 1e9);
    });
    Npz.write(out, existing, result);
    w.println("wrote " + out);
  }

  /** Each layer's parameters joined with commas: the units of the progress bar and of the lines. */
  private static List<String> labels(List<List<String>> groups) {
    List<String> labels = new ArrayList<>();
    for (List<String> g : groups) labels.add(String.join(",", g));
    return labels;
  }

  /**
   * The damped Newton step of eq. 10 with each layer's joint block, {@code [alpha I + (1 - alpha) C] d = -g}
   * by CG over the layer's parameters together ({@link Curvature#layerSolve}); written per parameter
   * in PyTorch's names and shapes, as the per-parameter solve writes it.
   */
  void solve(Pass pass, double alpha, ConjugateGradient.Settings settings, Path out) throws java.io.IOException {
    Backend be = net.backend();
    Map<String, NdArray> result = new LinkedHashMap<>();
    List<List<String>> groups = c.layerGroups();
    steps.each(labels(groups), "joint CG solve", (i, label) -> {
      List<String> group = groups.get(i);
      Map<String, Batch> minusG = new LinkedHashMap<>();
      for (String p : group) minusG.put(p, be.scale(pass.gradient(p), -1));
      ConjugateGradient.JointResult r = c.layerSolve(minusG, alpha, settings);
      for (String p : group) {
        result.put(names.of(p), names.shaped(p, layout.toTorch(p, r.solution().get(p), true)));
        be.release(r.solution().get(p));
        be.release(minusG.get(p));
      }
      // named as the products' lines are: by hbp's names (the arrays written carry --params's)
      return String.format("  %s: CG %s, residual %.3g (|b| %.3g)%s", label, Words.count(r.iterations(), "iteration"), r.residualNorm(), r.rhsNorm(),
          r.negativeCurvature() != null ? ", " + r.negativeCurvature().describe() : r.converged() ? "" : ", not converged");
    });
    Npz.write(out, existing, result);
    w.println("wrote " + out);
  }

  /** Each layer's dense joint block, {@code [D, D]} in PyTorch's flattening, named by its parameters joined with commas. */
  void dense(Path out, long limit) throws java.io.IOException {
    Map<String, NdArray> result = new LinkedHashMap<>();
    List<List<String>> groups = c.layerGroups();
    steps.each(labels(groups), "dense joint block", (i, label) -> {
      List<String> group = groups.get(i);
      long t0 = System.nanoTime();
      NdArray d = LayerBlockLayout.toTorch(layout, net, group, c.layerDense(group.get(0), limit));
      List<String> written = new ArrayList<>();
      for (String p : group) written.add(names.of(p));
      result.put(String.join(",", written), d);
      return String.format("  [%d/%d] %s: %d x %d joint block in %.2f s", i + 1, groups.size(), String.join(",", written), d.shape()[0], d.shape()[0],
          (System.nanoTime() - t0) / 1e9);
    });
    Npz.write(out, existing, result);
    w.println("wrote " + out);
  }
}
