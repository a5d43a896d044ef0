package org.hbp.onnx;

import ai.onnx.proto.OnnxMl.NodeProto;
import java.util.Arrays;
import java.util.Map;
import org.hbp.io.NdArray;

/**
 * Add, Sub, Mul and Div of a value and a fixed constant (a Constant node's value, e.g. PyTorch's
 * {@code x * 0.5}, {@code x / 3.0}, {@code x - torch.tensor([...])}, {@code 1.0 - x}): the modules
 * {@code constant_scale} (z = c .* x), {@code constant_divide} (z = x ./ c), {@code constant_shift}
 * (z = x + c; Sub x - c as x + (-c), exact) and {@code constant_minus} (z = c - x), with c a data
 * value of the network (neither trained nor differentiated). The constant is a scalar (broadcast to
 * any shape) or, on a vector value [N, n], a vector of n entries ([n], [1, n]).
 *
 * <p>An initializer is a PyTorch parameter or buffer (the file does not say which); hbp takes it as
 * a parameter, named by the initializer and starting from its values. Add of one is a learned bias
 * ({@link OperatorMappings}, {@link Sequences#bias}); Mul by one a learned scale (modules-extra/):
 * <ul>
 *   <li>one entry (shape [], [1], ..., of at most the value's rank; PyTorch's {@code x * self.t}): {@code learned_scale_scalar},
 *       z = a*x with the parameter a of shape [1], on a value of any shape;</li>
 *   <li>on a vector value [N, n], n entries ([n] or [1, n]): {@code learned_scale}, z = w .* x;</li>
 *   <li>on a token sequence [N, T, d] (hbp's matrix(d, T)), d entries ([d], [1, d] or [1, 1, d];
 *       LayerScale): {@code learned_scale_tokens}, Z = (w*ones(T)') .* X.</li>
 * </ul>
 * Another initializer shape (e.g. per channel [C, 1, 1] on an image), and Sub and Div by an
 * initializer, are refused, naming the node (map them with --map).
 */
final class Arithmetic {
  private Arithmetic() {}

  /** Node i: an Add, Sub, Mul or Div with one computed input ({@code w.current}) and one constant. */
  static int operator(OnnxImporter w, int i) {
    NodeProto n = w.node(i);
    String op = n.getOpType();
    boolean valueFirst = n.getInput(0).equals(w.current);
    String other = valueFirst ? n.getInput(1) : n.getInput(0);
    if (w.model().isInitializer(other)) {
      if (op.equals("Mul")) return learnedScale(w, i, other);
      throw w.error(i, (op.equals("Div") ? "divides by" : "subtracts") + " the initializer '" + other
          + "', a parameter or a buffer of the PyTorch model (the file does not say which); hbp maps " + op + " with a Constant (a fixed value, "
          + "e.g. " + (op.equals("Div") ? "x / 3.0" : "x - 0.5") + ") and of two computed values, Add of an initializer (a learned bias) and "
          + "Mul by one (a learned scale), and has no built-in mapping for the ONNX operator " + op + " by an initializer; "
          + OperatorMappings.unknown(w, i).getMessage().replaceFirst("^.*?; map it", "map it"));
    }
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
   * Mul of the value by the initializer {@code name}: a learned scale whose parameter starts from the
   * initializer's values ({@code learned_scale_scalar}, {@code learned_scale} or {@code learned_scale_tokens}).
   */
  private static int learnedScale(OnnxImporter w, int i, String name) {
    NdArray c = w.model().constant(name);
    int features = w.shape.get(0);
    String module;
    String param;
    if (c.numel() == 1 && c.rank() <= w.shape.size() + 1) {
      module = "learned_scale_scalar";
      param = "a";
    } else if (c.numel() == features && onlyLastAxis(c.shape(), w.shape.size() + 1) && w.shape.size() <= 2) {
      module = w.shape.size() == 1 ? "learned_scale" : "learned_scale_tokens";
      param = "w";
    } else {
      throw w.error(i, "multiplies by the initializer '" + name + "' of shape " + Arrays.toString(c.shape()) + " a value of per-sample shape ["
          + String.join(", ", Sequences.onnxShape(w.shape)) + "]; hbp maps Mul by an initializer (a learned scale) with one entry ([] or [1]), "
          + "on a vector value [N, n] with n entries ([n] or [1, n]) and on a token sequence [N, T, d] with d entries ([d], [1, d] or [1, 1, d]); "
          + OperatorMappings.unknown(w, i).getMessage().replaceFirst("^.*?; map it", "map it"));
    }
    long readers = w.model().nodes().stream().filter(m -> m.getInputList().contains(name)).count();
    if (readers > 1)
      throw w.error(i, "multiplies by the initializer '" + name + "', which " + readers + " nodes read; hbp maps Mul by an initializer read by one "
          + "node (a learned scale) and ties parameters only of Gemm, MatMul and Conv nodes");
    int layer = w.addLayer(module, Map.of(), OperatorMappings.origin(w, i) + " by the initializer '" + name + "'");
    w.addParameter(layer, param, c.reshape(c.numel()), name);
    w.advance(w.node(i).getOutput(0), w.shape);
    return 1;
  }

  /** Whether a shape of at most {@code rank} axes has all its entries on its last axis ([n], [1, n], [1, 1, n]). */
  private static boolean onlyLastAxis(int[] s, int rank) {
    if (s.length == 0 || s.length > rank) return false;
    for (int k = 0; k < s.length - 1; k++) if (s[k] != 1) return false;
    return true;
  }

  /** Whether node i's constant input is a fixed value (a Constant node or folded), not an initializer. */
  static boolean fixedConstant(OnnxImporter w, int i) {
    NodeProto n = w.node(i);
    String other = n.getInput(0).equals(w.current) ? n.getInput(1) : n.getInput(0);
    return w.model().isConstant(other) && !w.model().isInitializer(other);
  }

  /** The constant as a vector of the value's numel entries: a scalar repeated, or on a vector value [n] a vector [n] or [1, n]. */
  private static NdArray broadcast(OnnxImporter w, int i, NdArray c) {
    int numel = OperatorMappings.numel(w.shape);
    if (c.numel() == 1) {
      double[] v = new double[numel];
      Arrays.fill(v, c.data()[0]);
      return NdArray.of(v, numel);
    }
    int[] s = c.shape();
    int lead = 0;
    while (lead < s.length - 1 && s[lead] == 1) lead++;
    if (w.shape.size() == 1 && s.length - lead == 1 && s.length <= 2 && s[s.length - 1] == numel) return c.reshape(numel);
    throw w.error(i, "its constant has shape " + Arrays.toString(s) + " and the value per-sample shape " + w.shape + "; hbp maps "
        + w.node(i).getOpType() + " with a constant that is a scalar, or on a vector value [N, n] a vector [n] (or [1, n])");
  }

  private static NdArray negated(NdArray c) {
    double[] v = c.data().clone();
    for (int k = 0; k < v.length; k++) v[k] = -v[k];
    return NdArray.of(v, c.shape());
  }
}
