package org.hbp.backend.blas;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.backend.ConvGeometry;
import org.hbp.backend.Precision;
import org.hbp.backend.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

/**
 * A convolution shape that oneDNN rejects is computed by the float32 backend's unfold and gemm
 * instead (the rejection simulated through {@link DnnlEngine#rejectForTesting}), for every
 * convolution kernel (filters in directions too), and the next call of that shape is not asked of
 * oneDNN again.
 */
class DnnlFallbackTest {
  @Test
  void rejectedConvolutionsFallBackToUnfoldAndGemm() {
    BlasBackend f32 = new BlasBackend(Precision.FLOAT32, 2);
    Backend cpu = new CpuBackend();
    assertTrue(f32.directConvolutions(), f32.directConvolutionsUnavailable());
    ConvGeometry rejected = new ConvGeometry(3, 7, 6, 3, 2, 1, 2);
    Random rng = new Random(5);
    int cout = 4, p = rejected.patches();
    double[] w = rng.doubles(cout * rejected.patchRows(), -1, 1).toArray(), x = rng.doubles(2 * 3 * rejected.inputSize(), -1, 1).toArray();
    double[] c = rng.doubles(cout, -1, 1).toArray(), y = rng.doubles(2 * 3 * cout * p, -1, 1).toArray();
    DnnlEngine.rejectForTesting = g -> g.equals(rejected);
    int before = DnnlEngine.get().rejectedShapes();
    try {
      for (int rep = 0; rep < 2; rep++) {
        for (Batch cb : new Batch[] {null, cpu.fromArray(1, 1, cout, 1, c)}) {
          Batch want = cpu.convolution(cpu.fromArray(1, 1, cout, rejected.patchRows(), w), cpu.fromArray(2, 3, 3, 42, x), rejected, cb);
          Batch got = f32.convolution(f32.fromArray(1, 1, cout, rejected.patchRows(), w), f32.fromArray(2, 3, 3, 42, x), rejected,
              cb == null ? null : f32.fromArray(1, 1, cout, 1, c));
          assertNear(cpu.toArray(want), f32.toArray(got), "convolution " + rep);
        }
        Batch ww = cpu.fromArray(1, 1, cout, rejected.patchRows(), w), yy = cpu.fromArray(2, 3, cout, p, y);
        assertNear(cpu.toArray(cpu.convolutionAdjoint(ww, yy, rejected)),
            f32.toArray(f32.convolutionAdjoint(f32.fromArray(1, 1, cout, rejected.patchRows(), w), f32.fromArray(2, 3, cout, p, y), rejected)),
            "adjoint " + rep);
        Batch xx = cpu.fromArray(2, 1, 3, 42, java.util.Arrays.copyOf(x, 2 * 126));
        assertNear(cpu.toArray(cpu.convolutionWeightGradient(yy, xx, rejected)),
            f32.toArray(f32.convolutionWeightGradient(f32.fromArray(2, 3, cout, p, y), f32.fromArray(2, 1, 3, 42, java.util.Arrays.copyOf(x, 2 * 126)),
                rejected)), "weight gradient " + rep);
        // filters in 3 directions over x of one direction (a J_W v): one convolution per direction,
        // each writing every third item, which oneDNN is asked for (and refuses) once
        double[] wd = rng.doubles(3 * cout * rejected.patchRows(), -1, 1).toArray(), x1 = java.util.Arrays.copyOf(x, 2 * 126);
        assertTrue(f32.convolvesDirectly(f32.fromArray(1, 3, cout, rejected.patchRows(), wd), f32.fromArray(2, 1, 3, 42, x1), rejected));
        assertNear(cpu.toArray(cpu.convolution(cpu.fromArray(1, 3, cout, rejected.patchRows(), wd), cpu.fromArray(2, 1, 3, 42, x1), rejected, null)),
            f32.toArray(f32.convolution(f32.fromArray(1, 3, cout, rejected.patchRows(), wd), f32.fromArray(2, 1, 3, 42, x1), rejected, null)),
            "convolution of filters in directions " + rep);
        // five shapes asked once (forward, forward plus c, forward in directions, adjoint, weight
        // gradient), then remembered
        assertEquals(before + 5, DnnlEngine.get().rejectedShapes(), "rejected shapes after round " + rep);
      }
    } finally {
      DnnlEngine.rejectForTesting = g -> false;
    }
  }

  private static void assertNear(double[] want, double[] got, String what) {
    assertEquals(want.length, got.length, what);
    for (int i = 0; i < want.length; i++) assertEquals(want[i], got[i], 1e-5 * Math.max(1, Math.abs(want[i])), what + " entry " + i);
  }
}
