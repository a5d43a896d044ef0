package org.hbp.cli;

import static org.hbp.cli.CliRun.hbp;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.EigenDecomposition_F64;
import org.hbp.UserError;
import org.hbp.backend.cpu.CpuBackend;
import org.hbp.io.DType;
import org.hbp.io.NdArray;
import org.hbp.io.Npz;
import org.hbp.network.ModuleLibrary;
import org.hbp.network.Network;
import org.hbp.network.NetworkResolver;
import org.hbp.network.TorchLayout;
import org.hbp.spectrum.Lanczos;
import org.hbp.spectrum.SymmetricOperator;
import org.hbp.train.Progress;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code hbp spectrum} end to end on a small net: its top eigenvalues against EJML's
 * eigendecomposition of the dense blocks that {@code hbp curvature --dense} writes, its files
 * (JSON, arrays in PyTorch's shapes, PNGs), its progress lines, and its errors.
 */
class SpectrumCliTest {
  @TempDir Path dir;
  Path net, params, batch;

  @BeforeEach
  void setUp() throws Exception {
    net = dir.resolve("mlp.hbp");
    Files.writeString(net, "network mlp {\n  input x: vector(5);\n  linear(m = 4);\n  sigmoid;\n  linear(m = 3);\n  loss crossentropy;\n}\n");
    Random rng = new Random(2);
    Map<String, NdArray> p = new LinkedHashMap<>();
    p.put("0.weight", CurvatureCliTest.random(rng, DType.FLOAT64, 4, 5));
    p.put("0.bias", CurvatureCliTest.random(rng, DType.FLOAT64, 4));
    p.put("2.weight", CurvatureCliTest.random(rng, DType.FLOAT64, 3, 4));
    p.put("2.bias", CurvatureCliTest.random(rng, DType.FLOAT64, 3));
    params = dir.resolve("params.npz");
    Npz.write(params, p);
    batch = dir.resolve("batch.npz");
    Npz.write(batch, Map.of("x", CurvatureCliTest.random(rng, DType.FLOAT64, 6, 5), "y", NdArray.of(new double[] {0, 2, 1, 1, 0, 2}, DType.INT64, 6)));
  }

  /** PyTorch's name of hbp's parameter {@code 0.W} or {@code 0.b}. */
  private static String torch(String parameter) {
    return parameter.endsWith(".W") ? parameter.replaceAll("\\.W$", ".weight") : parameter.replaceAll("\\.b$", ".bias");
  }

  private String[] spectrum(String... more) {
    String[] a = {"spectrum", "--net", net.toString(), "--params", params.toString(), "--batch", batch.toString(), "--backend", "cpu"};
    String[] out = Arrays.copyOf(a, a.length + more.length);
    System.arraycopy(more, 0, out, a.length, more.length);
    return out;
  }

  static double[] eigenvaluesDescending(NdArray square) {
    int n = square.shape()[0];
    DMatrixRMaj m = new DMatrixRMaj(n, n, true, square.data());
    EigenDecomposition_F64<DMatrixRMaj> eig = DecompositionFactory_DDRM.eig(n, false, true);
    assertTrue(eig.decompose(m));
    double[] v = new double[n];
    for (int i = 0; i < n; i++) v[i] = eig.getEigenvalue(i).getReal();
    Arrays.sort(v);
    for (int i = 0; i < n / 2; i++) {
      double t = v[i];
      v[i] = v[n - 1 - i];
      v[n - 1 - i] = t;
    }
    return v;
  }

  @Test
  void topEigenvaluesTraceAndDensityOfEveryBlock() throws Exception {
    Path dense = dir.resolve("dense.npz");
    hbp("curvature", "--net", net.toString(), "--params", params.toString(), "--batch", batch.toString(), "--backend", "cpu",
        "--curvature", "hessian", "--dense", dense.toString()).assertExit(0);
    Map<String, NdArray> blocks = Npz.read(dense);
    Path out = dir.resolve("spec");
    CliRun r = hbp(spectrum("--curvature", "hessian", "--top", "3", "--trace", "--probes", "20", "--density", "--tol", "1e-12", "--out", out.toString()));
    r.assertExit(0);
    r.assertNoStackTrace();
    r.assertOutContains("0.W (20 entries): top [", "2.b (3 entries)", "wrote ");
    JsonNode json = new ObjectMapper().readTree(out.resolve("spectrum.json").toFile());
    assertEquals("hessian", json.get("curvature").asText());
    assertEquals(List.of("0.W", "0.b", "2.W", "2.b"), iterableNames(json.get("blocks")));
    Map<String, NdArray> vectors = Npz.read(out.resolve("eigenvectors.npz")), diagonal = Npz.read(out.resolve("diagonal.npz")),
        errors = Npz.read(out.resolve("diagonal_stderr.npz"));
    for (String p : List.of("0.W", "0.b", "2.W", "2.b")) {
      JsonNode b = json.get("blocks").get(p);
      String named = torch(p); // the arrays are named as --params names the parameters: PyTorch's
      double[] exact = eigenvaluesDescending(blocks.get(named));
      int k = Math.min(3, exact.length);
      JsonNode values = b.get("top").get("values");
      assertEquals(k, values.size(), p);
      double scale = Math.max(1, Math.abs(exact[0]));
      for (int i = 0; i < k; i++) assertEquals(exact[i], values.get(i).asDouble(), 1e-8 * scale, p + " eigenvalue " + i);
      assertTrue(b.get("top").get("converged").asBoolean(), p);
      assertTrue(b.get("trace").get("stderr").asDouble() >= 0);
      assertEquals(20, b.get("trace").get("probes").asInt());
      JsonNode d = b.get("density");
      assertEquals(d.get("grid").size(), d.get("density").size());
      assertTrue(Files.size(out.resolve(d.get("plot").asText())) > 1000);
      byte[] png = Files.readAllBytes(out.resolve("density-" + p + ".png"));
      assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G'}, Arrays.copyOf(png, 4));
      // arrays in PyTorch's shapes: [k, *shape] for eigenvectors, the shape itself for the diagonal
      int[] shape = p.endsWith("W") ? new int[] {p.startsWith("0") ? 4 : 3, p.startsWith("0") ? 5 : 4} : new int[] {p.startsWith("0") ? 4 : 3};
      int[] withK = new int[shape.length + 1];
      withK[0] = k;
      System.arraycopy(shape, 0, withK, 1, shape.length);
      assertArrayEquals(withK, vectors.get(named).shape(), p);
      assertArrayEquals(shape, diagonal.get(named).shape(), p);
      assertArrayEquals(shape, errors.get(named).shape(), p);
    }
    // a second run into the same folder refuses, naming the files; --overwrite replaces them
    CliRun again = hbp(spectrum("--top", "1", "--out", out.toString()));
    again.assertExit(2);
    assertTrue(again.err().contains("spectrum.json") && again.err().contains("--overwrite"), again.err());
    hbp(spectrum("--top", "1", "--out", out.toString(), "--overwrite")).assertExit(0);
  }

  private static List<String> iterableNames(JsonNode node) {
    List<String> names = new java.util.ArrayList<>();
    node.fieldNames().forEachRemaining(names::add);
    return names;
  }

  @Test
  void oneBlockByHbpOrPyTorchNameWithProgressLines() throws Exception {
    String old = System.getProperty("hbp.progress");
    System.setProperty("hbp.progress", "lines");
    try {
      Path out = dir.resolve("one");
      CliRun r = hbp(spectrum("--scope", "block:2.weight", "--top", "2", "--out", out.toString()));
      r.assertExit(0);
      assertTrue(r.err().contains("spectrum [") && r.err().contains("2.W: Lanczos"), r.err());
      JsonNode json = new ObjectMapper().readTree(out.resolve("spectrum.json").toFile());
      assertEquals(List.of("2.W"), iterableNames(json.get("blocks")));
    } finally {
      if (old == null) System.clearProperty("hbp.progress");
      else System.setProperty("hbp.progress", old);
    }
  }

  /**
   * {@code --blocks layer}: every layer's joint block, keyed by the layer's name with its parameters
   * listed, its top eigenvalues those of EJML's eigendecomposition of the joint blocks that
   * {@code hbp curvature --blocks layer --dense} writes; eigenvectors and diagonals per parameter in
   * PyTorch's shapes; one plot per layer. One layer by its name, or by hbp's or PyTorch's name of
   * one of its parameters.
   */
  @Test
  void everyLayersJointBlockAndOneByLayerOrParameterName() throws Exception {
    Path dense = dir.resolve("layer-dense.npz");
    hbp("curvature", "--net", net.toString(), "--params", params.toString(), "--batch", batch.toString(), "--backend", "cpu",
        "--curvature", "hessian", "--blocks", "layer", "--dense", dense.toString()).assertExit(0);
    Map<String, NdArray> blocks = Npz.read(dense);
    Path out = dir.resolve("layers");
    CliRun r = hbp(spectrum("--curvature", "hessian", "--blocks", "layer", "--top", "3", "--trace", "--probes", "10", "--density", "--tol", "1e-12",
        "--out", out.toString()));
    r.assertExit(0);
    r.assertNoStackTrace();
    r.assertOutContains("one joint block per layer (--blocks layer)", "layer 0 (0.W, 0.b) (24 entries): top [", "layer 2 (2.W, 2.b) (15 entries): top [");
    JsonNode json = new ObjectMapper().readTree(out.resolve("spectrum.json").toFile());
    assertEquals("layer", json.get("blocks_option").asText());
    assertEquals(List.of("0", "2"), iterableNames(json.get("blocks")));
    Map<String, NdArray> vectors = Npz.read(out.resolve("eigenvectors.npz")), diagonal = Npz.read(out.resolve("diagonal.npz"));
    for (String layer : List.of("0", "2")) {
      JsonNode b = json.get("blocks").get(layer);
      // the parameters and arrays named as --params names them: PyTorch's
      assertEquals(List.of(layer + ".weight", layer + ".bias"), List.of(b.get("parameters").get(0).asText(), b.get("parameters").get(1).asText()));
      double[] exact = eigenvaluesDescending(blocks.get(layer + ".weight," + layer + ".bias"));
      assertEquals(exact.length, b.get("dimension").asInt());
      double scale = Math.max(1, Math.abs(exact[0]));
      for (int i = 0; i < 3; i++) assertEquals(exact[i], b.get("top").get("values").get(i).asDouble(), 1e-8 * scale, layer + " eigenvalue " + i);
      int m = layer.equals("0") ? 4 : 3, n = layer.equals("0") ? 5 : 4;
      assertArrayEquals(new int[] {3, m, n}, vectors.get(layer + ".weight").shape());
      assertArrayEquals(new int[] {3, m}, vectors.get(layer + ".bias").shape());
      assertArrayEquals(new int[] {m, n}, diagonal.get(layer + ".weight").shape());
      assertArrayEquals(new int[] {m}, diagonal.get(layer + ".bias").shape());
      assertTrue(Files.exists(out.resolve("density-" + layer + ".png")));
    }
    for (String name : List.of("2", "2.W", "2.bias")) {
      Path one = dir.resolve("one-" + name);
      hbp(spectrum("--blocks", "layer", "--scope", "block:" + name, "--top", "1", "--out", one.toString())).assertExit(0);
      assertEquals(List.of("2"), iterableNames(new ObjectMapper().readTree(one.resolve("spectrum.json").toFile()).get("blocks")), name);
    }
  }

  /** What per-layer joint blocks cannot serve is refused in one line naming the option, before anything is written. */
  @Test
  void layerBlocksRefuseWhatTheyCannotServe() throws Exception {
    Path out = dir.resolve("refused");
    Map<List<String>, String> refused = new LinkedHashMap<>();
    refused.put(List.of("--blocks", "layer", "--scope", "net"), "--scope net takes the whole network; --blocks layer does not apply");
    refused.put(List.of("--blocks", "layer", "--strategy", "kfra"), "--blocks layer (per-layer joint blocks) is available with --strategy exact only");
    refused.put(List.of("--blocks", "layer", "--strategy", "diag-ggn"), "--blocks layer (per-layer joint blocks) is available with --strategy exact only");
    refused.put(List.of("--blocks", "layer", "--curvature", "pch-abs"), "--blocks layer with --curvature pch-abs: layer 0 (linear) has 2 parameters");
    refused.put(List.of("--blocks", "layer", "--scope", "block:9"), "--scope block:9 with --blocks layer: the network has no parameter or layer '9'; "
        + "its layers with parameters are 0 (0.W (or 0.weight), 0.b (or 0.bias)), 2 (2.W (or 2.weight), 2.b (or 2.bias))");
    refused.put(List.of("--blocks", "layers"), "--blocks layers: expected parameter, layer, or a number of row groups per parameter");
    refused.put(List.of("--blocks", "2", "--scope", "net"), "--blocks 2 splits blocks; --scope net takes the whole network (use --blocks parameter)");
    for (Map.Entry<List<String>, String> e : refused.entrySet()) {
      String[] more = new String[e.getKey().size() + 4];
      for (int i = 0; i < e.getKey().size(); i++) more[i] = e.getKey().get(i);
      System.arraycopy(new String[] {"--top", "1", "--out", out.toString()}, 0, more, e.getKey().size(), 4);
      CliRun r = hbp(spectrum(more));
      r.assertExit(2);
      r.assertNoStackTrace();
      assertTrue(r.err().contains(e.getValue()), e.getKey() + ": " + r.err());
      assertEquals(1, r.err().strip().lines().count(), e.getKey() + ": " + r.err());
      assertTrue(!Files.exists(out.resolve("spectrum.json")), e.getKey() + ": wrote spectrum.json");
    }
  }

  /**
   * On a graph network a layer is a module instance: the graph form of the same net (linear,
   * sigmoid, linear, its values named) has the same layer spectra, by another product
   * (GraphProducts against the sequential chain), as EJML's eigenvalues of the sequential net's
   * dense joint blocks.
   */
  @Test
  void layerSpectraOfAGraphNetworkAreThoseOfTheSameSequentialNet() throws Exception {
    Path dense = dir.resolve("layer-dense.npz");
    hbp("curvature", "--net", net.toString(), "--params", params.toString(), "--batch", batch.toString(), "--backend", "cpu",
        "--curvature", "hessian", "--blocks", "layer", "--dense", dense.toString()).assertExit(0);
    Map<String, NdArray> blocks = Npz.read(dense);
    Path graph = Files.writeString(dir.resolve("graph.hbp"), String.join("\n", "network g {", "  input x: vector(5);", "  h = linear(m = 4)(x);",
        "  a = sigmoid(h);", "  y = linear(m = 3)(a);", "  loss crossentropy(y);", "}", ""));
    Map<String, NdArray> renamed = new LinkedHashMap<>();
    for (Map.Entry<String, NdArray> e : Npz.read(params).entrySet()) renamed.put(e.getKey().replace("0.", "h.").replace("2.", "y."), e.getValue());
    Path graphParams = dir.resolve("graph-params.npz");
    Npz.write(graphParams, renamed);
    Path out = dir.resolve("graph-layers");
    CliRun g = hbp("spectrum", "--net", graph.toString(), "--params", graphParams.toString(), "--batch", batch.toString(), "--backend", "cpu",
        "--curvature", "hessian", "--blocks", "layer", "--top", "3", "--tol", "1e-12", "--out", out.toString());
    g.assertExit(0);
    JsonNode json = new ObjectMapper().readTree(out.resolve("spectrum.json").toFile());
    assertEquals(List.of("h", "y"), iterableNames(json.get("blocks")));
    for (String[] layer : new String[][] {{"h", "0"}, {"y", "2"}}) {
      double[] exact = eigenvaluesDescending(blocks.get(layer[1] + ".weight," + layer[1] + ".bias"));
      JsonNode b = json.get("blocks").get(layer[0]);
      double scale = Math.max(1, Math.abs(exact[0]));
      for (int i = 0; i < 3; i++) assertEquals(exact[i], b.get("top").get("values").get(i).asDouble(), 1e-8 * scale, layer[0] + " eigenvalue " + i);
    }
  }

  /** Full reorthogonalisation keeps every Lanczos vector: the iterations are capped to what --memory-limit holds, or refused. */
  @Test
  void lanczosBasesStayWithinTheMemoryLimit() throws Exception {
    assertEquals(100, SpectrumRun.basisCap(8000, 10, 1));
    assertEquals(25, SpectrumRun.basisCap(8000, 10, 4));
    Network mlp = new Network(NetworkResolver.load(net, null, ModuleLibrary.builtInSpecDirs()), ModuleLibrary.forSpecs(), new CpuBackend());
    double[] d = new double[20];
    for (int i = 0; i < 20; i++) d[i] = i + 1;
    Map<String, SpectrumScope.Target> target = Map.of("0.W", new SpectrumScope.Target(SymmetricOperator.of(CommonOps_DDRM.diag(d)), List.of("0.W")));
    long fiveSteps = 8L * 20 * 2 * 5; // 5 vectors of 20 entries for each of 2 starts
    SpectrumRun density = new SpectrumRun(new SpectrumRun.Settings(null, new Lanczos.Settings(100, 1e-6, 0), 0, 1, 2, 60, 0.01, 100, 0, fiveSteps),
        mlp, new TorchLayout(mlp), OutputNames.of(null, null));
    StringWriter w = new StringWriter();
    density.compute(target, Progress.none(), new PrintWriter(w, true));
    assertTrue(w.toString().contains("SLQ capped at 5 steps by --memory-limit"), w.toString());
    SpectrumRun top = new SpectrumRun(new SpectrumRun.Settings(3, new Lanczos.Settings(100, 1e-6, 0), 0, 1, 0, 60, 0.01, 100, 0, 8L * 20 * 2),
        mlp, new TorchLayout(mlp), OutputNames.of(null, null));
    UserError e = assertThrows(UserError.class, () -> top.compute(target, Progress.none(), new PrintWriter(new StringWriter())));
    assertTrue(e.getMessage().contains("--top 3 of block 0.W (20 entries)") && e.getMessage().contains("--memory-limit"), e.getMessage());
  }

  /**
   * The memory estimate of {@code --scope block:NAME} counts that block's products and directions, not every parameter's:
   * a small block behind a large layer runs with many starts where the whole network's directions would exceed the limit.
   */
  @Test
  void oneBlocksEstimateCountsThatBlocksDirectionsAlone() throws Exception {
    Path[] wide = CurvatureCliTest.wideNetwork(dir);
    // 100 starts: every parameter's directions would be 400 803 x 100 x 8 B = 321 MB, over 0.1 GiB; 2.W's are 480 KB
    String[] base = {"spectrum", "--net", wide[0].toString(), "--params", wide[1].toString(), "--batch", wide[2].toString(), "--backend", "cpu",
        "--density", "--starts", "100", "--steps", "3", "--memory-limit", "0.1"};
    CliRun one = hbp(concat(base, "--scope", "block:2.weight", "--out", dir.resolve("one").toString()));
    one.assertExit(0);
    assertTrue(Files.exists(dir.resolve("one").resolve("spectrum.json")), one.out());
    // every block: the first layer's directions count, and the run is refused before any work
    CliRun all = hbp(concat(base, "--scope", "blocks", "--out", dir.resolve("all").toString()));
    assertEquals(2, all.code(), all.out() + all.err());
    assertTrue(all.err().contains("--memory-limit") && !all.out().contains("batch of"), all.out() + all.err());
  }

  private static String[] concat(String[] a, String... b) {
    String[] r = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, r, a.length, b.length);
    return r;
  }

  /** --top K above a block's dimension gives all its eigenvalues and says so, whatever K; --max-iterations is checked against what a block returns. */
  @Test
  void topAboveABlocksDimensionGivesAllItsEigenvaluesAndSaysSo() throws Exception {
    Path dense = dir.resolve("dense.npz");
    hbp("curvature", "--net", net.toString(), "--params", params.toString(), "--batch", batch.toString(), "--backend", "cpu",
        "--curvature", "hessian", "--dense", dense.toString()).assertExit(0);
    Map<String, NdArray> blocks = Npz.read(dense);
    for (int k : new int[] {5, 200}) {
      Path out = dir.resolve("top" + k);
      CliRun r = hbp(spectrum("--curvature", "hessian", "--top", String.valueOf(k), "--tol", "1e-12", "--out", out.toString()));
      r.assertExit(0);
      JsonNode json = new ObjectMapper().readTree(out.resolve("spectrum.json").toFile());
      for (String p : List.of("0.W", "0.b", "2.W", "2.b")) {
        double[] exact = eigenvaluesDescending(blocks.get(torch(p))); // the dense blocks named as --params names them: PyTorch's
        JsonNode values = json.get("blocks").get(p).get("top").get("values");
        assertEquals(Math.min(k, exact.length), values.size(), p);
        double scale = Math.max(1, Math.abs(exact[0]));
        for (int i = 0; i < values.size(); i++) assertEquals(exact[i], values.get(i).asDouble(), 1e-8 * scale, p + " eigenvalue " + i);
        boolean note = r.out().contains(p + " (" + exact.length + " entries): top") && r.out().lines()
            .filter(l -> l.contains(p + " (" + exact.length + " entries)")).anyMatch(l -> l.contains("(all " + exact.length + " eigenvalues: fewer entries than --top " + k + ")"));
        assertEquals(exact.length < k, note, p + " with --top " + k + ":\n" + r.out());
      }
    }
    CliRun few = hbp(spectrum("--top", "30", "--max-iterations", "10", "--out", dir.resolve("few").toString()));
    few.assertExit(2);
    assertTrue(few.err().contains("--max-iterations 10 must be at least 20, the dimension of block 0.W (--top 30 asks for all its eigenvalues)"),
        few.err());
    CliRun short_ = hbp(spectrum("--top", "5", "--max-iterations", "3", "--out", dir.resolve("short").toString()));
    short_.assertExit(2);
    assertTrue(short_.err().contains("--max-iterations 3 must be at least --top 5 (block 0.W has 20 entries)"), short_.err());
    assertTrue(!few.out().contains("batch of"), "refused before the pass");
  }

  /** --help's --strategy lists every strategy the option accepts, and each runs (diag-hessian with --curvature hessian). */
  @Test
  void helpListsEveryStrategyAndEachRuns() {
    CliRun help = hbp("spectrum", "--help");
    help.assertExit(0);
    String text = help.out().replaceAll("\\s+", " ");
    int at = text.indexOf("--strategy=S");
    assertTrue(at >= 0, text);
    String option = text.substring(at, text.indexOf("(default: exact)", at));
    for (org.hbp.network.Strategy s : org.hbp.network.Strategy.values()) {
      assertTrue(option.contains(s.label()), "--help lists " + s.label() + ": " + option);
      String kind = s == org.hbp.network.Strategy.DIAG_HESSIAN ? "hessian" : "ggn";
      hbp(spectrum("--strategy", s.label(), "--curvature", kind, "--top", "1", "--scope", "block:2.b", "--out", dir.resolve("s-" + s.label()).toString()))
          .assertExit(0);
    }
  }

  /** Absurd --probes/--grid/... are refused with their range, and the estimate counts Hutchinson's probes and the densities: refused before the pass. */
  @Test
  void probesAndTheDensityGridAreCheckedAndEstimatedBeforeThePass() {
    Path out = dir.resolve("est");
    String[][] cases = {
        {"--probes must be in [2, 1000000] (at least 2 for a standard error), not 2147483647", "--trace", "--probes", "2147483647", "--directions", "1000"},
        {"--probes must be in [2, 1000000] (at least 2 for a standard error), not 1", "--trace", "--probes", "1"},
        {"--directions must be in [1, 10000], not 20000", "--trace", "--directions", "20000"},
        {"--grid must be in [2, 1000000], not 300000000", "--density", "--grid", "300000000"},
        {"--starts must be in [1, 10000], not 0", "--density", "--starts", "0"},
        {"--steps must be in [1, 100000], not 1000000", "--density", "--steps", "1000000"},
    };
    refusesEach(cases, out, "");
    // within the ranges but above the limit: the estimate names the part (4 blocks x 10^6 points x 112 bytes = 427 MiB)
    CliRun grid = hbp(spectrum("--density", "--grid", "1000000", "--memory-limit", "0.2", "--out", out.toString()));
    grid.assertExit(2);
    assertTrue(grid.err().contains("the densities on --grid 1000000") && grid.err().contains("--memory-limit"), grid.err());
    assertEquals(1, grid.err().strip().lines().count(), grid.err());
    assertTrue(!grid.out().contains("batch of"), "refused before the pass: " + grid.out());
    // Hutchinson's probes: 10^6 traces of 8 bytes and 10^4 probes of the 20 entries of 0.W, twice: 10.7 MB
    CliRun probes = hbp(spectrum("--trace", "--probes", "1000000", "--directions", "10000", "--memory-limit", "0.01", "--out", out.toString()));
    probes.assertExit(2);
    assertTrue(probes.err().contains("Hutchinson's probes"), probes.err());
    assertTrue(!probes.out().contains("batch of"), "refused before the pass: " + probes.out());
    assertEquals(8L * 1_000_000 + 32 * 20 + 16L * 20 * 10_000, SpectrumCommand.hutchinsonBytes(1_000_000, 10_000, 20));
    assertEquals(4L * 112 * 1_000_000, SpectrumCommand.densityBytes(1_000_000, 4));
    assertTrue(!Files.exists(out));
  }

  /** --overwrite leaves one run's files: the earlier run's that this one does not write are refused without it, removed with it. */
  @Test
  void overwriteLeavesOnlyTheNewRunsFiles() throws Exception {
    Path out = dir.resolve("ow");
    hbp(spectrum("--top", "1", "--trace", "--probes", "4", "--density", "--out", out.toString())).assertExit(0);
    List<String> first = List.of("density-0.W.png", "density-0.b.png", "density-2.W.png", "density-2.b.png", "diagonal.npz", "diagonal_stderr.npz",
        "eigenvectors.npz", "spectrum.json");
    assertEquals(first, listing(out));
    Files.writeString(out.resolve("notes.txt"), "the user's");
    Files.delete(out.resolve("spectrum.json"));
    Files.delete(out.resolve("eigenvectors.npz"));
    // none of the new run's files is there, but the earlier run's diagonal and plots are: refused, naming them
    CliRun refused = hbp(spectrum("--top", "1", "--curvature", "hessian", "--out", out.toString()));
    refused.assertExit(2);
    assertTrue(refused.err().contains("already holds density-0.W.png, density-0.b.png, density-2.W.png, density-2.b.png, diagonal.npz, diagonal_stderr.npz")
        && refused.err().contains("--overwrite"), refused.err());
    assertEquals(List.of("density-0.W.png", "density-0.b.png", "density-2.W.png", "density-2.b.png", "diagonal.npz", "diagonal_stderr.npz", "notes.txt"),
        listing(out));
    CliRun r = hbp(spectrum("--top", "1", "--curvature", "hessian", "--out", out.toString(), "--overwrite"));
    r.assertExit(0);
    r.assertOutContains("removed density-0.W.png, density-0.b.png, density-2.W.png, density-2.b.png, diagonal.npz, diagonal_stderr.npz");
    assertEquals(List.of("eigenvectors.npz", "notes.txt", "spectrum.json"), listing(out), "the user's file stays");
    assertEquals("hessian", new ObjectMapper().readTree(out.resolve("spectrum.json").toFile()).get("curvature").asText());
  }

  /**
   * What --overwrite removes is decided by the folder's record of what hbp wrote there, not by names: a user's
   * {@code density-mine.png} is neither refused nor removed, nor is one of the run's plots the user changed; an earlier
   * run's file that is an input of this run (here its --params) is refused even with --overwrite, and stays.
   */
  @Test
  void overwriteRemovesOnlyTheEarlierRunsOwnFilesAndNeverAnInput() throws Exception {
    Path out = Files.createDirectories(dir.resolve("mine"));
    Path png = Files.writeString(out.resolve("density-mine.png"), "the user's");
    hbp(spectrum("--top", "1", "--density", "--steps", "3", "--grid", "20", "--scope", "block:2.b", "--out", out.toString())).assertExit(0);
    Files.writeString(out.resolve("density-2.b.png"), "changed by the user");
    CliRun again = hbp(spectrum("--top", "1", "--out", out.toString(), "--overwrite"));
    again.assertExit(0);
    assertFalse(again.out().contains("removed"), again.out());
    assertEquals("the user's", Files.readString(png));
    assertEquals("changed by the user", Files.readString(out.resolve("density-2.b.png")));
    // parameters kept in a run folder under one of spectrum's names, recorded as hbp's own
    Path run = Files.createDirectories(dir.resolve("run"));
    Path kept = Files.copy(params, run.resolve(SpectrumCommand.EIGENVECTORS));
    org.hbp.io.RegeneratedFiles.recordExisting(run, List.of(SpectrumCommand.EIGENVECTORS));
    byte[] before = Files.readAllBytes(kept);
    CliRun input = hbp("spectrum", "--net", net.toString(), "--params", kept.toString(), "--batch", batch.toString(), "--backend", "cpu",
        "--trace", "--probes", "4", "--out", run.toString(), "--overwrite");
    input.assertExit(2);
    input.assertNoStackTrace();
    assertTrue(input.err().contains("is the same file as --params " + kept) && input.err().contains("destroy that input"), input.err());
    assertArrayEquals(before, Files.readAllBytes(kept));
    // a folder without a record (an earlier version's run): its files of spectrum's names are kept, and the line says so
    Path old = Files.createDirectories(dir.resolve("old"));
    hbp(spectrum("--top", "1", "--out", old.toString())).assertExit(0);
    Files.delete(old.resolve(org.hbp.io.RegeneratedFiles.RECORD));
    CliRun unrecorded = hbp(spectrum("--trace", "--probes", "4", "--out", old.toString(), "--overwrite"));
    unrecorded.assertExit(0);
    unrecorded.assertOutContains("kept eigenvectors.npz (named as spectrum's files, but not recorded in .hbp-written");
    assertTrue(Files.exists(old.resolve("eigenvectors.npz")));
    // the record's path is checked with the outputs, before the pass
    Path blocked = Files.createDirectories(dir.resolve("blocked"));
    Files.createDirectory(blocked.resolve(org.hbp.io.RegeneratedFiles.RECORD));
    CliRun record = hbp(spectrum("--top", "1", "--out", blocked.toString()));
    record.assertExit(2);
    assertTrue(record.err().contains(".hbp-written") && !record.out().contains("batch of"), record.out() + record.err());
  }

  /** An --out that cannot be a folder is refused before the pass: under a regular file, or where the file system makes none. */
  @Test
  void anOutFolderThatCannotBeMadeIsRefusedBeforeThePass() throws Exception {
    Path file = Files.writeString(dir.resolve("regular.txt"), "mine");
    for (Path out : List.of(file.resolve("sub"), Path.of("/proc/hbp-spectrum-test"))) {
      CliRun r = hbp(spectrum("--top", "1", "--out", out.toString()));
      r.assertExit(2);
      r.assertNoStackTrace();
      assertTrue(r.err().startsWith("hbp: --out " + out) && !r.out().contains("batch of"), r.out() + r.err());
      CliRun g = hbp("gradients", "--net", net.toString(), "--params", params.toString(), "--batch", batch.toString(), "--out", out.toString());
      g.assertExit(2);
      assertTrue(g.err().startsWith("hbp: --out " + out) && !g.out().contains("batch of"), g.out() + g.err());
    }
    assertEquals("mine", Files.readString(file));
  }

  /**
   * The Hutchinson diagonal's standard errors (diagonal_stderr.npz) against the estimator's exact spread, from the dense
   * block: entry i of a Rademacher probe's {@code z ∘ A z} is {@code A_ii + sum_(j != i) A_ij z_i z_j}, of variance
   * {@code sum_(j != i) A_ij^2}, so the standard error of the mean of M probes is that over sqrt(M); the sample's estimate
   * of it is within a few 1/sqrt(2M) of it. Each estimate is within 4 of its standard errors of the exact diagonal.
   */
  @Test
  void theDiagonalsStandardErrorsFollowTheDenseBlock() throws Exception {
    Path dense = dir.resolve("dense.npz");
    hbp("curvature", "--net", net.toString(), "--params", params.toString(), "--batch", batch.toString(), "--backend", "cpu",
        "--curvature", "ggn", "--dense", dense.toString()).assertExit(0);
    NdArray block = Npz.read(dense).get("0.weight");
    Path out = dir.resolve("errors");
    int probes = 2000;
    hbp(spectrum("--scope", "block:0.W", "--trace", "--probes", String.valueOf(probes), "--out", out.toString())).assertExit(0);
    double[] estimate = Npz.read(out.resolve("diagonal.npz")).get("0.weight").data(), error = Npz.read(out.resolve("diagonal_stderr.npz")).get("0.weight").data();
    int n = estimate.length;
    assertEquals(20, n);
    // the dense block's rows and columns in the flattened order of the 4 x 5 weight as PyTorch lays it out, as the arrays are
    for (int i = 0; i < n; i++) {
      double spread = 0;
      for (int j = 0; j < n; j++) if (j != i) spread += block.data()[i * n + j] * block.data()[i * n + j];
      double exact = Math.sqrt(spread / probes);
      assertEquals(exact, error[i], 0.15 * exact + 1e-15, "standard error of entry " + i);
      assertEquals(block.data()[i * n + i], estimate[i], 4 * exact + 1e-12, "estimate of entry " + i);
    }
  }

  /**
   * The Monte-Carlo strategies take --mc-samples, --fisher and --seed as hbp curvature does: kfac's top eigenvalues with a
   * seed are those of the dense block curvature draws with that seed (EJML), and another seed gives others. Each quantity's
   * settings, and these, are refused where they do not apply, before the pass.
   */
  @Test
  void kfacTakesItsSamplesAndSeedAndSettingsThatDoNotApplyAreRefused() throws Exception {
    double[][] tops = new double[2][];
    for (int seed = 0; seed < 2; seed++) {
      Path dense = dir.resolve("kfac" + seed + ".npz"), out = dir.resolve("kfac" + seed);
      hbp("curvature", "--net", net.toString(), "--params", params.toString(), "--batch", batch.toString(), "--backend", "cpu", "--strategy", "kfac",
          "--mc-samples", "3", "--fisher", "sampled", "--seed", String.valueOf(seed), "--dense", dense.toString()).assertExit(0);
      double[] exact = eigenvaluesDescending(Npz.read(dense).get("2.weight"));
      CliRun r = hbp(spectrum("--strategy", "kfac", "--mc-samples", "3", "--fisher", "sampled", "--seed", String.valueOf(seed), "--scope",
          "block:2.W", "--top", "2", "--tol", "1e-12", "--out", out.toString()));
      r.assertExit(0);
      JsonNode json = new ObjectMapper().readTree(out.resolve("spectrum.json").toFile()), values = json.get("blocks").get("2.W").get("top").get("values");
      assertEquals(3, json.get("mc_samples").asInt());
      assertEquals("sampled", json.get("fisher").asText());
      tops[seed] = new double[] {values.get(0).asDouble(), values.get(1).asDouble()};
      for (int i = 0; i < 2; i++) assertEquals(exact[i], tops[seed][i], 1e-8 * Math.max(1, exact[0]), "seed " + seed + " eigenvalue " + i);
    }
    assertTrue(Math.abs(tops[0][0] - tops[1][0]) > 1e-6, "the seed reaches kfac's draw: " + tops[0][0] + " " + tops[1][0]);
    // the run's own vectors take a seed mixed from --seed, not the draw's: deterministic, and another for each seed
    for (long seed = 0; seed < 3; seed++) {
      assertEquals(SpectrumCommand.estimatorSeed(seed), SpectrumCommand.estimatorSeed(seed));
      assertTrue(SpectrumCommand.estimatorSeed(seed) != seed && SpectrumCommand.estimatorSeed(seed) != SpectrumCommand.estimatorSeed(seed + 1));
    }
    // the memory estimate counts --mc-samples' vectors: 200000 per sample do not fit 10 MiB, refused before the pass
    CliRun many = hbp(spectrum("--strategy", "kfac", "--mc-samples", "200000", "--memory-limit", "0.01", "--top", "1", "--out",
        dir.resolve("many").toString()));
    many.assertExit(2);
    assertTrue(many.err().contains("--memory-limit") && !many.out().contains("batch of"), many.out() + many.err());
    Path out = dir.resolve("na");
    String[][] cases = {
        {"--max-iterations applies only with --top", "--trace", "--max-iterations", "5"},
        {"--tol applies only with --top", "--trace", "--tol", "1e-3"},
        {"--probes applies only with --trace", "--top", "2", "--probes", "10"},
        {"--directions applies only with --trace", "--top", "2", "--directions", "2"},
        {"--sigma applies only with --density", "--trace", "--sigma", "0.1"},
        {"--steps applies only with --density", "--top", "2", "--steps", "10"},
        {"--grid applies only with --density", "--top", "2", "--grid", "50"},
        {"--starts applies only with --density", "--top", "2", "--starts", "2"},
        {"--mc-samples applies only with --strategy kfac or diag-ggn-mc", "--top", "1", "--mc-samples", "3"},
        {"--fisher applies only with --strategy kfac", "--top", "1", "--strategy", "diag-ggn-mc", "--fisher", "sampled"},
    };
    refusesEach(cases, out, "; drop it or change the run");
    assertFalse(Files.exists(out));
  }

  /** A bad HBP_PROGRESS is refused before any work (no network printed, no pass), by each command that draws a bar. */
  @Test
  void aBadProgressSettingIsRefusedBeforeTheWork() {
    String[] curvature = {"curvature", "--net", net.toString(), "--params", params.toString(), "--batch", batch.toString(), "--backend", "cpu",
        "--dense", dir.resolve("d.npz").toString()};
    for (String[] args : new String[][] {spectrum("--top", "1", "--out", dir.resolve("p").toString()), curvature}) {
      CliRun r = ProgressCliTest.with("foo", "false", () -> hbp(args));
      r.assertExit(2);
      assertEquals("hbp: HBP_PROGRESS='foo': expected bar, lines or off\n", r.err());
      assertEquals("", r.out());
    }
  }

  /**
   * Each case {@code {message, options...}} run with {@code --out out} is refused before any output, with exactly
   * {@code hbp: message} and {@code suffix} on standard error.
   */
  private void refusesEach(String[][] cases, Path out, String suffix) {
    for (String[] c : cases) {
      String[] args = java.util.stream.Stream.concat(Arrays.stream(c, 1, c.length), java.util.stream.Stream.of("--out", out.toString()))
          .toArray(String[]::new);
      CliRun r = hbp(spectrum(args));
      r.assertExit(2);
      assertEquals("hbp: " + c[0] + suffix + "\n", r.err());
      assertEquals("", r.out());
    }
  }

  private static List<String> listing(Path d) throws Exception {
    try (var s = Files.list(d)) {
      return s.map(p -> p.getFileName().toString()).filter(n -> !n.startsWith(".")).sorted().toList();
    }
  }

  @Test
  void errorsNameTheChoices() {
    Path out = dir.resolve("err");
    CliRun unknown = hbp(spectrum("--scope", "block:9.W", "--top", "1", "--out", out.toString()));
    unknown.assertExit(2);
    unknown.assertNoStackTrace();
    assertTrue(unknown.err().contains("no parameter '9.W'") && unknown.err().contains("its parameters are 0.W (or 0.weight), 0.b (or 0.bias), 2.W (or 2.weight), 2.b (or 2.bias)"), unknown.err());
    CliRun bad = hbp(spectrum("--scope", "layers", "--top", "1", "--out", out.toString()));
    bad.assertExit(2);
    assertTrue(bad.err().contains("blocks, block:NAME or net"), bad.err());
    CliRun whole = hbp(spectrum("--scope", "net", "--strategy", "bda", "--top", "1", "--out", out.toString()));
    whole.assertExit(2);
    assertTrue(whole.err().contains("--scope net takes the exact whole-network product"), whole.err());
    CliRun nothing = hbp(spectrum("--out", out.toString()));
    nothing.assertExit(2);
    assertTrue(nothing.err().contains("--top K, --trace and/or --density"), nothing.err());
    assertTrue(!Files.exists(out), "nothing written on errors");
  }

  /** --ggn-route factored gives the whole network's GGN spectrum of --ggn-route network (FactoredGgnTest checks its products against autograd). */
  @Test
  void theFactoredGgnRouteGivesTheSameTopEigenvalues() throws Exception {
    double[][] values = new double[2][];
    int i = 0;
    for (String route : List.of("network", "factored")) {
      Path out = dir.resolve("net-" + route);
      CliRun r = hbp(spectrum("--scope", "net", "--curvature", "ggn", "--ggn-route", route, "--top", "3", "--tol", "1e-12", "--out", out.toString()));
      r.assertExit(0);
      if (route.equals("factored")) r.assertOutContains("factored GGN: columns J'S carried back in ");
      JsonNode top = new ObjectMapper().readTree(out.resolve("spectrum.json").toFile()).get("blocks").get("net").get("top").get("values");
      values[i] = new double[top.size()];
      for (int k = 0; k < top.size(); k++) values[i][k] = top.get(k).asDouble();
      i++;
    }
    assertEquals(3, values[0].length);
    for (int k = 0; k < 3; k++) assertEquals(values[0][k], values[1][k], 1e-9 * Math.max(1, Math.abs(values[0][0])), "eigenvalue " + k);
    CliRun hessian = hbp(spectrum("--scope", "net", "--curvature", "hessian", "--ggn-route", "factored", "--top", "1", "--out", dir.resolve("h").toString()));
    hessian.assertExit(2);
    assertTrue(hessian.err().contains("--ggn-route factored is a route for the GGN"), hessian.err());
  }

  /** The reviewer's case: --scope net with an approximating strategy is refused before the pass (no loss line), as is the factored route of the Hessian. */
  @Test
  void wholeNetworkScopeConflictsAreRefusedBeforeThePass() throws Exception {
    CliRun kfac = hbp(spectrum("--scope", "net", "--strategy", "kfac", "--top", "1", "--out", dir.resolve("kfac").toString()));
    kfac.assertExit(2);
    assertTrue(kfac.err().contains("--scope net takes the exact whole-network product; --strategy kfac"), kfac.err());
    assertFalse(kfac.out().contains("loss"), kfac.out());
    CliRun hessian = hbp(spectrum("--scope", "net", "--curvature", "hessian", "--ggn-route", "factored", "--top", "1", "--out", dir.resolve("h2").toString()));
    hessian.assertExit(2);
    assertFalse(hessian.out().contains("loss"), hessian.out());
  }
}
