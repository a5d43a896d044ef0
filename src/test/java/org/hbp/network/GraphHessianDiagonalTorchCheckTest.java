package org.hbp.network;

import static org.hbp.network.TorchReference.assertBlockEquals;
import static org.hbp.network.TorchReference.hbp;
import static org.hbp.network.TorchReference.loss;
import static org.hbp.network.TorchReference.runScript;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.hbp.UserError;
import org.hbp.backend.Batch;
import org.hbp.cli.Main;
import org.hbp.dsl.Dsl;
import org.hbp.dsl.ModuleSpec;
import org.hbp.io.NdArray;
import org.hbp.io.Npz;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The exact Hessian diagonal on graph networks ({@link GraphHessianDiagonal}: {@code --diagonal
 * hessian}, {@code --strategy diag-hessian}, {@link HessianDiagonal#exact}) against the diagonal of
 * PyTorch autograd's Hessian of the mean loss in all parameters at once (float64, 1e-10;
 * src/test/resources/torch/graph_hessian_diagonal.py) on: {@code skipcat} (a branch, a concat and a
 * skip {@code +}), {@code add} ({@code +} and {@code -} of branches), {@code product} ({@code .*} of
 * two branches and of a value with itself: the cross residual {@code [[0, D], [D, 0]]}),
 * {@code tied} (one linear instance used twice in a row: the cross terms between its uses and the
 * mixed residual of its second use's input and weight), {@code bilinear} and {@code repeated} (a
 * module of two inputs, whose residual is its cross block, with two values and with one value
 * twice). Besides: a skip written as a graph gives the residual-block chain's diagonal; the
 * diagonal equals that of the exact Hessian blocks (a separate, forward walk) on more graphs; a
 * general residual and column sets over the memory limit are refused by name; {@code hbp bench
 * --diagonals hessian} runs on a graph.
 */
class GraphHessianDiagonalTorchCheckTest {
  @TempDir Path dir;

  private static final List<ModuleSpec> BUILT_IN = NetworkResolver.library(List.of(Path.of("modules-spec")));

  private static String source(String name) {
    return switch (name) {
      case "skipcat" -> GraphKfacTorchCheckTest.SKIPCAT;
      case "bilinear" -> GraphMultiInputTorchCheckTest.BILINEAR;
      case "repeated" -> GraphMultiInputTorchCheckTest.BILINEAR.replace("bilinear(m = 4)(a, b)", "bilinear(m = 4)(b, b)");
      default -> GraphNetworkTorchCheckTest.source(name);
    };
  }

  @ParameterizedTest
  @ValueSource(strings = {"skipcat", "add", "product", "tied", "bilinear", "repeated"})
  void hessianDiagonalIsTheDiagonalOfAutogradsHessian(String name) throws Exception {
    runScript("graph_hessian_diagonal.py", name, dir.toString());
    Path net = dir.resolve(name + ".hbp");
    Files.writeString(net, source(name));
    Map<String, NdArray> ref = Npz.read(dir.resolve("ref.npz"));
    String[] common = {"curvature", "--net", net.toString(), "--params", dir.resolve("params.npz").toString(), "--batch",
        dir.resolve("batch.npz").toString(), "--curvature", "hessian", "--backend", "cpu"};
    Path out = dir.resolve("diag.npz"), dense = dir.resolve("dense.npz");
    String printed = hbp(concat(common, "--diagonal", "hessian", "--out", out.toString()));
    assertEquals(ref.get("loss").data()[0], loss(printed), 1e-10, "loss");
    hbp(concat(common, "--strategy", "diag-hessian", "--dense", dense.toString()));
    Map<String, NdArray> got = Npz.read(out), blocks = Npz.read(dense);
    int compared = 0;
    for (String key : ref.keySet()) {
      if (!key.startsWith("hdiag.")) continue;
      String torch = key.substring(6);
      NdArray want = ref.get(key);
      assertTrue(TorchReference.scale(want) > 0, key);
      assertBlockEquals(name + " --diagonal hessian " + torch, want, named(got, torch));
      int n = want.numel();
      double[] diagonal = new double[n * n], values = want.data();
      for (int i = 0; i < n; i++) diagonal[i * n + i] = values[i];
      assertBlockEquals(name + " --strategy diag-hessian " + torch, NdArray.of(diagonal, new int[] {n, n}), named(blocks, torch));
      compared++;
    }
    assertEquals(got.size(), compared, "every parameter compared");
    assertEquals(blocks.size(), compared, "every block compared");
  }

  /**
   * The same diagonal computed in chunks of 2 of the 5 samples (2, 2 and 1, each chunk with its own
   * pass through the graph: {@link SampleChunks}), against the same autograd reference at the same
   * tolerance.
   */
  @ParameterizedTest
  @ValueSource(strings = {"skipcat", "add", "product", "tied", "bilinear", "repeated"})
  void hessianDiagonalInChunksIsTheDiagonalOfAutogradsHessian(String name) throws Exception {
    runScript("graph_hessian_diagonal.py", name, dir.toString());
    Path net = dir.resolve(name + ".hbp");
    Files.writeString(net, source(name));
    Map<String, NdArray> ref = Npz.read(dir.resolve("ref.npz")), got = ChunkedDiagonals.compute(net, dir, "hessian", 2, 0);
    assertEquals(5, Npz.read(dir.resolve("batch.npz")).get("x").shape()[0], "a chunk of 2 must not divide the batch");
    int compared = 0;
    for (String key : ref.keySet()) {
      if (!key.startsWith("hdiag.")) continue;
      String torch = key.substring(6);
      assertTrue(TorchReference.scale(ref.get(key)) > 0, key);
      assertBlockEquals(name + " in chunks of 2 " + torch, ref.get(key), named(got, torch));
      compared++;
    }
    assertEquals(got.size(), compared, "every parameter compared");
  }

  /** The array of a PyTorch parameter name, or of hbp's name for it ({@code .W}, {@code .b}); fails naming what there is. */
  private static NdArray named(Map<String, NdArray> got, String torch) {
    NdArray a = got.containsKey(torch) ? got.get(torch) : got.get(TorchReference.ours(torch));
    assertTrue(a != null, "no array " + torch + " in " + got.keySet());
    return a;
  }

  private static String[] concat(String[] a, String... b) {
    String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }

  /**
   * A skip connection declared as a graph gives the residual block's Hessian diagonal (the chain
   * written as steps by {@link GraphHessianDiagonal.Dag#chain}, the residual block a {@code +}
   * merge, against the graph the DSL declares; one walk does both, which autograd checks on
   * chains in {@link HessianDiagonalTest} and on graphs above), with a linear layer, an
   * elementwise module (a diagonal residual inside the block) and a deeper body.
   */
  @ParameterizedTest
  @ValueSource(strings = {"linear", "tanh", "deep"})
  void aGraphSkipConnectionGivesTheResidualBlocksDiagonal(String name) {
    String[] p = GraphReductionTest.pair(name);
    Network graph = new Network(NetworkResolver.resolve(Dsl.parse(p[1], "net.hbp"), null, BUILT_IN), Network.builtIn(), NetworkCurvatureTest.BE);
    NetworkCurvatureTest.Setup s = new NetworkCurvatureTest.Setup(NetworkResolver.resolve(Dsl.parse(p[0], "net.hbp"), null, BUILT_IN), 4, 7, 2);
    Map<String, String> rename = new LinkedHashMap<>();
    for (String pair : p[2].split(",")) for (String var : List.of("W", "b")) rename.put(pair.split("=")[0] + "." + var, pair.split("=")[1] + "." + var);
    Map<String, Batch> graphParams = new LinkedHashMap<>();
    s.paramBatches.forEach((k, v) -> graphParams.put(rename.get(k), v));
    Pass ps = s.net.run(s.paramBatches, s.x, s.y), pg = graph.run(graphParams, s.x, s.y);
    Map<String, Batch> chain = HessianDiagonal.exact(ps), dag = HessianDiagonal.exact(pg);
    for (String q : rename.keySet()) GraphReductionTest.assertClose(name + " Hessian diagonal " + q, chain.get(q), dag.get(rename.get(q)));
    assertEquals(rename.size(), dag.size());
  }

  /**
   * The diagonal against the exact Hessian blocks of the same pass, which carry directions forward
   * through the graph ({@link GraphProducts}, a separate walk), on more graphs: a concat of two
   * branches and convolutions concatenated along channels besides the nets above.
   */
  @ParameterizedTest
  @ValueSource(strings = {"add", "concat", "product", "tied", "inception"})
  void hessianDiagonalIsTheDiagonalOfTheExactBlocks(String name) {
    NetworkCurvatureTest.Setup s = new NetworkCurvatureTest.Setup(NetworkResolver.resolve(Dsl.parse(source(name), name + ".hbp"), null, BUILT_IN), 3, 11, 2);
    Pass pass = s.pass();
    Curvature exact = pass.curvature(CurvatureKind.HESSIAN, Strategy.EXACT), diagonal = pass.curvature(CurvatureKind.HESSIAN, Strategy.DIAG_HESSIAN);
    Map<String, Batch> direct = HessianDiagonal.exact(pass);
    for (String p : s.net.parameterNames()) {
      double[] e = NetworkCurvatureTest.BE.toArray(exact.dense(p, 1, Curvature.DEFAULT_MEMORY_LIMIT));
      int n = (int) Math.round(Math.sqrt(e.length));
      double[] ed = new double[n * n], dd = new double[n];
      for (int i = 0; i < n; i++) {
        ed[i * n + i] = e[i * n + i];
        dd[i] = e[i * n + i];
      }
      GraphReductionTest.assertClose(name + " diag-hessian block " + p, NetworkCurvatureTest.BE.fromArray(1, 1, n, n, ed),
          diagonal.dense(p, 1, Curvature.DEFAULT_MEMORY_LIMIT));
      int[] sh = s.net.parameterShape(p);
      GraphReductionTest.assertClose(name + " Hessian diagonal " + p, NetworkCurvatureTest.BE.fromArray(1, 1, sh[0], sh[1], dd), direct.get(p));
    }
  }

  static final String GENERAL = "network general { input x: vector(5); h = linear(m = 4)(x); a = tanh(h); t = skip(h = 3)(a); z = t + h;"
      + " y = linear(m = 3)(z); loss crossentropy(y); }";

  /**
   * A module use with a general residual in one input is refused, naming the layer; so is a column
   * set over the memory limit in the walk, and the diagonal where not one sample fits the limit.
   */
  @Test
  void aGeneralResidualAndTheMemoryLimitAreRefusedByName() {
    NetworkCurvatureTest.Setup s = new NetworkCurvatureTest.Setup(NetworkResolver.resolve(Dsl.parse(GENERAL, "general.hbp"), null, BUILT_IN), 3, 5, 2);
    Pass pass = s.pass();
    UserError e = assertThrows(UserError.class, () -> HessianDiagonal.exact(pass));
    assertTrue(e.getMessage().contains("the Hessian diagonal needs diagonal residuals: layer t (skip) has a general residual"), e.getMessage());
    NetworkCurvatureTest.Setup t = new NetworkCurvatureTest.Setup(NetworkResolver.resolve(Dsl.parse(source("product"), "product.hbp"), null, BUILT_IN), 3, 5, 2);
    Pass tp = t.pass();
    UserError m = assertThrows(UserError.class, () -> GraphHessianDiagonal.sums(tp, 64));
    assertTrue(m.getMessage().startsWith("the Hessian diagonal would form 3 x "), m.getMessage());
    assertTrue(m.getMessage().contains("over the memory limit 64 B"), m.getMessage());
    UserError one = assertThrows(UserError.class, () -> HessianDiagonal.exact(tp, 64));
    assertTrue(one.getMessage().startsWith("the Hessian diagonal does not fit even one sample at a time: "), one.getMessage());
    assertTrue(m.getMessage().contains("over the memory limit 64 B"), m.getMessage());
    assertEquals(t.net.parameterNames().size(), HessianDiagonal.exact(tp, 1L << 30).size());
  }

  /** {@code hbp bench --diagonals hessian} times the Hessian diagonal of a graph network (no refusal). */
  @Test
  void benchTimesTheHessianDiagonalOfAGraph() throws Exception {
    Path net = dir.resolve("skipcat.hbp");
    Files.writeString(net, GraphKfacTorchCheckTest.SKIPCAT);
    StringWriter out = new StringWriter(), err = new StringWriter();
    int code = Main.execute(new String[] {"bench", "--net", net.toString(), "--batch", "4", "--backend", "cpu", "--repeat", "1", "--warmup", "0",
        "--strategies", "exact", "--directions", "1", "--diagonals", "hessian"}, new PrintWriter(out, true), new PrintWriter(err, true));
    assertEquals(0, code, out + "\n" + err);
    assertTrue(out.toString().contains("hessian diagonal"), out.toString());
    assertTrue(!out.toString().contains("refused"), out.toString());
  }
}
