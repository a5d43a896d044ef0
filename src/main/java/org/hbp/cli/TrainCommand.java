package org.hbp.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.hbp.backend.Backend;
import org.hbp.UserError;
import org.hbp.backend.Batch;
import org.hbp.data.DataSets;
import org.hbp.data.Split;
import org.hbp.io.NdArray;
import org.hbp.io.RegeneratedFiles;
import org.hbp.network.ConjugateGradient;
import org.hbp.network.CurvatureKind;
import org.hbp.network.MemoryEstimate;
import org.hbp.network.Network;
import org.hbp.network.NetworkSpec;
import org.hbp.network.Strategy;
import org.hbp.network.TorchLayout;
import org.hbp.plot.RunMetrics;
import org.hbp.plot.TrainingPlots;
import org.hbp.train.Adam;
import org.hbp.train.CgNewton;
import org.hbp.train.KfacNewton;
import org.hbp.train.Initialization;
import org.hbp.train.MetricFormat;
import org.hbp.train.Optimizer;
import org.hbp.train.Progress;
import org.hbp.train.Sgd;
import org.hbp.train.Trainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code hbp train}: trains a network from the DSL with CG-Newton (paper eq. 10), SGD or Adam. */
@Command(name = "train",
    header = "Train a network with CG-Newton, KFAC, SGD or Adam.",
    description = {
        "Train a network (declared in the DSL) on Fashion-MNIST, CIFAR-10 or a synthetic data set with the paper's "
            + "CG-Newton optimizer (per block [alpha I + (1 - alpha) C] d = -g by CG, theta += lr d; C = Hessian, GGN or "
            + "PCH blocks by any --strategy), the same step in closed form with Kronecker factors or diagonals (--optimizer kfac), "
            + "SGD with momentum, or Adam. Shows progress; writes RUN_DIR/config.json, "
            + "per-epoch metrics (metrics.csv, metrics.jsonl: training loss on a test-sized training subset, test loss "
            + "and accuracy, wall time, CG iterations), checkpoint.npz after each epoch (--resume continues from it), "
            + "and plots/*.png."})
public final class TrainCommand extends HbpCommand implements DrawsProgress {
  @Mixin NetworkOptions networkOptions;

  @Option(names = "--data", defaultValue = "synthetic", paramLabel = "D",
      description = "fashion-mnist[:DIR] (Debian's dataset-fashion-mnist), cifar10:DIR (binary version), synthetic[:TRAIN,TEST] (default), sequences[:TRAIN,TEST] (one-hot token sequences for a matrix(V, T) input).")
  String data;

  @Option(names = "--optimizer", defaultValue = "cg-newton", paramLabel = "O",
      description = "cg-newton (default), sgd, adam, or kfac (eq. 10 with --strategy kfac (its default), kflr, ekfac, diag-ggn, diag-ggn-mc or "
          + "diag-hessian, solved in closed form).",
      converter = Choices.Optimizers.class)
  OptimizerKind optimizer;

  /** The optimizers of {@code --optimizer}. */
  enum OptimizerKind implements Choices.Choice { CG_NEWTON, SGD, ADAM, KFAC }

  @Option(names = {"--lr", "--gamma"}, paramLabel = "LR",
      description = "Learning rate (gamma of eq. 10). Default: 0.1 for cg-newton, kfac and sgd, 0.001 for adam.")
  Double lr;

  @Option(names = "--alpha", defaultValue = "0.02", description = "cg-newton, kfac: damping alpha of eq. 10 (default 0.02).")
  double alpha;

  @Option(names = "--curvature", defaultValue = Defaults.CURVATURE, paramLabel = "C",
      description = "hessian, ggn, pch-abs or pch-clip (default: ${DEFAULT-VALUE}; with --strategy diag-hessian the Hessian, the curvature "
          + "it is defined for); a curvature the strategy does not define on the network is refused, naming the layer.",
      converter = Choices.CurvatureKinds.class)
  CurvatureKind curvature;

  @Option(names = "--strategy", defaultValue = Defaults.TRAINING_STRATEGY, paramLabel = "S",
      description = "cg-newton: exact, kfra, bda, kfac, kflr, ekfac, diag-ggn, diag-ggn-mc or diag-hessian (default: ${DEFAULT-VALUE}, "
          + Defaults.TRAINING_STRATEGY_REASON + "); kfac: kfac, kflr, ekfac, diag-ggn, diag-ggn-mc or diag-hessian (default there: kfac).",
      converter = Choices.Strategies.class)
  Strategy strategy;

  /**
   * {@code --strategy} of {@code --optimizer kfac} when none is given: kfac ({@link
   * Defaults#TRAINING_STRATEGY}, bda, is cg-newton's and has no closed-form inverse).
   */
  static final Strategy KFAC_OPTIMIZER_STRATEGY = Strategy.KFAC;

  /** Sets {@link #strategy} to {@link #KFAC_OPTIMIZER_STRATEGY} for {@code --optimizer kfac} without {@code --strategy}. */
  private void defaultStrategy() {
    if (optimizer == OptimizerKind.KFAC && !spec.commandLine().getParseResult().hasMatchedOption("--strategy")) strategy = KFAC_OPTIMIZER_STRATEGY;
  }

  @Option(names = "--blocks", defaultValue = Defaults.BLOCKS, paramLabel = "K", converter = BlockChoice.Converter.class,
      description = "cg-newton: K row sub-blocks per parameter, or layer: one joint block per layer over all its parameters, cross terms "
          + "included (--strategy exact, --curvature ggn or hessian) (default: ${DEFAULT-VALUE}).")
  BlockChoice blocks;

  @Option(names = "--cg-maxiter", defaultValue = Defaults.CG_MAXITER, description = "cg-newton: CG iteration limit (default: ${DEFAULT-VALUE}).")
  int cgMaxiter;

  @Option(names = "--cg-tol", defaultValue = Defaults.CG_TOL, description = "cg-newton: CG relative tolerance (default: ${DEFAULT-VALUE}).")
  double cgTol;

  @Option(names = "--cg-atol", defaultValue = Defaults.CG_ATOL, description = "cg-newton: CG absolute tolerance (default: ${DEFAULT-VALUE}).")
  double cgAtol;

  @Mixin MemoryLimitOption memoryLimit;

  @Mixin KfacOptionsMixin kfac;

  @Mixin GgnRouteOption ggnRoute;

  @Option(names = "--momentum", defaultValue = "0.9", description = "sgd: momentum (default 0.9).")
  double momentum;

  @Option(names = "--beta1", defaultValue = "0.9", description = "adam: beta1 (default 0.9).")
  double beta1;

  @Option(names = "--beta2", defaultValue = "0.999", description = "adam: beta2 (default 0.999).")
  double beta2;

  @Option(names = "--eps", defaultValue = "1e-8", description = "adam: epsilon (default 1e-8).")
  double eps;

  @Option(names = "--epochs", defaultValue = "10", description = "Epochs (default 10).")
  int epochs;

  @Option(names = "--batch", defaultValue = "500", description = "Mini-batch size (default 500).")
  int batch;

  @Option(names = "--eval-batch", defaultValue = "1000", description = "Batch size of the evaluations (default 1000).")
  int evalBatch;

  @Option(names = "--seed", defaultValue = "0", description = "Seed of initialization, shuffling and synthetic data (default 0).")
  long seed;

  @Option(names = "--out", required = true, paramLabel = "RUN_DIR",
      description = "Run directory (metrics, checkpoint, plots): new or empty, or a run to --resume; locked while training.")
  Path out;

  @Option(names = "--resume",
      description = "Continue the run in RUN_DIR from its last checkpoint; settings that change results must equal those in RUN_DIR/config.json.")
  boolean resume;

  @Option(names = "--label", paramLabel = "TEXT", description = "Label of the run in plots (default: the optimizer's settings).")
  String label;

  @Option(names = "--backend", defaultValue = Defaults.TRAINING_BACKEND, paramLabel = "B",
      description = "blas-f32, blas-f64 or cpu (default: ${DEFAULT-VALUE}, " + Defaults.TRAINING_BACKEND_REASON + ").")
  String backend;

  @Mixin ComputeOptions compute;

  @Option(names = "--no-plots", description = "Do not draw RUN_DIR/plots/*.png at the end.")
  boolean noPlots;

  /** The optimizer settings of another optimizer than the chosen one are refused, not ignored. */
  private void checkOptionsApply() {
    String o = "to --optimizer ";
    OptimizerKind k = optimizer;
    OptionScope.of(spec)
        .onlyWhen(k == OptimizerKind.CG_NEWTON || k == OptimizerKind.KFAC, o + "cg-newton and kfac", "--alpha", "--strategy", "--curvature")
        .onlyWhen(k == OptimizerKind.CG_NEWTON, o + "cg-newton", "--blocks", "--cg-maxiter", "--cg-tol", "--cg-atol", "--ggn-route")
        .onlyWhen(k == OptimizerKind.SGD, o + "sgd", "--momentum")
        .onlyWhen(k == OptimizerKind.ADAM, o + "adam", "--beta1", "--beta2", "--eps")
        .onlyWhen((k == OptimizerKind.CG_NEWTON || k == OptimizerKind.KFAC) && strategy.drawsMonteCarlo(),
            "with --strategy kfac or diag-ggn-mc", "--mc-samples")
        .onlyWhen((k == OptimizerKind.CG_NEWTON || k == OptimizerKind.KFAC) && strategy == Strategy.KFAC, "with --strategy kfac", "--fisher");
  }

  @Override
  public Integer call() throws Exception {
    defaultStrategy();
    curvature = Choices.curvature(spec, curvature, strategy.fixedCurvature());
    checkOptionsApply();
    PrintWriter w = out();
    PrintWriter err = err();
    NetworkSpec ns = networkOptions.load();
    Network net = compute.network(ns, backend);
    networkOptions.bindData(net, null);
    Backend be = net.backend();
    List<Integer> in = ns.inputShape();
    int[] t = net.targetShape();
    // made before the data is read: its refusals (a curvature the strategy does not define, a step's own memory) come first
    Optimizer opt = optimizer(net);
    Split split = DataSets.forInput(data, seed, in, t[0] * t[1]).normalized();
    Map<String, Batch> initial = checkedInitialization(net);
    ProgressMode progress = ProgressMode.current();
    Trainer trainer = new Trainer(net, split, opt, new Trainer.Settings(epochs, batch, seed, evalBatch), out, err, progress == ProgressMode.BAR,
        !ProgressMode.forcedOff());
    w.printf(Locale.ROOT, "training %s (%d parameters) on %s (%d train, %d test) with %s, batch %d, %s, backend %s%n", ns.name(),
        parameterCount(net), split.train().name(), split.train().size(), split.test().size(), opt.label(), batch, Words.count(epochs, "epoch"), be.name());
    w.flush();
    if (resume && !noPlots) { // a resumed run's plots are drawn again at its end: refuse now, not after the training, files not hbp's
      List<String> foreign = RegeneratedFiles.foreign(out.resolve("plots"), TrainingPlots.FILES);
      if (!foreign.isEmpty())
        throw new UserError(out.resolve("plots") + " holds " + String.join(", ", foreign) + ", not written by hbp there (or changed since); "
            + "remove them, or pass --no-plots");
    }
    List<RunMetrics.Row> rows;
    if (resume) rows = trainer.resume(initial, config(ns, opt));
    else rows = trainer.start(initial, config(ns, opt));
    RunMetrics.Row last = rows.get(rows.size() - 1);
    w.printf(Locale.ROOT, "done: epoch %d, test loss %s, test accuracy %s, training time %.1f s; metrics in %s%n", last.epoch(),
        MetricFormat.of(last.testLoss()), MetricFormat.of(last.testAccuracy()), last.wallSeconds(), out.resolve("metrics.csv"));
    if (!noPlots) {
      for (Path p : TrainingPlots.write(List.of(RunMetrics.read(out)), out.resolve("plots"), ns.name() + ": " + label(opt)))
        w.println("wrote " + p);
    }
    w.flush();
    return 0;
  }

  private String label(Optimizer opt) {
    return label != null ? label : opt.label();
  }

  private static long parameterCount(Network net) {
    long n = 0;
    for (String p : net.parameterNames()) n += net.parameterSize(p);
    return n;
  }

  /**
   * The initial parameters, once the memory estimate says the run fits: the parameters and the
   * optimizer's state from their shapes first, then two training steps and an evaluation measured
   * on a few samples ({@link MemoryEstimate#training}, CG limited to 2 iterations there).
   */
  private Map<String, Batch> checkedInitialization(Network net) {
    long limit = memoryLimit.bytes();
    int copies = switch (optimizer) {
      case ADAM -> 2;
      case SGD -> 1;
      case CG_NEWTON, KFAC -> 0;
    };
    MemoryEstimate.checkParameters(net, copies, "use a smaller network, or raise --memory-limit (or the heap: JAVA_TOOL_OPTIONS=-Xmx8g)", limit);
    Map<String, NdArray> onnx = networkOptions.importedParameters(); // an ONNX --net starts from its initializers
    Map<String, Batch> initial = onnx != null ? new TorchLayout(net).parametersOnly(onnx, networkOptions.parameterSource(null))
        : Initialization.xavierNormal(net, seed);
    MemoryEstimate.training(net, initial, batch, evalBatch, probe -> {
      Optimizer o = optimizer(probe, Math.min(cgMaxiter, 2), line -> {}); // the trial's 2 samples say nothing
      return o::step;
    }).check(limit);
    return initial;
  }

  /** The run's optimizer; a {@code diag-*} strategy computed in chunks of samples says so once, on standard error. */
  Optimizer optimizer(Network net) {
    return optimizer(net, cgMaxiter, this::stepNotice);
  }

  /** A notice of the steps, on its own line: after a progress bar's open line, a line break first. */
  private void stepNotice(String line) {
    if (Progress.lineOpen()) err().println();
    notice(line);
  }

  private Optimizer optimizer(Network net, int cgIterations, java.util.function.Consumer<String> notices) {
    switch (optimizer) {
      case CG_NEWTON:
        return new CgNewton(net, cgNewton(cgIterations), notices);
      case SGD:
        return new Sgd(net, lr == null ? 0.1 : lr, momentum);
      case ADAM:
        return new Adam(net, lr == null ? 1e-3 : lr, beta1, beta2, eps);
      case KFAC:
        return new KfacNewton(net, new KfacNewton.Settings(lr == null ? 0.1 : lr, alpha, curvature, strategy, kfac.options(seed), memoryLimit.bytes()),
            notices);
      default:
        throw new IllegalStateException("optimizer " + optimizer);
    }
  }

  /** The CG-Newton settings of the options, with CG limited to {@code cgIterations}. */
  private CgNewton.Settings cgNewton(int cgIterations) {
    return new CgNewton.Settings(lr == null ? 0.1 : lr, alpha, curvature, strategy, blocks.rowGroups(), blocks.layer(),
        new ConjugateGradient.Settings(cgTol, cgAtol, cgIterations), memoryLimit.bytes(), ggnRoute.route(), kfac.options(seed));
  }

  private Map<String, Object> config(NetworkSpec ns, Optimizer opt) {
    Map<String, Object> c = new LinkedHashMap<>();
    c.put("label", label(opt));
    c.put("seed", seed);
    c.put("net", networkOptions.netFile.toString());
    c.put("network", ns.name());
    c.put("data", data);
    c.putAll(opt.config());
    c.put("epochs", epochs);
    c.put("batch", batch);
    c.put("backend", backend);
    c.put("device", compute.device.device);
    // the parse result's original arguments start with the subcommand's name
    c.put("command", commandLine(spec.commandLine().getParseResult().originalArgs()));
    return c;
  }


  /** The command line as a shell would take it: {@code hbp} and the arguments, those with special characters single-quoted. */
  static String commandLine(List<String> args) {
    StringBuilder sb = new StringBuilder("hbp");
    for (String a : args)
      sb.append(' ').append(a.matches("[A-Za-z0-9_@%+=:,./-]+") ? a : "'" + a.replace("'", "'\\''") + "'");
    return sb.toString();
  }
}
