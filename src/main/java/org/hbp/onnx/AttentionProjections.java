package org.hbp.onnx;

import ai.onnx.proto.OnnxMl.NodeProto;
import java.util.Arrays;
import java.util.List;
import org.hbp.io.NdArray;

/**
 * The input projections of nn.MultiheadAttention's exported subgraph ({@link Attention}): from the
 * value x {@code [T, N, d]} (after the first Transpose) to the queries, keys and values, in one of
 * the two forms torch.onnx.export writes (torch 1.13):
 * <ul>
 *   <li>packed ({@code in_proj_weight [3d, d]}, the default where kdim = vdim = d): one MatMul by
 *       in_proj_weight' {@code [d, 3d]} (and an Add of in_proj_bias {@code [3d]}), three Slices of it
 *       whose end bounds are {@code Mul}s by 1, 2, 3 (q, k, v); Wq, Wk, Wv are in_proj_weight's row
 *       blocks (named {@code <in_proj_weight>[q]}, ... where the file holds in_proj_weight);</li>
 *   <li>separate ({@code q_proj_weight}, {@code k_proj_weight}, {@code v_proj_weight}, each
 *       {@code [d, d]} here: a module built with separate projection weights and called on one value):
 *       three MatMuls of x by their transposes (and an Add of a bias {@code [d]} each: in_proj_bias's
 *       thirds, a constant each where the export folded them, else Slices of in_proj_bias), told
 *       apart by what reads them: the queries are scaled by a Div after their Reshape and Transpose
 *       [1,0,2], the keys transposed by [1,2,0], the values the rest.</li>
 * </ul>
 */
final class AttentionProjections {
  private AttentionProjections() {}

  private static final String[] PART = {"q", "k", "v"};

  /**
   * The queries', keys' and values' computed values (before their Reshapes), Wq, Wk, Wv in PyTorch's layout
   * {@code [d, d]} and bq, bk, bv (null without biases), each with its source for {@link OnnxImporter#addParameter}.
   */
  record Projections(String[] values, NdArray[] weights, String[] weightSources, NdArray[] biases, String[] biasSources) {}

  /** The packed form from x, or null. */
  static Projections packed(OnnxImporter w, Attention.Walk p, String x, int d) {
    NodeProto in = p.only(x, "MatMul");
    NdArray inProj = in == null ? null : w.model().constant(in.getInput(1));
    if (inProj == null || inProj.rank() != 2 || inProj.dim(0) != d || inProj.dim(1) != 3 * d) return null;
    // with biases: an Add of in_proj_bias [3d] reads the projection (besides Shapes)
    String projected = in.getOutput(0);
    String inBiasName = null;
    NodeProto add = null;
    for (NodeProto r : p.readers(projected)) if (r.getOpType().equals("Add")) add = r;
    if (add != null) {
      p.visited.add(p.index(add));
      inBiasName = p.constantOperand(add, projected);
      NdArray b = inBiasName == null ? null : w.model().constant(inBiasName);
      if (b == null || b.numel() != 3 * d || b.rank() != 1) return null;
      projected = add.getOutput(0);
    }
    String[] values = new String[3]; // q, k, v by the factor 1, 2, 3 of their end bounds
    for (NodeProto s : p.readers(projected)) {
      if (s.getOpType().equals("Shape")) continue;
      Integer factor = s.getOpType().equals("Slice") ? third(p, s) : null;
      if (factor == null || values[factor - 1] != null) return null;
      values[factor - 1] = s.getOutput(0);
      p.visited.add(p.index(s));
    }
    if (values[0] == null || values[1] == null || values[2] == null) return null;
    NdArray inWeight = OperatorMappings.transpose(inProj); // in_proj_weight [3d, d]
    // the rows of in_proj_weight where the file holds it (a Transpose of it folded): its parts, else of the exporter's folded transpose
    String inWeightName = w.model().transposedInitializer(in.getInput(1));
    NdArray[] weights = new NdArray[3], biases = inBiasName == null ? null : new NdArray[3];
    String[] weightSources = new String[3], biasSources = inBiasName == null ? null : new String[3];
    for (int r = 0; r < 3; r++) {
      weights[r] = NdArray.of(Arrays.copyOfRange(inWeight.data(), r * d * d, (r + 1) * d * d), d, d);
      weightSources[r] = inWeightName != null ? inWeightName + "[" + PART[r] + "]" : in.getInput(1) + " (transposed)";
      if (biases != null) {
        biases[r] = NdArray.of(Arrays.copyOfRange(w.model().constant(inBiasName).data(), r * d, (r + 1) * d), d);
        biasSources[r] = inBiasName + "[" + PART[r] + "]";
      }
    }
    return new Projections(values, weights, weightSources, biases, biasSources);
  }

  /** The separate form from x, or null. */
  static Projections separate(OnnxImporter w, Attention.Walk p, String x, int d) {
    List<NodeProto> readers = p.computing(x);
    if (readers.size() != 3) return null;
    String[] values = new String[3];
    NdArray[] weights = new NdArray[3], biases = new NdArray[3];
    String[] weightSources = new String[3], biasSources = new String[3];
    int biased = 0;
    for (NodeProto m : readers) {
      NdArray wt = m.getOpType().equals("MatMul") && m.getInput(0).equals(x) ? w.model().constant(m.getInput(1)) : null;
      if (wt == null || wt.rank() != 2 || wt.dim(0) != d || wt.dim(1) != d) return null;
      p.visited.add(p.index(m));
      String value = m.getOutput(0);
      Bias b = bias(w, p, value, d);
      if (b != null) value = b.add.getOutput(0);
      Integer role = role(p, value);
      if (role == null || values[role] != null) return null;
      values[role] = value;
      weights[role] = OperatorMappings.transpose(wt);
      weightSources[role] = m.getInput(1) + " (transposed)";
      if (b != null) {
        biases[role] = b.value;
        biasSources[role] = b.source;
        biased++;
      }
    }
    if (biased != 0 && biased != 3) return null;
    return new Projections(values, weights, weightSources, biased == 0 ? null : biases, biased == 0 ? null : biasSources);
  }

  /** A projection's bias: the Add, its value [d] and its source. */
  private record Bias(NodeProto add, NdArray value, String source) {}

  /**
   * The Add of a bias [d] to {@code value} (its only reader besides Shapes): a constant (the export folded in_proj_bias's
   * thirds), or a Slice of in_proj_bias [3d] (an initializer) whose end bound is a Mul by 1, 2 or 3; null where none is added.
   */
  private static Bias bias(OnnxImporter w, Attention.Walk p, String value, int d) {
    List<NodeProto> r = p.computing(value);
    if (r.size() != 1 || !r.get(0).getOpType().equals("Add") || r.get(0).getInputCount() != 2) return null;
    NodeProto add = r.get(0);
    String other = add.getInput(0).equals(value) ? add.getInput(1) : add.getInput(0);
    NdArray c = w.model().constant(other);
    if (c != null) return c.numel() == d && c.rank() == 1 ? visited(p, add, new Bias(add, c, other)) : null;
    NodeProto slice = p.producer(other);
    NdArray packed = slice == null || !slice.getOpType().equals("Slice") || !w.model().isInitializer(slice.getInput(0)) ? null
        : w.model().constant(slice.getInput(0));
    Integer factor = packed == null || packed.rank() != 1 || packed.numel() != 3 * d ? null : third(p, slice);
    if (factor == null) return null;
    p.visited.add(p.index(slice));
    NdArray b = NdArray.of(Arrays.copyOfRange(packed.data(), (factor - 1) * d, factor * d), d);
    return visited(p, add, new Bias(add, b, slice.getInput(0) + "[" + PART[factor - 1] + "]"));
  }

  private static Bias visited(Attention.Walk p, NodeProto add, Bias b) {
    p.visited.add(p.index(add));
    return b;
  }

  /** Which third (1, 2, 3) a Slice takes: the constant factor of the Mul that computes its end bound, or null. */
  private static Integer third(Attention.Walk p, NodeProto slice) {
    if (slice.getInputCount() < 3) return null;
    NodeProto end = p.producer(slice.getInput(2));
    Integer factor = end == null || !end.getOpType().equals("Mul") ? null : p.scalarOperand(end);
    return factor == null || factor < 1 || factor > 3 ? null : factor;
  }

  /**
   * Whether a projected value is the queries (0: Reshape, Transpose [1,0,2], Div), the keys (1: Reshape, Transpose [1,2,0]) or
   * the values (2: Reshape, Transpose [1,0,2], read by another node), by what reads it; null for none of them.
   */
  private static Integer role(Attention.Walk p, String value) {
    NodeProto t = p.after(value, "Reshape", "Transpose");
    if (t == null) return null;
    List<Long> perm = Attributes.integers(t, "perm");
    if (List.of(1L, 2L, 0L).equals(perm)) return 1;
    if (!List.of(1L, 0L, 2L).equals(perm)) return null;
    List<NodeProto> r = p.computing(t.getOutput(0));
    return r.size() == 1 && r.get(0).getOpType().equals("Div") ? 0 : 2;
  }
}
