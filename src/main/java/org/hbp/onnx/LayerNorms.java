package org.hbp.onnx;

import ai.onnx.proto.OnnxMl.NodeProto;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.hbp.io.NdArray;

/**
 * Layer normalisation of a vector to the built-in {@code layernorm}, and of each token of a
 * sequence ([N, T, d], hbp's matrix(d, T)) to {@code layernorm_tokens} (PyTorch's nn.LayerNorm(d):
 * eps 1e-5, weight g and bias b, over the last axis): the operator LayerNormalization (opset 17)
 * and the pattern older exporters write, {@code ReduceMean, Sub, Pow 2, ReduceMean, Add eps, Sqrt,
 * Div, Mul g, Add b}.
 */
final class LayerNorms {
  private LayerNorms() {}

  /** The built-in spec's epsilon. */
  static final double EPS = 1e-5;

  /** LayerNormalization(X, Scale, B) over the last axis of a vector. */
  static int operator(OnnxImporter w, int i) {
    NodeProto n = w.node(i);
    requireVector(w, i);
    long axis = Attributes.integer(n, "axis", -1);
    if (axis != -1 && axis != w.shape.size())
      throw w.error(i, "axis " + axis + "; hbp's layernorm normalises a vector [N, n] or each token of a sequence [N, T, d] over the last axis");
    double eps = Attributes.real(n, "epsilon", 1e-5);
    requireEps(w, i, eps);
    if (n.getOutputCount() > 1 && n.getOutputList().subList(1, n.getOutputCount()).stream().anyMatch(o -> !o.isEmpty()))
      throw w.error(i, "its mean or inverse standard deviation outputs are used; hbp maps the normalised output only");
    NdArray g = OperatorMappings.constantInput(w, i, 1, "the scale");
    NdArray b = n.getInputCount() > 2 && !n.getInput(2).isEmpty() ? OperatorMappings.constantInput(w, i, 2, "the bias") : null;
    if (b == null) throw w.error(i, "has no bias; hbp's layernorm has weight and bias (nn.LayerNorm with elementwise_affine=True)");
    add(w, i, g, n.getInput(1), b, n.getInput(2), OperatorMappings.origin(w, i));
    w.advance(n.getOutput(0), w.shape);
    return 1;
  }

  /** The decomposed pattern starting at a ReduceMean of the current value; null when it is not that pattern. */
  static Integer pattern(OnnxImporter w, int i) {
    String x = w.current;
    NodeProto mean = w.node(i);
    if (!mean.getInput(0).equals(x) || !lastAxis(mean, w.shape.size())) return null;
    List<Integer> at = new ArrayList<>(List.of(i));
    int j = i;
    // Sub(x, mean)
    j = w.next(j);
    NodeProto sub = j < 0 ? null : w.node(j);
    if (sub == null || !sub.getOpType().equals("Sub") || !sub.getInput(0).equals(x) || !sub.getInput(1).equals(mean.getOutput(0))) return null;
    at.add(j);
    String centred = sub.getOutput(0);
    j = w.next(j);
    NodeProto pow = j < 0 ? null : w.node(j);
    if (pow == null || !pow.getOpType().equals("Pow") || !pow.getInput(0).equals(centred) || !constantIs(w, pow.getInput(1), 2)) return null;
    at.add(j);
    j = w.next(j);
    NodeProto var = j < 0 ? null : w.node(j);
    if (var == null || !var.getOpType().equals("ReduceMean") || !var.getInput(0).equals(pow.getOutput(0)) || !lastAxis(var, w.shape.size())) return null;
    at.add(j);
    j = w.next(j);
    NodeProto addEps = j < 0 ? null : w.node(j);
    if (addEps == null || !addEps.getOpType().equals("Add") || !addEps.getInputList().contains(var.getOutput(0))) return null;
    NdArray eps = w.model().constant(other(addEps, var.getOutput(0)));
    if (eps == null || eps.numel() != 1) return null;
    at.add(j);
    j = w.next(j);
    NodeProto sqrt = j < 0 ? null : w.node(j);
    if (sqrt == null || !sqrt.getOpType().equals("Sqrt") || !sqrt.getInput(0).equals(addEps.getOutput(0))) return null;
    at.add(j);
    j = w.next(j);
    NodeProto div = j < 0 ? null : w.node(j);
    if (div == null || !div.getOpType().equals("Div") || !div.getInput(0).equals(centred) || !div.getInput(1).equals(sqrt.getOutput(0))) return null;
    at.add(j);
    requireEps(w, i, eps.data()[0]);
    j = w.next(j);
    NodeProto mul = j < 0 ? null : w.node(j);
    NdArray g = mul != null && mul.getOpType().equals("Mul") && mul.getInputList().contains(div.getOutput(0))
        ? w.model().constant(other(mul, div.getOutput(0))) : null;
    int k = w.next(j);
    NodeProto add = g == null || k < 0 ? null : w.node(k);
    NdArray b = add != null && add.getOpType().equals("Add") && add.getInputList().contains(mul.getOutput(0))
        ? w.model().constant(other(add, mul.getOutput(0))) : null;
    if (g == null || b == null)
      throw w.error(i, "layer normalisation (nodes " + at + ") without a weight and a bias after it; hbp's layernorm has both "
          + "(nn.LayerNorm with elementwise_affine=True)");
    at.add(j);
    at.add(k);
    add(w, i, g, other(mul, div.getOutput(0)), b, other(add, mul.getOutput(0)), "nodes " + at + " (LayerNorm: ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, Div, Mul, Add)");
    w.advance(add.getOutput(0), w.shape);
    return k - i + 1;
  }

  private static void add(OnnxImporter w, int i, NdArray g, String gSource, NdArray b, String bSource, String origin) {
    int n = w.shape.get(0);
    if (g.numel() != n || b.numel() != n)
      throw w.error(i, "weight and bias of " + g.numel() + " and " + b.numel() + " entries; the vector has " + n);
    int layer = w.addLayer(w.shape.size() == 2 ? "layernorm_tokens" : "layernorm", Map.of(), origin);
    w.addParameter(layer, "g", g.reshape(n), gSource);
    w.addParameter(layer, "b", b.reshape(n), bSource);
  }

  private static void requireVector(OnnxImporter w, int i) {
    if (w.shape.size() != 1 && w.shape.size() != 2)
      throw w.error(i, "its input has per-sample shape " + w.shape + "; hbp's layernorm normalises vectors [N, n] and the tokens of sequences [N, T, d]");
  }

  private static void requireEps(OnnxImporter w, int i, double eps) {
    if (Math.abs(eps - EPS) > 1e-6 * EPS)
      throw w.error(i, "epsilon " + eps + "; hbp's layernorm has PyTorch's default 1e-5 (write a spec with yours and --map it)");
  }

  /** ReduceMean over the last axis (attribute axes [-1] or [rank - 1]), keepdims whatever; {@code sampleRank} is the value's rank less the batch axis. */
  private static boolean lastAxis(NodeProto n, int sampleRank) {
    List<Long> axes = Attributes.integers(n, "axes");
    return axes != null && axes.size() == 1 && (axes.get(0) == -1 || axes.get(0) == sampleRank) && sampleRank <= 2;
  }

  private static boolean constantIs(OnnxImporter w, String name, double v) {
    NdArray c = w.model().constant(name);
    return c != null && c.numel() == 1 && c.data()[0] == v;
  }

  private static String other(NodeProto n, String value) {
    return n.getInput(0).equals(value) ? n.getInput(1) : n.getInput(0);
  }
}
