package org.hbp.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.hbp.plot.RunMetrics;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code hbp experiment} with {@code --strategy diag-ggn} and a {@code --memory-limit} below what
 * the GGN diagonal of a batch of 500 needs at once: each run's steps compute it in chunks of
 * samples, and the experiment says so once per run, naming the configuration and the seed; with the
 * default limit it fits, and nothing is said. The data: 500 training and 20 test images in
 * Fashion-MNIST's IDX files (random pixels), so that fig4's small scale (batch 500, 4 epochs) takes
 * one step an epoch.
 */
class ExperimentChunkNoticeCliTest {
  @TempDir Path dir;
  private Path data;

  @BeforeEach
  void idxFiles() throws IOException {
    data = Files.createDirectories(dir.resolve("fmnist"));
    Random rng = new Random(3);
    writeIdx(data.resolve("train-images-idx3-ubyte"), 500, rng);
    writeIdx(data.resolve("t10k-images-idx3-ubyte"), 20, rng);
  }

  /** n random 28 x 28 images and their labels 0..9 ({@code ...-images-idx3-ubyte}, {@code ...-labels-idx1-ubyte}). */
  private static void writeIdx(Path images, int n, Random rng) throws IOException {
    ByteArrayOutputStream img = new ByteArrayOutputStream(), lab = new ByteArrayOutputStream();
    DataOutputStream i = new DataOutputStream(img), l = new DataOutputStream(lab);
    i.writeInt(0x803);
    i.writeInt(n);
    i.writeInt(28);
    i.writeInt(28);
    l.writeInt(0x801);
    l.writeInt(n);
    for (int k = 0; k < n; k++) {
      for (int p = 0; p < 28 * 28; p++) i.writeByte(rng.nextInt(256));
      l.writeByte(rng.nextInt(10));
    }
    Files.write(images, img.toByteArray());
    Files.write(images.resolveSibling(images.getFileName().toString().replace("images-idx3", "labels-idx1")), lab.toByteArray());
  }

  private String[] experiment(Path out, String... more) {
    return CommandRuns.with(new String[] {"experiment", "fig4", "--scale", "small", "--only", "CG-Newton GGN", "--strategy", "diag-ggn",
        "--data", "fashion-mnist:" + data, "--out", out.toString()}, more);
  }

  private static List<String> notices(CommandRuns.Output o) {
    return o.err().lines().filter(line -> line.startsWith("hbp: ")).toList();
  }

  @Test
  void eachRunThatChunksSaysSoOnceNamingItsConfigurationAndSeed() throws Exception {
    Path out = dir.resolve("chunked");
    CommandRuns.Output o = CommandRuns.ok(experiment(out, "--seeds", "2", "--memory-limit", LIMIT));
    for (long seed : new long[] {0, 1}) assertEquals(4, RunMetrics.read(out.resolve("cg-newton-ggn/seed-" + seed)).rows().get(4).step(), o.out());
    List<String> notices = notices(o);
    assertEquals(2, notices.size(), "one line a run, not one a step: " + o.err());
    for (int seed = 0; seed < 2; seed++) {
      Matcher m = Pattern.compile("hbp: configuration 'CG-Newton GGN', seed " + seed + ": the GGN diagonal of batch 500 does not fit the memory limit "
          + "[0-9.]+ MiB at once: computing it in (\\d+) chunks of (\\d+) samples.* \\(--memory-limit [0-9.]+ MiB less the [0-9.]+ MiB the "
          + "cg-newton step holds itself\\)").matcher(notices.get(seed));
      assertTrue(m.matches(), notices.get(seed));
      int chunks = Integer.parseInt(m.group(1)), size = Integer.parseInt(m.group(2));
      assertTrue(chunks > 1 && chunks == (500 + size - 1) / size, notices.get(seed));
    }
    String summary = Files.readString(out.resolve("summary.md"));
    assertTrue(summary.contains("(500 training, 20 test samples)") && summary.contains("CG-Newton's curvature by diag-ggn (the paper's: bda)."), summary);
  }

  @Test
  void aRunThatFitsSaysNothing() throws Exception {
    Path out = dir.resolve("whole");
    CommandRuns.Output o = CommandRuns.ok(experiment(out, "--seeds", "1"));
    assertEquals(4, RunMetrics.read(out.resolve("cg-newton-ggn/seed-0")).rows().get(4).step(), o.out());
    assertEquals(List.of(), notices(o), o.err());
  }

  /**
   * Refused before any run, naming the configuration: a strategy that does not compute a
   * configuration's curvature, and a limit below what a CG-Newton step of fc-fmnist holds itself
   * ({@code 4 (2 P + 9 n_max)} bytes, P = 1,503,898 entries, n_max = 784 · 1024: 39.0 MiB).
   */
  @Test
  void aStrategyOrALimitThatCannotRunIsRefusedBeforeAnyRun() throws Exception {
    Path out = dir.resolve("refused");
    StringWriter o = new StringWriter(), e = new StringWriter();
    String[] all = {"experiment", "fig4", "--scale", "small", "--only", "GGN,PCH-abs", "--strategy", "diag-ggn", "--data", "fashion-mnist:" + data,
        "--out", out.toString()};
    assertEquals(Main.USER_ERROR, Main.execute(all, new PrintWriter(o, true), new PrintWriter(e, true)), o + "\n" + e);
    assertTrue(e.toString().contains("configuration 'CG-Newton PCH-abs': --strategy diag-ggn is the diagonal of the GGN")
        && e.toString().contains("(--strategy diag-ggn applies to every CG-Newton configuration: select those it computes with --only)"), e.toString());
    e = new StringWriter();
    assertEquals(Main.USER_ERROR, Main.execute(experiment(out, "--memory-limit", "0.03"), new PrintWriter(o, true), new PrintWriter(e, true)), o + "\n" + e);
    long p = 784 * 1024 + 1024 + 1024 * 512 + 512 + 512 * 256 + 256 + 256 * 128 + 128 + 128 * 64 + 64 + 64 * 32 + 32 + 32 * 16 + 16 + 16 * 10 + 10;
    assertEquals(1_503_898, p);
    assertTrue(e.toString().contains("configuration 'CG-Newton GGN': not enough memory: a cg-newton step holds "
        + String.format(java.util.Locale.ROOT, "%.1f MiB", 4.0 * (2 * p + 9 * 784 * 1024) / (1 << 20)) + " besides the pass and the curvature")
        && !e.toString().contains("applies to every CG-Newton configuration"), e.toString());
    assertTrue(!Files.exists(out), "nothing written");
  }

  /** The limit (GiB) of the chunked runs: below the GGN diagonal of the whole batch, above one sample's. */
  private static final String LIMIT = "0.1";
}
