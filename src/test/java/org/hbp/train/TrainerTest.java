package org.hbp.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.hbp.UserError;
import org.hbp.backend.Precision;
import org.hbp.backend.blas.BlasBackend;
import org.hbp.data.Split;
import org.hbp.data.Synthetic;
import org.hbp.io.NdArray;
import org.hbp.io.Npz;
import org.hbp.network.ConjugateGradient;
import org.hbp.network.CurvatureKind;
import org.hbp.network.ModuleLibrary;
import org.hbp.network.Network;
import org.hbp.network.NetworkResolver;
import org.hbp.network.Strategy;
import org.hbp.plot.RunMetrics;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Training runs: metrics and checkpoints as they go, resuming reproduces an uninterrupted run, clear errors. */
class TrainerTest {
  @TempDir Path dir;

  private static final String NET = "network t {\n  input x: tensor(1, 6, 6);\n  flatten;\n  linear(m = 8);\n  sigmoid;\n  linear(m = 4);\n"
      + "  loss crossentropy;\n}\n";

  private Network net() throws IOException {
    return net(NET);
  }

  private Network net(String text) throws IOException {
    Path f = Files.createTempFile(dir, "t", ".hbp");
    Files.writeString(f, text);
    return new Network(NetworkResolver.load(f, null, ModuleLibrary.builtInSpecDirs()), ModuleLibrary.forSpecs(),
        new BlasBackend(Precision.FLOAT64, 1));
  }

  private static Split data() {
    return Synthetic.create(3, 120, 40, 1, 6, 6, 4).normalized();
  }

  private static Optimizer cg(Network net) {
    return new CgNewton(net, new CgNewton.Settings(0.2, 0.05, CurvatureKind.PCH_ABS, Strategy.BDA, 2, new ConjugateGradient.Settings(0.1, 0, 20),
        1L << 30));
  }

  private Trainer trainer(Network net, Optimizer opt, int epochs, Path run, StringWriter log) {
    return new Trainer(net, data(), opt, new Trainer.Settings(epochs, 25, 7, 30), run, new PrintWriter(log, true), false);
  }

  @Test
  void aRunWritesMetricsAndCheckpointsAsItGoes() throws Exception {
    Network net = net();
    Path run = dir.resolve("run");
    StringWriter log = new StringWriter();
    List<RunMetrics.Row> rows = trainer(net, cg(net), 3, run, log).start(Initialization.xavierNormal(net, 1), Map.of("label", "cg", "seed", 1));
    assertEquals(4, rows.size(), "epoch 0 and three epochs");
    List<String> csv = Files.readAllLines(run.resolve("metrics.csv"));
    assertEquals(RunMetrics.HEADER, csv.get(0));
    assertEquals(5, csv.size());
    assertEquals(4, Files.readAllLines(run.resolve("metrics.jsonl")).size());
    assertTrue(Files.readString(run.resolve("config.json")).contains("\"label\" : \"cg\""));
    for (int e = 0; e <= 3; e++) assertEquals(e, rows.get(e).epoch());
    assertEquals(0, rows.get(0).step());
    assertEquals(4 * 3, rows.get(3).step(), "120 samples in batches of 25, the last partial one dropped: 4 steps per epoch");
    assertEquals(4 * 3 * 25, rows.get(3).samples());
    assertTrue(Double.isNaN(rows.get(0).cgIterations()) && rows.get(1).cgIterations() >= 1);
    assertTrue(rows.get(3).trainLoss() < rows.get(0).trainLoss(), "training lowers the training loss: " + rows);
    Map<String, NdArray> ck = Npz.read(run.resolve(Checkpoint.FILE));
    assertEquals(3, ck.get("epoch").data()[0]);
    assertArrayEquals(new int[] {8, 36}, ck.get("1.W").shape(), "parameters in PyTorch's shapes");
    assertTrue(log.toString().contains("epoch 3/3 [########################] 100% 4/4"), log.toString());
    assertTrue(log.toString().contains("epoch 3: train loss"), log.toString());
    // the directory now holds a run: starting again is refused
    IOException again = assertThrows(IOException.class, () -> trainer(net, cg(net), 3, run, new StringWriter())
        .start(Initialization.xavierNormal(net, 1), Map.of()));
    assertTrue(again.getMessage().contains("--resume"), again.getMessage());
  }

  /** Stopping after epoch 2 and resuming gives the uninterrupted run's metrics and parameters, for each optimizer. */
  @Test
  void resumingReproducesAnUninterruptedRun() throws Exception {
    for (String kind : List.of("cg-newton", "sgd", "adam")) {
      Network net = net();
      java.util.function.Supplier<Optimizer> opt = () -> switch (kind) {
        case "sgd" -> new Sgd(net, 0.1, 0.9);
        case "adam" -> new Adam(net, 0.01, 0.9, 0.999, 1e-8);
        default -> cg(net);
      };
      Path straight = dir.resolve(kind + "-straight"), split = dir.resolve(kind + "-split");
      List<RunMetrics.Row> a = trainer(net, opt.get(), 4, straight, new StringWriter()).start(Initialization.xavierNormal(net, 2), Map.of());
      trainer(net, opt.get(), 2, split, new StringWriter()).start(Initialization.xavierNormal(net, 2), Map.of());
      // an epoch measured but not checkpointed (the run stopped in between) is dropped and redone
      Files.writeString(split.resolve("metrics.csv"), "3,99,99,1.0,1.0,0.5,1.0,0.5,NaN\n", java.nio.file.StandardOpenOption.APPEND);
      List<RunMetrics.Row> b = trainer(net, opt.get(), 4, split, new StringWriter()).resume(Initialization.xavierNormal(net, 2), Map.of());
      assertEquals(a.size(), b.size(), kind);
      for (int i = 0; i < a.size(); i++) {
        RunMetrics.Row x = a.get(i), y = b.get(i);
        assertEquals(x.epoch(), y.epoch());
        assertEquals(x.step(), y.step());
        assertEquals(x.trainLoss(), y.trainLoss(), 0, kind + " epoch " + i);
        assertEquals(x.testLoss(), y.testLoss(), 0, kind + " epoch " + i);
        assertEquals(x.testAccuracy(), y.testAccuracy(), 0);
        assertEquals(x.cgIterations(), y.cgIterations(), 0);
      }
      Map<String, NdArray> p = Npz.read(straight.resolve(Checkpoint.FILE)), q = Npz.read(split.resolve(Checkpoint.FILE));
      for (String name : net.parameterNames()) assertEquals(p.get(name), q.get(name), kind + " " + name);
      assertEquals(5, Files.readAllLines(split.resolve("metrics.jsonl")).size());
    }
  }

  @Test
  void divergenceIsAClearError() throws Exception {
    Network net = net();
    // a step of 1e307 overflows the weights to infinity within the first epoch (1e30 no longer does: the
    // cross-entropy is computed as x - logsumexp(x), finite for any finite logits)
    DivergedException e = assertThrows(DivergedException.class, () -> trainer(net, new Sgd(net, 1e307, 0), 2, dir.resolve("bad"), new StringWriter())
        .start(Initialization.xavierNormal(net, 1), Map.of()));
    assertTrue(e.getMessage().contains("training diverged at epoch 1") && e.getMessage().contains("lower the learning rate"), e.getMessage());
    assertEquals(2, Files.readAllLines(dir.resolve("bad").resolve("metrics.csv")).size(), "epoch 0 was kept");
  }

  @Test
  void dataThatDoesNotFitTheNetworkIsRefused() throws Exception {
    Network net = net();
    Split wrong = Synthetic.create(1, 20, 10, 1, 5, 5, 4);
    UserError e = assertThrows(UserError.class,
        () -> new Trainer(net, wrong, new Sgd(net, 0.1, 0), new Trainer.Settings(1, 5, 0, 5), dir.resolve("x"), null, false));
    assertTrue(e.getMessage().contains("takes inputs [1, 6, 6]") && e.getMessage().contains("(1, 5, 5)"), e.getMessage());
    Split classes = Synthetic.create(1, 20, 10, 1, 6, 6, 3);
    e = assertThrows(UserError.class,
        () -> new Trainer(net, classes, new Sgd(net, 0.1, 0), new Trainer.Settings(1, 5, 0, 5), dir.resolve("y"), null, false));
    assertTrue(e.getMessage().contains("4 outputs") && e.getMessage().contains("3 classes"), e.getMessage());
    IOException missing = assertThrows(IOException.class,
        () -> trainer(net, new Sgd(net, 0.1, 0), 1, dir.resolve("none"), new StringWriter()).resume(Initialization.xavierNormal(net, 1), Map.of()));
    assertTrue(missing.getMessage().contains("no checkpoint"), missing.getMessage());
    assertFalse(Files.exists(dir.resolve("none")), "resuming nothing creates nothing");
  }
}
