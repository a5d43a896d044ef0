package org.hbp.backend;

import static org.hbp.backend.BackendFixtures.assertNear;
import static org.hbp.backend.BackendFixtures.conv2dProducts;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;
import org.hbp.backend.BackendFixtures.Host;
import org.hbp.backend.blas.BlasBackend;
import org.hbp.backend.blas.BlasBatch;
import org.hbp.backend.cpu.CpuBackend;
import org.hbp.math.Scalars;
import org.hbp.runtime.BuiltInOperators;
import org.junit.jupiter.api.Test;

/**
 * What is particular to the OpenBLAS backend (the shared contract is in {@link
 * BlasF64BackendTest} and {@link BlasF32BackendTest}): the generated operators give the CPU
 * backend's results, larger multi-threaded products, the off-heap layout,
 * foreign batches, the float32 index limit and freeing of off-heap memory.
 */
class BlasBackendTest {
  private static final ScalarFunction TWO_PLUS = ScalarFunction.of("two_plus", "(REAL) 2 + t", t -> 2 + t);
  private static final ScalarFunction TANH = ScalarFunction.of("t_tanh", "tanh(t)", Math::tanh);

  private final Backend cpu = new CpuBackend();
  private final BlasBackend f64 = new BlasBackend(Precision.FLOAT64);
  private final BlasBackend f32 = new BlasBackend(Precision.FLOAT32);
  private final Random rng = new Random(7);
  private final BackendFixtures fx = new BackendFixtures(rng);

  private static void assertSameShape(Batch expected, Batch actual, String what) {
    assertEquals(expected.describe(), actual.describe(), what + ": shape");
  }

  // ---- generated operators ---------------------------------------------------------------------

  @Test
  void generatedConv2dOperatorMatchesTheCpuBackend() {
    Map<String, Host> in = fx.conv2dInputs();
    Map<String, Batch> ref = conv2dProducts(cpu, in), blas = conv2dProducts(f64, in), single = conv2dProducts(f32, in);
    assertEquals(ref.keySet(), blas.keySet());
    assertEquals(1 + 3 * 6, ref.size());
    for (String key : ref.keySet()) {
      assertSameShape(ref.get(key), blas.get(key), key);
      assertTrue(blas.get(key) instanceof BlasBatch, key + " is a batch of the blas backend");
      assertNear(cpu.toArray(ref.get(key)), f64.toArray(blas.get(key)), 1e-12, "conv2d blas-f64 " + key);
      assertSameShape(ref.get(key), single.get(key), key);
      assertNear(cpu.toArray(ref.get(key)), f32.toArray(single.get(key)), 1e-4, "conv2d blas-f32 " + key);
    }
  }

  @Test
  void generatedLinearAndGatedOperatorsMatchTheCpuBackend() {
    for (Backend be : List.of(f64, f32)) {
      double tol = be == f64 ? 1e-12 : 1e-4;
      fx.linearAndGatedOperators(cpu, be, (what, expected, actual) -> {
        assertSameShape(expected, actual, be.name() + " " + what);
        assertNear(cpu.toArray(expected), be.toArray(actual), tol, be.name() + " " + what);
      });
    }
  }

  // ---- products -------------------------------------------------------------------------------

  @Test
  void largerProductsOnOneAndTwoThreadsMatchTheCpuBackend() {
    // large enough for OpenBLAS to split the work across threads
    int m = 150, k = 170, n = 130;
    for (boolean ta : new boolean[] {false, true})
      for (boolean tb : new boolean[] {false, true}) {
        Host a = ta ? fx.host(1, 1, k, m) : fx.host(1, 1, m, k), b = tb ? fx.host(2, 1, n, k) : fx.host(2, 1, k, n);
        double[] expected = cpu.toArray(cpu.matmul(a.on(cpu), ta, b.on(cpu), tb));
        for (int threads : new int[] {1, 2}) {
          BlasBackend d = new BlasBackend(Precision.FLOAT64, threads), s = new BlasBackend(Precision.FLOAT32, threads);
          assertEquals(threads, d.threads());
          String what = "matmul " + m + "x" + k + "x" + n + " ta=" + ta + " tb=" + tb + " threads=" + threads;
          assertNear(expected, d.toArray(d.matmul(a.on(d), ta, b.on(d), tb)), 1e-12, "blas-f64 " + what);
          // k = 170 terms of magnitude <= 1: float error about sqrt(k) * 6e-8 * |entries| (relative to the max entry, ~10)
          assertNear(expected, s.toArray(s.matmul(a.on(s), ta, b.on(s), tb)), 1e-4, "blas-f32 " + what);
        }
      }
  }

  @Test
  void wideSharedLeftProductAndBroadcastPerItemProducts() {
    // the three matmul paths: one gemm over all of b's items side by side (a a single item), one
    // gemm per sample over its directions (a shared by directions), one gemm per item (the rest)
    Host a = fx.host(1, 1, 7, 5), b = fx.host(2, 30, 5, 3), c = fx.host(2, 1, 5, 7), e = fx.host(1, 30, 3, 7);
    Host ct = fx.host(2, 1, 7, 5), bShared = fx.host(1, 30, 5, 3), bOne = fx.host(2, 1, 5, 3);
    for (BlasBackend be : List.of(f64, f32)) {
      double tol = be == f64 ? 1e-12 : 1e-4;
      assertNear(cpu.toArray(cpu.matmul(a.on(cpu), false, b.on(cpu), false)), be.toArray(be.matmul(a.on(be), false, b.on(be), false)),
          tol, be.name() + " wide");
      assertNear(cpu.toArray(cpu.matmul(c.on(cpu), true, b.on(cpu), false)), be.toArray(be.matmul(c.on(be), true, b.on(be), false)),
          tol, be.name() + " a' b, a shared by directions");
      for (Host bb : List.of(b, bShared, bOne))
        assertNear(cpu.toArray(cpu.matmul(ct.on(cpu), false, bb.on(cpu), false)), be.toArray(be.matmul(ct.on(be), false, bb.on(be), false)),
            tol, be.name() + " a b, a shared by directions, b [" + bb.samples() + " x " + bb.directions() + "]");
      assertNear(cpu.toArray(cpu.matmul(c.on(cpu), false, e.on(cpu), true)), be.toArray(be.matmul(c.on(be), false, e.on(be), true)),
          tol, be.name() + " a e', crossed broadcast");
    }
  }


  // ---- storage ---------------------------------------------------------------------------------

  @Test
  void batchesAreOffHeapInTheDocumentedLayout() {
    double[] data = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0.1};
    BlasBatch d = (BlasBatch) f64.fromArray(2, 3, 2, 1, data);
    assertTrue(d.pointer() instanceof DoublePointer);
    assertEquals(12, d.length());
    assertEquals(Precision.FLOAT64, d.precision());
    for (int p = 0; p < data.length; p++) assertEquals(data[p], ((DoublePointer) d.pointer()).get(p));
    BlasBatch s = (BlasBatch) f32.fromArray(2, 3, 2, 1, data);
    assertTrue(s.pointer() instanceof FloatPointer);
    assertEquals(0.1f, ((FloatPointer) s.pointer()).get(11));
    assertEquals((double) 0.1f, f32.toArray(s)[11]); // rounded to float, widened back
    // views share the block
    assertTrue(((BlasBatch) f64.reshape(d, 1, 2)).pointer() == d.pointer());
    assertTrue(((BlasBatch) f64.directionsAsColumns(d, 3)).pointer() == d.pointer());
    assertEquals("blas-f64", f64.name());
    assertEquals("blas-f32", f32.name());
    assertEquals(Runtime.getRuntime().availableProcessors(), f64.threads());
  }

  @Test
  void foreignBatchesAreRejected() {
    BackendFixtures.foreignBatchesAreRejected(cpu, f64, f32);
    assertThrows(IllegalArgumentException.class, () -> new BlasBackend(Precision.FLOAT64, 0));
  }

  @Test
  void float32RefusesIndicesItCannotHoldExactly() {
    int big = (1 << 24) + 2; // a 64 MiB float item
    Batch x = f32.fill(big, 1, 0);
    Batch idx = f32.fromArray(1, 1, 1, 1, new double[] {3});
    String msg = assertThrows(IllegalArgumentException.class, () -> f32.gather(x, idx)).getMessage();
    assertTrue(msg.contains("gather") && msg.contains("2^24") && msg.contains("FLOAT64"), msg);
    assertArrayEquals(new double[] {0}, f32.toArray(f32.gather(f32.fill(4, 1, 0), idx)));
  }

  // ---- memory ----------------------------------------------------------------------------------

  /** Collects until JavaCPP's off-heap total is at most limit (or gives up); returns the total. */
  private static long collectDownTo(long limit) throws InterruptedException {
    for (int i = 0; i < 100 && Pointer.totalBytes() > limit; i++) {
      System.gc();
      Thread.sleep(20);
    }
    return Pointer.totalBytes();
  }

  @Test
  void offHeapMemoryOfUnreachableBatchesIsFreed() throws InterruptedException {
    BlasBackend be = new BlasBackend(Precision.FLOAT64, 1);
    Batch a = be.fromArray(2, 3, 8, 8, fx.randomData(2 * 3 * 64)), b = be.fromArray(1, 1, 8, 8, fx.randomData(64));
    for (int i = 0; i < 3; i++) {
      System.gc();
      Thread.sleep(20);
    }
    long before = Pointer.totalBytes();
    long perIteration = 4L * a.items() * a.itemSize() * 8; // four 3 KiB results per iteration
    long peak = 0;
    int iterations = 10_000;
    for (int i = 0; i < iterations; i++) {
      Batch c = be.matmul(b, false, a, false);
      c = be.add(c, a);
      c = be.softmax(be.transpose(c));
      assertEquals(a.describe(), c.describe());
      peak = Math.max(peak, Pointer.totalBytes() - before);
    }
    long slack = 1 << 20;
    long after = collectDownTo(before + slack) - before;
    System.out.println("BlasBackendTest: " + iterations + " iterations allocated " + (iterations * perIteration >> 20)
        + " MiB off-heap in all; peak held " + (peak >> 10) + " KiB, after collection " + (after >> 10) + " KiB above the start");
    assertTrue(after <= slack, "off-heap bytes still held after collection: " + after + " (allocated " + iterations * perIteration + ")");
  }

  // ---- the block pool --------------------------------------------------------------------------

  @Test
  void releasedBlocksAreReusedAndStaleBatchesAreDetected() {
    fx.releasedStorageIsReusedAndStaleBatchesAreDetected(new BlasBackend(Precision.FLOAT32, 1));
  }

  @Test
  void aReleasedBlockIsZeroedWhenReusedForAZeroedAllocation() {
    BlasBackend be = new BlasBackend(Precision.FLOAT64, 1);
    Batch a = be.fill(5, 5, 7);
    be.release(a);
    Batch e = be.eye(5); // same capacity, asks for a zeroed block
    assertArrayEquals(cpu.toArray(cpu.eye(5)), be.toArray(e));
  }

  // ---- parallel loops: large batches split over the threads --------------------------------------

  /** Above the parallel threshold (32768 entries), every streaming kernel on two threads equals the CPU backend. */
  @Test
  void largeStreamingKernelsOnTwoThreadsMatchTheCpuBackend() {
    for (BlasBackend be : List.of(new BlasBackend(Precision.FLOAT64, 2), new BlasBackend(Precision.FLOAT32, 2))) {
      double tol = be.precision() == Precision.FLOAT64 ? 1e-13 : 1e-5;
      String p = be.name() + " ";
      Host x = fx.host(37, 3, 41, 13), y = fx.host(37, 3, 41, 13), perSample = fx.host(37, 1, 41, 13), shared = fx.host(1, 3, 41, 13);
      for (Host other : List.of(y, perSample, shared)) {
        assertNear(cpu.toArray(cpu.add(x.on(cpu), other.on(cpu))), be.toArray(be.add(x.on(be), other.on(be))), tol, p + "add");
        assertNear(cpu.toArray(cpu.multiply(other.on(cpu), x.on(cpu))), be.toArray(be.multiply(other.on(be), x.on(be))), tol,
            p + "multiply");
        assertNear(cpu.toArray(cpu.divide(x.on(cpu), cpu.map(other.on(cpu), TWO_PLUS))),
            be.toArray(be.divide(x.on(be), be.map(other.on(be), TWO_PLUS))), tol, p + "divide");
      }
      assertNear(cpu.toArray(cpu.map(x.on(cpu), TANH)), be.toArray(be.map(x.on(be), TANH)), tol, p + "map");
      assertNear(cpu.toArray(cpu.scale(x.on(cpu), -3)), be.toArray(be.scale(x.on(be), -3)), tol, p + "scale");
      assertNear(cpu.toArray(cpu.power(x.on(cpu), 2)), be.toArray(be.power(x.on(be), 2)), tol, p + "power");
      assertNear(cpu.toArray(cpu.sumSamples(x.on(cpu))), be.toArray(be.sumSamples(x.on(be))), tol, p + "sumSamples");
      ConvGeometry g = new ConvGeometry(3, 12, 11, 3, 2, 1, 1);
      Host img = fx.host(9, 4, 3, 12 * 11);
      Batch cu = cpu.unfold(img.on(cpu), g), bu = be.unfold(img.on(be), g);
      assertSameShape(cu, bu, p + "unfold");
      assertNear(cpu.toArray(cu), be.toArray(bu), tol, p + "unfold");
      Host cols = fx.host(9, 4, g.patchRows(), g.patches());
      assertNear(cpu.toArray(cpu.fold(cols.on(cpu), g)), be.toArray(be.fold(cols.on(be), g)), tol, p + "fold");
      int n = 3 * 12 * 11, m = 3 * 6 * 5;
      double[] idx = new double[9 * m];
      for (int i = 0; i < idx.length; i++) idx[i] = rng.nextInt(n + 1) - 1; // -1: a padded zero
      Host src = fx.host(9, 50, 3, 12 * 11), grad = fx.host(9, 50, m, 1);
      Batch ci = cpu.fromArray(9, 1, m, 1, idx), bi = be.fromArray(9, 1, m, 1, idx);
      assertNear(cpu.toArray(cpu.gather(src.on(cpu), ci)), be.toArray(be.gather(src.on(be), bi)), tol, p + "gather");
      assertNear(cpu.toArray(cpu.scatterAdd(grad.on(cpu), ci, n, 1)), be.toArray(be.scatterAdd(grad.on(be), bi, n, 1)), tol,
          p + "scatterAdd");
    }
  }

  /**
   * The float32 backend runs convolutions and the built-in sigmoid and tanh on oneDNN (its
   * natives are a dependency); the maps agree with {@code Scalars} rounded to float, at moderate
   * and extreme arguments, with NaN propagated as in Java. A built-in without a oneDNN form that
   * agrees (exp: oneDNN's exp(NaN) is infinity) runs its Java form.
   */
  @Test
  void float32BuiltInMapsRunOnOneDnnAndAgreeWithScalars() {
    assertTrue(f32.directConvolutions(), "oneDNN loaded: " + f32.directConvolutionsUnavailable());
    assertTrue(!f64.directConvolutions() && f64.directConvolutionsUnavailable().contains("float64"));
    double[] special = {0, -0.0, 1e-7, -1e-7, 0.5, -0.5, 3, -3, 15, -15, 30, -30, 88, -88, 100, -100, 1e4, -1e4, Double.NaN,
        Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY};
    double[] data = new double[special.length + 3000];
    System.arraycopy(special, 0, data, 0, special.length);
    for (int i = special.length; i < data.length; i++) data[i] = 40 * rng.nextDouble() - 20;
    Batch x = f32.fromArray(3, 1, data.length / 3, 1, data);
    double[] stored = f32.toArray(x);
    Map<String, java.util.function.DoubleUnaryOperator> fs = new LinkedHashMap<>();
    fs.put("sigmoid", Scalars::sigmoid);
    fs.put("tanh", Scalars::tanh);
    for (Map.Entry<String, java.util.function.DoubleUnaryOperator> f : fs.entrySet()) {
      // a Java form that is deliberately wrong: the builtin name, not the lambda, must decide
      ScalarFunction sf = new ScalarFunction("t_" + f.getKey(), "REAL t_" + f.getKey() + "(REAL t) { return t; }\n", t -> -1, null,
          f.getKey());
      double[] got = f32.toArray(f32.map(x, sf));
      for (int i = 0; i < stored.length; i++) {
        double want = (float) f.getValue().applyAsDouble(stored[i]);
        String what = f.getKey() + "(" + stored[i] + ")";
        if (Double.isNaN(want)) assertTrue(Double.isNaN(got[i]), what + " = " + got[i]);
        else if (Double.isInfinite(want)) assertEquals(want, got[i], what);
        else // a few float ulps, or below the smallest normal float (denormals may be flushed)
          assertEquals(want, got[i], 4e-7 * Math.abs(want) + Float.MIN_NORMAL, what);
      }
    }
    ScalarFunction exp = new ScalarFunction("t_exp", "REAL t_exp(REAL t) { return exp(t); }\n", Scalars::exp, null, "exp");
    double[] got = f32.toArray(f32.map(x, exp));
    for (int i = 0; i < stored.length; i++) assertEquals((float) Math.exp(stored[i]), got[i], 0.0, "exp(" + stored[i] + ")");
  }

  /**
   * {@code mapMultiply} of a built-in's derivative from its value (sigmoid' = u (1 - u), tanh' =
   * 1 - u^2) runs oneDNN's elementwise backward pass on the float32 backend, and agrees with the
   * formula, NaN included.
   */
  @Test
  void float32DerivativesFromTheValueRunOnOneDnn() {
    double[] u = new double[3003], v = new double[3003];
    for (int i = 0; i < u.length; i++) {
      u[i] = 2 * rng.nextDouble() - 1;
      v[i] = 10 * rng.nextDouble() - 5;
    }
    u[0] = Double.NaN;
    v[1] = Double.NaN;
    u[2] = 0;
    u[3] = 1;
    Batch ub = f32.fromArray(3, 1, 1001, 1, u), vb = f32.fromArray(3, 1, 1001, 1, v);
    double[] us = f32.toArray(ub), vs = f32.toArray(vb);
    Map<String, java.util.function.DoubleUnaryOperator> fs = new LinkedHashMap<>();
    fs.put("sigmoid_d1_of_value", t -> t * (1 - t));
    fs.put("tanh_d1_of_value", t -> 1 - t * t);
    for (Map.Entry<String, java.util.function.DoubleUnaryOperator> f : fs.entrySet()) {
      // a wrong Java form: the builtin name must decide
      ScalarFunction sf = new ScalarFunction("t_" + f.getKey(), "REAL t_" + f.getKey() + "(REAL u) { return u; }\n", t -> -1, null,
          f.getKey());
      double[] got = f32.toArray(f32.mapMultiply(ub, sf, vb));
      for (int i = 0; i < us.length; i++) {
        double want = f.getValue().applyAsDouble(us[i]) * vs[i];
        String what = f.getKey() + "(" + us[i] + ") * " + vs[i];
        if (Double.isNaN(want)) assertTrue(Double.isNaN(got[i]), what + " = " + got[i]);
        else assertEquals(want, got[i], 1e-6 * Math.abs(vs[i]) + Float.MIN_NORMAL, what);
      }
    }
  }

  /**
   * A convolution with a shared bias (a layer's, which the float32 backend hands to oneDNN as the
   * convolution's bias vector) and with a bias per sample (the default's unfold and gemm) agrees
   * with the CPU backend.
   */
  @Test
  void float32ConvolutionWithABiasAgreesWithTheCpuBackend() {
    for (ConvGeometry g : List.of(new ConvGeometry(3, 9, 7, 3, 1, 1, 1), new ConvGeometry(4, 8, 8, 2, 2, 0, 1))) {
      int cout = 5;
      Host w = fx.host(1, 1, cout, g.patchRows()), x = fx.host(3, 2, g.c(), g.h() * g.w());
      // one shared bias (oneDNN's bias argument), and a bias per sample (the default's unfold and gemm)
      for (Host b : List.of(fx.host(1, 1, cout, 1), fx.host(3, 1, cout, 1))) {
        double[] want = cpu.toArray(cpu.convolution(w.on(cpu), x.on(cpu), g, b.on(cpu)));
        double[] got = f32.toArray(f32.convolution(w.on(f32), x.on(f32), g, b.on(f32)));
        assertNear(want, got, 1e-4, "convolution + bias " + g + " (" + b.samples() + " samples of bias)");
      }
    }
  }

  /**
   * An index batch keeps its int form after a first gather; a use with items of another size is
   * checked afresh (an index valid into 10 entries is out of range of 5), and results stay right.
   */
  @Test
  void indexBatchesAreReusedAndCheckedPerItemSize() {
    for (BlasBackend be : List.of(f32, f64)) {
      Batch index = be.fromArray(2, 1, 3, 1, new double[] {0, 9, -1, 4, 2, 7});
      Batch ten = be.fromArray(2, 1, 10, 1, new double[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19});
      for (int rep = 0; rep < 2; rep++)
        assertArrayEquals(new double[] {0, 9, 0, 14, 12, 17}, be.toArray(be.gather(ten, index)), be.name() + " gather " + rep);
      assertArrayEquals(new double[] {1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 1, 0, 0, 1, 0, 0},
          be.toArray(be.scatterAdd(be.fromArray(2, 1, 3, 1, new double[] {1, 1, 1, 1, 1, 1}), index, 10, 1)), be.name() + " scatterAdd");
      Batch five = be.fromArray(2, 1, 5, 1, new double[10]);
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> be.gather(five, index), be.name());
      assertTrue(e.getMessage().contains("9"), e.getMessage());
    }
  }
}
