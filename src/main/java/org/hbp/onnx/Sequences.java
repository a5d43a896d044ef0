package org.hbp.onnx;

import ai.onnx.proto.OnnxMl.NodeProto;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.hbp.io.NdArray;

/**
 * The mappings of token sequences. PyTorch holds a sequence of T tokens of d features per sample
 * as {@code (T, d)} (row-major, an ONNX value {@code [N, T, d]}); hbp as {@code matrix(d, T)}, one
 * column per token (column-major): the same numbers in the same order, so no data moves. The
 * importer's shape of such a value is hbp's {@code [d, T]}.
 * <ul>
 *   <li>Gather(weight [V, d], ids) of the integer input (nn.Embedding): {@code embedding_table(d)}
 *       with W = weight, the input becoming one-hot columns {@code matrix(V, T)} (README: token ids).</li>
 *   <li>Transpose with perm [0, 2, 1] (the batch kept, the sample's two axes swapped): {@code transpose}.</li>
 *   <li>MatMul by a constant [d, m] (nn.Linear on each token), with an Add of a constant [m] after
 *       it: {@code linear_tokens(m)}, without: {@code matmul(m)}; W = the constant'.</li>
 *   <li>Add of a constant [T, d] (a learned positional embedding): {@code positional}, P = the constant.</li>
 *   <li>ReduceMean over the tokens (axes [1], keepdims 0: x.mean(1)): {@code meanpool}.</li>
 * </ul>
 */
final class Sequences {
  private Sequences() {}

  /** The importer's shape of the integer input [N, T]: hbp's one-hot {@code [V, T]}, V from the Gather that reads it. */
  static List<Integer> tokenInput(OnnxModel model) {
    List<Integer> ids = model.inputShape();
    String in = model.input();
    for (NodeProto n : model.nodes()) {
      if (!n.getInputList().contains(in)) continue;
      NdArray weight = n.getInputCount() == 2 ? model.constant(n.getInput(0)) : null;
      if (!n.getOpType().equals("Gather") || !n.getInput(1).equals(in) || weight == null || weight.rank() != 2 || ids.size() != 1)
        throw new org.hbp.UserError(model.file() + ": the input '" + in + "' holds integers of per-sample shape " + ids + ", read by "
            + (n.getName().isEmpty() ? "" : "'" + n.getName() + "' ") + "(" + n.getOpType() + "); hbp imports integer inputs as token ids [N, T] "
            + "read by one Gather of a constant [V, d] (nn.Embedding)");
      return List.of(weight.dim(0), ids.get(0));
    }
    throw new org.hbp.UserError(model.file() + ": no node reads the input '" + in + "'");
  }

  /** Gather(weight [V, d], ids), axis 0: {@code embedding_table(d)} on the one-hot input, W = weight [V, d]. */
  static int gather(OnnxImporter w, int i) {
    NodeProto n = w.node(i);
    boolean first = w.model().integerInput() && n.getInputCount() == 2 && n.getInput(1).equals(w.model().input());
    if (!first || Attributes.integer(n, "axis", 0) != 0)
      throw w.error(i, "hbp maps Gather only as nn.Embedding: rows (axis 0) of a constant [V, d] picked by the integer input [N, T] (token ids)"
          + (first ? "; this has axis " + Attributes.integer(n, "axis", 0) : ", which this is not"));
    NdArray weight = OperatorMappings.constantInput(w, i, 0, "the embedding table");
    int d = weight.dim(1), t = w.shape.get(1);
    Map<String, Integer> args = new LinkedHashMap<>();
    args.put("d", d);
    int layer = w.addLayer("embedding_table", args, OperatorMappings.origin(w, i));
    w.addParameter(layer, "W", weight, n.getInput(0));
    w.advance(n.getOutput(0), List.of(d, t));
    return 1;
  }

  /** Transpose perm [0, 2, 1] of a sequence: hbp's {@code transpose} ([d, T] to [T, d]); the identity perm passes. */
  static int transpose(OnnxImporter w, int i) {
    NodeProto n = w.node(i);
    List<Long> perm = Attributes.integers(n, "perm");
    int rank = w.shape.size() + 1;
    List<Long> identity = new java.util.ArrayList<>();
    for (long k = 0; k < rank; k++) identity.add(k);
    if (perm == null || perm.isEmpty()) {
      perm = new java.util.ArrayList<>(identity);
      java.util.Collections.reverse(perm);
    }
    if (perm.equals(identity)) {
      w.advance(n.getOutput(0), w.shape);
      return 1;
    }
    if (rank != 3 || !perm.equals(List.of(0L, 2L, 1L)))
      throw w.error(i, "perm " + perm + " of a value [N, " + String.join(", ", onnxShape(w.shape)) + "]; hbp maps Transpose that keeps the batch "
          + "axis first and swaps the two axes of a sequence (perm [0, 2, 1]: a matrix transpose), and the multi-head attention pattern of "
          + "nn.MultiheadAttention(d, h, batch_first=True) called on one value (with or without biases, packed or separate projection "
          + "weights, with or without a constant attn_mask)");
    Map<String, Integer> args = new LinkedHashMap<>();
    w.addLayer("transpose", args, OperatorMappings.origin(w, i));
    w.advance(n.getOutput(0), List.of(w.shape.get(1), w.shape.get(0)));
    return 1;
  }

  /** The ONNX per-sample shape of an hbp shape (a matrix's axes reversed). */
  static List<String> onnxShape(List<Integer> hbp) {
    List<String> s = new java.util.ArrayList<>();
    if (hbp.size() == 2) return List.of(String.valueOf(hbp.get(1)), String.valueOf(hbp.get(0)));
    for (int d : hbp) s.add(String.valueOf(d));
    return s;
  }

  /** MatMul of a sequence [N, T, n] by a constant [n, m], with the Add of a constant [m] after it: {@code linear_tokens(m)}, else {@code matmul(m)}. */
  static int matMul(OnnxImporter w, int i) {
    NodeProto n = w.node(i);
    if (!n.getInput(0).equals(w.current)) throw w.error(i, "multiplies a constant by the sequence from the left; hbp maps x W (nn.Linear on each token)");
    NdArray b = OperatorMappings.constantInput(w, i, 1, "the weight");
    int features = w.shape.get(0), tokens = w.shape.get(1);
    if (b.rank() != 2 || b.dim(0) != features)
      throw w.error(i, "weight of shape " + Arrays.toString(b.shape()) + "; expected [" + features + ", m] for tokens of " + features + " features");
    int m = b.dim(1);
    Map<String, Integer> args = new LinkedHashMap<>();
    args.put("m", m);
    int j = w.next(i);
    NodeProto add = j < 0 ? null : w.node(j);
    if (add != null && add.getOpType().equals("Add") && add.getInputList().contains(n.getOutput(0))) {
      String other = add.getInput(0).equals(n.getOutput(0)) ? add.getInput(1) : add.getInput(0);
      NdArray c = w.model().constant(other);
      if (c != null && c.rank() == 1 && c.dim(0) == m) {
        int layer = w.addLayer("linear_tokens", args, OperatorMappings.origin(w, i) + " + " + w.describe(j));
        w.addParameter(layer, "W", OperatorMappings.transpose(b), n.getInput(1) + " (transposed)");
        w.addParameter(layer, "b", c, other);
        w.advance(add.getOutput(0), List.of(m, tokens));
        return j - i + 1;
      }
    }
    int layer = w.addLayer("matmul", args, OperatorMappings.origin(w, i));
    w.addParameter(layer, "W", OperatorMappings.transpose(b), n.getInput(1) + " (transposed)");
    w.advance(n.getOutput(0), List.of(m, tokens));
    return 1;
  }

  /** Add of a constant [T, d] (or [1, T, d]) to a sequence [N, T, d]: {@code positional}, P = the constant [T, d]. */
  static int bias(OnnxImporter w, int i) {
    NodeProto n = w.node(i);
    String other = n.getInput(0).equals(w.current) ? n.getInput(1) : n.getInput(0);
    NdArray c = w.model().constant(other);
    int d = w.shape.get(0), t = w.shape.get(1);
    int[] s = c == null ? null : c.shape();
    boolean whole = s != null && (Arrays.equals(s, new int[] {t, d}) || Arrays.equals(s, new int[] {1, t, d}));
    if (!whole)
      throw w.error(i, "hbp maps Add of a constant [T, d] to a sequence [N, T, d] (a learned positional embedding); here the sequence is [N, " + t + ", "
          + d + "] and the constant " + (s == null ? "not a constant" : Arrays.toString(s)) + " (a bias of each token follows a MatMul as nn.Linear's)");
    int layer = w.addLayer("positional", Map.of(), OperatorMappings.origin(w, i));
    w.addParameter(layer, "P", c.reshape(t, d), other);
    w.advance(n.getOutput(0), w.shape);
    return 1;
  }

  /** ReduceMean over the tokens of a sequence (axes [1] or [-2], keepdims 0): {@code meanpool}; null when it is not that. */
  static Integer meanPool(OnnxImporter w, int i) {
    NodeProto n = w.node(i);
    List<Long> axes = Attributes.integers(n, "axes");
    if (w.shape.size() != 2 || axes == null || axes.size() != 1 || (axes.get(0) != 1 && axes.get(0) != -2)) return null;
    if (Attributes.integer(n, "keepdims", 1) != 0)
      throw w.error(i, "keepdims = 1 over the tokens; hbp maps the mean over the tokens to a vector (x.mean(1), keepdims 0)");
    w.addLayer("meanpool", Map.of(), OperatorMappings.origin(w, i));
    w.advance(n.getOutput(0), List.of(w.shape.get(0)));
    return 1;
  }
}
