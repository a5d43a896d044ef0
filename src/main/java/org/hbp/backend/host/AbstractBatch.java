package org.hbp.backend.host;

import org.hbp.backend.Batch;

/** The shape of a {@link Batch}: {@code [samples x directions] rows x cols}, fixed at construction. */
public abstract class AbstractBatch implements Batch {
  private final int samples;
  private final int directions;
  private final int rows;
  private final int cols;

  /** A batch of the given shape, refused unless both batch axes are >= 1 and both item dimensions >= 0. */
  protected AbstractBatch(int samples, int directions, int rows, int cols) {
    if (samples < 1 || directions < 1 || rows < 0 || cols < 0)
      throw new IllegalArgumentException("invalid batch shape [" + samples + " x " + directions + "] " + rows + "x" + cols
          + " (batch axes must be >= 1, item dimensions >= 0)");
    this.samples = samples;
    this.directions = directions;
    this.rows = rows;
    this.cols = cols;
  }

  @Override
  public final int samples() {
    return samples;
  }

  @Override
  public final int directions() {
    return directions;
  }

  @Override
  public final int rows() {
    return rows;
  }

  @Override
  public final int cols() {
    return cols;
  }
}
