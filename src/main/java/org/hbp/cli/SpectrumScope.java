package org.hbp.cli;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.UnaryOperator;
import org.hbp.UserError;
import org.hbp.backend.Batch;
import org.hbp.network.Curvature;
import org.hbp.network.CurvatureKind;
import org.hbp.network.FactoredGgn;
import org.hbp.network.Network;
import org.hbp.network.Pass;
import org.hbp.network.Strategy;
import org.hbp.network.TorchLayout;
import org.hbp.spectrum.CurvatureOperators;
import org.hbp.spectrum.ParameterVectors;
import org.hbp.spectrum.SymmetricOperator;

/**
 * {@code hbp spectrum --scope}: every parameter's block ({@code blocks}), one block
 * ({@code block:NAME}, hbp's or PyTorch's parameter name), or the whole network ({@code net}).
 *
 * @param block the parameter of {@code block:NAME}, else null
 */
record SpectrumScope(Kind kind, String block) {
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
    if (strategy != Strategy.EXACT)
      throw new UserError("--scope net takes the exact whole-network product; --strategy " + strategy.label()
          + " approximates single blocks (use --strategy exact, or --scope blocks)");
    return dirs -> pass.networkProduct(kind, dirs);
  };

  /** The whole network's GGN from the loss factor's columns, carried back once ({@link FactoredGgn}). */
  private static UnaryOperator<Map<String, Batch>> factored(Pass pass, Curvature c, long memoryLimit) {
    if (c.kind() != CurvatureKind.GGN)
      throw new UserError("--ggn-route factored is a route for the GGN; --curvature " + c.kind().label() + " goes through the network (--ggn-route network)");
    if (c.strategy() != Strategy.EXACT)
      throw new UserError("--scope net takes the exact whole-network product; --strategy " + c.strategy().label() + " approximates single blocks");
    return FactoredGgn.of(pass, memoryLimit)::apply;
  }

  /** What an operator of the scope acts on: its parameters, one after another (their vec orders). */
  record Target(SymmetricOperator operator, List<String> parameters) {}

  /** The scope named {@code text} on a network with {@code parameters}; errors name the choices. */
  static SpectrumScope parse(String text, List<String> parameters) {
    if (text.equals("blocks")) return new SpectrumScope(Kind.BLOCKS, null);
    if (text.equals("net")) return new SpectrumScope(Kind.NET, null);
    if (text.startsWith("block:")) {
      String name = text.substring("block:".length());
      for (String p : parameters) {
        if (p.equals(name) || TorchLayout.arrayName(p, Set.of()).equals(name)) return new SpectrumScope(Kind.BLOCK, p);
      }
      throw new UserError("--scope block:" + name + ": the network has no parameter '" + name + "'; its parameters are "
          + String.join(", ", parameters));
    }
    throw new UserError("--scope: expected blocks, block:NAME or net, not '" + text + "'");
  }

  /** The names of the scope's operators: the parameters of its blocks, or {@code net}. */
  List<String> names(Network net) {
    return switch (kind) {
      case BLOCKS -> net.parameterNames();
      case BLOCK -> List.of(block);
      case NET -> List.of("net");
    };
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
    switch (kind) {
      case BLOCKS -> {
        for (String p : net.parameterNames()) out.put(p, new Target(CurvatureOperators.block(net, c, p, blocks), List.of(p)));
      }
      case BLOCK -> out.put(block, new Target(CurvatureOperators.block(net, c, block, blocks), List.of(block)));
      case NET -> {
        if (blocks != 1) throw new UserError("--blocks " + blocks + " splits blocks; --scope net takes the whole network (use --blocks 1)");
        ParameterVectors all = new ParameterVectors(net, net.parameterNames());
        UnaryOperator<Map<String, Batch>> product = factoredGgn ? factored(pass, c, memoryLimit) : WHOLE_NETWORK.product(pass, c.kind(), c.strategy());
        out.put("net", new Target(CurvatureOperators.overParameters(all, product), net.parameterNames()));
      }
    }
    return out;
  }
}
