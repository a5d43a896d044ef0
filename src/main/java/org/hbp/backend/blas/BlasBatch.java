package org.hbp.backend.blas;

import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.indexer.DoubleRawIndexer;
import org.bytedeco.javacpp.indexer.FloatRawIndexer;
import org.hbp.backend.BackendChecks;
import org.hbp.backend.Batch;
import org.hbp.backend.Precision;
import org.hbp.backend.host.HostBuffer;
import org.hbp.backend.host.PooledBatch;
import org.hbp.backend.host.PooledStorage;
import org.hbp.backend.host.StoragePool;

/**
 * A {@link Batch} of the {@link BlasBackend}: one off-heap {@link Block} (a JavaCPP {@link
 * DoublePointer} for {@link Precision#FLOAT64}, a {@link FloatPointer} for {@link
 * Precision#FLOAT32}) holding the {@code samples*directions} items contiguously, each item
 * column-major, item {@code (s, v)} starting at entry {@code (s*directions + v) * rows*cols}: the
 * layout that {@link org.hbp.backend.Backend#fromArray} documents, so that BLAS reads items and runs
 * of items in place.
 *
 * <p><b>Lifetime.</b> There is deliberately no {@code close()}: batches are values handed freely
 * between operators, forward caches and curvature code. Views (reshapes, column/direction views)
 * share the block. A block ends in one of two ways: {@link BlasBackend#release} hands it back to
 * the backend's {@link StoragePool} (its owner knows it is dead: a generated operator's temporary, a
 * closed pass), which gives it to the next allocation of the same size with its pages already
 * mapped; or, never released, it is freed by JavaCPP's deallocator once unreachable. Each release
 * advances the block's generation; a batch remembers the generation it was made in, so using a
 * batch (or a view) after its block was released is detected ({@link #requireLive}) instead of
 * silently reading another batch's entries.
 *
 * <p>Immutable by convention: the backend writes only into batches it has just allocated, before
 * handing them out.
 */
public final class BlasBatch extends PooledBatch<BlasBatch.Block> implements HostBuffer {
  /**
   * One off-heap block and its accessors. The generation counts releases: a batch made from the
   * block in generation g is live while the block is still in generation g.
   */
  static final class Block extends PooledStorage {
    final long capacity;
    /** The block when FLOAT64, else null. */
    final DoublePointer doubles;
    /** The block when FLOAT32, else null. */
    final FloatPointer floats;
    // Unsafe-based accessors of the block (bounds-checked; they hold the pointer, keeping it alive)
    final DoubleRawIndexer di;
    final FloatRawIndexer fi;
    /**
     * The block as a direct NIO buffer (native byte order) when it spans at most
     * {@code Integer.MAX_VALUE} bytes (a buffer's limit), else null: its absolute bulk gets and puts
     * are memory copies, several times faster than the indexers' entry-by-entry loops. The buffer
     * does not keep the native memory alive: its users fence the block.
     */
    final java.nio.DoubleBuffer dbuf;
    final java.nio.FloatBuffer fbuf;
    /** The same block as bytes (native order, same bounds as dbuf or fbuf), for vector loads and stores straight on it; else null. */
    final java.nio.ByteBuffer bytes;

    Block(Precision precision, long capacity) {
      this.capacity = capacity;
      if (precision == Precision.FLOAT64) {
        doubles = new DoublePointer(capacity);
        floats = null;
        di = new DoubleRawIndexer(doubles);
        fi = null;
        dbuf = capacity <= Integer.MAX_VALUE / Double.BYTES ? doubles.asBuffer() : null;
        bytes = dbuf != null ? doubles.asByteBuffer().order(java.nio.ByteOrder.nativeOrder()) : null;
        fbuf = null;
      } else {
        doubles = null;
        floats = new FloatPointer(capacity);
        di = null;
        fi = new FloatRawIndexer(floats);
        dbuf = null;
        fbuf = capacity <= Integer.MAX_VALUE / Float.BYTES ? floats.asBuffer() : null;
        bytes = fbuf != null ? floats.asByteBuffer().order(java.nio.ByteOrder.nativeOrder()) : null;
      }
    }

    @Override
    public long bytes() {
      return capacity * (doubles != null ? Double.BYTES : Float.BYTES);
    }

    void zero() {
      if (doubles != null) doubles.zero();
      else floats.zero();
    }

    /** Frees the native memory now. */
    @Override
    public void free() {
      if (doubles != null) doubles.deallocate();
      else floats.deallocate();
    }
  }

  /** The block, shared with views. */
  final Block block;
  /**
   * This batch's entries as checked int indices into items of {@code itemSize} entries, once a
   * gather or scatter-add has used it as an index batch (a max-pool's index map serves the forward
   * pass, the backward pass and every curvature product); null before.
   */
  volatile Indices indices;

  /** Checked int indices into items of {@code itemSize} entries, index items of {@code m} entries. */
  static final class Indices {
    final int itemSize, m;
    final int[] values;
    /** Whether no two entries of an index item coincide: null until a scatter-add first asks. */
    private volatile Boolean injective;

    Indices(int itemSize, int m, int[] values) {
      this.itemSize = itemSize;
      this.m = m;
      this.values = values;
    }

    /** Indices known to have no two entries alike in an index item (a max-pool's: its windows do not overlap). */
    static Indices injective(int itemSize, int m, int[] values) {
      Indices known = new Indices(itemSize, m, values);
      known.injective = true;
      return known;
    }

    /** Whether no two entries of an index item coincide, -1 aside ({@link BlasIndexKernels#injective}, once). */
    boolean injective() {
      Boolean b = injective;
      if (b == null) injective = b = BlasIndexKernels.injective(values, m, itemSize);
      return b;
    }
  }
  /** The block's pointer when FLOAT64, else null. */
  final DoublePointer doubles;
  /** The block's pointer when FLOAT32, else null. */
  final FloatPointer floats;
  private final DoubleRawIndexer di;
  private final FloatRawIndexer fi;

  private BlasBatch(int samples, int directions, int rows, int cols, long length, Precision precision, Block block, int generation) {
    super(samples, directions, rows, cols, length, precision, block, generation);
    this.block = block;
    this.doubles = block.doubles;
    this.floats = block.floats;
    this.di = block.di;
    this.fi = block.fi;
  }

  /** The block capacity a batch of n entries uses (never a zero-length native allocation). */
  static long capacity(long n) {
    return Math.max(1, n);
  }

  /** A batch of the given shape on a fresh or pooled block of {@link #capacity} entries. */
  static BlasBatch on(Block block, Precision precision, int samples, int directions, int rows, int cols, long n) {
    return new BlasBatch(samples, directions, rows, cols, n, precision, block, block.generation());
  }

  /** A fresh block for the given shape; zeroed when asked (otherwise its contents are undefined). */
  static BlasBatch allocate(String kernel, Precision precision, int samples, int directions, int rows, int cols, boolean zero) {
    long n = BackendChecks.entries(kernel, samples, directions, rows, cols);
    Block b = new Block(precision, capacity(n));
    if (zero) b.zero();
    return on(b, precision, samples, directions, rows, cols, n);
  }

  /** The same block seen with another shape of the same entry count (reshapes and column/direction views). */
  @Override
  protected BlasBatch view(int samples, int directions, int rows, int cols) {
    return new BlasBatch(samples, directions, rows, cols, length(), precision(), block, generation);
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
  @Override
  public void read(long off, double[] dst, int dOff, int n) {
    if (n == 0) return;
    if (di != null) {
      if (block.dbuf != null) block.dbuf.get((int) off, dst, dOff, n);
      else di.get(off, dst, dOff, n);
    } else {
      float[] buf = floatBuffer(n);
      if (block.fbuf != null) block.fbuf.get((int) off, buf, 0, n);
      else fi.get(off, buf, 0, n);
      for (int k = 0; k < n; k++) dst[dOff + k] = buf[k];
    }
    java.lang.ref.Reference.reachabilityFence(block);
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
  @Override
  public void write(long off, double[] src, int sOff, int n) {
    if (n == 0) return;
    if (di != null) {
      if (block.dbuf != null) block.dbuf.put((int) off, src, sOff, n);
      else di.put(off, src, sOff, n);
    } else {
      float[] buf = floatBuffer(n);
      for (int k = 0; k < n; k++) buf[k] = (float) src[sOff + k];
      if (block.fbuf != null) block.fbuf.put((int) off, buf, 0, n);
      else fi.put(off, buf, 0, n);
    }
    java.lang.ref.Reference.reachabilityFence(block);
  }
}
