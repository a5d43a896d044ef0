package org.hbp.cli;

import static org.hbp.cli.CliRun.hbp;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.hbp.io.NdArray;
import org.hbp.io.Npz;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Which curvature a strategy computes is decided in one place for every command ({@code Curvature.checkDefined}, the strategy's
 * own {@code checkDefined}), before the batch or the data is read; without {@code --curvature}, a strategy defined for one
 * curvature computes that one (diag-hessian the Hessian) in {@code curvature}, {@code spectrum} and {@code train} alike. Before,
 * {@code curvature --strategy diag-hessian} needed {@code --curvature hessian} while {@code train --optimizer kfac} took it
 * without, and train refused the Hessian with kflr on a network without residual terms, which {@code curvature} accepts (the
 * two are equal there).
 */
class StrategyCurvatureCliTest {
  @TempDir Path dir;

  private static final String SIGMOID = "network sig {\n  input x: vector(4);\n  linear(m = 3);\n  sigmoid;\n  linear(m = 2);\n  loss crossentropy;\n}\n";
  private static final String RELU = "network rel {\n  input x: vector(4);\n  linear(m = 3);\n  relu;\n  linear(m = 2);\n  loss crossentropy;\n}\n";

  private Path params(Path file) throws Exception {
    Random r = new Random(3);
    Map<String, NdArray> p = new LinkedHashMap<>();
    p.put("0.W", NdArray.of(gaussian(r, 12), 3, 4));
    p.put("0.b", NdArray.of(gaussian(r, 3), 3));
    p.put("2.W", NdArray.of(gaussian(r, 6), 2, 3));
    p.put("2.b", NdArray.of(gaussian(r, 2), 2));
    Npz.write(file, p);
    return file;
  }

  private static double[] gaussian(Random r, int n) {
    double[] a = new double[n];
    for (int i = 0; i < n; i++) a[i] = r.nextGaussian();
    return a;
  }

  private Path batch(Path file) throws Exception {
    Random r = new Random(4);
    Npz.write(file, Map.of("x", NdArray.of(gaussian(r, 20), 5, 4), "y", NdArray.of(new double[] {0, 1, 1, 0, 1}, 5)));
    return file;
  }

  @Test
  void withoutCurvatureAStrategyComputesItsOwnInEveryCommand() throws Exception {
    Path net = dir.resolve("sig.hbp"), p = params(dir.resolve("p.npz")), b = batch(dir.resolve("b.npz"));
    Files.writeString(net, SIGMOID);
    // curvature: the dense diag-hessian blocks without --curvature are those with --curvature hessian, entry for entry
    hbp("curvature", "--net", net.toString(), "--params", p.toString(), "--batch", b.toString(), "--strategy", "diag-hessian",
        "--dense", dir.resolve("implied.npz").toString()).assertExit(0);
    hbp("curvature", "--net", net.toString(), "--params", p.toString(), "--batch", b.toString(), "--strategy", "diag-hessian",
        "--curvature", "hessian", "--dense", dir.resolve("given.npz").toString()).assertExit(0);
    Map<String, NdArray> implied = Npz.read(dir.resolve("implied.npz")), given = Npz.read(dir.resolve("given.npz"));
    assertEquals(given.keySet(), implied.keySet());
    for (String k : given.keySet()) assertArrayEquals(given.get(k).data(), implied.get(k).data(), 0.0, k);
    // and it is the Hessian's diagonal, not the GGN's: the sigmoid's residual makes them differ
    hbp("curvature", "--net", net.toString(), "--params", p.toString(), "--batch", b.toString(), "--strategy", "diag-ggn",
        "--dense", dir.resolve("ggn.npz").toString()).assertExit(0);
    assertFalse(java.util.Arrays.equals(Npz.read(dir.resolve("ggn.npz")).get("0.W").data(), implied.get("0.W").data()));
    // --diagonal hessian likewise
    CliRun r = hbp("curvature", "--net", net.toString(), "--params", p.toString(), "--batch", b.toString(), "--diagonal", "hessian",
        "--out", dir.resolve("dh.npz").toString());
    r.assertExit(0);
    assertTrue(r.out().contains("Hessian diagonal"), r.out());
    // spectrum: the header records the curvature computed
    hbp("spectrum", "--net", net.toString(), "--params", p.toString(), "--batch", b.toString(), "--strategy", "diag-hessian", "--top", "1",
        "--out", dir.resolve("s").toString()).assertExit(0);
    assertTrue(Files.readString(dir.resolve("s/spectrum.json")).contains("\"curvature\" : \"hessian\""), Files.readString(dir.resolve("s/spectrum.json")));
  }

  @Test
  void aCurvatureTheStrategyDoesNotDefineIsRefusedNamingTheLayerBeforeTheBatchIsRead() throws Exception {
    Path net = dir.resolve("sig.hbp"), p = params(dir.resolve("p.npz")), notNpz = dir.resolve("b.npz");
    Files.writeString(net, SIGMOID);
    Files.writeString(notNpz, "not an npz file: reading it would fail with another message");
    String kflr = "hbp: --strategy kflr approximates the GGN (Fisher), which has no residual terms; layer 1 (sigmoid) has a residual with "
        + "respect to 'x' that this curvature keeps; use --curvature ggn, or --strategy exact, kfra or bda\n";
    String diag = "hbp: --strategy diag-ggn is the diagonal of the GGN; use it with --curvature ggn\n";
    String[][][] cases = {
        {{"curvature", "--net", net.toString(), "--params", p.toString(), "--batch", notNpz.toString(), "--strategy", "kflr", "--curvature", "hessian",
            "--dense", dir.resolve("d.npz").toString()}, {kflr}},
        {{"curvature", "--net", net.toString(), "--params", p.toString(), "--batch", notNpz.toString(), "--strategy", "diag-ggn", "--curvature",
            "pch-abs", "--dense", dir.resolve("d.npz").toString()}, {diag}},
        {{"spectrum", "--net", net.toString(), "--params", p.toString(), "--batch", notNpz.toString(), "--strategy", "kflr", "--curvature", "hessian",
            "--top", "1", "--out", dir.resolve("s").toString()}, {kflr}},
        {{"bench", "--net", net.toString(), "--batch", "4", "--strategies", "exact,diag-ggn", "--curvature", "hessian", "--repeat", "1"},
            {"hbp: --strategy diag-ggn is the diagonal of the GGN; use it with --curvature ggn\n"}},
        {{"train", "--net", net.toString(), "--data", "synthetic:not-a-size", "--optimizer", "cg-newton", "--strategy", "kflr", "--curvature",
            "hessian", "--epochs", "1", "--out", dir.resolve("t").toString()}, {kflr}},
    };
    for (String[][] c : cases) {
      CliRun r = hbp(c[0]);
      r.assertExit(2);
      assertEquals(c[1][0], r.err(), String.join(" ", c[0]));
    }
    for (String f : new String[] {"d.npz", "s", "t"}) assertFalse(Files.exists(dir.resolve(f)), f);
  }

  @Test
  void theHessianWithKflrTrainsWhereNoLayerKeepsAResidual() throws Exception {
    // relu has no second derivative (a.e.): the Hessian is the GGN, and kflr defines it, in train as in curvature
    Path net = dir.resolve("rel.hbp");
    Files.writeString(net, RELU);
    CliRun r = hbp("train", "--net", net.toString(), "--data", "synthetic:60,20", "--optimizer", "kfac", "--strategy", "kflr", "--curvature",
        "hessian", "--batch", "20", "--epochs", "1", "--no-plots", "--out", dir.resolve("t").toString());
    r.assertExit(0);
    hbp("curvature", "--net", net.toString(), "--params", params(dir.resolve("p.npz")).toString(), "--batch", batch(dir.resolve("b.npz")).toString(),
        "--strategy", "kflr", "--curvature", "hessian", "--dense", dir.resolve("d.npz").toString()).assertExit(0);
  }
}
