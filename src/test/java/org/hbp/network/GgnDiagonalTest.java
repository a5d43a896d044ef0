package org.hbp.network;

import static org.hbp.network.TorchReference.hbp;
import static org.hbp.network.TorchReference.runScript;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.backend.cpu.CpuBackend;
import org.hbp.dsl.Dsl;
import org.hbp.io.NdArray;
import org.hbp.io.Npz;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * GGN diagonals from the loss factor: the exact diagonal equals the diagonal of PyTorch autograd's
 * dense GGN blocks {@code sum_n J_n' H_n J_n / N} (float64, 1e-10; the nets of
 * src/test/resources/torch/crosscheck.py: FC, a CNN with conv/pool/pad, a residual net); for other
 * losses it equals the diagonal of the exact strategy's dense GGN blocks; the Monte-Carlo diagonal
 * is unbiased (its mean over independent seeds lies within 5 standard errors of the exact one).
 */
class GgnDiagonalTest {
  @TempDir Path dir;

  @ParameterizedTest
  @ValueSource(strings = {"fc", "cnn", "resnet"})
  void exactDiagonalIsTheDiagonalOfAutogradsGgn(String name) throws Exception {
    Path net = TorchCrossCheckTest.crossCheckNet(name, dir);
    Path out = dir.resolve("diag.npz");
    String log = hbp("curvature", "--net", net.toString(), "--params", dir.resolve("params.npz").toString(), "--batch",
        dir.resolve("batch.npz").toString(), "--diagonal", "exact", "--out", out.toString(), "--backend", "cpu");
    assertTrue(log.contains("GGN diagonal (exact"), log);
    assertDiagonalOfTheGgn(name, Npz.read(dir.resolve("ref.npz")), Npz.read(out));
  }

  /**
   * The same diagonal computed in chunks of 3 of the 4 samples (3 and 1, each chunk with its own
   * pass: {@link SampleChunks}), against the same autograd reference at the same tolerance.
   */
  @ParameterizedTest
  @ValueSource(strings = {"fc", "cnn", "resnet"})
  void exactDiagonalInChunksIsTheDiagonalOfAutogradsGgn(String name) throws Exception {
    Path net = TorchCrossCheckTest.crossCheckNet(name, dir);
    assertEquals(4, Npz.read(dir.resolve("batch.npz")).get("x").shape()[0], "a chunk of 3 must not divide the batch");
    assertDiagonalOfTheGgn(name + " in chunks of 3", Npz.read(dir.resolve("ref.npz")), ChunkedDiagonals.compute(net, dir, "exact", 3, 0));
  }

  /** Each parameter's diagonal against the diagonal of autograd's {@code ggn.<name>} block, 1e-10 relative to its scale. */
  private static void assertDiagonalOfTheGgn(String name, Map<String, NdArray> ref, Map<String, NdArray> got) {
    int checked = 0;
    for (String key : ref.keySet()) {
      if (!key.startsWith("ggn.")) continue;
      String torchName = key.substring(4);
      NdArray block = ref.get(key), diag = got.get(torchName);
      assertTrue(diag != null, "no diagonal for " + torchName + " in " + got.keySet());
      int n = diag.numel();
      assertEquals(n * n, block.numel(), torchName);
      double scale = 0, err = 0;
      double[] blockValues = block.data(), diagValues = diag.data();
      for (int i = 0; i < n; i++) {
        double want = blockValues[i * n + i];
        scale = Math.max(scale, Math.abs(want));
        err = Math.max(err, Math.abs(diagValues[i] - want));
      }
      assertTrue(scale > 0, torchName + ": a zero reference diagonal would not test anything");
      assertTrue(err <= 1e-10 * Math.max(1, scale), name + " " + torchName + ": max abs error " + err + " (scale " + scale + ")");
      checked++;
    }
    assertTrue(checked >= 3, "parameters checked: " + checked);
  }

  private static final String SMALL = String.join("\n",
      "network small {",
      "  input x: vector(4);",
      "  linear(m = 5);",
      "  tanh;",
      "  residual {",
      "    linear(m = 5);",
      "    sigmoid;",
      "  }",
      "  linear(m = 3);",
      "  loss LOSS;",
      "}");

  private record Problem(Network net, Pass pass) {}

  private static Problem problem(String loss, long seed) {
    NetworkSpec spec = NetworkResolver.resolve(Dsl.parse(SMALL.replace("LOSS", loss), "small.hbp"), null,
        NetworkResolver.library(List.of(Path.of("modules-spec"))));
    Backend be = new CpuBackend();
    Network net = new Network(spec, Network.builtIn(), be);
    Random rng = new Random(seed);
    Map<String, Batch> params = new LinkedHashMap<>();
    for (String p : net.parameterNames()) {
      int[] s = net.parameterShape(p);
      params.put(p, be.fromArray(1, 1, s[0], s[1], gaussian(rng, s[0] * s[1])));
    }
    int n = 6;
    Batch x = be.fromArray(n, 1, 4, 1, gaussian(rng, 4 * n));
    double[] y = new double[3 * n];
    for (int i = 0; i < n; i++) {
      if (loss.equals("crossentropy")) y[3 * i + rng.nextInt(3)] = 1;
      else if (loss.equals("bce")) for (int c = 0; c < 3; c++) y[3 * i + c] = rng.nextDouble();
      else for (int c = 0; c < 3; c++) y[3 * i + c] = rng.nextGaussian();
    }
    return new Problem(net, net.run(params, x, be.fromArray(n, 1, 3, 1, y)));
  }

  private static double[] gaussian(Random rng, int n) {
    double[] d = new double[n];
    for (int i = 0; i < n; i++) d[i] = rng.nextGaussian();
    return d;
  }

  /** For losses other than cross-entropy: the diagonal of the exact strategy's dense GGN blocks (per-sample Hessian products). */
  @ParameterizedTest
  @ValueSource(strings = {"squareloss", "mse", "bce", "crossentropy"})
  void exactDiagonalIsTheDiagonalOfTheDenseGgnBlocks(String loss) {
    Problem p = problem(loss, 3);
    Backend be = p.net.backend();
    Map<String, Batch> diag = GgnDiagonal.exact(p.pass);
    Curvature ggn = p.pass.curvature(CurvatureKind.GGN, Strategy.EXACT);
    for (String name : p.net.parameterNames()) {
      int n = p.net.parameterSize(name);
      double[] dense = be.toArray(ggn.dense(name, 1, Curvature.DEFAULT_MEMORY_LIMIT)), got = be.toArray(diag.get(name));
      assertEquals(n, got.length, name);
      double scale = 0;
      for (int i = 0; i < n; i++) scale = Math.max(scale, Math.abs(dense[i * n + i]));
      for (int i = 0; i < n; i++)
        assertEquals(dense[i * n + i], got[i], 1e-12 * Math.max(1, scale), loss + " " + name + "[" + i + "]");
    }
  }

  /**
   * The Monte-Carlo diagonal in chunks of 4 of the 6 samples draws the random vectors of the whole
   * batch (each chunk takes its samples' part of the one stream), so it equals the unchunked
   * estimate of the same seed up to round-off, with several vectors per sample and with one; its
   * unbiasedness is then that of the unchunked estimate, tested below. A chunk that drew a stream
   * of its own would give another estimate: the test sees that as a difference far above round-off.
   */
  @ParameterizedTest
  @ValueSource(ints = {1, 3})
  void monteCarloDiagonalInChunksDrawsTheBatchsVectors(int k) {
    Problem p = problem("crossentropy", 7);
    Backend be = p.net.backend();
    Map<String, double[]> whole = GgnDiagonal.toHost(be, GgnDiagonal.monteCarlo(p.pass, k, GgnDiagonal.Sampling.GAUSSIAN, 11));
    Map<String, double[]> chunked = GgnDiagonal.toHost(be, GgnDiagonal.monteCarlo(p.pass, k, GgnDiagonal.Sampling.GAUSSIAN, 11, 4));
    Map<String, double[]> other = GgnDiagonal.toHost(be, GgnDiagonal.monteCarlo(p.pass, k, GgnDiagonal.Sampling.GAUSSIAN, 12));
    boolean differs = false;
    for (String name : p.net.parameterNames()) {
      double[] w = whole.get(name), c = chunked.get(name), o = other.get(name);
      double scale = 0;
      for (double v : w) scale = Math.max(scale, Math.abs(v));
      assertTrue(scale > 0, name);
      for (int i = 0; i < w.length; i++) {
        assertEquals(w[i], c[i], 1e-12 * scale, name + "[" + i + "]");
        differs |= Math.abs(w[i] - o[i]) > 1e-6 * scale;
      }
    }
    assertTrue(differs, "another seed gives another estimate (so the comparison can see a different stream)");
  }

  /**
   * Unbiasedness: M = 3000 estimates with K = 4 vectors per sample, each from its own seed, are
   * independent draws of the estimator; their mean m has standard error se = s/sqrt(M) per entry
   * (s the sample standard deviation). If E[estimate] = exact, (m - exact)/se is approximately
   * standard normal, so |m - exact| <= 5 se fails for an entry with probability ~6e-7 (about 5e-5
   * over the ~80 entries), and the seeds are fixed. The same test rejects an estimator biased by 5 %,
   * in at least half of the entries, which shows it has the power to see a bias of that size.
   */
  @ParameterizedTest
  @ValueSource(strings = {"rademacher", "gaussian"})
  void monteCarloDiagonalIsUnbiased(String sampling) {
    GgnDiagonal.Sampling s = GgnDiagonal.Sampling.valueOf(sampling.toUpperCase(java.util.Locale.ROOT));
    Problem p = problem("crossentropy", 5);
    Backend be = p.net.backend();
    Map<String, double[]> exact = GgnDiagonal.toHost(be, GgnDiagonal.exact(p.pass));
    UnbiasedEstimates.assertUnbiased(sampling, exact, 3000, draw -> GgnDiagonal.toHost(be, GgnDiagonal.monteCarlo(p.pass, 4, s, 1000 + draw)), 50);
  }
}
