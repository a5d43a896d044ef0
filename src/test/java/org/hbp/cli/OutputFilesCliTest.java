package org.hbp.cli;

import static org.hbp.cli.CliRun.hbp;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.hbp.io.DType;
import org.hbp.io.NdArray;
import org.hbp.io.Npy;
import org.hbp.io.Npz;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every command that writes files: an output that is one of its inputs (or another output) is
 * refused before any work and the input is left byte for byte; an existing output is refused
 * without {@code --overwrite} and replaced with it; a refused training leaves no run folder.
 */
class OutputFilesCliTest {
  @TempDir Path dir;
  Path net, params, batch, vectors;

  @BeforeEach
  void setUp() throws Exception {
    net = dir.resolve("mlp.hbp");
    Files.writeString(net, "network mlp {\n  input x: vector(5);\n  linear(m = 4);\n  sigmoid;\n  linear(m = 3);\n  loss crossentropy;\n}\n");
    Random rng = new Random(1);
    Map<String, NdArray> p = new LinkedHashMap<>();
    p.put("0.W", CurvatureCliTest.random(rng, DType.FLOAT64, 4, 5));
    p.put("0.b", CurvatureCliTest.random(rng, DType.FLOAT64, 4));
    p.put("2.W", CurvatureCliTest.random(rng, DType.FLOAT64, 3, 4));
    p.put("2.b", CurvatureCliTest.random(rng, DType.FLOAT64, 3));
    params = dir.resolve("params.npz");
    Npz.write(params, p);
    Map<String, NdArray> b = new LinkedHashMap<>();
    b.put("x", CurvatureCliTest.random(rng, DType.FLOAT64, 6, 5));
    b.put("y", NdArray.of(new double[] {0, 2, 1, 1, 0, 2}, DType.INT64, 6));
    batch = dir.resolve("batch.npz");
    Npz.write(batch, b);
    Map<String, NdArray> v = new LinkedHashMap<>();
    for (var e : p.entrySet()) {
      int[] shape = new int[e.getValue().shape().length + 1];
      shape[0] = 2;
      System.arraycopy(e.getValue().shape(), 0, shape, 1, shape.length - 1);
      v.put(e.getKey(), CurvatureCliTest.random(rng, DType.FLOAT64, shape));
    }
    vectors = dir.resolve("V.npz");
    Npz.write(vectors, v);
  }

  private String[] curvature(String... more) {
    return concat(new String[] {"curvature", "--net", net.toString(), "--params", params.toString(), "--batch", batch.toString()}, more);
  }

  private static String[] concat(String[] a, String... more) {
    String[] out = java.util.Arrays.copyOf(a, a.length + more.length);
    System.arraycopy(more, 0, out, a.length, more.length);
    return out;
  }

  /** Runs {@code args}, which must be refused in one line containing {@code parts}, and checks that {@code kept} are unchanged. */
  private static void refused(String[] args, List<Path> kept, String... parts) throws Exception {
    List<byte[]> before = new java.util.ArrayList<>();
    for (Path k : kept) before.add(Files.readAllBytes(k));
    CliRun r = hbp(args);
    r.assertExit(2);
    r.assertNoStackTrace();
    assertEquals(1, r.err().lines().count(), r.err());
    for (String p : parts) assertTrue(r.err().contains(p), () -> "expected '" + p + "' in: " + r.err());
    assertEquals("", r.out(), "nothing is computed before the refusal");
    for (int i = 0; i < kept.size(); i++) assertArrayEquals(before.get(i), Files.readAllBytes(kept.get(i)), kept.get(i).toString());
  }

  @Test
  void curvatureRefusesToWriteOverItsInputs() throws Exception {
    List<Path> all = List.of(net, params, batch, vectors);
    refused(curvature("--dense", params.toString()), all, "--dense " + params + " is the same file as --params " + params);
    refused(curvature("--diagonal", "exact", "--out", batch.toString()), all, "--out " + batch + " is the same file as --batch " + batch);
    refused(curvature("--vectors", vectors.toString(), "--out", vectors.toString()), all, "--out " + vectors + " is the same file as --vectors");
    refused(curvature("--dense", net.toString()), all, "--dense " + net + " is the same file as --net " + net);
    refused(curvature("--solve", "0.5", "--out", params.toString(), "--overwrite"), all, "--out", "--params");
    // other spellings of the same file: a link, a relative path with ..
    Path link = Files.createSymbolicLink(dir.resolve("link.npz"), params.getFileName());
    refused(curvature("--dense", link.toString(), "--overwrite"), all, "--dense " + link, "--params " + params, params.toRealPath().toString());
    Files.createDirectory(dir.resolve("sub"));
    Path dotted = Path.of("").toAbsolutePath().relativize(dir.resolve("sub/../batch.npz"));
    refused(curvature("--dense", dotted.toString()), all, "--dense " + dotted, "--batch " + batch);
  }

  @Test
  void curvatureReplacesAnExistingOutputOnlyWithOverwrite() throws Exception {
    Path fresh = dir.resolve("fresh.npz"), out = dir.resolve("out.npz");
    hbp(curvature("--dense", fresh.toString())).assertExit(0);
    Files.writeString(out, "mine");
    refused(curvature("--dense", out.toString()), List.of(out), "--dense " + out + " already exists", "--overwrite");
    refused(curvature("--diagonal", "exact", "--out", out.toString()), List.of(out), "--out " + out + " already exists", "--overwrite");
    hbp(curvature("--dense", out.toString(), "--overwrite")).assertExit(0);
    assertArrayEquals(Files.readAllBytes(fresh), Files.readAllBytes(out)); // the same computation's file, written whole over "mine"
  }

  @Test
  void deriveRefusesToWriteOverItsInputAndReplacesOnlyWithOverwrite() throws Exception {
    double[] x = {0.5, -1, 2}, a = {1, 2, 0, -1, 3, 1, 0.5, 0, 2}; // A row-major 3 x 3
    Path xc = dir.resolve("xc.npy"), am = dir.resolve("A.npy"), out = dir.resolve("d.npy");
    Npy.write(xc, NdArray.of(x, 3));
    Npy.write(am, NdArray.of(a, 3, 3));
    String[] args = {"derive", "-e", "x'*A*x", "--var", "x:vector(n)", "--var", "A:matrix(n,n)", "--wrt", "x", "--at", "x=" + xc, "--at", "A=" + am};
    refused(concat(args, "--out", xc.toString()), List.of(xc, am), "--out " + xc + " is the same file as --at x " + xc);
    refused(concat(args, "--out", am.toString(), "--overwrite"), List.of(xc, am), "--out " + am + " is the same file as --at A " + am);
    Files.writeString(out, "mine");
    refused(concat(args, "--out", out.toString()), List.of(out), "--out " + out + " already exists", "--overwrite");
    hbp(concat(args, "--out", out.toString(), "--overwrite")).assertExit(0);
    // d(x'Ax)/dx = x'(A + A'), from the definition
    double[] expected = new double[3];
    for (int j = 0; j < 3; j++) for (int i = 0; i < 3; i++) expected[j] += x[i] * (a[i * 3 + j] + a[j * 3 + i]);
    NdArray d = Npy.read(out);
    assertArrayEquals(new int[] {1, 3}, d.shape());
    for (int j = 0; j < 3; j++) assertEquals(expected[j], d.get(0, j), 1e-12);
  }

  @Test
  void importRefusesOneFileForBothOutputsAndItsModel() throws Exception {
    Path model = dir.resolve("m.onnx"), imp = dir.resolve("imp.hbp");
    Files.copy(Path.of("examples/mlp.onnx"), model);
    CliRun r = hbp("import", model.toString(), "--loss", "crossentropy", "--out", imp.toString(), "--params-out", imp.toString());
    r.assertExit(2);
    assertTrue(r.err().contains("--params-out " + imp + " is the same file as --out " + imp), r.err());
    assertFalse(Files.exists(imp), "nothing written");
    refused(new String[] {"import", model.toString(), "--loss", "crossentropy", "--params-out", model.toString(), "--overwrite"}, List.of(model),
        "--params-out " + model + " is the same file as MODEL.onnx " + model);
    hbp("import", model.toString(), "--loss", "crossentropy", "--out", imp.toString(), "--params-out", dir.resolve("imp.npz").toString()).assertExit(0);
    assertTrue(Files.readString(imp).contains("network"), "the network file is whole");
    assertEquals(4, Npz.read(dir.resolve("imp.npz")).size());
  }

  /** The spec files a network's modules are read from (--map's file, the specs of a --specs folder) are inputs too, checked before they are parsed. */
  @Test
  void outputsNeverReplaceTheSpecFilesTheyRead() throws Exception {
    Path model = dir.resolve("m.onnx");
    Files.copy(Path.of("examples/mlp.onnx"), model);
    Path specs = Files.createDirectory(dir.resolve("specs"));
    Path mine = Files.writeString(specs.resolve("mytanh.hbp"), Files.readString(Path.of("modules-spec/tanh.hbp")).replace("module tanh", "module mytanh"));
    refused(new String[] {"import", model.toString(), "--loss", "crossentropy", "--map", "Tanh=" + mine + ":mytanh", "--out", mine.toString(),
        "--overwrite"}, List.of(mine), "--out " + mine + " is the same file as --map " + mine);
    refused(new String[] {"import", model.toString(), "--loss", "crossentropy", "--specs", specs.toString(), "--out",
        specs.resolve("./mytanh.hbp").toString(), "--overwrite"}, List.of(mine), "is the same file as --specs " + mine);
    refused(new String[] {"bench", "--net", net.toString(), "--specs", specs.toString(), "--batch", "2", "--repeat", "1", "--warmup", "0",
        "--strategies", "exact", "--directions", "1", "--backend", "cpu", "--out", mine.toString(), "--overwrite"}, List.of(mine),
        "--out " + mine + " is the same file as --specs " + mine);
    refused(curvature("--specs", specs.toString(), "--dense", mine.toString(), "--overwrite"), List.of(mine),
        "--dense " + mine + " is the same file as --specs " + mine);
  }

  @Test
  void gradientsRefusesItsInputsAndExistingFilesInItsFolder() throws Exception {
    Path out = Files.createDirectory(dir.resolve("g"));
    Path inside = out.resolve("batch_grad.npz");
    Files.copy(batch, inside);
    String[] base = {"gradients", "--net", net.toString(), "--params", params.toString(), "--out", out.toString(), "--backend", "cpu"};
    refused(concat(base, "--batch", inside.toString(), "--overwrite"), List.of(inside), "--out " + inside + " is the same file as --batch " + inside);
    Files.delete(inside);
    Path fresh = dir.resolve("fresh");
    hbp("gradients", "--net", net.toString(), "--params", params.toString(), "--batch", batch.toString(), "--out", fresh.toString(),
        "--backend", "cpu").assertExit(0);
    Files.writeString(out.resolve("batch_l2.npz"), "mine");
    refused(concat(base, "--batch", batch.toString()), List.of(out.resolve("batch_l2.npz")),
        "--out " + out + " already holds batch_l2.npz of an earlier run", "--overwrite");
    assertFalse(Files.exists(out.resolve("batch_grad.npz")), "nothing written");
    hbp(concat(base, "--batch", batch.toString(), "--overwrite")).assertExit(0);
    for (String f : GradientsCommand.FILES) assertArrayEquals(Files.readAllBytes(fresh.resolve(f)), Files.readAllBytes(out.resolve(f)), f);
  }

  @Test
  void spectrumRefusesAnInputInsideItsFolder() throws Exception {
    Path out = Files.createDirectory(dir.resolve("s"));
    Path inside = out.resolve(SpectrumCommand.EIGENVECTORS);
    Files.copy(params, inside);
    refused(new String[] {"spectrum", "--net", net.toString(), "--params", inside.toString(), "--batch", batch.toString(), "--top", "1", "--out",
        out.toString(), "--overwrite", "--backend", "cpu"}, List.of(inside), "--out " + inside + " is the same file as --params " + inside);
    assertFalse(Files.exists(out.resolve(SpectrumCommand.JSON)));
  }

  @Test
  void benchRefusesItsNetAndAnExistingJson() throws Exception {
    String[] base = {"bench", "--net", net.toString(), "--batch", "2", "--repeat", "1", "--warmup", "0", "--strategies", "exact", "--directions", "1",
        "--backend", "cpu"};
    refused(concat(base, "--out", net.toString(), "--overwrite"), List.of(net), "--out " + net + " is the same file as --net " + net);
    Path json = Files.writeString(dir.resolve("b.json"), "mine");
    refused(concat(base, "--out", json.toString()), List.of(json), "--out " + json + " already exists", "--overwrite");
    hbp(concat(base, "--out", json.toString(), "--overwrite")).assertExit(0);
    assertTrue(Files.readString(json).contains("\"backend\""), Files.readString(json));
  }

  @Test
  void trainRefusesABatchLargerThanTheDataBeforeMakingItsFolder() throws Exception {
    Path small = dir.resolve("small.hbp");
    Files.writeString(small, "network small {\n  input x: tensor(1, 28, 28);\n  flatten;\n  linear(m = 10);\n  loss crossentropy;\n}\n");
    Path run = dir.resolve("run7");
    String[] args = {"train", "--net", small.toString(), "--data", "synthetic:200,100", "--optimizer", "sgd", "--lr", "0.1", "--epochs", "2", "--out",
        run.toString(), "--backend", "cpu", "--no-plots"};
    CliRun r = hbp(concat(args, "--batch", "500"));
    r.assertExit(2);
    assertTrue(r.err().contains("--batch 500 is larger than the training set (200 samples)"), r.err());
    assertFalse(Files.exists(run), "a refused run leaves no folder");
    hbp(concat(args, "--batch", "50")).assertExit(0);
    assertTrue(Files.exists(run.resolve("checkpoint.npz")));
  }
}
