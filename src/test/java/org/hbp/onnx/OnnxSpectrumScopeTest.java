package org.hbp.onnx;

import static org.hbp.onnx.OnnxTorchCheckTest.hbp;
import static org.hbp.onnx.OnnxTorchCheckTest.runScript;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.EigenDecomposition_F64;
import org.hbp.cli.Main;
import org.hbp.io.NdArray;
import org.hbp.io.Npz;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code hbp spectrum --scope block:NAME} on an ONNX network names a block by the user's name, the
 * initializer's (PyTorch's {@code state_dict} key), and keys its results by it. The model's hbp layer
 * indices are not PyTorch's (a Softplus(beta=2) exports as several nodes): PyTorch's {@code 4.weight} is
 * hbp's {@code 8.W}, and hbp's {@code 4.W} is PyTorch's {@code 2.weight}. The eigenvalues are compared with
 * EJML's of autograd's dense Hessian block of the PyTorch parameter of that name.
 */
class OnnxSpectrumScopeTest {
  @TempDir Path dir;
  Path model, batch;
  Map<String, NdArray> ref;

  @BeforeEach
  void export() throws Exception {
    runScript("onnx_scope.py", dir.toString());
    model = dir.resolve("model.onnx");
    batch = dir.resolve("batch.npz");
    ref = Npz.read(dir.resolve("ref.npz"));
  }

  private JsonNode spectrum(String scope, String out, String... more) throws Exception {
    List<String> args = new ArrayList<>(List.of("spectrum", "--net", model.toString(), "--loss", "crossentropy", "--batch", batch.toString(),
        "--curvature", "hessian", "--top", "3", "--tol", "1e-12", "--scope", scope, "--out", dir.resolve(out).toString()));
    args.addAll(List.of(more));
    hbp(args.toArray(String[]::new));
    return new ObjectMapper().readTree(dir.resolve(out).resolve("spectrum.json").toFile());
  }

  private void assertTopOf(JsonNode block, String torchName) {
    double[] exact = eigenvaluesDescending(ref.get("hessian." + torchName));
    JsonNode values = block.get("top").get("values");
    assertEquals(3, values.size());
    for (int i = 0; i < 3; i++) assertEquals(exact[i], values.get(i).asDouble(), 1e-9 * Math.max(1, Math.abs(exact[0])), torchName + " eigenvalue " + i);
  }

  @Test
  void aBlockIsNamedByItsInitializerNotByHbpsLayerIndex() throws Exception {
    JsonNode json = spectrum("block:4.weight", "a");
    assertEquals(List.of("4.weight"), keys(json.get("blocks")));
    assertEquals("[\"4.weight\"]", json.get("blocks").get("4.weight").get("parameters").toString());
    assertTopOf(json.get("blocks").get("4.weight"), "4.weight");
    // hbp's own name of a parameter (as hbp import lists it) still names it; the results go by the initializer's
    JsonNode own = spectrum("block:4.W", "b");
    assertEquals(List.of("2.weight"), keys(own.get("blocks")));
    assertTopOf(own.get("blocks").get("2.weight"), "2.weight");
  }

  /**
   * The bias-free Linear (PyTorch's 6.weight) exported with constant folding is the MatMul's transposed initializer
   * onnx::MatMul_*: its name names the block, whose results go by hbp's name (10.W), as all results of a transposed
   * initializer do (InitializerNames), and the plot is one file.
   */
  @Test
  void aTransposedInitializerNamesItsBlockWhoseResultsGoByHbpsName() throws Exception {
    String source = OnnxImporter.load(model, "crossentropy", List.of()).sources().get("10.W");
    assertTrue(source.startsWith("onnx::MatMul_") && source.endsWith(" (transposed)"), source);
    String folded = source.substring(0, source.length() - " (transposed)".length());
    JsonNode json = spectrum("block:" + folded, "c", "--density", "--grid", "50", "--steps", "10", "--starts", "2");
    assertEquals(List.of("10.W"), keys(json.get("blocks")));
    assertTopOf(json.get("blocks").get("10.W"), "6.weight");
    assertEquals("density-10.W.png", json.get("blocks").get("10.W").get("density").get("plot").asText());
    assertTrue(Files.isRegularFile(dir.resolve("c").resolve("density-10.W.png")));
  }

  @Test
  void everyBlockIsKeyedByItsInitializerAndAnUnknownNameListsThem() throws Exception {
    JsonNode json = spectrum("blocks", "d");
    List<String> names = Files.readAllLines(dir.resolve("names.txt")).stream().filter(s -> !s.isBlank()).toList();
    List<String> keys = keys(json.get("blocks"));
    assertEquals(names.size(), keys.size(), keys.toString());
    assertTrue(keys.contains("10.W") && keys.contains("4.weight") && keys.contains("2.weight"), keys.toString());
    for (String k : keys) assertTopOf(json.get("blocks").get(k), k.equals("10.W") ? "6.weight" : k); // the transposed initializer by hbp's name
    StringWriter out = new StringWriter(), err = new StringWriter();
    int code = Main.execute(new String[] {"spectrum", "--net", model.toString(), "--loss", "crossentropy", "--batch", batch.toString(), "--top", "1",
        "--scope", "block:9.weight", "--out", dir.resolve("e").toString()}, new PrintWriter(out, true), new PrintWriter(err, true));
    assertEquals(2, code);
    assertTrue(err.toString().startsWith("hbp: --scope block:9.weight: the network has no parameter '9.weight'; its parameters are 0.weight, 0.bias, 2.weight"),
        err.toString());
    assertTrue(!err.toString().contains("4.W"), err.toString());
  }

  private static List<String> keys(JsonNode node) {
    List<String> out = new ArrayList<>();
    node.fieldNames().forEachRemaining(out::add);
    return out;
  }

  private static double[] eigenvaluesDescending(NdArray square) {
    int n = square.shape()[0];
    EigenDecomposition_F64<DMatrixRMaj> eig = DecompositionFactory_DDRM.eig(n, false, true);
    assertTrue(eig.decompose(new DMatrixRMaj(n, n, true, square.data())));
    double[] v = new double[n];
    for (int i = 0; i < n; i++) v[i] = -eig.getEigenvalue(i).getReal();
    Arrays.sort(v);
    for (int i = 0; i < n; i++) v[i] = -v[i];
    return v;
  }
}
