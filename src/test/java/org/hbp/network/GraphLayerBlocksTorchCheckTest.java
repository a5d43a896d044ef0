package org.hbp.network;

import static org.hbp.network.TorchReference.assertBlockEquals;
import static org.hbp.network.TorchReference.concat;
import static org.hbp.network.TorchReference.hbp;
import static org.hbp.network.TorchReference.runScript;
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
 * Per-layer joint blocks on graph networks ({@code hbp curvature --blocks layer}, {@link
 * GraphProducts#joint}) against PyTorch autograd in float64 (src/test/resources/torch/graph_layer_blocks.py,
 * graph_networks.py's nets): each module's dense joint Hessian and GGN block over its weight and
 * bias to 1e-10, the tied module's once, summing both uses and their cross terms; and the damped
 * Newton step of eq. 10 with each joint block, CG run to convergence, against
 * {@code torch.linalg.solve} where the damped block is positive definite (CG's premise).
 */
class GraphLayerBlocksTorchCheckTest {
  @TempDir Path dir;

  static final double ALPHA = 0.1;

  @ParameterizedTest
  @ValueSource(strings = {"add", "concat", "product", "tied", "inception"})
  void jointBlocksAndStepsAgreeWithAutograd(String name) throws Exception {
    runScript("graph_layer_blocks.py", name, dir.toString(), Double.toString(ALPHA));
    Path net = dir.resolve(name + ".hbp");
    Files.writeString(net, GraphNetworkTorchCheckTest.source(name));
    Map<String, NdArray> ref = Npz.read(dir.resolve("layer_ref.npz"));
    String[] common = {"curvature", "--net", net.toString(), "--params", dir.resolve("params.npz").toString(), "--batch",
        dir.resolve("batch.npz").toString(), "--strategy", "exact", "--blocks", "layer"};
    int blocks = 0, steps = 0;
    for (String[] run : new String[][] {{"hessian", "network"}, {"ggn", "network"}, {"ggn", "factored"}}) {
      String kind = run[0];
      Path dense = dir.resolve(kind + "-" + run[1] + "-dense.npz");
      hbp(concat(common, "--curvature", kind, "--ggn-route", run[1], "--dense", dense.toString()));
      Map<String, NdArray> got = Npz.read(dense);
      int modules = 0;
      for (String key : ref.keySet()) if (key.startsWith(kind + ".")) modules++;
      assertEquals(modules, got.size(), kind + ": one joint block per module instance, " + got.keySet());
      for (Map.Entry<String, NdArray> e : got.entrySet()) {
        String module = e.getKey().split(",")[0].replaceAll("\\.[^.]*$", "");
        NdArray r = ref.get(kind + "." + module);
        assertTrue(r != null, kind + " " + e.getKey() + " in " + ref.keySet());
        assertBlockEquals(name + " " + kind + " " + e.getKey() + " (" + run[1] + ")", r, e.getValue());
        blocks++;
      }
      Path step = dir.resolve(kind + "-" + run[1] + "-step.npz");
      hbp(concat(common, "--curvature", kind, "--ggn-route", run[1], "--solve", Double.toString(ALPHA), "--cg-tol", "1e-14", "--cg-atol", "0", "--cg-maxiter", "1000",
          "--out", step.toString()));
      Map<String, NdArray> solved = Npz.read(step);
      for (String key : ref.keySet()) {
        if (!key.startsWith("step." + kind + ".")) continue;
        String module = key.substring(("step." + kind + ".").length());
        if (!(ref.get("mineig." + kind + "." + module).data()[0] > 0)) continue; // not positive definite: no premise of CG
        double[] w = solved.get(module + ".weight").data(), b = solved.get(module + ".bias").data(); // named as --params names them
        double[] stacked = new double[w.length + b.length];
        System.arraycopy(w, 0, stacked, 0, w.length);
        System.arraycopy(b, 0, stacked, w.length, b.length);
        assertBlockEquals(name + " " + key, ref.get(key), NdArray.of(stacked, stacked.length));
        steps++;
      }
    }
    assertTrue(blocks >= 6 && steps >= 3, blocks + " blocks, " + steps + " steps compared");
  }
}
