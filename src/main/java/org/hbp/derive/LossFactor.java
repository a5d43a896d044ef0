package org.hbp.derive;

import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;
import org.hbp.calculus.Dim;
import org.hbp.calculus.Expr;

/**
 * A symbolic factor of a loss Hessian, {@code H = S S'} per sample, S = [S_1, ..., S_k] the
 * horizontal concatenation of its blocks (numel x r_i each, r = sum r_i columns): H = sum_i S_i
 * S_i'. It is the certificate that H is positive semi-definite, and the columns that exact GGN
 * diagonals and KFLR propagate backward (the GGN of a net is sum_n J_n' S_n S_n' J_n).
 *
 * @param blocks the blocks S_i, each numel x r_i (most losses have one)
 * @param reason how the factor follows from the Hessian's structure
 */
public record LossFactor(List<Expr> blocks, String reason) {
  public LossFactor {
    blocks = List.copyOf(blocks);
    if (blocks.isEmpty()) throw new IllegalArgumentException("a loss factor needs a block");
    Objects.requireNonNull(reason, "reason");
  }

  /** The column counts r_i of the blocks, as dims. */
  public List<Dim> blockRanks() {
    return blocks.stream().map(b -> b.shape().cols()).toList();
  }

  /** r = sum r_i at the given dims. */
  public long rank(Map<String, Long> dims) {
    return blocks.stream().mapToLong(b -> b.shape().cols().evaluate(dims)).sum();
  }

  /** {@code S} as text: the block, or {@code [S_1, S_2]} for several. */
  public String text(Function<Expr, String> print) {
    if (blocks.size() == 1) return print.apply(blocks.get(0));
    return "[" + String.join(", ", blocks.stream().map(print).toList()) + "]";
  }
}
