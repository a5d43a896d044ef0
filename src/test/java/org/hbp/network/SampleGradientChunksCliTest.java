package org.hbp.network;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.hbp.cli.CommandRuns;
import org.hbp.cli.Main;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code hbp gradients} within {@code --memory-limit}, on a net whose first layer holds almost all
 * of its P = 10203 parameters (200 inputs, 50 hidden units, 3 classes) at batch N = 10:
 * <ul>
 *   <li>at a limit of 2.0 MiB, where the old path (the whole batch at once) held the first layer's
 *       per-sample gradients three times (in the backend, copied to the heap, and in PyTorch's layout)
 *       beside batch_grad.npz's N x P numbers, over the limit, the command now runs in chunks of
 *       samples, says so in one line on standard error, and writes the numbers of the run without a
 *       limit (the default 2 GiB) to round-off;</li>
 *   <li>at 0.5 MiB, where batch_grad.npz alone (N x P numbers of 8 B) does not fit, it is refused,
 *       naming the quantity, its size and the limit, and writes nothing.</li>
 * </ul>
 * Against autograd the chunked quantities are checked in {@link SampleGradientChunksTest}.
 */
class SampleGradientChunksCliTest {
  @TempDir Path dir;

  private static final int N = 10, IN = 200, HIDDEN = 50, CLASSES = 3;
  private static final long P = (long) HIDDEN * IN + HIDDEN + (long) CLASSES * HIDDEN + CLASSES;
  private static final String NET = String.join("\n", "network wide {", "  input x: vector(" + IN + ");", "  linear(m = " + HIDDEN + ");", "  tanh;",
      "  linear(m = " + CLASSES + ");", "  loss crossentropy;", "}");
  private static final double LIMIT_GIB = 2.0 / 1024, TOO_SMALL_GIB = 0.5 / 1024;

  @Test
  void perSampleGradientsRunInChunksWhereTheWholeBatchExceedsTheLimit() throws Exception {
    long limit = (long) (LIMIT_GIB * (1L << 30)), firstLayer = (long) HIDDEN * IN + HIDDEN;
    assertTrue(3 * N * firstLayer * 8 + N * P * 8 > limit, "the old path's peak beyond the pass exceeds the limit");
    Path net = writeProblem();
    CommandRuns.Output chunked = CommandRuns.ok(command(net, dir.resolve("chunked"), "--memory-limit", Double.toString(LIMIT_GIB)));
    CommandRuns.Output whole = CommandRuns.ok(command(net, dir.resolve("whole")));
    Matcher m = Pattern.compile("hbp: the per-sample gradients of batch 10 do not fit the memory limit [0-9.]+ MiB at once: computing them in (\\d+) chunks of (\\d+) samples?")
        .matcher(chunked.err());
    assertTrue(m.find(), chunked.err());
    int chunks = Integer.parseInt(m.group(1)), size = Integer.parseInt(m.group(2));
    assertTrue(chunks > 1 && size < N && chunks == (N + size - 1) / size, chunked.err());
    assertEquals(1, chunked.err().lines().count(), "one line on standard error: " + chunked.err());
    assertFalse(whole.err().contains("chunks"), "the default limit holds the whole batch: " + whole.err());
    assertEquals(whole.out().replace(dir.resolve("whole").toString(), "OUT"), chunked.out().replace(dir.resolve("chunked").toString(), "OUT"),
        "the same report (to the printed digits)");
    for (String file : new String[] {"batch_grad.npz", "batch_l2.npz", "variance.npz"})
      CommandRuns.assertSameArrays(dir.resolve("whole").resolve(file), dir.resolve("chunked").resolve(file), 4, 1e-12);
  }

  @Test
  void batchGradientsThatDoNotFitAreRefusedWithTheirSize() throws Exception {
    long limit = (long) (TOO_SMALL_GIB * (1L << 30));
    assertTrue(N * P * 8 > limit, "batch_grad.npz alone exceeds the limit");
    Path net = writeProblem(), out = dir.resolve("refused");
    StringWriter o = new StringWriter(), e = new StringWriter();
    int code = Main.execute(command(net, out, "--memory-limit", Double.toString(TOO_SMALL_GIB)), new PrintWriter(o, true), new PrintWriter(e, true));
    assertEquals(2, code, o + "\n" + e);
    String err = e.toString();
    assertTrue(err.contains("the per-sample gradients of batch 10 take 1.1 MiB on the Java heap (10 x 10203 numbers of 8 B for batch_grad.npz"), err);
    assertTrue(err.contains("over the memory limit 512.0 KiB"), err);
    assertTrue(err.contains("use a smaller batch, or raise --memory-limit"), err);
    assertFalse(err.contains("\tat "), "no stack trace: " + err);
    assertFalse(Files.exists(out), "nothing written");
  }

  private String[] command(Path net, Path out, String... more) {
    return CommandRuns.with(new String[] {"gradients", "--net", net.toString(), "--params", dir.resolve("params.npz").toString(), "--batch",
        dir.resolve("batch.npz").toString(), "--out", out.toString()}, more);
  }

  /** The net's file, PyTorch-named parameters (layers 0 and 2) and a batch of N samples. */
  private Path writeProblem() throws Exception {
    Path net = dir.resolve("wide.hbp");
    Files.writeString(net, NET);
    CommandRuns.writeClassifierProblem(dir, IN, HIDDEN, CLASSES, N, 29);
    return net;
  }
}
