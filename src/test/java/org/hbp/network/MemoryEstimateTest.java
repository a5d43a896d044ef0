package org.hbp.network;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.hbp.backend.Backend;
import org.hbp.backend.Backends;
import org.hbp.backend.Batch;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The memory estimate against sizes computed by hand and against the heap a run really uses. */
@Tag("own-jvm") // reads the heap after full collections: the build runs it in a JVM of its own (hbp-library/pom.xml, execution own-jvm)
class MemoryEstimateTest {
  @TempDir Path dir;

  /** input 10 -> linear 6 -> sigmoid -> linear 3 -> cross-entropy: 6*10 + 6 + 3*6 + 3 = 87 parameters. */
  private Network small(String backend) throws Exception {
    return net("network small {\n  input x: vector(10);\n  linear(m = 6);\n  sigmoid;\n  linear(m = 3);\n  loss crossentropy;\n}\n", backend);
  }

  private Network net(String text, String backend) throws Exception {
    Path f = Files.writeString(dir.resolve("n" + System.nanoTime() + ".hbp"), text);
    return new Network(NetworkResolver.load(f, null, List.of(Path.of("modules-spec"))), Network.builtIn(), Backends.create(backend, 1));
  }

  private static Map<String, Batch> parameters(Network net, long seed) {
    Random r = new Random(seed);
    Map<String, Batch> p = new LinkedHashMap<>();
    for (String name : net.parameterNames()) {
      int[] s = net.parameterShape(name);
      double[] d = new double[s[0] * s[1]];
      for (int i = 0; i < d.length; i++) d[i] = 0.1 * r.nextGaussian();
      p.put(name, net.be.fromArray(1, 1, s[0], s[1], d));
    }
    return p;
  }

  @Test
  void probeScalesSharedPerSampleAndPerDirectionBytesAsComputedByHand() {
    Backend cpu = Backends.create("cpu", 1);
    MemoryProbe probe = new MemoryProbe(cpu, 8);
    Backend be = probe.backend();
    probe.phase("a", false);
    Batch shared = be.fill(3, 4, 1); // 12 entries, shared: 96 B
    Batch perSample = be.fromArray(2, 1, 5, 1, new double[10]); // 5 entries per sample: 40 B per sample
    be.reshape(perSample, 1, 5); // a view: not counted
    be.release(shared);
    probe.phase("b", true);
    be.fromArray(1, 3, 2, 2, new double[12]); // 4 entries per direction: 32 B per direction
    be.fromArray(2, 3, 1, 1, new double[6]); // 1 entry per sample and direction: 8 B
    Map<String, Long> peaks = probe.peaks(10, phase -> 7, b -> b);
    assertEquals(96 + 10 * 40, peaks.get("a")); // both live after the second allocation
    assertEquals(10 * 40 + 7 * 32 + 10 * 7 * 8, peaks.get("b")); // the shared one was released before b
    // with a footprint: on the heap 16 bytes of header each, rounded to 8
    assertEquals(10 * 40 + 16 + 7 * 32 + 16 + 10 * 7 * 8 + 16, probe.peaks(10, phase -> 7, b -> (b + 16 + 7) / 8 * 8).get("b"));
  }

  @Test
  void parametersAreCountedByHandAtEachPrecision() throws Exception {
    for (String backend : new String[] {"cpu", "blas-f64", "blas-f32"}) {
      Network net = small(backend);
      assertEquals(87, MemoryEstimate.parameterEntries(net));
      MemoryEstimate e = MemoryEstimate.curvature(net, parameters(net, 1), 100, CurvatureKind.GGN, Strategy.EXACT, 1, MemoryEstimate.Output.VECTORS, 2,
          Long.MAX_VALUE);
      assertEquals(87L * (backend.equals("blas-f32") ? 4 : 8), e.part("parameters"), backend);
      // directions: V = 2 per parameter entry, in the backend's precision; outputs copied as float64 for writing
      assertEquals(2 * 87L * (backend.equals("blas-f32") ? 4 : 8), e.part("directions"), backend);
      assertEquals(2 * 87L * 8, e.part("outputs copied for writing"), backend);
      assertEquals(backend.equals("cpu") ? MemoryEstimate.Memory.HEAP : MemoryEstimate.Memory.NATIVE, e.parts().get(0).memory());
    }
  }

  /**
   * The pass holds, per sample, at least: x (10), the first linear's output (6), the sigmoid's
   * output (6), the logits (3), the loss (1), the softmax memo (3) and the output gradients of the
   * three layers (3 + 6 + 6): 44 entries, 352 bytes in float64. The estimate is linear in N.
   */
  @Test
  void thePassIsAtLeastWhatItHoldsByHandAndLinearInTheBatch() throws Exception {
    Network net = small("cpu");
    Map<String, Batch> p = parameters(net, 2);
    long[] pass = new long[3];
    int[] n = {1000, 2000, 3000};
    for (int i = 0; i < 3; i++)
      pass[i] = MemoryEstimate.curvature(net, p, n[i], CurvatureKind.GGN, Strategy.EXACT, 1, MemoryEstimate.Output.VECTORS, 1, Long.MAX_VALUE)
          .part("batch, forward and gradient pass");
    assertTrue(pass[0] >= 44L * 8 * 1000, "pass " + pass[0]);
    assertTrue(pass[0] <= 4 * 44L * 8 * 1000, "pass " + pass[0] + " is more than 4 times what it holds");
    assertEquals(pass[1] - pass[0], pass[2] - pass[1], 8, "linear in N");
  }

  /**
   * c4d3 declared as a graph (networks/c4d3-graph.hbp) holds no more for its exact products than
   * the chain (networks/c4d3.hbp), as the estimate's probe counts what each allocates and
   * releases: a graph product releases each value's w and tangent once the value's step is taken
   * backward (GraphProducts#releaseEarly), as the chain's block products release each layer's on
   * the way back (1.02 times the chain's in float64). Kept to the end, the graph's were 1.71 times.
   */
  @Test
  void aGraphsExactProductsHoldWhatTheChainsHold() throws Exception {
    long[] bytes = new long[2];
    String[] files = {"networks/c4d3.hbp", "networks/c4d3-graph.hbp"};
    for (int i = 0; i < 2; i++) {
      Network net = new Network(NetworkResolver.load(Path.of(files[i]), null, List.of(Path.of("modules-spec"))), Network.builtIn(), Backends.create("cpu", 1));
      bytes[i] = MemoryEstimate.curvature(net, parameters(net, 6), 100, CurvatureKind.GGN, Strategy.EXACT, 1, MemoryEstimate.Output.VECTORS, 10,
          Long.MAX_VALUE).part("exact products with 10 directions");
    }
    assertTrue(bytes[0] > 0, "the chain's products hold nothing?");
    assertTrue(bytes[1] <= 1.05 * bytes[0], "the graph's products hold " + bytes[1] + " bytes, the chain's " + bytes[0]);
  }

  @Test
  void aRunAboveTheLimitIsRefusedWithTheEstimateByPart() throws Exception {
    Network net = small("blas-f64");
    MemoryEstimate e = MemoryEstimate.curvature(net, parameters(net, 3), 5000, CurvatureKind.GGN, Strategy.EXACT, 1, MemoryEstimate.Output.VECTORS, 10,
        Long.MAX_VALUE);
    IllegalArgumentException x = assertThrows(IllegalArgumentException.class, () -> e.check(1 << 20));
    String m = x.getMessage();
    assertTrue(m.startsWith("not enough memory: estimate for batch 5000 at float64 on blas-f64 (native memory): parameters 696 B, batch, forward and "
        + "gradient pass "), m);
    assertTrue(m.contains(", exact products with 10 directions "), m);
    assertTrue(m.contains(" > --memory-limit 1.0 MiB; use a smaller batch or fewer directions"), m);
    e.check(e.total()); // exactly at the limit: accepted
    IllegalArgumentException p = assertThrows(IllegalArgumentException.class, () -> MemoryEstimate.checkParameters(net, 2, "advice", 1000));
    assertEquals("not enough memory: estimate for network 'small' (87 parameters) at float64 on blas-f64 (native memory): parameters 696 B, "
        + "optimizer state 1.4 KiB: 2.0 KiB > --memory-limit 1000 B; advice", p.getMessage());
  }

  @Test
  void kfraMatricesAboveTheLimitAreRefusedByLayerBeforeTheProbeFormsThem() throws Exception {
    Network net = small("cpu");
    IllegalArgumentException x = assertThrows(IllegalArgumentException.class, () -> MemoryEstimate.curvature(net, parameters(net, 4), 10,
        CurvatureKind.GGN, Strategy.KFRA, 1, MemoryEstimate.Output.VECTORS, 1, 100));
    // the first linear layer's output Hessian, 6 x 6 float64 entries, is already above 100 bytes
    assertTrue(x.getMessage().startsWith("layer 0 (linear): the explicit batch-averaged Hessian of its output has 6 x 6 entries"), x.getMessage());
  }

  /**
   * The per-sample products of eq. 8/9 are counted for the run's batch, not for the probe's small
   * one: maxpool (a per-sample, non-diagonal Jacobian; input 2x4x4 = 32, output 8) holds J_n' M'
   * (32 x 8, and its transpose) and J_n' M J_n (32 x 32) for every sample, by hand 8 * (8*8 + 32*32
   * + N * (2*32*8 + 32*32)) bytes: 33,280 for the probe's 2 samples, 12,296,704 for N = 1000.
   */
  @Test
  void perSampleProductsAreCheckedForTheRunsBatchBeforeTheProbe() throws Exception {
    Network net = net("network pool {\n  input x: tensor(1, 4, 4);\n  conv2d(cout = 2, k = 1, s = 1, p = 0, d = 1);\n  maxpool(k = 2);\n"
        + "  flatten;\n  linear(m = 3);\n  loss crossentropy;\n}\n", "cpu");
    long limit = 1L << 20;
    for (Strategy strategy : new Strategy[] {Strategy.KFRA, Strategy.BDA}) {
      IllegalArgumentException x = assertThrows(IllegalArgumentException.class, () -> MemoryEstimate.curvature(net, parameters(net, 5), 1000,
          CurvatureKind.GGN, strategy, 1, MemoryEstimate.Output.VECTORS, 1, limit));
      assertEquals("layer 1 (maxpool): the explicit batch-averaged Hessians of its output and input have 8 x 8 and 32 x 32 entries, and its "
          + "per-sample products for 1000 samples 32 x 8 (twice) and 32 x 32 (0.0 GiB in float64), above the limit of 0.0 GiB; use --strategy "
          + "exact (matrix-free products) or raise --memory-limit", x.getMessage());
      // 8 * (1088 + 100 * 1536) = 1,237,504 bytes: above 1 MiB; 50 samples (623,104 bytes) pass the check
      assertThrows(IllegalArgumentException.class, () -> MemoryEstimate.curvature(net, parameters(net, 5), 100, CurvatureKind.GGN, strategy, 1,
          MemoryEstimate.Output.VECTORS, 1, limit));
      MemoryEstimate.curvature(net, parameters(net, 5), 50, CurvatureKind.GGN, strategy, 1, MemoryEstimate.Output.VECTORS, 1, limit);
    }
  }

  /**
   * {@code --blocks layer --solve}: the joint CG keeps its vectors over all the layer's parameters.
   * By hand (ConjugateGradient.run, tol 0, from its second iteration on) it holds at once, each over
   * every parameter of the layer (V bytes: one array per parameter at its heap footprint): the
   * right-hand side b, x, r, p, Ap, the updates dx, dr and the new x and r: 9 V; during the product
   * inside A p only b, x, r and p besides the product's working set. The estimate counts the solve
   * above the pass's peak, on what the pass leaves live (L): 9 V + L - peak when the vectors
   * dominate, as here (the skip module's W1 (20 x 30) and W2 (30 x 20), one layer of D = 1200
   * entries, on 2 samples), so the part lies in [9 V - pass part, 9 V]. The per-parameter solves
   * hold 9 vectors of one parameter (600 entries), so the two differ by 9 arrays of the other
   * parameter, 9 (8 * 600 + 16) bytes, up to what the two product routes leave live besides (L is
   * not the same for both: measured 448 bytes apart), which is within the pass's part.
   */
  @Test
  void theJointSolveOfALayerIsSizedOverAllItsParametersAsCountedByHand() throws Exception {
    Network net = net("network sk {\n  input x: vector(30);\n  skip(h = 20);\n  loss crossentropy;\n}\n", "cpu");
    Map<String, Batch> p = parameters(net, 7);
    int n = 2;
    long v = 0;
    for (String name : net.parameterNames()) v += MemoryEstimate.arrayBytes(net.be, net.parameterSize(name));
    assertEquals(2 * (8 * 600 + 16), v, "two arrays of 600 float64 entries on the heap");
    MemoryEstimate products = MemoryEstimate.curvature(net, p, n, CurvatureKind.GGN, Strategy.EXACT, 1, true, MemoryEstimate.Output.VECTORS, 1,
        Long.MAX_VALUE);
    long w = products.part("exact joint products with 1 direction");
    assertTrue(w > 0, products.describe());
    MemoryEstimate joint = MemoryEstimate.curvature(net, p, n, CurvatureKind.GGN, Strategy.EXACT, 1, true, MemoryEstimate.Output.SOLVE, 1,
        Long.MAX_VALUE);
    long solve = joint.part("exact joint CG solves (one per layer)");
    assertTrue(9 * v > 4 * v + w, "the vectors dominate: 9 V = " + 9 * v + ", 4 V + W = " + (4 * v + w));
    long separate = MemoryEstimate.curvature(net, p, n, CurvatureKind.GGN, Strategy.EXACT, 1, MemoryEstimate.Output.SOLVE, 1, Long.MAX_VALUE)
        .part("exact CG solves");
    long pass = joint.part("batch, forward and gradient pass"), other = 9L * (8 * 600 + 16);
    assertTrue(Math.abs(solve - separate - other) <= pass, "joint " + joint.describe() + "; per parameter " + separate + "; 9 arrays " + other);
    assertTrue(solve <= 9 * v && solve >= 9 * v - pass, "9 V = " + 9 * v + " less what the pass left below its peak: " + joint.describe());
    // the outputs: one step per parameter, as float64 copies
    assertEquals(1200L * 8, joint.part("outputs copied for writing"));
    // --dense: the layer's 1200 x 1200 block, filled on the heap, copied to the backend, and copied for writing (all float64 here)
    MemoryEstimate dense = MemoryEstimate.curvature(net, p, n, CurvatureKind.GGN, Strategy.EXACT, 1, true, MemoryEstimate.Output.DENSE, 1,
        Long.MAX_VALUE);
    assertEquals(1200L * 1200 * 8, dense.part("outputs copied for writing"), dense.describe());
    assertEquals(1200L * 1200 * 8, dense.part("largest joint block, assembled"), dense.describe());
    assertEquals(1200L * 1200 * 8, dense.part("largest joint block, on the backend"), dense.describe());
    assertEquals(600L * 600 * 8, dense.part("identity directions of the largest parameter"), dense.describe());
  }

  /**
   * The estimate is an upper bound of the heap a run really holds: the run (parameters, batch,
   * pass, gradients, exact GGN products with 3 directions for every parameter) goes through a
   * backend that runs a full garbage collection before every kernel and reads the heap in use
   * (MemoryMXBean); the largest reading above the heap before the run must not exceed the
   * estimate, which is within a factor 3 of it (measured: 1.06, 49.6 MiB estimated for 46.8 MiB held;
   * scratch memory inside a kernel is seen by neither, and is what {@link MemoryEstimate#HEAP_HEADROOM}
   * leaves room for).
   */
  @Test
  void theEstimateBoundsTheHeapARunHolds() throws Exception {
    estimateBoundsTheHeapARunHolds(GgnRoute.NETWORK, 3);
  }

  /**
   * The same for the factored GGN route ({@link FactoredBlocks}: the loss factor's columns, and
   * per-sample {@code r x D} and {@code |z| x D} items whose D the probe does not scale) with 30
   * directions.
   */
  @Test
  void theEstimateBoundsTheHeapAFactoredRunHolds() throws Exception {
    estimateBoundsTheHeapARunHolds(GgnRoute.FACTORED, 30);
  }

  /**
   * The factored set-up's bound on a graph, counted by hand: x(5) -> a = linear(4) -> b = tanh ->
   * c = linear(4) -> d = a + c -> e = linear(3), r = 3. Each weight keeps its layer's output
   * columns (20 > 3·4, 16 > 3·4, 12 > 3·3): 4 + 4 + 3; each bias its own: 4 + 4 + 3. The reverse
   * walk holds at its widest, at b's step: a's columns (from the merge), b's, and J' of b's added to
   * a's with their sum: 16.
   */
  @Test
  void theFactoredSetUpOnAGraphIsBoundedAsCountedByHand() throws Exception {
    Network net = net("network g {\n  input x: vector(5);\n  a = linear(m = 4)(x);\n  b = tanh(a);\n  c = linear(m = 4)(b);\n  d = a + c;\n"
        + "  e = linear(m = 3)(d);\n  loss crossentropy(e);\n}\n", "cpu");
    assertEquals(7L * 3 * ((4 + 4 + 3) + (4 + 4 + 3) + 16) * 8, FactoredBlocks.bytes(net, 7));
  }

  private void estimateBoundsTheHeapARunHolds(GgnRoute route, int v) throws Exception {
    Network net = net("network mid {\n  input x: vector(784);\n  linear(m = 256);\n  sigmoid;\n  linear(m = 128);\n  sigmoid;\n"
        + "  linear(m = 10);\n  loss crossentropy;\n}\n", "cpu");
    int n = 600;
    Map<String, Batch> p = parameters(net, 5);
    MemoryEstimate e = MemoryEstimate.curvature(net, p, n, CurvatureKind.GGN, Strategy.EXACT, route, 1, false, MemoryEstimate.Output.VECTORS, v,
        Long.MAX_VALUE);
    p = null;
    MemoryMXBean heap = ManagementFactory.getMemoryMXBean();
    long[] peak = {0};
    Backend cpu = Backends.create("cpu", 1);
    Backend measuring = (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class}, (self, m, args) -> {
      System.gc();
      peak[0] = Math.max(peak[0], heap.getHeapMemoryUsage().getUsed());
      try {
        return m.invoke(cpu, args);
      } catch (InvocationTargetException x) {
        throw x.getCause();
      }
    });
    Network run = net.on(measuring);
    System.gc();
    long base = heap.getHeapMemoryUsage().getUsed();
    Map<String, Batch> params = parameters(run, 5);
    Random r = new Random(6);
    double[] x = new double[n * 784], y = new double[n * 10];
    for (int i = 0; i < x.length; i++) x[i] = r.nextGaussian();
    for (int s = 0; s < n; s++) y[s * 10 + r.nextInt(10)] = 1;
    Batch xb = measuring.fromArray(n, 1, 784, 1, x), yb = measuring.fromArray(n, 1, 10, 1, y);
    x = null;
    y = null;
    try (Pass pass = run.run(params, xb, yb)) {
      for (String name : run.parameterNames()) pass.gradient(name);
      Curvature c = Curvature.of(pass, CurvatureKind.GGN, Strategy.EXACT, KfacOptions.defaults(), route, Long.MAX_VALUE, line -> {});
      for (String name : run.parameterNames()) {
        int[] s = run.parameterShape(name);
        Batch dirs = measuring.fromArray(1, v, s[0], s[1], new double[v * s[0] * s[1]]);
        measuring.toArray(c.matProd(name, dirs));
      }
    }
    long measured = peak[0] - base;
    System.out.printf("%s route: memory estimate %s, measured peak heap %s (ratio %.2f)%n", route.label(), MemoryEstimate.bytes(e.total()), MemoryEstimate.bytes(measured),
        e.total() / (double) measured);
    assertTrue(e.total(MemoryEstimate.Memory.HEAP) >= measured, "estimate " + e.describe() + " below the measured " + MemoryEstimate.bytes(measured));
    assertTrue(e.total() <= 3 * measured, "estimate " + e.describe() + " more than 3 times the measured " + MemoryEstimate.bytes(measured));
  }
}
