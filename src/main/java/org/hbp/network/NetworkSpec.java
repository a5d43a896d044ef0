package org.hbp.network;

import java.util.List;
import java.util.Map;
import org.hbp.dsl.ModuleSpec;

/**
 * A checked {@code network} declaration: the per-sample input shape, the sequence of module
 * instances (with every dimension of each module bound) and residual blocks, and the final loss.
 * Shapes are per sample, as tensor dims: {@code [n]} for vector(n), {@code [m, n]} for a matrix,
 * {@code [c, h, w]} for a tensor.
 */
public record NetworkSpec(String name, String source, int line, List<Integer> inputShape, List<Node> body, Layer loss) {
  public NetworkSpec {
    body = List.copyOf(body);
    inputShape = List.copyOf(inputShape);
  }

  /** An element of a network's body. */
  public sealed interface Node permits Layer, Residual {
    /** Per-sample shape of what enters this node. */
    List<Integer> inputShape();

    /** Per-sample shape of what leaves it. */
    List<Integer> outputShape();

    int line();

    int column();
  }

  /**
   * One instance of a module (or, as {@link NetworkSpec#loss}, a loss): its spec and all its base
   * dims (given hyper-parameters and dims inferred from the incoming shape; derived dims are left to
   * the operator).
   */
  public record Layer(ModuleSpec module, Map<String, Integer> dims, List<Integer> inputShape, List<Integer> outputShape, int line,
      int column) implements Node {
    public Layer {
      dims = Map.copyOf(dims);
      inputShape = List.copyOf(inputShape);
      outputShape = List.copyOf(outputShape);
    }
  }

  /** A residual block {@code z = x + body(x)}: the body maps the shape to itself. */
  public record Residual(List<Node> body, List<Integer> inputShape, int line, int column) implements Node {
    public Residual {
      body = List.copyOf(body);
      inputShape = List.copyOf(inputShape);
    }

    @Override
    public List<Integer> outputShape() {
      return inputShape;
    }
  }
}
