package org.hbp.onnx;

import ai.onnx.proto.OnnxMl.NodeProto;
import java.util.Map;
import org.hbp.io.NdArray;

/**
 * BatchNormalization in inference mode (PyTorch's nn.BatchNorm1d / nn.BatchNorm2d after
 * model.eval(), eps 1e-5): {@code batchnorm} on vectors [N, C], {@code batchnorm2d} on images
 * [N, C, H, W]. The scale and bias (weight, bias) are the module's parameters g and b: trained,
 * and differentiated like any parameter. The running mean and variance (input_mean, input_var)
 * are the module's data variables mean and var: constants of the imported network (its
 * {@link ImportedNetwork#data}), neither trained nor differentiated, as in PyTorch's eval mode.
 * A scale and bias given by Constant nodes (nn.BatchNorm1d/2d with affine=False) are data too:
 * {@code batchnorm_fixed} / {@code batchnorm2d_fixed}, which have no parameters.
 */
final class BatchNorms {
  private BatchNorms() {}

  static int operator(OnnxImporter w, int i) {
    NodeProto n = w.node(i);
    if (Attributes.integer(n, "training_mode", 0) != 0)
      throw w.error(i, "training_mode = " + Attributes.integer(n, "training_mode", 0) + "; hbp maps batch normalisation in inference mode "
          + "(export after model.eval())");
    for (int k = 1; k < n.getOutputCount(); k++)
      if (!n.getOutput(k).isEmpty()) throw w.error(i, "its running statistics outputs are used (training mode); hbp maps inference mode (model.eval())");
    double eps = Attributes.real(n, "epsilon", 1e-5);
    if (Math.abs(eps - 1e-5) > 1e-11)
      throw w.error(i, "epsilon " + eps + "; hbp's batchnorm has PyTorch's default 1e-5 (write a spec with yours and --map it)");
    if (w.shape.size() != 1 && w.shape.size() != 3)
      throw w.error(i, "its input has per-sample shape " + w.shape + "; hbp maps batch normalisation of vectors [N, C] (nn.BatchNorm1d) and "
          + "images [N, C, H, W] (nn.BatchNorm2d)");
    int c = w.shape.get(0);
    String[] what = {"the scale", "the bias", "the running mean", "the running variance"};
    NdArray[] v = new NdArray[4];
    for (int k = 0; k < 4; k++) {
      v[k] = OperatorMappings.constantInput(w, i, k + 1, what[k]);
      if (v[k].numel() != c) throw w.error(i, what[k] + " has " + v[k].numel() + " entries; the input has " + c + " channels");
    }
    // a scale and bias of Constant nodes (nn.BatchNorm*(affine=False) exports its fixed 1 and 0 so) are data, not parameters
    boolean fixed = w.model().isConstantNode(n.getInput(1)), fixedBias = w.model().isConstantNode(n.getInput(2));
    if (fixed != fixedBias)
      throw w.error(i, "the " + (fixed ? "scale '" + n.getInput(1) : "bias '" + n.getInput(2)) + "' is a Constant node's value but the "
          + (fixed ? "bias" : "scale") + " is not; hbp maps both as parameters (initializers) or both as fixed data (Constant nodes)");
    String module = (w.shape.size() == 1 ? "batchnorm" : "batchnorm2d") + (fixed ? "_fixed" : "");
    int layer = w.addLayer(module, Map.of(), OperatorMappings.origin(w, i));
    if (fixed) {
      w.addData(layer, "g", v[0].reshape(c));
      w.addData(layer, "b", v[1].reshape(c));
    } else {
      w.addParameter(layer, "g", v[0].reshape(c), n.getInput(1));
      w.addParameter(layer, "b", v[1].reshape(c), n.getInput(2));
    }
    w.addData(layer, "mean", v[2].reshape(c));
    w.addData(layer, "var", v[3].reshape(c));
    w.advance(n.getOutput(0), w.shape);
    return 1;
  }
}
