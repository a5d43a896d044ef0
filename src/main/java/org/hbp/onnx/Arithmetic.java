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
 * any shape) or, on a vector value [N, n], a vector of n entries ([n], [1, n]). An initializer is a
 * PyTorch parameter or buffer (the file does not say which): Add of one is a learned bias (as
 * before); Mul, Div and Sub by one are refused, naming the node (map them with --map).
 */
final class Arithmetic {
  private Arithmetic() {}

  /** Node i: an Add, Sub, Mul or Div with one computed input ({@code w.current}) and one constant. */
  static int operator(OnnxImporter w, int i) {
    NodeProto n = w.node(i);
    String op = n.getOpType();
    boolean valueFirst = n.getInput(0).equals(w.current);
    String other = valueFirst ? n.getInput(1) : n.getInput(0);
    if (w.model().isInitializer(other))
      throw w.error(i, (op.equals("Mul") ? "multiplies by" : op.equals("Div") ? "divides by" : "subtracts") + " the initializer '" + other
          + "', a parameter or a buffer of the PyTorch model (the file does not say which); hbp maps " + op + " with a Constant (a fixed value, "
          + "e.g. x * 0.5) and of two computed values, and has no built-in mapping for the ONNX operator " + op + " by an initializer; "
          + OperatorMappings.unknown(w, i).getMessage().replaceFirst("^.*?; map it", "map it"));
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
