package org.hbp.onnx;

import ai.onnx.proto.OnnxMl.NodeProto;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.hbp.io.NdArray;

/**
 * The mappings of image operators (per-sample shape [C, H, W]): Conv to {@code conv2d} (square
 * kernel, one stride, padding and dilation for both axes, groups 1), MaxPool and AveragePool with a
 * square window, one stride and padding, floor mode, to {@code maxpool} / {@code avgpool} (stride =
 * kernel, no padding) or {@code maxpool_strided} / {@code avgpool_strided}, GlobalAveragePool to
 * {@code meanpool2d} (the mean over the H*W positions of each channel, after any [C, H, W] value), Pad with zeros, equal on all
 * four sides, to {@code zeropad}.
 */
final class Spatial {
  private Spatial() {}

  /** Conv: Y = W * unfold(X) + b, W [C_out, C_in, k, k] as PyTorch holds it. */
  static int conv(OnnxImporter w, int i) {
    NodeProto n = w.node(i);
    requireImage(w, i);
    NdArray weight = OperatorMappings.constantInput(w, i, 1, "the weight W");
    if (weight.rank() != 4 || weight.dim(2) != weight.dim(3))
      throw w.error(i, "weight of shape " + Arrays.toString(weight.shape()) + "; hbp maps 2d convolutions with square kernels [C_out, C_in, k, k]");
    int cout = weight.dim(0), cin = w.shape.get(0), h = w.shape.get(1), wd = w.shape.get(2), k = weight.dim(2);
    if (Attributes.integer(n, "group", 1) != 1) throw w.error(i, "group = " + Attributes.integer(n, "group", 1) + "; hbp maps groups = 1");
    if (weight.dim(1) != cin) throw w.error(i, "weight of shape " + Arrays.toString(weight.shape()) + " but the input has " + cin + " channels");
    requireAutoPadNotSet(w, i);
    int s = uniform(w, i, "strides", 1), d = uniform(w, i, "dilations", 1), p = uniform(w, i, "pads", 0);
    NdArray bias = n.getInputCount() > 2 && !n.getInput(2).isEmpty() ? OperatorMappings.constantInput(w, i, 2, "the bias B") : null;
    Map<String, Integer> args = new LinkedHashMap<>();
    args.put("cout", cout);
    args.put("k", k);
    args.put("s", s);
    args.put("p", p);
    args.put("d", d);
    int layer = w.addLayer(bias == null ? "conv2d_nobias" : "conv2d", args, OperatorMappings.origin(w, i));
    w.addParameter(layer, "W", weight, n.getInput(1));
    if (bias != null) w.addParameter(layer, "b", bias, n.getInput(2));
    int oh = (h + 2 * p - d * (k - 1) - 1) / s + 1, ow = (wd + 2 * p - d * (k - 1) - 1) / s + 1;
    w.advance(n.getOutput(0), List.of(cout, oh, ow));
    return 1;
  }

  /**
   * MaxPool / AveragePool with a square k x k window, one stride s and one padding p for both axes,
   * no dilation, floor mode (ceil_mode 0): {@code maxpool} / {@code avgpool} where s = k, p = 0 (and,
   * for maxpool, k divides the height and width), else {@code maxpool_strided} /
   * {@code avgpool_strided} (k, s, p). MaxPool pads with -inf, AveragePool with zeros counted in the
   * mean (count_include_pad 1, PyTorch's default; count_include_pad 0 is refused with a padding).
   */
  static int pool(OnnxImporter w, int i, String module) {
    NodeProto n = w.node(i);
    requireImage(w, i);
    if (n.getOutputCount() > 1 && !n.getOutput(1).isEmpty()) throw w.error(i, "its indices output is used; hbp maps the pooled values only");
    requireAutoPadNotSet(w, i);
    int c = w.shape.get(0), h = w.shape.get(1), wd = w.shape.get(2);
    String input = "on the input of per-sample shape " + w.shape;
    List<Long> kernel = Attributes.integers(n, "kernel_shape");
    if (kernel == null || kernel.size() != 2 || !kernel.get(0).equals(kernel.get(1)))
      throw w.error(i, "kernel_shape " + kernel + " " + input + "; hbp maps square windows [k, k]");
    int k = (int) (long) kernel.get(0);
    int s = uniform(w, i, "strides", 1), p = uniform(w, i, "pads", 0), d = uniform(w, i, "dilations", 1);
    long ceil = Attributes.integer(n, "ceil_mode", 0);
    if (ceil != 0)
      throw w.error(i, "ceil_mode " + ceil + " " + input + "; hbp maps floor mode (ceil_mode 0, PyTorch's default ceil_mode=False)");
    if (d != 1) throw w.error(i, "dilations [" + d + ", " + d + "] " + input + "; hbp maps pooling without dilation (dilations [1, 1])");
    if (k < 1 || s < 1 || p < 0 || 2 * p > k)
      throw w.error(i, "kernel_shape [" + k + ", " + k + "], strides [" + s + ", " + s + "], pads " + p + " " + input
          + "; hbp maps a positive window and stride and a padding of at most half the window");
    if (h + 2 * p < k || wd + 2 * p < k)
      throw w.error(i, "kernel_shape [" + k + ", " + k + "] with pads " + p + " " + input + ": the window is larger than the padded map");
    boolean max = module.equals("maxpool");
    long countPad = Attributes.integer(n, "count_include_pad", 0);
    if (!max && p > 0 && countPad == 0)
      throw w.error(i, "count_include_pad 0 with pads " + p + " " + input + "; hbp maps an average over the whole window, padded zeros "
          + "included (count_include_pad 1, PyTorch's default count_include_pad=True)");
    boolean plain = s == k && p == 0 && (!max || h % k == 0 && wd % k == 0);
    Map<String, Integer> args = new LinkedHashMap<>();
    args.put("k", k);
    if (!plain) {
      args.put("s", s);
      args.put("p", p);
    }
    w.addLayer(plain ? module : module + "_strided", args, OperatorMappings.origin(w, i));
    w.advance(n.getOutput(0), List.of(c, (h + 2 * p - k) / s + 1, (wd + 2 * p - k) / s + 1));
    return 1;
  }

  /** GlobalAveragePool: the mean of each channel, as the vector [C] (a following Flatten has nothing to do). */
  static int globalAveragePool(OnnxImporter w, int i) {
    requireImage(w, i);
    w.addLayer("meanpool2d", Map.of(), OperatorMappings.origin(w, i));
    w.advance(w.node(i).getOutput(0), List.of(w.shape.get(0)));
    return 1;
  }

  /** Pad (opset 11 and later: pads as an input) with zeros, p on each side of H and W, none on N and C. */
  static int pad(OnnxImporter w, int i) {
    NodeProto n = w.node(i);
    requireImage(w, i);
    String mode = Attributes.string(n, "mode", "constant");
    if (!mode.equals("constant")) throw w.error(i, "mode '" + mode + "'; hbp maps zero padding (mode constant, value 0)");
    NdArray pads = OperatorMappings.constantInput(w, i, 1, "pads");
    if (n.getInputCount() > 2 && !n.getInput(2).isEmpty()) {
      NdArray v = OperatorMappings.constantInput(w, i, 2, "constant_value");
      if (v.numel() != 1 || v.data()[0] != 0) throw w.error(i, "pads with " + Arrays.toString(v.data()) + "; hbp maps zero padding");
    }
    if (n.getInputCount() > 3 && !n.getInput(3).isEmpty()) throw w.error(i, "has an axes input; hbp maps Pad over all four axes");
    double[] q = pads.data();
    boolean ok = q.length == 8 && q[0] == 0 && q[1] == 0 && q[4] == 0 && q[5] == 0 && q[2] == q[3] && q[2] == q[6] && q[2] == q[7] && q[2] >= 0;
    if (!ok) throw w.error(i, "pads " + Arrays.toString(q) + "; hbp's zeropad pads H and W by the same p on each side ([0, 0, p, p, 0, 0, p, p])");
    int p = (int) q[2];
    if (p == 0) { // PyTorch's AvgPool2d exports a Pad of zero width before AveragePool
      w.advance(n.getOutput(0), w.shape);
      return 1;
    }
    Map<String, Integer> args = new LinkedHashMap<>();
    args.put("p", p);
    w.addLayer("zeropad", args, OperatorMappings.origin(w, i));
    w.advance(n.getOutput(0), List.of(w.shape.get(0), w.shape.get(1) + 2 * p, w.shape.get(2) + 2 * p));
    return 1;
  }

  private static void requireImage(OnnxImporter w, int i) {
    if (w.shape.size() != 3) throw w.error(i, "its input has per-sample shape " + w.shape + "; hbp maps it on images [N, C, H, W]");
  }

  private static void requireAutoPadNotSet(OnnxImporter w, int i) {
    String autoPad = Attributes.string(w.node(i), "auto_pad", "NOTSET");
    if (!autoPad.equals("NOTSET")) throw w.error(i, "auto_pad " + autoPad + "; hbp maps explicit pads (auto_pad NOTSET)");
  }

  /** An attribute list whose entries are all equal (strides [s, s], pads [p, p, p, p]); its one value, or the default when absent. */
  private static int uniform(OnnxImporter w, int i, String name, int fallback) {
    List<Long> v = Attributes.integers(w.node(i), name);
    if (v == null || v.isEmpty()) return fallback;
    for (long x : v)
      if (x != v.get(0))
        throw w.error(i, name + " " + v + " on the input of per-sample shape " + w.shape + "; hbp maps the same value on both axes (and both sides)");
    return (int) (long) v.get(0);
  }
}
