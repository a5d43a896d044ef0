package org.hbp.spectrum;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.ejml.data.DMatrixRMaj;
import org.hbp.UserError;
import org.hbp.backend.Batch;
import org.hbp.network.Curvature;
import org.hbp.network.Network;

/**
 * Curvature of a network as {@link SymmetricOperator}s: one parameter's block
 * ({@link Curvature#matProd}, all columns as directions of one product), every parameter's block,
 * one layer's joint block over all its parameters ({@link Curvature#layerMatProd}, cross terms
 * included) or every layer's (per-layer spectra), or any product over all parameters at once (the
 * whole-network operator: a function from each parameter's directions to each parameter's products).
 */
public final class CurvatureOperators {
  private CurvatureOperators() {}

  /** The block of {@code parameter} ({@code blocks} row groups, 1: the whole block) of {@code curvature}, on {@code net}. */
  public static SymmetricOperator block(Network net, Curvature curvature, String parameter, int blocks) {
    ParameterVectors layout = new ParameterVectors(net, List.of(parameter));
    return overParameters(layout, dirs -> Map.of(parameter, curvature.matProd(parameter, dirs.get(parameter), blocks)));
  }

  /** Every parameter's block, by parameter name in the network's order. */
  public static Map<String, SymmetricOperator> everyBlock(Network net, Curvature curvature, int blocks) {
    Map<String, SymmetricOperator> out = new LinkedHashMap<>();
    for (String p : net.parameterNames()) out.put(p, block(net, curvature, p, blocks));
    return out;
  }

  /**
   * The joint block of one layer ({@link Curvature#layerMatProd}: one block over all the layer's
   * parameters, the cross terms between them included; the exact strategy), on the vector of
   * {@code parameters} stacked in that order, each in its column-major vec order ({@link ParameterVectors}).
   * {@code parameters} are all the parameters of one layer in the layer's order, as
   * {@link Curvature#layerGroups(Network)} lists them; anything else is refused. The curvature's
   * own checks ({@link Curvature#checkLayerBlocks}) run at the first product.
   */
  public static SymmetricOperator layer(Network net, Curvature curvature, List<String> parameters) {
    if (!Curvature.layerGroups(net).contains(parameters))
      throw new UserError("a layer's joint block spans all the parameters of one layer, in its order (" + Curvature.layerGroups(net)
          + "), not " + parameters);
    return overParameters(new ParameterVectors(net, parameters), curvature::layerMatProd);
  }

  /**
   * Every layer's joint block ({@link #layer}), by layer name ({@link Curvature#namedLayerGroups}:
   * the prefix of its parameters' names, {@code 0}, {@code 2.1}) in the network's order; layers
   * without parameters have none.
   */
  public static Map<String, SymmetricOperator> everyLayer(Network net, Curvature curvature) {
    Map<String, SymmetricOperator> out = new LinkedHashMap<>();
    for (Map.Entry<String, List<String>> e : Curvature.namedLayerGroups(net).entrySet()) out.put(e.getKey(), layer(net, curvature, e.getValue()));
    return out;
  }

  /**
   * The operator of {@code product} on the concatenated vector of {@code layout}'s parameters:
   * {@code product} takes k directions per parameter ({@code Batch [1 x k]} in the parameter's
   * item shape) and returns the products in the same form, for every parameter. A whole-network
   * curvature product plugs in here as it is.
   */
  public static SymmetricOperator overParameters(ParameterVectors layout, UnaryOperator<Map<String, Batch>> product) {
    return new SymmetricOperator() {
      @Override
      public int dimension() {
        return layout.dimension();
      }

      @Override
      public DMatrixRMaj apply(DMatrixRMaj vectors) {
        Map<String, Batch> dirs = layout.toDirections(vectors);
        Map<String, Batch> products = product.apply(dirs);
        DMatrixRMaj out = layout.fromDirections(products, vectors.numCols);
        for (Map.Entry<String, Batch> e : products.entrySet()) {
          if (e.getValue() != dirs.get(e.getKey())) layout.release(e.getValue());
        }
        layout.release(dirs);
        return out;
      }
    };
  }
}
