package org.hbp.network;

import static org.hbp.network.TorchReference.assertBlockEquals;
import static org.hbp.network.TorchReference.hbp;
import static org.hbp.network.TorchReference.ours;
import static org.hbp.network.TorchReference.runScript;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.backend.cpu.CpuBackend;
import org.hbp.io.NdArray;
import org.hbp.io.Npz;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The column-propagating quantities on graph networks against PyTorch in float64
 * (src/test/resources/torch/graph_kfac.py, the nets written as nn.Modules, each quantity from its
 * definition with autograd), to 1e-10: the exact GGN diagonal ({@code --strategy diag-ggn}) is the
 * diagonal of autograd's GGN block; KFLR and EKFAC blocks are their per-layer definitions with the
 * vectors at each layer's output taken by autograd through the graph; per-sample gradients
 * ({@link SampleGradients}, {@code hbp gradients}) are autograd's, one sample at a time. Nets:
 * {@code skipcat} (a branch, a concat and a skip connection), {@code pool} (convolutions, activations
 * and max-pools: the diagonal and per-sample gradients) and {@code tied} (one linear layer used
 * twice: the diagonal holds the cross terms between uses, the per-sample gradient sums them).
 */
class GraphKfacTorchCheckTest {
  @TempDir Path dir;

  static final String SKIPCAT = String.join("\n",
      "network skipcat {",
      "  input x: vector(5);",
      "  h = linear(m = 4)(x);",
      "  a = tanh(h);",
      "  g = linear(m = 3)(a);",
      "  b = sigmoid(g);",
      "  c = concat(a, b);",
      "  k = linear(m = 4)(c);",
      "  s = k + h;",
      "  t = tanh(s);",
      "  y = linear(m = 3)(t);",
      "  loss crossentropy(y);",
      "}");

  private static String source(String name) {
    return switch (name) {
      case "skipcat" -> SKIPCAT;
      case "pool" -> GraphNetworkTorchCheckTest.POOL;
      default -> GraphNetworkTorchCheckTest.TIED;
    };
  }

  private Map<String, NdArray> reference(String name) throws Exception {
    runScript("graph_kfac.py", name, dir.toString());
    Files.writeString(dir.resolve(name + ".hbp"), source(name));
    return Npz.read(dir.resolve("ref.npz"));
  }

  /** Compares every block {@code <prefix>.<torch name>} of the reference with hbp's dense blocks of {@code --strategy strategy}; returns how many. */
  private int compare(String name, String strategy, String prefix, Map<String, NdArray> ref) throws Exception {
    Path out = dir.resolve(strategy + ".npz");
    hbp("curvature", "--net", dir.resolve(name + ".hbp").toString(), "--params", dir.resolve("params.npz").toString(), "--batch",
        dir.resolve("batch.npz").toString(), "--strategy", strategy, "--curvature", "ggn", "--dense", out.toString());
    Map<String, NdArray> got = Npz.read(out);
    int compared = 0;
    for (String key : ref.keySet()) {
      if (!key.startsWith(prefix + ".")) continue;
      String param = key.substring(prefix.length() + 1); // the output names the parameters as --params does: PyTorch's
      assertTrue(got.containsKey(param), name + ": no block " + param + " in " + got.keySet());
      assertBlockEquals(name + " " + strategy + " " + key, ref.get(key), got.get(param));
      compared++;
    }
    assertEquals(got.size(), compared, strategy + ": every block compared");
    return compared;
  }

  @ParameterizedTest
  @ValueSource(strings = {"skipcat", "tied", "pool"})
  void ggnDiagonalIsTheDiagonalOfAutogradsGgn(String name) throws Exception {
    Map<String, NdArray> ref = reference(name);
    assertEquals(name.equals("skipcat") ? 8 : 6, compare(name, "diag-ggn", "diag", ref));
  }

  @ParameterizedTest
  @ValueSource(strings = {"skipcat"})
  void kflrAndEkfacEqualTheirDefinitionsThroughTheGraph(String name) throws Exception {
    Map<String, NdArray> ref = reference(name);
    assertEquals(8, compare(name, "kflr", "kflr", ref));
    assertEquals(8, compare(name, "ekfac", "ekfac", ref));
  }

  @ParameterizedTest
  @ValueSource(strings = {"skipcat", "tied", "pool"})
  void perSampleGradientsEqualAutogradsLoop(String name) throws Exception {
    Map<String, NdArray> ref = reference(name);
    Backend be = new CpuBackend();
    Network net = new Network(NetworkResolver.load(dir.resolve(name + ".hbp"), null, List.of(Path.of("modules-spec"))), Network.builtIn(), be);
    TorchLayout layout = new TorchLayout(net);
    Map<String, Batch> p = layout.parametersOnly(Npz.read(dir.resolve("params.npz")), "params.npz");
    Map<String, NdArray> b = Npz.read(dir.resolve("batch.npz"));
    Batch x = layout.inputs(b.get("x"), "batch.npz");
    Pass pass = net.run(p, x, layout.targets(b.get("y"), x.samples(), "batch.npz"));
    Path out = dir.resolve("grads");
    hbp("gradients", "--net", dir.resolve(name + ".hbp").toString(), "--params", dir.resolve("params.npz").toString(), "--batch",
        dir.resolve("batch.npz").toString(), "--out", out.toString());
    Map<String, NdArray> batchGrad = Npz.read(out.resolve("batch_grad.npz"));
    int n = pass.samples(), checked = 0;
    for (String key : ref.keySet()) {
      if (!key.startsWith("psg.")) continue;
      String torch = key.substring(4), param = ours(torch);
      NdArray psg = ref.get(key);
      assertBlockEquals(name + " per-sample " + torch, psg, layout.toTorch(param, SampleGradients.perSample(pass, param), false));
      double[] scaled = psg.data();
      for (int i = 0; i < scaled.length; i++) scaled[i] /= n;
      assertBlockEquals(name + " batch_grad " + torch, NdArray.of(scaled, psg.shape()), batchGrad.get(torch));
      checked++;
    }
    assertEquals(name.equals("skipcat") ? 8 : 6, checked);
  }
}
