package org.hbp.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The strategy and bench paths that compute a diagonal in chunks of samples say so on standard
 * error, in the line {@code hbp curvature --diagonal} prints: {@code --strategy diag-hessian} of
 * {@code hbp curvature} and {@code hbp spectrum}, and {@code hbp bench}'s diag-hessian strategy and
 * {@code --diagonals hessian} row (once each: the timed runs do not repeat it; each line starts with
 * the name of its row, since both would say the same). The net: 300 inputs,
 * 300 sigmoid units, 3 classes, batch 10, whose Hessian diagonal carries 2 x 300 columns of 300
 * entries per sample at the sigmoid (1.4 MiB a sample in float64): over a limit of 12 MiB for the
 * batch, within it for a few samples.
 */
class DiagonalChunkNoticesCliTest {
  @TempDir Path dir;

  private static final int N = 10, IN = 300, HIDDEN = 300, CLASSES = 3;
  private static final String LIMIT = "0.012";
  private static final Pattern LINE = Pattern.compile(
      "hbp: (?:([a-z -]+): )?the Hessian diagonal of batch 10 does not fit the memory limit [0-9.]+ MiB at once: computing it in (\\d+) chunks of (\\d+) samples?.*");
  private Path net;

  @BeforeEach
  void writeProblem() throws Exception {
    net = dir.resolve("net.hbp");
    Files.writeString(net, String.join("\n", "network n {", "  input x: vector(" + IN + ");", "  linear(m = " + HIDDEN + ");", "  sigmoid;",
        "  linear(m = " + CLASSES + ");", "  loss crossentropy;", "}"));
    CommandRuns.writeClassifierProblem(dir, IN, HIDDEN, CLASSES, N, 3);
  }

  /**
   * The diag-hessian step of eq. 10 with α = 0.5, {@code -g / (0.5 + 0.5 d)} (d the diagonal), of {@code hbp curvature}
   * in chunks, said in one line, equals the one without a limit (2 GiB) to round-off.
   */
  @Test
  void curvatureWithADiagonalStrategySaysItChunks() throws Exception {
    CommandRuns.Output chunked = CommandRuns.ok(curvature("chunked.npz", "--memory-limit", LIMIT)), whole = CommandRuns.ok(curvature("whole.npz"));
    assertChunkLines(chunked.err(), 1);
    assertFalse(whole.err().contains("chunks"), whole.err());
    CommandRuns.assertSameArrays(dir.resolve("whole.npz"), dir.resolve("chunked.npz"), 4, 1e-12);
  }

  @Test
  void spectrumWithADiagonalStrategySaysItChunks() {
    CommandRuns.Output r = CommandRuns.ok("spectrum", "--net", net.toString(), "--params", dir.resolve("params.npz").toString(), "--batch", dir.resolve("batch.npz").toString(),
        "--curvature", "hessian", "--strategy", "diag-hessian", "--top", "1", "--scope", "blocks", "--out", dir.resolve("spectrum").toString(),
        "--memory-limit", LIMIT);
    assertChunkLines(r.err(), 1);
  }

  /**
   * Two lines, each naming its row: the diag-hessian strategy's curvature pass and the --diagonals
   * row, each said once, not at each timed run.
   */
  @Test
  void benchSaysOnceForEachRowThatChunks() {
    CommandRuns.Output r = CommandRuns.ok("bench", "--net", net.toString(), "--batch", "10", "--backend", "blas-f64", "--repeat", "2", "--warmup", "1", "--curvature", "hessian",
        "--strategies", "diag-hessian", "--directions", "1", "--diagonals", "hessian", "--memory-limit", LIMIT);
    assertTrue(r.out().contains("curvature pass diag-hessian") && r.out().contains("hessian diagonal"), r.out());
    assertFalse(r.out().contains("refused"), r.out());
    assertChunkLines(r.err(), "curvature pass diag-hessian", "hessian diagonal");
  }

  /** {@code err} is {@code lines} notices that the Hessian diagonal runs in more than one chunk, and nothing else. */
  private static void assertChunkLines(String err, int lines) {
    assertChunkLines(err, new String[lines]);
  }

  /**
   * {@code err} is one notice per row that the Hessian diagonal runs in more than one chunk, in
   * order, each starting with its row's name ({@code null}: no name), and nothing else.
   */
  private static void assertChunkLines(String err, String... rows) {
    List<String> all = err.lines().toList();
    assertEquals(rows.length, all.size(), err);
    for (int i = 0; i < rows.length; i++) {
      String line = all.get(i);
      Matcher m = LINE.matcher(line);
      assertTrue(m.matches(), line);
      assertEquals(rows[i], m.group(1), line);
      int chunks = Integer.parseInt(m.group(2)), size = Integer.parseInt(m.group(3));
      assertTrue(chunks > 1 && chunks == (N + size - 1) / size, line);
    }
  }

  private String[] curvature(String out, String... more) {
    List<String> args = new java.util.ArrayList<>(List.of("curvature", "--net", net.toString(), "--params", dir.resolve("params.npz").toString(),
        "--batch", dir.resolve("batch.npz").toString(), "--curvature", "hessian", "--strategy", "diag-hessian", "--solve", "0.5", "--out",
        dir.resolve(out).toString()));
    args.addAll(List.of(more));
    return args.toArray(new String[0]);
  }

}
