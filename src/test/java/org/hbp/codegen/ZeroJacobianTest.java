package org.hbp.codegen;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.backend.Precision;
import org.hbp.backend.blas.BlasBackend;
import org.hbp.dsl.Dsl;
import org.hbp.dsl.Spec;
import org.hbp.runtime.Averaging;
import org.hbp.runtime.ForwardCache;
import org.hbp.runtime.ModuleOperator;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A variable whose derived Jacobian is identically zero (a parameter behind step or sign, one that
 * cancels, one never used) gets products of the right batch axes and shapes, all zero: J v is
 * [N x V], J' v [N x V], sum_n J_n' v_n [1 x V], and propagate / propagateAveraged give zero
 * numel x numel blocks. These once returned one shared [1 x 1] item, and propagate failed
 * ("directionsAsColumns: 1 directions ... cannot be grouped"). The oracle for "zero" is a central
 * finite difference of the forward pass along each direction, independent of the derivation.
 */
class ZeroJacobianTest {
  @TempDir static Path work;
  static Map<String, Class<?>> classes;
  static final int N = 3, V = 4, n = 3, m = 2;
  final Backend be = new BlasBackend(Precision.FLOAT64, 1);

  @BeforeAll
  static void compile() throws Exception {
    Path file = Path.of("src/test/resources/specs/zero_jacobians.hbp");
    String text = Files.readString(file);
    Spec spec = Dsl.parse(text, file.toString());
    classes = OperatorLoader.compile(OperatorGenerator.generate(spec, text, file.toString(), "test.zerojac"), work);
  }

  private ModuleOperator op(String cls) {
    return (ModuleOperator) new OperatorLoader.Loaded(classes.get(cls), false).create(be, Map.of("n", n, "m", m));
  }

  /** Random values away from the kinks of step and sign (|entry| >= 0.2). */
  private static double[] values(Random r, int count) {
    double[] d = new double[count];
    for (int i = 0; i < count; i++) d[i] = (r.nextBoolean() ? 1 : -1) * (0.2 + r.nextDouble());
    return d;
  }

  private Map<String, double[]> point(ModuleOperator op, Random r) {
    Map<String, double[]> p = new HashMap<>();
    for (String v : op.differentiable()) {
      int[] s = op.itemShape(v);
      p.put(v, values(r, N * s[0] * s[1]));
    }
    return p;
  }

  private double[] forward(ModuleOperator op, Map<String, double[]> p) {
    Map<String, Batch> vals = new HashMap<>();
    for (var e : p.entrySet()) {
      int[] s = op.itemShape(e.getKey());
      vals.put(e.getKey(), be.fromArray(N, 1, s[0], s[1], e.getValue()));
    }
    return be.toArray(op.forward(vals).get(op.outputName()));
  }

  private ForwardCache cache(ModuleOperator op, Map<String, double[]> p) {
    Map<String, Batch> vals = new HashMap<>();
    for (var e : p.entrySet()) {
      int[] s = op.itemShape(e.getKey());
      vals.put(e.getKey(), be.fromArray(N, 1, s[0], s[1], e.getValue()));
    }
    return op.forward(vals);
  }

  private static int numel(int[] s) {
    return s[0] * s[1];
  }

  private void check(String cls, String wrt) {
    ModuleOperator op = op(cls);
    Random r = new Random(7);
    Map<String, double[]> p = point(op, r);
    ForwardCache cache = cache(op, p);
    int[] ws = op.itemShape(wrt), zs = op.itemShape(op.outputName());
    int dw = numel(ws), dz = numel(zs);
    // oracle: (f(w + h v) - f(w - h v)) / 2h for each sample and direction
    double[] dirs = values(r, N * V * dw);
    double h = 1e-6;
    for (int d = 0; d < V; d++) {
      Map<String, double[]> plus = new HashMap<>(p), minus = new HashMap<>(p);
      double[] wp = p.get(wrt).clone(), wm = p.get(wrt).clone();
      for (int s = 0; s < N; s++)
        for (int i = 0; i < dw; i++) {
          wp[s * dw + i] += h * dirs[(s * V + d) * dw + i];
          wm[s * dw + i] -= h * dirs[(s * V + d) * dw + i];
        }
      plus.put(wrt, wp);
      minus.put(wrt, wm);
      double[] fp = forward(op, plus), fm = forward(op, minus);
      for (int i = 0; i < fp.length; i++) assertEquals(0.0, (fp[i] - fm[i]) / (2 * h), 1e-9, cls + ": the oracle says J_" + wrt + " v != 0");
    }
    Batch v = be.fromArray(N, V, ws[0], ws[1], dirs);
    assertShape(op.jacMatProd(cache, wrt, v), N, V, zs, cls + ".jacMatProd " + wrt);
    Batch u = be.fromArray(N, V, zs[0], zs[1], values(r, N * V * dz));
    assertShape(op.jacTMatProd(cache, wrt, u), N, V, ws, cls + ".jacTMatProd " + wrt);
    assertShape(op.jacTMatProdSum(cache, wrt, u), 1, V, ws, cls + ".jacTMatProdSum " + wrt);
    Batch mm = be.fromArray(N, 1, dz, dz, values(r, N * dz * dz));
    assertShape(op.propagate(cache, wrt, mm), N, 1, new int[] {dw, dw}, cls + ".propagate " + wrt);
    Batch shared = be.fromArray(1, 1, dz, dz, values(r, dz * dz));
    for (Averaging a : Averaging.values()) {
      Batch g = op.propagateAveraged(cache, wrt, shared, a);
      assertArrayEquals(new int[] {dw, dw}, new int[] {g.rows(), g.cols()}, cls + ".propagateAveraged " + a);
      for (double x : be.toArray(g)) assertEquals(0.0, x, 0.0, cls + ".propagateAveraged " + a);
    }
  }

  private void assertShape(Batch b, int samples, int directions, int[] item, String what) {
    assertEquals(List.of(samples, directions, item[0], item[1]), List.of(b.samples(), b.directions(), b.rows(), b.cols()), what);
    for (double x : be.toArray(b)) assertEquals(0.0, x, 0.0, what);
  }

  @Test
  void stepGate() {
    check("Gate0Operator", "a");
  }

  @Test
  void signOfLinear() {
    check("SignlinOperator", "W");
    check("SignlinOperator", "x");
  }

  @Test
  void cancellingParameter() {
    check("CancelOperator", "b");
  }

  @Test
  void unusedParameter() {
    check("UnusedpOperator", "c");
  }
}
