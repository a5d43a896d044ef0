package org.hbp.backend.opencl;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;

/**
 * Released device buffers of one {@link OpenClBackend}, kept for reuse by later allocations of the
 * same byte size (as {@code BlockPool} does for the BLAS backend): a training step allocates the
 * same sizes as the step before, and reusing a buffer saves {@code clCreateBuffer} and, on GPUs,
 * the driver's first-touch work. Buffers are keyed by exact size; at most {@code limitBytes} are
 * kept, a release beyond that frees its buffer. Reuse is safe without waiting: the backend's
 * command queue is in order, so the kernels that read a released buffer run before the kernel
 * that overwrites it. Thread-safe.
 */
final class BufferPool {
  private final long limitBytes;
  private final Map<Long, ArrayDeque<OpenClBatch.Buffer>> free = new HashMap<>();
  private long pooledBytes;
  private long hits;
  private long misses;

  BufferPool(long limitBytes) {
    if (limitBytes < 0) throw new IllegalArgumentException("BufferPool: limit " + limitBytes + " bytes; expected >= 0");
    this.limitBytes = limitBytes;
  }

  /** A pooled buffer of exactly {@code bytes}, or null (a miss: the caller allocates). */
  synchronized OpenClBatch.Buffer take(long bytes) {
    ArrayDeque<OpenClBatch.Buffer> q = free.get(bytes);
    if (q != null && !q.isEmpty()) {
      OpenClBatch.Buffer b = q.pop();
      pooledBytes -= b.bytes;
      hits++;
      return b;
    }
    misses++;
    return null;
  }

  /**
   * Takes back a buffer whose batches are all dead: its generation advances (so a stale batch is
   * detected, and its index caches are dropped), then it is pooled, or freed when the pool is
   * full. A buffer given back twice in the same generation is taken once.
   */
  void give(OpenClBatch.Buffer b, int generation) {
    boolean keep;
    synchronized (this) {
      if (b.generation != generation) return; // already released: a view of a released batch, or a stale batch
      b.generation = generation + 1;
      b.dropIndexCaches();
      keep = pooledBytes + b.bytes <= limitBytes;
      if (keep) {
        free.computeIfAbsent(b.bytes, k -> new ArrayDeque<>()).push(b);
        pooledBytes += b.bytes;
      }
    }
    if (!keep) b.free();
  }

  /** Frees every pooled buffer now. */
  void clear() {
    java.util.List<OpenClBatch.Buffer> all = new java.util.ArrayList<>();
    synchronized (this) {
      for (ArrayDeque<OpenClBatch.Buffer> q : free.values()) all.addAll(q);
      free.clear();
      pooledBytes = 0;
    }
    for (OpenClBatch.Buffer b : all) b.free();
  }

  /** Bytes held for reuse now. */
  synchronized long pooledBytes() {
    return pooledBytes;
  }

  /** Allocations served from the pool so far. */
  synchronized long hits() {
    return hits;
  }

  /** Allocations that needed a fresh buffer so far. */
  synchronized long misses() {
    return misses;
  }
}
