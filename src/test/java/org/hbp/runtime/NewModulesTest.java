package org.hbp.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.EigenDecomposition_F64;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.backend.cpu.CpuBackend;
import org.hbp.network.PchMethod;
import org.hbp.network.ResidualModification;
import org.hbp.network.ResidualPolicy;
import org.junit.jupiter.api.Test;

/**
 * The modules that are not in Table 1 (gated, swish, elu) were added as spec files only; their
 * generated operators are used here through the runtime's API, with no Java written for them.
 */
class NewModulesTest {
  private final Backend be = new CpuBackend();
  private final Random rng = new Random(3);

  private Batch random(int samples, int rows, int cols) {
    double[] d = new double[samples * rows * cols];
    for (int i = 0; i < d.length; i++) d[i] = rng.nextGaussian();
    return be.fromArray(samples, 1, rows, cols, d);
  }

  private static double[] eigenvalues(double[] colMajor, int n) {
    DMatrixRMaj a = new DMatrixRMaj(n, n);
    for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) a.set(i, j, colMajor[i + n * j]);
    EigenDecomposition_F64<DMatrixRMaj> eig = DecompositionFactory_DDRM.eig(n, false, true);
    assertTrue(eig.decompose(a));
    double[] out = new double[n];
    for (int k = 0; k < n; k++) out[k] = eig.getEigenvalue(k).getReal();
    return out;
  }

  @Test
  void gatedUnitRemovesNegativeCurvatureByEigendecomposition() {
    int n = 4, m = 3, samples = 5;
    ModuleOperator gated = BuiltInOperators.module("gated", be, Map.of("n", n, "m", m));
    assertEquals(ResidualKind.GENERAL, gated.residualKind("x"));
    assertEquals(PchMethod.EIGENDECOMPOSITION, ResidualPolicy.pchMethod(gated.residualKind("x")));
    assertEquals(PchMethod.NOTHING, ResidualPolicy.pchMethod(gated.residualKind("W1")));
    ForwardCache c = gated.forward(Map.of("x", random(samples, n, 1), "W1", random(1, m, n), "W2", random(1, m, n)));
    Batch dz = random(samples, m, 1);
    double[] exact = be.toArray(ResidualPolicy.of(ResidualModification.NONE).dense(gated, c, "x", dz));
    double[] abs = be.toArray(ResidualPolicy.of(ResidualModification.ABS).dense(gated, c, "x", dz));
    double[] clip = be.toArray(ResidualPolicy.of(ResidualModification.CLIP).dense(gated, c, "x", dz));
    boolean sawNegative = false;
    for (int s = 0; s < samples; s++) {
      double[] e = eigenvalues(java.util.Arrays.copyOfRange(exact, s * n * n, (s + 1) * n * n), n);
      double[] a = eigenvalues(java.util.Arrays.copyOfRange(abs, s * n * n, (s + 1) * n * n), n);
      double[] k = eigenvalues(java.util.Arrays.copyOfRange(clip, s * n * n, (s + 1) * n * n), n);
      java.util.Arrays.sort(e);
      java.util.Arrays.sort(a);
      java.util.Arrays.sort(k);
      double[] absOfExact = new double[n], clipOfExact = new double[n];
      for (int i = 0; i < n; i++) {
        sawNegative |= e[i] < -1e-6;
        absOfExact[i] = Math.abs(e[i]);
        clipOfExact[i] = Math.max(e[i], 0);
      }
      java.util.Arrays.sort(absOfExact);
      for (int i = 0; i < n; i++) {
        assertEquals(absOfExact[i], a[i], 1e-10, "eigenvalues of the abs-modified residual are |eigenvalues|");
        assertEquals(clipOfExact[i], k[i], 1e-10, "eigenvalues of the clipped residual are max(eigenvalue, 0)");
      }
    }
    assertTrue(sawNegative, "the gated residual should be indefinite for random data (otherwise this test shows nothing)");
  }

  @Test
  void swishAndEluHaveDiagonalResidualsModifiedEntrywise() {
    for (String name : new String[] {"swish", "elu"}) {
      ModuleOperator op = BuiltInOperators.module(name, be, Map.of("n", 6));
      assertEquals(ResidualKind.DIAGONAL, op.residualKind("x"), name);
      assertEquals(PchMethod.ELEMENTWISE, ResidualPolicy.pchMethod(op.residualKind("x")), name);
      ForwardCache c = op.forward(Map.of("x", random(2, 6, 1)));
      Batch dz = random(2, 6, 1);
      double[] d = be.toArray(ResidualPolicy.of(ResidualModification.NONE).diagonal(op, c, "x", dz));
      double[] a = be.toArray(ResidualPolicy.of(ResidualModification.ABS).diagonal(op, c, "x", dz));
      double[] k = be.toArray(ResidualPolicy.of(ResidualModification.CLIP).diagonal(op, c, "x", dz));
      for (int i = 0; i < d.length; i++) {
        assertEquals(Math.abs(d[i]), a[i], 0, name);
        assertEquals(Math.max(d[i], 0), k[i], 0, name);
      }
    }
  }

  @Test
  void clearErrorsForBadUse() {
    IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class, () -> BuiltInOperators.module("nope", be, Map.of()));
    assertTrue(unknown.getMessage().contains("no built-in module or loss named 'nope'"), unknown.getMessage());
    IllegalArgumentException dims = assertThrows(IllegalArgumentException.class, () -> BuiltInOperators.module("linear", be, Map.of("n", 3)));
    assertEquals("linear: dimension 'm' is not given; given [n]", dims.getMessage());
    IllegalArgumentException loss = assertThrows(IllegalArgumentException.class, () -> BuiltInOperators.module("crossentropy", be, Map.of("c", 3)));
    assertTrue(loss.getMessage().contains("is a loss"), loss.getMessage());
    ModuleOperator lin = BuiltInOperators.module("linear", be, Map.of("n", 3, "m", 2));
    IllegalArgumentException shape = assertThrows(IllegalArgumentException.class,
        () -> lin.forward(Map.of("x", random(4, 3, 1), "W", random(1, 3, 2), "b", random(1, 2, 1))));
    assertEquals("linear.forward: 'W' has items 3x2, expected 2x3", shape.getMessage());
    IllegalArgumentException missing = assertThrows(IllegalArgumentException.class, () -> lin.forward(Map.of("x", random(4, 3, 1))));
    assertEquals("linear.forward: no value for 'W'; expected values for [x, W, b]", missing.getMessage());
    IllegalArgumentException samples = assertThrows(IllegalArgumentException.class,
        () -> lin.forward(Map.of("x", random(4, 3, 1), "W", random(3, 2, 3), "b", random(1, 2, 1))));
    assertEquals("linear.forward: 'W' has 3 samples but 'x' has 4", samples.getMessage());
    ForwardCache c = lin.forward(Map.of("x", random(4, 3, 1), "W", random(1, 2, 3), "b", random(1, 2, 1)));
    IllegalArgumentException dir = assertThrows(IllegalArgumentException.class, () -> lin.jacMatProd(c, "W", random(1, 5, 1)));
    assertEquals("linear.jacMatProd_W: directions [1 x 1] 5x1 do not have the shape of 'W', 2x3", dir.getMessage());
    IllegalArgumentException wrt = assertThrows(IllegalArgumentException.class, () -> lin.jacMatProd(c, "q", random(1, 3, 1)));
    assertTrue(wrt.getMessage().startsWith("linear: no variable named 'q'"), wrt.getMessage());
    IllegalStateException diag = assertThrows(IllegalStateException.class,
        () -> BuiltInOperators.module("gated", be, Map.of("n", 2, "m", 2)).residualDiagonal(null, "x", null));
    assertTrue(diag.getMessage().contains("not diagonal"), diag.getMessage());
  }
}
