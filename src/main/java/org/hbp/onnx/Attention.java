package org.hbp.onnx;

import ai.onnx.proto.OnnxMl.NodeProto;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.hbp.io.NdArray;

/**
 * Multi-head self-attention as torch.onnx.export writes nn.MultiheadAttention(d, h,
 * batch_first=True), with its default biases or bias=False, called as
 * {@code mha(x, x, x, need_weights=False)} or with a constant {@code attn_mask=A} (float, or boolean,
 * which the exporter writes as its float form) (torch 1.13, opsets 14 and 17), mapped to the spec
 * {@code multihead_attention(h, k)} or its forms
 * {@code multihead_attention_bias}, {@code multihead_attention_masked} and
 * {@code multihead_attention_bias_masked} (built in) (k = d / h) with
 * {@code [Wq; Wk; Wv] = in_proj_weight}, {@code [bq; bk; bv] = in_proj_bias},
 * {@code Wo = out_proj.weight}, {@code bo = out_proj.bias} and the data {@code M = A'}. The exporter writes:
 * <pre>
 *   Transpose [1,0,2] (to [T, N, d]); MatMul by in_proj_weight' [d, 3d] (and Add of in_proj_bias [3d]);
 *   three Slices of it (q, k, v; bounds computed from its Shape: Shape, Gather, Add, Div, Mul);
 *   q: Reshape [T, N h, k], Transpose [1,0,2], Div by sqrt(k);
 *   k: Reshape, Transpose [1,2,0];  v: Reshape, Transpose [1,0,2];
 *   MatMul(q, k) (with a mask: Mul by 1, Add of the mask [1, T, T]), Softmax (last axis), MatMul(., v),
 *   Transpose [1,0,2], Reshape [T N, d], MatMul by out_proj.weight' [d, d] (with a bias: Gemm with
 *   out_proj.weight and out_proj.bias), Reshape [T, N, d], Transpose [1,0,2] (back to [N, T, d])
 * </pre>
 * With separate projection weights (q_proj_weight, k_proj_weight, v_proj_weight, each [d, d]: a module built so, called on
 * one value) the in-projection is three MatMuls instead, each with an Add of its third of in_proj_bias
 * ({@link AttentionProjections}), and Wq, Wk, Wv are those weights. An export without constant folding (the Python
 * package's) computes the same from Transposes of the weights and Slices of in_proj_bias inside the pattern.
 * The batch size baked into the Reshape shapes is not read (and with a dynamic batch axis the
 * shapes are computed by Shape, Gather, Concat, ... of values in the pattern): the pattern is
 * recognised by its operators and wiring, the head size k from the scaling by sqrt(k).
 */
final class Attention {
  private Attention() {}

  /** Operators that may compute the Slice bounds and Reshape shapes inside the pattern (from a Shape of a value in it). */
  private static final Set<String> SHAPE_ARITHMETIC = Set.of("Shape", "Gather", "Constant", "Add", "Sub", "Div", "Mul", "Unsqueeze", "Squeeze",
      "Concat", "Cast", "Slice");

  /** The pattern starting at Transpose node i, or null when node i does not start it (then the caller reports the Transpose). */
  static Integer pattern(OnnxImporter w, int i) {
    Walk p = new Walk(w);
    NodeProto start = w.node(i);
    if (w.shape.size() != 2 || !start.getInput(0).equals(w.current) || !p.perm(start, 1, 0, 2)) return null;
    int d = w.shape.get(0), t = w.shape.get(1);
    AttentionProjections.Projections in = AttentionProjections.packed(w, p, start.getOutput(0), d);
    if (in == null) in = AttentionProjections.separate(w, p, start.getOutput(0), d);
    if (in == null) return null;
    // q: Reshape [T, N h, k], Transpose [1,0,2], Div by sqrt(k): k from the scaling (with a dynamic batch axis the
    // Reshape's shape is computed, not a constant; where it is one, its k must agree)
    NodeProto qReshape = p.only(in.values()[0], "Reshape");
    NodeProto qT = qReshape == null ? null : p.only(qReshape.getOutput(0), "Transpose");
    NodeProto qScaled = qT == null || !p.perm(qT, 1, 0, 2) ? null : p.only(qT.getOutput(0), "Div");
    NdArray scale = qScaled == null ? null : w.model().constant(qScaled.getInput(1));
    if (scale == null || scale.numel() != 1) return null;
    int k = (int) Math.round(scale.data()[0] * scale.data()[0]);
    if (k <= 0 || d % k != 0 || Math.abs(scale.data()[0] - Math.sqrt(k)) > 1e-6 * Math.sqrt(k)) return null;
    NdArray qShape = w.model().constant(qReshape.getInput(1));
    if (qShape != null && (qShape.numel() != 3 || qShape.data()[2] != k)) return null;
    // k: Reshape, Transpose [1,2,0]; v: Reshape, Transpose [1,0,2]
    NodeProto kT = p.after(in.values()[1], "Reshape", "Transpose");
    NodeProto vT = p.after(in.values()[2], "Reshape", "Transpose");
    if (kT == null || vT == null || !p.perm(kT, 1, 2, 0) || !p.perm(vT, 1, 0, 2)) return null;
    NodeProto scores = p.only(qScaled.getOutput(0), "MatMul");
    if (scores == null || !scores.getInput(0).equals(qScaled.getOutput(0)) || !scores.getInput(1).equals(kT.getOutput(0))) return null;
    String weights = scores.getOutput(0);
    NdArray mask = null;
    List<NodeProto> scoreReaders = p.computing(weights);
    if (scoreReaders.size() == 1 && !scoreReaders.get(0).getOpType().equals("Softmax")) {
      // an attn_mask (torch.baddbmm(A, q, k'): MatMul, Mul by alpha = 1, Add of beta * A)
      NodeProto alpha = p.only(weights, "Mul");
      if (alpha != null) {
        String one = p.constantOperand(alpha, weights);
        NdArray c = one == null ? null : w.model().constant(one);
        if (c == null || c.numel() != 1 || c.data()[0] != 1) return null;
        weights = alpha.getOutput(0);
      }
      NodeProto maskAdd = p.only(weights, "Add");
      String maskName = maskAdd == null ? null : p.constantOperand(maskAdd, weights);
      mask = maskName == null ? null : w.model().constant(maskName);
      if (mask == null || mask.numel() != t * t || !(mask.rank() == 2 || mask.rank() == 3 && mask.dim(0) == 1)) return null;
      weights = maskAdd.getOutput(0);
    }
    NodeProto softmax = p.only(weights, "Softmax");
    if (softmax == null || Attributes.integer(softmax, "axis", -1) != -1 && Attributes.integer(softmax, "axis", -1) != 2) return null;
    NodeProto mixed = p.only(softmax.getOutput(0), "MatMul");
    if (mixed == null || !mixed.getInput(0).equals(softmax.getOutput(0)) || !mixed.getInput(1).equals(vT.getOutput(0))) return null;
    NodeProto heads = p.only(mixed.getOutput(0), "Transpose");
    NodeProto merged = heads == null || !p.perm(heads, 1, 0, 2) ? null : p.only(heads.getOutput(0), "Reshape");
    OutProjection out = merged == null ? null : outProjection(w, p, merged.getOutput(0), d);
    if (out == null || (out.bias == null) != (in.biases() == null)) return null;
    NodeProto end = p.after(out.node, "Reshape", "Transpose");
    if (end == null || !p.perm(end, 1, 0, 2)) return null;
    int last = p.index(end);
    if (!p.onlyShapeArithmeticBesides(i, last)) return null;

    Map<String, Integer> args = new LinkedHashMap<>();
    args.put("h", d / k);
    args.put("k", k);
    String module = "multihead_attention" + (out.bias != null ? "_bias" : "") + (mask != null ? "_masked" : "");
    int layer = w.addLayer(module, args, "nodes " + i + ".." + last + " (multi-head attention: nn.MultiheadAttention, " + d / k + " heads"
        + (out.bias != null ? ", biases" : "") + (mask != null ? ", attn_mask" : "") + ")");
    String[] part = {"q", "k", "v"};
    for (int r = 0; r < 3; r++) w.addParameter(layer, "W" + part[r], in.weights()[r], in.weightSources()[r]);
    if (in.biases() != null) for (int r = 0; r < 3; r++) w.addParameter(layer, "b" + part[r], in.biases()[r], in.biasSources()[r]);
    w.addParameter(layer, "Wo", out.weight, out.weightSource);
    if (out.bias != null) w.addParameter(layer, "bo", out.bias, out.biasSource);
    // PyTorch's A[query, key] row-major holds hbp's M[key, query] column-major: the data as given
    if (mask != null) w.addData(layer, "M", NdArray.of(mask.data(), t, t));
    w.advance(end.getOutput(0), w.shape);
    return last - i + 1;
  }

  /** The output projection: its node, out_proj.weight [d, d] (PyTorch's layout) and bias, and their initializers. */
  private record OutProjection(NodeProto node, NdArray weight, String weightSource, NdArray bias, String biasSource) {}

  /** MatMul of {@code value} by out_proj.weight' (no bias) or Gemm(value, W, b) (transB 1 with W, or 0 with W'), else null. */
  private static OutProjection outProjection(OnnxImporter w, Walk p, String value, int d) {
    List<NodeProto> r = p.computing(value);
    if (r.size() != 1 || !r.get(0).getInput(0).equals(value)) return null;
    NodeProto n = r.get(0);
    NdArray b = n.getInputCount() > 1 ? w.model().constant(n.getInput(1)) : null;
    if (b == null || b.rank() != 2 || b.dim(0) != d || b.dim(1) != d) return null;
    if (n.getOpType().equals("MatMul")) {
      p.only(value, "MatMul");
      return new OutProjection(n, OperatorMappings.transpose(b), n.getInput(1) + " (transposed)", null, null);
    }
    if (!n.getOpType().equals("Gemm") || n.getInputCount() < 3) return null;
    if (Attributes.real(n, "alpha", 1) != 1 || Attributes.real(n, "beta", 1) != 1 || Attributes.integer(n, "transA", 0) != 0) return null;
    NdArray c = w.model().constant(n.getInput(2));
    if (c == null || c.numel() != d) return null;
    p.only(value, "Gemm");
    boolean transB = Attributes.integer(n, "transB", 0) == 1;
    return new OutProjection(n, transB ? b : OperatorMappings.transpose(b), n.getInput(1) + (transB ? "" : " (transposed)"), c.reshape(d),
        n.getInput(2));
  }

  /** Graph look-ups for the pattern; every node it visits is remembered. */
  static final class Walk {
    private final OnnxImporter w;
    private final Map<String, Integer> producers = new LinkedHashMap<>();
    final Set<Integer> visited = new HashSet<>();

    Walk(OnnxImporter w) {
      this.w = w;
      for (int j = 0; w.node(j) != null; j++) for (String o : w.node(j).getOutputList()) producers.put(o, j);
    }

    int index(NodeProto n) {
      return producers.get(n.getOutput(0));
    }

    NodeProto producer(String value) {
      Integer j = producers.get(value);
      return j == null ? null : w.node(j);
    }

    List<NodeProto> readers(String value) {
      List<NodeProto> out = new ArrayList<>();
      for (int j = 0; w.node(j) != null; j++) if (w.node(j).getInputList().contains(value)) out.add(w.node(j));
      return out;
    }

    /** The nodes reading {@code value} besides Shapes (which read only its shape; a dynamic batch axis has many). */
    List<NodeProto> computing(String value) {
      List<NodeProto> out = new ArrayList<>();
      for (NodeProto n : readers(value)) if (!n.getOpType().equals("Shape")) out.add(n);
      return out;
    }

    /** The one node reading {@code value} besides Shapes, if it is an {@code op} (remembered), else null. */
    NodeProto only(String value, String op) {
      List<NodeProto> r = computing(value);
      if (r.size() != 1 || !r.get(0).getOpType().equals(op)) return null;
      visited.add(index(r.get(0)));
      return r.get(0);
    }

    /** The chain value -> op1 -> op2 (each the only reader of the one before), or null. */
    NodeProto after(String value, String op1, String op2) {
      NodeProto a = only(value, op1);
      return a == null ? null : only(a.getOutput(0), op2);
    }

    /** The chain n -> op1 -> op2 (each the only reader of the one before), or null. */
    NodeProto after(NodeProto n, String op1, String op2) {
      return after(n.getOutput(0), op1, op2);
    }

    boolean perm(NodeProto n, long... perm) {
      List<Long> p = Attributes.integers(n, "perm");
      List<Long> want = new ArrayList<>();
      for (long x : perm) want.add(x);
      visited.add(index(n));
      return n.getOpType().equals("Transpose") && want.equals(p);
    }

    /** The integer value of the constant scalar operand of a binary node, or null. */
    Integer scalarOperand(NodeProto n) {
      for (String in : n.getInputList()) {
        NdArray c = w.model().constant(in);
        if (c != null && c.numel() == 1 && c.data()[0] == Math.rint(c.data()[0])) return (int) c.data()[0];
      }
      return null;
    }

    /** The other operand of a binary node reading {@code value}, if it is a constant, else null. */
    String constantOperand(NodeProto n, String value) {
      if (n.getInputCount() != 2) return null;
      String other = n.getInput(0).equals(value) ? n.getInput(1) : n.getInput(0);
      return w.model().isConstant(other) ? other : null;
    }

    /**
     * Whether every node of i..last not on the pattern's path is a folded constant, or shape arithmetic reading no computed
     * float value but by a Shape.
     */
    boolean onlyShapeArithmeticBesides(int i, int last) {
      Set<String> path = new HashSet<>();
      for (int j : visited) path.addAll(w.node(j).getOutputList());
      for (int j = i + 1; j < last; j++) {
        NodeProto n = w.node(j);
        // a constant folded (the Transpose of in_proj_weight where the export did not fold it) reads no computed value
        if (visited.contains(j) || n.getOutputCount() == 1 && w.model().isConstant(n.getOutput(0))) continue;
        if (!SHAPE_ARITHMETIC.contains(n.getOpType())) return false;
        if (!n.getOpType().equals("Shape") && readsAny(n, path)) return false;
      }
      return true;
    }

    private static boolean readsAny(NodeProto n, Set<String> values) {
      for (String in : n.getInputList()) if (values.contains(in)) return true;
      return false;
    }
  }
}
