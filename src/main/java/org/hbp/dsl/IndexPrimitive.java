package org.hbp.dsl;

import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;
import org.hbp.calculus.Dim;
import org.hbp.calculus.Shape;

/**
 * The index primitives: how a network computes an index map from a module's input, declared in a
 * spec as {@code index NAME: TYPE = PRIMITIVE(INPUT, ARGS);}. All take an input
 * {@code tensor(c, h, w)}, stored column-major, and give positions in it, {@code ch + c*(y + h*x)}.
 */
public enum IndexPrimitive {
  /**
   * {@code window_argmax(x, k)}: tensor(c, h/k, w/k), the position of the maximum of each k x k
   * window of x (stride k; h and w divisible by k), the first maximum in column-major window order
   * on ties. The index map of max-pooling.
   */
  WINDOW_ARGMAX("window_argmax", List.of("K"), "the position of the maximum of each K x K window of INPUT, stride K"),
  /**
   * {@code window_argmax_strided(x, k, s, p)}: tensor(c, (h + 2*p - k)/s + 1, (w + 2*p - k)/s + 1),
   * the position of the maximum of each k x k window of x at stride s, x padded by p on each side
   * with -inf (the padding is never chosen; a window of padding only gives -1), the windows that
   * fit (floor mode: the last rows and columns that no whole window covers are dropped); the
   * first maximum in column-major window order on ties. Windows overlap where s &lt; k. The index
   * map of PyTorch's MaxPool2d(k, stride=s, padding=p); window_argmax(x, k) is
   * window_argmax_strided(x, k, k, 0) where k divides h and w.
   */
  WINDOW_ARGMAX_STRIDED("window_argmax_strided", List.of("K", "S", "P"),
      "the position of the maximum of each K x K window of INPUT at stride S, INPUT padded by P on each side with -inf, floor mode"),
  /**
   * {@code pad_source(x, p)}: tensor(c, h + 2*p, w + 2*p), for each position of x padded by p on
   * each side the position of its source in x, -1 in the padding. The index map of zero-padding.
   */
  PAD_SOURCE("pad_source", List.of("P"), "the source position in INPUT of each position of INPUT padded by P on each side, -1 in the padding");

  /** The name in the DSL. */
  public final String word;
  /** The names of the dim arguments after the input, for messages. */
  final List<String> parameters;
  /** What it computes, in words, for messages. */
  final String meaning;

  IndexPrimitive(String word, List<String> parameters, String meaning) {
    this.word = word;
    this.parameters = parameters;
    this.meaning = meaning;
  }

  /** The primitive called {@code word}, if any. */
  public static Optional<IndexPrimitive> of(String word) {
    return Arrays.stream(values()).filter(p -> p.word.equals(word)).findFirst();
  }

  /** How it is called: {@code window_argmax(INPUT, K)}. */
  public String usage() {
    return word + "(INPUT, " + String.join(", ", parameters) + ")";
  }

  /** The number of arguments, the input included. */
  int arity() {
    return 1 + parameters.size();
  }

  /** Every primitive with its meaning, for messages: "window_argmax(INPUT, K) (the ...) or pad_source(INPUT, P) (...)". */
  public static String describeAll() {
    return Arrays.stream(values()).map(p -> p.usage() + " (" + p.meaning + ")").collect(Collectors.joining(" or "));
  }

  /**
   * The shape of the index map for an input {@code tensor(c, h, w)} and the dim arguments:
   * {@code tensor(c, h/k, w/k)} for window_argmax, {@code tensor(c, (h + 2*p - k)/s + 1, (w + 2*p - k)/s + 1)}
   * for window_argmax_strided, {@code tensor(c, h + 2*p, w + 2*p)} for pad_source.
   */
  public Shape result(Shape input, List<Dim> args) {
    if (!input.isTensor() || args.size() != parameters.size())
      throw new IllegalArgumentException(word + ": expected a tensor input and " + parameters.size() + " dim(s), got " + input + " and " + args);
    Dim c = input.dims().get(0), h = input.dims().get(1), w = input.dims().get(2), a = args.get(0);
    return switch (this) {
      case WINDOW_ARGMAX -> Shape.tensor(c, h.floorDiv(a), w.floorDiv(a));
      case WINDOW_ARGMAX_STRIDED -> {
        Dim s = args.get(1), twoP = Dim.of(2).times(args.get(2));
        yield Shape.tensor(c, h.plus(twoP).minus(a).floorDiv(s).plus(Dim.ONE), w.plus(twoP).minus(a).floorDiv(s).plus(Dim.ONE));
      }
      case PAD_SOURCE -> Shape.tensor(c, h.plus(Dim.of(2).times(a)), w.plus(Dim.of(2).times(a)));
    };
  }
}
