package org.hbp.cli;

import static org.hbp.cli.CliRun.hbp;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.hbp.io.DType;
import org.hbp.io.NdArray;
import org.hbp.io.Npz;
import org.hbp.plot.RunMetrics;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --ggn-route factored} on the commands that take exact GGN products (curvature, spectrum,
 * train): the blocks themselves are checked against autograd in {@code TorchCrossCheckTest},
 * {@code LayerBlocksTorchCheckTest}, {@code GraphNetworkTorchCheckTest} and {@code
 * GraphLayerBlocksTorchCheckTest}; here the commands give what the network route gives, and refuse
 * in one line, before any work, what the route is not defined for.
 */
class GgnRouteCliTest {
  @TempDir Path dir;
  Path net, params, batch;

  @BeforeEach
  void setUp() throws Exception {
    net = dir.resolve("mlp.hbp");
    Files.writeString(net, "network mlp {\n  input x: vector(5);\n  linear(m = 4);\n  tanh;\n  linear(m = 4);\n  sigmoid;\n  linear(m = 3);\n"
        + "  loss crossentropy;\n}\n");
    Random rng = new Random(5);
    Map<String, NdArray> p = new LinkedHashMap<>();
    p.put("0.weight", CurvatureCliTest.random(rng, DType.FLOAT64, 4, 5));
    p.put("0.bias", CurvatureCliTest.random(rng, DType.FLOAT64, 4));
    p.put("2.weight", CurvatureCliTest.random(rng, DType.FLOAT64, 4, 4));
    p.put("2.bias", CurvatureCliTest.random(rng, DType.FLOAT64, 4));
    p.put("4.weight", CurvatureCliTest.random(rng, DType.FLOAT64, 3, 4));
    p.put("4.bias", CurvatureCliTest.random(rng, DType.FLOAT64, 3));
    params = dir.resolve("params.npz");
    Npz.write(params, p);
    batch = dir.resolve("batch.npz");
    Npz.write(batch, Map.of("x", CurvatureCliTest.random(rng, DType.FLOAT64, 7, 5), "y", NdArray.of(new double[] {0, 2, 1, 1, 0, 2, 1}, DType.INT64, 7)));
  }

  private String[] command(String name, String... more) {
    String[] a = {name, "--net", net.toString(), "--params", params.toString(), "--batch", batch.toString(), "--backend", "blas-f64"};
    String[] out = Arrays.copyOf(a, a.length + more.length);
    System.arraycopy(more, 0, out, a.length, more.length);
    return out;
  }

  @Test
  void theSpectrumOfEveryBlockIsTheNetworkRoutes() throws Exception {
    double[][] values = new double[2][];
    int i = 0;
    for (String route : List.of("network", "factored")) {
      Path out = dir.resolve("spectrum-" + route);
      CliRun r = hbp(command("spectrum", "--scope", "blocks", "--ggn-route", route, "--top", "2", "--tol", "1e-12", "--out", out.toString()));
      r.assertExit(0);
      if (route.equals("factored")) r.assertOutContains("factored GGN blocks: the loss factor's columns carried back in ");
      JsonNode blocks = new ObjectMapper().readTree(out.resolve("spectrum.json").toFile()).get("blocks");
      List<Double> all = new java.util.ArrayList<>();
      for (JsonNode block : blocks) for (JsonNode v : block.get("top").get("values")) all.add(v.asDouble());
      values[i++] = all.stream().mapToDouble(Double::doubleValue).toArray();
    }
    assertEquals(12, values[0].length, "two eigenvalues of each of the six blocks");
    for (int k = 0; k < values[0].length; k++) assertEquals(values[0][k], values[1][k], 1e-10 * Math.max(1, Math.abs(values[0][k])), "eigenvalue " + k);
  }

  @Test
  void cgNewtonTrainsAsWithTheNetworkRoute() throws Exception {
    Path small = dir.resolve("small.hbp");
    Files.writeString(small, "network small {\n  input x: tensor(1, 28, 28);\n  flatten;\n  linear(m = 8);\n  sigmoid;\n  linear(m = 10);\n"
        + "  loss crossentropy;\n}\n");
    List<List<RunMetrics.Row>> runs = new java.util.ArrayList<>();
    for (String route : List.of("network", "factored")) {
      Path run = dir.resolve("train-" + route);
      CliRun r = hbp("train", "--net", small.toString(), "--data", "synthetic:200,50", "--optimizer", "cg-newton", "--strategy", "exact",
          "--curvature", "ggn", "--ggn-route", route, "--epochs", "2", "--batch", "50", "--cg-maxiter", "20", "--out", run.toString(),
          "--backend", "blas-f64", "--seed", "3", "--no-plots");
      r.assertExit(0);
      runs.add(RunMetrics.read(run).rows());
    }
    assertEquals(runs.get(0).size(), runs.get(1).size());
    for (int e = 0; e < runs.get(0).size(); e++)
      assertEquals(runs.get(0).get(e).trainLoss(), runs.get(1).get(e).trainLoss(), 1e-8, "training loss after epoch " + e);
    assertTrue(runs.get(0).get(2).trainLoss() < runs.get(0).get(0).trainLoss(), "the runs train: " + runs.get(0));
    // the route changes no result beyond rounding: config.json does not record it, and a run goes on with the other route
    CliRun resumed = hbp("train", "--net", small.toString(), "--data", "synthetic:200,50", "--optimizer", "cg-newton", "--strategy", "exact",
        "--curvature", "ggn", "--ggn-route", "factored", "--epochs", "3", "--batch", "50", "--cg-maxiter", "20", "--out",
        dir.resolve("train-network").toString(), "--backend", "blas-f64", "--seed", "3", "--no-plots", "--resume");
    resumed.assertExit(0);
    assertEquals(4, RunMetrics.read(dir.resolve("train-network")).rows().size(), "epochs 0 to 3");
  }

  /**
   * {@code curvature --scope net --ggn-route factored} (the whole network's {@code FactoredGgn}) gives the network route's
   * products; the per-block route in float32 gives the network route's blocks to float's rounding.
   */
  @Test
  void wholeNetworkProductsAndFloat32BlocksAreTheNetworkRoutes() throws Exception {
    Random rng = new Random(8);
    Map<String, NdArray> v = new LinkedHashMap<>();
    int[][] shapes = {{4, 5}, {4}, {4, 4}, {4}, {3, 4}, {3}};
    String[] names = {"0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"};
    for (int i = 0; i < names.length; i++) {
      int[] shape = new int[shapes[i].length + 1];
      shape[0] = 2;
      System.arraycopy(shapes[i], 0, shape, 1, shapes[i].length);
      v.put(names[i], CurvatureCliTest.random(rng, DType.FLOAT64, shape));
    }
    Path vectors = dir.resolve("v.npz");
    Npz.write(vectors, v);
    Map<String, Map<String, NdArray>> got = new LinkedHashMap<>();
    for (String route : List.of("network", "factored")) {
      Path out = dir.resolve("net-" + route + ".npz");
      hbp(command("curvature", "--scope", "net", "--ggn-route", route, "--vectors", vectors.toString(), "--out", out.toString())).assertExit(0);
      got.put("net " + route, Npz.read(out));
      Path dense = dir.resolve("f32-" + route + ".npz");
      String[] f32 = command("curvature", "--ggn-route", route, "--dense", dense.toString());
      f32[Arrays.asList(f32).indexOf("blas-f64")] = "blas-f32";
      hbp(f32).assertExit(0);
      got.put("f32 " + route, Npz.read(dense));
    }
    for (String what : List.of("net ", "f32 ")) {
      Map<String, NdArray> a = got.get(what + "network"), b = got.get(what + "factored");
      assertEquals(a.keySet(), b.keySet());
      for (String k : a.keySet()) {
        double[] x = a.get(k).data(), y = b.get(k).data();
        double scale = 0;
        for (double e : x) scale = Math.max(scale, Math.abs(e));
        for (int i = 0; i < x.length; i++)
          assertEquals(x[i], y[i], (what.equals("net ") ? 1e-12 : 1e-5) * Math.max(1, scale), what + k + " [" + i + "]");
      }
    }
  }

  /** What the factored route is not defined for, refused in one line before the batch is read. */
  @Test
  void refusesInOneLineWhatTheRouteIsNotFor() throws Exception {
    Path out = dir.resolve("out.npz");
    Map<List<String>, String> bad = new LinkedHashMap<>();
    bad.put(List.of("--curvature", "hessian", "--dense", out.toString()),
        "--ggn-route factored is a route for the GGN; --curvature hessian goes through the network (--ggn-route network)");
    bad.put(List.of("--strategy", "kfra", "--dense", out.toString()),
        "--ggn-route factored is a route of the exact strategy's products; --strategy kfra builds its blocks its own way");
    bad.put(List.of("--diagonal", "exact", "--out", out.toString()),
        "--ggn-route factored is a route of the exact products (--vectors, --dense, --solve); --diagonal carries");
    // N r (the biases kept in their own columns + the layers' outputs kept for the weights + the loss factor's columns
    // + two of the largest output held by the walk) = 7 * 3 * ((4 + 4 + 3) + (4 + 4 + 3) + 3 + 2 * 4) * 8 bytes = 5544 bytes
    bad.put(List.of("--dense", out.toString(), "--memory-limit", "0.000001"), "--ggn-route factored needs 5.4 KiB for the loss factor's columns");
    for (Map.Entry<List<String>, String> e : bad.entrySet()) {
      List<String> args = new java.util.ArrayList<>(List.of("--ggn-route", "factored"));
      args.addAll(e.getKey());
      CliRun r = hbp(command("curvature", args.toArray(new String[0])));
      assertEquals(2, r.code(), e.getKey() + ": " + r.out() + r.err());
      assertTrue(r.err().contains(e.getValue()) && r.err().strip().lines().count() == 1, e.getKey() + ": " + r.err());
      assertFalse(r.out().contains("batch of "), e.getKey() + ": refused after the pass: " + r.out());
      assertFalse(Files.exists(out), e.getKey() + ": wrote " + out);
    }
    CliRun unknown = hbp(command("curvature", "--ggn-route", "fast", "--dense", out.toString()));
    assertEquals(2, unknown.code());
    assertEquals("hbp: --ggn-route: expected network or factored, not 'fast'\n", unknown.err());
    Path run = dir.resolve("sgd");
    CliRun sgd = hbp("train", "--net", net.toString(), "--data", "synthetic:20,10", "--optimizer", "sgd", "--ggn-route", "factored", "--out", run.toString(),
        "--no-plots");
    assertEquals(2, sgd.code(), sgd.out() + sgd.err());
    assertTrue(sgd.err().contains("--ggn-route applies only to --optimizer cg-newton"), sgd.err());
    assertFalse(Files.exists(run.resolve("metrics.csv")), "a run was started");
  }
}
