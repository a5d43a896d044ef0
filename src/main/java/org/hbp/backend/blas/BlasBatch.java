package org.hbp.backend.blas;

import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.indexer.DoubleRawIndexer;
import org.bytedeco.javacpp.indexer.FloatRawIndexer;
import org.hbp.backend.Batch;
import org.hbp.backend.Precision;

/**
 * A {@link Batch} of the {@link BlasBackend}: one off-heap block (a JavaCPP {@link DoublePointer}
 * for {@link Precision#FLOAT64}, a {@link FloatPointer} for {@link Precision#FLOAT32}) holding the
 * {@code samples*directions} items contiguously, each item column-major, item {@code (s, v)}
 * starting at entry {@code (s*directions + v) * rows*cols}: the layout that {@link
 * org.hbp.backend.Backend#fromArray} documents, so that BLAS reads items and runs of items in place.
 *
 * <p><b>Lifetime.</b> There is deliberately no {@code close()}: batches are values handed freely
 * between operators, forward caches and curvature code, and no caller could know when the last
 * reader is done (a reshape or a column/direction view shares the block). The block is owned by its
 * JavaCPP pointer and freed by JavaCPP's deallocator once that pointer is unreachable (a garbage
 * collection finds it; JavaCPP also counts the off-heap bytes it allocated and asks for a
 * collection when they pass {@code org.bytedeco.javacpp.maxBytes}, by default the JVM's maximum
 * heap). Views (reshapes) share the pointer object, so the block lives as long as any view does.
 *
 * <p>Immutable by convention: the backend writes only into batches it has just allocated, before
 * handing them out.
 */
public final class BlasBatch implements Batch {
  private final int samples;
  private final int directions;
  private final int rows;
  private final int cols;
  private final long length;
  private final Precision precision;
  /** The block when FLOAT64, else null. */
  final DoublePointer doubles;
  /** The block when FLOAT32, else null. */
  final FloatPointer floats;
  // Unsafe-based accessors of the block (bounds-checked; they hold the pointer, keeping it alive)
  private final DoubleRawIndexer di;
  private final FloatRawIndexer fi;

  private BlasBatch(int samples, int directions, int rows, int cols, long length, Precision precision, DoublePointer doubles,
      FloatPointer floats, DoubleRawIndexer di, FloatRawIndexer fi) {
    this.samples = samples;
    this.directions = directions;
    this.rows = rows;
    this.cols = cols;
    this.length = length;
    this.precision = precision;
    this.doubles = doubles;
    this.floats = floats;
    this.di = di;
    this.fi = fi;
  }

  /** Entries of a batch of the given shape, or an IllegalArgumentException (item sizes stay ints, as Batch reports them). */
  static long entries(String kernel, int samples, int directions, int rows, int cols) {
    if (samples < 1 || directions < 1 || rows < 0 || cols < 0)
      throw new IllegalArgumentException(kernel + ": invalid batch shape [" + samples + " x " + directions + "] " + rows + "x" + cols
          + " (batch axes must be >= 1, item dimensions >= 0)");
    long item = (long) rows * cols;
    if (item > Integer.MAX_VALUE)
      throw new IllegalArgumentException(kernel + ": items " + rows + "x" + cols + " have " + item
          + " entries, more than an int counts");
    long items = (long) samples * directions;
    if (items > Integer.MAX_VALUE || (item > 0 && items > Long.MAX_VALUE / 8 / item))
      throw new IllegalArgumentException(kernel + ": batch [" + samples + " x " + directions + "] " + rows + "x" + cols
          + " is too large");
    return items * item;
  }

  /** A fresh block for the given shape; zeroed when asked (otherwise its contents are undefined). */
  static BlasBatch allocate(String kernel, Precision precision, int samples, int directions, int rows, int cols, boolean zero) {
    long n = entries(kernel, samples, directions, rows, cols);
    long size = Math.max(1, n); // never a zero-length native allocation
    if (precision == Precision.FLOAT64) {
      DoublePointer p = new DoublePointer(size);
      if (zero) p.zero();
      return new BlasBatch(samples, directions, rows, cols, n, precision, p, null, new DoubleRawIndexer(p), null);
    }
    FloatPointer p = new FloatPointer(size);
    if (zero) p.zero();
    return new BlasBatch(samples, directions, rows, cols, n, precision, null, p, null, new FloatRawIndexer(p));
  }

  /** Frees the native block at once (shared by every view of it). */
  void free() {
    if (doubles != null) doubles.deallocate();
    else floats.deallocate();
  }

  /** The same block seen with another shape of the same entry count (reshapes and column/direction views). */
  BlasBatch view(int samples, int directions, int rows, int cols) {
    return new BlasBatch(samples, directions, rows, cols, length, precision, doubles, floats, di, fi);
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

  /** The format of the entries. */
  public Precision precision() {
    return precision;
  }

  /** Entries of the whole batch (may exceed the int range: the block is off-heap). */
  public long length() {
    return length;
  }

  /**
   * The off-heap block: a {@link DoublePointer} (FLOAT64) or a {@link FloatPointer} (FLOAT32),
   * position 0, {@link #length()} entries. Shared with the batch and its views: read it, never
   * write it, and keep this batch reachable while native code uses the address.
   */
  public Pointer pointer() {
    return doubles != null ? doubles : floats;
  }

  // ---- entry access (package-private: kernels only) -------------------------------------------

  double get(long i) {
    return di != null ? di.get(i) : fi.get(i);
  }

  /** Stores v, rounded to float for FLOAT32. */
  void set(long i, double v) {
    if (di != null) di.put(i, v);
    else fi.put(i, (float) v);
  }

  /** dst[dOff .. dOff+n) = entries [off, off+n). */
  void read(long off, double[] dst, int dOff, int n) {
    if (n == 0) return;
    if (doubles != null) {
      doubles.getPointer(off).get(dst, dOff, n); // one native copy
    } else {
      float[] buf = floatBuffer(n);
      floats.getPointer(off).get(buf, 0, n);
      for (int k = 0; k < n; k++) dst[dOff + k] = buf[k];
    }
    java.lang.ref.Reference.reachabilityFence(this);
  }

  /** A per-thread float staging buffer of at least n entries (bulk copies instead of per-entry access). */
  private static float[] floatBuffer(int n) {
    float[] b = FLOATS.get();
    if (b.length < n) {
      b = new float[Math.max(n, 2 * b.length)];
      FLOATS.set(b);
    }
    return b;
  }

  private static final ThreadLocal<float[]> FLOATS = ThreadLocal.withInitial(() -> new float[1024]);

  /** Entries [off, off+n) = src[sOff .. sOff+n), rounded to float for FLOAT32. */
  void write(long off, double[] src, int sOff, int n) {
    if (n == 0) return;
    if (doubles != null) {
      doubles.getPointer(off).put(src, sOff, n); // one native copy
    } else {
      float[] buf = floatBuffer(n);
      for (int k = 0; k < n; k++) buf[k] = (float) src[sOff + k];
      floats.getPointer(off).put(buf, 0, n);
    }
    java.lang.ref.Reference.reachabilityFence(this);
  }

  @Override
  public String toString() {
    return "BlasBatch(" + (precision == Precision.FLOAT64 ? "f64" : "f32") + ") " + describe();
  }
}
