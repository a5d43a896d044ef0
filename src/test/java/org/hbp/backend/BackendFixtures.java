package org.hbp.backend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;
import org.hbp.backend.host.PooledBackend;
import org.hbp.network.ResidualModification;
import org.hbp.network.ResidualPolicy;
import org.hbp.runtime.Averaging;
import org.hbp.runtime.BuiltInOperators;
import org.hbp.runtime.ForwardCache;
import org.hbp.runtime.ModuleOperator;

/**
 * What the tests of the BLAS and OpenCL backends share: random host data for batch shapes, the
 * comparison of a result with the CPU backend's to a tolerance relative to {@code max(1,
 * max|expected|)}, and the generated operators (conv2d, linear, gated) run on a backend and on
 * the CPU backend with the same inputs, and the reuse of released pooled storage.
 */
public final class BackendFixtures {
  private final Random rng;

  /** Fixtures drawing their random entries from {@code rng} (shared with the test's own draws). */
  public BackendFixtures(Random rng) {
    this.rng = rng;
  }

  /** Random host data for a batch shape: {samples, directions, rows, cols} plus the data. */
  public record Host(int samples, int directions, int rows, int cols, double[] data) {
    /** The data as a batch of {@code be}. */
    public Batch on(Backend be) {
      return be.fromArray(samples, directions, rows, cols, data);
    }
  }

  /** n entries uniform in [-1, 1). */
  public double[] randomData(int n) {
    double[] d = new double[n];
    for (int p = 0; p < n; p++) d[p] = 2 * rng.nextDouble() - 1;
    return d;
  }

  /** Random entries for a batch of {@code [samples x directions] rows x cols}. */
  public Host host(int samples, int directions, int rows, int cols) {
    return new Host(samples, directions, rows, cols, randomData(samples * directions * rows * cols));
  }

  /** Random symmetric items n x n. */
  public Host symmetric(int samples, int n) {
    double[] d = randomData(samples * n * n);
    for (int s = 0; s < samples; s++)
      for (int j = 0; j < n; j++)
        for (int i = 0; i < j; i++) d[s * n * n + j + n * i] = d[s * n * n + i + n * j];
    return new Host(samples, 1, n, n, d);
  }

  /** max|a_p| (0 for an empty array). */
  public static double maxAbs(double[] a) {
    double m = 0;
    for (double v : a) m = Math.max(m, Math.abs(v));
    return m;
  }

  /**
   * max|expected - actual| <= tol * max(1, max|expected|), with equal lengths; a NaN counts as an
   * infinite error. The message names the worst entry.
   */
  public static void assertNear(double[] expected, double[] actual, double tol, String what) {
    assertEquals(expected.length, actual.length, what + ": length");
    double err = 0;
    int at = -1;
    for (int p = 0; p < expected.length; p++) {
      double e = Math.abs(expected[p] - actual[p]);
      if (e > err || Double.isNaN(e)) {
        err = Double.isNaN(e) ? Double.POSITIVE_INFINITY : e;
        at = p;
      }
    }
    double bound = tol * Math.max(1, maxAbs(expected));
    assertTrue(err <= bound, what + ": max abs error " + err + " > " + bound + " at " + at + " (expected "
        + (at >= 0 ? expected[at] : 0) + ", actual " + (at >= 0 ? actual[at] : 0) + ", max |expected| " + maxAbs(expected) + ")");
  }

  // ---- generated operators ---------------------------------------------------------------------

  /** One comparison of a backend's result with the CPU backend's. */
  @FunctionalInterface
  public interface Check {
    void check(String what, Batch expected, Batch actual);
  }

  /** Inputs of {@link #conv2dProducts}: a conv2d with cin=2, cout=3, 5x4 images, 3x3 kernels, padding 1. */
  public Map<String, Host> conv2dInputs() {
    int n = 3, cin = 2, cout = 3, hw = 20, k = 3, patches = 20, out = cout * patches;
    Map<String, Host> in = new LinkedHashMap<>();
    in.put("X", host(n, 1, cin, hw));
    in.put("W", host(1, 1, cout, cin * k * k));
    in.put("b", host(1, 1, cout, 1));
    in.put("v", host(n, 2, cout, patches));
    in.put("M", symmetric(n, out));
    in.put("dir X", host(n, 2, cin, hw));
    in.put("dir W", host(1, 4, cout, cin * k * k)); // directions shared by the samples
    in.put("dir b", host(n, 2, cout, 1));
    return in;
  }

  /** Every product of a conv2d operator that the runtime uses, by name, on the given backend. */
  public static Map<String, Batch> conv2dProducts(Backend be, Map<String, Host> in) {
    ModuleOperator op = BuiltInOperators.module("conv2d", be,
        Map.of("cin", 2, "cout", 3, "h", 5, "w", 4, "k", 3, "s", 1, "p", 1, "d", 1));
    ForwardCache c = op.forward(Map.of("X", in.get("X").on(be), "W", in.get("W").on(be), "b", in.get("b").on(be)));
    Map<String, Batch> out = new LinkedHashMap<>();
    out.put("forward Z", op.output(c));
    Batch v = in.get("v").on(be), m = in.get("M").on(be);
    for (String wrt : op.differentiable()) {
      out.put("jacTMatProd " + wrt, op.jacTMatProd(c, wrt, v));
      out.put("jacTMatProdSum " + wrt, op.jacTMatProdSum(c, wrt, v));
      out.put("jacMatProd " + wrt, op.jacMatProd(c, wrt, in.get("dir " + wrt).on(be)));
      out.put("propagate " + wrt, op.propagate(c, wrt, m));
      for (Averaging avg : Averaging.values()) out.put("propagateAveraged " + avg + " " + wrt, op.propagateAveraged(c, wrt, m, avg));
    }
    return out;
  }

  /** A generated operator of a module on a backend, run forward on host inputs. */
  private record Run(Backend be, ModuleOperator op, ForwardCache cache) {
    static Run of(Backend be, String module, Map<String, Integer> params, Map<String, Host> inputs) {
      ModuleOperator op = BuiltInOperators.module(module, be, params);
      Map<String, Batch> in = new LinkedHashMap<>();
      inputs.forEach((name, h) -> in.put(name, h.on(be)));
      return new Run(be, op, op.forward(in));
    }

    /** Host data as a batch of this run's backend. */
    Batch on(Host h) {
      return h.on(be);
    }
  }

  /** Hands {@code result} of the reference run and of the run under test to {@code check}. */
  private static void compare(Check check, String what, Run reference, Run tested, Function<Run, Batch> result) {
    check.check(what, result.apply(reference), result.apply(tested));
  }

  /**
   * Runs the generated linear operator (forward, backward, propagate) and the gated one (forward,
   * every residual modification dense and as a product) on {@code cpu} and on {@code be} with the
   * same random inputs, and hands each pair of results to {@code check}.
   */
  public void linearAndGatedOperators(Backend cpu, Backend be, Check check) {
    int n = 4, m = 3, samples = 5;
    Map<String, Integer> dims = Map.of("n", n, "m", m);
    Host x = host(samples, 1, n, 1), w = host(1, 1, m, n), b = host(1, 1, m, 1), w2 = host(1, 1, m, n);
    Host dz = host(samples, 1, m, 1), v = host(samples, 2, n, 1), hz = symmetric(samples, m);
    Map<String, Host> linearIn = Map.of("x", x, "W", w, "b", b);
    Run lc = Run.of(cpu, "linear", dims, linearIn), lb = Run.of(be, "linear", dims, linearIn);
    compare(check, "linear forward", lc, lb, r -> r.op().output(r.cache()));
    for (String wrt : lc.op().differentiable()) {
      compare(check, "linear backward " + wrt, lc, lb, r -> r.op().backward(r.cache(), wrt, r.on(dz)));
      compare(check, "linear propagate " + wrt, lc, lb, r -> r.op().propagate(r.cache(), wrt, r.on(hz)));
    }
    // gated: sigmoid maps and a general residual, modified by the symmetric eigendecomposition
    Map<String, Host> gatedIn = Map.of("x", x, "W1", w, "W2", w2);
    Run gc = Run.of(cpu, "gated", dims, gatedIn), gb = Run.of(be, "gated", dims, gatedIn);
    compare(check, "gated forward", gc, gb, r -> r.op().output(r.cache()));
    for (ResidualModification mod : ResidualModification.values()) {
      ResidualPolicy policy = ResidualPolicy.of(mod);
      compare(check, "gated residual " + mod, gc, gb, r -> policy.dense(r.op(), r.cache(), "x", r.on(dz)));
      compare(check, "gated residualMatProd " + mod, gc, gb, r -> policy.product(r.op(), r.cache(), "x", r.on(dz), r.on(v)));
    }
  }

  // ---- pooled storage --------------------------------------------------------------------------

  /**
   * On a float32 pooled backend: a released batch's storage is held once (releasing a view of it
   * or the batch again is a no-op), serves the next allocation of its size, and the released batch
   * and its views are refused afterwards without disturbing the storage's new owner.
   */
  public void releasedStorageIsReusedAndStaleBatchesAreDetected(PooledBackend be) {
    Batch a = be.fromArray(2, 1, 3, 4, randomData(24));
    Batch b = be.scale(a, 2);
    Batch view = be.reshape(b, 12, 1);
    assertTrue(be.sharesStorage(b, view) && !be.sharesStorage(a, b));
    long[] before = be.poolHitsAndMisses();
    be.release(b);
    assertEquals(24L * Float.BYTES, be.pooledBytes(), "the released storage is held for reuse");
    be.release(view); // a view of a released batch: nothing more to release
    be.release(b); // twice: a no-op
    assertEquals(24L * Float.BYTES, be.pooledBytes(), "released once");
    Batch c = be.scale(a, 3); // same size: the pooled storage
    long[] after = be.poolHitsAndMisses();
    assertEquals(before[0] + 1, after[0], "one allocation served from the pool");
    assertEquals(before[1], after[1], "no fresh allocation");
    assertEquals(0, be.pooledBytes());
    assertTrue(be.sharesStorage(c, c) && !be.sharesStorage(c, b), "a stale batch does not share the new batch's storage");
    double[] expected = be.toArray(be.scale(a, 3));
    assertArrayEquals(expected, be.toArray(c), "the reused storage holds the new result");
    IllegalStateException stale = assertThrows(IllegalStateException.class, () -> be.add(b, a));
    assertTrue(stale.getMessage().contains("add: operand a") && stale.getMessage().contains("was released"), stale.getMessage());
    assertThrows(IllegalStateException.class, () -> be.toArray(view), "a view of a released batch is stale too");
    be.release(b); // releasing a stale batch never releases the storage's new owner
    assertArrayEquals(expected, be.toArray(c));
    be.release(c);
    be.trimPool();
    assertEquals(0, be.pooledBytes());
  }

  // ---- foreign batches -------------------------------------------------------------------------

  /**
   * Batches of another backend ({@code cpu}), or of this backend's kind in the other precision,
   * are refused with a message naming the kernel, the operand and the backend ({@code f64}, whose
   * float32 twin is {@code f32}); the CPU backend refuses {@code f64}'s batches too.
   */
  public static void foreignBatchesAreRejected(Backend cpu, Backend f64, Backend f32) {
    Batch c = cpu.fill(2, 2, 1), s = f32.fill(2, 2, 1), d = f64.fill(2, 2, 1);
    String m1 = assertThrows(IllegalArgumentException.class, () -> f64.add(d, c)).getMessage();
    assertTrue(m1.contains("add") && m1.contains("operand b") && m1.contains("not a batch of the " + f64.name() + " backend"), m1);
    String m2 = assertThrows(IllegalArgumentException.class, () -> f64.matmul(s, false, d, false)).getMessage();
    assertTrue(m2.contains("matmul") && m2.contains("FLOAT32") && m2.contains(f64.name()), m2);
    String m3 = assertThrows(IllegalArgumentException.class, () -> cpu.toArray(d)).getMessage();
    assertTrue(m3.contains("not a batch of the cpu backend"), m3);
  }
}
