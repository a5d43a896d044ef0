package org.hbp.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.hbp.UserError;
import org.hbp.backend.Batch;
import org.hbp.data.DataSets;
import org.hbp.data.Split;
import org.hbp.network.Curvature;
import org.hbp.network.MemoryEstimate;
import org.hbp.network.ModuleLibrary;
import org.hbp.network.Network;
import org.hbp.network.NetworkResolver;
import org.hbp.network.NetworkSpec;
import org.hbp.train.Experiments;
import org.hbp.train.Initialization;
import org.hbp.train.Optimizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code hbp experiment fig4|fig5}: the paper's experiments on Fashion-MNIST, with plots and the claims checked. */
@Command(name = "experiment",
    header = "Re-run the paper's Fashion-MNIST experiments (fig4, fig5).",
    description = {
        "Re-run the paper's experiments on Fashion-MNIST: fig4 (FC sigmoid net: SGD against CG-Newton with GGN, "
            + "PCH-abs, PCH-clip (bda) and PCH-abs with 2, 4, 16 sub-blocks) or fig5 (c4d3 sigmoid CNN: exact CG-Newton "
            + "with GGN (two dampings), PCH-abs, PCH-clip against SGD and Adam). Runs every configuration for each seed "
            + "into OUT/<configuration>/seed-<s> (an interrupted experiment resumes where it stopped), draws "
            + "OUT/plots/*.png (mean ± std over seeds) and writes OUT/summary.md: a table and whether each of the "
            + "paper's claims held.",
        "--scale small (a data subset, fewer epochs), medium (fig4: all of Fashion-MNIST, 5 epochs; fig5: 1000 images, 4 epochs, 20 CG iterations) or full (the paper's schedule)."})
public final class ExperimentCommand extends HbpCommand {
  @Parameters(index = "0", paramLabel = "fig4|fig5", description = "Which experiment.")
  String figure;

  @Option(names = "--scale", defaultValue = "small",
      description = "small (default: a subset, a few epochs), medium (fig4: all of Fashion-MNIST, 5 epochs; fig5: 1000 images, 4 epochs, 20 CG iterations) or full (the paper's schedule).")
  String scale;

  @Option(names = "--only", split = ",", paramLabel = "TEXT", description = "Run only these configurations: a whole label selects it alone, other text every label containing it (e.g. SGD,GGN).")
  List<String> only;

  @Option(names = "--seeds", defaultValue = "2", description = "Seeds per configuration (default 2).")
  int seeds;

  @Option(names = "--data", defaultValue = "fashion-mnist", paramLabel = "D", description = "fashion-mnist (default) or fashion-mnist:DIR.")
  String data;

  @Option(names = "--out", paramLabel = "DIR", description = "Output directory (default experiments/<fig>-<scale>).")
  Path out;

  @Option(names = "--backend", defaultValue = Defaults.TRAINING_BACKEND, paramLabel = "B",
      description = "blas-f32, blas-f64 or cpu (default: ${DEFAULT-VALUE}, " + Defaults.TRAINING_BACKEND_REASON + ").")
  String backend;

  @Mixin ComputeOptions compute;

  @Override
  public Integer call() throws Exception {
    if (seeds < 1) throw new UserError("--seeds must be >= 1, not " + seeds);
    PrintWriter w = out();
    Experiments.Plan plan = Experiments.only(Experiments.plan(figure, scale), only);
    NetworkSpec ns = NetworkResolver.load(ModuleLibrary.builtInNetwork(plan.network()), null, ModuleLibrary.builtInSpecDirs());
    List<Integer> in = ns.inputShape();
    Split all = DataSets.load(data, 0, in.get(0), in.get(1), in.get(2), 10).normalized();
    Split split = Experiments.data(plan, all);
    checkMemory(plan, ns);
    Path dir = out != null ? out : Path.of("experiments", figure + "-" + scale);
    w.printf("%s, scale %s: %d configurations x %d seeds, %s, %d training and %d test samples, %d epochs -> %s%n", figure, scale,
        plan.configs().size(), seeds, plan.network(), split.train().size(), split.test().size(), plan.epochs(), dir);
    w.flush();
    Experiments.run(plan, split, seeds, dir, () -> compute.network(ns, backend), data, w,
        System.console() != null);
    return 0;
  }

  /**
   * Every configuration's memory estimate ({@link MemoryEstimate#training}: its batch, evaluations
   * of 1000 as the experiments run them) within the explicit-matrix limit the experiments use and
   * the memory this process has, before anything is trained.
   */
  private void checkMemory(Experiments.Plan plan, NetworkSpec ns) {
    Network net = compute.network(ns, backend);
    long limit = Curvature.DEFAULT_MEMORY_LIMIT;
    MemoryEstimate.checkParameters(net, 2, "the heap: JAVA_TOOL_OPTIONS=-Xmx8g", limit);
    Map<String, Batch> initial = Initialization.xavierNormal(net, 0);
    for (Experiments.Config c : plan.configs()) {
      try {
        MemoryEstimate.training(net, initial, c.batch(), plan.evalBatch(), probe -> {
          Optimizer o = c.create(probe, limit);
          return o::step;
        }).check(limit);
      } catch (IllegalArgumentException e) {
        throw new UserError("configuration '" + c.label() + "': " + e.getMessage(), e);
      }
    }
    for (Batch b : initial.values()) net.backend().release(b);
  }
}
