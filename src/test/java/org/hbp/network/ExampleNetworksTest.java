package org.hbp.network;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.backend.cpu.CpuBackend;
import org.hbp.io.DType;
import org.hbp.io.NdArray;
import org.hbp.io.Npz;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The networks in networks/ resolve and run; the README's Java example works as written. */
class ExampleNetworksTest {
  @TempDir Path dir;
  final Backend be = new CpuBackend();

  static Map<String, Batch> randomParameters(Network net, Backend be, Random rng) {
    Map<String, Batch> p = new LinkedHashMap<>();
    for (String name : net.parameterNames()) {
      int[] s = net.parameterShape(name);
      double[] d = new double[s[0] * s[1]];
      for (int i = 0; i < d.length; i++) d[i] = rng.nextGaussian() / Math.sqrt(s[1]);
      p.put(name, be.fromArray(1, 1, s[0], s[1], d));
    }
    return p;
  }

  @Test
  void thePapersNetsResolveWithTheirShapes() {
    NetworkSpec fc = NetworkResolver.load(Path.of("networks/fc.hbp"), null, List.of(Path.of("modules-spec")));
    assertEquals(List.of(10), fc.body().get(fc.body().size() - 1).outputShape());
    Network fcNet = new Network(fc, Network.builtIn(), be);
    assertEquals(16, fcNet.parameterNames().size());
    assertEquals("[1024, 3072]", java.util.Arrays.toString(fcNet.parameterShape("1.W")));
    NetworkSpec c4d3 = NetworkResolver.load(Path.of("networks/c4d3.hbp"), null, List.of(Path.of("modules-spec")));
    Network cnn = new Network(c4d3, Network.builtIn(), be);
    assertEquals("[512, 2048]", java.util.Arrays.toString(cnn.parameterShape("11.W")));
    NetworkSpec res = NetworkResolver.load(Path.of("networks/resnet.hbp"), null, List.of(Path.of("modules-spec")));
    assertEquals(12, new Network(res, Network.builtIn(), be).parameterNames().size());
  }

  @Test
  void c4d3RunsExactProductsAndRefusesExplicitMatricesThatDoNotFit() {
    Network net = new Network(NetworkResolver.load(Path.of("networks/c4d3.hbp"), null, List.of(Path.of("modules-spec"))), Network.builtIn(), be);
    Random rng = new Random(1);
    double[] x = new double[2 * 3 * 1024];
    for (int i = 0; i < x.length; i++) x[i] = rng.nextGaussian();
    Batch y = be.fromArray(2, 1, 10, 1, new double[] {1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0});
    Pass pass = net.run(randomParameters(net, be, rng), be.fromArray(2, 1, 3, 1024, x), y);
    assertTrue(Double.isFinite(pass.loss()));
    Curvature exact = pass.curvature(CurvatureKind.GGN, Strategy.EXACT);
    Batch hv = exact.matProd("2.b", be.fill(16, 1, 1.0));
    double dot = 0;
    for (double v : be.toArray(hv)) dot += v; // v' G v for v = ones: a GGN block is PSD
    assertTrue(dot >= 0, "v'Gv = " + dot);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> pass.curvature(CurvatureKind.GGN, Strategy.KFRA));
    assertTrue(e.getMessage().startsWith("layer 1 (sigmoid): the explicit batch-averaged Hessians of its output and input have 16384 x 16384 and 16384 x 16384 entries"),
        e.getMessage());
  }

  /**
   * networks/c4d3-graph.hbp is c4d3 declared as a graph: with the same parameters and batch its loss and
   * whole-network GGN and Hessian products (every parameter, 2 directions) are the chain's to 1e-10. The chain is
   * networks/c4d3.hbp with each max-pool moved before its sigmoid (the same function: sigmoid is increasing), so
   * that it takes no sigmoid and max-pool pair, while the graph's products take two (GraphProducts): the two
   * sides share neither the traversal nor the pairs.
   */
  @Test
  void c4d3AsAGraphIsTheChain() throws Exception {
    List<Path> lib = List.of(Path.of("modules-spec"));
    String poolFirst = Files.readString(Path.of("networks/c4d3.hbp")).replace("sigmoid;\n  maxpool(k = 2);", "maxpool(k = 2);\n  sigmoid;");
    Path chainFile = Files.writeString(dir.resolve("c4d3-pool-first.hbp"), poolFirst);
    Network chain = new Network(NetworkResolver.load(chainFile, null, lib), Network.builtIn(), be);
    Network graph = new Network(NetworkResolver.load(Path.of("networks/c4d3-graph.hbp"), null, lib), Network.builtIn(), be);
    assertTrue(graph.isGraph());
    Random rng = new Random(3);
    Map<String, Batch> params = randomParameters(chain, be, rng), graphParams = new java.util.LinkedHashMap<>();
    Map<String, Batch> dirs = new java.util.LinkedHashMap<>(), graphDirs = new java.util.LinkedHashMap<>();
    List<String> names = chain.parameterNames(), graphNames = graph.parameterNames();
    assertEquals(names.size(), graphNames.size());
    for (int i = 0; i < names.size(); i++) {
      int[] s = chain.parameterShape(names.get(i));
      assertArrayEquals(s, graph.parameterShape(graphNames.get(i)), graphNames.get(i));
      graphParams.put(graphNames.get(i), params.get(names.get(i)));
      double[] d = new double[2 * s[0] * s[1]];
      for (int k = 0; k < d.length; k++) d[k] = rng.nextGaussian();
      dirs.put(names.get(i), be.fromArray(1, 2, s[0], s[1], d));
      graphDirs.put(graphNames.get(i), dirs.get(names.get(i)));
    }
    double[] x = new double[2 * 3 * 1024];
    for (int i = 0; i < x.length; i++) x[i] = rng.nextGaussian();
    Batch y = be.fromArray(2, 1, 10, 1, new double[] {0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0});
    Pass pc = chain.run(params, be.fromArray(2, 1, 3, 1024, x), y), pg = graph.run(graphParams, be.fromArray(2, 1, 3, 1024, x), y);
    for (int i = 0; i < chain.body.size(); i++) assertEquals(null, DiagonalSelections.after(pc, chain.body, i), "a pair in the pool-first chain at " + i);
    int pairs = 0;
    for (GraphPasses.Step s : graph.graph) if (s.layer() != null && graph.graphPairs.selectedAt(pg, s.layer()) != null) pairs++;
    assertEquals(2, pairs, "the graph's sigmoid and max-pool pairs");
    assertEquals(pc.loss(), pg.loss(), 1e-12, "loss");
    for (CurvatureKind kind : List.of(CurvatureKind.GGN, CurvatureKind.HESSIAN)) {
      Map<String, Batch> a = pc.networkProduct(kind, dirs), b = pg.networkProduct(kind, graphDirs);
      for (int i = 0; i < names.size(); i++)
        assertClose("c4d3 " + kind + " " + names.get(i), a.get(names.get(i)), b.get(graphNames.get(i)));
    }
  }

  /** Entries equal to 1e-10 relative to max(1, the largest entry), and not all zero. */
  private void assertClose(String what, Batch expected, Batch got) {
    assertTrue(GraphReductionTest.assertClose(what, be.toArray(expected), be.toArray(got)) > 1e-8, what + ": the chain's product vanishes");
  }

  /** The README's "From Java" example, verbatim but for the files it reads. */
  @Test
  void readmeJavaExample() throws Exception {
    Random rng = new Random(3);
    Map<String, NdArray> pz = new LinkedHashMap<>();
    NetworkSpec probe = NetworkResolver.load(Path.of("networks/resnet.hbp"), null, ModuleLibrary.builtInSpecDirs());
    Network probeNet = new Network(probe, ModuleLibrary.forSpecs(), be);
    for (String name : probeNet.parameterNames()) {
      int[] s = new TorchLayout(probeNet).torchShape(name);
      int n = 1;
      for (int d : s) n *= d;
      double[] d = new double[n];
      for (int i = 0; i < n; i++) d[i] = rng.nextGaussian() * 0.3;
      pz.put(name, NdArray.of(d, s));
    }
    Path paramsFile = dir.resolve("params.npz"), batchFile = dir.resolve("batch.npz");
    Npz.write(paramsFile, pz);
    double[] xs = new double[5 * 16];
    for (int i = 0; i < xs.length; i++) xs[i] = rng.nextGaussian();
    Npz.write(batchFile, Map.of("x", NdArray.of(xs, 5, 16), "y", NdArray.of(new double[] {0, 1, 2, 3, 0}, DType.INT64, 5)));
    Batch v = be.fill(32, 16, 0.1);

    NetworkSpec spec = NetworkResolver.load(Path.of("networks/resnet.hbp"), null, ModuleLibrary.builtInSpecDirs());
    Network net = new Network(spec, ModuleLibrary.forSpecs(), new CpuBackend());
    TorchLayout io = new TorchLayout(net);
    Map<String, Batch> params = io.parameters(Npz.read(paramsFile), "params.npz");
    Map<String, NdArray> b = Npz.read(batchFile);
    Batch x = io.inputs(b.get("x"), "batch.npz"), y = io.targets(b.get("y"), x.samples(), "batch.npz");
    Pass pass = net.run(params, x, y);
    Curvature c = pass.curvature(CurvatureKind.PCH_ABS, Strategy.BDA);
    Batch hv = c.matProd("0.W", v);
    ConjugateGradient.Result step = ConjugateGradient.solve(net.backend(), u -> c.matProd("0.W", u), 0.02,
        net.backend().scale(pass.gradient("0.W"), -1), ConjugateGradient.Settings.defaults());
    pass.close();

    assertEquals(32, hv.rows());
    assertTrue(step.iterations() > 0);
    assertTrue(Files.exists(paramsFile));
  }
}
