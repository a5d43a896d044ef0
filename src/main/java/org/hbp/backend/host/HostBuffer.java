package org.hbp.backend.host;

/**
 * The entries of a batch on the host as the shared kernels see them: bulk reads into and writes
 * from {@code double[]} ranges (a whole item, or a chunk). Kernels compute on the arrays, so an
 * implementation is called once per item or chunk, never once per entry: a Java array
 * ({@link #of}), an off-heap block (the BLAS backend's batches, rounding to float when stored as
 * float).
 */
public interface HostBuffer {
  /** {@code dst[dOff .. dOff+n)} = entries {@code [off, off+n)}. */
  void read(long off, double[] dst, int dOff, int n);

  /** Entries {@code [off, off+n)} = {@code src[sOff .. sOff+n)}. */
  void write(long off, double[] src, int sOff, int n);

  /** A Java array as a buffer (shared, not copied). */
  static HostBuffer of(double[] data) {
    return (ArrayBuffer) () -> data;
  }
}
