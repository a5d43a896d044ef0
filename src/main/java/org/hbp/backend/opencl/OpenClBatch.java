package org.hbp.backend.opencl;

import static org.jocl.CL.clReleaseMemObject;

import java.lang.ref.Cleaner;
import java.util.concurrent.atomic.AtomicLong;
import org.hbp.backend.Batch;
import org.hbp.backend.Precision;
import org.hbp.backend.host.PooledBatch;
import org.hbp.backend.host.PooledStorage;
import org.jocl.cl_mem;

/**
 * A {@link Batch} of the {@link OpenClBackend}: one OpenCL device buffer ({@code cl_mem}) of
 * {@code float} ({@link Precision#FLOAT32}) or {@code double} ({@link Precision#FLOAT64}) entries
 * holding the {@code samples*directions} items contiguously, each item column-major, item {@code
 * (s, v)} starting at entry {@code (s*directions + v) * rows*cols}: the layout of {@link
 * org.hbp.backend.Backend#fromArray} and of {@code BlasBatch}, so that kernels read items and runs
 * of items in place. The entries never leave the device except through {@link
 * org.hbp.backend.Backend#toArray} (and the documented host round trips of the backend).
 *
 * <p><b>Lifetime.</b> As for {@code BlasBatch} there is no {@code close()}: views (reshapes,
 * column/direction views) share the buffer, and a buffer ends either through {@link
 * OpenClBackend#release}, which hands it to the backend's pool for the next allocation of the same
 * size, or, never released, when it becomes unreachable (a {@link Cleaner} then releases the
 * {@code cl_mem}). Each release advances the buffer's generation; a batch remembers the generation
 * it was made in, so using a batch or a view after its buffer was released is detected
 * ({@link #requireLive}) instead of silently reading another batch's entries, and a buffer is never
 * handed back twice.
 *
 * <p>Immutable by convention: the backend writes only into buffers it has just allocated, before
 * handing the batch out. Not thread-safe beyond that immutability (see {@link OpenClBackend}).
 */
public final class OpenClBatch extends PooledBatch<OpenClBatch.Buffer> {
  /** Releases buffers that became unreachable without {@link OpenClBackend#release}. */
  static final Cleaner CLEANER = Cleaner.create();

  /**
   * One device buffer. The generation counts releases: a batch made from the buffer in generation
   * g is live while the buffer is still in generation g. Index batches also cache, per
   * generation, what the index kernels learned about their entries.
   */
  static final class Buffer extends PooledStorage {
    final cl_mem mem;
    final long bytes;
    private final Cleaner.Cleanable cleanable;
    // ---- index caches: valid while indexGeneration == generation ---------------------------
    int indexGeneration = -1;
    /** The smallest item size n for which every entry is known to be an integer in [-1, n). */
    long validFor = Long.MAX_VALUE;
    /** scatterAdd's inverse index for targets of csrN entries (see OpenClKernels csr_*), or null. */
    Buffer csrArr, csrList;
    long csrN = -1;

    Buffer(cl_mem mem, long bytes, AtomicLong live) {
      this.mem = mem;
      this.bytes = bytes;
      live.addAndGet(bytes);
      this.cleanable = CLEANER.register(this, new Free(mem, bytes, live));
    }

    /** The index caches of the current generation (reset when the generation moved on). */
    Buffer indexCaches() {
      if (indexGeneration != generation()) {
        dropIndexCaches();
        indexGeneration = generation();
      }
      return this;
    }

    /** Forgets the index caches, freeing the inverse-index buffers. */
    void dropIndexCaches() {
      validFor = Long.MAX_VALUE;
      dropIndexCachesCsr();
    }

    /** Forgets the inverse index only (freeing its buffers). */
    void dropIndexCachesCsr() {
      if (csrArr != null) csrArr.free();
      if (csrList != null) csrList.free();
      csrArr = csrList = null;
      csrN = -1;
    }

    @Override
    public long bytes() {
      return bytes;
    }

    @Override
    protected void released() {
      dropIndexCaches();
    }

    /** Releases the cl_mem now (at most once; the cleaner then does nothing). */
    @Override
    public void free() {
      dropIndexCaches();
      cleanable.clean();
    }
  }

  /** The cleaning action: must not reference the Buffer. */
  private record Free(cl_mem mem, long bytes, AtomicLong live) implements Runnable {
    @Override
    public void run() {
      try {
        clReleaseMemObject(mem);
      } finally {
        live.addAndGet(-bytes);
      }
    }
  }

  /** The buffer, shared with views. */
  final Buffer buffer;
  /** The context the buffer lives in (batches of other devices are refused). */
  final OpenClContext context;

  OpenClBatch(int samples, int directions, int rows, int cols, long length, Precision precision, Buffer buffer, int generation,
      OpenClContext context) {
    super(samples, directions, rows, cols, length, precision, buffer, generation);
    this.buffer = buffer;
    this.context = context;
  }

  /** The same buffer seen with another shape of the same entry count (reshapes and column/direction views). */
  @Override
  protected OpenClBatch view(int samples, int directions, int rows, int cols) {
    return new OpenClBatch(samples, directions, rows, cols, length(), precision(), buffer, generation, context);
  }

  /** The device buffer (shared with views; read it, never write it). */
  cl_mem mem() {
    return buffer.mem;
  }

  /** Bytes of the device buffer (at least one entry's: OpenCL has no empty buffers). */
  public long bufferBytes() {
    return buffer.bytes;
  }
}
