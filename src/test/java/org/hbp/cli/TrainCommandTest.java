package org.hbp.cli;

import static org.hbp.cli.CliRun.hbp;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.hbp.backend.opencl.OpenClTestSupport;
import org.hbp.data.FashionMnist;
import org.hbp.io.NdArray;
import org.hbp.io.Npz;
import org.hbp.plot.RunMetrics;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code hbp train} end to end: each optimizer on synthetic data and on Fashion-MNIST (Debian's
 * package, installed by .ci/run), metrics, checkpoint, plots, resume, and clear errors.
 */
class TrainCommandTest {
  @TempDir Path dir;

  private Path net(String name, String text) throws Exception {
    Path f = dir.resolve(name);
    Files.writeString(f, text);
    return f;
  }

  private static final String SMALL = "network small {\n  input x: tensor(1, 28, 28);\n  flatten;\n  linear(m = 16);\n  sigmoid;\n"
      + "  linear(m = 10);\n  loss crossentropy;\n}\n";

  /**
   * cg-newton on the exact Hessian with little damping meets indefinite blocks: one notice for the
   * run (as it is, without the memory-budget remark of the curvature's notices) and a count on each
   * epoch line.
   */
  @Test
  void cgNewtonSaysWhenItMeetsNegativeCurvature() throws Exception {
    Path net = net("small.hbp", SMALL);
    CliRun r = hbp("train", "--net", net.toString(), "--data", "synthetic:500,100", "--optimizer", "cg-newton", "--curvature", "hessian",
        "--alpha", "0.0001", "--epochs", "2", "--batch", "100", "--out", dir.resolve("run").toString(), "--backend", "blas-f64", "--seed", "0",
        "--no-plots");
    r.assertExit(0);
    String all = r.out() + r.err();
    int notices = all.split(java.util.regex.Pattern.quote("cg-newton: CG met negative curvature in a damped block"), -1).length - 1;
    assertEquals(1, notices, all);
    assertTrue(!all.contains("less the"), "the notice is the optimizer's own, not a chunk plan's: " + all);
    assertTrue(all.matches("(?s).*epoch 1: .*, negative curvature in \\d+ of \\d+ CG block solves.*"), all);
  }

  @Test
  void eachOptimizerTrainsOnSyntheticDataAndWritesMetricsCheckpointAndPlots() throws Exception {
    Path net = net("small.hbp", SMALL);
    for (String opt : List.of("cg-newton", "sgd", "adam")) {
      Path run = dir.resolve(opt);
      CliRun r = hbp("train", "--net", net.toString(), "--data", "synthetic:600,200", "--optimizer", opt, "--epochs", "3", "--batch", "50",
          "--out", run.toString(), "--backend", "blas-f64", "--seed", "3", "--lr", opt.equals("adam") ? "0.01" : "0.1");
      r.assertExit(0);
      r.assertOutContains("done: epoch 3");
      assertTrue(r.err().contains("epoch 3/3 [########################] 100% 12/12"), r.err());
      RunMetrics m = RunMetrics.read(run);
      assertEquals(4, m.rows().size());
      assertTrue(m.rows().get(3).trainLoss() < m.rows().get(0).trainLoss(), opt + " lowers the training loss: " + m.rows());
      assertTrue(m.rows().get(3).testAccuracy() > 0.3, opt + " learns the synthetic classes (chance: 0.1): " + m.rows());
      assertEquals(opt.equals("cg-newton"), !Double.isNaN(m.rows().get(1).cgIterations()));
      Map<String, NdArray> ck = Npz.read(run.resolve("checkpoint.npz"));
      assertEquals(3, ck.get("epoch").data()[0]);
      for (String png : List.of("loss-vs-epoch.png", "accuracy-vs-epoch.png", "loss-vs-time.png", "accuracy-vs-time.png"))
        assertTrue(Files.size(run.resolve("plots").resolve(png)) > 1000, png);
      String config = Files.readString(run.resolve("config.json"));
      assertTrue(config.contains("\"optimizer\" : \"" + opt + "\"") && config.contains("\"command\" : \"hbp train"), config);
    }
  }

  @Test
  void resumeContinuesARun() throws Exception {
    Path net = net("small.hbp", SMALL), run = dir.resolve("run");
    String[] common = {"train", "--net", net.toString(), "--data", "synthetic:400,100", "--optimizer", "sgd", "--batch", "100", "--out",
        run.toString(), "--backend", "blas-f64", "--no-plots"};
    CliRun first = hbp(concat(common, "--epochs", "1"));
    first.assertExit(0);
    CliRun again = hbp(concat(common, "--epochs", "1"));
    assertEquals(2, again.code());
    assertTrue(again.err().contains("already holds a run") && again.err().contains("--resume"), again.err());
    CliRun resumed = hbp(concat(common, "--epochs", "3", "--resume"));
    resumed.assertExit(0);
    assertTrue(resumed.err().contains("resuming") && resumed.out().contains("done: epoch 3"), resumed.out() + resumed.err());
    assertEquals(4, RunMetrics.read(run).rows().size());
    // a resumed run draws its plots again at its end: a file of the user's there is refused before any training
    Files.createDirectories(run.resolve("plots"));
    Files.writeString(run.resolve("plots/loss-vs-epoch.png"), "mine");
    CliRun refused = hbp(concat(java.util.Arrays.copyOf(common, common.length - 1), "--epochs", "4", "--resume"));
    assertEquals(2, refused.code());
    assertEquals("hbp: " + run.resolve("plots") + " holds loss-vs-epoch.png, not written by hbp there (or changed since); remove them, or pass --no-plots",
        refused.err().strip());
    assertEquals(4, RunMetrics.read(run).rows().size(), "not trained");
    assertEquals("mine", Files.readString(run.resolve("plots/loss-vs-epoch.png")));
  }

  /** The command line recorded once, "1 epoch", a foreign folder refused untouched, a resume with other settings refused with the list. */
  @Test
  void runFoldersAreSafeAndMessagesRight() throws Exception {
    Path net = net("small.hbp", SMALL), run = dir.resolve("run");
    String[] common = {"train", "--net", net.toString(), "--data", "synthetic:200,50", "--batch", "50", "--out", run.toString(), "--backend",
        "blas-f64", "--no-plots"};
    CliRun first = hbp(concat(common, "--optimizer", "sgd", "--epochs", "1", "--label", "my run"));
    first.assertExit(0);
    first.assertOutContains("batch 50, 1 epoch, backend");
    String config = Files.readString(run.resolve("config.json"));
    assertTrue(config.contains("\"command\" : \"hbp train --net ") && config.contains("--label 'my run'"), config);
    CliRun other = hbp(concat(common, "--optimizer", "adam", "--seed", "4", "--epochs", "2", "--resume"));
    assertEquals(2, other.code());
    assertTrue(other.err().contains("optimizer: the run has \"sgd\", now \"adam\"") && other.err().contains("seed: the run has 0, now 4"),
        other.err());
    assertEquals(config, Files.readString(run.resolve("config.json")), "a refused resume leaves config.json as it was");
    CliRun same = hbp(concat(common, "--optimizer", "sgd", "--epochs", "2", "--resume"));
    same.assertExit(0);
    assertTrue(Files.readString(run.resolve("config.json")).contains("\"from_epoch\" : 2"));
    Path mine = dir.resolve("mine");
    Files.createDirectories(mine);
    Files.writeString(mine.resolve("checkpoint.npz"), "not hbp's");
    CliRun foreign = hbp(concat(java.util.Arrays.copyOf(common, common.length - 5), "--out", mine.toString(), "--no-plots"));
    assertEquals(2, foreign.code());
    assertTrue(foreign.err().contains(mine + " already holds a run (checkpoint.npz)"), foreign.err());
    assertEquals("not hbp's", Files.readString(mine.resolve("checkpoint.npz")));
  }

  /** The real data: one epoch of each optimizer on Fashion-MNIST with a small net, large batches. */
  @Test
  void eachOptimizerRunsOnFashionMnist() throws Exception {
    Path files = FashionMnist.DEFAULT_DIR.resolve("train-images-idx3-ubyte.gz");
    if (!Files.isRegularFile(files)) {
      String why = "Fashion-MNIST is not installed (" + files + "; apt-get install dataset-fashion-mnist)";
      if (System.getenv("CI") != null) org.junit.jupiter.api.Assertions.fail(why + "; CI must have it");
      org.junit.jupiter.api.Assumptions.assumeTrue(false, why);
    }
    Path net = net("small.hbp", SMALL);
    for (String opt : List.of("cg-newton", "sgd", "adam")) {
      Path run = dir.resolve("fmnist-" + opt);
      String[] args = {"train", "--net", net.toString(), "--data", "fashion-mnist", "--optimizer", opt, "--epochs", "1", "--batch", "2000",
          "--eval-batch", "5000", "--out", run.toString(), "--no-plots"};
      // --cg-maxiter is cg-newton's own: the other optimizers refuse it
      CliRun r = hbp(opt.equals("cg-newton") ? concat(args, "--cg-maxiter", "10") : args);
      r.assertExit(0);
      assertTrue(r.out().contains("on fashion-mnist") && r.out().contains("(60000 train, 10000 test)"), r.out());
      RunMetrics m = RunMetrics.read(run);
      assertEquals(30, m.rows().get(1).step(), "60000 / 2000 steps");
      assertTrue(m.rows().get(1).testAccuracy() > 0.2, opt + ": " + m.rows());
    }
  }

  /** --device opencl (PoCL in CI) trains to the same numbers as the CPU in float64, for each optimizer. */
  @Test
  void trainingOnAnOpenClDeviceMatchesTheCpu() throws Exception {
    OpenClTestSupport.requireOpenCl();
    Path net = net("small.hbp", SMALL);
    for (String opt : List.of("cg-newton", "sgd", "adam")) {
      RunMetrics[] m = new RunMetrics[2];
      String[] devices = {"cpu", "opencl"};
      for (int i = 0; i < 2; i++) {
        Path run = dir.resolve(opt + "-" + devices[i]);
        CliRun r = hbp("train", "--net", net.toString(), "--data", "synthetic:300,100", "--optimizer", opt, "--epochs", "2", "--batch", "50",
            "--out", run.toString(), "--backend", "blas-f64", "--device", devices[i], "--no-plots", "--lr", opt.equals("adam") ? "0.01" : "0.1");
        r.assertExit(0);
        m[i] = RunMetrics.read(run);
      }
      for (int e = 0; e < 3; e++) {
        RunMetrics.Row a = m[0].rows().get(e), b = m[1].rows().get(e);
        assertEquals(a.trainLoss(), b.trainLoss(), 1e-9, opt + " epoch " + e);
        assertEquals(a.testLoss(), b.testLoss(), 1e-9, opt + " epoch " + e);
        assertEquals(a.testAccuracy(), b.testAccuracy(), 0, opt + " epoch " + e);
      }
    }
    CliRun bad = hbp("train", "--net", net.toString(), "--device", "cuda", "--out", dir.resolve("x").toString());
    assertEquals(2, bad.code());
    assertTrue(bad.err().contains("--device 'cuda': expected cpu, opencl or opencl:INDEX"), bad.err());
  }

  @Test
  void clearErrors() throws Exception {
    Path fc = Path.of("networks", "fc.hbp");
    CliRun r = hbp("train", "--net", fc.toString(), "--epochs", "1", "--out", dir.resolve("a").toString(), "--data", "fashion-mnist");
    assertEquals(2, r.code());
    assertTrue(r.err().contains("takes inputs [3, 32, 32]") && r.err().contains("(1, 28, 28)"), r.err());
    r = hbp("train", "--net", net("small.hbp", SMALL).toString(), "--optimizer", "lbfgs", "--out", dir.resolve("b").toString());
    assertEquals(2, r.code());
    assertTrue(r.err().contains("expected cg-newton, sgd, adam or kfac"), r.err());
    r = hbp("train", "--net", net("small.hbp", SMALL).toString(), "--data", "cifar10:" + dir.resolve("nothing"), "--out",
        dir.resolve("c").toString());
    assertEquals(2, r.code());
    assertTrue(r.err().contains("nothing"), r.err());
    r = hbp("train", "--net", net("small.hbp", SMALL).toString(), "--data", "synthetic:100,50", "--optimizer", "sgd", "--lr", "1e307",
        "--epochs", "1", "--batch", "50", "--out", dir.resolve("d").toString());
    assertEquals(2, r.code());
    assertTrue(r.err().contains("training diverged"), r.err());
    // no test samples: the metrics would all be NaN; refused before the run folder is made
    r = hbp("train", "--net", net("small.hbp", SMALL).toString(), "--data", "synthetic:100,0", "--optimizer", "sgd", "--epochs", "1", "--batch",
        "50", "--out", dir.resolve("e").toString());
    assertEquals(2, r.code());
    assertEquals("hbp: the test set 'synthetic/test' is empty; each epoch reports the loss and accuracy on the test set and on a training subset "
        + "of its size (the paper's metrics), so it needs at least one (e.g. synthetic:2000,500)", r.err().strip());
    assertFalse(Files.exists(dir.resolve("e")));
    // a loss that takes target vectors, not the data set's class labels: refused before the run folder is made, so a retry can use it
    String mse = "network smallmse {\n  input x: tensor(1, 4, 4);\n  flatten;\n  linear(m = 6);\n  sigmoid;\n  linear(m = 3);\n  loss mse;\n}\n";
    r = hbp("train", "--net", net("small_mse.hbp", mse).toString(), "--data", "synthetic:200,100", "--batch", "50", "--epochs", "1", "--out",
        dir.resolve("f").toString());
    assertEquals(2, r.code());
    assertEquals("hbp: network 'smallmse' ends in loss mse, whose targets are 3 values per sample, but data set 'synthetic/train' has a class "
        + "label per sample; training on class labels needs a loss whose target is a vector declared onehot or probability, such as crossentropy", r.err().strip());
    assertFalse(Files.exists(dir.resolve("f")));
  }

  /**
   * --optimizer kfac without --strategy trains with kfac (bda, cg-newton's default, has no closed-form inverse); a wrong one given is refused;
   * diag-hessian trains on the Hessian's diagonal, and a --curvature other than the strategy's is refused before the run folder is made.
   */
  @Test
  void theKfacOptimizerDefaultsToTheKfacStrategy() throws Exception {
    String tiny = "network tiny {\n  input x: tensor(1, 4, 4);\n  flatten;\n  linear(m = 6);\n  sigmoid;\n  linear(m = 3);\n  loss crossentropy;\n}\n";
    Path netFile = net("tiny.hbp", tiny);
    CliRun r = hbp("train", "--net", netFile.toString(), "--data", "synthetic:200,100", "--optimizer", "kfac", "--batch", "50", "--epochs", "1",
        "--mc-samples", "2", "--no-plots", "--out", dir.resolve("k").toString());
    r.assertExit(0);
    assertTrue(Files.readString(dir.resolve("k/config.json")).contains("\"strategy\" : \"kfac\""), Files.readString(dir.resolve("k/config.json")));
    r = hbp("train", "--net", netFile.toString(), "--data", "synthetic:200,100", "--optimizer", "kfac", "--strategy", "bda", "--batch", "50",
        "--epochs", "1", "--out", dir.resolve("b").toString());
    assertEquals(2, r.code());
    assertTrue(r.err().contains("use --strategy kfac, kflr, ekfac, diag-ggn, diag-ggn-mc or diag-hessian, not bda"), r.err());
    assertFalse(Files.exists(dir.resolve("b")));
    // cg-newton keeps its default, bda
    r = hbp("train", "--net", netFile.toString(), "--data", "synthetic:200,100", "--batch", "50", "--epochs", "1", "--cg-maxiter", "2",
        "--no-plots", "--out", dir.resolve("c").toString());
    r.assertExit(0);
    assertTrue(Files.readString(dir.resolve("c/config.json")).contains("\"strategy\" : \"bda\""), Files.readString(dir.resolve("c/config.json")));
    // cg-newton's kfac draws --mc-samples vectors, seeded by --seed: other samples, another run; the config records them
    String[] losses = new String[2];
    for (int k = 0; k < 2; k++) {
      Path out = dir.resolve("cgk" + k);
      hbp("train", "--net", netFile.toString(), "--data", "synthetic:200,100", "--strategy", "kfac", "--mc-samples", k == 0 ? "1" : "16",
          "--fisher", "sampled", "--batch", "50", "--epochs", "1", "--cg-maxiter", "3", "--no-plots", "--out", out.toString()).assertExit(0);
      String config = Files.readString(out.resolve("config.json"));
      assertTrue(config.contains("\"mc_samples\" : " + (k == 0 ? 1 : 16)) && config.contains("\"fisher\" : \"sampled\""), config);
      // the losses and accuracies of each row, not its wall time (epoch,step,samples,wall_seconds,train_loss,...)
      losses[k] = Files.readAllLines(out.resolve("metrics.csv")).stream().map(l -> l.substring(l.indexOf(',', l.indexOf(',', l.indexOf(',',
          l.indexOf(',') + 1) + 1) + 1))).collect(java.util.stream.Collectors.joining("\n"));
    }
    assertFalse(losses[0].equals(losses[1]), "--mc-samples reaches cg-newton's kfac draw:\n" + losses[0]);
    // diag-hessian solves with the Hessian's diagonal, its curvature without --curvature; --curvature may repeat it, and nothing else
    for (String[] curvature : new String[][] {{}, {"--curvature", "hessian"}}) {
      Path out = dir.resolve("h" + curvature.length);
      r = hbp(concat(new String[] {"train", "--net", netFile.toString(), "--data", "synthetic:200,100", "--optimizer", "kfac", "--strategy",
          "diag-hessian", "--alpha", "0.5", "--batch", "50", "--epochs", "1", "--no-plots", "--out", out.toString()}, curvature));
      r.assertExit(0);
      assertTrue(Files.readString(out.resolve("config.json")).contains("\"strategy\" : \"diag-hessian\""), Files.readString(out.resolve("config.json")));
    }
    r = hbp("train", "--net", netFile.toString(), "--data", "synthetic:200,100", "--optimizer", "kfac", "--strategy", "diag-hessian", "--curvature",
        "ggn", "--batch", "50", "--epochs", "1", "--out", dir.resolve("hg").toString());
    assertEquals("hbp: --strategy diag-hessian is the diagonal of the Hessian; use it with --curvature hessian", r.err().strip());
    r = hbp("train", "--net", netFile.toString(), "--data", "synthetic:200,100", "--optimizer", "kfac", "--strategy", "kflr", "--curvature",
        "hessian", "--batch", "50", "--epochs", "1", "--out", dir.resolve("kh").toString());
    // the sigmoid keeps a residual term in the Hessian, which Kronecker factors of the GGN do not have
    assertEquals("hbp: --strategy kflr approximates the GGN (Fisher), which has no residual terms; layer 2 (sigmoid) has a residual with "
        + "respect to 'x' that this curvature keeps; use --curvature ggn, or --strategy exact, kfra or bda", r.err().strip());
    assertFalse(Files.exists(dir.resolve("hg")) || Files.exists(dir.resolve("kh")));
    String help = hbp("train", "--help").out().replaceAll("\\s+", " ");
    assertTrue(help.contains("cg-newton: exact, kfra, bda, kfac, kflr, ekfac, diag-ggn, diag-ggn-mc or diag-hessian (default: bda")
        && help.contains("kfac: kfac, kflr, ekfac, diag-ggn, diag-ggn-mc or diag-hessian (default there: kfac)"), help);
  }

  private static String[] concat(String[] a, String... b) {
    String[] r = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, r, a.length, b.length);
    return r;
  }
}
