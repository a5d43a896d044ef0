package org.hbp.network;

import static org.hbp.network.TorchReference.assertBlockEquals;
import static org.hbp.network.TorchReference.assertStepIsMinusGradient;
import static org.hbp.network.TorchReference.concat;
import static org.hbp.network.TorchReference.hbp;
import static org.hbp.network.TorchReference.loss;
import static org.hbp.network.TorchReference.runScript;
import static org.hbp.network.TorchReference.scale;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
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

  @Test
  void mseIsPyTorchsMeanSquaredError() throws Exception {
    runScript("mse_check.py", dir.toString());
    Map<String, NdArray> ref = Npz.read(dir.resolve("ref.npz"));
    Path mse = dir.resolve("mse.hbp"), square = dir.resolve("square.hbp");
    Files.writeString(mse, String.format(NET, "mse"));
    Files.writeString(square, String.format(NET, "squareloss"));
    String[] data = {"--params", dir.resolve("params.npz").toString(), "--batch", dir.resolve("batch.npz").toString(), "--strategy", "exact"};

    for (String kind : new String[] {"hessian", "ggn"}) {
      Path outFile = dir.resolve(kind + ".npz");
      String out = hbp(concat(concat(new String[] {"curvature", "--net", mse.toString()}, data), "--curvature", kind, "--dense", outFile.toString()));
      assertEquals(ref.get("loss").data()[0], loss(out), 1e-12, "loss");
      Map<String, NdArray> got = Npz.read(outFile);
      int blocks = 0;
      for (String key : ref.keySet()) {
        if (!key.startsWith(kind + ".")) continue;
        blocks++;
        NdArray r = ref.get(key);
        assertTrue(scale(r) > 0, key + " is zero: nothing compared");
        assertBlockEquals(key, r, got.get(key.substring(kind.length() + 1)));
      }
      assertEquals(4, blocks, kind + " blocks compared");
    }

    // gradients: the Newton step with alpha = 1 is -gradient
    Path step = dir.resolve("step.npz");
    hbp(concat(concat(new String[] {"curvature", "--net", mse.toString()}, data), "--solve", "1", "--out", step.toString(), "--cg-tol", "0"));
    assertStepIsMinusGradient(ref, Npz.read(step));

    // squareloss is Table 1's (y - x)'(y - x), averaged over the samples only: C = 3 times mse
    String sq = hbp(concat(new String[] {"curvature", "--net", square.toString()}, concat(data, "--dense", dir.resolve("sq.npz").toString())));
    assertEquals(ref.get("loss_sum_over_n").data()[0], loss(sq), 1e-12, "squareloss = MSELoss(reduction='sum') / N");
    assertEquals(3 * ref.get("loss").data()[0], ref.get("loss_sum_over_n").data()[0], 1e-12, "the reference itself: sum / N = C * mean");
  }

  @Test
  void mseHessianIsProvenPsd() {
    LossRule d = ModuleRules.lossRules(Dsl.parseFile(Path.of("modules-spec/mse.hbp")).modules().get(0)).get(0);
    assertEquals(Boolean.TRUE, d.psd().value(), d.psd().reason());
  }
}
