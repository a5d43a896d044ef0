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
public record NetworkSpec(String name, String source, int line, List<Integer> inputShape, List<Node> body, Layer loss, Graph graph) {
  public NetworkSpec {
    body = List.copyOf(body);
    inputShape = List.copyOf(inputShape);
  }

  /** A sequential network: {@link #body} is the chain, no graph. */
  public NetworkSpec(String name, String source, int line, List<Integer> inputShape, List<Node> body, Layer loss) {
    this(name, source, line, inputShape, body, loss, null);
  }

  /** Whether this is a graph network ({@link #graph}; its {@link #body} is empty). */
  public boolean isGraph() {
    return graph != null;
  }

  /**
   * A graph network's steps in their order (each value defined before its uses): the input value,
   * the steps, and the value the loss is applied to.
   */
  public record Graph(String input, List<Step> steps, String output) {
    public Graph {
      steps = List.copyOf(steps);
    }
  }

  /** One value of a graph: a module applied to a value, or a merge of values. */
  public sealed interface Step permits Apply, Merge {
    /** The value's name. */
    String value();

    /** The values it reads, in order (a value may appear twice). */
    List<String> inputs();

    /** Per-sample shape of the value. */
    List<Integer> outputShape();

    int line();

    int column();
  }

  /**
   * {@code value = instance(a_1, ..., a_k)}: a use of a module instance, its k inputs bound in the
   * spec's declaration order, with their per-sample shapes; {@code instance} names its parameters
   * ({@code <instance>.<param>}), shared by every use of a named instance. The layer's
   * {@link Layer#inputShape} is the first input's shape.
   */
  public record Apply(String value, String instance, Layer layer, List<String> inputs, List<List<Integer>> inputShapes, int line, int column)
      implements Step {
    public Apply {
      inputs = List.copyOf(inputs);
      inputShapes = inputShapes.stream().map(List::copyOf).toList();
    }

    @Override
    public List<Integer> outputShape() {
      return layer.outputShape();
    }
  }

  /** The merges of a graph, entrywise on equal shapes, or concatenation along the first dim. */
  public enum MergeOp {
    ADD("+"), SUBTRACT("-"), MULTIPLY(".*"), CONCAT("concat");

    private final String symbol;

    MergeOp(String symbol) {
      this.symbol = symbol;
    }

    public String symbol() {
      return symbol;
    }

    /** The merge written as {@code symbol}; null if none. */
    public static MergeOp of(String symbol) {
      for (MergeOp m : values()) if (m.symbol.equals(symbol)) return m;
      return null;
    }
  }

  /** {@code value = a op b} or {@code value = concat(a, b, ...)}, with the inputs' per-sample shapes. */
  public record Merge(String value, MergeOp op, List<String> inputs, List<List<Integer>> inputShapes, List<Integer> outputShape, int line,
      int column) implements Step {
    public Merge {
      inputs = List.copyOf(inputs);
      inputShapes = inputShapes.stream().map(List::copyOf).toList();
      outputShape = List.copyOf(outputShape);
    }
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
