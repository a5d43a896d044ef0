package org.hbp.backend.cpu;

import org.hbp.backend.Batch;
import org.hbp.backend.host.AbstractBatch;
import org.hbp.backend.host.ArrayBuffer;

/**
 * A {@link Batch} of the {@link CpuBackend}: one {@code double[]} holding the {@code
 * samples*directions} items contiguously, each item column-major, item {@code (s, v)} starting at
 * {@code (s*directions + v) * rows*cols} (sample-major, as {@link
 * org.hbp.backend.Backend#fromArray} lays out host data).
 *
 * <p>Immutable by convention: the backend writes ({@link #write}) only into the array of a batch it
 * has just allocated, before handing it out, so reshapes and the column/direction views share it
 * freely.
 */
public final class CpuBatch extends AbstractBatch implements ArrayBuffer {
  private final double[] data;

  /** Wraps (does not copy) {@code data}, whose length must be {@code samples*directions*rows*cols}. */
  CpuBatch(int samples, int directions, int rows, int cols, double[] data) {
    super(samples, directions, rows, cols);
    long n = (long) samples * directions * rows * cols;
    if (data.length != n)
      throw new IllegalArgumentException("batch [" + samples + " x " + directions + "] " + rows + "x" + cols + " needs " + n
          + " entries, got " + data.length);
    this.data = data;
  }

  /** The backing array (shared: only the backend's kernels write it, into batches they create). */
  @Override
  public double[] data() {
    return data;
  }

  @Override
  public String toString() {
    return "CpuBatch " + describe();
  }
}
