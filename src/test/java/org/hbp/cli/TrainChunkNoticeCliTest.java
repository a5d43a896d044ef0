package org.hbp.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.hbp.plot.RunMetrics;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code hbp train} with a {@code diag-*} strategy whose diagonal does not fit the memory limit at
 * the run's batch: every step computes it in chunks of samples, and the run says so once, in the
 * line of {@code hbp curvature --diagonal}, not once per step (each run: 2 epochs of 3 steps, 6
 * steps, one line). CG-Newton with the Hessian diagonal on the net of {@link
 * DiagonalChunkNoticesCliTest} (300 inputs, 300 sigmoid units, 3 classes: about 1.4 MiB a sample in
 * float64, over 12 MiB at batch 10); the closed-form kfac optimizer with the GGN diagonal on a net
 * of 100 classes (100 columns of the loss factor per sample) at batch 40 and 2 MiB.
 */
class TrainChunkNoticeCliTest {
  @TempDir Path dir;

  @Test
  void cgNewtonWithTheHessianDiagonalSaysOnceThatItChunks() throws Exception {
    String net = String.join("\n", "network n {", "  input x: vector(300);", "  linear(m = 300);", "  sigmoid;", "  linear(m = 3);", "  loss crossentropy;", "}");
    assertSaysOnce(net, 10, "0.012", "the Hessian diagonal", "--optimizer", "cg-newton", "--curvature", "hessian", "--strategy", "diag-hessian");
  }

  @Test
  void kfacWithTheGgnDiagonalSaysOnceThatItChunks() throws Exception {
    String net = String.join("\n", "network n {", "  input x: vector(20);", "  linear(m = 20);", "  tanh;", "  linear(m = 100);", "  loss crossentropy;", "}");
    assertSaysOnce(net, 40, "0.002", "the GGN diagonal", "--optimizer", "kfac", "--curvature", "ggn", "--strategy", "diag-ggn");
  }

  /** Trains {@code net} for 2 epochs of 3 steps of {@code batch} samples at {@code limit} GiB; standard error says once that {@code quantity} chunks. */
  private void assertSaysOnce(String net, int batch, String limit, String quantity, String... optimizer) throws Exception {
    Path file = Files.writeString(dir.resolve("net.hbp"), net), out = dir.resolve("run");
    List<String> args = new ArrayList<>(List.of("train", "--net", file.toString(), "--data", "synthetic:" + 3 * batch + ",10", "--batch",
        String.valueOf(batch), "--eval-batch", "10", "--epochs", "2", "--backend", "blas-f64", "--memory-limit", limit, "--no-plots", "--out",
        out.toString()));
    args.addAll(List.of(optimizer));
    StringWriter o = new StringWriter(), e = new StringWriter();
    int code = Main.execute(args.toArray(new String[0]), new PrintWriter(o, true), new PrintWriter(e, true));
    assertEquals(0, code, o + "\n" + e);
    assertEquals(6, RunMetrics.read(out).rows().get(2).step(), "2 epochs of 3 steps");
    List<String> notices = new ArrayList<>();
    // the run's notices but CG's own (an indefinite damped Hessian block: CgNewton.NEGATIVE_CURVATURE, tested in TrainCommandTest)
    for (String line : e.toString().lines().toList())
      if (line.startsWith("hbp: ") && !line.startsWith("hbp: cg-newton: CG met negative curvature")) notices.add(line);
    assertEquals(1, notices.size(), e.toString());
    Matcher m = Pattern.compile("hbp: " + quantity + " of batch " + batch + " does not fit the memory limit [0-9.]+ MiB at once: computing it in (\\d+) "
        + "chunks of (\\d+) samples?.*").matcher(notices.get(0));
    assertTrue(m.matches(), notices.get(0));
    int chunks = Integer.parseInt(m.group(1)), size = Integer.parseInt(m.group(2));
    assertTrue(chunks > 1 && chunks == (batch + size - 1) / size, notices.get(0));
  }
}
