package org.hbp.dsl;

import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import org.hbp.calculus.Expr;
import org.hbp.calculus.Shape;

/**
 * The values a variable takes, written after its type: {@code param S: matrix(n, n) spd;},
 * {@code input x: vector(n) positive;}, {@code target y: vector(c) onehot;}. {@code hbp verify}
 * draws its random points from the domain; the simplifier may use it ({@code abs(x) = x} for a
 * positive x; {@code sum(y) = 1} for a vector y that is {@link #ONEHOT} or {@link #PROBABILITY});
 * batches read for a network are checked against the domain of the loss's target. Without a
 * domain a variable is {@link #REAL}, except a target that an {@code assume} mentions, which is a
 * {@link #PROBABILITY} vector (so that {@code sum(y) == 1} holds).
 */
public enum Domain {
  /** Any real values. */
  REAL("real", "any real values"),
  /** Every entry {@code > 0}. */
  POSITIVE("positive", "entries > 0"),
  /** A symmetric positive definite matrix. */
  SPD("spd", "a symmetric positive definite matrix"),
  /** Each column a probability vector: entries {@code > 0} summing to 1. */
  PROBABILITY("probability", "columns of entries > 0 that sum to 1"),
  /** Each column one-hot: one entry 1, the others 0. */
  ONEHOT("onehot", "one-hot columns"),
  /** Every entry {@code -1} or {@code +1}. */
  SIGN("sign", "entries -1 or +1");

  /** The word written in a spec. */
  public final String word;
  /** What it means, in words. */
  public final String meaning;

  Domain(String word, String meaning) {
    this.word = word;
    this.meaning = meaning;
  }

  /** The domain named by a spec word, if any. */
  public static Optional<Domain> of(String word) {
    return Arrays.stream(values()).filter(d -> d.word.equals(word)).findFirst();
  }

  /** All words, for error messages: {@code real, positive, ...}. */
  public static String words() {
    return String.join(", ", Arrays.stream(values()).map(d -> d.word).toList());
  }

  /** Label kinds (probability, onehot, sign) describe data, never what is differentiated. */
  public boolean isLabel() {
    return this == PROBABILITY || this == ONEHOT || this == SIGN;
  }

  /** The domains a variable of this role may declare. */
  public static List<Domain> allowed(Expr.Role role) {
    return switch (role) {
      case INPUT, PARAM -> List.of(REAL, POSITIVE, SPD);
      case DATA, TARGET -> List.of(values());
      default -> List.of();
    };
  }

  /** Why this domain does not fit a shape, or null when it does (spd: square; labels: vector or matrix). */
  public String misfit(Shape s) {
    if (this == SPD && !(s.isMatrixLike() && s.rows().equals(s.cols())))
      return "'spd' needs a square matrix(n, n), but the type is " + s;
    if ((this == PROBABILITY || this == ONEHOT) && (s.isScalar() || s.isTensor()))
      return "'" + word + "' needs a vector or a matrix (one " + word + " column each), but the type is " + s;
    return null;
  }
}
