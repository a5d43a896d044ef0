package org.hbp.network;

import static org.hbp.network.TorchReference.assertBlockEquals;
import static org.hbp.network.TorchReference.hbp;
import static org.hbp.network.TorchReference.ours;
import static org.hbp.network.TorchReference.runScript;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.hbp.UserError;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.backend.cpu.CpuBackend;
import org.hbp.io.NdArray;
import org.hbp.io.Npz;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * KFLR, KFAC and EKFAC (float64) against their definitions computed in PyTorch
 * (src/test/resources/torch/kfac_reference.py): A from the layers' inputs (a convolution's
 * torch.nn.functional.unfold patches), G from autograd's output gradients of the columns of a
 * loss-Hessian factor that the script takes from torch.linalg.eigh, EKFAC's scalings from
 * autograd's per-sample, per-column weight gradients; the damped inverse products against EJML
 * dense solves; the per-sample gradients against a loop of autograd over the samples.
 */
class KfacTorchCheckTest {
  @TempDir Path dir;

  static final Map<String, String> NETS = Map.of(
      "fc", String.join("\n", "network fc {", "  input x: vector(5);", "  linear(m = 4);", "  sigmoid;", "  linear(m = 4);", "  tanh;",
          "  linear(m = 3);", "  loss crossentropy;", "}"),
      "fcmse", String.join("\n", "network fcmse {", "  input x: vector(5);", "  linear(m = 4);", "  sigmoid;", "  linear(m = 4);", "  tanh;",
          "  linear(m = 3);", "  loss mse;", "}"),
      "cnn", String.join("\n", "network cnn {", "  input x: tensor(2, 6, 6);", "  conv2d(cout = 3, k = 3, s = 1, p = 1, d = 1);", "  sigmoid;",
          "  conv2d(cout = 2, k = 3, s = 2, p = 1, d = 1);", "  tanh;", "  flatten;", "  linear(m = 3);", "  loss crossentropy;", "}"),
      "resnet", String.join("\n", "network resnet {", "  input x: vector(5);", "  linear(m = 4);", "  tanh;", "  residual {", "    linear(m = 4);",
          "    sigmoid;", "    linear(m = 4);", "  }", "  linear(m = 3);", "  loss crossentropy;", "}"));

  /** The reference of a net, and the net's file. */
  private Map<String, NdArray> reference(String name) throws Exception {
    runScript("kfac_reference.py", name, dir.toString());
    Files.writeString(dir.resolve(name + ".hbp"), NETS.get(name));
    return Npz.read(dir.resolve("ref.npz"));
  }

  /** The dense blocks of {@code hbp curvature --strategy S}, by hbp's parameter names. */
  private Map<String, NdArray> dense(String name, String strategy) {
    Path out = dir.resolve(strategy + ".npz");
    hbp("curvature", "--net", dir.resolve(name + ".hbp").toString(), "--params", dir.resolve("params.npz").toString(), "--batch",
        dir.resolve("batch.npz").toString(), "--strategy", strategy, "--curvature", "ggn", "--dense", out.toString());
    try {
      return Npz.read(out);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /** Compares every block {@code <strategy>.<torch name>} of the reference; returns how many. */
  private static int compareBlocks(String name, String strategy, Map<String, NdArray> ref, Map<String, NdArray> got) {
    int compared = 0;
    for (String key : ref.keySet()) {
      if (!key.startsWith(strategy + ".")) continue;
      String param = ours(key.substring(strategy.length() + 1));
      assertTrue(got.containsKey(param), name + ": no block " + param + " in " + got.keySet());
      assertBlockEquals(name + " " + key, ref.get(key), got.get(param));
      compared++;
    }
    return compared;
  }

  @ParameterizedTest
  @ValueSource(strings = {"fc", "fcmse", "cnn", "resnet"})
  void kflrAndEkfacEqualTheirDefinitionsInPyTorch(String name) throws Exception {
    Map<String, NdArray> ref = reference(name);
    int layers = name.equals("resnet") ? 4 : 3;
    assertEquals(2 * layers, compareBlocks(name, "kflr", ref, dense(name, "kflr")));
    assertEquals(2 * layers, compareBlocks(name, "ekfac", ref, dense(name, "ekfac")));
  }
}
