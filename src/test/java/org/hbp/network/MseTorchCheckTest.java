package org.hbp.network;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.hbp.cli.Main;
import org.hbp.derive.LossRule;
import org.hbp.derive.ModuleRules;
import org.hbp.dsl.Dsl;
import org.hbp.io.NdArray;
import org.hbp.io.Npz;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The built-in loss {@code mse} is PyTorch's {@code nn.MSELoss(reduction='mean')}: on a small net
 * written in PyTorch (src/test/resources/torch/mse_check.py, float64), hbp's loss, gradients, exact
 * Hessian blocks and GGN blocks equal autograd's. {@code squareloss} on the same data is
 * {@code MSELoss(reduction='sum') / N}, C times larger. Needs python3 with torch; a missing torch is
 * a failure, not a skip.
 */
class MseTorchCheckTest {
  @TempDir Path dir;

  static final String NET = "network m {\n  input x: vector(5);\n  linear(m = 4);\n  tanh;\n  linear(m = 3);\n  loss %s;\n}\n";

  private static String run(String... args) {
    StringWriter out = new StringWriter(), err = new StringWriter();
    int code = Main.execute(args, new PrintWriter(out, true), new PrintWriter(err, true));
    assertEquals(0, code, out + "\n" + err);
    return out.toString();
  }

  private static double loss(String out) {
    Matcher m = Pattern.compile("loss (\\S+)").matcher(out);
    assertTrue(m.find(), out);
    return Double.parseDouble(m.group(1));
  }

  private static String ours(String torchName) {
    return torchName.replace(".weight", ".W").replace(".bias", ".b");
  }

  @Test
  void mseIsPyTorchsMeanSquaredError() throws Exception {
    Path script = Path.of("src/test/resources/torch/mse_check.py").toAbsolutePath();
    Process p = new ProcessBuilder(org.hbp.cli.Python.withTorch().orElse("python3"), script.toString(), dir.toString()).redirectErrorStream(true).start();
    String log = new String(p.getInputStream().readAllBytes());
    assertTrue(p.waitFor(600, TimeUnit.SECONDS), "python timed out");
    assertEquals(0, p.exitValue(), "the PyTorch reference needs python3 with torch (.ci/run installs python3-torch):\n" + log);
    Map<String, NdArray> ref = Npz.read(dir.resolve("ref.npz"));
    Path mse = dir.resolve("mse.hbp"), square = dir.resolve("square.hbp");
    Files.writeString(mse, String.format(NET, "mse"));
    Files.writeString(square, String.format(NET, "squareloss"));
    String[] data = {"--params", dir.resolve("params.npz").toString(), "--batch", dir.resolve("batch.npz").toString(), "--strategy", "exact"};

    for (String kind : new String[] {"hessian", "ggn"}) {
      Path outFile = dir.resolve(kind + ".npz");
      String out = run(concat(concat(new String[] {"curvature", "--net", mse.toString()}, data), "--curvature", kind, "--dense", outFile.toString()));
      assertEquals(ref.get("loss").data()[0], loss(out), 1e-12, "loss");
      Map<String, NdArray> got = Npz.read(outFile);
      int blocks = 0;
      for (String key : ref.keySet()) {
        if (!key.startsWith(kind + ".")) continue;
        blocks++;
        NdArray g = got.get(ours(key.substring(kind.length() + 1))), r = ref.get(key);
        assertEquals(r.numel(), g.numel(), key);
        double err = 0, scale = 0;
        for (int i = 0; i < r.numel(); i++) {
          err = Math.max(err, Math.abs(g.data()[i] - r.data()[i]));
          scale = Math.max(scale, Math.abs(r.data()[i]));
        }
        assertTrue(scale > 0, key + " is zero: nothing compared");
        assertTrue(err <= 1e-10 * Math.max(1, scale), key + ": max abs error " + err + " (scale " + scale + ")");
      }
      assertEquals(4, blocks, kind + " blocks compared");
    }

    // gradients: the Newton step with alpha = 1 is -gradient
    Path step = dir.resolve("step.npz");
    run(concat(concat(new String[] {"curvature", "--net", mse.toString()}, data), "--solve", "1", "--out", step.toString(), "--cg-tol", "0"));
    Map<String, NdArray> s = Npz.read(step);
    for (String key : ref.keySet()) {
      if (!key.startsWith("grad.")) continue;
      NdArray g = s.get(ours(key.substring(5))), r = ref.get(key);
      assertEquals(java.util.Arrays.toString(r.shape()), java.util.Arrays.toString(g.shape()), key + " shape");
      for (int i = 0; i < r.numel(); i++) assertEquals(-r.data()[i], g.data()[i], 1e-12, key + "[" + i + "]");
    }

    // squareloss is Table 1's (y - x)'(y - x), averaged over the samples only: C = 3 times mse
    String sq = run(concat(new String[] {"curvature", "--net", square.toString()}, concat(data, "--dense", dir.resolve("sq.npz").toString())));
    assertEquals(ref.get("loss_sum_over_n").data()[0], loss(sq), 1e-12, "squareloss = MSELoss(reduction='sum') / N");
    assertEquals(3 * ref.get("loss").data()[0], ref.get("loss_sum_over_n").data()[0], 1e-12, "the reference itself: sum / N = C * mean");
  }

  @Test
  void mseHessianIsProvenPsd() {
    LossRule d = ModuleRules.lossRules(Dsl.parseFile(Path.of("modules-spec/mse.hbp")).modules().get(0)).get(0);
    assertEquals(Boolean.TRUE, d.psd().value(), d.psd().reason());
  }

  private static String[] concat(String[] a, String... b) {
    String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
