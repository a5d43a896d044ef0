package org.hbp.train;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.ToDoubleFunction;
import org.hbp.UserError;
import org.hbp.backend.Backend;
import org.hbp.backend.host.PooledBackend;
import org.hbp.data.Dataset;
import org.hbp.data.MiniBatches;
import org.hbp.data.Split;
import org.hbp.io.RegeneratedFiles;
import org.hbp.network.ConjugateGradient;
import org.hbp.network.CurvatureKind;
import org.hbp.network.Network;
import org.hbp.network.Strategy;
import org.hbp.plot.RunMetrics;
import org.hbp.plot.TrainingPlots;

/**
 * The paper's two experiments (Dangel et al. 2020, Figs. 4 and 5; settings of its code in
 * docs/experiments.md) on Fashion-MNIST, as lists of training configurations run for several seeds,
 * plotted in the paper's style, and checked against the paper's claims.
 */
public final class Experiments {
  private Experiments() {}

  /** One configuration of an experiment (one curve of a figure). */
  public record Config(String label, String optimizer, double lr, double alpha, CurvatureKind curvature, Strategy strategy, int blocks,
      int cgMaxiter, double cgTol, double momentum, int batch) {
    /** A directory name for the configuration. */
    public String slug() {
      return label.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]+", "-").replaceAll("(^-|-$)", "");
    }

    /** The configuration's optimizer on {@code net}, saying nothing of how it computes the curvature. */
    public Optimizer create(Network net, long memoryLimit) {
      return create(net, memoryLimit, line -> {});
    }

    /**
     * The configuration's optimizer on {@code net}; CG-Newton tells {@code notices} what the run
     * should know of its curvature (chunks of samples), each distinct line once ({@link CgNewton}).
     */
    public Optimizer create(Network net, long memoryLimit, Consumer<String> notices) {
      switch (optimizer) {
        case "sgd":
          return new Sgd(net, lr, momentum);
        case "adam":
          return new Adam(net, lr, 0.9, 0.999, 1e-8);
        default:
          return new CgNewton(net, cgNewton(memoryLimit), notices);
      }
    }

    /** This configuration with CG-Newton's curvature computed by {@code s} (a first-order configuration as it is). */
    Config withStrategy(Strategy s) {
      return strategy == null ? this : new Config(label, optimizer, lr, alpha, curvature, s, blocks, cgMaxiter, cgTol, momentum, batch);
    }

    /** The CG-Newton settings of this configuration (CG's absolute tolerance 0). */
    private CgNewton.Settings cgNewton(long memoryLimit) {
      return new CgNewton.Settings(lr, alpha, curvature, strategy, blocks, new ConjugateGradient.Settings(cgTol, 0, cgMaxiter), memoryLimit);
    }

    Map<String, Object> json(String figure, String scale, long seed, int epochs, String data) {
      Map<String, Object> c = new LinkedHashMap<>();
      c.put("label", label);
      c.put("seed", seed);
      c.put("experiment", figure);
      c.put("scale", scale);
      c.put("data", data);
      c.put("optimizer", optimizer);
      c.put("lr", lr);
      if (optimizer.equals("cg-newton")) c.putAll(cgNewton(0).configEntries()); // the memory limit is not recorded
      else if (optimizer.equals("sgd")) c.put("momentum", momentum);
      c.put("batch", batch);
      c.put("epochs", epochs);
      return c;
    }
  }

  /** An experiment at one scale: the network (a built-in file of networks/), the data sizes, the schedule and the configurations. */
  /**
   * An experiment's plan. {@code evalBatch} is the batch of the evaluations (loss and accuracy over the whole test split; it does
   * not change them): 1000 for the FC net, 100 for the CNN, whose forward pass at 1000 images would need about 5.7 GiB.
   */
  public record Plan(String figure, String scale, String network, int trainSize, int testSize, int epochs, int evalBatch, List<Config> configs) {}

  /** Evaluation batches of the two nets' plans ({@link Plan#evalBatch}). */
  static final int FC_EVAL_BATCH = 1000, CNN_EVAL_BATCH = 100;

  /** The curvature strategy of the paper's CG-Newton runs: bda for fig4 (its eq. 9), exact for fig5; null for another figure. */
  static Strategy paperStrategy(String figure) {
    return switch (figure) {
      case "fig4" -> Strategy.BDA;
      case "fig5" -> Strategy.EXACT;
      default -> null;
    };
  }

  static Config cg(String label, double lr, double alpha, CurvatureKind c, Strategy s, int blocks, int maxiter, int batch) {
    return new Config(label, "cg-newton", lr, alpha, c, s, blocks, maxiter, 0.1, 0, batch);
  }

  /**
   * The plan of an experiment. {@code full} is the paper's schedule (all of Fashion-MNIST). {@code
   * small} keeps every configuration and its hyper-parameters but trains on a seeded subset for
   * fewer epochs (fig5: also smaller CG-Newton batches and CG iteration limits), to finish in
   * about 15 minutes on 2 cores. {@code medium}: fig4 on all of Fashion-MNIST for 5 epochs; fig5 on
   * 1000 training and 1000 test images for 4 epochs (40 CG-Newton steps of batch 100, at most 20 CG
   * iterations per block), about 2.7x small's steps and twice its CG iterations.
   */
  public static Plan plan(String figure, String scale) {
    boolean full = switch (scale) {
      case "full" -> true;
      case "small", "medium" -> false;
      default -> throw new UserError("--scale '" + scale + "': expected small, medium or full");
    };
    switch (figure) {
      case "fig4": {
        int b = 500, it = 50;
        Strategy bda = paperStrategy(figure);
        List<Config> cs = List.of(
            new Config("SGD", "sgd", 0.1, 0, null, null, 1, 0, 0, 0.9, b),
            cg("CG-Newton GGN", 0.1, 0.02, CurvatureKind.GGN, bda, 1, it, b),
            cg("CG-Newton PCH-abs", 0.1, 0.02, CurvatureKind.PCH_ABS, bda, 1, it, b),
            cg("CG-Newton PCH-clip", 0.1, 0.02, CurvatureKind.PCH_CLIP, bda, 1, it, b),
            cg("CG-Newton PCH-abs, 2 sub-blocks", 0.1, 0.02, CurvatureKind.PCH_ABS, bda, 2, it, b),
            cg("CG-Newton PCH-abs, 4 sub-blocks", 0.1, 0.02, CurvatureKind.PCH_ABS, bda, 4, it, b),
            cg("CG-Newton PCH-abs, 16 sub-blocks", 0.1, 0.02, CurvatureKind.PCH_ABS, bda, 16, it, b));
        if (scale.equals("medium")) return new Plan(figure, scale, "fc-fmnist.hbp", 60000, 10000, 5, FC_EVAL_BATCH, cs);
        return full ? new Plan(figure, scale, "fc-fmnist.hbp", 60000, 10000, 100, FC_EVAL_BATCH, cs)
            : new Plan(figure, scale, "fc-fmnist.hbp", 10000, 2000, 4, FC_EVAL_BATCH, cs);
      }
      case "fig5": {
        Strategy ex = paperStrategy(figure);
        boolean medium = scale.equals("medium");
        int b = full ? 1000 : 100, it = full ? 200 : medium ? 20 : 10;
        List<Config> cs = List.of(
            new Config("SGD", "sgd", 1e-3, 0, null, null, 1, 0, 0, 0.9, 100),
            new Config("Adam", "adam", 1e-3, 0, null, null, 1, 0, 0, 0, 100),
            cg("CG-Newton GGN, alpha 1e-4", 0.1, 1e-4, CurvatureKind.GGN, ex, 1, it, b),
            cg("CG-Newton GGN, alpha 1e-3", 0.1, 1e-3, CurvatureKind.GGN, ex, 1, it, b),
            cg("CG-Newton PCH-abs", 0.2, 1e-3, CurvatureKind.PCH_ABS, ex, 1, it, b),
            cg("CG-Newton PCH-clip", 0.1, 1e-4, CurvatureKind.PCH_CLIP, ex, 1, it, b));
        if (medium) return new Plan(figure, scale, "c4d3-fmnist.hbp", 1000, 1000, 4, CNN_EVAL_BATCH, cs);
        return full ? new Plan(figure, scale, "c4d3-fmnist.hbp", 60000, 10000, 20, CNN_EVAL_BATCH, cs)
            : new Plan(figure, scale, "c4d3-fmnist.hbp", 500, 500, 3, CNN_EVAL_BATCH, cs);
      }
      default:
        throw new UserError("experiment '" + figure + "': expected fig4 or fig5");
    }
  }

  /**
   * The plan restricted to the configurations named by {@code only} (case-insensitive): an entry
   * that is a whole label selects that configuration, any other text every label containing it;
   * all configurations when {@code only} is null.
   *
   * @throws UserError in one line, for an empty list or entry (which would select all or nothing
   *     by accident) or an entry that selects no configuration, naming the plan's labels
   */
  public static Plan only(Plan p, List<String> only) {
    if (only == null) return p;
    String labels = " (its configurations: " + String.join(", ", p.configs().stream().map(Config::label).toList()) + ")";
    if (only.isEmpty() || only.stream().anyMatch(o -> o.isBlank()))
      throw new UserError("--only has an empty entry; name configurations of " + p.figure() + labels);
    List<Config> kept = new ArrayList<>();
    List<String> unmatched = new ArrayList<>();
    for (String o : only) {
      // a whole label selects that configuration alone; other text, every label containing it
      String want = o.toLowerCase(Locale.ROOT);
      boolean exact = p.configs().stream().anyMatch(x -> x.label().equalsIgnoreCase(o));
      boolean matched = false;
      for (Config c : p.configs()) {
        String label = c.label().toLowerCase(Locale.ROOT);
        if (exact ? label.equals(want) : label.contains(want)) {
          matched = true;
          if (!kept.contains(c)) kept.add(c);
        }
      }
      if (!matched) unmatched.add("'" + o + "'");
    }
    if (!unmatched.isEmpty())
      throw new UserError("--only " + String.join(", ", unmatched) + (unmatched.size() == 1 ? " matches" : " match") + " no configuration of "
          + p.figure() + labels);
    // in the plan's order
    List<Config> ordered = p.configs().stream().filter(kept::contains).toList();
    return new Plan(p.figure(), p.scale(), p.network(), p.trainSize(), p.testSize(), p.epochs(), p.evalBatch(), ordered);
  }

  /**
   * The plan with every CG-Newton configuration's curvature computed by {@code strategy} instead of
   * the paper's (bda for fig4, exact for fig5); the plan as it is for {@code null}. A configuration
   * whose curvature the strategy does not compute (a {@code diag-ggn} of a PCH) is refused by its
   * first step, which the memory check runs before any training.
   */
  public static Plan withStrategy(Plan p, Strategy strategy) {
    if (strategy == null) return p;
    List<Config> cs = p.configs().stream().map(c -> c.withStrategy(strategy)).toList();
    return new Plan(p.figure(), p.scale(), p.network(), p.trainSize(), p.testSize(), p.epochs(), p.evalBatch(), cs);
  }

  /** The plan's data: the full split, or seeded subsets of it of the plan's sizes. */
  public static Split data(Plan plan, Split all) {
    Dataset train = all.train(), test = all.test();
    if (plan.trainSize() < train.size()) train = train.subset(MiniBatches.sample(train.size(), plan.trainSize(), 20200826L));
    if (plan.testSize() < test.size()) test = test.subset(MiniBatches.sample(test.size(), plan.testSize(), 20200827L));
    return new Split(train, test);
  }

  /** Creates a network on a fresh backend for a run. */
  public interface NetworkFactory {
    Network create();
  }

  /** Where a run's notices go: the line of the configuration {@code label}'s run with {@code seed}. */
  public interface Notices {
    void accept(String label, long seed, String line);
  }

  /**
   * {@link #run(Plan, Split, int, Path, NetworkFactory, String, PrintWriter, boolean, boolean, long, Notices, boolean)}
   * with progress bars, within the default memory limit, 2 GiB, saying nothing of how the curvature is computed.
   */
  public static List<RunMetrics> run(Plan plan, Split data, int seeds, Path out, NetworkFactory nets, String dataName, PrintWriter log,
      boolean interactive) throws IOException {
    return run(plan, data, seeds, out, nets, dataName, log, interactive, true, org.hbp.network.Curvature.DEFAULT_MEMORY_LIMIT, (l, s, line) -> {},
        false);
  }

  /**
   * Runs every configuration for seeds 0..seeds-1 into {@code out/<config>/seed-<s>}: a finished
   * run is kept, an unfinished one resumed, so an interrupted experiment continues where it
   * stopped; a run there (finished or not) made with settings that change the results and differ
   * from these is refused before any training, listing the differences. Then plots all runs into {@code out/plots} and writes {@code out/summary.md}, outputs
   * that hbp draws again ({@link RegeneratedFiles}): where one of them is there already and not
   * hbp's own, the call is refused before any training unless {@code overwrite}. CG-Newton
   * prepares its curvature within {@code memoryLimit} bytes (less what its step holds itself) and
   * tells {@code notices}, with the configuration and seed, what the run should know of it (a
   * {@code diag-*} strategy computed in chunks of samples): each distinct line once per run.
   *
   * @param log where the runs' lines, each epoch's results, the summary and the progress bars go
   * @param interactive whether {@code log} is a terminal (a bar redrawn in place) or a log (a bar's lines)
   * @param bars whether each run draws its progress bar within each epoch (false: only the epochs' lines)
   */
  public static List<RunMetrics> run(Plan plan, Split data, int seeds, Path out, NetworkFactory nets, String dataName, PrintWriter log,
      boolean interactive, boolean bars, long memoryLimit, Notices notices, boolean overwrite) throws IOException {
    checkOutputs(out, overwrite);
    requireRecordedSettings(plan, data, seeds, out, nets, dataName, memoryLimit);
    List<RunMetrics> runs = new ArrayList<>();
    for (Config c : plan.configs()) {
      for (long seed = 0; seed < seeds; seed++) {
        Path dir = out.resolve(c.slug()).resolve("seed-" + seed);
        Network net = nets.create();
        long s = seed;
        Optimizer opt = c.create(net, memoryLimit, line -> notices.accept(c.label(), s, line));
        Trainer t = new Trainer(net, data, opt, new Trainer.Settings(plan.epochs(), c.batch(), seed, plan.evalBatch()), dir, log, interactive,
            bars);
        boolean started = Files.exists(dir.resolve("config.json")) || Files.exists(dir.resolve("metrics.csv"));
        RunMetrics done = Files.exists(dir.resolve("metrics.csv")) ? RunMetrics.read(dir) : null;
        Map<String, Object> config = c.json(plan.figure(), plan.scale(), seed, plan.epochs(), dataName);
        log.printf(Locale.ROOT, "== run %d/%d: %s %s: %s, seed %d -> %s%n", runs.size() + 1, plan.configs().size() * seeds, plan.figure(),
            plan.scale(), c.label(), seed, dir);
        log.flush();
        if (done != null && !done.rows().isEmpty() && done.rows().get(done.rows().size() - 1).epoch() >= plan.epochs()) {
          log.println("   already complete");
        } else if (started) {
          t.resume(Initialization.xavierNormal(net, seed), config);
        } else {
          t.start(Initialization.xavierNormal(net, seed), config);
        }
        runs.add(RunMetrics.read(dir));
        Backend be = net.backend();
        if (be instanceof PooledBackend pooled) pooled.trimPool();
      }
    }
    List<Path> plots = TrainingPlots.write(runs, out.resolve("plots"), plan.figure() + " (" + plan.scale() + "): " + plan.network(), w -> {},
        overwrite);
    // the sizes of the data trained on: the plan's, or fewer where the data set has fewer
    Plan trained = new Plan(plan.figure(), plan.scale(), plan.network(), data.train().size(), data.test().size(), plan.epochs(), plan.evalBatch(),
        plan.configs());
    String summary = summary(trained, runs, seeds, dataName);
    RegeneratedFiles.write("--out", out, Map.of(SUMMARY, summary.getBytes(StandardCharsets.UTF_8)), overwrite);
    log.println(summary);
    for (Path p : plots) log.println("wrote " + p);
    log.println("wrote " + out.resolve(SUMMARY));
    log.flush();
    return runs;
  }

  /**
   * Refuses, before any training, a run of the plan already in {@code out} (finished or not) whose
   * recorded settings change the results and differ from the plan's now (data, strategy, backend,
   * ...): {@link Trainer#requireRecordedSettings}, the comparison of a resume. A finished run is
   * kept rather than resumed, so without this its results would be summarized as the new settings'.
   */
  private static void requireRecordedSettings(Plan plan, Split data, int seeds, Path out, NetworkFactory nets, String dataName,
      long memoryLimit) throws IOException {
    Network probe = null;
    for (Config c : plan.configs()) {
      for (long seed = 0; seed < seeds; seed++) {
        Path dir = out.resolve(c.slug()).resolve("seed-" + seed);
        if (!Files.exists(dir.resolve("config.json"))) continue;
        if (probe == null) probe = nets.create();
        Trainer t = new Trainer(probe, data, c.create(probe, memoryLimit), new Trainer.Settings(plan.epochs(), c.batch(), seed, plan.evalBatch()),
            dir, null, false);
        t.requireRecordedSettings(c.json(plan.figure(), plan.scale(), seed, plan.epochs(), dataName),
            "run the experiment with the settings its runs were made with, or choose another --out");
      }
    }
    if (probe != null && probe.backend() instanceof PooledBackend pooled) pooled.trimPool();
  }

  /** The summary's file name in an experiment's folder. */
  public static final String SUMMARY = "summary.md";

  /**
   * Refuses, before any training, plots and a summary in {@code out} that hbp did not write there
   * (or that changed since), unless {@code overwrite}; the runs' own folders are resumed, not replaced.
   */
  public static void checkOutputs(Path out, boolean overwrite) throws IOException {
    RegeneratedFiles.check("--out", out.resolve("plots"), TrainingPlots.FILES, overwrite);
    RegeneratedFiles.check("--out", out, List.of(SUMMARY), overwrite);
  }

  // ---- summary and claims ----------------------------------------------------------------------

  /** Runs of one label. */
  private static Map<String, List<RunMetrics>> byLabel(List<RunMetrics> runs) {
    Map<String, List<RunMetrics>> m = new LinkedHashMap<>();
    for (RunMetrics r : runs) m.computeIfAbsent(r.label(), k -> new ArrayList<>()).add(r);
    return m;
  }

  private static double mean(double[] v) {
    double s = 0;
    for (double x : v) s += x;
    return s / v.length;
  }

  private static double std(double[] v) {
    if (v.length < 2) return 0;
    double m = mean(v), s = 0;
    for (double x : v) s += (x - m) * (x - m);
    return Math.sqrt(s / (v.length - 1));
  }

  private static String pm(double[] v, String fmt) {
    return pm(v, x -> String.format(Locale.ROOT, fmt, x));
  }

  /** The mean of {@code v}, and its sample standard deviation after " ± " when there are several, each written by {@code format}. */
  private static String pm(double[] v, java.util.function.DoubleFunction<String> format) {
    return format.apply(mean(v)) + (v.length > 1 ? " ± " + format.apply(std(v)) : "");
  }

  /**
   * The training loss below which a run has left the initial plateau: 90 % of the loss of a uniform
   * prediction over Fashion-MNIST's 10 classes, ln 10 (the plateau these sigmoid nets sit on; the
   * loss at initialization is above it, so a drop to ln 10 is not yet learning).
   */
  static final double PLATEAU_EXIT_LOSS = 0.9 * Math.log(10);

  /**
   * Optimizer steps until the training loss first fell to {@link #PLATEAU_EXIT_LOSS}, at the
   * resolution of the evaluations; +infinity when it never did.
   */
  static double plateauExitStep(RunMetrics r) {
    for (RunMetrics.Row row : r.rows()) if (row.trainLoss() <= PLATEAU_EXIT_LOSS) return row.step();
    return Double.POSITIVE_INFINITY;
  }

  private static double[] values(List<RunMetrics> runs, ToDoubleFunction<RunMetrics> f) {
    double[] v = new double[runs.size()];
    for (int i = 0; i < v.length; i++) v[i] = f.applyAsDouble(runs.get(i));
    return v;
  }

  private static RunMetrics.Row last(RunMetrics r) {
    return r.rows().get(r.rows().size() - 1);
  }

  private static RunMetrics.Row at(RunMetrics r, int epoch) {
    for (RunMetrics.Row row : r.rows()) if (row.epoch() == epoch) return row;
    return last(r);
  }

  static String summary(Plan plan, List<RunMetrics> runs, int seeds, String dataName) {
    Map<String, List<RunMetrics>> groups = byLabel(runs);
    StringBuilder sb = new StringBuilder();
    sb.append(String.format(Locale.ROOT, "## %s, scale %s: %s on %s (%d training, %d test samples), %d epoch%s, %d seed%s%n%n", plan.figure(),
        plan.scale(), plan.network(), dataName, plan.trainSize(), plan.testSize(), plan.epochs(), plan.epochs() == 1 ? "" : "s", seeds,
        seeds == 1 ? "" : "s"));
    List<String> strategies = plan.configs().stream().filter(c -> c.strategy() != null).map(c -> c.strategy().label()).distinct().toList();
    Strategy paper = paperStrategy(plan.figure());
    if (paper != null && !strategies.isEmpty() && !strategies.equals(List.of(paper.label())))
      sb.append("CG-Newton's curvature by ").append(String.join(", ", strategies)).append(" (the paper's: ").append(paper.label()).append(").\n\n");
    sb.append("| configuration | batch | final train loss | final test loss | final test accuracy | steps to leave the plateau | CG iterations per step | training time (s) |\n");
    sb.append("|---|---|---|---|---|---|---|---|\n");
    for (Map.Entry<String, List<RunMetrics>> e : groups.entrySet()) {
      List<RunMetrics> rs = e.getValue();
      Config c = plan.configs().stream().filter(x -> x.label().equals(e.getKey())).findFirst().orElse(null);
      double[] exit = values(rs, Experiments::plateauExitStep);
      double[] cg = values(rs, r -> {
        double s = 0;
        int n = 0;
        for (RunMetrics.Row row : r.rows()) if (!Double.isNaN(row.cgIterations())) { s += row.cgIterations(); n++; }
        return n == 0 ? Double.NaN : s / n;
      });
      sb.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %s | %s | %s | %s |%n", e.getKey(), c == null ? "?" : c.batch(),
          pm(values(rs, r -> last(r).trainLoss()), MetricFormat::of), pm(values(rs, r -> last(r).testLoss()), MetricFormat::of),
          pm(values(rs, r -> last(r).testAccuracy()), MetricFormat::of), Double.isInfinite(mean(exit)) ? "not within the run" : pm(exit, "%.0f"),
          Double.isNaN(cg[0]) ? "–" : pm(cg, "%.1f"), pm(values(rs, r -> last(r).wallSeconds()), "%.1f")));
    }
    sb.append("\n### The paper's claims, checked on these runs\n\n");
    if (plan.figure().equals("fig4")) fig4Claims(groups, sb);
    else if (plan.figure().equals("fig5")) fig5Claims(groups, sb);
    return sb.toString();
  }

  private static void fig4Claims(Map<String, List<RunMetrics>> g, StringBuilder sb) {
    if (!g.containsKey("SGD"))
      sb.append("1. *Second-order methods leave the initial plateau in fewer iterations than SGD*: not checked (SGD was not run).\n");
    else fig4PlateauClaim(g, sb);
    fig4SubBlockClaim(g, sb);
  }

  private static void fig4PlateauClaim(Map<String, List<RunMetrics>> g, StringBuilder sb) {
    double sgd = mean(values(g.get("SGD"), Experiments::plateauExitStep));
    boolean all = true, anyLeft = !Double.isInfinite(sgd);
    StringBuilder detail = new StringBuilder();
    for (String l : List.of("CG-Newton GGN", "CG-Newton PCH-abs", "CG-Newton PCH-clip")) {
      if (!g.containsKey(l)) continue;
      double s = mean(values(g.get(l), Experiments::plateauExitStep));
      all &= s < sgd;
      anyLeft |= !Double.isInfinite(s);
      detail.append(String.format(Locale.ROOT, "%s %s; ", l, Double.isInfinite(s) ? "never" : String.format(Locale.ROOT, "%.0f steps", s)));
    }
    String verdict = !anyLeft ? "undecided: no run left the plateau within its steps (a longer schedule is needed)" : all ? "held" : "did not hold";
    sb.append(String.format(Locale.ROOT, "1. *Second-order methods leave the initial plateau in fewer iterations than SGD* "
        + "(plateau left = training loss at or below 0.9 ln 10 = %.3f): **%s**. SGD: %s; %s%n", PLATEAU_EXIT_LOSS, verdict,
        Double.isInfinite(sgd) ? "never" : String.format(Locale.ROOT, "%.0f steps", sgd), detail.toString().replaceAll("; $", ".")));
  }

  private static void fig4SubBlockClaim(Map<String, List<RunMetrics>> g, StringBuilder sb) {
    List<RunMetrics> one = g.get("CG-Newton PCH-abs"), many = g.get("CG-Newton PCH-abs, 16 sub-blocks");
    if (one == null || many == null) {
      sb.append("2. *Many sub-blocks suffice early, larger blocks are needed later*: not checked (PCH-abs with 1 and with 16 sub-blocks were not both run).\n");
      return;
    }
    // early: the end of the plateau (the phase the paper's claim is about); later: the end of the run
    double oneExit = mean(values(one, Experiments::plateauExitStep)), manyExit = mean(values(many, Experiments::plateauExitStep));
    double oneLate = mean(values(one, r -> last(r).testLoss())), manyLate = mean(values(many, r -> last(r).testLoss()));
    boolean moved = Double.isFinite(oneExit) || Double.isFinite(manyExit);
    String earlyVerdict = !moved ? "undecided (neither left the plateau)" : manyExit <= oneExit ? "held" : "did not hold";
    String lateVerdict = !moved ? "undecided (neither left the plateau)" : oneLate < manyLate ? "held" : "did not hold";
    sb.append(String.format(Locale.ROOT, "2. *Many sub-blocks suffice early* (PCH-abs with 16 sub-blocks leaves the plateau no later than with one "
        + "block): **%s** (%s against %s). *Larger blocks are needed later* (one block ahead in test loss at the end): **%s** (%s against %s).%n",
        earlyVerdict, steps(manyExit), steps(oneExit), lateVerdict, MetricFormat.of(oneLate), MetricFormat.of(manyLate)));
  }

  private static String steps(double s) {
    return Double.isInfinite(s) ? "never" : String.format(Locale.ROOT, "%.0f steps", s);
  }

  private static void fig5Claims(Map<String, List<RunMetrics>> g, StringBuilder sb) {
    if (!g.containsKey("SGD")) {
      sb.append("1. *SGD cannot train this sigmoid CNN, the curvature methods can*: not checked (SGD was not run).\n");
      return;
    }
    // "trains" = leaves the plateau: the final training loss below 0.9 ln 10
    Function<List<RunMetrics>, Double> fin = rs -> mean(values(rs, r -> last(r).trainLoss()));
    double sgd = fin.apply(g.get("SGD"));
    List<String> trained = new ArrayList<>(), stuck = new ArrayList<>();
    StringBuilder detail = new StringBuilder();
    for (String l : g.keySet()) {
      if (!l.startsWith("CG-Newton")) continue;
      double f = fin.apply(g.get(l));
      (f <= PLATEAU_EXIT_LOSS ? trained : stuck).add(l);
      detail.append(String.format(Locale.ROOT, "%s %s; ", l, MetricFormat.of(f)));
    }
    boolean sgdFails = sgd > PLATEAU_EXIT_LOSS;
    String verdict = !sgdFails ? "did not hold (SGD trained)"
        : stuck.isEmpty() ? "held"
        : trained.isEmpty() ? "undecided: neither SGD nor any curvature method left the plateau within the run"
        : "held in part: SGD did not train; " + String.join(", ", trained) + " did, " + String.join(", ", stuck) + " not within the run";
    sb.append(String.format(Locale.ROOT, "1. *SGD cannot train this sigmoid CNN, the curvature methods can* (trains = final training loss "
        + "at or below 0.9 ln 10 = %.3f): **%s**. Final training loss: SGD %s, Adam %s; %s%n", PLATEAU_EXIT_LOSS, verdict, MetricFormat.of(sgd),
        MetricFormat.of(g.containsKey("Adam") ? fin.apply(g.get("Adam")) : Double.NaN), detail.toString().replaceAll("; $", ".")));
  }
}
