package org.hbp.network;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.hbp.cli.CommandRuns;
import org.hbp.io.DType;
import org.hbp.io.NdArray;
import org.hbp.io.Npz;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code hbp curvature --diagonal hessian} on the paper's FC net ({@code networks/fc.hbp},
 * 3072-1024-...-10, sigmoid) at a batch that the column-set check alone used to refuse: the
 * residual factors at the input of the first sigmoid are {@code 2 N} sets of 1024 columns of 1024
 * entries, {@code 2 * 9 * 1024 * 1024 * 8 B = 144 MiB} in float64 at batch 9, over a memory limit of
 * 0.13 GiB (133 MiB). Now it runs in chunks of samples, says so in one line on standard error, and
 * gives the unchunked diagonal (the same command with the default limit, 2 GiB) to round-off.
 * Against autograd the chunked diagonal is checked in {@link HessianDiagonalTest}.
 */
class SampleChunksCliTest {
  @TempDir Path dir;

  private static final int[] WIDTHS = {3072, 1024, 512, 256, 128, 64, 32, 16, 10};
  private static final int N = 9;
  private static final double LIMIT_GIB = 0.13;

  @Test
  void theFcNetsHessianDiagonalRunsInChunksWhereTheBatchUsedToBeRefused() throws Exception {
    assertTrue(2L * N * 1024 * 1024 * 8 > (long) (LIMIT_GIB * (1L << 30)), "the old column-set check refuses this batch at this limit");
    Path params = dir.resolve("params.npz"), batch = dir.resolve("batch.npz");
    writeProblem(params, batch);
    String[] limited = command(params, batch, dir.resolve("chunked.npz"), "--memory-limit", Double.toString(LIMIT_GIB));
    String[] whole = command(params, batch, dir.resolve("whole.npz"));
    CommandRuns.Output chunkedRun = CommandRuns.ok(limited), wholeRun = CommandRuns.ok(whole);
    Matcher m = Pattern.compile("hbp: the Hessian diagonal of batch 9 does not fit the memory limit [0-9.]+ MiB at once: computing it in (\\d+) chunks? of (\\d+) samples?")
        .matcher(chunkedRun.err());
    assertTrue(m.find(), chunkedRun.err());
    int chunks = Integer.parseInt(m.group(1)), size = Integer.parseInt(m.group(2));
    assertTrue(chunks > 1 && size < N && chunks == (N + size - 1) / size, chunkedRun.err());
    assertEquals(1, chunkedRun.err().lines().count(), "one line on standard error: " + chunkedRun.err());
    assertTrue(!wholeRun.err().contains("chunks"), "the default limit holds the whole batch: " + wholeRun.err());
    CommandRuns.assertSameArrays(dir.resolve("whole.npz"), dir.resolve("chunked.npz"), 2 * (WIDTHS.length - 1), 1e-10);
  }

  private static String[] command(Path params, Path batch, Path out, String... more) {
    String[] base = {"curvature", "--net", "networks/fc.hbp", "--params", params.toString(), "--batch", batch.toString(), "--curvature", "hessian",
        "--diagonal", "hessian", "--backend", "blas-f64", "--out", out.toString()};
    return CommandRuns.with(base, more);
  }

  /** PyTorch-named parameters ({@code 1.weight}, ...: Linear layers at 1, 3, ..., 15 after the flatten) and a batch of N images. */
  private static void writeProblem(Path params, Path batch) throws Exception {
    Random rng = new Random(17);
    Map<String, NdArray> p = new LinkedHashMap<>();
    for (int l = 0; l + 1 < WIDTHS.length; l++) {
      int in = WIDTHS[l], out = WIDTHS[l + 1];
      p.put((2 * l + 1) + ".weight", NdArray.of(CommandRuns.gaussian(rng, out * in, 1 / Math.sqrt(in)), out, in));
      p.put((2 * l + 1) + ".bias", NdArray.of(CommandRuns.gaussian(rng, out, 0.1), out));
    }
    Npz.write(params, p);
    double[] y = new double[N];
    for (int i = 0; i < N; i++) y[i] = rng.nextInt(10);
    Map<String, NdArray> b = new LinkedHashMap<>();
    b.put("x", NdArray.of(CommandRuns.gaussian(rng, N * 3072, 1), N, 3, 32, 32));
    b.put("y", NdArray.of(y, DType.INT64, N));
    Npz.write(batch, b);
  }
}
