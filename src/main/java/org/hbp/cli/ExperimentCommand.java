package org.hbp.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.hbp.UserError;
import org.hbp.backend.Batch;
import org.hbp.data.DataSets;
import org.hbp.data.Split;
import org.hbp.network.MemoryEstimate;
import org.hbp.network.ModuleLibrary;
import org.hbp.network.Network;
import org.hbp.network.NetworkResolver;
import org.hbp.network.NetworkSpec;
import org.hbp.network.Strategy;
import org.hbp.train.Experiments;
import org.hbp.train.Initialization;
import org.hbp.train.Optimizer;
import org.hbp.train.Progress;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
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
            + "paper's claims held. Plots and a summary that hbp wrote there before are written again; any other file at "
            + "their names is refused before any training unless --overwrite.",
        "--scale small (a data subset, fewer epochs), medium (fig4: all of Fashion-MNIST, 5 epochs; fig5: 1000 images, 4 epochs, 20 CG iterations) or full (the paper's schedule)."})
public final class ExperimentCommand extends HbpCommand implements DrawsProgress {
  @Parameters(index = "0", paramLabel = "fig4|fig5", description = "Which experiment.")
  String figure;

  @Option(names = "--scale", defaultValue = "small",
      description = "small (default: a subset, a few epochs), medium (fig4: all of Fashion-MNIST, 5 epochs; fig5: 1000 images, 4 epochs, 20 CG iterations) or full (the paper's schedule).")
  String scale;

  @Option(names = "--only", paramLabel = "TEXT", description = "Run only these configurations: a whole label selects it alone, other text every "
      + "label containing it (e.g. SGD,GGN); an entry that matches none, or an empty one, is refused.")
  List<String> only;

  /** The entries of {@code --only} (each occurrence split at commas, empty entries kept to be refused); null when not given. */
  private List<String> onlyEntries() {
    if (only == null) return null;
    List<String> entries = new ArrayList<>();
    for (String o : only) entries.addAll(List.of(o.split(",", -1)));
    return entries;
  }

  @Option(names = "--seeds", defaultValue = "2", description = "Seeds per configuration (default 2).")
  int seeds;

  @Option(names = "--data", defaultValue = "fashion-mnist", paramLabel = "D",
      description = "fashion-mnist (default), fashion-mnist:DIR, or synthetic[:TRAIN,TEST] (seeded random images of Fashion-MNIST's shape "
          + "and 10 classes, default 2000 and 500: to try the command, not the paper's data).")
  String data;

  /** The kinds of {@code --data} an experiment takes: its nets take 1x28x28 images of 10 classes. */
  static final List<String> DATA_KINDS = List.of("fashion-mnist", "synthetic");

  @Option(names = "--out", paramLabel = "DIR", description = "Output directory (default experiments/<fig>-<scale>).")
  Path out;

  @Option(names = "--backend", defaultValue = Defaults.TRAINING_BACKEND, paramLabel = "B",
      description = "blas-f32, blas-f64 or cpu (default: ${DEFAULT-VALUE}, " + Defaults.TRAINING_BACKEND_REASON + ").")
  String backend;

  @Option(names = "--strategy", defaultValue = PAPER, paramLabel = "S", converter = PaperOrStrategy.class,
      description = "Curvature strategy of the CG-Newton configurations (default: ${DEFAULT-VALUE}: each configuration's own, bda for fig4 "
          + "and exact for fig5, as the paper ran them), or exact, kfra, bda, kfac, kflr, ekfac, diag-ggn, diag-ggn-mc or diag-hessian for "
          + "all of them; one that does not compute a configuration's curvature is refused before any run (select others with --only). "
          + "The default --out then ends in -<strategy>.")
  Strategy strategy;

  /** {@code --strategy}'s default: each configuration's own strategy, as the paper ran it. */
  static final String PAPER = "paper";

  /** {@code --strategy}: {@value #PAPER} (null: the plan's own) or a strategy's label. */
  static final class PaperOrStrategy implements ITypeConverter<Strategy> {
    @Override
    public Strategy convert(String text) {
      if (text.equals(PAPER)) return null;
      for (Strategy s : Strategy.values()) if (s.label().equals(text)) return s;
      List<String> labels = new ArrayList<>(List.of(PAPER));
      for (Strategy s : Strategy.values()) labels.add(s.label());
      throw new UserError("unknown strategy '" + text + "'; expected " + Choices.alternatives(labels));
    }
  }

  @Mixin MemoryLimitOption memoryLimit;

  @Mixin ComputeOptions compute;

  @Mixin OverwriteOption overwrite;

  @Override
  public Integer call() throws Exception {
    if (seeds < 1) throw new UserError("--seeds must be >= 1, not " + seeds);
    String kind = data.strip().split(":", 2)[0];
    if (!DATA_KINDS.contains(kind))
      throw new UserError("--data '" + data + "': an experiment trains its Fashion-MNIST nets on fashion-mnist, fashion-mnist:DIR, synthetic or "
          + "synthetic:TRAIN,TEST");
    PrintWriter w = out();
    Experiments.Plan plan = Experiments.withStrategy(Experiments.only(Experiments.plan(figure, scale), onlyEntries()), strategy);
    Path dir = out != null ? out : Path.of("experiments", figure + "-" + scale + (strategy == null ? "" : "-" + strategy.label()));
    Experiments.checkOutputs(dir, overwrite.overwrite);
    NetworkSpec ns = NetworkResolver.load(ModuleLibrary.builtInNetwork(plan.network()), null, ModuleLibrary.builtInSpecDirs());
    List<Integer> in = ns.inputShape();
    Split all = DataSets.load(data, 0, in.get(0), in.get(1), in.get(2), 10).normalized();
    Split split = Experiments.data(plan, all);
    checkMemory(plan, ns);
    w.printf("%s, scale %s: %s x %s, %s, %d training and %d test samples, %s -> %s%n", figure, scale, Words.count(plan.configs().size(), "configuration"),
        Words.count(seeds, "seed"), plan.network(), split.train().size(), split.test().size(), Words.count(plan.epochs(), "epoch"), dir);
    w.flush();
    ProgressMode progress = ProgressMode.onStandardOutput();
    Experiments.run(plan, split, seeds, dir, () -> compute.network(ns, backend), data, w, progress == ProgressMode.BAR, !ProgressMode.forcedOff(),
        memoryLimit.bytes(),
        (label, seed, line) -> runNotice(w, label, seed, line), overwrite.overwrite);
    return 0;
  }

  /**
   * A notice of a run's steps (a curvature computed in chunks of samples), naming the configuration
   * and seed, on standard error; after a progress bar's open line on {@code progress}, a line break there first.
   */
  private void runNotice(PrintWriter progress, String label, long seed, String line) {
    if (Progress.lineOpen()) {
      progress.println();
      progress.flush();
    }
    notice("configuration '" + label + "', seed " + seed + ": " + line);
  }

  /**
   * Every configuration's memory estimate ({@link MemoryEstimate#training}: its batch, evaluations
   * of the plan's batch as the experiments run them) within {@code --memory-limit} and the memory
   * this process has, before anything is trained; its trial step also refuses a strategy that does
   * not compute the configuration's curvature.
   */
  private void checkMemory(Experiments.Plan plan, NetworkSpec ns) {
    Network net = compute.network(ns, backend);
    long limit = memoryLimit.bytes();
    MemoryEstimate.checkParameters(net, 2, "raise --memory-limit (or the heap: JAVA_TOOL_OPTIONS=-Xmx8g)", limit);
    Map<String, Batch> initial = Initialization.xavierNormal(net, 0);
    for (Experiments.Config c : plan.configs()) {
      try {
        MemoryEstimate.training(net, initial, c.batch(), plan.evalBatch(), probe -> {
          Optimizer o = c.create(probe, limit);
          return o::step;
        }).check(limit);
      } catch (IllegalArgumentException e) { // UserError among them: a refusal of the estimate, the optimizer or the strategy
        // the strategy's own refusal of the configuration's curvature says how to leave that configuration out
        String override = strategy == null || c.strategy() == null || !e.getMessage().contains("--strategy " + strategy.label()) ? ""
            : " (--strategy " + strategy.label() + " applies to every CG-Newton configuration: select those it computes with --only)";
        throw new UserError("configuration '" + c.label() + "': " + e.getMessage() + override, e);
      }
    }
    for (Batch b : initial.values()) net.backend().release(b);
  }
}
