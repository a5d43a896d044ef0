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
import org.hbp.io.NdArray;
import org.hbp.io.Npz;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The module {@code gelu} (modules-spec/gelu.hbp, the exact GELU written with the built-in erf) is
 * PyTorch's {@code nn.GELU()}: on a small net written in PyTorch (src/test/resources/torch/
 * gelu_check.py, float64), hbp's loss, gradients, exact Hessian blocks (which hold GELU's second
 * derivative through the residual term) and GGN blocks equal autograd's. Needs python3 with torch;
 * a missing torch is a failure, not a skip.
 */
class GeluTorchCheckTest {
  @TempDir Path dir;

  static final String NET = "network g {\n  input x: vector(5);\n  linear(m = 4);\n  gelu;\n  linear(m = 3);\n  loss crossentropy;\n}\n";

  @Test
  void geluIsPyTorchsExactGelu() throws Exception {
    runScript("gelu_check.py", dir.toString());
    Map<String, NdArray> ref = Npz.read(dir.resolve("ref.npz"));
    Path net = dir.resolve("gelu.hbp");
    Files.writeString(net, NET);
    String[] data = {"--params", dir.resolve("params.npz").toString(), "--batch", dir.resolve("batch.npz").toString(), "--strategy", "exact"};

    for (String kind : new String[] {"hessian", "ggn"}) {
      Path outFile = dir.resolve(kind + ".npz");
      String out = hbp(concat(concat(new String[] {"curvature", "--net", net.toString()}, data), "--curvature", kind, "--dense", outFile.toString()));
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

    Path step = dir.resolve("step.npz");
    hbp(concat(concat(new String[] {"curvature", "--net", net.toString()}, data), "--solve", "1", "--out", step.toString(), "--cg-tol", "0"));
    assertStepIsMinusGradient(ref, Npz.read(step));
  }
}
