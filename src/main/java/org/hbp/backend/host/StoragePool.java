package org.hbp.backend.host;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Released storage of one backend (off-heap blocks of the BLAS backend, device buffers of the
 * OpenCL backend), kept for reuse by later allocations of the same byte size.
 *
 * <p><b>Why.</b> Every kernel returns a fresh batch. Fresh native memory costs a page fault per
 * page on first touch; on the virtual machines measured here that was up to about 90 µs per 4 KiB
 * page, so a 6.5 MB activation cost 140 ms before a single entry was computed, more than the whole
 * gemm of its layer; a fresh device buffer costs {@code clCreateBuffer} and, on GPUs, the driver's
 * first-touch work. A training loop allocates the same sizes in every step: once a step's batches
 * are released (generated operators release their temporaries, {@link org.hbp.network.Pass#close}
 * everything the pass computed), the next step takes their storage from here.
 *
 * <p>Storage is keyed by exact size (a step repeats its shapes exactly, so exact keys hit without
 * the waste of size classes). At most {@code limitBytes} are kept; a release beyond that frees its
 * storage. Thread-safe.
 *
 * @param <S> the kind of storage
 */
public final class StoragePool<S extends PooledStorage> {
  private final String owner;
  private final long limitBytes;
  private final Map<Long, ArrayDeque<S>> free = new HashMap<>();
  private long pooledBytes;
  private long hits;
  private long misses;

  /** A pool keeping at most {@code limitBytes}; {@code owner} names it in messages. */
  public StoragePool(String owner, long limitBytes) {
    if (limitBytes < 0) throw new IllegalArgumentException(owner + ": pool limit " + limitBytes + " bytes; expected >= 0");
    this.owner = owner;
    this.limitBytes = limitBytes;
  }

  /** A pooled storage of exactly {@code bytes}, or null (a miss: the caller allocates). */
  public synchronized S take(long bytes) {
    ArrayDeque<S> q = free.get(bytes);
    if (q != null && !q.isEmpty()) {
      S s = q.pop();
      pooledBytes -= s.bytes();
      hits++;
      return s;
    }
    misses++;
    return null;
  }

  /**
   * Takes back storage whose batches are all dead: its generation advances (so a stale batch is
   * detected) and its caches are dropped, then it is pooled, or freed when the pool is full.
   * Storage given back twice in the same generation (a view of a released batch) is taken once.
   */
  public void give(S s, int generation) {
    boolean keep;
    synchronized (this) {
      if (s.generation() != generation) return; // already released
      s.advance();
      s.released();
      keep = pooledBytes + s.bytes() <= limitBytes;
      if (keep) {
        free.computeIfAbsent(s.bytes(), k -> new ArrayDeque<>()).push(s);
        pooledBytes += s.bytes();
      }
    }
    if (!keep) s.free();
  }

  /** Frees every pooled storage now. */
  public void clear() {
    List<S> all = new ArrayList<>();
    synchronized (this) {
      for (ArrayDeque<S> q : free.values()) all.addAll(q);
      free.clear();
      pooledBytes = 0;
    }
    for (S s : all) s.free();
  }

  /** Bytes held for reuse now. */
  public synchronized long pooledBytes() {
    return pooledBytes;
  }

  /** Allocations served from the pool so far, and those that needed fresh storage. */
  public synchronized long[] hitsAndMisses() {
    return new long[] {hits, misses};
  }

  @Override
  public String toString() {
    return owner + " pool";
  }
}
