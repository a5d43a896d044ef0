package org.hbp.network;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.hbp.UserError;
import org.hbp.backend.Backend;
import org.hbp.backend.Backends;
import org.hbp.backend.Batch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A diagonal that plans its chunks of samples ({@link SampleChunks}) inside the trial run of a
 * memory estimate runs on the counting backend ({@link MemoryProbe}), a proxy of the real one: its
 * plan and its refusals must be those of the real backend (blas-f32: float32 entries in native
 * memory), not of an unknown backend (float64 on the Java heap, where every array also takes a
 * header and G1's rounding). And the estimate counts such a quantity for what it keeps, not for its
 * peak on the trial's samples ({@link MemoryProbe#selfFitting}).
 */
class ProbedChunkPlanTest {
  @TempDir Path dir;

  private static final int N = 6;

  /** input 10 -> linear 6 -> sigmoid -> linear 3 -> cross-entropy, on {@code backend}. */
  private Network small(String backend) throws Exception {
    Path f = Files.writeString(dir.resolve("small.hbp"),
        "network small {\n  input x: vector(10);\n  linear(m = 6);\n  sigmoid;\n  linear(m = 3);\n  loss crossentropy;\n}\n");
    return new Network(NetworkResolver.load(f, null, List.of(Path.of("modules-spec"))), Network.builtIn(), Backends.create(backend, 1));
  }

  private static Map<String, Batch> parameters(Network net) {
    Random r = new Random(5);
    Map<String, Batch> p = new LinkedHashMap<>();
    for (String name : net.parameterNames()) {
      int[] s = net.parameterShape(name);
      double[] d = new double[s[0] * s[1]];
      for (int i = 0; i < d.length; i++) d[i] = 0.3 * r.nextGaussian();
      p.put(name, net.be.fromArray(1, 1, s[0], s[1], d));
    }
    return p;
  }

  /** A pass of N random samples with classes 0, 1, 2, ... on {@code net}'s backend. */
  private static Pass pass(Network net, Map<String, Batch> params) {
    Random r = new Random(7);
    double[] x = new double[N * 10], y = new double[N * 3];
    for (int i = 0; i < x.length; i++) x[i] = r.nextGaussian();
    for (int s = 0; s < N; s++) y[s * 3 + s % 3] = 1;
    return net.run(params, net.be.fromArray(N, 1, 10, 1, x), net.be.fromArray(N, 1, 3, 1, y));
  }

  @Test
  void theCountingBackendNamesTheRealBackendsMemoryAndPrecision() throws Exception {
    Network net = small("blas-f32");
    MemoryProbe probe = new MemoryProbe(net.be, 4), nested = new MemoryProbe(probe.backend(), 4);
    assertSame(net.be, MemoryProbe.real(nested.backend()));
    assertSame(net.be, MemoryProbe.real(net.be));
    assertEquals(MemoryEstimate.Memory.NATIVE, MemoryEstimate.memoryOf(nested.backend()));
    assertEquals(org.hbp.backend.Precision.FLOAT32, MemoryEstimate.precisionOf(nested.backend()));
    assertEquals("float32 on blas-f32 (native memory)", MemoryEstimate.where(probe.backend()));
    Backend cpu = Backends.create("cpu", 1);
    assertEquals(MemoryEstimate.Memory.HEAP, MemoryEstimate.memoryOf(new MemoryProbe(cpu, 8).backend()));
  }

  /**
   * The smallest limit at which the Hessian diagonal of the real pass runs (in chunks of one
   * sample) is found by bisection; at it the pass of the same net and batch on the counting backend
   * plans the same chunks, said in the same line (a heap plan would count each array's header and
   * refuse), and one byte below it both refuse, the probed one naming the real backend's native memory.
   */
  @Test
  void aDiagonalOnTheCountingBackendPlansAsOnTheRealBackend() throws Exception {
    Network net = small("blas-f32");
    Map<String, Batch> params = parameters(net);
    Pass real = pass(net, params);
    long lo = 0, hi = 1L << 30; // the diagonal is refused at lo and runs at hi
    assertThrows(UserError.class, () -> HessianDiagonal.exact(real, 0));
    HessianDiagonal.exact(real, hi);
    while (hi - lo > 1) {
      long mid = (lo + hi) / 2;
      boolean runs;
      try {
        HessianDiagonal.exact(real, mid);
        runs = true;
      } catch (UserError e) {
        runs = false;
      }
      if (runs) hi = mid;
      else lo = mid;
    }
    List<String> said = new ArrayList<>(), probedSaid = new ArrayList<>();
    HessianDiagonal.exact(real, hi, said::add);
    assertEquals(List.of("the Hessian diagonal of batch 6 does not fit the memory limit " + MemoryEstimate.bytes(hi)
        + " at once: computing it in 6 chunks of 1 sample"), said, "at the smallest limit, chunks of one sample");

    MemoryProbe probe = new MemoryProbe(net.be, 4);
    Pass probed = pass(net.on(probe.backend()), params);
    HessianDiagonal.exact(probed, hi, probedSaid::add);
    assertEquals(said, probedSaid, "the counting backend's plan at " + hi + " B");
    long below = lo;
    assertThrows(UserError.class, () -> HessianDiagonal.exact(real, below));
    UserError refused = assertThrows(UserError.class, () -> HessianDiagonal.exact(probed, below));
    assertTrue(refused.getMessage().contains("(estimated at float32 on blas-f32 (native memory))"), refused.getMessage());
  }

  /**
   * The trial run of {@code --strategy diag-hessian}'s estimate on blas-f32, at a limit not even
   * one sample fits: refused by the diagonal inside the trial, naming float32 in native memory.
   */
  @Test
  void theEstimatesTrialRunRefusesWithTheRealBackend() throws Exception {
    Network net = small("blas-f32");
    UserError e = assertThrows(UserError.class, () -> MemoryEstimate.curvature(net, parameters(net), 500, CurvatureKind.HESSIAN, Strategy.DIAG_HESSIAN,
        1, MemoryEstimate.Output.VECTORS, 1, 1 << 10));
    String m = e.getMessage();
    assertTrue(m.startsWith("the Hessian diagonal does not fit even one sample at a time: "), m);
    assertTrue(m.contains("(estimated at float32 on blas-f32 (native memory))"), m);
    assertFalse(m.contains("Java heap"), m);
  }

  /**
   * A self-fitting section (a quantity that plans its own chunks): its allocations inside are left
   * out of the peak, what it keeps counts after it. By hand, on the cpu backend in float64: 10
   * entries held before (80 B), 1000 taken and freed inside (8000 B), 20 kept (160 B): a peak of
   * 240 B, where without the section it is 8080 B.
   */
  @Test
  void aSelfFittingSectionCountsWhatItKeepsNotItsPeak() {
    for (boolean section : new boolean[] {true, false}) {
      MemoryProbe probe = new MemoryProbe(Backends.create("cpu", 1), 8);
      Backend pb = probe.backend();
      probe.phase("step", false);
      Batch held = pb.fill(10, 1, 1);
      java.util.function.Supplier<Batch> work = () -> {
        Batch big = pb.fill(1000, 1, 2);
        pb.release(big);
        return pb.fill(20, 1, 3);
      };
      Batch kept = section ? MemoryProbe.selfFitting(pb, work) : work.get();
      long peak = probe.peaks(MemoryProbe.SAMPLES, phase -> 1, b -> b).get("step");
      assertEquals(section ? 80 + 160 : 80 + 8000, peak, section ? "in a section" : "without one");
      pb.release(kept);
      pb.release(held);
    }
  }
}
