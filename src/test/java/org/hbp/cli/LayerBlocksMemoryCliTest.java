package org.hbp.cli;

import static org.hbp.cli.CliRun.hbp;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.hbp.backend.Batch;
import org.hbp.backend.cpu.CpuBackend;
import org.hbp.io.DType;
import org.hbp.io.NdArray;
import org.hbp.io.Npz;
import org.hbp.network.CurvatureKind;
import org.hbp.network.MemoryEstimate;
import org.hbp.network.ModuleLibrary;
import org.hbp.network.Network;
import org.hbp.network.NetworkResolver;
import org.hbp.network.Strategy;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --memory-limit} with per-layer joint blocks: the estimate sizes the joint CG of
 * {@code hbp curvature --blocks layer --solve} and the Lanczos vectors of
 * {@code hbp spectrum --blocks layer} over all the layer's parameters (here the skip module's W1 and
 * W2, 600 entries each, one layer of 1200), so a limit that the per-parameter run fits in refuses the
 * per-layer run, in one line with the estimate by part (MemoryEstimateTest counts the parts by hand).
 */
class LayerBlocksMemoryCliTest {
  @TempDir Path dir;
  Path net, params, batch;
  Network network;

  @BeforeEach
  void setUp() throws Exception {
    net = Files.writeString(dir.resolve("sk.hbp"), "network sk {\n  input x: vector(30);\n  skip(h = 20);\n  loss crossentropy;\n}\n");
    Random rng = new Random(4);
    Map<String, NdArray> p = new LinkedHashMap<>();
    p.put("0.W1", CurvatureCliTest.random(rng, DType.FLOAT64, 20, 30));
    p.put("0.W2", CurvatureCliTest.random(rng, DType.FLOAT64, 30, 20));
    params = dir.resolve("params.npz");
    Npz.write(params, p);
    batch = dir.resolve("batch.npz");
    Npz.write(batch, Map.of("x", CurvatureCliTest.random(rng, DType.FLOAT64, 2, 30), "y", NdArray.of(new double[] {3, 17}, DType.INT64, 2)));
    network = new Network(NetworkResolver.load(net, null, ModuleLibrary.builtInSpecDirs()), ModuleLibrary.forSpecs(), new CpuBackend());
  }

  /** The estimate of the run on the test's batch of 2 (parameters of the right shapes: the estimate depends on them only by their shapes). */
  private MemoryEstimate estimate(boolean layer, MemoryEstimate.Output output) {
    Map<String, Batch> p = new LinkedHashMap<>();
    for (String name : network.parameterNames()) {
      int[] s = network.parameterShape(name);
      p.put(name, network.backend().fromArray(1, 1, s[0], s[1], new double[s[0] * s[1]]));
    }
    return MemoryEstimate.curvature(network, p, 2, CurvatureKind.GGN, Strategy.EXACT, 1, layer, output, 1, Long.MAX_VALUE);
  }

  private static String gib(long bytes) {
    return Double.toString(bytes / (double) (1L << 30));
  }

  private String[] args(String command, String blocks, String limit, String... more) {
    String[] a = {command, "--net", net.toString(), "--params", params.toString(), "--batch", batch.toString(), "--backend", "cpu",
        "--curvature", "ggn", "--blocks", blocks, "--memory-limit", limit};
    String[] out = java.util.Arrays.copyOf(a, a.length + more.length);
    System.arraycopy(more, 0, out, a.length, more.length);
    return out;
  }

  @Test
  void theJointSolveAboveTheLimitIsRefusedWhereThePerParameterSolvesFit() {
    long separate = estimate(false, MemoryEstimate.Output.SOLVE).total(), joint = estimate(true, MemoryEstimate.Output.SOLVE).total();
    assertTrue(joint > separate + 40_000, "joint " + joint + ", per parameter " + separate);
    String limit = gib((separate + joint) / 2);
    Path step = dir.resolve("step.npz");
    hbp(args("curvature", "parameter", limit, "--solve", "0.1", "--out", step.toString())).assertExit(0);
    Path layerStep = dir.resolve("layer-step.npz");
    CliRun r = hbp(args("curvature", "layer", limit, "--solve", "0.1", "--out", layerStep.toString()));
    r.assertExit(2);
    r.assertNoStackTrace();
    assertTrue(r.err().contains("not enough memory") && r.err().contains("exact joint CG solves (one per layer)") && r.err().contains("> --memory-limit"),
        r.err());
    assertEquals(1, r.err().strip().lines().count(), r.err());
    assertTrue(!Files.exists(layerStep));
  }

  /**
   * {@code --top 50}: at least 50 Lanczos vectors of the largest block, 8 * 1200 * 50 bytes for the
   * layer, half that for a parameter's block; a limit between the two runs refuses the layer's.
   */
  @Test
  void lanczosVectorsOfTheJointBlockAboveTheLimitAreRefused() {
    long rest = estimate(true, MemoryEstimate.Output.VECTORS).total(), restParameters = estimate(false, MemoryEstimate.Output.VECTORS).total();
    long limit = rest + 8L * 1200 * 50 * 3 / 4;
    assertTrue(restParameters + 8L * 600 * 50 < limit, "the per-parameter run fits");
    hbp(args("spectrum", "parameter", gib(limit), "--top", "50", "--out", dir.resolve("p").toString())).assertExit(0);
    CliRun r = hbp(args("spectrum", "layer", gib(limit), "--top", "50", "--out", dir.resolve("l").toString()));
    r.assertExit(2);
    r.assertNoStackTrace();
    assertTrue(r.err().contains("not enough memory") && r.err().contains("Lanczos vectors (the fewest the largest block needs) 468.8 KiB"), r.err());
    assertEquals(1, r.err().strip().lines().count(), r.err());
    assertTrue(!Files.exists(dir.resolve("l").resolve("spectrum.json")));
  }
}
