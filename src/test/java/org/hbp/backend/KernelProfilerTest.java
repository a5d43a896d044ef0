package org.hbp.backend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Collectors;
import org.hbp.backend.blas.BlasBackend;
import org.hbp.backend.cpu.CpuBackend;
import org.hbp.network.MemoryEstimate;
import org.junit.jupiter.api.Test;

/**
 * {@link KernelProfiler}: the timing backend computes what the real one computes; only the calls
 * made through it while recording count, each once (not the calls a kernel makes to its own
 * backend); the products' FLOPs are those counted by hand from the operands' shapes.
 */
class KernelProfilerTest {
  private static Batch random(Backend be, int samples, int directions, int rows, int cols, long seed) {
    Random rng = new Random(seed);
    double[] d = new double[samples * directions * rows * cols];
    for (int i = 0; i < d.length; i++) d[i] = rng.nextGaussian();
    return be.fromArray(samples, directions, rows, cols, d);
  }

  private static Map<String, KernelProfiler.Kernel> byName(KernelProfiler.Profile p) {
    return p.kernels().stream().collect(Collectors.toMap(KernelProfiler.Kernel::name, k -> k));
  }

  @Test
  void countsEachCallThroughItOnceWithTheFlopsOfItsShapes() {
    CpuBackend real = new CpuBackend();
    KernelProfiler profiler = KernelProfiler.of(real, false);
    Backend be = profiler.backend();
    // a: 1 sample x 3 directions of 4x5, b: 2 samples x 1 direction of 5x6 -> 2x3 items of 4x6
    Batch a = random(be, 1, 3, 4, 5, 1), b = random(be, 2, 1, 5, 6, 2), at = random(be, 1, 3, 5, 4, 3);
    // a convolution: 4 filters over 2 channels, 3x3, padding 1, on 5x5 images: 25 patches of 18 rows
    ConvGeometry g = new ConvGeometry(2, 5, 5, 3, 1, 1, 1);
    Batch w = random(be, 1, 1, 4, 18, 4), x = random(be, 2, 1, 50, 1, 5);
    be.matmul(a, false, b, false); // before start: not counted
    profiler.start();
    Batch ab = be.matmul(a, false, b, false);
    be.matmul(at, true, b, false);
    Batch conv = be.convolution(w, x, g, null); // the cpu backend's default: unfold and matmul inside, counted as one convolution
    be.map(ab, ScalarFunction.of("twice", "2 * t", t -> 2 * t));
    KernelProfiler.Profile p = profiler.stop();
    be.matmul(a, false, b, false); // after stop: not counted
    Map<String, KernelProfiler.Kernel> k = byName(p);
    assertEquals(List.of("convolution", "map", "matmul"), k.keySet().stream().sorted().toList(), "no unfold or inner matmul of the convolution: " + k);
    assertEquals(2, k.get("matmul").calls());
    assertEquals(2 * (2.0 * 4 * 5 * 6 * (2 * 3)), k.get("matmul").flops()); // 2 m k n per item, 6 items, twice
    assertEquals(2.0 * 4 * 18 * 25 * 2, k.get("convolution").flops()); // 2 cout (c k k) (oh ow) per image, 2 images
    assertEquals(1, k.get("convolution").calls());
    assertEquals(0.0, k.get("map").flops());
    assertTrue(k.get("matmul").product() && k.get("convolution").product() && !k.get("map").product());
    assertEquals(k.get("matmul").flops() + k.get("convolution").flops(), p.productFlops());
    assertTrue(p.productSeconds() <= p.kernelSeconds() && p.kernelSeconds() <= p.seconds() + 1e-3, p.toString());
    // the same values as the real backend
    assertArrayEquals(real.toArray(real.matmul(a, false, b, false)), be.toArray(ab), 0);
    assertArrayEquals(real.toArray(real.convolution(w, x, g, null)), be.toArray(conv), 0);
  }

  @Test
  void theWeightGradientAndAdjointCountTheirConvolutionsFlops() {
    KernelProfiler profiler = KernelProfiler.of(new CpuBackend(), false);
    Backend be = profiler.backend();
    ConvGeometry g = new ConvGeometry(3, 6, 6, 3, 2, 1, 1); // 3x3 output: 9 patches, 27 rows
    Batch w = random(be, 1, 1, 5, 27, 1), x = random(be, 4, 1, 108, 1, 2), y = random(be, 4, 2, 5, 9, 3);
    profiler.start();
    be.convolutionAdjoint(w, y, g);
    be.convolutionWeightGradient(y, x, g);
    be.matmulSumSamples(y, false, random(be, 4, 1, 9, 2, 4), false);
    Map<String, KernelProfiler.Kernel> k = byName(profiler.stop());
    assertEquals(2.0 * 5 * 27 * 9 * 8, k.get("convolutionAdjoint").flops());
    assertEquals(2.0 * 5 * 27 * 9 * 8, k.get("convolutionWeightGradient").flops());
    assertEquals(2.0 * 5 * 9 * 2 * 8, k.get("matmulSumSamples").flops());
  }

  /** Three runs of a product (1 x 3 items of 4x5 times 2 x 1 items of 5x6) and two scalings, through a profiler of the cpu backend. */
  private static KernelProfiler.Profile threeRuns(boolean byShape, boolean transposed) {
    KernelProfiler profiler = KernelProfiler.of(new CpuBackend(), byShape);
    Backend be = profiler.backend();
    Batch a = transposed ? random(be, 1, 3, 5, 4, 1) : random(be, 1, 3, 4, 5, 1), b = random(be, 2, 1, 5, 6, 2);
    profiler.start();
    for (int run = 0; run < 3; run++) {
      be.matmul(a, transposed, b, false);
      be.scale(b, 2);
      be.scale(b, 3);
    }
    return profiler.stop();
  }

  @Test
  void aStretchOfSeveralRunsGivesTheMeanRun() {
    KernelProfiler.Profile all = threeRuns(false, false), one = all.perRun(3);
    Map<String, KernelProfiler.Kernel> k = byName(one);
    assertEquals(1, k.get("matmul").calls());
    assertEquals(2, k.get("scale").calls());
    assertEquals(2.0 * 4 * 5 * 6 * 6, k.get("matmul").flops());
    assertEquals(all.seconds() / 3, one.seconds(), 1e-15);
    assertEquals(all.productSeconds() / 3, one.productSeconds(), 1e-15);
  }

  @Test
  void byShapeNamesEachCallWithItsOperands() {
    Map<String, KernelProfiler.Kernel> k = byName(threeRuns(true, true));
    assertEquals(3, k.get("matmul(1x3:5x4', 2x1:5x6)").calls(), k.toString());
    assertTrue(k.get("matmul(1x3:5x4', 2x1:5x6)").product());
    assertEquals(6, k.get("scale(2x1:5x6)").calls(), k.toString());
  }

  /**
   * Traffic: a call streams its batch operands' entries and its result's, counted by hand from the
   * shapes; a reshape (a view of its operand) and a release stream nothing; products count theirs
   * too, but only the other kernels' entries are summed as their traffic.
   */
  @Test
  void eachCallCountsTheEntriesItStreams() {
    for (Backend real : List.<Backend>of(new CpuBackend(), new BlasBackend(Precision.FLOAT32))) {
      KernelProfiler profiler = KernelProfiler.of(real, false);
      Backend be = profiler.backend();
      // z: 3 samples of 4x5 (60 entries), v: 3 samples x 2 directions of 4x5 (120 entries)
      Batch z = random(be, 3, 1, 4, 5, 1), v = random(be, 3, 2, 4, 5, 2), w = random(be, 1, 1, 6, 4, 3);
      ScalarFunction twice = ScalarFunction.of("twice", "2 * t", t -> 2 * t);
      profiler.start();
      Batch fv = be.mapMultiply(z, twice, v); // 60 + 120 read, 120 written
      Batch r = be.reshape(fv, 20, 1); // a view: nothing
      be.scale(r, 3); // 120 read, 120 written
      Batch p = be.matmul(w, false, v, false); // a product: 24 + 120 read, 3 x 2 items of 6x5 = 180 written
      be.release(p);
      Map<String, KernelProfiler.Kernel> k = byName(profiler.stop());
      assertEquals(300, k.get("mapMultiply").entries(), real.name());
      assertEquals(0, k.get("reshape").entries(), real.name());
      assertEquals(240, k.get("scale").entries(), real.name());
      assertEquals(24 + 120 + 180, k.get("matmul").entries(), real.name());
      assertEquals(0, k.get("release").entries(), real.name());
      KernelProfiler.Profile run = new KernelProfiler.Profile(1, List.copyOf(k.values()));
      assertEquals(300 + 240, run.otherEntries(), real.name());
      assertEquals(k.get("mapMultiply").seconds() + k.get("reshape").seconds() + k.get("scale").seconds() + k.get("release").seconds(), run.otherSeconds(),
          1e-12);
    }
  }

  @Test
  void theRealBackendIsSeenThroughIt() {
    BlasBackend real = new BlasBackend(Precision.FLOAT32);
    Backend be = KernelProfiler.of(real, false).backend();
    assertSame(real, KernelProfiler.under(be));
    assertNull(KernelProfiler.under(real));
    assertEquals(MemoryEstimate.memoryOf(real), MemoryEstimate.memoryOf(be));
    assertEquals(Precision.FLOAT32, MemoryEstimate.precisionOf(be));
    assertEquals(real.name(), be.name());
    // an error inside a kernel reaches the caller as itself, not wrapped
    assertThrows(IllegalArgumentException.class, () -> be.matmul(random(be, 1, 1, 2, 3, 1), false, random(be, 1, 1, 2, 3, 2), false));
  }
}
