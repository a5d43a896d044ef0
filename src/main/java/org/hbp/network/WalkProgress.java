package org.hbp.network;

/**
 * Where a long computation over a batch stands, for a progress bar: unit {@code done} of {@code
 * total} has begun, {@code what} names it; the last call has {@code done == total}.
 *
 * <p>The diagonals ({@link GgnDiagonal}, {@link HessianDiagonal}) count the layers their backward
 * walk visits, once per chunk of samples ({@link SampleChunks}): {@code total = chunks x layers}.
 * A walk that skips a layer (one below every parameter) leaves its unit to the next chunk's start,
 * so {@code done} never decreases and every chunk starts at {@code chunk x layers}.
 */
@FunctionalInterface
public interface WalkProgress {
  void at(long done, long total, String what);

  /** Reports nothing. */
  WalkProgress NONE = (done, total, what) -> {};
}
