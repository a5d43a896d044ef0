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
 * Multi-head self-attention as torch.onnx.export writes nn.MultiheadAttention(d, h, bias=False,
 * batch_first=True) called as {@code mha(x, x, x, need_weights=False)} (torch 1.13, opsets 14 and
 * 17), mapped to the spec {@code multihead_attention(h, k)} (shipped in modules-extra/) (k = d / h) with
 * {@code [Wq; Wk; Wv] = in_proj_weight} and {@code Wo = out_proj.weight}. The exporter writes:
 * <pre>
 *   Transpose [1,0,2] (to [T, N, d]); MatMul by in_proj_weight' [d, 3d];
 *   three Slices of it (q, k, v; bounds computed from its Shape: Shape, Gather, Add, Div, Mul);
 *   q: Reshape [T, N h, k], Transpose [1,0,2], Div by sqrt(k);
 *   k: Reshape, Transpose [1,2,0];  v: Reshape, Transpose [1,0,2];
 *   MatMul(q, k), Softmax (last axis), MatMul(., v), Transpose [1,0,2], Reshape [T N, d],
 *   MatMul by out_proj.weight' [d, d], Reshape [T, N, d], Transpose [1,0,2] (back to [N, T, d])
 * </pre>
 * The batch size baked into the Reshape shapes is not read: the pattern is recognised by its
 * operators and wiring, the head size k from q's Reshape.
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
    int d = w.shape.get(0);
    NodeProto in = p.only(start.getOutput(0), "MatMul");
    NdArray inProj = in == null ? null : w.model().constant(in.getInput(1));
    if (inProj == null || inProj.rank() != 2 || inProj.dim(0) != d || inProj.dim(1) != 3 * d) return null;
    NodeProto[] slices = new NodeProto[3]; // q, k, v by the factor 1, 2, 3 of their end bounds
    for (NodeProto s : p.readers(in.getOutput(0))) {
      if (s.getOpType().equals("Shape")) continue;
      if (!s.getOpType().equals("Slice") || s.getInputCount() < 3) return null;
      NodeProto end = p.producer(s.getInput(2));
      Integer factor = end == null || !end.getOpType().equals("Mul") ? null : p.scalarOperand(end);
      if (factor == null || factor < 1 || factor > 3 || slices[factor - 1] != null) return null;
      slices[factor - 1] = s;
      p.visited.add(p.index(s));
    }
    if (slices[0] == null || slices[1] == null || slices[2] == null) return null;
    // q: Reshape, Transpose [1,0,2], Div by sqrt(k)
    NodeProto qReshape = p.only(slices[0].getOutput(0), "Reshape");
    NdArray qShape = qReshape == null ? null : w.model().constant(qReshape.getInput(1));
    if (qShape == null || qShape.numel() != 3) return null;
    int k = (int) qShape.data()[2];
    if (k <= 0 || d % k != 0) return null;
    NodeProto qT = p.only(qReshape.getOutput(0), "Transpose");
    NodeProto qScaled = qT == null || !p.perm(qT, 1, 0, 2) ? null : p.only(qT.getOutput(0), "Div");
    NdArray scale = qScaled == null ? null : w.model().constant(qScaled.getInput(1));
    if (scale == null || scale.numel() != 1 || Math.abs(scale.data()[0] - Math.sqrt(k)) > 1e-6 * Math.sqrt(k)) return null;
    // k: Reshape, Transpose [1,2,0]; v: Reshape, Transpose [1,0,2]
    NodeProto kT = p.after(slices[1], "Reshape", "Transpose");
    NodeProto vT = p.after(slices[2], "Reshape", "Transpose");
    if (kT == null || vT == null || !p.perm(kT, 1, 2, 0) || !p.perm(vT, 1, 0, 2)) return null;
    NodeProto scores = p.only(qScaled.getOutput(0), "MatMul");
    if (scores == null || !scores.getInput(0).equals(qScaled.getOutput(0)) || !scores.getInput(1).equals(kT.getOutput(0))) return null;
    NodeProto softmax = p.only(scores.getOutput(0), "Softmax");
    if (softmax == null || Attributes.integer(softmax, "axis", -1) != -1 && Attributes.integer(softmax, "axis", -1) != 2) return null;
    NodeProto mixed = p.only(softmax.getOutput(0), "MatMul");
    if (mixed == null || !mixed.getInput(0).equals(softmax.getOutput(0)) || !mixed.getInput(1).equals(vT.getOutput(0))) return null;
    NodeProto heads = p.only(mixed.getOutput(0), "Transpose");
    NodeProto out = heads == null || !p.perm(heads, 1, 0, 2) ? null : p.after(heads, "Reshape", "MatMul");
    NdArray outProj = out == null ? null : w.model().constant(out.getInput(1));
    if (outProj == null || outProj.rank() != 2 || outProj.dim(0) != d || outProj.dim(1) != d) return null;
    NodeProto end = p.after(out, "Reshape", "Transpose");
    if (end == null || !p.perm(end, 1, 0, 2)) return null;
    int last = p.index(end);
    if (!p.onlyShapeArithmeticBesides(i, last)) return null;

    Map<String, Integer> args = new LinkedHashMap<>();
    args.put("h", d / k);
    args.put("k", k);
    int layer = w.addLayer("multihead_attention", args, "nodes " + i + ".." + last + " (multi-head attention: nn.MultiheadAttention, "
        + d / k + " heads)");
    NdArray weights = OperatorMappings.transpose(inProj); // in_proj_weight [3d, d]
    String[] names = {"Wq", "Wk", "Wv"};
    for (int r = 0; r < 3; r++) {
      double[] rows = java.util.Arrays.copyOfRange(weights.data(), r * d * d, (r + 1) * d * d);
      w.addParameter(layer, names[r], NdArray.of(rows, d, d), in.getInput(1) + " (transposed)");
    }
    w.addParameter(layer, "Wo", OperatorMappings.transpose(outProj), out.getInput(1) + " (transposed)");
    w.advance(end.getOutput(0), w.shape);
    return last - i + 1;
  }

  /** Graph look-ups for the pattern; every node it visits is remembered. */
  private static final class Walk {
    private final OnnxImporter w;
    private final Map<String, Integer> producers = new LinkedHashMap<>();
    private final Set<Integer> visited = new HashSet<>();

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

    /** The one node reading {@code value}, if it is an {@code op} (remembered), else null. */
    NodeProto only(String value, String op) {
      List<NodeProto> r = readers(value);
      if (r.size() != 1 || !r.get(0).getOpType().equals(op)) return null;
      visited.add(index(r.get(0)));
      return r.get(0);
    }

    /** The chain n -> op1 -> op2 (each the only reader of the one before), or null. */
    NodeProto after(NodeProto n, String op1, String op2) {
      NodeProto a = only(n.getOutput(0), op1);
      return a == null ? null : only(a.getOutput(0), op2);
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

    /** Whether every node of i..last not on the pattern's path is shape arithmetic reading no computed float value but by a Shape. */
    boolean onlyShapeArithmeticBesides(int i, int last) {
      Set<String> path = new HashSet<>();
      for (int j : visited) path.addAll(w.node(j).getOutputList());
      for (int j = i + 1; j < last; j++) {
        NodeProto n = w.node(j);
        if (visited.contains(j)) continue;
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
