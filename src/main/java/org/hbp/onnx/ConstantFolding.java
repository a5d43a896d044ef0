package org.hbp.onnx;

import ai.onnx.proto.OnnxMl.NodeProto;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.hbp.io.NdArray;

/**
 * Evaluates the small computations on constants that PyTorch's exporter leaves in a graph (the pads
 * of {@code ZeroPad2d}/{@code F.pad}: ConstantOfShape, Concat, Reshape, Slice, Transpose, Cast),
 * so that their results are constants like initializers. Row-major arrays of doubles; a node it
 * does not know, or an argument it does not handle, is left alone (the importer then names it).
 */
final class ConstantFolding {
  private ConstantFolding() {}

  /** The operators folded when all their inputs are constants. */
  static final Set<String> OPERATORS = Set.of("Identity", "Cast", "ConstantOfShape", "Concat", "Reshape", "Slice", "Transpose", "Unsqueeze");

  /** The node's output value when every input is a known constant and the operator is handled, else null. */
  static NdArray fold(NodeProto n, Map<String, NdArray> constants) {
    if (!OPERATORS.contains(n.getOpType()) || n.getOutputCount() != 1) return null;
    List<NdArray> in = new ArrayList<>();
    for (String name : n.getInputList()) {
      if (name.isEmpty()) {
        in.add(null);
        continue;
      }
      NdArray c = constants.get(name);
      if (c == null) return null;
      in.add(c);
    }
    if (in.isEmpty() && !n.getOpType().equals("ConstantOfShape")) return null;
    try {
      return switch (n.getOpType()) {
        case "Identity", "Cast" -> in.get(0);
        case "ConstantOfShape" -> constantOfShape(n, in.get(0));
        case "Concat" -> concat(n, in);
        case "Reshape" -> reshape(in.get(0), in.get(1));
        case "Slice" -> slice(in);
        case "Transpose" -> transpose(n, in.get(0));
        case "Unsqueeze" -> unsqueeze(n, in);
        default -> null;
      };
    } catch (RuntimeException unhandled) {
      return null; // an argument outside what is handled here: left to the importer's message
    }
  }

  private static NdArray constantOfShape(NodeProto n, NdArray shape) {
    var a = Attributes.find(n, "value");
    double v = a == null ? 0 : OnnxTensors.toArray(a.getT(), "ConstantOfShape value").data()[0];
    int[] s = ints(shape);
    double[] d = new double[numel(s)];
    Arrays.fill(d, v);
    return NdArray.of(d, s);
  }

  /** Concat of 1-d arrays (axis 0). */
  private static NdArray concat(NodeProto n, List<NdArray> in) {
    for (NdArray a : in) if (a == null || a.rank() != 1) return null;
    if (Attributes.integer(n, "axis", 0) != 0 && Attributes.integer(n, "axis", 0) != -1) return null;
    int total = 0;
    for (NdArray a : in) total += a.numel();
    double[] d = new double[total];
    int at = 0;
    for (NdArray a : in) {
      System.arraycopy(a.data(), 0, d, at, a.numel());
      at += a.numel();
    }
    return NdArray.of(d, total);
  }

  private static NdArray reshape(NdArray data, NdArray shape) {
    int[] s = ints(shape);
    int known = 1, free = -1;
    for (int i = 0; i < s.length; i++) {
      if (s[i] == 0) s[i] = data.dim(i);
      if (s[i] == -1) free = i;
      else known *= s[i];
    }
    if (free >= 0) s[free] = data.numel() / known;
    return data.reshape(s);
  }

  /** Slice of a 1-d or 2-d array along one axis (negative steps included). */
  private static NdArray slice(List<NdArray> in) {
    NdArray data = in.get(0);
    if (in.get(1).numel() != 1 || data.rank() > 2) return null;
    long start = (long) in.get(1).data()[0], end = (long) in.get(2).data()[0];
    int axis = in.size() > 3 && in.get(3) != null ? (int) in.get(3).data()[0] : 0;
    long step = in.size() > 4 && in.get(4) != null ? (long) in.get(4).data()[0] : 1;
    if (axis < 0) axis += data.rank();
    int len = data.dim(axis);
    List<Integer> picked = new ArrayList<>();
    if (step > 0) {
      long s = clamp(start < 0 ? start + len : start, 0, len), e = clamp(end < 0 ? end + len : end, 0, len);
      for (long i = s; i < e; i += step) picked.add((int) i);
    } else {
      long s = clamp(start < 0 ? start + len : start, -1, len - 1), e = clamp(end < 0 ? end + len : end, -1, len - 1);
      for (long i = s; i > e; i += step) picked.add((int) i);
    }
    int rows = data.rank() == 1 ? 1 : data.dim(0), cols = data.rank() == 1 ? data.dim(0) : data.dim(1);
    double[] values = data.data(); // a copy: taken once, not per entry
    if (data.rank() == 1) {
      double[] d = new double[picked.size()];
      for (int k = 0; k < d.length; k++) d[k] = values[picked.get(k)];
      return NdArray.of(d, d.length);
    }
    int outRows = axis == 0 ? picked.size() : rows, outCols = axis == 1 ? picked.size() : cols;
    double[] d = new double[outRows * outCols];
    for (int r = 0; r < outRows; r++)
      for (int c = 0; c < outCols; c++)
        d[r * outCols + c] = values[(axis == 0 ? picked.get(r) : r) * cols + (axis == 1 ? picked.get(c) : c)];
    return NdArray.of(d, outRows, outCols);
  }

  private static long clamp(long v, long lo, long hi) {
    return Math.max(lo, Math.min(hi, v));
  }

  /** Transpose of a 2-d array. */
  private static NdArray transpose(NodeProto n, NdArray a) {
    if (a.rank() != 2) return null;
    List<Long> perm = Attributes.integers(n, "perm");
    if (perm != null && !perm.isEmpty() && !perm.equals(List.of(1L, 0L))) return null;
    return OperatorMappings.transpose(a);
  }

  /** Unsqueeze (axes as an attribute, opset < 13, or as an input). */
  private static NdArray unsqueeze(NodeProto n, List<NdArray> in) {
    List<Long> axes = Attributes.integers(n, "axes");
    int[] ax = axes != null && !axes.isEmpty() ? axes.stream().mapToInt(Long::intValue).toArray() : in.size() > 1 ? ints(in.get(1)) : null;
    if (ax == null) return null;
    NdArray a = in.get(0);
    int rank = a.rank() + ax.length;
    List<Integer> shape = new ArrayList<>();
    int from = 0;
    for (int i = 0; i < rank; i++) {
      final int axis = i;
      boolean inserted = Arrays.stream(ax).anyMatch(x -> (x < 0 ? x + rank : x) == axis);
      shape.add(inserted ? 1 : a.dim(from++));
    }
    return a.reshape(shape.stream().mapToInt(Integer::intValue).toArray());
  }

  private static int[] ints(NdArray a) {
    double[] values = a.data();
    int[] s = new int[values.length];
    for (int i = 0; i < s.length; i++) s[i] = (int) values[i];
    return s;
  }

  private static int numel(int[] s) {
    int n = 1;
    for (int d : s) n *= d;
    return n;
  }
}
