package org.hbp.onnx;

import static org.hbp.onnx.OnnxTorchCheckTest.runScript;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.hbp.cli.Main;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bad input to the ONNX import: each is one line on standard error with exit status 2 (a
 * {@link org.hbp.UserError}), naming the file and the node, and no file is overwritten. The models
 * come from src/test/resources/torch/onnx_check.py (PyTorch's exporter).
 */
class OnnxImportErrorsTest {
  @TempDir Path dir;

  /** Exit status and the error output of {@code hbp args}. */
  private record Run(int code, String out, String err) {}

  private static Run hbp(String... args) {
    StringWriter out = new StringWriter(), err = new StringWriter();
    int code = Main.execute(args, new PrintWriter(out, true), new PrintWriter(err, true));
    return new Run(code, out.toString(), err.toString());
  }

  private static void assertUserError(Run r, String... parts) {
    assertEquals(2, r.code(), r.out() + r.err());
    for (String p : parts) assertTrue(r.err().contains(p), "'" + p + "' not in: " + r.err());
    assertFalse(r.err().contains("\tat "), "a stack trace: " + r.err());
  }

  private static String lossLine(String out) {
    for (String line : out.split("\n")) if (line.startsWith("batch of ")) return line;
    throw new AssertionError("no loss in: " + out);
  }

  @Test
  void unknownOperatorNamesOpTypeAndNodeAndSaysHowToMapIt() throws Exception {
    runScript("onnx_check.py", dir.toString(), "custom");
    Path model = dir.resolve("model.onnx");
    assertUserError(hbp("import", model.toString(), "--loss", "crossentropy"),
        model.toString(), "node 1 '/1/Mul' (Mul)", "no built-in mapping for the ONNX operator Mul", "--map Mul=my-specs/op.hbp:module");
    // the same through --net
    assertUserError(hbp("curvature", "--net", model.toString(), "--loss", "crossentropy", "--batch", dir.resolve("batch.npz").toString(), "--dense",
        dir.resolve("d.npz").toString()), "node 1 '/1/Mul' (Mul)", "--map Mul=");
    // a mapped operator that has attributes is refused
    Path spec = dir.resolve("mine.hbp");
    Files.writeString(spec, "module mine {\n  dims n;\n  input x: vector(n);\n  output z = x;\n}\n");
    assertUserError(hbp("import", model.toString(), "--loss", "crossentropy", "--map", "Gemm=" + spec + ":mine"),
        "node 0 '/0/Gemm' (Gemm)", "has attributes (alpha, beta, transB)", "operators without attributes only");
    // a --map naming no module of the file
    assertUserError(hbp("import", model.toString(), "--loss", "crossentropy", "--map", "Mul=" + spec + ":nosuch"),
        "--map Mul=" + spec + ":nosuch", "no module 'nosuch'", "mine");
    assertUserError(hbp("import", model.toString(), "--loss", "crossentropy", "--map", "Mul"), "expected OpType=spec-file.hbp:module");
  }

  @Test
  void aSkipConnectionImportsToTheGraphFormAndItsWrittenFilesGiveTheSameCurvature() throws Exception {
    runScript("onnx_check.py", dir.toString(), "residual");
    Path model = dir.resolve("model.onnx"), net = dir.resolve("net.hbp"), params = dir.resolve("params.npz");
    Run r = hbp("import", model.toString(), "--loss", "crossentropy", "--out", net.toString(), "--params-out", params.toString());
    assertEquals(0, r.code(), r.err());
    String text = Files.readString(net);
    assertTrue(text.contains("  v0 = linear(m = 4)(x);") && text.contains("  v2 = v0 + v1;") && text.contains("  loss crossentropy(v3);"), text);
    String[] batch = {"--batch", dir.resolve("batch.npz").toString(), "--curvature", "hessian"};
    Run viaFiles = hbp(OnnxTorchCheckTest.concat(new String[] {"curvature", "--net", net.toString(), "--params", params.toString(), "--dense",
        dir.resolve("a.npz").toString()}, batch));
    Run direct = hbp(OnnxTorchCheckTest.concat(new String[] {"curvature", "--net", model.toString(), "--loss", "crossentropy", "--dense",
        dir.resolve("b.npz").toString()}, batch));
    assertEquals(0, viaFiles.code(), viaFiles.err());
    assertEquals(0, direct.code(), direct.err());
    assertEquals(lossLine(direct.out()), lossLine(viaFiles.out()));
    var a = org.hbp.io.Npz.read(dir.resolve("a.npz"));
    var b = org.hbp.io.Npz.read(dir.resolve("b.npz"));
    assertEquals(a.size(), b.size(), b.keySet().toString());
    assertEquals(6, b.size(), b.keySet().toString());
    // the .onnx net's results go by the initializers' names, the written net's by hbp's
    ImportedNetwork imported = OnnxImporter.load(model, "crossentropy", java.util.List.of());
    InitializerNames names = new InitializerNames(imported);
    for (String k : a.keySet()) assertEquals(a.get(k), b.get(names.name(k)), k);
  }

  @Test
  void aFileThatIsNotOnnxIsNamed() throws Exception {
    Path bad = dir.resolve("notes.onnx");
    Files.writeString(bad, "this is not a protobuf\n");
    assertUserError(hbp("import", bad.toString(), "--loss", "mse"), bad.toString(), "not an ONNX model");
    assertUserError(hbp("import", dir.resolve("missing.onnx").toString(), "--loss", "mse"), "ONNX file not found: " + dir.resolve("missing.onnx"));
  }

  @Test
  void theLossIsRequiredForAnOnnxNetAndRefusedForADslNet() throws Exception {
    runScript("onnx_check.py", dir.toString(), "mlp");
    Path model = dir.resolve("model.onnx"), batch = dir.resolve("batch.npz");
    assertUserError(hbp("curvature", "--net", model.toString(), "--batch", batch.toString(), "--dense", dir.resolve("d.npz").toString()),
        model.toString(), "holds no loss", "--loss");
    assertUserError(hbp("import", model.toString()), "--loss");
    Path net = dir.resolve("net.hbp");
    Files.writeString(net, "network n {\n  input x: vector(6);\n  linear(m = 3);\n  loss crossentropy;\n}\n");
    assertUserError(hbp("curvature", "--net", net.toString(), "--loss", "mse", "--batch", batch.toString(), "--dense", dir.resolve("d.npz").toString()),
        "--loss applies to an ONNX --net");
    assertUserError(hbp("curvature", "--net", net.toString(), "--batch", batch.toString(), "--dense", dir.resolve("d.npz").toString()),
        "--params P.npz is required");
  }

  @Test
  void importWritesTheNetworkAndParametersAndRefusesToOverwrite() throws Exception {
    runScript("onnx_check.py", dir.toString(), "cnn");
    Path model = dir.resolve("model.onnx"), net = dir.resolve("net.hbp"), params = dir.resolve("params.npz");
    Run r = hbp("import", model.toString(), "--loss", "mse", "--out", net.toString(), "--params-out", params.toString());
    assertEquals(0, r.code(), r.err());
    String text = Files.readString(net);
    assertTrue(text.contains("conv2d(cout = 3, k = 3, s = 2, p = 1, d = 1);") && text.contains("conv2d_nobias(cout = 4, k = 2, s = 1, p = 1, d = 1);")
        && text.contains("conv2d(cout = 4, k = 3, s = 1, p = 2, d = 2);") && text.contains("maxpool(k = 2);") && text.contains("zeropad(p = 1);") && text.contains("avgpool(k = 2);")
        && text.contains("flatten;") && text.contains("linear(m = 3);") && text.contains("loss mse;"), text);
    // the written network and parameters give what the .onnx file gives directly
    String[] batch = {"--batch", dir.resolve("batch.npz").toString(), "--curvature", "hessian"};
    Run viaFiles = hbp(OnnxTorchCheckTest.concat(new String[] {"curvature", "--net", net.toString(), "--params", params.toString(), "--dense",
        dir.resolve("a.npz").toString()}, batch));
    Run direct = hbp(OnnxTorchCheckTest.concat(new String[] {"curvature", "--net", model.toString(), "--loss", "mse", "--dense",
        dir.resolve("b.npz").toString()}, batch));
    assertEquals(0, viaFiles.code(), viaFiles.err());
    assertEquals(0, direct.code(), direct.err());
    assertEquals(lossLine(direct.out()), lossLine(viaFiles.out()));
    var a = org.hbp.io.Npz.read(dir.resolve("a.npz"));
    var b = org.hbp.io.Npz.read(dir.resolve("b.npz"));
    // the .onnx net's results go by the initializers' names, the written net's by hbp's
    InitializerNames names = new InitializerNames(OnnxImporter.load(model, "mse", java.util.List.of()));
    assertEquals(b.keySet(), new java.util.HashSet<>(a.keySet().stream().map(names::name).toList()));
    for (String k : a.keySet()) assertEquals(b.get(names.name(k)), a.get(k), k);
    // existing files are kept unless --overwrite
    Files.writeString(net, "mine\n");
    assertUserError(hbp("import", model.toString(), "--loss", "mse", "--out", net.toString()), net + " already exists", "--overwrite");
    assertEquals("mine\n", Files.readString(net));
    assertEquals(0, hbp("import", model.toString(), "--loss", "mse", "--out", net.toString(), "--overwrite").code());
    assertEquals(text, Files.readString(net));
  }
}
