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
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The diagonal strategies (diag-ggn, diag-hessian) as blocks, against PyTorch autograd's dense
 * blocks (crosscheck.py, float64): their dense blocks are the diagonals of autograd's GGN / Hessian
 * blocks with zeros elsewhere (1e-10), and their closed-form Newton step of eq. 10 is
 * {@code -g / (α + (1 - α) d)} with autograd's gradient and diagonal. Other curvatures are refused.
 */
class DiagonalStrategyTest {
  @TempDir Path dir;

  @ParameterizedTest
  @CsvSource({"fc, diag-ggn, ggn", "cnn, diag-ggn, ggn", "fc, diag-hessian, hessian", "cnn, diag-hessian, hessian"})
  void denseBlocksAndStepsAreAutogradsDiagonals(String name, String strategy, String curvature) throws Exception {
    runScript("crosscheck.py", name, dir.toString());
    Path net = dir.resolve(name + ".hbp");
    Files.writeString(net, name.equals("fc") ? TorchCrossCheckTest.FC : TorchCrossCheckTest.CNN);
    String[] base = {"curvature", "--net", net.toString(), "--params", dir.resolve("params.npz").toString(), "--batch",
        dir.resolve("batch.npz").toString(), "--curvature", curvature, "--strategy", strategy, "--backend", "cpu"};
    Path dense = dir.resolve("dense.npz"), step = dir.resolve("step.npz");
    hbp(concat(base, "--dense", dense.toString()));
    double alpha = 0.1;
    hbp(concat(base, "--solve", Double.toString(alpha), "--out", step.toString()));
    Map<String, NdArray> ref = Npz.read(dir.resolve("ref.npz")), blocks = Npz.read(dense), steps = Npz.read(step);
    int checked = 0;
    for (String key : ref.keySet()) {
      if (!key.startsWith(curvature + ".")) continue;
      String p = key.substring(curvature.length() + 1);
      // dense blocks and steps are named as --params names the parameters: PyTorch's
      double[] want = ref.get(key).data(), got = blocks.get(p).data(), g = ref.get("grad." + p).data(), d = steps.get(p).data();
      int n = g.length;
      assertEquals(n * n, got.length, p);
      double scale = 0;
      for (double w : want) scale = Math.max(scale, Math.abs(w));
      assertTrue(scale > 0, p);
      for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
          assertEquals(i == j ? want[i * n + i] : 0, got[i * n + j], 1e-10 * Math.max(1, scale), strategy + " " + p + "[" + i + "," + j + "]");
      for (int i = 0; i < n; i++)
        assertEquals(-g[i] / (alpha + (1 - alpha) * want[i * n + i]), d[i], 1e-9 * Math.max(1, Math.abs(d[i])), strategy + " step " + p + "[" + i + "]");
      checked++;
    }
    assertTrue(checked >= 4, "parameters checked: " + checked);
  }

  @Test
  void aDiagonalOfAnotherCurvatureIsRefused() throws Exception {
    runScript("crosscheck.py", "fc", dir.toString());
    Path net = dir.resolve("fc.hbp");
    Files.writeString(net, TorchCrossCheckTest.FC);
    StringWriter out = new StringWriter(), err = new StringWriter();
    int code = Main.execute(new String[] {"curvature", "--net", net.toString(), "--params", dir.resolve("params.npz").toString(), "--batch",
        dir.resolve("batch.npz").toString(), "--curvature", "pch-abs", "--strategy", "diag-ggn", "--dense", dir.resolve("d.npz").toString(),
        "--backend", "cpu"}, new PrintWriter(out, true), new PrintWriter(err, true));
    assertEquals(2, code, out + "\n" + err);
    assertTrue(err.toString().contains("--strategy diag-ggn is the diagonal of the GGN; use it with --curvature ggn"), err.toString());
  }

  private static String[] concat(String[] a, String... b) {
    String[] r = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, r, a.length, b.length);
    return r;
  }
}
