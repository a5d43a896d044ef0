package org.hbp.network;

import static org.hbp.network.TorchReference.assertBlockEquals;
import static org.hbp.network.TorchReference.runScript;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.hbp.UserError;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.io.NdArray;
import org.hbp.io.Npz;
import org.hbp.calculus.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Whole-network curvature products ({@link Pass#networkProduct}) against independent oracles:
 * PyTorch autograd in float64 (src/test/resources/torch/network_products.py: the Hessian by double
 * backward, the GGN as J'(H_z(J v)) by jvp, hvp and vjp) to 1e-10, off-diagonal blocks included;
 * the diagonal blocks against {@link DenseReference} (written from the paper); and symmetry.
 */
class NetworkProductsTest {
  static final Backend BE = NetworkCurvatureTest.BE;

  @TempDir Path dir;

  static final String RELU = String.join("\n",
      "network relu {",
      "  input x: vector(5);",
      "  linear(m = 4);",
      "  relu;",
      "  linear(m = 3);",
      "  loss squareloss;",
      "}");

  static String source(String name) {
    return switch (name) {
      case "fc" -> TorchCrossCheckTest.FC;
      case "relu" -> RELU;
      case "resnet" -> TorchCrossCheckTest.RESNET;
      case "skip" -> TorchCrossCheckTest.SKIP;
      default -> TorchCrossCheckTest.CNN;
    };
  }

  /** A net of the cross-checks with network_products.py's parameters, batch, directions and autograd's products. */
  record Problem(Network net, TorchLayout layout, Pass pass, Map<String, Batch> directions, Map<String, NdArray> ref) {}

  /** Runs network_products.py for net {@code name} into {@code dir} and loads what it wrote. */
  static Problem problem(String name, Path dir) throws Exception {
    return problem("network_products.py", name, dir, "ref.npz");
  }

  /**
   * Runs {@code script} (network_products.py, or a script that runs it and adds references) for net
   * {@code name} into {@code dir}, with the script's further arguments {@code more}; hbp's pass on the
   * same problem, with the references of {@code reference}.
   */
  static Problem problem(String script, String name, Path dir, String reference, String... more) throws Exception {
    runScript(script, TorchReference.concat(new String[] {name, dir.toString()}, more));
    Path file = dir.resolve(name + ".hbp");
    Files.writeString(file, source(name));
    Network net = new Network(NetworkResolver.load(file, null, ModuleLibrary.builtInSpecDirs()), Network.builtIn(), BE);
    TorchLayout layout = new TorchLayout(net);
    Map<String, Batch> params = layout.parametersOnly(Npz.read(dir.resolve("params.npz")), "params.npz");
    Map<String, NdArray> batch = Npz.read(dir.resolve("batch.npz"));
    Batch x = layout.inputs(batch.get("x"), "batch.npz");
    Batch y = layout.targets(batch.get("y"), x.samples(), "batch.npz");
    Map<String, Batch> v = layout.directions(Npz.read(dir.resolve("dirs.npz")), "dirs.npz");
    return new Problem(net, layout, net.run(params, x, y), v, Npz.read(dir.resolve(reference)));
  }

  /** Every kind that autograd defines for the whole network, on the nets of the cross-checks. */
  @ParameterizedTest
  @ValueSource(strings = {"fc", "relu", "resnet", "skip", "cnn"})
  void agreesWithAutograd(String name) throws Exception {
    Problem pr = problem(name, dir);
    Network net = pr.net();
    TorchLayout layout = pr.layout();
    Map<String, Batch> v = pr.directions();
    Map<String, NdArray> ref = pr.ref();
    Pass pass = pr.pass();
    Map<String, String> kinds = new LinkedHashMap<>();
    kinds.put("ggnvp", "ggn");
    kinds.put("hvp", "hessian");
    int compared = 0;
    for (Map.Entry<String, String> k : kinds.entrySet()) {
      Map<String, Batch> got = pass.networkProduct(CurvatureKind.parse(k.getValue()), v);
      for (String key : ref.keySet()) {
        if (!key.startsWith(k.getKey() + ".")) continue;
        String ours = TorchReference.ours(key.substring(k.getKey().length() + 1));
        assertBlockEquals(name + " " + key, ref.get(key), layout.toTorch(ours, got.get(ours), false));
        compared++;
      }
    }
    assertEquals(2 * net.parameterNames().size(), compared);
  }

  /** {@code hbp curvature --scope net --vectors}: the same products from the command line, in PyTorch's names and shapes. */
  @Test
  void theCommandLineWritesWholeNetworkProducts() throws Exception {
    runScript("network_products.py", "resnet", dir.toString());
    Path file = dir.resolve("resnet.hbp");
    Files.writeString(file, source("resnet"));
    Map<String, NdArray> ref = Npz.read(dir.resolve("ref.npz"));
    String[] common = {"curvature", "--net", file.toString(), "--params", dir.resolve("params.npz").toString(), "--batch",
        dir.resolve("batch.npz").toString(), "--scope", "net"};
    for (String kind : List.of("hessian", "ggn")) {
      Path out = dir.resolve(kind + ".npz");
      TorchReference.hbp(TorchReference.concat(common, "--curvature", kind, "--vectors", dir.resolve("dirs.npz").toString(), "--out", out.toString()));
      Map<String, NdArray> got = Npz.read(out);
      String prefix = kind.equals("hessian") ? "hvp." : "ggnvp.";
      int compared = 0;
      for (String key : ref.keySet())
        if (key.startsWith(prefix)) {
          assertBlockEquals("cli " + key, ref.get(key), got.get(key.substring(prefix.length())));
          compared++;
        }
      assertEquals(got.size(), compared);
    }
    java.io.StringWriter err = new java.io.StringWriter();
    int code = org.hbp.cli.Main.execute(TorchReference.concat(common, "--dense", dir.resolve("d.npz").toString()),
        new java.io.PrintWriter(new java.io.StringWriter(), true), new java.io.PrintWriter(err, true));
    assertTrue(code != 0 && err.toString().contains("--scope net computes products"), err.toString());
  }

  /** The diagonal blocks of the whole-network product are the paper's blocks (exact strategy), from the dense reference. */
  @ParameterizedTest
  @EnumSource(CurvatureKind.class)
  void diagonalBlocksAreThePapersBlocks(CurvatureKind kind) {
    for (String name : List.of("fc", "relu", "residual", "skip", "cnn")) {
      NetworkCurvatureTest.Setup s = new NetworkCurvatureTest.Setup(NetworkCurvatureTest.net(name), 3, 11);
      Pass pass = s.pass();
      Map<String, DMatrixRMaj> ref = s.reference().blocks(kind, Strategy.EXACT);
      for (String p : s.net.parameterNames()) {
        int[] shape = s.net.parameterShape(p);
        int numel = shape[0] * shape[1];
        Batch eye = BE.reshape(BE.columnsAsDirections(BE.eye(numel)), shape[0], shape[1]);
        Batch cols = pass.networkProduct(kind, Map.of(p, eye)).get(p);
        Batch dense = BE.directionsAsColumns(BE.reshape(cols, numel, 1), numel);
        DMatrixRMaj got = new Tensor(new int[] {numel, numel}, BE.toArray(dense)).toDMatrix();
        double e = NetworkCurvatureTest.relError(got, ref.get(p));
        assertTrue(e < NetworkCurvatureTest.TOL, name + " " + kind + " block " + p + ": relative error " + e);
      }
    }
  }

  /** {@code v1'(C v2) = v2'(C v1)} for random directions of all parameters at once. */
  @ParameterizedTest
  @EnumSource(CurvatureKind.class)
  void productsAreSymmetric(CurvatureKind kind) {
    for (String name : List.of("fc", "residual", "skip", "cnn")) {
      NetworkCurvatureTest.Setup s = new NetworkCurvatureTest.Setup(NetworkCurvatureTest.net(name), 3, 5, 2);
      Pass pass = s.pass();
      Random rng = new Random(3);
      Map<String, Batch> v1 = random(s.net, rng), v2 = random(s.net, rng);
      double a = dot(v1, pass.networkProduct(kind, v2)), b = dot(v2, pass.networkProduct(kind, v1));
      assertTrue(Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(a)), name + " " + kind + ": " + a + " vs " + b);
      assertTrue(Math.abs(a) > 1e-6, name + " " + kind + ": a product that vanishes proves nothing: " + a);
    }
  }

  @Test
  void badDirectionsAreRefusedByName() {
    NetworkCurvatureTest.Setup s = new NetworkCurvatureTest.Setup(NetworkCurvatureTest.fc(), 3, 5);
    Pass pass = s.pass();
    UserError unknown = assertThrows(UserError.class, () -> pass.networkProduct(CurvatureKind.GGN, Map.of("9.W", BE.fill(1, 1, 1))));
    assertTrue(unknown.getMessage().contains("'9.W'"), unknown.getMessage());
    UserError shape = assertThrows(UserError.class, () -> pass.networkProduct(CurvatureKind.GGN, Map.of("0.W", BE.fill(2, 2, 1))));
    assertTrue(shape.getMessage().contains("'0.W'") && shape.getMessage().contains("3x4"), shape.getMessage());
    assertThrows(UserError.class, () -> pass.networkProduct(CurvatureKind.GGN, Map.of()));
  }

  /** An operator without mixed residuals: the Hessian refuses, naming the layer; the GGN does not need them. */
  @Test
  void theHessianRefusesAnOperatorWithoutMixedResiduals() {
    Network.OperatorFactory withoutMixed = OperatorOverrides.answering(java.util.Set.of("tanh", "linear"), "hasMixedResiduals", false);
    NetworkCurvatureTest.Setup s = new NetworkCurvatureTest.Setup(NetworkCurvatureTest.fc(), withoutMixed, 3, 5, 1);
    Pass pass = s.pass();
    Map<String, Batch> v = random(s.net, new Random(1));
    UserError e = assertThrows(UserError.class, () -> pass.networkProduct(CurvatureKind.HESSIAN, v));
    assertTrue(e.getMessage().contains("layer 0 (linear)") && e.getMessage().contains("mixed"), e.getMessage());
    NetworkCurvatureTest.Setup plain = new NetworkCurvatureTest.Setup(NetworkCurvatureTest.fc(), 3, 5, 1);
    Map<String, Batch> expected = plain.pass().networkProduct(CurvatureKind.GGN, v), got = pass.networkProduct(CurvatureKind.GGN, v);
    for (String p : expected.keySet()) org.junit.jupiter.api.Assertions.assertArrayEquals(BE.toArray(expected.get(p)), BE.toArray(got.get(p)), 0, p);
  }

  private static Map<String, Batch> random(Network net, Random rng) {
    Map<String, Batch> out = new LinkedHashMap<>();
    for (String p : net.parameterNames()) {
      int[] s = net.parameterShape(p);
      double[] d = new double[s[0] * s[1]];
      for (int i = 0; i < d.length; i++) d[i] = rng.nextGaussian();
      out.put(p, BE.fromArray(1, 1, s[0], s[1], d));
    }
    return out;
  }

  private static double dot(Map<String, Batch> a, Map<String, Batch> b) {
    double s = 0;
    for (String p : a.keySet()) {
      double[] x = BE.toArray(a.get(p)), y = BE.toArray(b.get(p));
      assertEquals(x.length, y.length, p);
      for (int i = 0; i < x.length; i++) s += x[i] * y[i];
    }
    return s;
  }
}
