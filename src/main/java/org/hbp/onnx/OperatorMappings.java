package org.hbp.onnx;

import ai.onnx.proto.OnnxMl.NodeProto;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.hbp.UserError;
import org.hbp.io.NdArray;

/**
 * The built-in table from ONNX operators to module specs of {@code modules-spec/}: each entry reads
 * one node (or a pattern of nodes starting there), checks the attributes hbp's module expresses,
 * adds the layer with its parameters in PyTorch's layouts, and returns how many nodes it used.
 */
final class OperatorMappings {
  private OperatorMappings() {}

  /** Elementwise operators without attributes and their modules. */
  private static final Map<String, String> ELEMENTWISE = Map.of("Relu", "relu", "Sigmoid", "sigmoid", "Tanh", "tanh", "Softplus", "softplus");

  /** The operators this table maps (for messages). */
  static final List<String> SUPPORTED = List.of("Gemm", "MatMul (+ Add of a bias)", "Add (bias)", "Add of an initializer to an image (a learned per-channel bias)",
      "Mul, Sub, Div by an initializer and Sub, Div of the value from or into one (learned scale, subtraction, division)",
      "Add, Sub, Mul, Div with a Constant or an initializer of --constants (a scalar, or per feature or per channel)", "Add, Sub, Mul, Div of two computed values", "Relu", "Sigmoid", "Tanh", "Softplus",
      "Elu (alpha 1)", "LeakyRelu (alpha 0.01)", "Gelu", "Div/Erf/Add/Mul/Mul (GELU)", "Softmax", "LogSoftmax (of a vector, or of each token of a sequence)",
      "Flatten", "Reshape (to [N, -1])",
      "Conv", "MaxPool", "AveragePool", "GlobalAveragePool", "Pad (zeros)", "LayerNormalization (and its ReduceMean pattern)",
      "BatchNormalization (inference)", "Gather (nn.Embedding of token ids)", "Transpose (perm [0, 2, 1])",
      "ReduceMean (mean over tokens)", "nn.MultiheadAttention's pattern", "Identity", "Dropout");

  static int apply(OnnxImporter w, int i) {
    NodeProto n = w.node(i);
    String op = n.getOpType();
    if (ELEMENTWISE.containsKey(op)) return elementwise(w, i, ELEMENTWISE.get(op));
    return switch (op) {
      case "Gemm" -> gemm(w, i);
      case "MatMul" -> w.shape.size() == 2 ? Sequences.matMul(w, i) : matMul(w, i);
      case "Add" -> Arithmetic.fixedConstant(w, i) || w.shape.size() == 3 ? Arithmetic.operator(w, i) : w.shape.size() == 2 ? Sequences.bias(w, i) : bias(w, i);
      case "Sub", "Mul" -> Arithmetic.operator(w, i);
      case "Gather" -> Sequences.gather(w, i);
      case "Transpose" -> {
        Integer used = Attention.pattern(w, i);
        yield used != null ? used : Sequences.transpose(w, i);
      }
      case "BatchNormalization" -> BatchNorms.operator(w, i);
      case "Elu" -> {
        if (Attributes.real(n, "alpha", 1) != 1) throw w.error(i, "alpha = " + Attributes.real(n, "alpha", 1) + "; the built-in elu has alpha 1");
        yield elementwise(w, i, "elu");
      }
      case "LeakyRelu" -> {
        if ((float) Attributes.real(n, "alpha", 0.01) != 0.01f)
          throw w.error(i, "alpha = " + Attributes.real(n, "alpha", 0.01) + "; the built-in leakyrelu has PyTorch's default slope 0.01");
        yield elementwise(w, i, "leakyrelu");
      }
      case "Gelu" -> {
        String approx = Attributes.string(n, "approximate", "none");
        yield elementwise(w, i, approx.equals("tanh") ? "gelu_tanh" : "gelu");
      }
      case "Div" -> {
        Integer used = erfGelu(w, i);
        yield used != null ? used : Arithmetic.operator(w, i);
      }
      case "Softmax", "LogSoftmax" -> {
        long axis = Attributes.integer(n, "axis", -1);
        String module = op.equals("Softmax") ? "softmax" : "logsoftmax";
        // a sequence [N, T, d] is hbp's matrix(d, T): its last axis, each token's features, is a column
        if (w.shape.size() == 2 && (axis == 2 || axis == -1)) yield elementwise(w, i, module + "_tokens");
        if (w.shape.size() != 1 || (axis != 1 && axis != -1))
          throw w.error(i, "axis " + axis + " of a per-sample shape [" + String.join(", ", Sequences.onnxShape(w.shape)) + "]; hbp maps the "
              + "softmax of a vector [N, n] over axis 1 and of a token sequence [N, T, d] over its last axis (each token's features)");
        yield elementwise(w, i, module);
      }
      case "Flatten" -> {
        if (Attributes.integer(n, "axis", 1) != 1) throw w.error(i, "axis " + Attributes.integer(n, "axis", 1) + "; hbp maps Flatten with axis 1 (the batch kept)");
        yield flatten(w, i);
      }
      case "Reshape" -> reshape(w, i);
      case "Conv" -> Spatial.conv(w, i);
      case "MaxPool" -> Spatial.pool(w, i, "maxpool");
      case "AveragePool" -> Spatial.pool(w, i, "avgpool");
      case "GlobalAveragePool" -> Spatial.globalAveragePool(w, i);
      case "Pad" -> Spatial.pad(w, i);
      case "LayerNormalization" -> LayerNorms.operator(w, i);
      case "ReduceMean" -> {
        Integer used = LayerNorms.pattern(w, i);
        if (used == null) used = Sequences.meanPool(w, i);
        if (used == null) throw w.error(i, "hbp maps ReduceMean only within the layer normalisation pattern (ReduceMean, Sub, Pow, ReduceMean, Add, "
            + "Sqrt, Div, Mul, Add) over the last axis of a vector or of each token of a sequence, and as the mean over the tokens of a "
            + "sequence (axes [1], keepdims 0), which this is not; " + unknown(w, i).getMessage().replaceFirst("^.*?; map it", "map it"));
        yield used;
      }
      case "Identity", "Dropout" -> {
        for (int k = 1; k < n.getOutputCount(); k++)
          if (!n.getOutput(k).isEmpty() && w.model().outputs().contains(n.getOutput(k))) throw w.error(i, "its mask is a graph output");
        w.advance(n.getOutput(0), w.shape);
        yield 1;
      }
      default -> throw unknown(w, i);
    };
  }

  /** The error for an operator without a mapping, saying how to give one. */
  static UserError unknown(OnnxImporter w, int i) {
    String op = w.node(i).getOpType();
    List<String> attributes = w.node(i).getAttributeList().stream().map(a -> a.getName()).toList();
    if (!attributes.isEmpty())
      return w.error(i, "hbp has no built-in mapping for the ONNX operator " + op + " (it maps: " + String.join(", ", SUPPORTED) + "), and this node "
          + "cannot be mapped to a module of your own either: it has attributes (" + String.join(", ", attributes) + "), which --map does not "
          + "carry; write that part of the model with operators hbp maps (e.g. elementwise arithmetic) and export it again");
    return w.error(i, "hbp has no built-in mapping for the ONNX operator " + op + " (it maps: " + String.join(", ", SUPPORTED)
        + "); map it to a module of your own with --map " + op + "=my-specs/op.hbp:module (a spec file and the name of a module in it; the node's "
        + "computed input is the module's input, its constant inputs the module's parameters in declared order; attributes are not supported)");
  }

  /** A module that keeps the shape (acts on the vec of the sample). */
  static int elementwise(OnnxImporter w, int i, String module) {
    NodeProto n = w.node(i);
    w.addLayer(module, Map.of(), origin(w, i));
    w.advance(n.getOutput(0), w.shape);
    return 1;
  }

  static String origin(OnnxImporter w, int i) {
    return w.describe(i);
  }

  /** Gemm: Y = alpha A B' + beta C (transB = 1, PyTorch's Linear) or A B + beta C: linear(m = out), W in [out, in]. */
  private static int gemm(OnnxImporter w, int i) {
    NodeProto n = w.node(i);
    if (Attributes.real(n, "alpha", 1) != 1 || Attributes.real(n, "beta", 1) != 1 || Attributes.integer(n, "transA", 0) != 0)
      throw w.error(i, "alpha, beta and transA must be 1, 1 and 0 (PyTorch's Linear); got " + Attributes.real(n, "alpha", 1) + ", "
          + Attributes.real(n, "beta", 1) + ", " + Attributes.integer(n, "transA", 0));
    requireVector(w, i);
    NdArray b = constantInput(w, i, 1, "the weight B");
    if (b.rank() != 2) throw w.error(i, "weight B of shape " + java.util.Arrays.toString(b.shape()) + "; expected a matrix");
    boolean transB = Attributes.integer(n, "transB", 0) == 1;
    NdArray weight = transB ? b : transpose(b);
    String src = n.getInput(1) + (transB ? "" : " (transposed)");
    NdArray bias = n.getInputCount() > 2 && !n.getInput(2).isEmpty() ? constantInput(w, i, 2, "the bias C") : null;
    return linear(w, i, 1, weight, src, bias, bias == null ? null : n.getInput(2), origin(w, i));
  }

  /** MatMul with a constant [in, out] weight, and an Add of a constant [out] bias right after: linear (or linear_nobias). */
  private static int matMul(OnnxImporter w, int i) {
    NodeProto n = w.node(i);
    if (!n.getInput(0).equals(w.current)) throw w.error(i, "multiplies a constant by the value from the left; hbp maps x W (PyTorch's Linear)");
    requireVector(w, i);
    NdArray b = constantInput(w, i, 1, "the weight");
    if (b.rank() != 2) throw w.error(i, "weight of shape " + java.util.Arrays.toString(b.shape()) + "; expected a matrix [in, out]");
    int j = w.next(i);
    NodeProto add = j < 0 ? null : w.node(j);
    if (add != null && add.getOpType().equals("Add") && add.getInputList().contains(n.getOutput(0))) {
      String other = add.getInput(0).equals(n.getOutput(0)) ? add.getInput(1) : add.getInput(0);
      NdArray c = w.model().constant(other);
      if (c != null && c.rank() == 1 && c.dim(0) == b.dim(1)) {
        int used = j - i + 1;
        linear(w, i, used, transpose(b), n.getInput(1) + " (transposed)", c, other, origin(w, i) + " + " + w.describe(j));
        w.advance(add.getOutput(0), w.shape);
        return used;
      }
    }
    return linear(w, i, 1, transpose(b), n.getInput(1) + " (transposed)", null, null, origin(w, i));
  }

  /** Adds linear(m = out) (or linear_nobias), weight [out, in] and bias [out]. */
  private static int linear(OnnxImporter w, int i, int used, NdArray weight, String weightSource, NdArray bias, String biasSource, String origin) {
    int in = numel(w.shape), out = weight.dim(0);
    if (weight.dim(1) != in) throw w.error(i, "weight of shape [out, in] = " + java.util.Arrays.toString(weight.shape()) + " but the input has " + in + " entries");
    if (bias != null && bias.numel() != out) throw w.error(i, "bias of " + bias.numel() + " entries; expected " + out);
    Map<String, Integer> args = new LinkedHashMap<>();
    args.put("m", out);
    int layer = w.addLayer(bias == null ? "linear_nobias" : "linear", args, origin);
    w.addParameter(layer, "W", weight, weightSource);
    if (bias != null) w.addParameter(layer, "b", bias.reshape(out), biasSource);
    w.advance(w.node(i).getOutput(0), List.of(out));
    return used;
  }

  /** Add of a constant vector to a vector: bias. */
  private static int bias(OnnxImporter w, int i) {
    NodeProto n = w.node(i);
    String other = n.getInput(0).equals(w.current) ? n.getInput(1) : n.getInput(0);
    NdArray c = w.model().constant(other);
    if (c == null || w.shape.size() != 1 || c.numel() != w.shape.get(0) || c.rank() != 1)
      throw w.error(i, "hbp maps Add of a constant vector [n] to a vector value [N, n] (a bias); here the value has per-sample shape " + w.shape
          + (c == null ? "" : " and the constant " + java.util.Arrays.toString(c.shape())));
    int layer = w.addLayer("bias", Map.of(), origin(w, i));
    w.addParameter(layer, "b", c, other);
    w.advance(n.getOutput(0), w.shape);
    return 1;
  }

  /** Flatten of an image or a matrix (a sequence) to a vector (nothing to do on a vector). */
  private static int flatten(OnnxImporter w, int i) {
    NodeProto n = w.node(i);
    if (w.shape.size() == 3) w.addLayer("flatten", Map.of(), origin(w, i));
    if (w.shape.size() == 2) w.addLayer("flatten_matrix", Map.of(), origin(w, i));
    w.advance(n.getOutput(0), List.of(numel(w.shape)));
    return 1;
  }

  /** Reshape to [N, -1] or [N, numel] (PyTorch's x.view(x.size(0), -1)): a flatten. */
  private static int reshape(OnnxImporter w, int i) {
    NodeProto n = w.node(i);
    NdArray s = constantInput(w, i, 1, "the target shape");
    int numel = numel(w.shape);
    boolean flat = s.numel() == 2 && (s.data()[1] == -1 || s.data()[1] == numel) && s.data()[0] != -1 || s.numel() == 2 && s.data()[0] == -1 && s.data()[1] == numel;
    if (!flat) throw w.error(i, "reshapes a per-sample shape " + w.shape + " to " + java.util.Arrays.toString(s.data())
        + "; hbp maps a Reshape to [N, -1] (a flatten) only");
    return flatten(w, i);
  }

  /** GELU as older exporters write it: x * (1 + erf(x / sqrt 2)) * 0.5, nodes Div, Erf, Add, Mul, Mul; null where node i does not start it. */
  private static Integer erfGelu(OnnxImporter w, int i) {
    String x = w.current;
    List<Integer> at = new ArrayList<>(List.of(i));
    NodeProto div = w.node(i);
    boolean ok = div.getInput(0).equals(x) && near(w, div.getInput(1), Math.sqrt(2));
    String value = div.getOutput(0);
    String[][] steps = {{"Erf"}, {"Add", "1"}, {"Mul", "x"}, {"Mul", "0.5"}};
    int j = i;
    for (String[] step : steps) {
      if (!ok) break;
      j = w.next(j);
      NodeProto s = j < 0 ? null : w.node(j);
      ok = s != null && s.getOpType().equals(step[0]) && s.getInputList().contains(value);
      if (ok && step.length > 1) {
        String other = s.getInput(0).equals(value) ? s.getInput(1) : s.getInput(0);
        ok = step[1].equals("x") ? other.equals(x) : near(w, other, Double.parseDouble(step[1]));
      }
      if (ok) {
        value = s.getOutput(0);
        at.add(j);
      }
    }
    if (!ok) return null;
    w.addLayer("gelu", Map.of(), "nodes " + at + " (GELU: Div, Erf, Add, Mul, Mul)");
    w.advance(value, w.shape);
    return j - i + 1;
  }

  /** Whether a constant scalar is within float32 rounding of {@code v}. */
  private static boolean near(OnnxImporter w, String name, double v) {
    NdArray c = w.model().constant(name);
    return c != null && c.numel() == 1 && Math.abs(c.data()[0] - v) <= 1e-6 * Math.abs(v);
  }

  static NdArray constantInput(OnnxImporter w, int i, int k, String what) {
    NodeProto n = w.node(i);
    NdArray c = k < n.getInputCount() ? w.model().constant(n.getInput(k)) : null;
    if (c == null) throw w.error(i, what + " (input " + k + ") is not a constant (an initializer); hbp imports constant weights");
    return c;
  }

  private static void requireVector(OnnxImporter w, int i) {
    if (w.shape.size() != 1)
      throw w.error(i, "its input has per-sample shape " + w.shape + "; hbp maps it on vectors [N, n] (flatten first)");
  }

  static int numel(List<Integer> s) {
    int n = 1;
    for (int d : s) n *= d;
    return n;
  }

  static NdArray transpose(NdArray a) {
    int r = a.dim(0), c = a.dim(1);
    double[] t = new double[r * c], values = a.data(); // data() copies: once, not per entry
    for (int i = 0; i < r; i++) for (int j = 0; j < c; j++) t[j * r + i] = values[i * c + j];
    return NdArray.of(t, c, r);
  }
}
