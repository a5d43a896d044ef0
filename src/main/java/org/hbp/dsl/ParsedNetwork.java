package org.hbp.dsl;

import java.util.List;

/**
 * A parsed {@code network} declaration, checked for its structure only (one input first, one loss
 * last, whole-number dims, only {@code residual} blocks): the module names are looked up and the
 * dims inferred by {@code org.hbp.network.NetworkResolver.resolve}, which needs the module library. Every
 * part keeps its 1-based {@code line:column} for the errors of that step.
 */
public record ParsedNetwork(String name, String source, int line, int column, Input input, List<Item> body, Instance loss, Graph graph) {
  public ParsedNetwork {
    body = List.copyOf(body);
  }

  /** A sequential network (a chain of instances and residual blocks). */
  public ParsedNetwork(String name, String source, int line, int column, Input input, List<Item> body, Instance loss) {
    this(name, source, line, column, input, body, loss, null);
  }

  /** Whether the declaration names its values and wires them ({@link #graph}); else {@link #body} is the chain. */
  public boolean isGraph() {
    return graph != null;
  }

  /**
   * The statements of a graph network in their order, and the value the loss is applied to
   * (checked by the resolver: definition before use, shapes, every value used).
   */
  public record Graph(List<Statement> statements, Ref lossInput) {
    public Graph {
      statements = List.copyOf(statements);
    }
  }

  /** A use of a value by name, at its position. */
  public record Ref(String name, int line, int column) {}

  /** One statement {@code NAME = ...;}; the position is NAME's. */
  public sealed interface Statement permits Declare, Apply, Merge {
    String name();

    int line();

    int column();
  }

  /** {@code fc = linear(m = 32);}: a named instance, applied later by {@code u = fc(z);}. */
  public record Declare(String name, Instance module, int line, int column) implements Statement {}

  /**
   * {@code h = linear(m = 32)(x);} or {@code u = fc(z);}: {@code callee} is a module (with its
   * keyword dims in {@code args}, the instance named {@code name}) or a named instance (no args).
   */
  public record Apply(String name, Instance callee, List<Ref> inputs, int line, int column) implements Statement {
    public Apply {
      inputs = List.copyOf(inputs);
    }
  }

  /** {@code z = a + b;} ({@code +}, {@code -}, {@code .*}) or {@code z = concat(a, b, ...);} ({@code concat}). */
  public record Merge(String name, String op, List<Ref> inputs, int line, int column) implements Statement {
    public Merge {
      inputs = List.copyOf(inputs);
    }
  }

  /** {@code input x: tensor(1, 28, 28);}: the per-sample shape as tensor dims ([n], [m, n] or [c, h, w]). */
  public record Input(String name, List<Integer> shape, int line, int column) {
    public Input {
      shape = List.copyOf(shape);
    }
  }

  /** An element of a network's body: a module instance or a block. */
  public sealed interface Item permits Instance, Residual {
    int line();

    int column();
  }

  /** {@code conv2d(cout = 16, k = 3)}, or the {@code loss crossentropy} at the end; the position is the name's. */
  public record Instance(String name, List<Arg> args, int line, int column) implements Item {
    public Instance {
      args = List.copyOf(args);
    }
  }

  /** A keyword dim {@code k = 3}; the position is the keyword's. */
  public record Arg(String name, int value, int line, int column) {}

  /** {@code residual { ... }}: {@code z = x + body(x)}; the position is the keyword {@code residual}'s. */
  public record Residual(List<Item> body, int line, int column) implements Item {
    public Residual {
      body = List.copyOf(body);
    }
  }
}
