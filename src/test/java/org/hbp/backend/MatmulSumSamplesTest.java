package org.hbp.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import org.hbp.backend.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

/** matmulSumSamples equals the sum over samples of the per-item products (the default). */
class MatmulSumSamplesTest {
  final Backend be = new CpuBackend();
  final Random rng = new Random(6);

  Batch random(int s, int d, int r, int c) {
    double[] x = new double[s * d * r * c];
    for (int i = 0; i < x.length; i++) x[i] = rng.nextGaussian();
    return be.fromArray(s, d, r, c, x);
  }

  @Test
  void everyLayoutAndBroadcastAgreesWithTheSumOfProducts() {
    int[][] axes = {{5, 1, 5, 1}, {5, 3, 5, 3}, {5, 3, 5, 1}, {1, 3, 5, 3}, {5, 1, 1, 1}};
    for (int[] ax : axes)
      for (boolean ta : new boolean[] {false, true})
        for (boolean tb : new boolean[] {false, true}) {
          Batch a = ta ? random(ax[0], ax[1], 4, 3) : random(ax[0], ax[1], 3, 4);
          Batch b = tb ? random(ax[2], ax[3], 2, 4) : random(ax[2], ax[3], 4, 2);
          double[] got = be.toArray(be.matmulSumSamples(a, ta, b, tb));
          double[] ref = be.toArray(be.sumSamples(be.matmul(a, ta, b, tb)));
          assertEquals(ref.length, got.length);
          for (int i = 0; i < ref.length; i++) assertEquals(ref[i], got[i], 1e-12, java.util.Arrays.toString(ax) + " " + ta + tb + " [" + i + "]");
        }
  }
}
