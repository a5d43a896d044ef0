package org.hbp.dsl;

import java.util.List;

/**
 * A parsed {@code network} declaration, checked for its structure only (one input first, one loss
 * last, whole-number dims, only {@code residual} blocks): the module names are looked up and the
 * dims inferred by {@code org.hbp.network.NetworkResolver.resolve}, which needs the module library. Every
 * part keeps its 1-based {@code line:column} for the errors of that step.
 */
public record ParsedNetwork(String name, String source, int line, int column, Input input, List<Item> body, Instance loss) {
  public ParsedNetwork {
    body = List.copyOf(body);
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
