package org.hbp.backend.host;

/**
 * A {@link HostBuffer} on a Java array: entry {@code i} is {@code data()[i]}, read and written by
 * {@link System#arraycopy} (the array is shared, not copied).
 */
@FunctionalInterface
public interface ArrayBuffer extends HostBuffer {
  /** The backing array (shared). */
  double[] data();

  @Override
  default void read(long off, double[] dst, int dOff, int n) {
    System.arraycopy(data(), (int) off, dst, dOff, n);
  }

  @Override
  default void write(long off, double[] src, int sOff, int n) {
    System.arraycopy(src, sOff, data(), (int) off, n);
  }
}
