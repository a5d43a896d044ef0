package org.hbp.backend.blas;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import org.hbp.backend.Precision;
import org.junit.jupiter.api.Test;

/**
 * Batches whose blocks span more than the 2^31 - 1 bytes an NIO buffer covers are read and
 * written past that limit (through the indexers). Only the touched pages of the 2.4 GB float32
 * block and the 4.8 GB float64 block are mapped.
 */
class BlasBatchTest {
  @Test
  void blocksBeyondTheBufferLimitAreReadAndWrittenEverywhere() {
    for (Precision precision : Precision.values()) {
      long entries = 600_000_000L;
      BlasBatch b = BlasBatch.allocate("test", precision, 1, 1, (int) entries, 1, false);
      try {
        double[] in = {1.5, -2.25, 3.0}, out = new double[3];
        for (long at : new long[] {0, Integer.MAX_VALUE / 8 - 1, Integer.MAX_VALUE / 4 + 5, entries - 3}) {
          b.write(at, in, 0, 3);
          b.read(at, out, 0, 3);
          assertArrayEquals(in, out, precision + " at entry " + at);
        }
      } finally {
        b.block.free();
      }
    }
  }
}
