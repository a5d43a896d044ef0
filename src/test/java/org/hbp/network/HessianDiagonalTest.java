package org.hbp.network;

import static org.hbp.network.TorchReference.hbp;
import static org.hbp.network.TorchReference.runScript;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.hbp.cli.Main;
import org.hbp.io.NdArray;
import org.hbp.io.Npz;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The Hessian diagonal by HBP with diagonal residuals equals the diagonal of PyTorch autograd's
 * dense Hessian blocks (double backward, float64, 1e-10) on the nets of crosscheck.py (FC with
 * sigmoid and tanh, a CNN with conv, max-pool, zero-pad and avg-pool, a residual net); a net with a
 * general residual (the skip module) is refused by name.
 */
class HessianDiagonalTest {
  @TempDir Path dir;

  @ParameterizedTest
  @ValueSource(strings = {"fc", "cnn", "resnet"})
  void hessianDiagonalIsTheDiagonalOfAutogradsHessian(String name) throws Exception {
    Path net = TorchCrossCheckTest.crossCheckNet(name, dir);
    Path out = dir.resolve("diag.npz");
    hbp("curvature", "--net", net.toString(), "--params", dir.resolve("params.npz").toString(), "--batch", dir.resolve("batch.npz").toString(),
        "--curvature", "hessian", "--diagonal", "hessian", "--out", out.toString(), "--backend", "cpu");
    assertDiagonalOfTheBlocks(name, Npz.read(dir.resolve("ref.npz")), Npz.read(out));
  }

  /**
   * The same diagonal computed in chunks of 3 of the 4 samples (a chunk of 3 and one of 1, each with
   * its own pass: {@link SampleChunks}), against the same autograd reference at the same tolerance.
   */
  @ParameterizedTest
  @ValueSource(strings = {"fc", "cnn", "resnet"})
  void hessianDiagonalInChunksIsTheDiagonalOfAutogradsHessian(String name) throws Exception {
    Path net = TorchCrossCheckTest.crossCheckNet(name, dir);
    assertEquals(4, Npz.read(dir.resolve("batch.npz")).get("x").shape()[0], "a chunk of 3 must not divide the batch");
    assertDiagonalOfTheBlocks(name + " in chunks of 3", Npz.read(dir.resolve("ref.npz")), ChunkedDiagonals.compute(net, dir, "hessian", 3, 0));
  }

  /** Each parameter's diagonal against the diagonal of autograd's {@code hessian.<name>} block, 1e-10 relative to its scale. */
  static void assertDiagonalOfTheBlocks(String name, Map<String, NdArray> ref, Map<String, NdArray> got) {
    int checked = 0;
    for (String key : ref.keySet()) {
      if (!key.startsWith("hessian.")) continue;
      String torchName = key.substring(8);
      NdArray block = ref.get(key), diag = got.get(torchName);
      int n = diag.numel();
      assertEquals(n * n, block.numel(), torchName);
      double scale = 0, err = 0;
      double[] blockValues = block.data(), diagValues = diag.data();
      for (int i = 0; i < n; i++) {
        double want = blockValues[i * n + i];
        scale = Math.max(scale, Math.abs(want));
        err = Math.max(err, Math.abs(diagValues[i] - want));
      }
      assertTrue(scale > 0, torchName);
      assertTrue(err <= 1e-10 * Math.max(1, scale), name + " " + torchName + ": max abs error " + err + " (scale " + scale + ")");
      checked++;
    }
    assertTrue(checked >= 3, "parameters checked: " + checked);
  }

  @Test
  void aGeneralResidualIsRefusedByName() throws Exception {
    runScript("crosscheck.py", "fc", dir.toString());
    Path net = dir.resolve("skip.hbp");
    Files.writeString(net, TorchCrossCheckTest.SKIP);
    // the skip net's parameters differ from fc's only in the middle layer: write its own
    Path params = dir.resolve("skip-params.npz");
    Map<String, NdArray> fc = Npz.read(dir.resolve("params.npz"));
    java.util.Map<String, NdArray> p = new java.util.LinkedHashMap<>();
    p.put("0.weight", fc.get("0.weight"));
    p.put("0.bias", fc.get("0.bias"));
    p.put("2.W1", NdArray.of(new double[12], new int[] {3, 4}));
    p.put("2.W2", NdArray.of(new double[12], new int[] {4, 3}));
    p.put("3.weight", fc.get("4.weight"));
    p.put("3.bias", fc.get("4.bias"));
    Npz.write(params, p);
    StringWriter out = new StringWriter(), err = new StringWriter();
    int code = Main.execute(new String[] {"curvature", "--net", net.toString(), "--params", params.toString(), "--batch",
        dir.resolve("batch.npz").toString(), "--curvature", "hessian", "--diagonal", "hessian", "--out", dir.resolve("d.npz").toString(),
        "--backend", "cpu"}, new PrintWriter(out, true), new PrintWriter(err, true));
    assertEquals(2, code, out + "\n" + err);
    assertTrue(err.toString().contains("the Hessian diagonal needs diagonal residuals: layer 2 (skip) has a general residual"), err.toString());
  }

  /**
   * Where not even one sample fits the memory limit, the diagonal is refused with the sizes; the
   * walk itself still refuses a column set over the limit, naming the layer and the size, before
   * it is formed.
   */
  @Test
  void columnSetsOverTheMemoryLimitAreRefusedByName() throws Exception {
    Path net = dir.resolve("fc.hbp");
    Files.writeString(net, TorchCrossCheckTest.FC);
    NetworkCurvatureTest.Setup s = new NetworkCurvatureTest.Setup(NetworkResolver.load(net, null, ModuleLibrary.builtInSpecDirs()), 3, 5, 2);
    Pass pass = s.pass();
    org.hbp.UserError e = org.junit.jupiter.api.Assertions.assertThrows(org.hbp.UserError.class, () -> HessianDiagonal.exact(pass, 64));
    assertTrue(e.getMessage().startsWith("the Hessian diagonal does not fit even one sample at a time: "), e.getMessage());
    assertTrue(e.getMessage().contains("over the memory limit 64 B"), e.getMessage());
    org.hbp.UserError w = org.junit.jupiter.api.Assertions.assertThrows(org.hbp.UserError.class, () -> GraphHessianDiagonal.sums(pass, 64));
    assertTrue(w.getMessage().startsWith("the Hessian diagonal would form 3 x "), w.getMessage());
    assertTrue(w.getMessage().contains("over the memory limit 64 B"), w.getMessage());
    assertEquals(s.net.parameterNames().size(), HessianDiagonal.exact(pass, 1L << 30).size());
  }
}
