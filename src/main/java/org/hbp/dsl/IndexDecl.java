package org.hbp.dsl;

import java.util.List;
import java.util.Map;
import org.hbp.calculus.Dim;
import org.hbp.calculus.Shape;

/**
 * How a network computes an index variable of a module from the module's input, as the spec
 * declares it: {@code index idx: tensor(c, h/k, w/k) = window_argmax(x, k);} is
 * {@code IndexDecl("idx", WINDOW_ARGMAX, "x", [k])}. The builder has checked that {@code input} is
 * an input of the module, a tensor, and that the declared shape of the variable is
 * {@link #shape the primitive's result}. {@code line} and {@code column} locate the primitive's
 * call in the spec.
 */
public record IndexDecl(String variable, IndexPrimitive primitive, String input, List<Dim> args, int line, int column) {
  public IndexDecl {
    args = List.copyOf(args);
  }

  /** The shape of the index map for the input's shape. */
  public Shape shape(Shape inputShape) {
    return primitive.result(inputShape, args);
  }

  /** The values of the dim arguments for bound dims. */
  public List<Long> argValues(Map<String, Long> dims) {
    return args.stream().map(d -> d.evaluate(dims)).toList();
  }

  /** The declaration as written (dims printed canonically): {@code window_argmax(x, k)}. */
  public String call() {
    StringBuilder s = new StringBuilder(primitive.word).append('(').append(input);
    for (Dim d : args) s.append(", ").append(d);
    return s.append(')').toString();
  }
}
