package org.hbp.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.hbp.UserError;
import org.hbp.backend.Precision;
import org.hbp.backend.blas.BlasBackend;
import org.hbp.data.Synthetic;
import org.hbp.io.NdArray;
import org.hbp.io.Npz;
import org.hbp.network.Network;
import org.hbp.network.ModuleLibrary;
import org.hbp.network.NetworkResolver;
import org.hbp.plot.RunMetrics;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Run folders cannot be clobbered: only a new or empty folder starts a run, a run holds a lock for
 * its whole length, a run killed before its first checkpoint can be resumed, resuming checks the
 * recorded settings and every checkpoint array.
 */
class RunFolderTest {
  @TempDir Path dir;

  private static final String NET = "network t {\n  input x: tensor(1, 6, 6);\n  flatten;\n  linear(m = 8);\n  sigmoid;\n  linear(m = 4);\n"
      + "  loss crossentropy;\n}\n";

  private Network net(String text) throws IOException {
    Path f = Files.createTempFile(dir, "net", ".hbp");
    Files.writeString(f, text);
    return new Network(NetworkResolver.load(f, null, ModuleLibrary.builtInSpecDirs()), ModuleLibrary.forSpecs(),
        new BlasBackend(Precision.FLOAT64, 1));
  }

  private Trainer trainer(Network net, Optimizer opt, int epochs, int batch, long seed, Path run, Writer log) {
    return new Trainer(net, Synthetic.create(3, 120, 40, 1, 6, 6, 4).normalized(), opt, new Trainer.Settings(epochs, batch, seed, 30), run,
        new PrintWriter(log, true), false);
  }

  private Trainer sgd(Network net, int epochs, Path run) {
    return trainer(net, new Sgd(net, 0.1, 0.9), epochs, 25, 7, run, new StringWriter());
  }

  private static final Map<String, Object> SGD = Map.of("optimizer", "sgd", "lr", 0.1, "momentum", 0.9);

  /** Every file of a folder with its bytes, to show that nothing changed. */
  private static Map<String, String> snapshot(Path folder) throws IOException {
    Map<String, String> m = new LinkedHashMap<>();
    try (var s = Files.walk(folder)) {
      for (Path p : s.sorted().toList())
        if (Files.isRegularFile(p)) m.put(folder.relativize(p).toString(), java.util.HexFormat.of().formatHex(Files.readAllBytes(p)));
    }
    return m;
  }

  @Test
  void onlyANewOrEmptyFolderStartsARunAndOtherFilesAreLeftAsTheyWere() throws Exception {
    Network net = net(NET);
    Path mine = dir.resolve("mine");
    Files.createDirectories(mine);
    Files.writeString(mine.resolve("notes.txt"), "my notes");
    Map<String, String> before = snapshot(mine);
    IOException e = assertThrows(IOException.class, () -> sgd(net, 1, mine).start(Initialization.xavierNormal(net, 1), SGD));
    assertTrue(e.getMessage().contains(mine.toString()) && e.getMessage().contains("notes.txt") && e.getMessage().contains("new or empty"),
        e.getMessage());
    assertEquals(before, snapshot(mine), "nothing written, not even a lock file");
    // files named like a run's: still not ours to overwrite; resume is the way
    Files.writeString(mine.resolve("config.json"), "{\"mine\": 1}");
    Files.writeString(mine.resolve("metrics.jsonl"), "mine");
    before = snapshot(mine);
    e = assertThrows(IOException.class, () -> sgd(net, 1, mine).start(Initialization.xavierNormal(net, 1), SGD));
    assertTrue(e.getMessage().contains(mine.toString()) && e.getMessage().contains("config.json, metrics.jsonl")
        && e.getMessage().contains("--resume"), e.getMessage());
    assertEquals(before, snapshot(mine));
    // a folder holding only the lock file and orphan temporary files of a killed write is empty
    Path empty = dir.resolve("empty");
    Files.createDirectories(empty);
    Files.writeString(empty.resolve(RunFolder.LOCK), "");
    Files.writeString(empty.resolve(".metrics.csv.0badc0de.tmp"), "half a row");
    sgd(net, 1, empty).start(Initialization.xavierNormal(net, 1), SGD);
    assertFalse(Files.exists(empty.resolve(".metrics.csv.0badc0de.tmp")), "orphan removed");
    assertEquals(2, RunMetrics.read(empty).rows().size());
    // --out naming a file
    Path file = dir.resolve("afile");
    Files.writeString(file, "x");
    e = assertThrows(IOException.class, () -> sgd(net, 1, file).start(Initialization.xavierNormal(net, 1), SGD));
    assertTrue(e.getMessage().contains(file + " is not a folder"), e.getMessage());
    assertEquals("x", Files.readString(file));
  }

  /** A writer that, at the first progress line, signals and waits: the first run then holds the lock. */
  private static final class Pausing extends Writer {
    final CountDownLatch reached = new CountDownLatch(1), go = new CountDownLatch(1);
    final StringBuilder text = new StringBuilder();

    @Override
    public void write(char[] c, int off, int len) {
      synchronized (text) {
        text.append(c, off, len);
      }
      reached.countDown();
      try {
        go.await(60, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }

    @Override
    public void flush() {}

    @Override
    public void close() {}
  }

  @Test
  void aSecondTrainingIntoTheSameFolderFailsAtOnceAndTheFirstRunsOn() throws Exception {
    Network a = net(NET), b = net(NET);
    Path run = dir.resolve("run");
    Pausing log = new Pausing();
    ExecutorService pool = Executors.newSingleThreadExecutor();
    try {
      Future<List<RunMetrics.Row>> first = pool.submit(() -> trainer(a, new Sgd(a, 0.1, 0.9), 2, 25, 7, run, log)
          .start(Initialization.xavierNormal(a, 1), SGD));
      assertTrue(log.reached.await(60, TimeUnit.SECONDS), "the first run is training");
      // the folder holds a run now: a second start is refused; so is a resume, by the lock, at once
      IOException start = assertThrows(IOException.class, () -> sgd(b, 2, run).start(Initialization.xavierNormal(b, 1), SGD));
      assertTrue(start.getMessage().contains(run.toString()), start.getMessage());
      long t0 = System.nanoTime();
      IOException resume = assertThrows(IOException.class, () -> sgd(b, 2, run).resume(Initialization.xavierNormal(b, 1), SGD));
      assertTrue((System.nanoTime() - t0) / 1e9 < 5, "fails at once");
      assertTrue(resume.getMessage().contains(run + " is in use by another training"), resume.getMessage());
      log.go.countDown();
      List<RunMetrics.Row> rows = first.get(60, TimeUnit.SECONDS);
      assertEquals(3, rows.size());
      List<Integer> epochs = new ArrayList<>();
      for (RunMetrics.Row r : RunMetrics.read(run).rows()) epochs.add(r.epoch());
      assertEquals(List.of(0, 1, 2), epochs, "the metrics are the first run's alone");
    } finally {
      log.go.countDown();
      pool.shutdownNow();
    }
    // after the run the lock is free again
    sgd(b, 3, run).resume(Initialization.xavierNormal(b, 1), SGD);
    assertEquals(4, RunMetrics.read(run).rows().size());
  }

  /** Holds the lock of a run folder (args[0]) in another process until its standard input closes. */
  public static void main(String[] args) throws Exception {
    try (RunFolder f = RunFolder.lock(Path.of(args[0]))) {
      System.out.println("locked");
      System.out.flush();
      while (System.in.read() >= 0) {
        // wait for the parent to close our input
      }
    }
  }

  @Test
  void anotherProcessHoldingTheLockStopsATraining() throws Exception {
    Network net = net(NET);
    Path run = dir.resolve("run");
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process p = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), RunFolderTest.class.getName(), run.toString())
        .redirectErrorStream(true).start();
    try {
      BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
      assertEquals("locked", out.readLine(), "the other process took the lock");
      IOException e = assertThrows(IOException.class, () -> sgd(net, 1, run).start(Initialization.xavierNormal(net, 1), SGD));
      assertTrue(e.getMessage().contains(run + " is in use by another training"), e.getMessage());
      assertEquals(List.of(), RunFolder.contents(run), "nothing was written");
    } finally {
      p.getOutputStream().close();
      assertTrue(p.waitFor(30, TimeUnit.SECONDS));
    }
    assertEquals(0, p.exitValue());
    sgd(net, 1, run).start(Initialization.xavierNormal(net, 1), SGD);
    assertEquals(2, RunMetrics.read(run).rows().size());
  }

  @Test
  void aRunKilledBeforeItsFirstCheckpointIsResumedFromEpochZero() throws Exception {
    Network net = net(NET);
    Path straight = dir.resolve("straight"), killed = dir.resolve("killed");
    List<RunMetrics.Row> a = sgd(net, 2, straight).start(Initialization.xavierNormal(net, 1), SGD);
    // the state a kill leaves after the first metrics row, before the first checkpoint
    sgd(net, 0, killed).start(Initialization.xavierNormal(net, 1), SGD);
    Files.delete(killed.resolve(Checkpoint.FILE));
    Files.writeString(killed.resolve(".checkpoint.npz.12345678.tmp"), "partial");
    IOException again = assertThrows(IOException.class, () -> sgd(net, 2, killed).start(Initialization.xavierNormal(net, 1), SGD));
    assertTrue(again.getMessage().contains("already holds a run") && again.getMessage().contains("--resume"), again.getMessage());
    StringWriter log = new StringWriter();
    List<RunMetrics.Row> b = trainer(net, new Sgd(net, 0.1, 0.9), 2, 25, 7, killed, log).resume(Initialization.xavierNormal(net, 1), SGD);
    assertTrue(log.toString().contains("restarting " + killed + " from epoch 0"), log.toString());
    assertFalse(Files.exists(killed.resolve(".checkpoint.npz.12345678.tmp")));
    assertEquals(a.size(), b.size());
    for (int i = 0; i < a.size(); i++) {
      assertEquals(a.get(i).epoch(), b.get(i).epoch());
      assertEquals(a.get(i).trainLoss(), b.get(i).trainLoss(), 0, "epoch " + i);
      assertEquals(a.get(i).testLoss(), b.get(i).testLoss(), 0, "epoch " + i);
    }
    assertEquals(3, RunMetrics.read(killed).rows().size(), "the killed run's epoch-0 row was replaced, not repeated");
    assertEquals(3, Files.readAllLines(killed.resolve("metrics.jsonl")).size());
  }

  @Test
  void resumeRefusesSettingsThatChangeResultsAndRecordsTheOthers() throws Exception {
    Network net = net(NET);
    Path run = dir.resolve("run");
    Map<String, Object> config = new LinkedHashMap<>(SGD);
    config.put("label", "first");
    sgd(net, 1, run).start(Initialization.xavierNormal(net, 1), config);
    Map<String, String> before = snapshot(run);
    // another optimizer
    Map<String, Object> adam = Map.of("optimizer", "adam", "lr", 0.1, "momentum", 0.9);
    UserError e = assertThrows(UserError.class,
        () -> trainer(net, new Adam(net, 0.1, 0.9, 0.999, 1e-8), 2, 25, 7, run, new StringWriter()).resume(Initialization.xavierNormal(net, 1), adam));
    assertTrue(e.getMessage().contains("optimizer: the run has \"sgd\", now \"adam\"") && e.getMessage().contains(run.resolve("config.json").toString()),
        e.getMessage());
    // another seed and batch size, listed together
    e = assertThrows(UserError.class,
        () -> trainer(net, new Sgd(net, 0.1, 0.9), 2, 20, 8, run, new StringWriter()).resume(Initialization.xavierNormal(net, 1), SGD));
    assertTrue(e.getMessage().contains("batch: the run has 25, now 20") && e.getMessage().contains("seed: the run has 7, now 8"), e.getMessage());
    // a net of the same shapes computing something else: tanh for sigmoid
    Network tanh = net(NET.replace("sigmoid", "tanh"));
    e = assertThrows(UserError.class, () -> sgd(tanh, 2, run).resume(Initialization.xavierNormal(tanh, 1), SGD));
    assertTrue(e.getMessage().contains("net_sha256: the run has"), e.getMessage());
    assertEquals(before, snapshot(run), "a refused resume changes nothing");
    // more epochs and another label do not change results: resumed, and recorded
    Map<String, Object> relabelled = new LinkedHashMap<>(SGD);
    relabelled.put("label", "second");
    sgd(net(NET), 2, run).resume(Initialization.xavierNormal(net, 1), relabelled);
    var recorded = new com.fasterxml.jackson.databind.ObjectMapper().readTree(run.resolve("config.json").toFile());
    assertEquals(2, recorded.get("epochs").asInt());
    assertEquals("second", recorded.get("label").asText());
    assertEquals(2, recorded.get("resumed").get(0).get("from_epoch").asInt());
    assertEquals(1, recorded.get("resumed").get(0).get("changed").get("epochs").get("from").asInt());
    assertEquals("first", recorded.get("resumed").get(0).get("changed").get("label").get("from").asText());
  }

  @Test
  void checkpointScalarsAndOptimizerStateAreValidated() throws Exception {
    Network net = net(NET);
    Path run = dir.resolve("run"), file = run.resolve(Checkpoint.FILE);
    sgd(net, 2, run).start(Initialization.xavierNormal(net, 1), SGD);
    Map<String, NdArray> good = Npz.read(file);
    String m = "optimizer.momentum.1.W";
    int n = good.get(m).shape()[0];
    // each corruption, and the array and expectation its message must name
    Map<String, Map.Entry<String, NdArray>> cases = new LinkedHashMap<>();
    cases.put("'epoch' is NaN, expected a whole number", Map.entry("epoch", NdArray.scalar(Double.NaN)));
    cases.put("'epoch' is -5.0, expected a whole number", Map.entry("epoch", NdArray.scalar(-5)));
    cases.put("'epoch' is 1.5, expected a whole number", Map.entry("epoch", NdArray.scalar(1.5)));
    cases.put("'step' 8 and 'samples' 200 do not fit 'epoch' 1: expected step 4 and samples 100", Map.entry("epoch", NdArray.scalar(1)));
    cases.put("'wall_seconds' is Infinity, expected a finite number", Map.entry("wall_seconds", NdArray.scalar(Double.POSITIVE_INFINITY)));
    cases.put("no array '" + m + "'", new java.util.AbstractMap.SimpleEntry<String, NdArray>(m, null));
    cases.put("array '" + m + "' has " + (n - 1) + " entries, expected " + n + " (parameter '1.W' is 8 x 36)",
        Map.entry(m, NdArray.of(new double[n - 1], n - 1)));
    double[] nan = good.get(m).data().clone();
    nan[3] = Double.NaN;
    cases.put("array '" + m + "' holds NaN at entry 3, expected finite values", Map.entry(m, NdArray.of(nan, n)));
    cases.put("unexpected array 'optimizer.velocity'", Map.entry("optimizer.velocity", NdArray.of(new double[] {1}, 1)));
    for (Map.Entry<String, Map.Entry<String, NdArray>> c : cases.entrySet()) {
      Map<String, NdArray> bad = new LinkedHashMap<>(good);
      if (c.getValue().getValue() == null) bad.remove(c.getValue().getKey());
      else bad.put(c.getValue().getKey(), c.getValue().getValue());
      Npz.write(file, bad);
      Map<String, String> before = snapshot(run);
      RuntimeException e = assertThrows(RuntimeException.class, () -> sgd(net, 3, run).resume(Initialization.xavierNormal(net, 1), SGD));
      assertTrue(e.getMessage().startsWith(file.toString()) && e.getMessage().contains(c.getKey()), c.getKey() + " | " + e.getMessage());
      assertFalse(e.getMessage().contains("diverged"), e.getMessage());
      assertEquals(before, snapshot(run), "metrics kept: " + c.getKey());
    }
    // a checkpoint that does not belong to the metrics: epoch 2's arrays, metrics only to epoch 1
    Npz.write(file, good);
    List<String> csv = Files.readAllLines(run.resolve("metrics.csv"));
    Files.write(run.resolve("metrics.csv"), csv.subList(0, 3));
    IOException e = assertThrows(IOException.class, () -> sgd(net, 3, run).resume(Initialization.xavierNormal(net, 1), SGD));
    assertTrue(e.getMessage().contains("metrics.csv: no row of epoch 2 at step 8"), e.getMessage());
    Files.write(run.resolve("metrics.csv"), csv);
    assertEquals(4, sgd(net, 3, run).resume(Initialization.xavierNormal(net, 1), SGD).size(), "the intact checkpoint resumes");
  }

  @Test
  void adamStepsMustMatchTheCheckpoint() throws Exception {
    Network net = net(NET);
    Path run = dir.resolve("run"), file = run.resolve(Checkpoint.FILE);
    Map<String, Object> config = Map.of("optimizer", "adam");
    trainer(net, new Adam(net, 0.01, 0.9, 0.999, 1e-8), 1, 25, 7, run, new StringWriter()).start(Initialization.xavierNormal(net, 1), config);
    Map<String, NdArray> bad = new LinkedHashMap<>(Npz.read(file));
    assertArrayEquals(new double[] {4}, bad.get("optimizer.steps").data());
    bad.put("optimizer.steps", NdArray.of(new double[] {3}, 1));
    Npz.write(file, bad);
    RuntimeException e = assertThrows(RuntimeException.class,
        () -> trainer(net, new Adam(net, 0.01, 0.9, 0.999, 1e-8), 2, 25, 7, run, new StringWriter()).resume(Initialization.xavierNormal(net, 1), config));
    assertTrue(e.getMessage().contains(file + ": array 'optimizer.steps' is [3.0], expected [4]"), e.getMessage());
  }
}
