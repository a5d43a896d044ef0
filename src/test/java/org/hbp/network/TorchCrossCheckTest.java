package org.hbp.network;

import static org.hbp.network.TorchReference.assertBlockEquals;
import static org.hbp.network.TorchReference.assertStepIsMinusGradient;
import static org.hbp.network.TorchReference.concat;
import static org.hbp.network.TorchReference.hbp;
import static org.hbp.network.TorchReference.loss;
import static org.hbp.network.TorchReference.maxAbsDifference;
import static org.hbp.network.TorchReference.runScript;
import static org.hbp.network.TorchReference.scale;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.hbp.io.NdArray;
import org.hbp.io.Npz;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Exact agreement with PyTorch autograd (float64): the same nets written in PyTorch
 * (src/test/resources/torch/crosscheck.py) export parameters and a batch; hbp curvature reads them
 * and its loss, gradients, exact Hessian blocks and GGN blocks (by both --ggn-route) match autograd's. Needs python3
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

  @ParameterizedTest
  @ValueSource(strings = {"cnn", "resnet"})
  void hbpAgreesWithAutograd(String name) throws Exception {
    runScript("crosscheck.py", name, dir.toString());
    Path net = dir.resolve(name + ".hbp");
    Files.writeString(net, name.equals("cnn") ? CNN : RESNET);
    Map<String, NdArray> ref = Npz.read(dir.resolve("ref.npz"));
    String[] common = {"curvature", "--net", net.toString(), "--params", dir.resolve("params.npz").toString(), "--batch",
        dir.resolve("batch.npz").toString(), "--strategy", "exact"};
    // the GGN by both routes: its products through the network, and from the loss factor's columns (--ggn-route factored)
    for (String[] run : new String[][] {{"hessian", "network"}, {"ggn", "network"}, {"ggn", "factored"}}) {
      String kind = run[0];
      Path outFile = dir.resolve(kind + "-" + run[1] + ".npz");
      String out = hbp(concat(common, "--curvature", kind, "--ggn-route", run[1], "--dense", outFile.toString()));
      assertEquals(ref.get("loss").data()[0], loss(out), 1e-9, "loss");
      Map<String, NdArray> got = Npz.read(outFile);
      int compared = 0;
      for (String key : ref.keySet()) {
        if (!key.startsWith(kind + ".")) continue;
        assertBlockEquals(name + " " + key + " (" + run[1] + ")", ref.get(key), got.get(key.substring(kind.length() + 1)));
        compared++;
      }
      assertTrue(compared >= 6, name + " " + kind + ": compared " + compared + " blocks");
    }
    // gradients: the Newton step with alpha = 1 is -gradient, written in PyTorch's shapes
    Path step = dir.resolve("step.npz");
    hbp(concat(common, "--curvature", "ggn", "--solve", "1", "--out", step.toString(), "--cg-tol", "0"));
    assertStepIsMinusGradient(ref, Npz.read(step));
  }

  /**
   * Runs crosscheck.py for the net {@code name} (fc, cnn or resnet) into dir (its params.npz,
   * batch.npz and the autograd reference ref.npz) and writes the net's DSL there; returns its path.
   */
  static Path crossCheckNet(String name, Path dir) throws Exception {
    runScript("crosscheck.py", name, dir.toString());
    Path net = dir.resolve(name + ".hbp");
    Files.writeString(net, switch (name) {
      case "fc" -> FC;
      case "cnn" -> CNN;
      default -> RESNET;
    });
    return net;
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
    runScript("batch_pch.py", name, dir.toString());
    Path net = dir.resolve(name + ".hbp");
    Files.writeString(net, name.equals("fc") ? FC : name.equals("skip") ? SKIP : RESNET);
    Map<String, NdArray> ref = Npz.read(dir.resolve("ref.npz"));
    int compared = 0;
    for (String kind : new String[] {"abs", "clip"})
      for (String strategy : new String[] {"kfra", "bda"}) {
        Path outFile = dir.resolve(kind + "-" + strategy + ".npz");
        hbp("curvature", "--net", net.toString(), "--params", dir.resolve("params.npz").toString(), "--batch", dir.resolve("batch.npz").toString(),
            "--strategy", strategy, "--curvature", "pch-" + kind, "--dense", outFile.toString());
        Map<String, NdArray> got = Npz.read(outFile);
        String prefix = "pch." + kind + "." + strategy + ".";
        double largestOrderGap = 0;
        for (String key : ref.keySet()) {
          if (!key.startsWith(prefix)) continue;
          String torchName = key.substring(prefix.length());
          NdArray r = ref.get(key), other = ref.get("persample." + kind + "." + strategy + "." + torchName);
          assertBlockEquals(name + " " + key, r, got.get(torchName));
          largestOrderGap = Math.max(largestOrderGap, maxAbsDifference(other, r) / Math.max(1, scale(r)));
          compared++;
        }
        // the per-sample order is far outside the tolerance: this net tells the two orders apart
        assertTrue(largestOrderGap > 1e-3, name + " " + kind + " " + strategy + ": the orders differ by only " + largestOrderGap);
      }
    assertTrue(compared >= 4 * 6, "compared " + compared + " blocks");
  }
}
