package org.hbp.network;

import static org.hbp.network.TorchReference.ours;
import static org.hbp.network.TorchReference.runScript;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.hbp.UserError;
import org.hbp.backend.Batch;
import org.hbp.backend.cpu.CpuBackend;
import org.hbp.io.NdArray;
import org.hbp.io.Npz;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The first-order quantities within a memory limit ({@link SampleGradientChunks}) against PyTorch
 * autograd's per-sample gradients, a loop of {@code torch.autograd.grad} over the 6 samples
 * (src/test/resources/torch/kfac_reference.py, float64), on the nets of {@link KfacTorchCheckTest}:
 * a FC net with sigmoid and tanh, the same with the square loss, a CNN, a residual net. The expected
 * values are the definitions evaluated here on autograd's {@code ∇ℓ_n}: {@code (1/N) ∇ℓ_n}, {@code
 * ||(1/N) ∇ℓ_n||²} and the entrywise {@code (1/N) sum_n (∇ℓ_n)² - ((1/N) sum_n ∇ℓ_n)²}.
 */
class SampleGradientChunksTest {
  @TempDir Path dir;

  private static final int N = 6;

  /** Autograd's per-sample gradients, and the net's pass on the script's parameters and batch (cpu backend, float64). */
  private record Problem(Map<String, NdArray> ref, TorchLayout layout, Pass pass) {}

  private Problem problem(String name) throws Exception {
    runScript("kfac_reference.py", name, dir.toString());
    Path file = dir.resolve(name + ".hbp");
    Files.writeString(file, KfacTorchCheckTest.NETS.get(name));
    Network net = new Network(NetworkResolver.load(file, null, ModuleLibrary.builtInSpecDirs()), Network.builtIn(), new CpuBackend());
    TorchLayout layout = new TorchLayout(net);
    Map<String, Batch> p = layout.parametersOnly(Npz.read(dir.resolve("params.npz")), "params.npz");
    Map<String, NdArray> b = Npz.read(dir.resolve("batch.npz"));
    Batch x = layout.inputs(b.get("x"), "batch.npz");
    Pass pass = net.run(p, x, layout.targets(b.get("y"), x.samples(), "batch.npz"));
    assertEquals(N, pass.samples());
    return new Problem(Npz.read(dir.resolve("ref.npz")), layout, pass);
  }

  /**
   * In chunks of 4 and of 5 of the 6 samples (neither divides the batch: chunks of 4 + 2 and 5 + 1,
   * each with its own pass) and whole, the three quantities equal autograd's to 1e-10 relative to
   * their scale; the chunked runs say so in one line each.
   */
  @ParameterizedTest
  @ValueSource(strings = {"fc", "fcmse", "cnn", "resnet"})
  void chunkedFirstOrderQuantitiesEqualAutogradPerSample(String name) throws Exception {
    Problem pr = problem(name);
    for (Integer chunk : new Integer[] {4, 5, null}) {
      List<String> notices = new ArrayList<>();
      long limit = Curvature.DEFAULT_MEMORY_LIMIT;
      Map<String, Batch> grads = SampleGradientChunks.batchGradients(pr.pass(), chunk, limit, notices::add);
      Map<String, double[]> norms = SampleGradientChunks.squaredNorms(pr.pass(), chunk, limit, notices::add);
      Map<String, Batch> variance = SampleGradientChunks.variance(pr.pass(), chunk, limit, notices::add);
      if (chunk == null) assertEquals(List.of(), notices, "the default limit holds the whole batch");
      else {
        String plan = "in 2 chunks of " + chunk + " samples (the last of " + (N - chunk) + ")";
        assertEquals(List.of("the per-sample gradients of batch 6 do not fit the memory limit 2.00 GiB at once: computing them " + plan,
            "the squared norms of the per-sample gradients of batch 6 do not fit the memory limit 2.00 GiB at once: computing them " + plan,
            "the gradient variance of batch 6 does not fit the memory limit 2.00 GiB at once: computing it " + plan), notices);
      }
      String what = name + (chunk == null ? " whole" : " in chunks of " + chunk);
      assertEquals(name.equals("resnet") ? 8 : 6, assertAutogradsQuantities(what, pr, grads, norms, variance));
    }
  }

  /**
   * With the chunk size planned from a memory limit (the counting backend's measurement of the
   * per-sample gradients on 2 samples): at every limit from 4 KiB to 4 MiB (steps of 1/16), each quantity is either
   * autograd's (whole, or in chunks, said in a line) or refused with a message naming it, the sizes
   * and the limit; some limits chunk each of them, and the batch gradients (N x P numbers, kept
   * whole) are refused at some limit where the squared norms and the variance still run in chunks.
   */
  @ParameterizedTest
  @ValueSource(strings = {"cnn", "resnet"})
  void chunksPlannedFromTheMemoryLimitGiveAutogradsQuantities(String name) throws Exception {
    Problem pr = problem(name);
    int refusedGradientsWhereOthersRan = 0;
    java.util.Set<String> chunked = new java.util.TreeSet<>();
    for (long limit = 4 << 10; limit <= 4 << 20; limit += limit / 16) {
      List<String> notices = new ArrayList<>();
      long at = limit;
      Map<String, double[]> norms = orRefused(() -> SampleGradientChunks.squaredNorms(pr.pass(), at, notices::add), "the squared norms", at);
      Map<String, Batch> variance = orRefused(() -> SampleGradientChunks.variance(pr.pass(), at, notices::add), "the gradient variance", at);
      Map<String, Batch> grads = orRefused(() -> SampleGradientChunks.batchGradients(pr.pass(), at, notices::add), "the per-sample gradients", at);
      for (String line : notices) {
        assertTrue(line.matches(".* of batch 6 do(es)? not fit the memory limit .* at once: computing (it|them) in \\d+ chunks? of \\d+ samples?.*"), line);
        chunked.add(line.substring(0, line.indexOf(" of batch")));
      }
      if (grads != null && norms != null && variance != null) assertAutogradsQuantities(name + " at " + limit + " B", pr, grads, norms, variance);
      if (norms != null && variance != null && grads == null) refusedGradientsWhereOthersRan++;
      if (norms != null && variance != null) {
        // the small outputs alone: checked even where the batch gradients are refused
        int checked = 0;
        for (String key : pr.ref().keySet()) {
          if (!key.startsWith("psg.")) continue;
          String param = ours(key.substring(4));
          assertNormsAndVariance(name + " at " + limit + " B " + param, pr.ref().get(key), norms.get(param),
              pr.layout().toTorch(param, variance.get(param), true));
          checked++;
        }
        assertTrue(checked >= 6);
      }
    }
    assertEquals(java.util.Set.of("the gradient variance", "the per-sample gradients", "the squared norms of the per-sample gradients"), chunked,
        "each is computed in chunks at some limit");
    assertTrue(refusedGradientsWhereOthersRan > 0, "some limit refuses the batch gradients and runs the small outputs in chunks");
  }

  private interface Computation<T> {
    T get();
  }

  /** The computation's result, or null where it was refused with a message naming {@code quantity} and the limit. */
  private static <T> T orRefused(Computation<T> c, String quantity, long limit) {
    try {
      return c.get();
    } catch (UserError e) {
      assertTrue(e.getMessage().startsWith(quantity), e.getMessage());
      assertTrue(e.getMessage().contains("over the memory limit " + MemoryEstimate.bytes(limit)), e.getMessage());
      return null;
    }
  }

  /** Compares every parameter's three quantities with autograd's; returns how many parameters. */
  private static int assertAutogradsQuantities(String what, Problem pr, Map<String, Batch> grads, Map<String, double[]> norms, Map<String, Batch> variance) {
    int checked = 0;
    for (String key : pr.ref().keySet()) {
      if (!key.startsWith("psg.")) continue;
      String torch = key.substring(4), param = ours(torch);
      NdArray psg = pr.ref().get(key);
      double[] scaled = psg.data();
      for (int i = 0; i < scaled.length; i++) scaled[i] /= N;
      assertClose(what + " batch gradients " + torch, scaled, pr.layout().toTorch(param, grads.get(param), false).data());
      assertNormsAndVariance(what + " " + torch, psg, norms.get(param), pr.layout().toTorch(param, variance.get(param), true));
      checked++;
    }
    return checked;
  }

  private static void assertNormsAndVariance(String what, NdArray psg, double[] norms, NdArray variance) {
    int size = psg.numel() / N;
    double[] wantNorms = new double[N], wantVariance = new double[size], values = psg.data();
    for (int s = 0; s < N; s++)
      for (int e = 0; e < size; e++) {
        double g = values[s * size + e] / N;
        wantNorms[s] += g * g;
      }
    for (int e = 0; e < size; e++) {
      double sum = 0, squares = 0;
      for (int s = 0; s < N; s++) {
        sum += values[s * size + e];
        squares += values[s * size + e] * values[s * size + e];
      }
      wantVariance[e] = squares / N - (sum / N) * (sum / N);
    }
    assertClose(what + " squared norms", wantNorms, norms);
    assertClose(what + " variance", wantVariance, variance.data());
  }

  /** Equal to 1e-10 relative to the largest |expected entry| (which must not be 0). */
  private static void assertClose(String what, double[] want, double[] got) {
    assertEquals(want.length, got.length, what);
    double scale = 0, err = 0;
    for (int i = 0; i < want.length; i++) {
      scale = Math.max(scale, Math.abs(want[i]));
      err = Math.max(err, Math.abs(want[i] - got[i]));
    }
    assertTrue(scale > 0, what + ": all zero");
    assertTrue(err <= 1e-10 * scale, what + ": max abs error " + err + " (scale " + scale + ")");
  }

  /** Where the batch gradients alone exceed the limit they are refused before anything is computed. */
  @ParameterizedTest
  @ValueSource(strings = {"fc"})
  void batchGradientsOverTheLimitAreRefusedWithTheirSize(String name) throws Exception {
    Problem pr = problem(name);
    UserError e = assertThrows(UserError.class, () -> SampleGradientChunks.batchGradients(pr.pass(), 256, line -> {}));
    assertTrue(e.getMessage().startsWith("the per-sample gradients of batch 6 take "), e.getMessage());
    assertTrue(e.getMessage().contains("on the Java heap (6 x 59 numbers of 8 B"), e.getMessage());
    assertTrue(e.getMessage().contains("over the memory limit 256 B"), e.getMessage());
  }
}
