package org.hbp.cli;

import static org.hbp.cli.CliRun.hbp;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.hbp.backend.cpu.CpuBackend;
import org.hbp.backend.opencl.OpenClTestSupport;
import org.hbp.io.DType;
import org.hbp.io.NdArray;
import org.hbp.io.Npz;
import org.hbp.network.ModuleLibrary;
import org.hbp.network.Network;
import org.hbp.network.NetworkResolver;
import org.hbp.network.TorchLayout;
import org.hbp.train.Checkpoint;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code hbp curvature} end to end on small nets written here (numbers checked by NetworkCurvatureTest and TorchCrossCheckTest). */
class CurvatureCliTest {
  @TempDir Path dir;
  Path net, params, batch;

  static NdArray random(Random rng, DType t, int... shape) {
    int n = 1;
    for (int d : shape) n *= d;
    double[] d = new double[n];
    for (int i = 0; i < n; i++) d[i] = rng.nextGaussian() * 0.5;
    return NdArray.of(d, t, shape);
  }

  @BeforeEach
  void setUp() throws Exception {
    net = dir.resolve("mlp.hbp");
    Files.writeString(net, "network mlp {\n  input x: vector(5);\n  linear(m = 4);\n  sigmoid;\n  residual {\n    linear(m = 4);\n    tanh;\n  }\n"
        + "  linear(m = 3);\n  loss crossentropy;\n}\n");
    Random rng = new Random(1);
    Map<String, NdArray> p = new LinkedHashMap<>();
    p.put("0.weight", random(rng, DType.FLOAT32, 4, 5));
    p.put("0.bias", random(rng, DType.FLOAT32, 4));
    p.put("2.0.W", random(rng, DType.FLOAT64, 4, 4));
    p.put("2.0.b", random(rng, DType.FLOAT64, 4));
    p.put("3.weight", random(rng, DType.FLOAT64, 3, 4));
    p.put("3.bias", random(rng, DType.FLOAT64, 3));
    params = dir.resolve("params.npz");
    Npz.write(params, p);
    Map<String, NdArray> b = new LinkedHashMap<>();
    b.put("x", random(rng, DType.FLOAT32, 6, 5));
    b.put("y", NdArray.of(new double[] {0, 2, 1, 1, 0, 2}, DType.INT64, 6));
    batch = dir.resolve("batch.npz");
    Npz.write(batch, b);
  }

  /** Directions for every parameter of the mlp, V of each, under hbp's and PyTorch's names. */
  static Map<String, NdArray> directions(Random rng, int count) {
    Map<String, NdArray> v = new LinkedHashMap<>();
    v.put("0.W", random(rng, DType.FLOAT64, count, 4, 5));
    v.put("0.bias", random(rng, DType.FLOAT32, count, 4));
    v.put("2.0.weight", random(rng, DType.FLOAT64, count, 4, 4));
    v.put("2.0.b", random(rng, DType.FLOAT32, count, 4));
    v.put("3.W", random(rng, DType.FLOAT64, count, 3, 4));
    v.put("3.b", random(rng, DType.FLOAT64, count, 3));
    return v;
  }

  /**
   * A network with a large first layer (2000 -> 200, 400 200 entries) and a small last one (200 -> 3), its parameters and a
   * batch of 2, in dir: {net, params, batch}. For the memory estimates of one small block's work.
   */
  static Path[] wideNetwork(Path dir) throws Exception {
    Path wide = dir.resolve("wide.hbp");
    Files.writeString(wide, "network wide {\n  input x: vector(2000);\n  linear(m = 200);\n  sigmoid;\n  linear(m = 3);\n  loss crossentropy;\n}\n");
    Random rng = new Random(4);
    Map<String, NdArray> p = new LinkedHashMap<>();
    p.put("0.weight", random(rng, DType.FLOAT64, 200, 2000));
    p.put("0.bias", random(rng, DType.FLOAT64, 200));
    p.put("2.weight", random(rng, DType.FLOAT64, 3, 200));
    p.put("2.bias", random(rng, DType.FLOAT64, 3));
    Path wp = dir.resolve("wide-params.npz"), wb = dir.resolve("wide-batch.npz");
    Npz.write(wp, p);
    Npz.write(wb, Map.of("x", random(rng, DType.FLOAT64, 2, 2000), "y", NdArray.of(new double[] {0, 2}, DType.INT64, 2)));
    return new Path[] {wide, wp, wb};
  }

  private String[] base(String... more) {
    String[] a = {"curvature", "--net", net.toString(), "--params", params.toString(), "--batch", batch.toString()};
    String[] out = java.util.Arrays.copyOf(a, a.length + more.length);
    System.arraycopy(more, 0, out, a.length, more.length);
    return out;
  }

  /** The other spelling of a linear layer's parameter: {@code 0.W} for {@code 0.weight} and back, {@code 0.b} for {@code 0.bias}. */
  private static String otherSpelling(String name) {
    if (name.endsWith(".weight")) return name.substring(0, name.length() - 7) + ".W";
    if (name.endsWith(".bias")) return name.substring(0, name.length() - 5) + ".b";
    if (name.endsWith(".W")) return name.substring(0, name.length() - 2) + ".weight";
    return name.substring(0, name.length() - 2) + ".bias";
  }

  @Test
  void productsEqualTheDenseBlockTimesTheDirections() throws Exception {
    for (String strategy : new String[] {"exact", "kfra", "bda"}) {
      Path dense = dir.resolve("dense-" + strategy + ".npz"), vec = dir.resolve("v.npz"), out = dir.resolve("out-" + strategy + ".npz");
      CliRun d = hbp(base("--curvature", "pch-clip", "--strategy", strategy, "--dense", dense.toString()));
      d.assertExit(0);
      assertTrue(d.out().contains("curvature pch-clip, strategy " + strategy), d.out());
      Random rng = new Random(2);
      Map<String, NdArray> v = directions(rng, 3);
      Npz.write(vec, v);
      CliRun r = hbp(base("--curvature", "pch-clip", "--strategy", strategy, "--vectors", vec.toString(), "--out", out.toString()));
      r.assertExit(0);
      Map<String, NdArray> got = Npz.read(out), blocks = Npz.read(dense);
      assertEquals(v.keySet(), got.keySet(), "the products under the names of V.npz, PyTorch's included");
      for (String name : got.keySet()) {
        // the products are named as V.npz names the parameters, the blocks as params.npz does (the two differ for 2.0.W)
        NdArray g = got.get(name), b = blocks.containsKey(name) ? blocks.get(name) : blocks.get(otherSpelling(name)), dirs = v.get(name);
        assertEquals(java.util.Arrays.toString(dirs.shape()), java.util.Arrays.toString(g.shape()), name);
        int n = b.dim(0), count = dirs.dim(0);
        for (int k = 0; k < count; k++)
          for (int i = 0; i < n; i++) {
            double s = 0;
            for (int j = 0; j < n; j++) s += b.getFlat(i * n + j) * dirs.getFlat(k * n + j);
            assertEquals(s, g.getFlat(k * n + i), 1e-10, strategy + " " + name + " direction " + k + " entry " + i);
          }
      }
    }
  }

  /**
   * Directions for some parameters multiply their blocks only: the products of those (the dense block times the directions),
   * under the names given, and no other work (one product line each); --scope net and --blocks layer still need every parameter.
   * This checks which blocks are multiplied against hbp's own dense blocks (themselves checked against autograd by
   * TorchCrossCheckTest); the products of a subset against autograd's Hessian block are checked by the Python package's
   * test_products_of_some_blocks_take_one_hbp_run_that_multiplies_only_those.
   */
  @Test
  void directionsForSomeParametersMultiplyTheirBlocksOnly() throws Exception {
    Path dense = dir.resolve("dense.npz"), vec = dir.resolve("v.npz"), out = dir.resolve("out.npz");
    hbp(base("--curvature", "hessian", "--dense", dense.toString())).assertExit(0);
    Map<String, NdArray> v = directions(new Random(5), 2);
    v.keySet().retainAll(java.util.Set.of("2.0.weight", "3.b"));
    Npz.write(vec, v);
    CliRun r = hbp(base("--curvature", "hessian", "--vectors", vec.toString(), "--out", out.toString()));
    r.assertExit(0);
    assertEquals(2, r.out().lines().filter(l -> l.matches("  \\S+: 2 products in .*")).count(), r.out());
    assertTrue(r.out().contains("  2.0.W: 2 products") && r.out().contains("  3.b: 2 products"), r.out());
    Map<String, NdArray> got = Npz.read(out), blocks = Npz.read(dense);
    assertEquals(v.keySet(), got.keySet());
    for (String name : got.keySet()) {
      NdArray g = got.get(name), b = blocks.containsKey(name) ? blocks.get(name) : blocks.get(otherSpelling(name)), dirs = v.get(name);
      int n = b.dim(0);
      for (int k = 0; k < 2; k++)
        for (int i = 0; i < n; i++) {
          double s = 0;
          for (int j = 0; j < n; j++) s += b.getFlat(i * n + j) * dirs.getFlat(k * n + j);
          assertEquals(s, g.getFlat(k * n + i), 1e-10, name + " direction " + k + " entry " + i);
        }
    }
    assertInputError(hbp(base("--vectors", vec.toString(), "--scope", "net", "--out", dir.resolve("n.npz").toString())), vec
        + ": no array '0.W' or '0.weight' (has: 2.0.weight, 3.b); directions are needed for every parameter: --scope net multiplies the whole "
        + "parameter vector");
    Npz.write(vec, Map.of());
    assertInputError(hbp(base("--vectors", vec.toString(), "--out", dir.resolve("e.npz").toString())), vec + ": no arrays; give directions for at "
        + "least one parameter of 0.W (or 0.weight), 0.b (or 0.bias), 2.0.W (or 2.0.weight), 2.0.b (or 2.0.bias), 3.W (or 3.weight), 3.b (or 3.bias)");
    assertFalse(Files.exists(dir.resolve("n.npz")) || Files.exists(dir.resolve("e.npz")));
  }

  /** The memory estimate of products with some blocks counts those blocks' directions and products alone. */
  @Test
  void theEstimateOfSomeBlocksProductsCountsThoseBlocksAlone() throws Exception {
    Path[] wide = wideNetwork(dir);
    Path wv = dir.resolve("wide-v.npz");
    // 100 directions: every parameter's would be 400 803 x 100 x 8 B = 321 MB, over 0.1 GiB; 2.weight's are 480 KB
    Npz.write(wv, Map.of("2.weight", random(new Random(5), DType.FLOAT64, 100, 3, 200)));
    CliRun r = hbp("curvature", "--net", wide[0].toString(), "--params", wide[1].toString(), "--batch", wide[2].toString(), "--backend", "cpu",
        "--vectors", wv.toString(), "--memory-limit", "0.1", "--out", dir.resolve("wide-out.npz").toString());
    r.assertExit(0);
    assertEquals(java.util.Set.of("2.weight"), Npz.read(dir.resolve("wide-out.npz")).keySet());
  }

  /** --device opencl (float64) writes the CPU's dense blocks, for every curvature and strategy, residual block included. */
  @Test
  void anOpenClDeviceGivesTheCpusBlocks() throws Exception {
    OpenClTestSupport.requireOpenCl();
    for (String curvature : new String[] {"hessian", "ggn", "pch-abs", "pch-clip"})
      for (String strategy : new String[] {"exact", "kfra", "bda"}) {
        Path cpu = dir.resolve("cpu.npz"), cl = dir.resolve("cl.npz");
        CliRun a = hbp(base("--curvature", curvature, "--strategy", strategy, "--dense", cpu.toString(), "--overwrite"));
        CliRun b = hbp(base("--curvature", curvature, "--strategy", strategy, "--dense", cl.toString(), "--device", "opencl", "--overwrite"));
        a.assertExit(0);
        b.assertExit(0);
        Map<String, NdArray> x = Npz.read(cpu), y = Npz.read(cl);
        assertEquals(x.keySet(), y.keySet());
        for (String name : x.keySet())
          for (int i = 0; i < x.get(name).numel(); i++)
            assertEquals(x.get(name).getFlat(i), y.get(name).getFlat(i), 1e-10, curvature + " " + strategy + " " + name + " entry " + i);
      }
  }

  /** A kfac option the network's loss cannot take is refused before the batch is read and the pass runs. */
  @Test
  void sampledFisherWithAnotherLossIsRefusedBeforeThePass() throws Exception {
    Files.writeString(net, Files.readString(net).replace("loss crossentropy", "loss mse"));
    CliRun r = hbp(base("--strategy", "kfac", "--fisher", "sampled", "--dense", dir.resolve("d.npz").toString()));
    assertEquals(2, r.code(), r.out() + r.err());
    assertTrue(r.err().contains("--fisher sampled draws labels from the model's distribution softmax(f), which only the crossentropy loss defines"),
        r.err());
    assertTrue(!r.out().contains("batch of") && !r.out().contains("|grad"), "no pass ran: " + r.out());
  }

  @Test
  void printsLossAndGradientNormsAndTheNetwork() {
    CliRun r = hbp(base("--dense", dir.resolve("d.npz").toString()));
    r.assertExit(0);
    r.assertOutContains("  2      residual");
    assertTrue(r.out().matches("(?s).*batch of 6: loss [0-9.]+.*"), r.out());
    r.assertOutContains("|grad 2.0.W| = ", "curvature ggn, strategy exact, 1 block per parameter");
  }

  @Test
  void subBlocksAndSolve() throws Exception {
    CliRun r = hbp(base("--curvature", "pch-abs", "--strategy", "bda", "--blocks", "2", "--solve", "0.02", "--out", dir.resolve("s.npz").toString()));
    r.assertExit(0);
    r.assertOutContains("2 blocks per parameter");
    assertTrue(r.out().matches("(?s).*0\\.W: CG \\d+ iterations?, residual .*"), r.out());
    Map<String, NdArray> s = Npz.read(dir.resolve("s.npz"));
    assertEquals("[4, 5]", java.util.Arrays.toString(s.get("0.weight").shape())); // named as --params names them
    assertEquals("[4]", java.util.Arrays.toString(s.get("0.bias").shape()));
  }

  private void assertInputError(CliRun r, String message) {
    r.assertExit(2);
    assertEquals("hbp: " + message + "\n", r.err());
  }

  @Test
  void badInputIsAClearError() throws Exception {
    Path out = dir.resolve("o.npz");
    assertInputError(hbp(base()), "give exactly one of --vectors V.npz --out OUT.npz, --dense OUT.npz, --solve ALPHA --out STEP.npz, or --diagonal exact|mc|hessian --out DIAG.npz");
    assertInputError(hbp(base("--vectors", "v.npz")), "--vectors needs --out OUT.npz");
    assertInputError(hbp(base("--dense", out.toString(), "--curvature", "fisher")), "unknown curvature 'fisher'; expected hessian, ggn, pch-abs or pch-clip");
    assertInputError(hbp(base("--dense", out.toString(), "--strategy", "kfc")), "unknown strategy 'kfc'; expected exact, kfra, bda, kfac, kflr, ekfac, diag-ggn, diag-ggn-mc or diag-hessian");
    assertInputError(hbp(base("--dense", out.toString(), "--blocks", "5")), "--blocks 5 for '0.W': it has 4 rows; use 1..4");
    Map<String, NdArray> p = Npz.read(params);
    p.put("3.weight", NdArray.of(new double[12], 4, 3));
    Npz.write(params, p);
    assertInputError(hbp(base("--dense", out.toString())), params + ": array '3.weight' has shape [4, 3] but [3, 4] was expected (parameter 3.W)");
    p.remove("3.weight");
    Npz.write(params, p);
    assertInputError(hbp(base("--dense", out.toString())), params + ": no array '3.W' or '3.weight' (has: 0.weight, 0.bias, 2.0.W, 2.0.b, 3.bias)");
    setUp();
    Map<String, NdArray> b = Npz.read(batch);
    double[] x = b.get("x").data().clone();
    x[7] = Double.NaN;
    b.put("x", NdArray.of(x, 6, 5));
    Npz.write(batch, b);
    assertInputError(hbp(base("--dense", out.toString())), batch + ": array 'x' has a non-finite value (NaN) at flat index 7");
    b.put("x", NdArray.of(new double[24], 6, 4));
    Npz.write(batch, b);
    assertInputError(hbp(base("--dense", out.toString())), batch + ": array 'x' has shape [6, 4] but [N, 5] was expected (the network's input)");
    b.put("x", NdArray.of(new double[30], 6, 5));
    b.put("y", NdArray.of(new double[] {0, 3, 1, 1, 0, 2}, DType.INT64, 6));
    Npz.write(batch, b);
    assertInputError(hbp(base("--dense", out.toString())), batch + ": array 'y' has 3.0 at index 1; expected a class index in [0, 3)");
    b.remove("y");
    Npz.write(batch, b);
    assertInputError(hbp(base("--dense", out.toString())), batch + ": no array 'y' (has: x)");
    assertFalse(Files.exists(out), "no output after an error");
    assertInputError(hbp("curvature", "--net", dir.resolve("none.hbp").toString(), "--params", params.toString(), "--batch", batch.toString(),
        "--dense", out.toString()), "network file not found: " + dir.resolve("none.hbp"));
    // a missing .npz names its option
    Path none = dir.resolve("none.npz");
    assertInputError(hbp("curvature", "--net", net.toString(), "--params", none.toString(), "--batch", batch.toString(), "--dense", out.toString()),
        "--params " + none + ": file not found");
    assertInputError(hbp("curvature", "--net", net.toString(), "--params", params.toString(), "--batch", none.toString(), "--dense", out.toString()),
        "--batch " + none + ": file not found");
    assertInputError(hbp("gradients", "--net", net.toString(), "--params", params.toString(), "--batch", none.toString(), "--out",
        dir.resolve("g").toString()), "--batch " + none + ": file not found");
  }

  /** --solve's settings are refused before the network is read or the pass runs: nothing on standard output. */
  @Test
  void solveSettingsAreRefusedBeforeAnyWork() {
    String out = dir.resolve("o.npz").toString();
    String[][] cases = {
        {"--solve 1.5: the damping ALPHA must be in [0, 1]", "--solve", "1.5", "--out", out},
        {"--solve -0.1: the damping ALPHA must be in [0, 1]", "--solve", "-0.1", "--out", out},
        {"--cg-maxiter must be at least 1, not 0", "--solve", "0.1", "--cg-maxiter", "0", "--out", out},
        {"--cg-tol must be >= 0, not -1.0", "--solve", "0.1", "--cg-tol", "-1", "--out", out},
        {"--cg-atol must be >= 0, not -1.0", "--solve", "0.1", "--cg-atol", "-1", "--out", out},
        {"--solve 0.0: the closed-form solve of --strategy kfac needs 0 < ALPHA <= 1", "--solve", "0", "--strategy", "kfac", "--out", out},
        {"--solve with --strategy kfac inverts whole blocks in closed form; drop --blocks 2", "--solve", "0.1", "--strategy", "kfac", "--blocks", "2",
            "--out", out},
        {"--cg-tol applies only with --solve by CG (--strategy kfac solves in closed form); drop it or change the run", "--solve", "0.1",
            "--strategy", "kfac", "--cg-tol", "0.5", "--out", out},
        {"--cg-maxiter applies only with --solve by CG (--strategy diag-ggn solves in closed form); drop it or change the run", "--solve", "0.1",
            "--strategy", "diag-ggn", "--cg-maxiter", "5", "--out", out},
    };
    for (String[] c : cases) {
      CliRun r = hbp(base(java.util.Arrays.copyOfRange(c, 1, c.length)));
      assertInputError(r, c[0]);
      assertEquals("", r.out(), "no work before the refusal: " + String.join(" ", c));
    }
    assertFalse(Files.exists(dir.resolve("o.npz")));
  }

  /** Every parameter given needs the same V >= 1 directions, under one name; nothing else may be in V.npz; --scope net needs every parameter. */
  @Test
  void aVectorsFileThatDoesNotMatchTheParametersIsRefused() throws Exception {
    Path vec = dir.resolve("v.npz"), out = dir.resolve("o.npz");
    String[] args = base("--vectors", vec.toString(), "--out", out.toString());
    Map<String, NdArray> v = directions(new Random(3), 3);
    v.remove("3.b");
    Npz.write(vec, v);
    assertInputError(hbp(base("--vectors", vec.toString(), "--scope", "net", "--out", out.toString())), vec + ": no array '3.b' or '3.bias' (has: 0.W, 0.bias, 2.0.weight, 2.0.b, 3.W); directions are needed for every "
        + "parameter: --scope net multiplies the whole parameter vector");
    v.put("3.b", random(new Random(4), DType.FLOAT64, 2, 3));
    Npz.write(vec, v);
    assertInputError(hbp(args), vec + ": array '3.b' has 2 directions but '0.W' has 3; give every parameter the same number V");
    Npz.write(vec, directions(new Random(3), 0));
    assertInputError(hbp(args), vec + ": array '0.W' has shape [0, 4, 5]: no directions; V must be at least 1");
    v = directions(new Random(3), 1);
    v.put("0.weight", v.get("0.W"));
    Npz.write(vec, v);
    assertInputError(hbp(args), vec + ": arrays '0.W' and '0.weight' both hold parameter 0.W; keep one of them");
    v.remove("0.weight");
    v.put("4.W", v.get("0.W"));
    Npz.write(vec, v);
    assertInputError(hbp(args), vec + ": array '4.W' is not a parameter of the network; its parameters are 0.W (or 0.weight), 0.b (or 0.bias), "
        + "2.0.W (or 2.0.weight), 2.0.b (or 2.0.bias), 3.W (or 3.weight), 3.b (or 3.bias)");
    v.remove("4.W");
    v.put("3.W", random(new Random(5), DType.FLOAT64, 1, 4, 3));
    Npz.write(vec, v);
    assertInputError(hbp(args), vec + ": array '3.W' has shape [1, 4, 3] but [V, 3, 4] was expected (V directions for parameter 3.W)");
    assertFalse(Files.exists(out), "no output after an error");
  }

  @Test
  void aParamsFileWithAnExtraOrDoubledArrayIsRefused() throws Exception {
    Path out = dir.resolve("o.npz");
    Map<String, NdArray> p = Npz.read(params);
    p.put("3.W", p.get("3.weight"));
    Npz.write(params, p);
    assertInputError(hbp(base("--dense", out.toString())), params + ": arrays '3.W' and '3.weight' both hold parameter 3.W; keep one of them");
    p.remove("3.W");
    p.put("4.weight", p.get("3.weight"));
    Npz.write(params, p);
    assertInputError(hbp(base("--dense", out.toString())), params + ": array '4.weight' is not a parameter of the network; its parameters are "
        + "0.W (or 0.weight), 0.b (or 0.bias), 2.0.W (or 2.0.weight), 2.0.b (or 2.0.bias), 3.W (or 3.weight), 3.b (or 3.bias)");
    assertFalse(Files.exists(out), "no output after an error");
  }

  /** A checkpoint of hbp train holds the parameters and its state (optimizer.*, epoch, ...): it serves as --params. */
  @Test
  void aTrainingCheckpointServesAsParams() throws Exception {
    Network network = new Network(
        NetworkResolver.load(net, null, ModuleLibrary.builtInSpecDirs()), ModuleLibrary.forSpecs(),
        new CpuBackend());
    Path checkpoint = dir.resolve("checkpoint.npz"), a = dir.resolve("a.npz"), b = dir.resolve("b.npz");
    new Checkpoint(new TorchLayout(network).parameters(Npz.read(params), params.toString()),
        Map.of("velocity", new double[] {1, 2}), 3, 30, 180, 1.5).write(network, checkpoint);
    assertTrue(Npz.read(checkpoint).containsKey("optimizer.velocity"));
    assertEquals(0, hbp(base("--dense", a.toString())).code());
    CliRun r = hbp("curvature", "--net", net.toString(), "--params", checkpoint.toString(), "--batch", batch.toString(), "--dense", b.toString());
    r.assertExit(0);
    Map<String, NdArray> x = Npz.read(a), y = Npz.read(b);
    // the outputs name the parameters as each --params file does: as params.npz spells them there, hbp's in the checkpoint
    List<String> given = List.copyOf(x.keySet()), hbpNames = List.copyOf(y.keySet());
    assertEquals(List.copyOf(Npz.read(params).keySet()), given);
    assertEquals(network.parameterNames(), hbpNames);
    for (int i = 0; i < given.size(); i++)
      assertEquals(java.util.Arrays.toString(x.get(given.get(i)).data()), java.util.Arrays.toString(y.get(hbpNames.get(i)).data()), hbpNames.get(i));
  }

  @Test
  void anEmptyBatchOrAFractionalClassIsRefused() throws Exception {
    Path out = dir.resolve("o.npz");
    Map<String, NdArray> b = new LinkedHashMap<>();
    b.put("x", NdArray.of(new double[0], DType.FLOAT32, 0, 5));
    b.put("y", NdArray.of(new double[0], DType.INT64, 0));
    Npz.write(batch, b);
    assertInputError(hbp(base("--dense", out.toString())), batch + ": array 'x' has shape [0, 5]: an empty batch; at least one sample is needed");
    b.put("x", NdArray.of(new double[10], DType.FLOAT32, 2, 5));
    b.put("y", NdArray.of(new double[] {1, 2.5}, DType.FLOAT32, 2));
    Npz.write(batch, b);
    assertInputError(hbp(base("--dense", out.toString())), batch + ": array 'y' has 2.5 at index 1; expected a class index in [0, 3)");
    b.put("y", NdArray.of(new double[] {0.5, 0.5, 0, 1.5, -0.5, 0}, DType.FLOAT32, 2, 3));
    Npz.write(batch, b);
    assertInputError(hbp(base("--dense", out.toString())),
        batch + ": array 'y' has -0.5 at index [1, 1]; expected probabilities (crossentropy: entries >= 0, each row summing to 1)");
    assertFalse(Files.exists(out), "no output after an error");
  }

  @Test
  void networkErrorsNameTheirPlace() throws Exception {
    Files.writeString(net, "network mlp {\n  input x: vector(5);\n  linear(m = 4);\n  conv2d(cout = 2);\n  loss crossentropy;\n}\n");
    CliRun r = hbp(base("--dense", dir.resolve("o.npz").toString()));
    assertEquals(2, r.code());
    assertTrue(r.err().startsWith("hbp: " + net + ":4:3: "), r.err());
  }
}
