package org.hbp.backend.host;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import org.hbp.UserError;

/**
 * Loops of the host kernels over ranges of items or entries, split over a thread count: large
 * ranges in that many contiguous parts on a fork-join pool (one thread fewer, shared by the
 * backends of that count) and the caller's thread; small ones, or any with one thread, on the
 * caller's thread (a fork costs microseconds).
 */
public final class ParallelLoops {
  /** Entries per chunk of the streaming kernels (three chunks of doubles stay within L1/L2). */
  public static final int CHUNK = 1024;

  /** Below this many entries touched, a loop runs on the caller's thread. */
  private static final long PARALLEL_MIN_ENTRIES = Long.getLong("hbp.blas.parallelMinEntries", 1 << 15);

  private static final ConcurrentHashMap<Integer, ForkJoinPool> WORKERS = new ConcurrentHashMap<>();

  /** Loops on the caller's thread only. */
  public static final ParallelLoops SEQUENTIAL = new ParallelLoops(1);

  /** The body of a loop over a range of indices (items, or entries). */
  public interface RangeBody {
    void run(long from, long to);
  }

  private final int threads;

  /** Loops split over {@code threads} threads (>= 1). */
  public ParallelLoops(int threads) {
    if (threads < 1) throw new UserError("ParallelLoops: thread count " + threads + "; expected >= 1");
    this.threads = threads;
  }

  /**
   * Runs {@code body} over {@code [0, n)}: at once when {@code entries} (the work, in entries
   * touched) is small or there is one thread, else in {@code threads} contiguous parts, returning
   * when all are done (the first failure is rethrown).
   */
  public void run(long n, long entries, RangeBody body) {
    int parts = (int) Math.min(threads, n);
    if (parts <= 1 || entries < PARALLEL_MIN_ENTRIES) {
      body.run(0, n);
      return;
    }
    // parts 1.. on the pool, part 0 on the caller's thread (one hand-off fewer per kernel)
    ForkJoinPool workers = WORKERS.computeIfAbsent(threads - 1, ForkJoinPool::new);
    List<ForkJoinTask<?>> tasks = new ArrayList<>(parts - 1);
    for (int i = 1; i < parts; i++) {
      long from = n * i / parts, to = n * (i + 1) / parts;
      tasks.add(workers.submit(() -> body.run(from, to)));
    }
    RuntimeException failure = null;
    try {
      body.run(0, n / parts);
    } catch (RuntimeException e) {
      failure = e;
    }
    for (ForkJoinTask<?> t : tasks) {
      try {
        t.join();
      } catch (RuntimeException e) {
        if (failure == null) failure = e;
      }
    }
    if (failure != null) throw failure;
  }

  /** The body of {@link #inTurn}: task {@code task} on worker {@code worker} (0 to the workers less one, an index for per-worker scratch). */
  public interface TaskBody {
    void run(int worker, long task);
  }

  /**
   * Runs {@code body} on the tasks {@code [0, tasks)}: each of {@link #workers} workers takes the next task not yet taken until none is left (tasks of uneven cost share out
   * evenly), returning when all are done; as {@link #run}, at once on the caller's thread where
   * {@code entries} (the work, in entries touched) is small (worker 0 then takes every task).
   * Callers size per-worker scratch with {@link #workers} beforehand.
   */
  public void inTurn(long tasks, long entries, TaskBody body) {
    int workers = workers(tasks);
    java.util.concurrent.atomic.AtomicLong next = new java.util.concurrent.atomic.AtomicLong();
    run(workers, entries, (w0, w1) -> {
      for (long w = w0; w < w1; w++)
        for (long task = next.getAndIncrement(); task < tasks; task = next.getAndIncrement()) body.run((int) w, task);
    });
  }

  /** The workers {@link #inTurn} uses for {@code tasks} tasks: at most this loop's threads, at least one. */
  public int workers(long tasks) {
    return (int) Math.max(1, Math.min(threads, tasks));
  }

  /** Runs {@code body(from, to)} over entry ranges of {@code [0, n)} cut at multiples of {@link #CHUNK}. */
  public void chunks(long n, RangeBody body) {
    long chunks = (n + CHUNK - 1) / CHUNK;
    run(chunks, n, (c0, c1) -> body.run(c0 * CHUNK, Math.min(n, c1 * CHUNK)));
  }
}
