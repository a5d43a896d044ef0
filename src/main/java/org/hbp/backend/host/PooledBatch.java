package org.hbp.backend.host;

import org.hbp.backend.BackendChecks;
import org.hbp.backend.Batch;
import org.hbp.backend.Precision;

/**
 * A {@link Batch} on {@link PooledStorage} (an off-heap block, a device buffer) holding its
 * {@code samples*directions} items contiguously, each column-major, item {@code (s, v)} at entry
 * {@code (s*directions + v) * rows*cols}: the layout of {@link org.hbp.backend.Backend#fromArray}.
 * Views (reshapes, column/direction views) share the storage. The batch remembers the storage's
 * generation when it was made: once the storage is released, {@link #checkLive} refuses it.
 *
 * @param <S> the kind of storage
 */
public abstract class PooledBatch<S extends PooledStorage> extends AbstractBatch {
  private final long length;
  private final Precision precision;
  /** The storage, shared with views. */
  protected final S storage;
  /** The storage's generation when this batch was made. */
  protected final int generation;

  protected PooledBatch(int samples, int directions, int rows, int cols, long length, Precision precision, S storage, int generation) {
    super(samples, directions, rows, cols);
    this.length = length;
    this.precision = precision;
    this.storage = storage;
    this.generation = generation;
  }

  /** The format of the entries. */
  public final Precision precision() {
    return precision;
  }

  /** Entries of the whole batch (may exceed the int range). */
  public final long length() {
    return length;
  }

  /** The entry count as an int, or an IllegalArgumentException naming {@code kernel} when it is more than a Java array holds. */
  public final int arrayLength(String kernel) {
    if (length > BackendChecks.MAX_ENTRIES)
      throw new IllegalArgumentException(kernel + ": " + describe() + " has " + length + " entries, more than a Java array holds");
    return (int) length;
  }

  /** Whether the storage has not been released since this batch was made. */
  public final boolean live() {
    return storage.generation() == generation;
  }

  /** Whether this batch and {@code other} share live storage (one is a view of the other, or both of a third). */
  public final boolean sharesStorage(PooledBatch<?> other) {
    return storage == other.storage && generation == other.generation;
  }

  /** The same storage seen with another shape of the same entry count (reshapes and column/direction views). */
  protected abstract PooledBatch<S> view(int samples, int directions, int rows, int cols);

  /** Hands the storage back to {@code pool} (a no-op when it was already released). */
  public final void releaseTo(StoragePool<S> pool) {
    pool.give(storage, generation);
  }

  /** Throws an IllegalStateException when this batch's storage was released (and possibly reused) since it was made. */
  public final void requireLive(String kernel, String operand) {
    if (!live())
      throw new IllegalStateException(kernel + ": operand " + operand + " " + describe()
          + " was released (Backend.release, or a closed Pass) and may no longer be used");
  }

  @Override
  public String toString() {
    return getClass().getSimpleName() + "(" + (precision == Precision.FLOAT64 ? "f64" : "f32") + ") " + describe();
  }
}
