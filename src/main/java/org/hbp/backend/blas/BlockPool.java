package org.hbp.backend.blas;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import org.hbp.backend.Precision;

/**
 * Released off-heap blocks of one {@link BlasBackend}, kept for reuse by later allocations of the
 * same capacity.
 *
 * <p><b>Why.</b> Every kernel returns a fresh batch. Fresh native memory costs a page fault per
 * page on first touch; on the virtual machines measured here that was up to about 90 µs per 4 KiB
 * page, so a 6.5 MB activation cost 140 ms before a single entry was computed, more than the whole
 * gemm of its layer. A training loop allocates the same sizes in every step: once a step's blocks
 * are released (generated operators release their temporaries, {@link org.hbp.network.Pass#close}
 * everything the pass computed), the next step takes them from here with their pages mapped.
 *
 * <p>Blocks are keyed by exact capacity (a step repeats its shapes exactly, so exact keys hit
 * without the waste of size classes). At most {@link #limitBytes} are kept; a release beyond that
 * frees its block. Thread-safe.
 */
final class BlockPool {
  /** The default bound of the pooled bytes (system property {@code hbp.blas.poolBytes}). */
  static final long DEFAULT_LIMIT_BYTES = Long.getLong("hbp.blas.poolBytes", 2L << 30);

  private final Precision precision;
  private final long limitBytes;
  private final Map<Long, ArrayDeque<BlasBatch.Block>> free = new HashMap<>();
  private long pooledBytes;
  private long hits;
  private long misses;

  BlockPool(Precision precision, long limitBytes) {
    if (limitBytes < 0) throw new IllegalArgumentException("BlockPool: limit " + limitBytes + " bytes; expected >= 0");
    this.precision = precision;
    this.limitBytes = limitBytes;
  }

  /** A block of the given capacity: a pooled one when there is one, else a fresh allocation. */
  BlasBatch.Block take(long capacity) {
    synchronized (this) {
      ArrayDeque<BlasBatch.Block> q = free.get(capacity);
      if (q != null && !q.isEmpty()) {
        BlasBatch.Block b = q.pop();
        pooledBytes -= b.bytes();
        hits++;
        return b;
      }
      misses++;
    }
    return new BlasBatch.Block(precision, capacity);
  }

  /**
   * Takes back a block whose batches are all dead: its generation advances (so a stale batch is
   * detected), then it is pooled, or freed when the pool is full. A block released twice in the
   * same generation is pooled once.
   */
  void give(BlasBatch.Block b, int generation) {
    boolean keep;
    synchronized (this) {
      if (b.generation != generation) return; // already released: a view of a released batch
      b.generation = generation + 1;
      keep = pooledBytes + b.bytes() <= limitBytes;
      if (keep) {
        free.computeIfAbsent(b.capacity, k -> new ArrayDeque<>()).push(b);
        pooledBytes += b.bytes();
      }
    }
    if (!keep) b.free();
  }

  /** Frees every pooled block now. */
  synchronized void clear() {
    for (ArrayDeque<BlasBatch.Block> q : free.values())
      for (BlasBatch.Block b : q) b.free();
    free.clear();
    pooledBytes = 0;
  }

  /** Bytes held for reuse now. */
  synchronized long pooledBytes() {
    return pooledBytes;
  }

  /** Allocations served from the pool so far. */
  synchronized long hits() {
    return hits;
  }

  /** Allocations that needed fresh memory so far. */
  synchronized long misses() {
    return misses;
  }
}
