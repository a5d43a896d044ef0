package org.hbp.backend.cpu;

import org.hbp.backend.Batch;

/**
 * A {@link Batch} of the {@link CpuBackend}: one {@code double[]} holding the {@code
 * samples*directions} items contiguously, each item column-major, item {@code (s, v)} starting at
 * {@code (s*directions + v) * rows*cols} (sample-major, as {@link
 * org.hbp.backend.Backend#fromArray} lays out host data).
 *
 * <p>Immutable by convention: the backend never writes into the array of a batch it has handed
 * out, so reshapes and the column/direction views share it freely.
 */
public final class CpuBatch implements Batch {
  private final int samples;
  private final int directions;
  private final int rows;
  private final int cols;
  private final double[] data;

  /** Wraps (does not copy) {@code data}, whose length must be {@code samples*directions*rows*cols}. */
  CpuBatch(int samples, int directions, int rows, int cols, double[] data) {
    if (samples < 1 || directions < 1 || rows < 0 || cols < 0)
      throw new IllegalArgumentException("invalid batch shape [" + samples + " x " + directions + "] " + rows + "x" + cols
          + " (batch axes must be >= 1, item dimensions >= 0)");
    long n = (long) samples * directions * rows * cols;
    if (data.length != n)
      throw new IllegalArgumentException("batch [" + samples + " x " + directions + "] " + rows + "x" + cols + " needs " + n
          + " entries, got " + data.length);
    this.samples = samples;
    this.directions = directions;
    this.rows = rows;
    this.cols = cols;
    this.data = data;
  }

  @Override
  public int samples() {
    return samples;
  }

  @Override
  public int directions() {
    return directions;
  }

  @Override
  public int rows() {
    return rows;
  }

  @Override
  public int cols() {
    return cols;
  }

  /** The backing array (shared, never to be modified). */
  double[] data() {
    return data;
  }

  @Override
  public String toString() {
    return "CpuBatch " + describe();
  }
}
