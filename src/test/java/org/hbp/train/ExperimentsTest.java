package org.hbp.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.hbp.UserError;
import org.hbp.backend.Precision;
import org.hbp.backend.blas.BlasBackend;
import org.hbp.data.Synthetic;
import org.hbp.network.CurvatureKind;
import org.hbp.network.Network;
import org.hbp.network.ModuleLibrary;
import org.hbp.network.NetworkSpec;
import org.hbp.network.NetworkResolver;
import org.hbp.network.Strategy;
import org.hbp.plot.RunMetrics;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The experiment plans follow the paper's settings (docs/experiments.md); the claim checks decide as stated; a run resumes. */
class ExperimentsTest {
  @TempDir Path dir;

  private static Experiments.Config find(Experiments.Plan p, String label) {
    return p.configs().stream().filter(c -> c.label().equals(label)).findFirst().orElseThrow(() -> new AssertionError("no " + label));
  }

  @Test
  void fullScalesAreThePapersSettings() {
    Experiments.Plan f4 = Experiments.plan("fig4", "full");
    assertEquals("fc-fmnist.hbp", f4.network());
    assertEquals(100, f4.epochs());
    assertEquals(60000, f4.trainSize());
    Experiments.Config sgd = find(f4, "SGD");
    assertEquals(List.of("sgd", 0.1, 0.9, 500), List.of(sgd.optimizer(), sgd.lr(), sgd.momentum(), sgd.batch()));
    for (String l : List.of("CG-Newton GGN", "CG-Newton PCH-abs", "CG-Newton PCH-clip", "CG-Newton PCH-abs, 2 sub-blocks",
        "CG-Newton PCH-abs, 4 sub-blocks", "CG-Newton PCH-abs, 16 sub-blocks")) {
      Experiments.Config c = find(f4, l);
      assertEquals(List.of(0.1, 0.02, 50, 0.1, Strategy.BDA, 500), List.of(c.lr(), c.alpha(), c.cgMaxiter(), c.cgTol(), c.strategy(), c.batch()), l);
    }
    assertEquals(CurvatureKind.PCH_CLIP, find(f4, "CG-Newton PCH-clip").curvature());
    assertEquals(16, find(f4, "CG-Newton PCH-abs, 16 sub-blocks").blocks());

    Experiments.Plan f5 = Experiments.plan("fig5", "full");
    assertEquals("c4d3-fmnist.hbp", f5.network());
    assertEquals(20, f5.epochs());
    assertEquals(List.of(1e-3, 0.9, 100), List.of(find(f5, "SGD").lr(), find(f5, "SGD").momentum(), find(f5, "SGD").batch()));
    assertEquals(List.of("adam", 1e-3, 100), List.of(find(f5, "Adam").optimizer(), find(f5, "Adam").lr(), find(f5, "Adam").batch()));
    double[][] cg = {{0.1, 1e-4}, {0.1, 1e-3}, {0.2, 1e-3}, {0.1, 1e-4}};
    String[] labels = {"CG-Newton GGN, alpha 1e-4", "CG-Newton GGN, alpha 1e-3", "CG-Newton PCH-abs", "CG-Newton PCH-clip"};
    for (int i = 0; i < 4; i++) {
      Experiments.Config c = find(f5, labels[i]);
      assertEquals(List.of(cg[i][0], cg[i][1], 200, 1000, Strategy.EXACT), List.of(c.lr(), c.alpha(), c.cgMaxiter(), c.batch(), c.strategy()), labels[i]);
    }
    // --only selects configurations; medium is fig4 on all the data for 5 epochs
    assertEquals(List.of("SGD", "CG-Newton GGN"), Experiments.only(f4, List.of("sgd", "ggn")).configs().stream().map(Experiments.Config::label).toList());
    assertEquals(List.of("CG-Newton PCH-abs", "CG-Newton PCH-abs, 16 sub-blocks"),
        Experiments.only(f4, List.of("cg-newton pch-abs", "16 sub")).configs().stream().map(Experiments.Config::label).toList());
    assertEquals(4, Experiments.only(f4, List.of("PCH-abs")).configs().size());
    assertEquals(60000, Experiments.plan("fig4", "medium").trainSize());
    assertEquals(5, Experiments.plan("fig4", "medium").epochs());
    org.junit.jupiter.api.Assertions.assertThrows(UserError.class, () -> Experiments.only(f4, List.of("lbfgs")));
    // fig5's medium scale: a larger subset, more steps and CG iterations than small, the same configurations
    Experiments.Plan f5m = Experiments.plan("fig5", "medium"), f5small = Experiments.plan("fig5", "small");
    assertEquals(List.of(1000, 1000, 4), List.of(f5m.trainSize(), f5m.testSize(), f5m.epochs()));
    assertEquals(f5small.configs().stream().map(Experiments.Config::label).toList(), f5m.configs().stream().map(Experiments.Config::label).toList());
    assertEquals(20, find(f5m, "CG-Newton GGN, alpha 1e-3").cgMaxiter());
    // small keeps every configuration and its hyper-parameters
    assertEquals(f4.configs(), Experiments.plan("fig4", "small").configs());
    assertEquals(f5.configs().size(), Experiments.plan("fig5", "small").configs().size());
  }

  private static RunMetrics run(String label, long seed, double... trainLosses) {
    List<RunMetrics.Row> rows = new ArrayList<>();
    for (int e = 0; e < trainLosses.length; e++)
      rows.add(new RunMetrics.Row(e, 10L * e, 100L * e, e, trainLosses[e], 0.5, trainLosses[e], 0.5, Double.NaN));
    return new RunMetrics(Path.of(label), label, seed, rows);
  }

  /** A diverged run's loss in the summary: in scientific notation (not 31 digits in fixed point), NaN as NaN; a small spread likewise. */
  @Test
  void hugeLossesAndSmallSpreadsAreWrittenReadably() {
    Experiments.Plan f5 = Experiments.plan("fig5", "small");
    List<RunMetrics> runs = List.of(run("SGD", 0, 2.3, 1e30), run("Adam", 0, 2.3, Double.NaN), run("CG-Newton GGN, alpha 1e-3", 0, 2.3, 1.5),
        run("CG-Newton GGN, alpha 1e-3", 1, 2.3, 1.5 + 2e-6));
    String s = Experiments.summary(Experiments.only(f5, List.of("SGD", "Adam", "GGN, alpha 1e-3")), runs, 2, "test");
    assertTrue(s.contains("| SGD | 100 | 1.0000e+30 | 1.0000e+30 | 0.5000 |"), s);
    assertTrue(s.contains("| Adam | 100 | NaN | NaN | 0.5000 |"), s);
    assertTrue(s.contains("| 1.5000 ± 1.4142e-06 | 1.5000 ± 1.4142e-06 | 0.5000 ± 0.0000 |"), s);
    assertTrue(s.contains("Final training loss: SGD 1.0000e+30, Adam NaN; CG-Newton GGN, alpha 1e-3 1.5000."), s);
  }

  @Test
  void claimsAreDecidedAsStated() {
    Experiments.Plan f4 = Experiments.plan("fig4", "small");
    List<RunMetrics> runs = new ArrayList<>();
    runs.add(run("SGD", 0, 2.3, 2.3, 2.3, 2.0)); // leaves the plateau (2.072) at step 30
    for (String l : List.of("CG-Newton GGN", "CG-Newton PCH-abs", "CG-Newton PCH-clip", "CG-Newton PCH-abs, 2 sub-blocks", "CG-Newton PCH-abs, 4 sub-blocks"))
      runs.add(run(l, 0, 2.3, 2.0, 1.0, 0.5)); // at step 10
    runs.add(run("CG-Newton PCH-abs, 16 sub-blocks", 0, 2.3, 2.05, 1.5, 1.0));
    String s = Experiments.summary(f4, runs, 1, "test");
    assertTrue(s.contains("in fewer iterations than SGD* (plateau left = training loss at or below 0.9 ln 10 = 2.072): **held**"), s);
    assertTrue(s.contains("*Many sub-blocks suffice early*") && s.contains("one block): **held** (10 steps against 10 steps)"), s);
    List<RunMetrics> later = new ArrayList<>(runs);
    later.set(6, run("CG-Newton PCH-abs, 16 sub-blocks", 0, 2.3, 2.1, 1.5, 1.0));
    assertTrue(Experiments.summary(f4, later, 1, "test").contains("one block): **did not hold** (20 steps against 10 steps)"),
        Experiments.summary(f4, later, 1, "test"));
    assertTrue(s.contains("*Larger blocks are needed later* (one block ahead in test loss at the end): **held** (0.5000 against 1.0000)"), s);
    runs.set(0, run("SGD", 0, 2.3, 2.0, 1.0, 0.5));
    s = Experiments.summary(f4, runs, 1, "test");
    assertTrue(s.contains("**did not hold**. SGD: 10 steps"), s);
    runs.set(1, run("CG-Newton GGN", 0, 2.3, 2.3, 2.3, 2.3));
    assertTrue(Experiments.summary(f4, runs, 1, "test").contains("CG-Newton GGN never"));
    List<RunMetrics> flat = new ArrayList<>();
    for (RunMetrics r : runs) flat.add(run(r.label(), 0, 2.3, 2.3, 2.29, 2.3));
    s = Experiments.summary(f4, flat, 1, "test");
    assertTrue(s.contains("**undecided: no run left the plateau") && s.contains("**undecided (neither left the plateau)**"), s);

    Experiments.Plan f5 = Experiments.plan("fig5", "small");
    List<RunMetrics> r5 = new ArrayList<>(List.of(run("SGD", 0, 2.3, 2.3), run("Adam", 0, 2.3, 1.0)));
    for (Experiments.Config c : f5.configs()) if (c.optimizer().equals("cg-newton")) r5.add(run(c.label(), 0, 2.3, 1.5));
    s = Experiments.summary(f5, r5, 1, "test");
    assertTrue(s.contains("the curvature methods can* (trains = final training loss at or below 0.9 ln 10 = 2.072): **held**"), s);
    r5.set(2, run(r5.get(2).label(), 0, 2.3, 2.25));
    assertTrue(Experiments.summary(f5, r5, 1, "test").contains("**held in part: SGD did not train; CG-Newton GGN, alpha 1e-3, CG-Newton PCH-abs,"
        + " CG-Newton PCH-clip did, CG-Newton GGN, alpha 1e-4 not within the run**"), Experiments.summary(f5, r5, 1, "test"));
    r5.set(0, run("SGD", 0, 2.3, 1.0));
    assertTrue(Experiments.summary(f5, r5, 1, "test").contains("**did not hold (SGD trained)**"));
    List<RunMetrics> none = new ArrayList<>();
    for (RunMetrics r : r5) none.add(run(r.label(), 0, 2.3, 2.25));
    assertTrue(Experiments.summary(f5, none, 1, "test").contains("**undecided: neither SGD nor any curvature method left the plateau"));
    assertTrue(Experiments.summary(Experiments.only(f4, List.of("GGN")), List.of(run("CG-Newton GGN", 0, 2.3, 2.0)), 1, "test")
        .contains("fewer iterations than SGD*: not checked (SGD was not run)"));
    s = Experiments.summary(Experiments.only(f4, List.of("CG-Newton PCH-abs", "16 sub")),
        List.of(run("CG-Newton PCH-abs", 0, 2.3, 2.0, 1.0), run("CG-Newton PCH-abs, 16 sub-blocks", 0, 2.3, 2.05, 1.2)), 1, "test");
    assertTrue(s.contains("not checked (SGD was not run)") && s.contains("one block): **held** (10 steps against 10 steps)")
        && s.contains("(one block ahead in test loss at the end): **held** (1.0000 against 1.2000)"), s);
    s = Experiments.summary(Experiments.only(f4, List.of("SGD", "GGN")), List.of(run("SGD", 0, 2.3, 2.3), run("CG-Newton GGN", 0, 2.3, 2.0)), 1, "test");
    assertTrue(s.contains("**held**. SGD: never; CG-Newton GGN 10 steps.") && s.contains("2. *Many sub-blocks suffice early, larger blocks are needed later*: not checked"), s);
  }

  @Test
  void anExperimentRunsPlotsSummarizesAndResumes() throws Exception {
    Path netFile = dir.resolve("tiny.hbp");
    Files.writeString(netFile, "network tiny {\n  input x: tensor(1, 4, 4);\n  flatten;\n  linear(m = 6);\n  sigmoid;\n  linear(m = 3);\n"
        + "  loss crossentropy;\n}\n");
    NetworkSpec ns = NetworkResolver.load(netFile, null, ModuleLibrary.builtInSpecDirs());
    List<Experiments.Config> configs = List.of(new Experiments.Config("SGD", "sgd", 0.1, 0, null, null, 1, 0, 0, 0.9, 20),
        Experiments.cg("CG-Newton GGN", 0.1, 0.02, CurvatureKind.GGN, Strategy.BDA, 1, 10, 20),
        Experiments.cg("CG-Newton PCH-abs", 0.1, 0.02, CurvatureKind.PCH_ABS, Strategy.BDA, 1, 10, 20),
        Experiments.cg("CG-Newton PCH-clip", 0.1, 0.02, CurvatureKind.PCH_CLIP, Strategy.BDA, 1, 10, 20),
        Experiments.cg("CG-Newton PCH-abs, 16 sub-blocks", 0.1, 0.02, CurvatureKind.PCH_ABS, Strategy.BDA, 16, 10, 20));
    Experiments.Plan plan = new Experiments.Plan("fig4", "test", "tiny.hbp", 80, 30, 2, 1000, configs);
    var data = Synthetic.create(1, 80, 30, 1, 4, 4, 3).normalized();
    StringWriter log = new StringWriter();
    Experiments.NetworkFactory nets = () -> new Network(ns, ModuleLibrary.forSpecs(), new BlasBackend(Precision.FLOAT64, 1));
    List<RunMetrics> runs = Experiments.run(plan, data, 2, dir.resolve("exp"), nets, "synthetic", new PrintWriter(log, true), false);
    assertEquals(10, runs.size(), "5 configurations x 2 seeds");
    for (String png : List.of("loss-vs-epoch.png", "accuracy-vs-epoch.png", "loss-vs-time.png", "accuracy-vs-time.png"))
      assertTrue(Files.size(dir.resolve("exp/plots").resolve(png)) > 1000);
    String summary = Files.readString(dir.resolve("exp/summary.md"));
    assertTrue(summary.contains("| CG-Newton PCH-abs, 16 sub-blocks | 20 |") && summary.contains("### The paper's claims"), summary);
    assertTrue(Files.isRegularFile(dir.resolve("exp/cg-newton-pch-abs-16-sub-blocks/seed-1/checkpoint.npz")));
    // again: every run is complete and kept
    StringWriter again = new StringWriter();
    Experiments.run(plan, data, 2, dir.resolve("exp"), nets, "synthetic", new PrintWriter(again, true), false);
    assertEquals(10, again.toString().split("already complete", -1).length - 1, again.toString());
    // a run killed before its first checkpoint (config.json and the epoch-0 row only) is started again with its recorded settings
    Path sgd = dir.resolve("exp/sgd/seed-0");
    List<RunMetrics.Row> before = RunMetrics.read(sgd).rows();
    List<String> csv = Files.readAllLines(sgd.resolve("metrics.csv"));
    Files.write(sgd.resolve("metrics.csv"), csv.subList(0, 2));
    Files.delete(sgd.resolve("checkpoint.npz"));
    // a summary the user edited is not hbp's own: refused before any training, kept
    Files.writeString(dir.resolve("exp/summary.md"), "my notes\n", java.nio.file.StandardOpenOption.APPEND);
    byte[] edited = Files.readAllBytes(dir.resolve("exp/summary.md"));
    UserError refused = assertThrows(UserError.class,
        () -> Experiments.run(plan, data, 2, dir.resolve("exp"), nets, "synthetic", new PrintWriter(new StringWriter(), true), false));
    assertTrue(refused.getMessage().startsWith("--out " + dir.resolve("exp") + " holds summary.md, not written by hbp there"), refused.getMessage());
    assertArrayEquals(edited, Files.readAllBytes(dir.resolve("exp/summary.md")));
    Files.delete(dir.resolve("exp/summary.md"));
    StringWriter third = new StringWriter();
    Experiments.run(plan, data, 2, dir.resolve("exp"), nets, "synthetic", new PrintWriter(third, true), false);
    assertEquals(9, third.toString().split("already complete", -1).length - 1, third.toString());
    assertTrue(third.toString().contains("restarting " + sgd + " from epoch 0"), third.toString());
    List<RunMetrics.Row> redone = RunMetrics.read(sgd).rows();
    assertEquals(before.size(), redone.size());
    for (int i = 0; i < redone.size(); i++) {
      assertEquals(before.get(i).epoch(), redone.get(i).epoch());
      assertEquals(before.get(i).trainLoss(), redone.get(i).trainLoss(), 0, "the same run again, epoch " + i);
      assertEquals(before.get(i).testLoss(), redone.get(i).testLoss(), 0, "the same run again, epoch " + i);
    }
  }

  /**
   * A finished run is kept only where it was made with the settings given now (compared as a
   * resume compares them): other data, another strategy or another backend is refused before any
   * training, listing the differences, and the summary is left as it was.
   */
  @Test
  void aFinishedRunOfOtherSettingsIsRefusedBeforeAnyTraining() throws Exception {
    Path netFile = dir.resolve("tiny.hbp");
    Files.writeString(netFile, "network tiny {\n  input x: tensor(1, 4, 4);\n  flatten;\n  linear(m = 6);\n  sigmoid;\n  linear(m = 3);\n"
        + "  loss crossentropy;\n}\n");
    NetworkSpec ns = NetworkResolver.load(netFile, null, ModuleLibrary.builtInSpecDirs());
    List<Experiments.Config> configs = List.of(new Experiments.Config("SGD", "sgd", 0.1, 0, null, null, 1, 0, 0, 0.9, 20),
        Experiments.cg("CG-Newton GGN", 0.1, 0.02, CurvatureKind.GGN, Strategy.BDA, 1, 5, 20));
    Experiments.Plan plan = new Experiments.Plan("fig4", "test", "tiny.hbp", 40, 20, 1, 1000, configs);
    var data = Synthetic.create(1, 40, 20, 1, 4, 4, 3).normalized();
    Experiments.NetworkFactory f64 = () -> new Network(ns, ModuleLibrary.forSpecs(), new BlasBackend(Precision.FLOAT64, 1));
    Experiments.NetworkFactory f32 = () -> new Network(ns, ModuleLibrary.forSpecs(), new BlasBackend(Precision.FLOAT32, 1));
    Path out = dir.resolve("exp");
    Experiments.run(plan, data, 1, out, f64, "synthetic", new PrintWriter(new StringWriter(), true), false);
    byte[] summary = Files.readAllBytes(out.resolve("summary.md"));
    Path sgd = out.resolve("sgd/seed-0"), ggn = out.resolve("cg-newton-ggn/seed-0");
    byte[] sgdMetrics = Files.readAllBytes(sgd.resolve("metrics.csv")), ggnConfig = Files.readAllBytes(ggn.resolve("config.json"));

    // other data (the same images under another name: only the recorded setting differs)
    StringWriter log = new StringWriter();
    UserError data2 = assertThrows(UserError.class, () -> Experiments.run(plan, data, 1, out, f64, "fashion-mnist", new PrintWriter(log, true), false));
    assertEquals(sgd + ": the run there was made with settings that change the results; they differ from " + sgd.resolve("config.json") + ":\n"
        + "  data: the run has \"synthetic\", now \"fashion-mnist\"\n"
        + "run the experiment with the settings its runs were made with, or choose another --out", data2.getMessage());
    assertFalse(log.toString().contains("== run"), "refused before any run: " + log);
    // another strategy: only the CG-Newton run differs
    UserError strategy = assertThrows(UserError.class, () -> Experiments.run(Experiments.withStrategy(plan, Strategy.EXACT), data, 1, out, f64,
        "synthetic", new PrintWriter(new StringWriter(), true), false));
    assertTrue(strategy.getMessage().startsWith(ggn + ": the run there was made with settings that change the results")
        && strategy.getMessage().contains("\n  strategy: the run has \"bda\", now \"exact\"\n"), strategy.getMessage());
    // another backend
    UserError backend = assertThrows(UserError.class, () -> Experiments.run(plan, data, 1, out, f32, "synthetic",
        new PrintWriter(new StringWriter(), true), false));
    assertTrue(backend.getMessage().startsWith(sgd + ": the run there was made with settings that change the results")
        && backend.getMessage().contains("\n  backend_name: the run has \"blas-f64\", now \"blas-f32\""), backend.getMessage());
    // nothing was changed by the refusals
    assertArrayEquals(summary, Files.readAllBytes(out.resolve("summary.md")));
    assertArrayEquals(sgdMetrics, Files.readAllBytes(sgd.resolve("metrics.csv")));
    assertArrayEquals(ggnConfig, Files.readAllBytes(ggn.resolve("config.json")));
    // the same settings: both runs kept
    StringWriter same = new StringWriter();
    Experiments.run(plan, data, 1, out, f64, "synthetic", new PrintWriter(same, true), false);
    assertEquals(2, same.toString().split("already complete", -1).length - 1, same.toString());
  }

  /** --only: an entry that matches no configuration, or an empty one, is refused in one line naming the configurations. */
  @Test
  void onlyRefusesEntriesThatSelectNothing() {
    Experiments.Plan f5 = Experiments.plan("fig5", "small");
    String labels = "(its configurations: SGD, Adam, CG-Newton GGN, alpha 1e-4, CG-Newton GGN, alpha 1e-3, CG-Newton PCH-abs, CG-Newton PCH-clip)";
    assertEquals("--only 'nope' matches no configuration of fig5 " + labels,
        assertThrows(UserError.class, () -> Experiments.only(f5, List.of("GGN", "nope"))).getMessage());
    assertEquals("--only 'x', 'y' match no configuration of fig5 " + labels,
        assertThrows(UserError.class, () -> Experiments.only(f5, List.of("x", "SGD", "y"))).getMessage());
    assertEquals("--only has an empty entry; name configurations of fig5 " + labels,
        assertThrows(UserError.class, () -> Experiments.only(f5, List.of(""))).getMessage());
    assertEquals("--only has an empty entry; name configurations of fig5 " + labels,
        assertThrows(UserError.class, () -> Experiments.only(f5, List.of("SGD", " "))).getMessage());
    // the plan's order, each configuration once
    assertEquals(List.of("SGD", "CG-Newton GGN, alpha 1e-4", "CG-Newton GGN, alpha 1e-3"),
        Experiments.only(f5, List.of("GGN", "sgd", "alpha")).configs().stream().map(Experiments.Config::label).toList());
    assertEquals(f5, Experiments.only(f5, null));
  }
}
