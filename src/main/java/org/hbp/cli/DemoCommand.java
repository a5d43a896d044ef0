package org.hbp.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.hbp.UserError;
import org.hbp.backend.Backend;
import org.hbp.backend.Backends;
import org.hbp.backend.Batch;
import org.hbp.backend.cpu.CpuBackend;
import org.hbp.data.FashionMnist;
import org.hbp.data.MiniBatches;
import org.hbp.data.Split;
import org.hbp.data.Synthetic;
import org.hbp.derive.Formats;
import org.hbp.derive.ModuleRules;
import org.hbp.dsl.Dsl;
import org.hbp.dsl.ModuleSpec;
import org.hbp.dsl.Spec;
import org.hbp.io.RegeneratedFiles;
import org.hbp.network.ConjugateGradient;
import org.hbp.network.CurvatureKind;
import org.hbp.network.ModuleLibrary;
import org.hbp.network.Network;
import org.hbp.network.NetworkResolver;
import org.hbp.network.NetworkSpec;
import org.hbp.network.Pass;
import org.hbp.network.ResidualModification;
import org.hbp.network.ResidualPolicy;
import org.hbp.network.Strategy;
import org.hbp.network.TorchLayout;
import org.hbp.plot.RunMetrics;
import org.hbp.plot.TrainingPlots;
import org.hbp.runtime.BuiltInOperators;
import org.hbp.runtime.ForwardCache;
import org.hbp.runtime.ModuleOperator;
import org.hbp.train.CgNewton;
import org.hbp.train.Initialization;
import org.hbp.train.MetricFormat;
import org.hbp.train.Optimizer;
import org.hbp.train.Sgd;
import org.hbp.train.Trainer;
import org.hbp.verify.OperatorCheck;
import org.hbp.verify.SpecCheck;
import org.hbp.verify.SpecVerifier;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code hbp demo}, the main job on built-in data: derives and checks every built-in spec, uses a
 * generated operator, computes curvature blocks of a small net, trains it with CG-Newton against
 * SGD and plots the runs.
 */
@Command(name = "demo",
    header = "Derive, verify, compute curvature and train a small net.",
    description = {
        "1. Derive the HBP rules of every spec in modules-spec/ (Table 1 of the paper), check each Jacobian and "
            + "residual against central finite differences at random shapes and points, and every method of each "
            + "generated operator against EJML references (as hbp verify does).",
        "2. Use a generated operator (sigmoid) on a batch.",
        "3. Curvature of a small net on a batch: GGN, Hessian and PCH blocks, exact and bda.",
        "4. Train that net with CG-Newton (GGN, bda) and with SGD on Fashion-MNIST where Debian's "
            + "dataset-fashion-mnist is installed (a 10000-image subset), else on synthetic data; write metrics and "
            + "plots to --out. Files an earlier demo wrote there are replaced; any other file at their names is refused "
            + "before any work unless --overwrite."})
public final class DemoCommand extends HbpCommand implements DrawsProgress {
  @Option(names = "--specs", defaultValue = "modules-spec", paramLabel = "DIR", description = "Folder of .hbp specs (default: modules-spec).")
  Path specs;

  @Option(names = "--seed", defaultValue = "1", description = "Seed of the random shapes and points.")
  long seed;

  @Option(names = "--out", defaultValue = "demo-output", paramLabel = "DIR", description = "Where the training runs and plots go (default demo-output).")
  Path out;

  @Option(names = "--epochs", defaultValue = "3", description = "Training epochs of part 4 (default 3).")
  int epochs;

  @Mixin OverwriteOption overwrite;

  /** Part 4's runs: each a folder of --out, and its label. */
  private static final String[][] RUNS = {{"sgd", "SGD (lr 0.1, momentum 0.9)"}, {"cg-newton", "CG-Newton GGN bda (gamma 0.1, alpha 0.02)"}};

  /** What a training run writes into its folder (the demo's runs write no plots of their own). */
  private static final List<String> RUN_FILES = List.of("config.json", "metrics.csv", "metrics.jsonl", "checkpoint.npz");

  /** The lock file a training leaves in its folder ({@code hbp train}'s). */
  private static final String TRAIN_LOCK = ".hbp-train.lock";

  @Override
  public Integer call() throws Exception {
    PrintWriter w = out();
    if (!Files.isDirectory(specs)) throw new UserError("spec folder not found: " + specs + " (run from the repository root or pass --specs DIR)");
    checkOutputs();
    List<Path> files;
    try (var s = Files.list(specs)) {
      files = s.filter(p -> p.toString().endsWith(".hbp")).sorted().toList();
    }
    int failures = 0, checks = 0, methodChecks = 0, methodFailures = 0;
    for (Path f : files) {
      Spec s = Dsl.parseFile(f);
      SpecVerifier.FileResult verified = SpecVerifier.verify(f, null, seed, 3);
      for (int i = 0; i < s.modules().size(); i++) {
        ModuleSpec m = s.modules().get(i);
        w.print(rulesOrSummary(f, m, Formats.text(m, ModuleRules.derive(m))));
        SpecCheck.Report r = SpecCheck.check(m, seed, 3);
        checks += r.checks();
        failures += r.failures().size();
        w.println("  numeric check of the rules: " + r.summary());
        SpecVerifier.ModuleResult op = verified.modules().get(i);
        List<OperatorCheck.Row> rows = op.report().rows();
        long failed = rows.stream().filter(x -> !x.passed()).count();
        double worst = rows.stream().mapToDouble(OperatorCheck.Row::maxRel).max().orElse(0);
        methodChecks += rows.size();
        methodFailures += (int) failed;
        w.printf("  generated operator %s: %d method checks, %d failed, worst relative error %.1e%n", op.module().name(), rows.size(), failed,
            worst);
        for (OperatorCheck.Row x : rows) if (!x.passed()) w.printf("    FAIL %s %s: %.2e%s%n", x.method, x.wrt, x.maxRel(), x.failure() == null ? "" : " " + x.failure());
        w.println();
        w.flush();
      }
    }
    w.println(checks + " numeric checks of derived rules against finite differences, " + failures + " failed");
    w.println(methodChecks + " checks of generated operator methods against EJML references, " + methodFailures + " failed");
    w.flush();
    operatorInUse(w);
    trainAndPlot(w);
    return failures == 0 && methodFailures == 0 ? 0 : 1;
  }

  /** A module's derived rules shown in full up to this many lines ({@link #rulesOrSummary}). */
  static final int SHOWN_LINES = 24;

  /** ... and this many characters in a line. */
  static final int SHOWN_WIDTH = 160;

  /**
   * The derived rules {@code text} of module {@code m} of {@code file} as {@code hbp derive} prints
   * them when they are short (Table 1's modules: at most {@link #SHOWN_LINES} lines of at most
   * {@link #SHOWN_WIDTH} characters), else its first line and one saying how long they are and how
   * to print them, so the demo's part 1 stays readable (attention's rules run to lines of kilobytes).
   */
  static String rulesOrSummary(Path file, ModuleSpec m, String text) {
    List<String> lines = text.lines().toList();
    int widest = lines.stream().mapToInt(String::length).max().orElse(0);
    if (lines.size() <= SHOWN_LINES && widest <= SHOWN_WIDTH) return text;
    return lines.get(0) + System.lineSeparator() + "  (" + lines.size() + " lines of rules, up to " + widest + " characters wide: hbp derive " + file
        + " --module " + m.name() + " prints them)" + System.lineSeparator() + System.lineSeparator();
  }

  /** Part 2: the generated sigmoid operator on a batch of 2 samples. */
  private static void operatorInUse(PrintWriter w) {
    w.println();
    w.println("== 2. A generated operator in use: org.hbp.generated.SigmoidOperator on a batch of 2 samples of 3 entries");
    Backend be = new CpuBackend();
    ModuleOperator op = BuiltInOperators.module("sigmoid", be, Map.of("n", 3));
    Batch x = be.fromArray(2, 1, 3, 1, new double[] {-2, 0, 2, 0.5, 1, -1});
    ForwardCache c = op.forward(Map.of("x", x));
    Batch dz = be.fromArray(2, 1, 3, 1, new double[] {1, 1, 1, 1, 0, -1});
    w.println("  x                      = " + rows(be, x));
    w.println("  z = sigmoid(x)         = " + rows(be, op.output(c)));
    w.println("  J'dz (backward)        = " + rows(be, op.jacTMatProd(c, "x", dz)));
    w.println("  residual diagonal(dz)  = " + rows(be, op.residualDiagonal(c, "x", dz)));
    w.println("  PCH-abs residual       = " + rows(be, ResidualPolicy.of(ResidualModification.ABS).diagonal(op, c, "x", dz)));
    w.flush();
  }

  private static String rows(Backend be, Batch b) {
    double[] d = be.toArray(b);
    StringBuilder sb = new StringBuilder();
    int item = b.itemSize();
    for (int s = 0; s < b.items(); s++) {
      sb.append(s == 0 ? "[" : " [");
      for (int i = 0; i < item; i++) sb.append(String.format(Locale.ROOT, "%s%.4f", i == 0 ? "" : ", ", d[s * item + i]));
      sb.append("]");
    }
    return sb.toString();
  }

  /** Parts 3 and 4: curvature of a small net, then CG-Newton against SGD, plotted. */
  private void trainAndPlot(PrintWriter w) throws Exception {
    NetworkSpec ns = NetworkResolver.load(ModuleLibrary.builtInNetwork("demo-fmnist.hbp"), null, ModuleLibrary.builtInSpecDirs());
    boolean fmnist = Files.isRegularFile(FashionMnist.DEFAULT_DIR.resolve("train-images-idx3-ubyte.gz"));
    Split all = (fmnist ? FashionMnist.load(FashionMnist.DEFAULT_DIR) : Synthetic.create(seed, 10000, 2000, 1, 28, 28, 10)).normalized();
    Split data = new Split(all.train().subset(MiniBatches.sample(all.train().size(), 10000, 1)),
        all.test().subset(MiniBatches.sample(all.test().size(), 2000, 2)));
    String dataName = fmnist ? "Fashion-MNIST (10000 training, 2000 test images)" : "synthetic data (Fashion-MNIST is not installed)";

    w.println();
    w.println("== 3. Curvature of " + ns.name() + " (784-64-32-10, sigmoid) on a batch of 200 images of " + dataName);
    Network net = new Network(ns, ModuleLibrary.forSpecs(), Backends.create("blas-f64", 0));
    Map<String, Batch> params = Initialization.xavierNormal(net, seed);
    int[] idx = MiniBatches.sample(data.train().size(), 200, 3);
    TorchLayout layout = new TorchLayout(net);
    Batch x = layout.inputs(data.train().images(idx), "demo"), y = layout.targets(data.train().labels(idx), idx.length, "demo");
    Pass pass = net.run(params, x, y);
    w.printf(Locale.ROOT, "  loss %s; block of the first hidden layer's bias (1.b, 64 x 64): eigenvalue range, and distance to the exact GGN block%n",
        MetricFormat.of(pass.loss()));
    double[] ggn = net.backend().toArray(pass.curvature(CurvatureKind.GGN, Strategy.EXACT).dense("1.b", 1, 1L << 30));
    for (CurvatureKind kind : CurvatureKind.values())
      for (Strategy st : List.of(Strategy.EXACT, Strategy.BDA)) {
        double[] block = net.backend().toArray(pass.curvature(kind, st).dense("1.b", 1, 1L << 30));
        double[] ev = eigenvalues(block, 64);
        double diff = 0, norm = 0;
        for (int i = 0; i < block.length; i++) {
          diff += (block[i] - ggn[i]) * (block[i] - ggn[i]);
          norm += ggn[i] * ggn[i];
        }
        w.printf(Locale.ROOT, "  %-9s %-5s  eigenvalues [%10.3e, %10.3e]   |C - GGN|/|GGN| = %.3e%n", kind.label(), st.label(), ev[0], ev[ev.length - 1],
            Math.sqrt(diff / norm));
      }
    w.println("  (GGN and PCH are PSD; the Hessian block need not be: HBP gives all three from the same backward pass)");
    pass.close();

    w.println();
    w.println("== 4. Training " + ns.name() + " on " + dataName + ": CG-Newton (GGN, bda; paper eq. 10) against SGD, " + epochs + " epochs");
    List<RunMetrics> runs = new ArrayList<>();
    ProgressMode progress = ProgressMode.onStandardOutput();
    for (String[] cfg : RUNS) {
      Path dir = out.resolve(cfg[0]);
      for (String f : RUN_FILES) Files.deleteIfExists(dir.resolve(f)); // an earlier demo's (checkOutputs), or --overwrite
      Network n = new Network(ns, ModuleLibrary.forSpecs(), Backends.create("blas-f32", 0));
      Optimizer opt = cfg[0].equals("sgd") ? new Sgd(n, 0.1, 0.9)
          : new CgNewton(n, new CgNewton.Settings(0.1, 0.02, CurvatureKind.GGN, Strategy.BDA, 1, ConjugateGradient.Settings.defaults(), 1L << 30));
      Trainer t = new Trainer(n, data, opt, new Trainer.Settings(epochs, 500, seed, 1000), dir, w, progress == ProgressMode.BAR,
          !ProgressMode.forcedOff());
      Map<String, Object> config = new LinkedHashMap<>();
      config.put("label", cfg[1]);
      config.put("seed", seed);
      config.put("data", dataName);
      w.println("  " + cfg[1] + " -> " + dir);
      t.start(Initialization.xavierNormal(n, seed), config);
      RegeneratedFiles.recordExisting(out, runFiles(cfg[0]));
      runs.add(RunMetrics.read(dir));
    }
    for (Path p : TrainingPlots.write(runs, out.resolve("plots"), "hbp demo: " + ns.name(), warning -> {}, overwrite.overwrite)) w.println("wrote " + p);
    w.flush();
  }

  /** Eigenvalues, ascending, of a symmetric n x n matrix (EJML). */
  private static double[] eigenvalues(double[] a, int n) {
    DMatrixRMaj m = new DMatrixRMaj(n, n, true, a);
    var eig = DecompositionFactory_DDRM.eig(n, false, true);
    if (!eig.decompose(m)) throw new IllegalStateException("eigendecomposition failed");
    double[] ev = new double[n];
    for (int i = 0; i < n; i++) ev[i] = eig.getEigenvalue(i).getReal();
    Arrays.sort(ev);
    return ev;
  }

  /** The files of the demo's run {@code name}, as paths relative to --out. */
  private static List<String> runFiles(String name) {
    return RUN_FILES.stream().map(f -> name + "/" + f).toList();
  }

  /**
   * Before any work: the files part 4 replaces in --out (an earlier demo's runs and plots) must be
   * hbp's own ({@link RegeneratedFiles}), unless --overwrite; a run folder holding anything else
   * is refused, since a training starts only in an empty folder.
   */
  private void checkOutputs() throws IOException {
    if (Files.exists(out) && !Files.isDirectory(out)) throw new UserError("--out " + out + ": exists and is not a folder");
    List<String> replaced = new ArrayList<>();
    for (String[] run : RUNS) {
      replaced.addAll(runFiles(run[0]));
      Path dir = out.resolve(run[0]);
      if (Files.exists(dir) && !Files.isDirectory(dir)) throw new UserError("--out " + out + " holds " + run[0] + ", not a folder; choose another --out");
      if (!Files.isDirectory(dir)) continue;
      try (var entries = Files.list(dir)) {
        List<String> other = entries.map(p -> p.getFileName().toString()).filter(f -> !RUN_FILES.contains(f) && !f.equals(TRAIN_LOCK)).sorted().toList();
        if (!other.isEmpty())
          throw new UserError("--out " + out + ": " + dir + " holds " + String.join(", ", other) + ", which the demo does not write there; choose another --out");
      }
    }
    RegeneratedFiles.check("--out", out, replaced, overwrite.overwrite);
    RegeneratedFiles.check("--out", out.resolve("plots"), TrainingPlots.FILES, overwrite.overwrite);
  }
}
