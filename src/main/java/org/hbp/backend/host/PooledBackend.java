package org.hbp.backend.host;

import org.hbp.backend.Backend;

/**
 * A backend whose batches live on pooled storage ({@link PooledBatch}: off-heap blocks of the BLAS
 * backend, device buffers of the OpenCL backend): {@link Backend#release} hands storage back to
 * the backend's {@link StoragePool}, and later allocations of the same size take it from there.
 */
public interface PooledBackend extends Backend {
  /** The pool of this backend's released storage (for the statistics below; allocation and release go through the backend). */
  StoragePool<?> storagePool();

  /** Bytes of released storage held for reuse now. */
  default long pooledBytes() {
    return storagePool().pooledBytes();
  }

  /** Allocations served from released storage so far, and those that needed fresh storage. */
  default long[] poolHitsAndMisses() {
    return storagePool().hitsAndMisses();
  }

  /** Frees the released storage held for reuse (live batches are not affected). */
  default void trimPool() {
    storagePool().clear();
  }
}
