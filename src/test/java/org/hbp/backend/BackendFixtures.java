package org.hbp.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
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
 * the CPU backend with the same inputs.
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

  /**
   * Runs the generated linear operator (forward, backward, propagate) and the gated one (forward,
   * every residual modification dense and as a product) on {@code cpu} and on {@code be} with the
   * same random inputs, and hands each pair of results to {@code check}.
   */
  public void linearAndGatedOperators(Backend cpu, Backend be, Check check) {
    int n = 4, m = 3, samples = 5;
    Host x = host(samples, 1, n, 1), w = host(1, 1, m, n), b = host(1, 1, m, 1), w2 = host(1, 1, m, n);
    Host dz = host(samples, 1, m, 1), v = host(samples, 2, n, 1), hz = symmetric(samples, m);
    ModuleOperator lc = BuiltInOperators.module("linear", cpu, Map.of("n", n, "m", m));
    ModuleOperator lb = BuiltInOperators.module("linear", be, Map.of("n", n, "m", m));
    ForwardCache cc = lc.forward(Map.of("x", x.on(cpu), "W", w.on(cpu), "b", b.on(cpu)));
    ForwardCache cb = lb.forward(Map.of("x", x.on(be), "W", w.on(be), "b", b.on(be)));
    check.check("linear forward", lc.output(cc), lb.output(cb));
    for (String wrt : lc.differentiable()) {
      check.check("linear backward " + wrt, lc.backward(cc, wrt, dz.on(cpu)), lb.backward(cb, wrt, dz.on(be)));
      check.check("linear propagate " + wrt, lc.propagate(cc, wrt, hz.on(cpu)), lb.propagate(cb, wrt, hz.on(be)));
    }
    // gated: sigmoid maps and a general residual, modified by the symmetric eigendecomposition
    ModuleOperator gc = BuiltInOperators.module("gated", cpu, Map.of("n", n, "m", m));
    ModuleOperator gb = BuiltInOperators.module("gated", be, Map.of("n", n, "m", m));
    ForwardCache gcc = gc.forward(Map.of("x", x.on(cpu), "W1", w.on(cpu), "W2", w2.on(cpu)));
    ForwardCache gcb = gb.forward(Map.of("x", x.on(be), "W1", w.on(be), "W2", w2.on(be)));
    check.check("gated forward", gc.output(gcc), gb.output(gcb));
    for (ResidualModification mod : ResidualModification.values()) {
      ResidualPolicy policy = ResidualPolicy.of(mod);
      check.check("gated residual " + mod, policy.dense(gc, gcc, "x", dz.on(cpu)), policy.dense(gb, gcb, "x", dz.on(be)));
      check.check("gated residualMatProd " + mod, policy.product(gc, gcc, "x", dz.on(cpu), v.on(cpu)),
          policy.product(gb, gcb, "x", dz.on(be), v.on(be)));
    }
  }
}
