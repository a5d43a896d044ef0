package org.hbp.backend.blas;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.hbp.backend.Batch;
import org.hbp.backend.Precision;
import org.junit.jupiter.api.Test;

/**
 * float32 matrix products on oneDNN's matmul primitive (a backend with all cores' threads, the default) and on
 * OpenBLAS's (a backend asked for one thread) against the float64 product of the same stored
 * entries, for every transpose pattern and the batch layouts that reach the gemm paths (one shared
 * left item, a left item per sample, one gemm per item), alone and accumulated onto a matrix c
 * broadcast over the batch ({@code matmulAdd}): each within float32 accumulation error.
 */
class SgemmLibrariesTest {
  private final Random rng = new Random(5);

  private static double[] random(Random rng, int n) {
    double[] d = new double[n];
    for (int i = 0; i < d.length; i++) d[i] = rng.nextGaussian();
    return d;
  }

  @Test
  void oneDnnIsTheDefaultWithAllCoresOnly() {
    assertEquals("oneDNN", new BlasBackend(Precision.FLOAT32).sgemmLibrary(), "oneDNN loads on this machine: float32 products run on its matmul primitive");
    assertEquals("OpenBLAS", new BlasBackend(Precision.FLOAT64).sgemmLibrary());
    if (Runtime.getRuntime().availableProcessors() > 1)
      assertEquals("OpenBLAS", new BlasBackend(Precision.FLOAT32, 1).sgemmLibrary(), "oneDNN's threads are OpenMP's: one thread keeps OpenBLAS");
  }

  @Test
  void bothLibrariesGiveTheFloat64ProductToFloatAccuracy() {
    BlasBackend onednn = new BlasBackend(Precision.FLOAT32), openblas = new BlasBackend(Precision.FLOAT32, 1);
    BlasBackend f64 = new BlasBackend(Precision.FLOAT64);
    int m = 67, k = 71, n = 61;
    assertTrue((long) m * n * k >= BlasProducts.ONEDNN_MIN_VOLUME, "a product large enough for oneDNN");
    int[][] axes = {{1, 1, 3, 2}, {3, 1, 3, 2}, {3, 2, 3, 2}};
    for (int[] ax : axes)
      for (boolean ta : new boolean[] {false, true})
        for (boolean tb : new boolean[] {false, true}) {
          double[] a = random(rng, ax[0] * ax[1] * m * k), b = random(rng, ax[2] * ax[3] * k * n);
          int ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
          // the float32 operands' stored entries, multiplied in float64 as the reference
          double[] af = onednn.toArray(onednn.fromArray(ax[0], ax[1], ar, ac, a));
          double[] bf = onednn.toArray(onednn.fromArray(ax[2], ax[3], br, bc, b));
          double[] c = random(rng, m * n), cf = onednn.toArray(onednn.fromArray(1, 1, m, n, c));
          double[] want = f64.toArray(f64.matmul(f64.fromArray(ax[0], ax[1], ar, ac, af), ta, f64.fromArray(ax[2], ax[3], br, bc, bf), tb));
          for (BlasBackend be : new BlasBackend[] {onednn, openblas}) {
            Batch got = be.matmul(be.fromArray(ax[0], ax[1], ar, ac, a), ta, be.fromArray(ax[2], ax[3], br, bc, b), tb);
            double[] g = be.toArray(got);
            assertEquals(want.length, g.length);
            double worst = 0;
            for (int i = 0; i < g.length; i++) worst = Math.max(worst, Math.abs(g[i] - want[i]) / (1 + Math.abs(want[i])));
            String what = (be == onednn ? "oneDNN" : "OpenBLAS") + " axes " + java.util.Arrays.toString(ax) + " ta " + ta + " tb " + tb;
            assertTrue(worst < 1e-5, what + ": relative error " + worst);
            // the product accumulated onto c (gemm's beta = 1; oneDNN's sum post-op): a layer's W x + b
            Batch sum = be.matmulAdd(be.fromArray(ax[0], ax[1], ar, ac, a), ta, be.fromArray(ax[2], ax[3], br, bc, b), tb, be.fromArray(1, 1, m, n, c));
            double[] gs = be.toArray(sum);
            double worstSum = 0;
            for (int i = 0; i < gs.length; i++) {
              double w = want[i] + cf[i % (m * n)];
              worstSum = Math.max(worstSum, Math.abs(gs[i] - w) / (1 + Math.abs(w)));
            }
            assertTrue(worstSum < 1e-5, what + ", plus c: relative error " + worstSum);
          }
        }
  }
}
