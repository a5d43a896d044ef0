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

  /**
   * hbp import and a command's ONNX --net take the network's modules from the same folders, the
   * built-in ones and --specs: a loss of the user's own (squareloss renamed myloss, in a folder of
   * its own) is unknown without --specs, an error at the loss line of the imported text, and found
   * with it (import prints the network with it; curvature computes the loss and the dense blocks).
   */
  @Test
  void aLossOfTheUsersOwnIsFoundInSpecsByImportAndByAnOnnxNet() throws Exception {
    Path specs = Files.createDirectories(dir.resolve("specs"));
    Files.writeString(specs.resolve("myloss.hbp"), Files.readString(Path.of("modules-spec/squareloss.hbp")).replace("loss squareloss", "loss myloss"));
    String model = "examples/mlp.onnx", batch = dir.resolve("batch.npz").toString(), dense = dir.resolve("d.npz").toString();
    double[] x = new double[3 * 16], y = new double[3 * 3];
    for (int i = 0; i < x.length; i++) x[i] = Math.sin(i);
    for (int i = 0; i < y.length; i++) y[i] = Math.cos(i);
    org.hbp.io.Npz.write(Path.of(batch), java.util.Map.of("x", org.hbp.io.NdArray.of(x, 3, 1, 4, 4), "y", org.hbp.io.NdArray.of(y, 3, 3)));
    String[] unknown = {model + ": no loss named 'myloss'"};
    assertUserError(hbp("import", model, "--loss", "myloss"), unknown);
    assertUserError(hbp("curvature", "--net", model, "--loss", "myloss", "--batch", batch, "--dense", dense), unknown);
    Run imported = hbp("import", model, "--loss", "myloss", "--specs", specs.toString());
    assertEquals(0, imported.code(), imported.err());
    assertTrue(imported.out().contains("  loss myloss;\n"), imported.out());
    Run curvature = hbp("curvature", "--net", model, "--loss", "myloss", "--batch", batch, "--dense", dense, "--specs", specs.toString());
    assertEquals(0, curvature.code(), curvature.err());
    assertTrue(lossLine(curvature.out()).contains("loss") && Files.exists(Path.of(dense)), curvature.out());
  }

  /**
   * Sub and Div by an initializer that hbp has no learned module for (here buffers [3, 1, 1] of an
   * input normalisation on an image; a parameter looks the same in the file) are refused, naming the
   * node, the initializer and --constants with its name (and --map), through import and --net.
   */
  @Test
  void subtractionAndDivisionByAnInitializerOfAnImageNameTheConstantsOption() throws Exception {
    runScript("onnx_check.py", dir.toString(), "normcnn");
    Path model = dir.resolve("model.onnx");
    assertUserError(hbp("import", model.toString(), "--loss", "crossentropy"), model.toString(), "node 0 '/Sub' (Sub): subtracts the initializer "
        + "'mean' of shape [3, 1, 1], the value of per-sample shape [3, 8, 8]", "a parameter or a buffer", "name it with --constants mean",
        "--map Sub=my-specs/op.hbp:module");
    assertUserError(hbp("curvature", "--net", model.toString(), "--loss", "crossentropy", "--constants", "mean", "--batch",
        dir.resolve("batch.npz").toString(), "--dense", dir.resolve("d.npz").toString()), "node 1 '/Div' (Div): divides by the initializer 'std'",
        "name it with --constants std");
    assertFalse(Files.exists(dir.resolve("d.npz")));
  }

  /**
   * The value subtracted from an initializer that hbp has no learned module for (offset - h, offset [4, 1, 1] on an image;
   * b - x is mapped with one entry and on vectors) is refused naming the node, the initializer and its shape, --constants and
   * --map; h + shift with shift [4, 1, 1] before it (a learned per-channel bias) is not refused.
   */
  @Test
  void theValueSubtractedFromAPerChannelInitializerNamesTheNodeAndTheConstantsOption() throws Exception {
    runScript("onnx_check.py", dir.toString(), "normcnn");
    Path model = dir.resolve("model.onnx");
    assertUserError(hbp("import", model.toString(), "--loss", "crossentropy", "--constants", "mean,std,scale"),
        "node 6 '/Sub_1' (Sub): subtracts the value from the initializer 'offset' of shape [4, 1, 1], the value of per-sample shape [4, 8, 8]",
        "name it with --constants offset", "of the value from an initializer (b - x) with one entry, or on a vector value",
        "--map Sub=my-specs/op.hbp:module");
  }

  /**
   * --constants names initializers of the file: another name is an error naming it and listing the
   * initializers; one that a node reads as a parameter (a convolution's weight) is an error naming
   * the node; with a DSL --net the option does not apply.
   */
  @Test
  void constantsOptionNamesInitializersThatAreNotParameters() throws Exception {
    runScript("onnx_check.py", dir.toString(), "normcnn");
    Path model = dir.resolve("model.onnx");
    assertUserError(hbp("import", model.toString(), "--loss", "crossentropy", "--constants", "mean,std,sdt"), model.toString(),
        "--constants names 'sdt', which is not an initializer of the file (its initializers: mean, std, ");
    assertUserError(hbp("import", model.toString(), "--loss", "crossentropy", "--constants", "mean,std,scale,shift,offset,conv2.weight"),
        "--constants names 'conv2.weight', which node 9 '/conv2/Conv' (Conv) reads as a parameter");
    assertUserError(hbp("curvature", "--net", "networks/fc.hbp", "--constants", "mean", "--batch", dir.resolve("batch.npz").toString(), "--dense",
        dir.resolve("d.npz").toString()),
        "--constants applies to an ONNX --net (model.onnx)");
  }

  /**
   * --buffers names the PyTorch model's buffers, some of which the export drops: those that are
   * initializers are fixed data as with --constants (the same network), the others are ignored; a
   * buffer that a node reads as a parameter is an error naming the node and --buffers; with a DSL
   * --net the option does not apply.
   */
  @Test
  void buffersOptionTakesTheInitializersAmongThemAsConstantsAndIgnoresTheOthers() throws Exception {
    runScript("onnx_check.py", dir.toString(), "normcnn");
    Path model = dir.resolve("model.onnx");
    Run constants = hbp("import", model.toString(), "--loss", "crossentropy", "--constants", "mean,std,scale,shift,offset");
    assertEquals(0, constants.code(), constants.err());
    Run buffers = hbp("import", model.toString(), "--loss", "crossentropy", "--buffers", "mean,std,dropped,scale,shift,offset,bn.num_batches_tracked");
    assertEquals(0, buffers.code(), buffers.err());
    assertEquals(constants.out(), buffers.out());
    assertUserError(hbp("import", model.toString(), "--loss", "crossentropy", "--constants", "mean,std,scale,shift,offset,dropped"),
        "--constants names 'dropped', which is not an initializer of the file", "use --buffers");
    assertUserError(hbp("import", model.toString(), "--loss", "crossentropy", "--constants", "mean,std", "--buffers", "scale,shift,offset,conv2.weight"),
        "--buffers names 'conv2.weight', which node 9 '/conv2/Conv' (Conv) reads as a parameter");
    assertUserError(hbp("curvature", "--net", "networks/fc.hbp", "--buffers", "mean", "--batch", dir.resolve("batch.npz").toString(), "--dense",
        dir.resolve("d.npz").toString()), "--buffers applies to an ONNX --net (model.onnx)");
  }

  /**
   * --constants and --buffers are repeatable, each value names split at commas: the names in several values are the same
   * network; a comma inside a name is written \, (a backslash \\), so 'mean\,std' names one initializer 'mean,std' (none in
   * this file: an error naming it); an empty name and a lone backslash at the end are errors naming the option and value.
   */
  @Test
  void constantsAndBuffersAreRepeatableAndACommaInsideANameIsEscaped() throws Exception {
    runScript("onnx_check.py", dir.toString(), "normcnn");
    Path model = dir.resolve("model.onnx");
    Run one = hbp("import", model.toString(), "--loss", "crossentropy", "--constants", "mean,std,scale,shift,offset");
    Run repeated = hbp("import", model.toString(), "--loss", "crossentropy", "--constants", "mean,std", "--constants", "scale", "--buffers", "shift",
        "--buffers", "offset,dropped");
    assertEquals(0, repeated.code(), repeated.err());
    assertEquals(one.out(), repeated.out());
    assertUserError(hbp("import", model.toString(), "--loss", "crossentropy", "--constants", "mean\\,std"),
        "--constants names 'mean,std', which is not an initializer of the file");
    assertUserError(hbp("import", model.toString(), "--loss", "crossentropy", "--constants", "mean\\\\,std"),
        "--constants names 'mean\\', which is not an initializer of the file");
    assertUserError(hbp("import", model.toString(), "--loss", "crossentropy", "--buffers", "mean,,std"), "--buffers 'mean,,std' has an empty name");
    assertUserError(hbp("import", model.toString(), "--loss", "crossentropy", "--constants", "mean\\"), "--constants 'mean\\' ends in a lone backslash");
  }

  /**
   * nn.MultiheadAttention as cross-attention (queries from one value, keys and values from another) is not recognised:
   * the first Transpose of its subgraph is the error, naming the node and the attention forms hbp maps.
   */
  @Test
  void crossAttentionNamesItsFirstTransposeAndTheFormsMapped() throws Exception {
    runScript("onnx_check.py", dir.toString(), "cross");
    Path model = dir.resolve("model.onnx");
    assertUserError(hbp("import", model.toString(), "--loss", "crossentropy"), "node 3 '/att/Transpose' (Transpose): perm [1, 0, 2] of a value [N, 4, 8]",
        "nn.MultiheadAttention(d, h, batch_first=True) called on one value (with or without biases, packed or separate projection weights");
  }

  /**
   * Div by a vector initializer (a registered buffer b) on a vector: with --constants b it is the fixed
   * constant_divide (no parameter besides the Linear's); without, the file does not say that b is a
   * buffer and hbp takes it as a parameter (learned_divide, named b).
   */
  @Test
  void divisionByABufferIsConstantWithTheConstantsOptionAndLearnedWithout() throws Exception {
    runScript("onnx_check.py", dir.toString(), "bufdiv");
    Path model = dir.resolve("model.onnx");
    Run fixed = hbp("import", model.toString(), "--loss", "crossentropy", "--constants", "b");
    assertEquals(0, fixed.code(), fixed.err());
    assertTrue(fixed.out().contains("constant_divide;") && !fixed.out().contains("<- initializer b\n"), fixed.out());
    Run learned = hbp("import", model.toString(), "--loss", "crossentropy");
    assertEquals(0, learned.code(), learned.err());
    assertTrue(learned.out().contains("learned_divide;") && learned.out().contains("1.w [3] <- initializer b\n"), learned.out());
  }

  @Test
  void unknownOperatorNamesOpTypeAndNodeAndSaysHowToMapIt() throws Exception {
    runScript("onnx_check.py", dir.toString(), "custom");
    Path model = dir.resolve("model.onnx");
    // node 1, Mul by a parameter vector, is a learned scale; node 2, Exp, has no mapping
    assertUserError(hbp("import", model.toString(), "--loss", "crossentropy"),
        model.toString(), "node 2 '/2/Exp' (Exp)", "no built-in mapping for the ONNX operator Exp", "--map Exp=my-specs/op.hbp:module");
    // the same through --net
    assertUserError(hbp("curvature", "--net", model.toString(), "--loss", "crossentropy", "--batch", dir.resolve("batch.npz").toString(), "--dense",
        dir.resolve("d.npz").toString()), "node 2 '/2/Exp' (Exp)", "--map Exp=");
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

  /**
   * --map of an operator type that no node has (a typo) and two --map options for one operator type are each
   * one line naming the option and what was expected, through import and --net.
   */
  @Test
  void aMapOfNoNodesOperatorTypeAndTwoMapsOfOneTypeAreRefused() throws Exception {
    runScript("onnx_check.py", dir.toString(), "custom");
    Path model = dir.resolve("model.onnx"), spec = dir.resolve("mine.hbp");
    Files.writeString(spec, "module mine {\n  dims n;\n  input x: vector(n);\n  output z = exp(x);\n}\n");
    assertUserError(hbp("import", model.toString(), "--loss", "crossentropy", "--map", "Expp=" + spec + ":mine"),
        "--map Expp=" + spec + ":mine: no node of " + model + " has operator type 'Expp'", "expected one of its operator types (", "Exp, Gemm");
    assertUserError(hbp("curvature", "--net", model.toString(), "--loss", "crossentropy", "--batch", dir.resolve("batch.npz").toString(), "--dense",
        dir.resolve("d.npz").toString(), "--map", "Exp=" + spec + ":mine", "--map", "Tanhh=" + spec + ":mine"), "--map Tanhh=", "operator type 'Tanhh'");
    Run twice = hbp("import", model.toString(), "--loss", "crossentropy", "--map", "Exp=" + spec + ":mine", "--map", "Exp=" + spec + ":mine");
    assertUserError(twice, "--map Exp=" + spec + ":mine: operator type 'Exp' is mapped twice (also by --map Exp=", "expected one --map per operator type");
    assertEquals(1, twice.err().strip().split("\n").length, twice.err());
  }

  /**
   * GlobalAveragePool's mapping once did not fit after a MaxPool: an error of the imported network's own text names
   * the file and the ONNX node (name and op type), never a line of that text. Here an --map module that does not fit.
   */
  @Test
  void aMappingThatDoesNotFitNamesTheNodeNotALineOfTheImportedText() throws Exception {
    runScript("onnx_check.py", dir.toString(), "custom");
    Path model = dir.resolve("model.onnx"), spec = dir.resolve("mine.hbp");
    Files.writeString(spec, "module mine {\n  dims c, h, w;\n  input x: tensor(c, h, w);\n  output z = flatten(x);\n}\n");
    Run r = hbp("import", model.toString(), "--loss", "crossentropy", "--map", "Exp=" + spec + ":mine");
    assertUserError(r, model + ": node 2 '/2/Exp' (Exp) via --map: hbp's mapping of it does not fit: mine: ");
    assertFalse(r.err().contains("(imported):"), r.err());
  }

  /** A MaxPool in ceil mode (PyTorch's ceil_mode=True) is refused naming the node, the shape and the attribute. */
  @Test
  void aMaxPoolInCeilModeNamesNodeShapeAndAttribute() throws Exception {
    runScript("onnx_check.py", dir.toString(), "pool_ceil");
    Path model = dir.resolve("model.onnx");
    assertUserError(hbp("import", model.toString(), "--loss", "mse"), model + ": node 2 '/2/MaxPool' (MaxPool): ceil_mode 1 on the input of "
        + "per-sample shape [3, 7, 7]; hbp maps floor mode (ceil_mode 0, PyTorch's default ceil_mode=False)");
  }

  /** A Constant node read as a weight (here a Gemm's) is never a learned parameter: refused naming the node and the constant. */
  @Test
  void aConstantNodeReadAsAWeightIsNotAParameter() throws Exception {
    runScript("onnx_check.py", dir.toString(), "constant_weight");
    Path model = dir.resolve("model.onnx");
    assertUserError(hbp("import", model.toString(), "--loss", "crossentropy"), model + ": node ", "is a Constant node's value",
        "not as learned parameters");
  }

  /**
   * Arrays given under initializers' names are checked by those names: a shape error names the user's key (not
   * hbp's '2.W'), a transposed initializer in hbp's layout instead of its own is refused, and a missing array is
   * named with a list of the arrays given, as the user named them.
   */
  @Test
  void arraysUnderInitializersNamesAreNamedSoInErrors() throws Exception {
    runScript("onnx_check.py", dir.toString(), "override", "square_matmul");
    Path model = dir.resolve("model.onnx"), params = dir.resolve("p.npz");
    java.util.Map<String, org.hbp.io.NdArray> torch = org.hbp.io.Npz.read(dir.resolve("params.npz"));
    String matmul = OnnxImporter.load(model, "crossentropy", java.util.List.of()).sources().get("0.W").replace(" (transposed)", "");
    String[] curvature = {"curvature", "--net", model.toString(), "--loss", "crossentropy", "--batch", dir.resolve("batch.npz").toString(),
        "--dense", dir.resolve("d.npz").toString(), "--params", params.toString()};
    double[] wrong = new double[12];
    org.hbp.io.Npz.write(params, java.util.Map.of(matmul, torch.get("0.weight"), "2.weight", org.hbp.io.NdArray.of(wrong, 4, 3), "2.bias",
        torch.get("2.bias")));
    Run r = hbp(curvature);
    assertUserError(r, "array '2.weight' has shape [4, 3]; expected the initializer's shape [3, 4]");
    assertFalse(r.err().contains("2.W"), r.err());
    // an array under the transposed initializer of neither its shape [4, 4] nor [V, 4, 4]: named by the initializer, hbp's name given
    org.hbp.io.Npz.write(params, java.util.Map.of(matmul, org.hbp.io.NdArray.of(wrong, 3, 4), "2.weight", torch.get("2.weight"), "2.bias",
        torch.get("2.bias")));
    assertUserError(hbp(curvature), "array '" + matmul + "' has shape [3, 4]; expected the initializer's shape [4, 4]", "the ONNX file's layout",
        "'0.W'");
    java.util.Map<String, org.hbp.io.NdArray> missing = new java.util.LinkedHashMap<>();
    missing.put(matmul, torch.get("0.weight"));
    missing.put("2.weight", torch.get("2.weight"));
    org.hbp.io.Npz.write(params, missing);
    assertUserError(hbp(curvature), "no array '2.bias'", "(has: " + matmul + ", 2.weight)");
  }

  /** An unmapped operator with attributes (ThresholdedRelu, alpha = 0.5): the error says at once that --map cannot map it, and why. */
  @Test
  void anUnmappedOperatorWithAttributesIsNotSentToMap() throws Exception {
    runScript("onnx_check.py", dir.toString(), "thresholded");
    Path model = dir.resolve("model.onnx");
    Run r = hbp("import", model.toString(), "--loss", "crossentropy");
    assertUserError(r, "(ThresholdedRelu)", "no built-in mapping for the ONNX operator ThresholdedRelu",
        "cannot be mapped to a module of your own either: it has attributes (alpha)", "which --map does not carry");
    assertTrue(!r.err().contains("--map ThresholdedRelu="), r.err());
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

  /** A Transpose that is not a matrix transpose of a sequence (channels moved last) names the node and its perm. */
  @Test
  void aTransposeOfAnImageNamesTheNodeAndPerm() throws Exception {
    runScript("onnx_check.py", dir.toString(), "permute");
    Path model = dir.resolve("model.onnx");
    assertUserError(hbp("import", model.toString(), "--loss", "crossentropy"), model.toString(), "node 1 '/Transpose' (Transpose)",
        "perm [0, 2, 3, 1] of a value [N, 2, 4, 4]", "perm [0, 2, 1]");
  }

  /** A Softmax over the tokens of a sequence (axis 1 of [N, T, d]; hbp maps the features' axis) names the node, its axis and the shape. */
  @Test
  void aSoftmaxOverTheTokensNamesTheNodeAndAxis() throws Exception {
    runScript("onnx_check.py", dir.toString(), "softmaxaxis");
    Path model = dir.resolve("model.onnx");
    assertUserError(hbp("import", model.toString(), "--loss", "crossentropy"), model.toString(), "node 1 '/Softmax' (Softmax)",
        "axis 1 of a per-sample shape [4, 3]", "over its last axis");
  }

  /** A Gather that is not nn.Embedding of the integer input (features picked by index) names the node. */
  @Test
  void aGatherOfFeaturesNamesTheNode() throws Exception {
    runScript("onnx_check.py", dir.toString(), "pick");
    Path model = dir.resolve("model.onnx");
    assertUserError(hbp("import", model.toString(), "--loss", "crossentropy"), model.toString(), "node 1 '/Gather' (Gather)",
        "only as nn.Embedding");
  }

  /** Token ids outside the vocabulary, or of another length than the model's, name the array and the entry. */
  @Test
  void tokenIdsOutsideTheVocabularyAreNamed() throws Exception {
    runScript("onnx_check.py", dir.toString(), "embed");
    Path model = dir.resolve("model.onnx"), bad = dir.resolve("bad.npz");
    var y = org.hbp.io.NdArray.of(new double[] {0, 1}, org.hbp.io.DType.INT64, 2);
    org.hbp.io.Npz.write(bad, java.util.Map.of("x", org.hbp.io.NdArray.of(new double[] {0, 1, 2, 3, 4, 5, 0, 1}, org.hbp.io.DType.INT64, 2, 4), "y", y));
    String[] run = {"curvature", "--net", model.toString(), "--loss", "crossentropy", "--batch", bad.toString(), "--dense", dir.resolve("d.npz").toString()};
    assertUserError(hbp(run), bad + ": array 'x'[1, 1] = 5 is not a token id in [0, 5)");
    org.hbp.io.Npz.write(bad, java.util.Map.of("x", org.hbp.io.NdArray.of(new double[] {0, 1, 2, 3, 4, 0}, org.hbp.io.DType.INT64, 2, 3), "y", y));
    assertUserError(hbp(run), bad + ": array 'x' holds token ids of shape [2, 3] but [N, 4] was expected");
  }

  /**
   * Batch normalisation's running statistics go with the parameters into --params-out (as data
   * values 1.mean, 1.var, ...), so that the written network with that file gives what the .onnx
   * file gives; without them (all ones) the loss differs.
   */
  @Test
  void batchNormStatisticsTravelWithTheWrittenParameters() throws Exception {
    runScript("onnx_check.py", dir.toString(), "bn1d");
    Path model = dir.resolve("model.onnx"), net = dir.resolve("net.hbp"), params = dir.resolve("params.npz");
    Run r = hbp("import", model.toString(), "--loss", "crossentropy", "--out", net.toString(), "--params-out", params.toString());
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("(10 parameters, 4 data values)") && r.out().contains("// 1.mean [4] data"), r.out());
    String[] batch = {"--batch", dir.resolve("batch.npz").toString(), "--curvature", "ggn"};
    Run viaFiles = hbp(OnnxTorchCheckTest.concat(new String[] {"curvature", "--net", net.toString(), "--params", params.toString(), "--dense",
        dir.resolve("a.npz").toString()}, batch));
    Run direct = hbp(OnnxTorchCheckTest.concat(new String[] {"curvature", "--net", model.toString(), "--loss", "crossentropy", "--dense",
        dir.resolve("b.npz").toString()}, batch));
    assertEquals(0, viaFiles.code(), viaFiles.err());
    assertEquals(0, direct.code(), direct.err());
    assertEquals(lossLine(direct.out()), lossLine(viaFiles.out()));
    var a = org.hbp.io.Npz.read(dir.resolve("a.npz"));
    var b = org.hbp.io.Npz.read(dir.resolve("b.npz"));
    InitializerNames names = new InitializerNames(OnnxImporter.load(model, "crossentropy", java.util.List.of()));
    for (String k : a.keySet()) assertEquals(b.get(names.name(k)), a.get(k), k);
    // the same file without the statistics: the network's running statistics are all ones, another loss
    var withoutData = new java.util.LinkedHashMap<>(org.hbp.io.Npz.read(params));
    withoutData.keySet().removeIf(k -> k.endsWith(".mean") || k.endsWith(".var"));
    Path bare = dir.resolve("bare.npz");
    org.hbp.io.Npz.write(bare, withoutData);
    Run ones = hbp(OnnxTorchCheckTest.concat(new String[] {"curvature", "--net", net.toString(), "--params", bare.toString(), "--dense",
        dir.resolve("c.npz").toString()}, batch));
    assertEquals(0, ones.code(), ones.err());
    assertFalse(lossLine(direct.out()).equals(lossLine(ones.out())), ones.out());
    // a data array of the wrong size is named
    withoutData.put("1.var", org.hbp.io.NdArray.of(new double[] {1, 2, 3}, 3));
    org.hbp.io.Npz.write(bare, withoutData);
    assertUserError(hbp(OnnxTorchCheckTest.concat(new String[] {"curvature", "--net", net.toString(), "--params", bare.toString(), "--dense",
        dir.resolve("c2.npz").toString()}, batch)), bare + ": array '1.var' of shape [3] for the data variable 1.var of 4 entries; expected [4]");
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
