package org.hbp.backend;

/**
 * A batch of equally shaped matrices living on a {@link Backend}: {@code samples * directions}
 * items, each {@code rows x cols} in column-major order, item {@code (s, v)} at position
 * {@code s * directions + v} (sample-major, direction-minor).
 *
 * <p>Either batch axis may have extent 1, which means "the same for every sample" (a parameter,
 * a batch-averaged matrix) or "the same for every direction"; the backend's binary kernels
 * broadcast such an axis against the other operand's. A rank-3 tensor {@code (c, h, w)} is held as
 * the {@code c x (h*w)} matrix with the same column-major data; {@code vec} and reshapes are free.
 *
 * <p>Batches are immutable: kernels return new batches (a reshape may share the data).
 */
public interface Batch {
  /** Extent of the sample axis (1 when shared by all samples). */
  int samples();

  /** Extent of the direction axis (1 when shared by all directions). */
  int directions();

  int rows();

  int cols();

  /** Number of items, {@code samples() * directions()}. */
  default int items() {
    return samples() * directions();
  }

  /** Entries per item, {@code rows() * cols()}. */
  default int itemSize() {
    return rows() * cols();
  }

  /** For messages: {@code [samples x directions] rows x cols}. */
  default String describe() {
    return "[" + samples() + " x " + directions() + "] " + rows() + "x" + cols();
  }
}
