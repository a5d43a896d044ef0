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
import org.hbp.io.NdArray;
import org.hbp.io.Npz;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Exact agreement with PyTorch autograd (float64): the same nets written in PyTorch
 * (src/test/resources/torch/crosscheck.py) export parameters and a batch; hbp curvature reads them
 * and its loss, gradients, exact Hessian blocks and GGN blocks match autograd's. Needs python3
 * with torch (CI installs python3-torch in .ci/run); a missing torch is a failure, not a skip.
 */
class TorchCrossCheckTest {
  @TempDir Path dir;

  static final String CNN = String.join("\n",
      "network cnn {",
      "  input x: tensor(2, 8, 8);",
      "  conv2d(cout = 3, k = 3, s = 1, p = 1, d = 1);",
      "  sigmoid;",
      "  maxpool(k = 2);",
      "  zeropad(p = 1);",
      "  avgpool(k = 2);",
      "  conv2d(cout = 4, k = 3, s = 2, p = 1, d = 1);",
      "  tanh;",
      "  flatten;",
      "  linear(m = 3);",
      "  loss crossentropy;",
      "}");

  static final String RESNET = String.join("\n",
      "network resnet {",
      "  input x: vector(5);",
      "  linear(m = 4);",
      "  tanh;",
      "  residual {",
      "    linear(m = 4);",
      "    sigmoid;",
      "    linear(m = 4);",
      "  }",
      "  linear(m = 3);",
      "  loss crossentropy;",
      "}");

  private static String run(String... args) {
    StringWriter out = new StringWriter(), err = new StringWriter();
    int code = Main.execute(args, new PrintWriter(out, true), new PrintWriter(err, true));
    assertEquals(0, code, out + "\n" + err);
    return out.toString();
  }

  @ParameterizedTest
  @ValueSource(strings = {"cnn", "resnet"})
  void hbpAgreesWithAutograd(String name) throws Exception {
    Path script = Path.of("src/test/resources/torch/crosscheck.py").toAbsolutePath();
    Process p = new ProcessBuilder(org.hbp.cli.Python.withTorch().orElse("python3"), script.toString(), name, dir.toString()).redirectErrorStream(true).start();
    String log = new String(p.getInputStream().readAllBytes());
    assertTrue(p.waitFor(600, TimeUnit.SECONDS), "python timed out");
    assertEquals(0, p.exitValue(), "the PyTorch reference needs python3 with torch (.ci/run installs python3-torch):\n" + log);
    Path net = dir.resolve(name + ".hbp");
    Files.writeString(net, name.equals("cnn") ? CNN : RESNET);
    Map<String, NdArray> ref = Npz.read(dir.resolve("ref.npz"));
    String[] common = {"curvature", "--net", net.toString(), "--params", dir.resolve("params.npz").toString(), "--batch",
        dir.resolve("batch.npz").toString(), "--strategy", "exact"};
    for (String kind : new String[] {"hessian", "ggn"}) {
      Path outFile = dir.resolve(kind + ".npz");
      String out = run(concat(common, "--curvature", kind, "--dense", outFile.toString()));
      Matcher m = Pattern.compile("loss (\\S+)").matcher(out);
      assertTrue(m.find(), out);
      assertEquals(ref.get("loss").data()[0], Double.parseDouble(m.group(1)), 1e-9, "loss");
      Map<String, NdArray> got = Npz.read(outFile);
      for (String key : ref.keySet()) {
        if (!key.startsWith(kind + ".")) continue;
        String torchName = key.substring(kind.length() + 1);
        String ours = torchName.replace(".weight", ".W").replace(".bias", ".b");
        NdArray g = got.get(ours), r = ref.get(key);
        assertEquals(r.numel(), g.numel(), key);
        double err = 0, scale = 0;
        for (int i = 0; i < r.numel(); i++) {
          err = Math.max(err, Math.abs(g.data()[i] - r.data()[i]));
          scale = Math.max(scale, Math.abs(r.data()[i]));
        }
        assertTrue(err <= 1e-10 * Math.max(1, scale), name + " " + key + ": max abs error " + err + " (scale " + scale + ")");
      }
    }
    // gradients: the Newton step with alpha = 1 is -gradient, written in PyTorch's shapes
    Path step = dir.resolve("step.npz");
    run(concat(common, "--curvature", "ggn", "--solve", "1", "--out", step.toString(), "--cg-tol", "0"));
    Map<String, NdArray> s = Npz.read(step);
    for (String key : ref.keySet()) {
      if (!key.startsWith("grad.")) continue;
      String torchName = key.substring(5);
      NdArray g = s.get(torchName.replace(".weight", ".W").replace(".bias", ".b")), r = ref.get(key);
      assertEquals(java.util.Arrays.toString(r.shape()), java.util.Arrays.toString(g.shape()), key + " shape");
      for (int i = 0; i < r.numel(); i++) assertEquals(-r.data()[i], g.data()[i], 1e-12, key + "[" + i + "]");
    }
  }

  static final String FC = String.join("\n",
      "network fc {",
      "  input x: vector(5);",
      "  linear(m = 4);",
      "  sigmoid;",
      "  linear(m = 4);",
      "  tanh;",
      "  linear(m = 3);",
      "  loss crossentropy;",
      "}");

  static final String SKIP = String.join("\n",
      "network skipnet {",
      "  input x: vector(5);",
      "  linear(m = 4);",
      "  tanh;",
      "  skip(h = 3);",
      "  linear(m = 3);",
      "  loss crossentropy;",
      "}");

  /**
   * PCH with the batch strategies, against eq. 8 / eq. 9 by PyTorch autograd per sample
   * (src/test/resources/torch/batch_pch.py): Jacobians and residuals (double backward) of each
   * module at each sample, averaged, and the averaged residual modified (|.| or max(., 0) of its
   * diagonal or eigenvalues) in the script. On these nets (sigmoid, tanh, a residual block, the
   * skip module with its general residual) the other order, averaging the per-sample modified
   * residuals, differs clearly, and that is checked too: the comparison can fail.
   */
  @ParameterizedTest
  @ValueSource(strings = {"fc", "resnet", "skip"})
  void batchPchFollowsThePaperAgainstAutograd(String name) throws Exception {
    Path script = Path.of("src/test/resources/torch/batch_pch.py").toAbsolutePath();
    Process p = new ProcessBuilder(org.hbp.cli.Python.withTorch().orElse("python3"), script.toString(), name, dir.toString()).redirectErrorStream(true).start();
    String log = new String(p.getInputStream().readAllBytes());
    assertTrue(p.waitFor(600, TimeUnit.SECONDS), "python timed out");
    assertEquals(0, p.exitValue(), "the PyTorch reference needs python3 with torch (.ci/run installs python3-torch):\n" + log);
    Path net = dir.resolve(name + ".hbp");
    Files.writeString(net, name.equals("fc") ? FC : name.equals("skip") ? SKIP : RESNET);
    Map<String, NdArray> ref = Npz.read(dir.resolve("ref.npz"));
    int compared = 0;
    for (String kind : new String[] {"abs", "clip"})
      for (String strategy : new String[] {"kfra", "bda"}) {
        Path outFile = dir.resolve(kind + "-" + strategy + ".npz");
        run("curvature", "--net", net.toString(), "--params", dir.resolve("params.npz").toString(), "--batch", dir.resolve("batch.npz").toString(),
            "--strategy", strategy, "--curvature", "pch-" + kind, "--dense", outFile.toString());
        Map<String, NdArray> got = Npz.read(outFile);
        String prefix = "pch." + kind + "." + strategy + ".";
        double largestOrderGap = 0;
        for (String key : ref.keySet()) {
          if (!key.startsWith(prefix)) continue;
          String torchName = key.substring(prefix.length());
          NdArray g = got.get(torchName.replace(".weight", ".W").replace(".bias", ".b")), r = ref.get(key),
              other = ref.get("persample." + kind + "." + strategy + "." + torchName);
          assertEquals(r.numel(), g.numel(), key);
          double err = 0, gap = 0, scale = 0;
          for (int i = 0; i < r.numel(); i++) {
            err = Math.max(err, Math.abs(g.data()[i] - r.data()[i]));
            gap = Math.max(gap, Math.abs(other.data()[i] - r.data()[i]));
            scale = Math.max(scale, Math.abs(r.data()[i]));
          }
          assertTrue(err <= 1e-10 * Math.max(1, scale), name + " " + key + ": max abs error " + err + " (scale " + scale + ")");
          largestOrderGap = Math.max(largestOrderGap, gap / Math.max(1, scale));
          compared++;
        }
        // the per-sample order is far outside the tolerance: this net tells the two orders apart
        assertTrue(largestOrderGap > 1e-3, name + " " + kind + " " + strategy + ": the orders differ by only " + largestOrderGap);
      }
    assertTrue(compared >= 4 * 6, "compared " + compared + " blocks");
  }

  private static String[] concat(String[] a, String... b) {
    String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
