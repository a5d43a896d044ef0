package org.hbp.runtime;

import java.util.ArrayList;
import java.util.List;
import org.hbp.UserError;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;

/** The parts of {@link LossOperator} that follow from the generated products. */
public abstract class AbstractLossOperator extends AbstractOperator implements LossOperator {
  protected AbstractLossOperator(Backend backend) {
    super(backend);
  }

  @Override
  public Batch hessian(ForwardCache cache, String wrt) {
    int[] s = itemShape(wrt);
    int n = s[0] * s[1];
    Batch e = be.reshape(be.columnsAsDirections(be.eye(n)), s[0], s[1]);
    Batch columns = hessianMatProd(cache, wrt, e);
    // a product that does not depend on its direction (one broadcast direction) is linear and constant: zero
    if (columns.directions() == 1 && n > 1) return be.fill(n, n, 0);
    return be.directionsAsColumns(be.reshape(columns, n, 1), n);
  }

  /**
   * S as directions: each block times the columns of the identity ({@link #factorMatProd}), made
   * per sample (a block that does not depend on the sample is repeated), blocks side by side.
   */
  @Override
  public Batch factor(ForwardCache cache, String wrt) {
    int[] ranks = factorRanks(wrt);
    if (ranks.length == 0) throw noFactor(wrt);
    int samples = cache.get(wrt).samples();
    List<Batch> blocks = new ArrayList<>();
    for (int i = 0; i < ranks.length; i++) {
      Batch columns = factorMatProd(cache, wrt, i, be.columnsAsDirections(be.eye(ranks[i])));
      if (columns.samples() != samples) columns = be.add(be.zerosLike(cache.get(wrt)), columns);
      blocks.add(columns);
    }
    return blocks.size() == 1 ? blocks.get(0) : directionsSideBySide(blocks);
  }

  /** Batches of equal samples and item shape, their directions concatenated in order (on the host). */
  private Batch directionsSideBySide(List<Batch> parts) {
    Batch first = parts.get(0);
    int n = first.samples(), size = first.itemSize(), total = 0;
    for (Batch b : parts) total += b.directions();
    double[] out = new double[n * total * size];
    int offset = 0;
    for (Batch b : parts) {
      double[] d = be.toArray(b);
      int k = b.directions();
      for (int s = 0; s < n; s++) System.arraycopy(d, s * k * size, out, (s * total + offset) * size, k * size);
      offset += k;
    }
    return be.fromArray(n, total, first.rows(), first.cols(), out);
  }

  /** Checks a block index of the factor with respect to wrt, which has {@code blocks} blocks. */
  protected final void requireBlock(String wrt, int block, int blocks) {
    if (block < 0 || block >= blocks)
      throw new IllegalArgumentException(name() + ": the factor with respect to '" + wrt + "' has " + blocks + " block(s); asked for block " + block);
  }

  /**
   * The error for a loss input without a certified factor, with what the derivation says about
   * its Hessian ({@link #noFactorReason}: why it is not proven PSD and, where the derivation has
   * one, which declaration or {@code assume} would help, as {@code hbp derive} prints it).
   */
  protected final UserError noFactor(String wrt) {
    return noFactor(name(), wrt, noFactorReason(wrt));
  }

  static UserError noFactor(String loss, String wrt) {
    return noFactor(loss, wrt, "");
  }

  /** The error for input {@code wrt} of {@code loss} without a certified factor; {@code why} is added in parentheses unless blank. */
  static UserError noFactor(String loss, String wrt, String why) {
    return new UserError("no certified factor for loss " + loss + " (input '" + wrt + "'): its Hessian is not proven PSD"
        + (why == null || why.isBlank() ? "" : " (" + why + ")")
        + ", so no S with H = S*S' is derived; GGN diagonals and other factor-based curvature need a PSD loss");
  }

  protected final UserError unknown(String variable) {
    return new UserError(name() + ": no input named '" + variable + "'; it has " + inputs());
  }
}
