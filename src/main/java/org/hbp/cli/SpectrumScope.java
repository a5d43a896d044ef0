package org.hbp.cli;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.hbp.UserError;
import org.hbp.backend.Batch;
import org.hbp.network.Curvature;
import org.hbp.network.CurvatureKind;
import org.hbp.network.FactoredGgn;
import org.hbp.network.GgnRoute;
import org.hbp.network.Network;
import org.hbp.network.Pass;
import org.hbp.network.Strategy;
import org.hbp.spectrum.CurvatureOperators;
import org.hbp.spectrum.ParameterVectors;
import org.hbp.spectrum.SymmetricOperator;

/**
 * {@code hbp spectrum --scope}: every block ({@code blocks}), one block ({@code block:NAME}), or the
 * whole network ({@code net}). The blocks are each parameter's, or with {@code --blocks layer} each
 * layer's joint block over all its parameters ({@code layers}); {@code block:NAME} names a parameter
 * (hbp's or PyTorch's name), and with {@code --blocks layer} a parameter (for the layer that holds it)
 * or a layer (its name, the prefix of its parameters' names: {@code 0}, {@code 2.1}).
 *
 * @param block the parameter, or with {@code layers} the layer, of {@code block:NAME}; else null
 * @param layers whether the blocks are the layers' joint blocks ({@code --blocks layer})
 * @param names how the user names the parameters (and the results keyed by them: an ONNX network's
 *     initializer names)
 */
record SpectrumScope(Kind kind, String block, boolean layers, OutputNames names) {
  enum Kind { BLOCKS, BLOCK, NET }

  /** The whole-network curvature product of a pass: each parameter's k directions to each parameter's k products. */
  interface WholeNetwork {
    UnaryOperator<Map<String, Batch>> product(Pass pass, CurvatureKind kind, Strategy strategy);
  }

  /**
   * The whole-network product for {@code --scope net}: {@link Pass#networkProduct}, every block
   * and the off-diagonal ones, exact (the strategies kfra and bda approximate blocks only).
   */
  static final WholeNetwork WHOLE_NETWORK = (pass, kind, strategy) -> {
    checkWholeNetwork(kind, strategy, false);
    return dirs -> pass.networkProduct(kind, dirs);
  };

  /**
   * Refuses what {@code --scope net} cannot take: a strategy other than exact, and with {@code
   * --ggn-route factored} a curvature other than the GGN. The one place this is decided; the command
   * calls it before any work (before the batch is read), the products again when they are made.
   */
  static void checkWholeNetwork(CurvatureKind kind, Strategy strategy, boolean factored) {
    if (factored && kind != CurvatureKind.GGN) GgnRoute.FACTORED.check(kind, strategy);
    if (strategy != Strategy.EXACT)
      throw new UserError("--scope net takes the exact whole-network product; --strategy " + strategy.label()
          + " approximates single blocks (use --strategy exact, or --scope blocks)");
  }

  /** The whole network's GGN from the loss factor's columns, carried back once ({@link FactoredGgn}). */
  private static UnaryOperator<Map<String, Batch>> factored(Pass pass, Curvature c, long memoryLimit) {
    checkWholeNetwork(c.kind(), c.strategy(), true);
    return FactoredGgn.of(pass, memoryLimit)::apply;
  }

  /**
   * What an operator of the scope acts on: its parameters, one after another (their vec orders).
   *
   * @param title how the printed line names it (null: by its name)
   */
  record Target(SymmetricOperator operator, List<String> parameters, String title) {
    Target(SymmetricOperator operator, List<String> parameters) {
      this(operator, parameters, null);
    }
  }

  /** The scope named {@code text} on a network with {@code parameters}, one block per parameter; errors name the choices. */
  static SpectrumScope parse(String text, List<String> parameters, OutputNames names) {
    if (text.equals("blocks")) return new SpectrumScope(Kind.BLOCKS, null, false, names);
    if (text.equals("net")) return new SpectrumScope(Kind.NET, null, false, names);
    if (text.startsWith("block:")) {
      String name = text.substring("block:".length());
      String p = names.parameterNamed(name, parameters);
      if (p != null) return new SpectrumScope(Kind.BLOCK, p, false, names);
      throw new UserError("--scope block:" + name + ": the network has no parameter '" + name + "'; its parameters are "
          + names.listed(parameters));
    }
    throw new UserError("--scope: expected blocks, block:NAME or net, not '" + text + "'");
  }

  /**
   * The scope named {@code text} on {@code net} with the blocks of {@code --blocks}: with
   * {@code layer}, {@code block:NAME} is the layer of parameter NAME or the layer NAME, and
   * {@code net} is refused (it takes the whole network, not blocks); errors name the choices.
   */
  static SpectrumScope parse(String text, Network net, BlockChoice blocks, OutputNames names) {
    if (!blocks.layer()) return parse(text, net.parameterNames(), names);
    if (text.equals("blocks")) return new SpectrumScope(Kind.BLOCKS, null, true, names);
    if (text.equals("net")) throw new UserError("--scope net takes the whole network; --blocks layer does not apply (use --blocks parameter)");
    if (!text.startsWith("block:")) throw new UserError("--scope: expected blocks or block:NAME with --blocks layer, not '" + text + "'");
    String name = text.substring("block:".length());
    Map<String, List<String>> layers = Curvature.namedLayerGroups(net);
    String p = names.parameterNamed(name, net.parameterNames());
    for (Map.Entry<String, List<String>> e : layers.entrySet()) {
      if (p != null ? e.getValue().contains(p) : e.getKey().equals(name)) return new SpectrumScope(Kind.BLOCK, e.getKey(), true, names);
    }
    List<String> listed = new ArrayList<>();
    layers.forEach((layer, params) -> listed.add(layer + " (" + names.listed(params) + ")"));
    throw new UserError("--scope block:" + name + " with --blocks layer: the network has no parameter or layer '" + name
        + "'; its layers with parameters are " + String.join(", ", listed));
  }

  /**
   * The scope's blocks by name, each with the parameters it spans in the order of its vectors: a
   * parameter's block by the parameter's name as the user knows it ({@link OutputNames#key}), a layer's joint block by the layer's name, the whole
   * network as {@code net}.
   */
  Map<String, List<String>> targets(Network net) {
    Map<String, List<String>> out = new LinkedHashMap<>();
    switch (kind) {
      case BLOCKS -> {
        if (layers) out.putAll(Curvature.namedLayerGroups(net));
        else for (String p : net.parameterNames()) out.put(names.key(p), List.of(p));
      }
      case BLOCK -> out.put(layers ? block : names.key(block), layers ? Curvature.namedLayerGroups(net).get(block) : List.of(block));
      case NET -> out.put("net", net.parameterNames());
    }
    return out;
  }

  /** The names of the scope's operators ({@link #targets}' keys). */
  List<String> names(Network net) {
    return new ArrayList<>(targets(net).keySet());
  }

  /** The scope's operators by name ({@link #names}), each block with {@code blocks} row groups; the whole net's GGN through the network. */
  Map<String, Target> operators(Network net, Pass pass, Curvature c, int blocks) {
    return operators(net, pass, c, blocks, false, 0);
  }

  /**
   * The scope's operators by name; with {@code factoredGgn} the whole network's GGN in factored form
   * ({@link FactoredGgn}, its columns within {@code memoryLimit}) instead of products through the network.
   */
  Map<String, Target> operators(Network net, Pass pass, Curvature c, int blocks, boolean factoredGgn, long memoryLimit) {
    Map<String, Target> out = new LinkedHashMap<>();
    for (Map.Entry<String, List<String>> e : targets(net).entrySet()) {
      String name = e.getKey();
      List<String> params = e.getValue();
      if (kind == Kind.NET) {
        if (blocks != 1) throw new UserError("--blocks " + blocks + " splits blocks; --scope net takes the whole network (use --blocks parameter)");
        ParameterVectors all = new ParameterVectors(net, params);
        UnaryOperator<Map<String, Batch>> product = factoredGgn ? factored(pass, c, memoryLimit) : WHOLE_NETWORK.product(pass, c.kind(), c.strategy());
        out.put(name, new Target(CurvatureOperators.overParameters(all, product), params));
      } else if (layers) {
        out.put(name, new Target(CurvatureOperators.layer(net, c, params), params, "layer " + name + " (" + String.join(", ", params.stream().map(names::key).toList()) + ")"));
      } else {
        out.put(name, new Target(CurvatureOperators.block(net, c, params.get(0), blocks), params));
      }
    }
    return out;
  }
}
