package org.hbp.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.hbp.UserError;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.data.Dataset;
import org.hbp.data.MiniBatches;
import org.hbp.data.Split;
import org.hbp.io.AtomicFiles;
import org.hbp.io.NdArray;
import org.hbp.io.NpyException;
import org.hbp.network.Network;
import org.hbp.network.Pass;
import org.hbp.network.TorchLayout;
import org.hbp.plot.RunMetrics;

/**
 * Trains a network on a data set with an {@link Optimizer}, writing into a run directory:
 * {@code config.json}; one metrics row per evaluation (epoch 0 before training, then after every
 * epoch) appended to {@code metrics.csv} and {@code metrics.jsonl} as soon as it is measured; and
 * {@code checkpoint.npz} (atomically) after every epoch, from which {@link #resume} continues
 * exactly (same mini-batches: epoch e's order depends only on the seed and e). The run folder is
 * locked for the whole run ({@link RunFolder}): a second training into it fails at once.
 *
 * <p>Metrics, as in the paper's code: the training loss and accuracy on a fixed random subset of
 * the training set as large as the test set, the test loss and accuracy, the training wall time so
 * far (evaluation excluded), and the mean CG iterations per step of the epoch (NaN for first-order
 * optimizers).
 */
public final class Trainer {
  /** The schedule. */
  public record Settings(int epochs, int batch, long seed, int evaluationBatch) {
    public Settings {
      if (epochs < 0) throw new UserError("--epochs must be >= 0, not " + epochs);
      if (batch < 1) throw new UserError("--batch must be >= 1, not " + batch);
      if (evaluationBatch < 1) throw new UserError("evaluation batch must be >= 1, not " + evaluationBatch);
    }
  }

  /** A metrics row as a line of metrics.csv ({@link RunMetrics#HEADER}). */
  private static String csv(RunMetrics.Row r) {
    return r.epoch() + "," + r.step() + "," + r.samples() + "," + r.wallSeconds() + "," + r.trainLoss() + "," + r.trainAccuracy() + ","
        + r.testLoss() + "," + r.testAccuracy() + "," + r.cgIterations();
  }

  /** A metrics row as a JSON object of metrics.jsonl (non-finite numbers as null). */
  private static String json(RunMetrics.Row r) throws IOException {
    Map<String, Object> m = new LinkedHashMap<>();
    String[] keys = RunMetrics.HEADER.split(",");
    Object[] values = {r.epoch(), r.step(), r.samples(), r.wallSeconds(), r.trainLoss(), r.trainAccuracy(), r.testLoss(), r.testAccuracy(),
        r.cgIterations()};
    for (int i = 0; i < keys.length; i++) m.put(keys[i], values[i] instanceof Double d && !Double.isFinite(d) ? null : values[i]);
    return LINE.writeValueAsString(m);
  }

  private static final String CONFIG = "config.json";
  private static final ObjectMapper LINE = new ObjectMapper();

  private final Network net;
  private final Split data;
  private final Optimizer optimizer;
  private final Settings settings;
  private final Path runDir;
  private final PrintWriter progress;
  private final boolean interactive;
  private final boolean bars;
  private final TorchLayout layout;
  private final List<RunMetrics.Row> rows = new ArrayList<>();

  /**
   * A trainer that draws a progress bar on {@code progress}: {@link #Trainer(Network, Split,
   * Optimizer, Settings, Path, PrintWriter, boolean, boolean)} with {@code bars} true.
   */
  public Trainer(Network net, Split data, Optimizer optimizer, Settings settings, Path runDir, PrintWriter progress, boolean interactive) {
    this(net, data, optimizer, settings, runDir, progress, interactive, true);
  }

  /**
   * @param progress where the progress bar and the run's lines (each epoch's results, a resume)
   *     go (null: nowhere)
   * @param interactive whether {@code progress} is a terminal (redrawn bar) or a log (lines)
   * @param bars whether to draw the progress bar within each epoch (false: only the run's lines)
   * @throws UserError if the data set does not fit the network (its inputs; its class labels,
   *     which only a cross-entropy loss takes), the batch is larger than the training set, or the
   *     test set is empty (checked here, before {@link #start} or {@link
   *     #resume} touch the run folder)
   */
  public Trainer(Network net, Split data, Optimizer optimizer, Settings settings, Path runDir, PrintWriter progress, boolean interactive,
      boolean bars) {
    this.net = net;
    this.bars = bars;
    this.data = data;
    this.optimizer = optimizer;
    this.settings = settings;
    this.runDir = runDir;
    this.progress = progress;
    this.interactive = interactive;
    this.layout = new TorchLayout(net);
    checkShapes(net, data.train());
    if (!layout.takesClassIndices()) {
      int[] t = net.targetShape();
      throw new UserError("network '" + net.spec().name() + "' ends in loss " + net.spec().loss().module().name() + ", whose targets are "
          + t[0] * t[1] + " values per sample, but data set '" + data.train().name() + "' has a class label per sample; "
          + "training on class labels needs a loss whose target is a vector declared onehot or probability, such as crossentropy");
    }
    // here, before the run folder is made: a refused run leaves nothing behind
    if (settings.batch() > data.train().size())
      throw new UserError("--batch " + settings.batch() + " is larger than the training set (" + data.train().size() + " samples)");
    if (data.test().size() == 0)
      throw new UserError("the test set '" + data.test().name() + "' is empty; each epoch reports the loss and accuracy on the test set "
          + "and on a training subset of its size (the paper's metrics), so it needs at least one (e.g. synthetic:2000,500)");
  }

  /** The data set must fit the network: same number of input entries, as many classes as outputs. */
  static void checkShapes(Network net, Dataset d) {
    List<Integer> in = net.spec().inputShape();
    int numel = 1;
    for (int v : in) numel *= v;
    int image = d.channels() * d.height() * d.width();
    if (numel != image || (in.size() == 3 && (in.get(0) != d.channels() || in.get(1) != d.height() || in.get(2) != d.width())))
      throw new UserError("network '" + net.spec().name() + "' takes inputs " + in + " but data set '" + d.name()
          + "' has images (" + d.channels() + ", " + d.height() + ", " + d.width() + "); use a network for that input (e.g. networks/*-fmnist.hbp for Fashion-MNIST)");
    int[] t = net.targetShape();
    if (t[0] * t[1] != d.classes())
      throw new UserError("network '" + net.spec().name() + "' has " + t[0] * t[1] + " outputs but data set '" + d.name() + "' has "
          + d.classes() + " classes");
  }

  /** The rows measured so far (including those of a resumed run). */
  public List<RunMetrics.Row> rows() {
    return List.copyOf(rows);
  }

  /**
   * A new run from the given initial parameters. The run folder must be new or empty (it may hold
   * the lock file and temporary files of a killed write); it is locked for the whole run.
   */
  public List<RunMetrics.Row> start(Map<String, Batch> initial, Map<String, Object> config) throws IOException {
    requireNewOrEmpty(RunFolder.contents(runDir)); // before the lock: a foreign folder gets no lock file
    try (RunFolder folder = RunFolder.lock(runDir)) {
      folder.removeOrphanTemporaries();
      requireNewOrEmpty(RunFolder.contents(runDir)); // again under the lock: another run may have started meanwhile
      AtomicFiles.writeString(runDir.resolve(CONFIG), RunConfig.text(config(config)));
      return begin(initial);
    }
  }

  private void requireNewOrEmpty(List<String> contents) throws IOException {
    List<String> run = RunFolder.runFiles(contents);
    if (!run.isEmpty())
      throw new IOException(runDir + " already holds a run (" + RunFolder.names(run) + "); use --resume to continue it, or another --out");
    if (!contents.isEmpty())
      throw new IOException(runDir + " is not empty and holds no run (found " + RunFolder.names(contents)
          + "); --out needs a new or empty folder");
  }

  /**
   * The settings to record and check on resume: the caller's, with the trainer's own schedule
   * (seed, batch, evaluation batch, epochs), the backend's name and the net's fingerprint
   * ({@link NetFingerprint}).
   */
  private ObjectNode config(Map<String, Object> config) {
    Map<String, Object> c = new LinkedHashMap<>(config);
    c.put("seed", settings.seed());
    c.put("batch", settings.batch());
    c.put("eval_batch", settings.evaluationBatch());
    c.put("epochs", settings.epochs());
    c.put("backend_name", net.backend().name());
    c.put("net_sha256", NetFingerprint.sha256(net.spec()));
    return RunConfig.tree(c);
  }

  /** Epoch 0 into fresh metrics files, a checkpoint of it, then the training. */
  private List<RunMetrics.Row> begin(Map<String, Batch> initial) throws IOException {
    rows.clear();
    AtomicFiles.writeString(runDir.resolve("metrics.csv"), RunMetrics.HEADER + "\n");
    AtomicFiles.writeString(runDir.resolve("metrics.jsonl"), "");
    Map<String, Batch> params = new LinkedHashMap<>(initial);
    append(evaluate(params, 0, 0, 0, 0, Double.NaN));
    new Checkpoint(params, optimizer.state(), 0, 0, 0, 0).write(net, runDir.resolve(Checkpoint.FILE));
    return train(params, 1, 0, 0, 0);
  }

  /**
   * Continues the run in the folder (locked for the whole run) from its checkpoint, after checking
   * that every setting that changes results equals the recorded one ({@link RunConfig}; the
   * changes of the others are recorded in config.json) and that the checkpoint is whole and fits
   * the run (its step and samples fit its epoch, metrics.csv has its rows 0..epoch, the optimizer's
   * arrays are those it keeps). Rows after the checkpoint's epoch (an epoch measured but not
   * checkpointed when the run was stopped) are dropped and redone. A run stopped before its first
   * checkpoint starts again from epoch 0 with {@code initial}.
   */
  public List<RunMetrics.Row> resume(Map<String, Batch> initial, Map<String, Object> config) throws IOException {
    Path file = runDir.resolve(Checkpoint.FILE), configFile = runDir.resolve(CONFIG);
    if (RunFolder.runFiles(RunFolder.contents(runDir)).isEmpty())
      throw new IOException(runDir + ": no checkpoint to resume from (no run was started there; train without --resume)");
    try (RunFolder folder = RunFolder.lock(runDir)) {
      List<String> removed = folder.removeOrphanTemporaries();
      if (progress != null && !removed.isEmpty()) progress.println("removed temporary files of an interrupted write: " + RunFolder.names(removed));
      if (!Files.isRegularFile(configFile))
        throw new IOException(configFile + ": missing; the settings of the run are recorded there, and without them it cannot be resumed safely");
      ObjectNode recorded = RunConfig.read(configFile), now = config(config);
      requireSame(recorded, now, "--resume with settings that change the results", "resume with the run's settings, or start a new run in another --out");
      if (!Files.exists(file)) {
        if (progress != null) progress.printf("restarting %s from epoch 0 (it stopped before its first checkpoint)%n", runDir);
        AtomicFiles.writeString(configFile, RunConfig.text(RunConfig.resumed(recorded, now, 0)));
        return begin(initial);
      }
      Checkpoint c = Checkpoint.read(net, file);
      requireProgressFits(c, file);
      List<RunMetrics.Row> kept = rowsUpTo(c, file);
      try {
        optimizer.restore(c.optimizerState(), c.step());
      } catch (UserError e) {
        throw new NpyException(file + ": " + e.getMessage());
      }
      // everything is checked: now the folder is changed
      StringBuilder csv = new StringBuilder(RunMetrics.HEADER).append('\n'), jsonl = new StringBuilder();
      for (RunMetrics.Row r : kept) {
        rows.add(r);
        csv.append(csv(r)).append('\n');
        jsonl.append(json(r)).append('\n');
      }
      AtomicFiles.writeString(runDir.resolve("metrics.csv"), csv.toString());
      AtomicFiles.writeString(runDir.resolve("metrics.jsonl"), jsonl.toString());
      AtomicFiles.writeString(configFile, RunConfig.text(RunConfig.resumed(recorded, now, c.epoch() + 1)));
      if (progress != null) progress.printf("resuming %s after epoch %d (%d step%s)%n", runDir, c.epoch(), c.step(), c.step() == 1 ? "" : "s");
      return train(new LinkedHashMap<>(c.parameters()), c.epoch() + 1, c.step(), c.samples(), c.wallSeconds());
    }
  }

  /**
   * Refuses a run folder whose {@code config.json} records settings that change the results and
   * differ from {@code config} with this trainer's schedule, backend and net: the comparison of
   * {@link #resume} ({@link RunConfig#differences}), for a caller that keeps a finished run rather
   * than resuming it. Nothing is checked where the folder holds no {@code config.json}; nothing is
   * changed.
   *
   * @param config the caller's settings, as {@link #start} and {@link #resume} take them
   * @param remedy the message's last line: what to do instead
   * @throws UserError listing each difference, one a line
   * @throws IOException if {@code config.json} cannot be read or is not a JSON object
   */
  public void requireRecordedSettings(Map<String, Object> config, String remedy) throws IOException {
    Path configFile = runDir.resolve(CONFIG);
    if (!Files.exists(configFile)) return;
    requireSame(RunConfig.read(configFile), config(config), "the run there was made with settings that change the results", remedy);
  }

  /** Refuses {@code now} where it differs from {@code recorded} in a setting that changes the results ({@link RunConfig#differences}). */
  private void requireSame(ObjectNode recorded, ObjectNode now, String what, String remedy) {
    List<String> differences = RunConfig.differences(recorded, now);
    if (!differences.isEmpty())
      throw new UserError(runDir + ": " + what + "; they differ from " + runDir.resolve(CONFIG) + ":\n  " + String.join("\n  ", differences)
          + "\n" + remedy);
  }

  /** The checkpoint's step and samples are those of its epoch: every epoch takes size / batch steps of batch samples. */
  private void requireProgressFits(Checkpoint c, Path file) {
    long perEpoch = data.train().size() / settings.batch();
    long step = c.epoch() * perEpoch, samples = step * settings.batch();
    if (c.step() != step || c.samples() != samples)
      throw new NpyException(String.format(Locale.ROOT, "%s: 'step' %d and 'samples' %d do not fit 'epoch' %d: expected step %d and samples %d "
          + "(%d steps of %d samples per epoch)", file, c.step(), c.samples(), c.epoch(), step, samples, perEpoch, settings.batch()));
  }

  /** The rows of metrics.csv up to the checkpoint's epoch, which must be the epochs 0..epoch in order, the last one at its step. */
  private List<RunMetrics.Row> rowsUpTo(Checkpoint c, Path file) throws IOException {
    List<RunMetrics.Row> kept = new ArrayList<>();
    for (RunMetrics.Row r : RunMetrics.read(runDir).rows()) if (r.epoch() <= c.epoch()) kept.add(r);
    Path csvFile = runDir.resolve("metrics.csv");
    for (int e = 0; e < kept.size(); e++)
      if (kept.get(e).epoch() != e)
        throw new IOException(csvFile + ": row " + (e + 1) + " is epoch " + kept.get(e).epoch() + ", expected epoch " + e
            + " (rows are the epochs 0, 1, 2, ... in order)");
    if (kept.size() != c.epoch() + 1 || kept.get(c.epoch()).step() != c.step())
      throw new IOException(csvFile + ": no row of epoch " + c.epoch() + " at step " + c.step() + " as " + file
          + " has; the checkpoint does not belong to these metrics");
    return kept;
  }

  private List<RunMetrics.Row> train(Map<String, Batch> params, int firstEpoch, long step, long samples, double wall) throws IOException {
    Backend be = net.backend();
    Dataset train = data.train();
    for (int epoch = firstEpoch; epoch <= settings.epochs(); epoch++) {
      List<int[]> batches = MiniBatches.epoch(train.size(), settings.batch(), settings.seed(), epoch, true);
      if (batches.isEmpty())
        throw new UserError("--batch " + settings.batch() + " is larger than the training set (" + train.size() + " samples)");
      Progress bar = progress == null || !bars ? null
          : new Progress(progress, interactive, String.format(Locale.ROOT, "epoch %" + digits(settings.epochs()) + "d/%d", epoch, settings.epochs()),
              batches.size());
      long t0 = System.nanoTime();
      double lossSum = 0;
      long cgSum = 0, epochSamples = 0, cgSolves = 0, negativeCurvature = 0;
      int done = 0;
      for (int[] indices : batches) {
        Batch x = inputs(train, indices), y = targets(train, indices);
        Pass pass = net.run(params, x, y);
        double loss = pass.loss();
        if (!Double.isFinite(loss))
          throw new DivergedException(String.format(Locale.ROOT, "training diverged at epoch %d, step %d: the mini-batch loss is %s; "
              + "lower the learning rate or raise the damping (metrics so far are in %s)", epoch, step + 1, loss, runDir));
        Map<String, Batch> old = new LinkedHashMap<>(params);
        Optimizer.StepReport report = optimizer.step(pass, params);
        pass.close();
        for (String name : net.parameterNames()) if (params.get(name) != old.get(name)) be.release(old.get(name));
        be.release(x);
        be.release(y);
        step++;
        samples += indices.length;
        epochSamples += indices.length;
        lossSum += loss;
        if (report.cgIterations() >= 0) cgSum += report.cgIterations();
        cgSolves += report.cgSolves();
        negativeCurvature += report.negativeCurvature();
        done++;
        if (bar != null) bar.update(done, lossSum / done, epochSamples);
      }
      wall += (System.nanoTime() - t0) / 1e9;
      double cg = optimizer instanceof CgNewton ? cgSum / (double) done : Double.NaN;
      RunMetrics.Row row = evaluate(params, epoch, step, samples, wall, cg);
      append(row);
      if (progress != null)
        progress.printf(Locale.ROOT, "epoch %d: train loss %s, test loss %s, test accuracy %s%s%n", epoch, MetricFormat.of(row.trainLoss()),
            MetricFormat.of(row.testLoss()), MetricFormat.of(row.testAccuracy()), Double.isNaN(cg) ? "" : String.format(Locale.ROOT, ", CG iterations per step %.1f", cg)
                + (negativeCurvature == 0 ? "" : String.format(Locale.ROOT, ", negative curvature in %d of %d CG block solves", negativeCurvature, cgSolves)));
      new Checkpoint(params, optimizer.state(), epoch, step, samples, wall).write(net, runDir.resolve(Checkpoint.FILE));
    }
    return rows();
  }

  private static int digits(int n) {
    return String.valueOf(Math.max(n, 1)).length();
  }

  private Batch inputs(Dataset d, int[] indices) {
    NdArray x = d.images(indices);
    List<Integer> in = net.spec().inputShape();
    int[] shape = new int[in.size() + 1];
    shape[0] = indices.length;
    for (int i = 0; i < in.size(); i++) shape[i + 1] = in.get(i);
    return layout.inputs(x.reshape(shape), d.name());
  }

  private Batch targets(Dataset d, int[] indices) {
    return layout.targets(d.labels(indices), indices.length, d.name());
  }

  /** The paper's metrics: loss and accuracy on a training subset the size of the test set, and on the test set. */
  private RunMetrics.Row evaluate(Map<String, Batch> params, int epoch, long step, long samples, double wall, double cg) {
    Dataset train = data.train(), test = data.test();
    int[] subset = MiniBatches.sample(train.size(), test.size(), settings.seed() ^ 0x5DEECE66DL);
    Network.Evaluation tr = evaluate(params, train, subset), te = evaluate(params, test, null);
    return new RunMetrics.Row(epoch, step, samples, wall, tr.meanLoss(), tr.accuracy(), te.meanLoss(), te.accuracy(), cg);
  }

  private Network.Evaluation evaluate(Map<String, Batch> params, Dataset d, int[] indices) {
    int n = indices == null ? d.size() : indices.length;
    double loss = 0;
    int correct = 0;
    for (int from = 0; from < n; from += settings.evaluationBatch()) {
      int[] part = new int[Math.min(settings.evaluationBatch(), n - from)];
      for (int i = 0; i < part.length; i++) part[i] = indices == null ? from + i : indices[from + i];
      Batch x = inputs(d, part), y = targets(d, part);
      Network.Evaluation e = net.evaluate(params, x, y);
      net.backend().release(x);
      net.backend().release(y);
      loss += e.lossSum();
      correct += e.correct();
    }
    return new Network.Evaluation(n, loss, correct);
  }

  /** Appends a row to metrics.csv and metrics.jsonl (flushed: an interrupted run keeps it). */
  private void append(RunMetrics.Row r) throws IOException {
    rows.add(r);
    Files.writeString(runDir.resolve("metrics.csv"), csv(r) + "\n", StandardCharsets.UTF_8, StandardOpenOption.APPEND, StandardOpenOption.SYNC);
    Files.writeString(runDir.resolve("metrics.jsonl"), json(r) + "\n", StandardCharsets.UTF_8,
        StandardOpenOption.APPEND, StandardOpenOption.SYNC);
  }
}
