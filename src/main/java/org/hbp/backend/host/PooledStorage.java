package org.hbp.backend.host;

/**
 * The storage of a backend's batches that a {@link StoragePool} recycles: an off-heap block, a
 * device buffer. The generation counts releases: a batch made from the storage in generation g is
 * live while the storage is still in generation g, so a batch used after its storage was released
 * (and possibly handed to another batch) is detected instead of silently reading other entries.
 */
public abstract class PooledStorage {
  /** Releases so far; advanced by {@link StoragePool#give}. */
  private volatile int generation;

  /** The current generation. */
  public final int generation() {
    return generation;
  }

  final void advance() {
    generation++;
  }

  /** The size in bytes: the pool's key and what it counts against its limit. */
  public abstract long bytes();

  /** Frees the memory now (at most once). */
  public abstract void free();

  /** Called when the storage is released, before it is pooled or freed: drops what was cached about its entries. */
  protected void released() {}
}
