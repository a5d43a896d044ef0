package org.hbp.backend.blas;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.util.Random;
import java.util.function.BinaryOperator;
import org.hbp.backend.Batch;
import org.hbp.backend.Precision;
import org.junit.jupiter.api.Test;

/**
 * The float32 BLAS backend's entrywise sums, differences, products and quotients by oneDNN's binary
 * kernels give what IEEE float arithmetic gives, bit for bit: each result entry equals the float
 * rounding of the exact (double) operation on the stored float entries (for +, -, *, / the double
 * result rounded once to float is the correctly rounded float result), with every broadcast.
 */
class DnnlBinaryTest {
  private final BlasBackend be = new BlasBackend(Precision.FLOAT32);
  private final Random rng = new Random(11);

  private Batch random(int samples, int directions, int rows, int cols) {
    double[] d = new double[samples * directions * rows * cols];
    for (int i = 0; i < d.length; i++) d[i] = rng.nextGaussian() + (rng.nextBoolean() ? 0.75 : -0.75); // away from 0 for divide
    return be.fromArray(samples, directions, rows, cols, d);
  }

  private void check(String name, BinaryOperator<Batch> kernel, java.util.function.DoubleBinaryOperator exact) {
    int[][] axes = {{3, 4, 3, 4}, {1, 4, 3, 4}, {3, 1, 3, 4}, {3, 4, 1, 4}, {3, 4, 3, 1}, {1, 1, 3, 4}, {3, 4, 1, 1}};
    int[][] items = {{50, 40, 50, 40}, {50, 40, 1, 1}, {1, 1, 50, 40}};
    for (int[] ax : axes)
      for (int[] it : items) {
        Batch a = random(ax[0], ax[1], it[0], it[1]), b = random(ax[2], ax[3], it[2], it[3]);
        Batch out = kernel.apply(a, b);
        assertNotNull(out);
        int samples = Math.max(ax[0], ax[2]), directions = Math.max(ax[1], ax[3]), rows = Math.max(it[0], it[2]), cols = Math.max(it[1], it[3]);
        double[] x = be.toArray(a), y = be.toArray(b), o = be.toArray(out);
        int n = rows * cols, xn = it[0] * it[1], yn = it[2] * it[3];
        for (int s = 0; s < samples; s++)
          for (int v = 0; v < directions; v++)
            for (int p = 0; p < n; p++) {
              int xi = ((ax[0] == 1 ? 0 : s) * ax[1] + (ax[1] == 1 ? 0 : v)) * xn + (xn == 1 ? 0 : p);
              int yi = ((ax[2] == 1 ? 0 : s) * ax[3] + (ax[3] == 1 ? 0 : v)) * yn + (yn == 1 ? 0 : p);
              double want = (float) exact.applyAsDouble(x[xi], y[yi]);
              assertEquals(want, o[(s * directions + v) * n + p], 0.0,
                  () -> name + " axes " + java.util.Arrays.toString(ax) + " items " + java.util.Arrays.toString(it));
            }
        be.release(out);
      }
  }

  @Test
  void entrywiseOperationsAreIeeeFloatWithEveryBroadcast() {
    check("add", be::add, (p, q) -> p + q);
    check("subtract", be::subtract, (p, q) -> p - q);
    check("multiply", be::multiply, (p, q) -> p * q);
    check("divide", be::divide, (p, q) -> p / q);
  }
}
