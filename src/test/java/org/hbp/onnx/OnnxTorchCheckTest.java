package org.hbp.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.hbp.network.TorchReference.maxAbsDifference;
import static org.hbp.network.TorchReference.scale;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.hbp.cli.Main;
import org.hbp.io.NdArray;
import org.hbp.io.Npz;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * ONNX import against PyTorch: src/test/resources/torch/onnx_check.py builds a model (float64),
 * exports it with torch.onnx.export and computes autograd's loss, gradients, exact Hessian and GGN
 * blocks; {@code hbp curvature --net model.onnx --loss ...} (parameters from the initializers) must
 * equal them to 1e-10, each hbp parameter compared with PyTorch's parameter of the same position
 * (both in layer order) and shape; kfra, bda and pch-abs must run on the imported net. Needs python3
 * with torch; a missing torch is a failure, not a skip.
 */
class OnnxTorchCheckTest {
  @TempDir Path dir;

  @Test
  void mlpWithEveryActivationEqualsAutograd() throws Exception {
    check("mlp", "crossentropy", 15);
  }

  @Test
  void cnnWithStridePaddingDilationAndPoolingEqualsAutograd() throws Exception {
    check("cnn", "mse", 7);
  }

  @Test
  void cnnWithGlobalAveragePoolingAndLogSoftmaxEqualsAutograd() throws Exception {
    check("gap", "crossentropy", 6);
  }

  /**
   * Pooling windows that do not divide the map, in PyTorch's floor mode: MaxPool2d(2) of a 7 x 7 map (the last row and
   * column dropped: maxpool_strided), AvgPool2d(2) of a 5 x 5 map (avgpool).
   */
  @Test
  void poolingInFloorModeOfMapsTheWindowDoesNotDivideEqualsAutograd() throws Exception {
    String text = NetworkText.of(check("maxpool_odd", "mse", 6));
    assertTrue(text.contains("maxpool_strided(k = 2, s = 2, p = 0);") && text.contains("avgpool(k = 2);"), text);
  }

  /**
   * Overlapping and padded pooling windows: ResNet's stem MaxPool2d(3, stride=2, padding=1) of 7 x 7, MaxPool2d(3, stride=1,
   * padding=1) (an entry the maximum of several windows: the selection's adjoint sums), AvgPool2d(3, stride=2, padding=1)
   * (exported as a Pad and an AveragePool) and AvgPool2d(2, stride=1).
   */
  @Test
  void overlappingAndPaddedPoolingWindowsEqualAutograd() throws Exception {
    String text = NetworkText.of(check("pool_stride", "crossentropy", 6));
    for (String layer : List.of("maxpool_strided(k = 3, s = 2, p = 1);", "maxpool_strided(k = 3, s = 1, p = 1);", "zeropad(p = 1);",
        "avgpool_strided(k = 3, s = 2, p = 0);", "avgpool_strided(k = 2, s = 1, p = 0);"))
      assertTrue(text.contains(layer), layer + " in\n" + text);
  }

  /** GlobalAveragePool of any [C, H, W] value: straight after a MaxPool on a map that is not square (4 x 3). */
  @Test
  void globalAveragePoolAfterMaxPoolEqualsAutograd() throws Exception {
    assertTrue(NetworkText.of(check("gap_pool", "crossentropy", 4)).contains("meanpool2d;"));
  }

  /** GlobalAveragePool after a ZeroPad2d after an activation of the input itself. */
  @Test
  void globalAveragePoolAfterZeroPadAndAnActivationOfTheInputEqualsAutograd() throws Exception {
    check("gap_pad", "crossentropy", 2);
  }

  /**
   * nn.BatchNorm1d and nn.BatchNorm2d with affine=False: the exporter writes their scale and bias as Constant
   * nodes, which are fixed data of the network (its data, not its parameters): only the Conv's and the
   * Linears' parameters are compared (and counted) against autograd's.
   */
  @Test
  void batchNormsWithoutAffineParametersTakeTheirConstantsAsData() throws Exception {
    ImportedNetwork net = check("bn_fixed", "crossentropy", 6);
    assertEquals(List.of("0.W", "0.b", "4.W", "4.b", "7.W", "7.b"), net.parameterNames());
    assertEquals(List.of("2.g", "2.b", "2.mean", "2.var", "5.g", "5.b", "5.mean", "5.var"), List.copyOf(net.data().keySet()));
  }

  /**
   * A bias-free square Linear exported with constant folding: its weight is the MatMul's initializer {@code
   * onnx::MatMul_*} [in, out], which hbp holds transposed. --params under that name in its own layout (as the
   * file holds it) gives autograd's numbers at those parameters (a silent transpose would not); results
   * name the parameter by hbp's name in PyTorch's layout [out, in], not by the initializer's.
   */
  @Test
  void aTransposedInitializerIsGivenInItsOwnLayoutAndNotNamedInResults() throws Exception {
    paramsByInitializers = true;
    ImportedNetwork net = check(true, "square_matmul", "crossentropy", 3);
    assertTrue(net.sources().get("0.W").startsWith("onnx::MatMul") && net.sources().get("0.W").endsWith(" (transposed)"), net.sources().toString());
    assertEquals("0.W", new InitializerNames(net).name("0.W"));
  }

  /** nn.LayerNorm as opset 14 writes it (ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, Div, Mul, Add). */
  @Test
  void layerNormPatternEqualsAutograd() throws Exception {
    check("norm", "crossentropy", 10);
  }

  /** nn.LayerNorm as opset 17 writes it (LayerNormalization). */
  @Test
  void layerNormalizationOperatorEqualsAutograd() throws Exception {
    check("norm17", "crossentropy", 10);
  }

  /**
   * An operator without a built-in mapping (Exp), and one whose built-in mapping --map overrides
   * (Mul by a parameter vector), mapped with --map to modules of spec files of the test's own: the
   * imported net equals autograd as the others do.
   */
  @Test
  void operatorsMappedToOwnSpecsEqualAutograd() throws Exception {
    Path specs = Files.createDirectories(dir.resolve("my-specs"));
    Files.writeString(specs.resolve("scale.hbp"), "module scale {\n  dims n;\n  input x: vector(n);\n  param a: vector(n);\n  output z = a .* x;\n}\n");
    Files.writeString(specs.resolve("myexp.hbp"), "module myexp {\n  dims n;\n  input x: vector(n);\n  output z = exp(x);\n}\n");
    check("custom", "crossentropy", 5, "--map", "Mul=" + specs.resolve("scale.hbp") + ":scale", "--map", "Exp=" + specs.resolve("myexp.hbp") + ":myexp");
  }

  /**
   * Graph networks come in in the graph form: a ResNet with an identity block and a block with a
   * 1x1-convolution projection shortcut (Add of two computed values, a value read by two nodes).
   */
  @Test
  void resNetWithIdentityAndProjectionShortcutsEqualsAutograd() throws Exception {
    assertTrue(check("resnet", "crossentropy", 14).isGraph());
  }

  /** One Linear applied twice (one initializer read by two Gemm nodes: one named instance), and Mul and Sub of computed values. */
  @Test
  void tiedLinearUsedTwiceEqualsAutograd() throws Exception {
    ImportedNetwork net = check("tied", "crossentropy", 6);
    String text = NetworkText.of(net);
    assertTrue(text.contains("tied_fc = linear(m = 5);"), text);
    assertEquals(2, text.split("= tied_fc\\(", -1).length - 1, text);
    assertTrue(text.contains(" .* ") && text.contains(" - "), text);
  }

  /**
   * Add, Sub, Mul and Div with fixed constants (Constant nodes: scalars and per-feature vectors, the
   * constant first or second) map to constant_shift, constant_minus, constant_scale and
   * constant_divide with the constant as data (no parameter of hbp's besides PyTorch's); Div of two
   * computed values to the two-input module divide.
   */
  @Test
  void arithmeticWithConstantsAndDivisionOfTwoValuesEqualsAutograd() throws Exception {
    ImportedNetwork net = check("arith", "crossentropy", 6);
    String text = NetworkText.of(net);
    for (String module : List.of("constant_scale", "constant_divide", "constant_shift", "constant_minus"))
      assertTrue(text.contains("= " + module + "("), module + " in\n" + text);
    assertTrue(text.matches("(?s).*= divide\\(v\\d+, v\\d+\\);.*"), text);
    assertEquals(8, net.data().size(), "the constants as data: " + net.data().keySet());
  }

  /**
   * Mul by initializers (PyTorch parameters) on vectors: h * gamma (gamma [4]: learned_scale), h * t
   * (t [1]: learned_scale_scalar) and s * h (s a 0-d parameter, the initializer first:
   * learned_scale_scalar), each parameter named by its initializer and starting from its values.
   */
  @Test
  void mulByParametersOfAVectorIsALearnedScaleAndEqualsAutograd() throws Exception {
    ImportedNetwork net = check("scale", "crossentropy", 9);
    String text = NetworkText.of(net);
    assertEquals(1, text.split("learned_scale;", -1).length - 1, text);
    assertEquals(2, text.split("learned_scale_scalar;", -1).length - 1, text);
    InitializerNames names = new InitializerNames(net);
    assertEquals(List.of("gamma", "t", "s"), net.parameterNames().stream().map(names::name).filter(k -> !k.contains(".")).toList());
    assertEquals(List.of(4, 1, 1), net.parameters().entrySet().stream().filter(e -> !names.name(e.getKey()).contains("."))
        .map(e -> e.getValue().numel()).toList());
  }

  /**
   * LayerScale on a token sequence [N, T, d]: e + gamma * tanh(fc(e)) with gamma [d]
   * (learned_scale_tokens, in a residual: the graph form), then e * t with t [1] (learned_scale_scalar
   * of the sequence).
   */
  @Test
  void layerScaleOfATokenSequenceEqualsAutograd() throws Exception {
    ImportedNetwork net = check("layerscale", "crossentropy", 7);
    String text = NetworkText.of(net);
    assertTrue(net.isGraph());
    assertTrue(text.matches("(?s).*= learned_scale_tokens\\(v\\d+\\);.*") && text.matches("(?s).*= learned_scale_scalar\\(v\\d+\\);.*"), text);
  }

  /**
   * Input normalisation by buffers of the model, (x - mean) / std with mean and std [3, 1, 1], in
   * front of a CNN, and per-channel buffers inside it (h * scale with scale [1, 4, 1, 1], h + shift,
   * offset - h): with --constants naming them they are data (constant_shift, constant_divide,
   * constant_scale, constant_minus, repeated over the positions), not parameters: hbp's parameters
   * are PyTorch's, and its loss, gradients, Hessian and GGN blocks equal autograd's.
   */
  @Test
  void inputNormalisationByBuffersGivenAsConstantsEqualsAutograd() throws Exception {
    ImportedNetwork net = check("normcnn", "crossentropy", 6, "--constants", "mean,std,scale,shift,offset");
    String text = NetworkText.of(net);
    for (String module : List.of("constant_shift;", "constant_divide;", "constant_scale;", "constant_minus;"))
      assertTrue(text.contains(module), module + " in\n" + text);
    assertEquals(List.of("0.c", "1.c", "4.c", "5.c", "6.c"), List.copyOf(net.data().keySet()));
    // the mean, negated (x - mean as x + (-mean)), per channel: hbp's image layout has the channel fastest
    double[] mean = {0.485, 0.456, 0.406};
    NdArray shift = net.data().get("0.c");
    assertEquals(3 * 8 * 8, shift.numel());
    for (int k = 0; k < shift.numel(); k++) assertEquals(-mean[k % 3], shift.data()[k], 1e-15, "0.c[" + k + "]");
  }

  /**
   * ConvNeXt-style LayerScale on images: h + gamma * tanh(conv(h)) with gamma [3, 1, 1] a parameter
   * (in a residual: the graph form), then h * beta with beta [1, 3, 1, 1]: learned_scale_channels,
   * each scale a parameter named by its initializer.
   */
  @Test
  void perChannelLayerScaleOfImagesEqualsAutograd() throws Exception {
    ImportedNetwork net = check("layerscale2d", "crossentropy", 8);
    String text = NetworkText.of(net);
    assertEquals(2, text.split("= learned_scale_channels\\(v\\d+\\);", -1).length - 1, text);
    assertTrue(net.sources().containsValue("gamma") && net.sources().containsValue("beta"), net.sources().toString());
  }

  /**
   * Results under the name of an initializer hbp holds squeezed (gamma [3, 1, 1] and beta [1, 3, 1, 1], held as [3]) have
   * the initializer's shape: the Newton step of check (autograd's gradient in PyTorch's shapes), hbp gradients' per-sample
   * gradients [N, 3, 1, 1] (their sum autograd's gradient) and variances [3, 1, 1], and the Hessian products of
   * directions given as [V, *PyTorch's shape] under the initializers' names, [V, *that shape], each autograd's Hessian
   * block times the direction.
   */
  @Test
  void resultsUnderSqueezedInitializersNamesHaveTheirShapes() throws Exception {
    check("layerscale2d", "crossentropy", 8);
    Map<String, NdArray> ref = Npz.read(dir.resolve("ref.npz"));
    List<String> torchNames = Files.readAllLines(dir.resolve("names.txt")).stream().filter(s -> !s.isBlank()).toList();
    String model = dir.resolve("model.onnx").toString(), batch = dir.resolve("batch.npz").toString();
    Path grads = dir.resolve("grads");
    hbp("gradients", "--net", model, "--loss", "crossentropy", "--batch", batch, "--out", grads.toString());
    Map<String, NdArray> perSample = Npz.read(grads.resolve("batch_grad.npz")), variance = Npz.read(grads.resolve("variance.npz"));
    for (String k : List.of("gamma", "beta")) {
      NdArray r = ref.get("grad." + k), g = perSample.get(k);
      assertTrue(r.rank() == 4 - ("gamma".equals(k) ? 1 : 0) && r.numel() == 3, k + " " + Arrays.toString(r.shape()));
      assertEquals(Arrays.toString(concatShape(4, r.shape())), Arrays.toString(g.shape()), "per-sample gradients of " + k);
      assertEquals(Arrays.toString(r.shape()), Arrays.toString(variance.get(k).shape()), "variance of " + k);
      double[] want = r.data(), got = g.data();
      for (int i = 0; i < want.length; i++) {
        double sum = 0;
        for (int n = 0; n < 4; n++) sum += got[n * want.length + i];
        assertEquals(want[i], sum, 1e-12, "the per-sample gradients of " + k + "[" + i + "] summed");
      }
    }
    int v = 2;
    java.util.Random rng = new java.util.Random(7);
    Map<String, NdArray> directions = new java.util.LinkedHashMap<>();
    for (String k : torchNames) {
      NdArray r = ref.get("grad." + k);
      double[] d = new double[v * r.numel()];
      for (int i = 0; i < d.length; i++) d[i] = rng.nextGaussian();
      directions.put(k, NdArray.of(d, concatShape(v, r.shape())));
    }
    Path vectors = dir.resolve("vectors.npz"), products = dir.resolve("products.npz");
    Npz.write(vectors, directions);
    hbp("curvature", "--net", model, "--loss", "crossentropy", "--batch", batch, "--curvature", "hessian", "--vectors", vectors.toString(),
        "--out", products.toString());
    Map<String, NdArray> got = Npz.read(products);
    for (String k : torchNames) {
      NdArray h = ref.get("hessian." + k), u = directions.get(k), p = got.get(k);
      assertEquals(Arrays.toString(u.shape()), Arrays.toString(p.shape()), "product of " + k);
      int n = h.dim(0);
      double[] ud = u.data(), pd = p.data();
      for (int a = 0; a < v; a++)
        for (int i = 0; i < n; i++) {
          double want = 0;
          for (int j = 0; j < n; j++) want += h.get(i, j) * ud[a * n + j];
          assertEquals(want, pd[a * n + i], 1e-10 * Math.max(1, scale(h)), "Hessian product of " + k + ", direction " + a + ", entry " + i);
        }
    }
  }

  private static int[] concatShape(int first, int[] rest) {
    int[] out = new int[rest.length + 1];
    out[0] = first;
    System.arraycopy(rest, 0, out, 1, rest.length);
    return out;
  }

  /** Sub and Div by parameters: h - b (learned_subtract), h / w (learned_divide), logits / t with t [1] (learned_divide_scalar). */
  @Test
  void subtractionAndDivisionByParametersEqualAutograd() throws Exception {
    String text = NetworkText.of(check("learnedsubdiv", "crossentropy", 7));
    assertTrue(text.contains("learned_subtract;") && text.contains("learned_divide;") && text.contains("learned_divide_scalar;"), text);
  }

  /**
   * Sub and Div with the parameter first: b - h (learned_minus), w / h (learned_reciprocal), t - h with t [1]
   * (learned_minus_scalar), s / h with s a 0-d parameter (learned_reciprocal_scalar), each parameter named by its initializer.
   */
  @Test
  void parameterFirstSubtractionAndDivisionEqualAutograd() throws Exception {
    ImportedNetwork net = check("learnedfirst", "crossentropy", 8);
    String text = NetworkText.of(net);
    for (String module : List.of("learned_minus;", "learned_reciprocal;", "learned_minus_scalar;", "learned_reciprocal_scalar;"))
      assertTrue(text.contains(module), module + " in\n" + text);
    assertTrue(net.sources().values().containsAll(List.of("b", "w", "t", "s")), net.sources().toString());
  }

  /**
   * A learned per-channel Add on images: conv(h) + bias with bias [C, 1, 1] inside a residual branch (the graph form) and
   * beta + h with beta [1, C, 1, 1] first: learned_bias_channels, each bias a parameter named by its initializer.
   */
  @Test
  void perChannelLearnedBiasOfImagesEqualsAutograd() throws Exception {
    ImportedNetwork net = check("channelbias", "crossentropy", 7);
    String text = NetworkText.of(net);
    assertEquals(2, text.split("= learned_bias_channels\\(v\\d+\\);", -1).length - 1, text);
    assertTrue(net.sources().containsValue("bias") && net.sources().containsValue("beta"), net.sources().toString());
  }

  /** An inception block: three convolution branches of one value, Concat along the channels. */
  @Test
  void inceptionBlockWithConcatEqualsAutograd() throws Exception {
    assertTrue(NetworkText.of(check("inception", "mse", 10)).contains("= concat("));
  }

  /**
   * nn.BatchNorm1d in eval mode, twice, with weights, biases and running statistics away from 1 and
   * 0: the running statistics are constants, weight and bias parameters compared with autograd's.
   */
  @Test
  void batchNorm1dInEvalModeEqualsAutograd() throws Exception {
    ImportedNetwork net = check("bn1d", "crossentropy", 10);
    assertEquals(List.of("1.mean", "1.var", "4.mean", "4.var"), List.copyOf(net.data().keySet()));
  }

  /** nn.BatchNorm1d in a residual branch: the graph form, its running statistics named by its value ({@code v4.mean}). */
  @Test
  void batchNormInAResidualBranchEqualsAutograd() throws Exception {
    ImportedNetwork net = check("bnres", "crossentropy", 8);
    assertTrue(net.isGraph());
    assertEquals(List.of("v4.mean", "v4.var"), List.copyOf(net.data().keySet()));
  }

  /** nn.BatchNorm2d in eval mode after a ReLU (matrix(c, h*w) read as an image) and after a MaxPool (an image). */
  @Test
  void batchNorm2dInEvalModeEqualsAutograd() throws Exception {
    String text = NetworkText.of(check("bn2d", "crossentropy", 10));
    assertEquals(2, text.split("batchnorm2d;", -1).length - 1, text);
  }

  /**
   * nn.Embedding on integer token ids (the batch's x as PyTorch takes it, [N, T] int64), the
   * sequence transposed (Transpose [0, 2, 1]), a Linear over the tokens (MatMul + Add of a
   * sequence), flatten of a matrix.
   */
  @Test
  void embeddingOfTokenIdsWithTransposeEqualsAutograd() throws Exception {
    String text = NetworkText.of(check("embed", "crossentropy", 5));
    assertTrue(text.contains("input x: matrix(5, 4);") && text.contains("embedding_table(d = 3);") && text.contains("transpose;")
        && text.contains("linear_tokens(m = 2);") && text.contains("flatten_matrix;"), text);
  }

  /**
   * The small transformer (as networks/transformer.hbp: nn.Embedding + a learned positional
   * embedding, two pre-norm blocks of nn.MultiheadAttention(bias=False) and a GELU MLP with
   * residuals, the mean over the tokens, a linear head), exported by torch.onnx.export at opset 14:
   * the attention's exported subgraph becomes multihead_attention, in_proj_weight's row blocks
   * its Wq, Wk, Wv (compared with the diagonal blocks of autograd's in_proj_weight block).
   */
  @Test
  void smallTransformerEqualsAutograd() throws Exception {
    String text = NetworkText.of(check("transformer", "crossentropy", 28));
    assertEquals(2, text.split("= multihead_attention\\(h = 2, k = 4\\)", -1).length - 1, text);
    assertEquals(4, text.split("= layernorm_tokens\\(", -1).length - 1, text);
    assertTrue(text.contains("= positional(") && text.contains("= meanpool("), text);
  }

  /**
   * The transformer with nn.MultiheadAttention's default bias=True (in_proj_bias and out_proj.bias,
   * drawn away from PyTorch's zeros): the exported subgraph (an Add of in_proj_bias after the
   * in-projection, a Gemm for the out projection) becomes multihead_attention_bias, in_proj_bias's
   * row blocks its bq, bk, bv (compared with the diagonal blocks of autograd's in_proj_bias block).
   */
  @Test
  void transformerWithAttentionBiasesEqualsAutograd() throws Exception {
    ImportedNetwork net = check("transformer_bias", "crossentropy", 36);
    String text = NetworkText.of(net);
    assertEquals(2, text.split("= multihead_attention_bias\\(h = 2, k = 4\\)", -1).length - 1, text);
    assertTrue(net.sources().containsValue("blocks.0.att.in_proj_bias[k]") && net.sources().containsValue("blocks.1.att.out_proj.bias"),
        net.sources().toString());
  }

  /**
   * A causal attn_mask (PyTorch's A[query, key]: -inf for key > query, a buffer of the model) on
   * nn.MultiheadAttention without biases (block 0, a float mask) and with them (block 1, a boolean
   * mask, True for key > query, which the exporter writes in its float form): the masked forms
   * multihead_attention_masked and multihead_attention_bias_masked, the mask the network's data
   * M = A' (no parameter).
   */
  @Test
  void causalMaskOfMultiheadAttentionEqualsAutograd() throws Exception {
    ImportedNetwork net = check("causal", "crossentropy", 32);
    String text = NetworkText.of(net);
    assertEquals(1, text.split("= multihead_attention_masked\\(h = 2, k = 4\\)", -1).length - 1, text);
    assertEquals(1, text.split("= multihead_attention_bias_masked\\(h = 2, k = 4\\)", -1).length - 1, text);
    List<NdArray> masks = List.copyOf(net.data().values());
    assertEquals(2, masks.size(), net.data().keySet().toString());
    for (int key = 0; key < 4; key++)
      for (int query = 0; query < 4; query++) {
        for (int b = 0; b < 2; b++) // M[key, query], column-major
          assertEquals(key > query ? Double.NEGATIVE_INFINITY : 0, masks.get(b).data()[key + 4 * query], "block " + b + "'s M[" + key + ", " + query + "]");
      }
  }

  /**
   * The transformer with biases exported as the Python package exports (no constant folding, TrainingMode.PRESERVE):
   * in_proj_weight stays an initializer, read through a Transpose inside the attention's subgraph; hbp's Wq, Wk, Wv go by
   * its row blocks' names {@code blocks.0.att.in_proj_weight[q]}, ... (which check compares with the names of the reference).
   */
  @Test
  void transformerExportedWithoutConstantFoldingNamesTheRowBlocksOfInProjWeight() throws Exception {
    ImportedNetwork net = check("transformer_preserve", "crossentropy", 36);
    assertEquals(2, NetworkText.of(net).split("= multihead_attention_bias\\(h = 2, k = 4\\)", -1).length - 1, NetworkText.of(net));
    assertTrue(net.sources().containsValue("blocks.1.att.in_proj_weight[v]"), net.sources().toString());
  }

  /**
   * --params overrides the initializers by PyTorch's names and in PyTorch's shapes (the parameters changed after the export,
   * autograd's reference at the new ones): in_proj_weight [3d, d] and in_proj_bias [3d] split into Wq, Wk, Wv and bq, bk, bv.
   */
  @Test
  void paramsByPyTorchNamesSplitInProjWeightAndEqualAutograd() throws Exception {
    check(true, "transformer_preserve", "crossentropy", 36);
  }

  /** --params by PyTorch's names and shapes: per-channel biases [C, 1, 1] and [1, C, 1, 1] that hbp holds as [C]. */
  @Test
  void paramsByPyTorchNamesInPerChannelShapesEqualAutograd() throws Exception {
    check(true, "channelbias", "crossentropy", 7);
  }

  /** --params by PyTorch's names and shapes: a 0-d parameter that hbp holds as [1], and parameters [1] and [5]. */
  @Test
  void paramsByPyTorchNamesWithAZeroDimensionalParameterEqualAutograd() throws Exception {
    check(true, "learnedfirst", "crossentropy", 8);
  }

  /**
   * nn.MultiheadAttention with separate projection weights (q_proj_weight, k_proj_weight, v_proj_weight, each [d, d]) and
   * biases, called on one value in a residual block, exported as the Python package exports (no constant folding: three
   * MatMuls by the weights' Transposes, Adds of Slices of in_proj_bias): multihead_attention_bias, Wq, Wk, Wv named by the
   * PyTorch weights, bq, bk, bv by in_proj_bias's thirds; and again with --params under PyTorch's names at other values.
   */
  @Test
  void attentionWithSeparateProjectionWeightsEqualsAutograd() throws Exception {
    ImportedNetwork net = check("separate", "crossentropy", 11);
    assertTrue(NetworkText.of(net).contains("= multihead_attention_bias(h = 2, k = 4)("), NetworkText.of(net));
    InitializerNames names = new InitializerNames(net);
    assertEquals(List.of("att.q_proj_weight", "att.k_proj_weight", "att.v_proj_weight"),
        net.parameterNames().stream().filter(k -> k.endsWith(".Wq") || k.endsWith(".Wk") || k.endsWith(".Wv")).map(names::name).toList());
    check(true, "separate", "crossentropy", 11);
  }

  /**
   * Separate projection weights without biases and with a causal attn_mask, exported with the exporter's defaults (constant
   * folding: MatMuls by transposed copies of the weights): multihead_attention_masked.
   */
  @Test
  void attentionWithSeparateProjectionWeightsAndAMaskEqualsAutograd() throws Exception {
    ImportedNetwork net = check("separate_fold", "crossentropy", 7);
    assertTrue(NetworkText.of(net).contains("= multihead_attention_masked(h = 2, k = 4)("), NetworkText.of(net));
    assertEquals(1, net.data().size(), net.data().keySet().toString());
  }

  /** Softmax and LogSoftmax over the last axis of a token sequence [N, T, d]: softmax_tokens, logsoftmax_tokens (column softmax). */
  @Test
  void softmaxOverTheFeaturesOfEachTokenEqualsAutograd() throws Exception {
    String text = NetworkText.of(check("tokensoftmax", "crossentropy", 7));
    assertTrue(text.contains("softmax_tokens;") && text.contains("logsoftmax_tokens;"), text);
  }

  /**
   * The same transformer exported at opset 17 (LayerNormalization operators, the same attention
   * subgraph): it imports to the same modules and its loss and GGN blocks equal autograd's (the
   * full set of checks runs at opset 14 above).
   */
  @Test
  void smallTransformerAtOpset17ImportsAndItsGgnEqualsAutograd() throws Exception {
    runScript("onnx_check.py", dir.toString(), "transformer17");
    Path model = dir.resolve("model.onnx"), out = dir.resolve("ggn.npz");
    ImportedNetwork imported = OnnxImporter.load(model, "crossentropy", List.of());
    String text = NetworkText.of(imported);
    assertEquals(2, text.split("= multihead_attention\\(h = 2, k = 4\\)", -1).length - 1, text);
    assertEquals(4, text.split("= layernorm_tokens\\(", -1).length - 1, text);
    Map<String, NdArray> ref = Npz.read(dir.resolve("ref.npz"));
    List<String> torchNames = Files.readAllLines(dir.resolve("names.txt")).stream().filter(s -> !s.isBlank()).toList();
    String log = hbp("curvature", "--net", model.toString(), "--loss", "crossentropy", "--batch", dir.resolve("batch.npz").toString(),
        "--curvature", "ggn", "--dense", out.toString());
    assertEquals(ref.get("loss").data()[0], loss(log), 1e-12, "loss");
    Map<String, NdArray> got = Npz.read(out);
    InitializerNames names = new InitializerNames(imported);
    List<String> ours = imported.parameterNames();
    assertEquals(torchNames.size(), ours.size());
    for (int k = 0; k < ours.size(); k++) {
      NdArray r = ref.get("ggn." + torchNames.get(k)), g = got.get(names.name(ours.get(k)));
      assertEquals(Arrays.toString(r.shape()), Arrays.toString(g.shape()), ours.get(k));
      assertTrue(maxAbsDifference(r, g) <= 1e-10 * Math.max(1, scale(r)), "GGN block of " + ours.get(k) + " (PyTorch's " + torchNames.get(k) + ")");
    }
  }

  private ImportedNetwork check(String kind, String loss, int parameters, String... options) throws Exception {
    return check(false, kind, loss, parameters, options);
  }

  /**
   * With {@code override}, the script changes the parameters after the export and writes them to params.npz under
   * PyTorch's names and shapes, its reference autograd's at those: hbp runs with {@code --params params.npz}.
   */
  /** With override: params.npz names a transposed initializer by its own name, in its own layout (see {@link InitializerNames}). */
  private boolean paramsByInitializers;

  private ImportedNetwork check(boolean override, String kind, String loss, int parameters, String... options) throws Exception {
    if (override) {
      runScript("onnx_check.py", dir.toString(), "override", kind);
      options = concat(options, "--params", dir.resolve("params.npz").toString());
    } else runScript("onnx_check.py", dir.toString(), kind);
    List<CustomMapping> mappings = new ArrayList<>();
    java.util.Set<String> constants = new java.util.LinkedHashSet<>();
    for (int i = 1; i < options.length; i += 2) {
      if (options[i - 1].equals("--map")) mappings.add(CustomMapping.parse(options[i]));
      if (options[i - 1].equals("--constants")) constants.addAll(List.of(options[i].split(",")));
    }
    Path model = dir.resolve("model.onnx"), batch = dir.resolve("batch.npz");
    Map<String, NdArray> ref = Npz.read(dir.resolve("ref.npz"));
    List<String> torchNames = Files.readAllLines(dir.resolve("names.txt")).stream().filter(s -> !s.isBlank()).toList();
    ImportedNetwork imported = OnnxImporter.load(model, loss, mappings, constants);
    List<String> ours = imported.parameterNames();
    if (override && paramsByInitializers) {
      // --params under the initializers' names in their own layout: a transposed one (a MatMul's [in, out]) as the file holds it
      Map<String, NdArray> given = new java.util.LinkedHashMap<>(Npz.read(dir.resolve("params.npz")));
      for (int k = 0; k < ours.size(); k++) {
        String source = imported.sources().get(ours.get(k));
        if (!source.endsWith(" (transposed)")) continue;
        NdArray torch = given.remove(torchNames.get(k));
        given.put(source.substring(0, source.length() - " (transposed)".length()), OperatorMappings.transpose(torch));
      }
      Npz.write(dir.resolve("params.npz"), given);
    }
    // results go by the initializers' names (PyTorch's parameter names where the exporter kept them)
    InitializerNames names = new InitializerNames(imported);
    for (int k = 0; k < ours.size(); k++)
      if (!imported.sources().get(ours.get(k)).endsWith("(transposed)"))
        assertEquals(torchNames.get(k), names.name(ours.get(k)), "the output name of " + ours.get(k));
    assertEquals(parameters, torchNames.size(), "PyTorch's parameters");
    assertEquals(torchNames.size(), ours.size(), "hbp's parameters " + ours + " vs PyTorch's " + torchNames);
    String[] net = concat(new String[] {"curvature", "--net", model.toString(), "--loss", loss, "--batch", batch.toString()}, options);
    // each check writes into a folder of its own: hbp refuses to replace an existing output without --overwrite
    Path outputs = Files.createTempDirectory(dir, "outputs");

    for (String curvature : new String[] {"hessian", "ggn"}) {
      Path out = outputs.resolve(curvature + ".npz");
      String log = hbp(concat(net, "--curvature", curvature, "--dense", out.toString()));
      assertEquals(ref.get("loss").data()[0], loss(log), 1e-12, "loss");
      Map<String, NdArray> got = Npz.read(out);
      for (int k = 0; k < ours.size(); k++) {
        NdArray r = ref.get(curvature + "." + torchNames.get(k)), g = got.get(names.name(ours.get(k)));
        String what = curvature + " block of " + ours.get(k) + " (PyTorch's " + torchNames.get(k) + ")";
        assertEquals(Arrays.toString(r.shape()), Arrays.toString(g.shape()), what);
        assertTrue(scale(r) > 0, what + " is zero: nothing compared");
        double err = maxAbsDifference(r, g);
        assertTrue(err <= 1e-10 * Math.max(1, scale(r)), what + ": max abs error " + err + " (scale " + scale(r) + ")");
      }
    }

    // the gradient: the Newton step with alpha = 1 is minus the gradient
    Path step = outputs.resolve("step.npz");
    hbp(concat(net, "--solve", "1", "--out", step.toString(), "--cg-tol", "0"));
    Map<String, NdArray> s = Npz.read(step);
    for (int k = 0; k < ours.size(); k++) {
      NdArray r = ref.get("grad." + torchNames.get(k)), g = s.get(names.name(ours.get(k)));
      assertEquals(Arrays.toString(r.shape()), Arrays.toString(g.shape()), "gradient of " + ours.get(k));
      double[] want = r.data(), got = g.data(); // data() copies: once, not per entry
      for (int i = 0; i < want.length; i++) assertEquals(-want[i], got[i], 1e-12, "gradient of " + ours.get(k) + "[" + i + "]");
    }

    // the approximations run on the imported net and give symmetric blocks of the right size
    for (String[] c : new String[][] {{"ggn", "kfra"}, {"ggn", "bda"}, {"pch-abs", "kfra"}, {"pch-abs", "exact"}}) {
      Path out = outputs.resolve(c[0] + "-" + c[1] + ".npz");
      hbp(concat(net, "--curvature", c[0], "--strategy", c[1], "--dense", out.toString()));
      Map<String, NdArray> got = Npz.read(out);
      for (int k = 0; k < ours.size(); k++) {
        NdArray g = got.get(names.name(ours.get(k))), r = ref.get("hessian." + torchNames.get(k));
        assertEquals(Arrays.toString(r.shape()), Arrays.toString(g.shape()), c[0] + "/" + c[1] + " block of " + ours.get(k));
        int n = g.dim(0);
        double tolerance = 1e-12 * Math.max(1, scale(g));
        String what = c[0] + "/" + c[1] + " block of " + ours.get(k) + " symmetric";
        for (int i = 0; i < n; i++) for (int j = 0; j < i; j++) assertEquals(g.get(i, j), g.get(j, i), tolerance, what);
      }
    }
    return imported;
  }

  static void runScript(String script, String... args) throws Exception {
    org.hbp.ExternalTools.runTorchScript(script, args);
  }

  /** Runs {@code hbp args} in this JVM, expecting exit status 0; its standard output. */
  static String hbp(String... args) {
    StringWriter out = new StringWriter(), err = new StringWriter();
    int code = Main.execute(args, new PrintWriter(out, true), new PrintWriter(err, true));
    assertEquals(0, code, out + "\n" + err);
    return out.toString();
  }

  private static double loss(String out) {
    Matcher m = Pattern.compile("loss (\\S+)").matcher(out);
    assertTrue(m.find(), out);
    return Double.parseDouble(m.group(1));
  }

  static String[] concat(String[] a, String... b) {
    String[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
