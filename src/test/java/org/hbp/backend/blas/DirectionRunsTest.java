package org.hbp.backend.blas;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import org.hbp.backend.Backend;
import org.hbp.backend.Precision;
import org.hbp.backend.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

/**
 * A convolution's filter directions times its unfolded inputs ({@code J_W v}) in runs of samples
 * ({@link BlasProducts#directionsRunBytes}): whatever the run (one sample, two, a last shorter
 * one, the whole batch), the CPU backend's products, in float32 and float64 (m = 12 keeps float64
 * off its direct kernels, on the gemms per direction).
 */
class DirectionRunsTest {
  @Test
  void everyRunLengthGivesTheCpuBackendsProducts() {
    Backend cpu = new CpuBackend();
    Random rng = new Random(5);
    int samples = 5, directions = 3, m = 12, k = 27, n = 70;
    double[] a = new double[directions * m * k], b = new double[samples * k * n];
    for (int i = 0; i < a.length; i++) a[i] = (float) rng.nextGaussian();
    for (int i = 0; i < b.length; i++) b[i] = (float) rng.nextGaussian();
    double[] want = cpu.toArray(cpu.matmul(cpu.fromArray(1, directions, m, k, a), false, cpu.fromArray(samples, 1, k, n, b), false));
    long saved = BlasProducts.directionsRunBytes;
    try {
      for (Precision p : Precision.values()) {
        long item = (long) k * n * p.bytes();
        for (long runBytes : new long[] {1, item, 2 * item, 2 * item + 1, 5 * item, Long.MAX_VALUE}) {
          BlasProducts.directionsRunBytes = runBytes;
          Backend blas = new BlasBackend(p);
          double[] got = blas.toArray(blas.matmul(blas.fromArray(1, directions, m, k, a), false, blas.fromArray(samples, 1, k, n, b), false));
          for (int i = 0; i < want.length; i++)
            assertEquals(want[i], got[i], p == Precision.FLOAT32 ? 1e-4 * (1 + Math.abs(want[i])) : 1e-12, p + ", runs of " + runBytes + " bytes [" + i + "]");
        }
      }
    } finally {
      BlasProducts.directionsRunBytes = saved;
    }
    assertEquals(1, BlasProducts.samplesPerRun(100, 5, 1));
    assertEquals(2, BlasProducts.samplesPerRun(100, 5, 299));
    assertEquals(5, BlasProducts.samplesPerRun(100, 5, Long.MAX_VALUE));
  }
}
