package org.hbp.cli;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;
import org.hbp.UserError;
import org.hbp.backend.host.ParallelLoops;
import org.hbp.network.MemoryEstimate;

/**
 * {@code hbp bench --gemm-rate}'s memory rate: how fast the host copies memory, the bound of the
 * kernels that stream their operands once (entrywise maps, gathers, scatters) as the GEMM rate is
 * of the products. Each of {@code threads} threads copies its share of a {@value #MIB} MiB block
 * into another with the C library's {@code memcpy} (through JavaCPP), none of hbp's kernels; the
 * blocks are freed when it returns. The rate counts the bytes read and the
 * bytes written, as {@link org.hbp.backend.KernelProfiler}'s traffic does. The blocks are many
 * times the size of a last-level cache, so the copy runs from and to memory.
 */
final class MemoryThroughput {
  private MemoryThroughput() {}

  /** The size of each of the two blocks, in MiB. */
  static final int MIB = 256;

  /** One measurement: the threads, the bytes of one block, the median seconds of a copy and its rate (bytes read and written). */
  record Row(int threads, long bytes, double medianSeconds, double gbPerSecond) {}

  /** The memory the measurement takes: two blocks, off the heap. */
  static long bytes() {
    return 2L * MIB << 20;
  }

  /** Refuses a memory limit below the two blocks, before any work. */
  static void checkLimit(long limitBytes) {
    if (bytes() > limitBytes)
      throw new UserError("--gemm-rate: the memory rate measured beside the GEMM rate copies between two blocks of " + MIB + " MiB, "
          + MemoryEstimate.bytes(bytes()) + " in all, over --memory-limit " + MemoryEstimate.bytes(limitBytes));
  }

  /**
   * The copy timed {@code repeat} times after {@code warmup} copies (at least one: the first copy
   * also maps the blocks' pages); the blocks' size is checked by {@link #checkLimit} before.
   */
  static Row rate(int threads, int warmup, int repeat) {
    long size = (long) MIB << 20;
    try (BytePointer src = new BytePointer(size); BytePointer dst = new BytePointer(size)) {
      Pointer.memset(src, 1, size); // every page mapped before the copies
      Pointer.memset(dst, 0, size);
      ParallelLoops loops = new ParallelLoops(threads);
      Runnable copy = () -> loops.run(threads, size, (from, to) -> {
        long start = size * from / threads, end = size * to / threads;
        Pointer.memcpy(new Pointer(dst).position(start), new Pointer(src).position(start), end - start);
      });
      return time(copy, threads, size, warmup, repeat);
    } catch (OutOfMemoryError e) {
      throw new UserError("--gemm-rate: the memory rate beside it needs two blocks of " + MIB + " MiB off the heap, and they were refused ("
          + e.getMessage() + "); leave out --gemm-rate");
    }
  }

  private static Row time(Runnable copy, int threads, long size, int warmup, int repeat) {
    for (int i = 0; i < Math.max(1, warmup); i++) copy.run();
    double[] seconds = new double[Math.max(1, repeat)];
    for (int i = 0; i < seconds.length; i++) {
      long t = System.nanoTime();
      copy.run();
      seconds[i] = (System.nanoTime() - t) / 1e9;
    }
    double median = GemmThroughput.median(seconds);
    return new Row(threads, size, median, 2.0 * size / median / 1e9);
  }
}
