package org.hbp.backend.host;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;

/** {@link ParallelLoops#inTurn}: every task runs once, on a worker numbered below {@link ParallelLoops#workers}. */
class ParallelLoopsTest {
  @Test
  void inTurnRunsEveryTaskOnceOnItsWorkers() {
    for (int threads : new int[] {1, 2, 3})
      for (int tasks : new int[] {0, 1, 2, 7, 1000})
        for (long entries : new long[] {1, 1L << 20}) { // below and above the parallel threshold
          ParallelLoops loops = new ParallelLoops(threads);
          int workers = loops.workers(tasks);
          assertEquals(Math.max(1, Math.min(threads, tasks)), workers);
          AtomicIntegerArray runs = new AtomicIntegerArray(Math.max(1, tasks));
          AtomicIntegerArray used = new AtomicIntegerArray(threads);
          loops.inTurn(tasks, entries, (worker, task) -> {
            assertTrue(worker >= 0 && worker < workers, "worker " + worker + " of " + workers);
            runs.incrementAndGet((int) task);
            used.incrementAndGet(worker);
          });
          for (int t = 0; t < tasks; t++) assertEquals(1, runs.get(t), "task " + t + ", " + threads + " threads, " + tasks + " tasks");
          int total = 0;
          for (int w = 0; w < threads; w++) total += used.get(w);
          assertEquals(tasks, total);
        }
  }
}
