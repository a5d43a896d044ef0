package org.hbp.onnx;

import ai.onnx.proto.OnnxMl.NodeProto;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.hbp.io.NdArray;

/**
 * Add, Sub, Mul and Div of a value and a fixed constant (a Constant node's value, e.g. PyTorch's
 * {@code x * 0.5}, {@code x / 3.0}, {@code x - torch.tensor([...])}, {@code 1.0 - x}, or an
 * initializer named with {@code --constants}: a buffer such as input normalisation's mean and std):
 * the modules {@code constant_scale} (z = c .* x), {@code constant_divide} (z = x ./ c),
 * {@code constant_shift} (z = x + c; Sub x - c as x + (-c), exact) and {@code constant_minus}
 * (z = c - x), with c a data value of the network (neither trained nor differentiated). The constant
 * is a scalar (broadcast to any shape) or has its entries on the value's feature axis, which is
 * the fastest axis of hbp's layout (so the constant repeats every so many entries): n entries on a
 * vector [N, n] ([n], [1, n]), d on a token sequence [N, T, d] ([d], [1, d], [1, 1, d]), C per
 * channel on an image [N, C, H, W] ([C, 1, 1], [1, C, 1, 1]).
 *
 * <p>Any other initializer is a PyTorch parameter or buffer (the file does not say which); hbp
 * takes it as a parameter, named by the initializer and starting from its values. Add of one is a
 * learned bias ({@link OperatorMappings}, {@link Sequences#bias}); Mul, Sub and Div by one map to
 * modules of modules-extra/:
 * <ul>
 *   <li>Mul by one entry (shape [], [1], ..., of at most the value's rank; PyTorch's {@code x * self.t}):
 *       {@code learned_scale_scalar}, z = a*x with the parameter a of shape [1], on a value of any shape;</li>
 *   <li>Mul on a vector value [N, n], n entries ([n] or [1, n]): {@code learned_scale}, z = w .* x;</li>
 *   <li>Mul on a token sequence [N, T, d] (hbp's matrix(d, T)), d entries ([d], [1, d] or [1, 1, d];
 *       LayerScale): {@code learned_scale_tokens}, Z = (w*ones(T)') .* X;</li>
 *   <li>Mul on an image [N, C, H, W], C entries ([C, 1, 1] or [1, C, 1, 1]; ConvNeXt's LayerScale):
 *       {@code learned_scale_channels}, Z = (g*ones(H*W)') .* X with X the C x H*W matrix of the channels;</li>
 *   <li>Add on an image [N, C, H, W], C entries ([C, 1, 1] or [1, C, 1, 1]; a learned per-channel bias):
 *       {@code learned_bias_channels}, Z = X + b*ones(H*W)' (Add of a vector [n] to a vector value is the
 *       module bias, see {@link OperatorMappings});</li>
 *   <li>Sub x - b on a vector value [N, n], n entries: {@code learned_subtract}, z = x - b;</li>
 *   <li>Sub b - x (the initializer first) by one entry: {@code learned_minus_scalar}, z = a*ones(n) - x;
 *       on a vector value [N, n], n entries: {@code learned_minus}, z = b - x;</li>
 *   <li>Div x / a by one entry: {@code learned_divide_scalar}, z = x / a; x / w on a vector value [N, n],
 *       n entries: {@code learned_divide}, z = x ./ w;</li>
 *   <li>Div w / x (the initializer first) by one entry: {@code learned_reciprocal_scalar},
 *       z = (a*ones(n)) ./ x; on a vector value [N, n], n entries: {@code learned_reciprocal}, z = w ./ x.</li>
 * </ul>
 * Other shapes are refused, naming the node, --constants (for a buffer) and --map.
 */
final class Arithmetic {
  private Arithmetic() {}

  /** Node i: an Add, Sub, Mul or Div with one computed input ({@code w.current}) and one constant. */
  static int operator(OnnxImporter w, int i) {
    NodeProto n = w.node(i);
    String op = n.getOpType();
    boolean valueFirst = n.getInput(0).equals(w.current);
    String other = valueFirst ? n.getInput(1) : n.getInput(0);
    if (w.model().isInitializer(other) && !w.isFixed(other)) return learned(w, i, other, valueFirst);
    if (op.equals("Div") && !valueFirst)
      throw w.error(i, "divides the constant '" + other + "' by the value; hbp maps Div of a value by a constant (x / c) and of two computed values");
    NdArray c = broadcast(w, i, w.model().constant(other));
    String module = switch (op) {
      case "Mul" -> "constant_scale";
      case "Div" -> "constant_divide";
      case "Add" -> "constant_shift";
      default -> valueFirst ? "constant_shift" : "constant_minus";
    };
    if (op.equals("Sub") && valueFirst) c = negated(c);
    int layer = w.addLayer(module, Map.of(), OperatorMappings.origin(w, i) + " with the constant '" + other + "'");
    w.addData(layer, "c", c);
    w.advance(n.getOutput(0), w.shape);
    return 1;
  }

  /**
   * Mul, Sub or Div of the value and the initializer {@code name}, a parameter: a learned scale,
   * subtraction or division whose parameter starts from the initializer's values (see the class
   * comment for the modules and shapes).
   */
  private static int learned(OnnxImporter w, int i, String name, boolean valueFirst) {
    String op = w.node(i).getOpType();
    NdArray c = w.model().constant(name);
    String[] module = learnedModule(op, c, w.shape, valueFirst);
    if (module == null) throw w.error(i, refusal(w, i, name, c, valueFirst));
    long readers = w.model().nodes().stream().filter(m -> m.getInputList().contains(name)).count();
    if (readers > 1)
      throw w.error(i, verb(op) + " the initializer '" + name + "', which " + readers + " nodes read; hbp maps " + op + " by an initializer read by one "
          + "node (a learned " + noun(op) + ") and ties parameters only of "
          + "Gemm, MatMul and Conv nodes; if '" + name + "' is a buffer of the PyTorch model (fixed data), name it with --constants " + asOptionValue(name));
    int layer = w.addLayer(module[0], Map.of(), OperatorMappings.origin(w, i) + " by the initializer '" + name + "'");
    w.addParameter(layer, module[1], c.reshape(c.numel()), name);
    w.advance(w.node(i).getOutput(0), w.shape);
    return 1;
  }

  private static String verb(String op) {
    return switch (op) {
      case "Mul" -> "multiplies by";
      case "Add" -> "adds";
      case "Sub" -> "subtracts";
      default -> "divides by";
    };
  }

  private static String noun(String op) {
    return switch (op) {
      case "Mul" -> "scale";
      case "Add" -> "bias";
      case "Sub" -> "subtraction";
      default -> "division";
    };
  }

  /**
   * The module and its parameter for op (Add, Mul, Sub, Div) of a value of hbp shape {@code value} and a learned c
   * ({@code valueFirst}: x op c, else c op x), or null where hbp has none.
   */
  static String[] learnedModule(String op, NdArray c, List<Integer> value, boolean valueFirst) {
    boolean scalar = c.numel() == 1 && c.rank() <= value.size() + 1;
    boolean features = c.numel() == value.get(0) && onFeatureAxis(c.shape(), value.size());
    if (!valueFirst && op.equals("Sub"))
      return scalar ? new String[] {"learned_minus_scalar", "a"} : features && value.size() == 1 ? new String[] {"learned_minus", "b"} : null;
    if (!valueFirst && op.equals("Div"))
      return scalar ? new String[] {"learned_reciprocal_scalar", "a"} : features && value.size() == 1 ? new String[] {"learned_reciprocal", "w"} : null;
    return switch (op) {
      case "Add" -> features && value.size() == 3 ? new String[] {"learned_bias_channels", "b"} : null;
      case "Mul" -> scalar ? new String[] {"learned_scale_scalar", "a"}
          : !features ? null
          : value.size() == 1 ? new String[] {"learned_scale", "w"}
          : value.size() == 2 ? new String[] {"learned_scale_tokens", "w"}
          : new String[] {"learned_scale_channels", "g"};
      case "Sub" -> features && value.size() == 1 ? new String[] {"learned_subtract", "b"} : null;
      case "Div" -> scalar ? new String[] {"learned_divide_scalar", "a"} : features && value.size() == 1 ? new String[] {"learned_divide", "w"} : null;
      default -> null;
    };
  }

  /** Why op by the initializer {@code name} has no mapping, what hbp maps, and the ways out (--constants for a buffer, --map). */
  private static String refusal(OnnxImporter w, int i, String name, NdArray c, boolean valueFirst) {
    String op = w.node(i).getOpType();
    String initializer = "the initializer '" + name + "' of shape " + Arrays.toString(c.shape());
    String what = switch (op) {
      case "Mul" -> "multiplies by " + initializer;
      case "Add" -> "adds " + initializer;
      case "Sub" -> valueFirst ? "subtracts " + initializer : "subtracts the value from " + initializer;
      default -> valueFirst ? "divides by " + initializer : "divides " + initializer + " by the value";
    };
    String mapped = switch (op) {
      case "Mul" -> "Mul by an initializer (a learned scale) with one entry ([] or [1]), on a vector value [N, n] with n entries ([n] or "
          + "[1, n]), on a token sequence [N, T, d] with d entries ([d], [1, d] or [1, 1, d]) and on an image [N, C, H, W] with C entries "
          + "([C, 1, 1] or [1, C, 1, 1])";
      case "Add" -> "Add of an initializer (a learned bias) [n] to a vector value [N, n], [T, d] to a token sequence [N, T, d] (a positional "
          + "embedding) and with C entries ([C, 1, 1] or [1, C, 1, 1]) to an image [N, C, H, W]";
      case "Sub" -> "Sub of an initializer from the value (x - b, a learned subtraction) on a vector value [N, n] with n entries ([n] or [1, n]), "
          + "and of the value from an initializer (b - x) with one entry, or on a vector value [N, n] with n entries";
      default -> "Div of the value by an initializer (x / w, a learned division) and of an initializer by the value (w / x) with one entry, "
          + "or on a vector value [N, n] with n entries ([n] or [1, n])";
    };
    boolean asConstant = !(op.equals("Div") && !valueFirst) && (c.numel() == 1 || c.numel() == w.shape.get(0) && onFeatureAxis(c.shape(), w.shape.size()));
    return what + ", the value of per-sample shape [" + String.join(", ", Sequences.onnxShape(w.shape)) + "]; an initializer is a parameter or a buffer "
        + "of the PyTorch model (the file does not say which)" + (asConstant ? ": if '" + name + "' is a buffer (fixed data, e.g. the mean or std of "
        + "an input normalisation), name it with --constants " + asOptionValue(name) + " (the Python package hbp passes the model's buffers itself) and it maps as "
        + "a constant; as a parameter" : "; as a parameter") + ", hbp maps " + mapped + "; "
        + OperatorMappings.unknown(w, i).getMessage().replaceFirst("^.*?; map it", "map it");
  }

  /** A name as --constants and --buffers read it (they split at commas): a comma written {@code \,}, a backslash {@code \\}. */
  static String asOptionValue(String name) {
    return name.replace("\\", "\\\\").replace(",", "\\,");
  }

  /**
   * Whether a constant's entries all lie on the feature axis of a value of hbp rank {@code rank}
   * (broadcast from the right): the last ONNX axis of a vector [N, n] or a sequence [N, T, d] ([n],
   * [1, n], [1, 1, d]), axis 1 of an image [N, C, H, W] ([C, 1, 1], [1, C, 1, 1]); every other axis 1.
   */
  static boolean onFeatureAxis(int[] s, int rank) {
    int fromEnd = rank == 3 ? 3 : 1;
    if (s.length < fromEnd || s.length > rank + 1) return false;
    for (int k = 0; k < s.length; k++) if (k != s.length - fromEnd && s[k] != 1) return false;
    return true;
  }

  /** Whether node i's constant input is a fixed value (a Constant node, folded, or an initializer named in --constants), not a parameter. */
  static boolean fixedConstant(OnnxImporter w, int i) {
    NodeProto n = w.node(i);
    String other = n.getInput(0).equals(w.current) ? n.getInput(1) : n.getInput(0);
    return w.model().isConstant(other) && (!w.model().isInitializer(other) || w.isFixed(other));
  }

  /**
   * The constant as a vector of the value's numel entries in hbp's layout: a scalar repeated, or C
   * entries on the feature axis ({@link #onFeatureAxis}), the fastest of hbp's layout, entry k taking
   * c[k mod C].
   */
  private static NdArray broadcast(OnnxImporter w, int i, NdArray c) {
    int numel = OperatorMappings.numel(w.shape), features = w.shape.get(0);
    boolean scalar = c.numel() == 1;
    if (!scalar && (c.numel() != features || !onFeatureAxis(c.shape(), w.shape.size())))
      throw w.error(i, "its constant has shape " + Arrays.toString(c.shape()) + " and the value per-sample shape [" + String.join(", ", Sequences.onnxShape(w.shape))
          + "]; hbp maps " + w.node(i).getOpType() + " with a constant that is a scalar, or on a vector value [N, n] a vector [n] (or [1, n]), "
          + "on a token sequence [N, T, d] a vector [d] (or [1, d], [1, 1, d]), on an image [N, C, H, W] one entry per channel [C, 1, 1] (or [1, C, 1, 1])");
    double[] v = new double[numel], values = c.data(); // data() copies: once, not per entry
    for (int k = 0; k < numel; k++) v[k] = values[scalar ? 0 : k % features];
    return NdArray.of(v, numel);
  }

  private static NdArray negated(NdArray c) {
    double[] v = c.data().clone();
    for (int k = 0; k < v.length; k++) v[k] = -v[k];
    return NdArray.of(v, c.shape());
  }
}
