package org.hbp.backend.blas;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.hbp.backend.ConvGeometry;
import org.hbp.backend.Precision;
import org.junit.jupiter.api.Test;

/**
 * The float64 direct convolutions ({@link VectorConvolution}, through {@link BlasConvolutions} with
 * {@code direct} on) against the naive loops over the definition of {@link BlasConvolutionsTest}:
 * {@code Z[o, oy + outH·ox] = b[o] + Σ W[o, (ch·k + ki)·k + kj] · X[ch, oy·s - p + ki·d, ox·s - p +
 * kj·d]} (X zero outside), and its adjoint {@code fold(W' Y)} by scattering every term: for every mix of the
 * kernel's channel blocks (32, 16 and 8 output channels), pixel counts that leave partial blocks,
 * strides, dilations and paddings, on batches with samples and directions. On a machine without
 * AVX-512 the Vector API emulates the 8-double vectors: the same results, slower.
 */
class VectorConvolutionTest {
  /** Input channels multiples of 8, so that the stride-1 adjoints (c output channels) run the kernel too. */
  private static final ConvGeometry[] GEOMETRIES = {
      new ConvGeometry(8, 5, 5, 3, 1, 1, 1), // c4d3's kind, 25 pixels: partial blocks of 6 and of 8
      new ConvGeometry(16, 7, 6, 3, 2, 1, 2), // stride 2, dilation 2
      new ConvGeometry(8, 6, 5, 1, 1, 0, 1), // 1x1
      new ConvGeometry(24, 8, 4, 2, 2, 0, 1), // no padding, non-square input
      new ConvGeometry(8, 7, 5, 3, 1, 2, 2), // stride 1, dilation 2: the adjoint padded by d(k-1)-p = 2
      new ConvGeometry(16, 6, 5, 3, 1, 0, 1), // stride 1, no padding: the adjoint padded by k-1
      new ConvGeometry(8, 5, 4, 2, 1, 2, 1)}; // padding beyond the kernel's span: the adjoint multiplies and folds
  /** Output channels: one block of each kind alone, and mixes (56 = 32 + 16 + 8, 88 = 2·32 + 16 + 8). */
  private static final int[] COUTS = {8, 16, 24, 32, 40, 56, 88};
  private static final int SAMPLES = 3, DIRECTIONS = 2;

  private final BlasBackend be = new BlasBackend(Precision.FLOAT64, 2);
  private final Random rng = new Random(23);

  private BlasConvolutions direct() {
    return new BlasConvolutions(be, be.products, 2, BlasConvolutions.CHUNK_BYTES, true);
  }

  /** The test JVM runs with the Vector API (the pom's argLine, as ./hbp starts it): without it, this route would go untested. */
  @Test
  void testJvmHasTheVectorApi() {
    assertTrue(ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent(), "surefire's argLine lacks --add-modules jdk.incubator.vector");
  }

  @Test
  void convolutionMatchesNaiveLoops() {
    for (ConvGeometry g : GEOMETRIES)
      for (int cout : COUTS)
        for (boolean withBias : new boolean[] {false, true}) {
          double[] w = rng.doubles((long) cout * g.patchRows(), -1, 1).toArray();
          double[] x = rng.doubles((long) SAMPLES * DIRECTIONS * g.inputSize(), -1, 1).toArray();
          double[] b = withBias ? rng.doubles(cout, -1, 1).toArray() : null;
          BlasBatch got = direct().convolution(batch(1, 1, cout, g.patchRows(), w), batch(SAMPLES, DIRECTIONS, g.c(), g.h() * g.w(), x), g,
              b == null ? null : batch(1, 1, cout, 1, b));
          String what = "direct convolution " + g + ", " + cout + " output channels, bias " + withBias;
          assertEquals(SAMPLES, got.samples(), what);
          assertEquals(DIRECTIONS, got.directions(), what);
          assertEquals(cout, got.rows(), what);
          assertEquals(g.patches(), got.cols(), what);
          double[][] want = BlasConvolutionsTest.naiveConvolution(g, cout, w, x, b, SAMPLES * DIRECTIONS);
          BlasConvolutionsTest.assertNear(want[0], want[1], be.toArray(got), what);
        }
  }

  @Test
  void adjointMatchesNaiveLoops() {
    for (ConvGeometry g : GEOMETRIES)
      for (int cout : new int[] {3, 16, 40}) {
        double[] w = rng.doubles((long) cout * g.patchRows(), -1, 1).toArray();
        double[] y = rng.doubles((long) SAMPLES * DIRECTIONS * cout * g.patches(), -1, 1).toArray();
        BlasBatch got = direct().convolutionAdjoint(batch(1, 1, cout, g.patchRows(), w), batch(SAMPLES, DIRECTIONS, cout, g.patches(), y), g);
        String what = "direct route's adjoint " + g + ", " + cout + " output channels";
        assertEquals(g.c(), got.rows(), what);
        assertEquals(g.h() * g.w(), got.cols(), what);
        double[][] want = BlasConvolutionsTest.naiveAdjoint(g, cout, w, y, SAMPLES * DIRECTIONS);
        BlasConvolutionsTest.assertNear(want[0], want[1], be.toArray(got), what);
      }
  }

  /** A result block over 2 GiB has no NIO buffer: the kernel then stores each item into a buffer of its own, copied into the block. */
  @Test
  void resultsStagedThroughAnItemBufferAreTheSame() {
    for (ConvGeometry g : new ConvGeometry[] {GEOMETRIES[0], GEOMETRIES[1]})
      for (int cout : new int[] {16, 56}) {
        BlasBatch w = batch(1, 1, cout, g.patchRows(), rng.doubles((long) cout * g.patchRows(), -1, 1).toArray());
        BlasBatch x = batch(SAMPLES, DIRECTIONS, g.c(), g.h() * g.w(), rng.doubles((long) SAMPLES * DIRECTIONS * g.inputSize(), -1, 1).toArray());
        BlasBatch y = batch(SAMPLES, DIRECTIONS, cout, g.patches(), rng.doubles((long) SAMPLES * DIRECTIONS * cout * g.patches(), -1, 1).toArray());
        assertArrayEquals(be.toArray(direct().convolution(w, x, g, null)), be.toArray(direct().staged().convolution(w, x, g, null)), 0,
            g + ", " + cout + " channels, forward");
        assertArrayEquals(be.toArray(direct().convolutionAdjoint(w, y, g)), be.toArray(direct().staged().convolutionAdjoint(w, y, g)), 0,
            g + ", " + cout + " channels, adjoint");
      }
  }

  /**
   * The kernel on a matrix's columns ({@link VectorConvolution#columns}): D products {@code F_d U}
   * at once, each its own output item, against naive loops; with partial pixel blocks (n not a
   * multiple of 6, 8 or 12) and every mix of channel blocks within an item.
   */
  @Test
  void columnsKernelComputesEachDirectionsProduct() {
    for (int m : new int[] {8, 16, 24, 40, 56})
      for (int directions : new int[] {1, 3})
        for (int n : new int[] {1, 7, 64, 70}) {
          int k = 19;
          double[] f = rng.doubles((long) directions * m * k, -1, 1).toArray(), u = rng.doubles((long) k * n, -1, 1).toArray();
          VectorConvolution kernel = VectorConvolution.columns(f, m, k, n, directions);
          java.nio.ByteBuffer out = java.nio.ByteBuffer.allocateDirect(directions * m * n * Double.BYTES + 16).order(java.nio.ByteOrder.nativeOrder());
          double[] input = kernel.newInput();
          System.arraycopy(u, 0, input, 0, u.length);
          kernel.apply(input, out, 16);
          for (int d = 0; d < directions; d++)
            for (int col = 0; col < n; col++)
              for (int o = 0; o < m; o++) {
                double want = 0, magnitude = 0;
                for (int j = 0; j < k; j++) {
                  double term = f[d * m * k + o + m * j] * u[j + k * col];
                  want += term;
                  magnitude += Math.abs(term);
                }
                assertEquals(want, out.getDouble(16 + ((d * n + col) * m + o) * Double.BYTES), 1e-14 * magnitude,
                    m + " rows, " + directions + " directions, " + n + " columns: direction " + d + " (" + o + ", " + col + ")");
              }
        }
  }

  /**
   * Weight gradients summed over the samples, per direction ({@code sum_n Y_nd unfold(X_n)'}), against
   * naive loops over the definition; the same bit for bit from run to run (fixed chunks of samples,
   * summed in order); declined (null) for output channels not a multiple of 8.
   */
  @Test
  void weightGradientsMatchNaiveLoops() {
    for (ConvGeometry g : GEOMETRIES)
      for (int cout : new int[] {8, 24, 40})
        for (int samples : new int[] {1, 9}) {
          int rows = g.patchRows(), patches = g.patches();
          double[] y = rng.doubles((long) samples * DIRECTIONS * cout * patches, -1, 1).toArray();
          double[] x = rng.doubles((long) samples * g.inputSize(), -1, 1).toArray();
          BlasBatch yb = batch(samples, DIRECTIONS, cout, patches, y), xb = batch(samples, 1, g.c(), g.h() * g.w(), x);
          BlasBatch got = direct().weightGradient(yb, xb, g);
          String what = "weight gradients " + g + ", " + cout + " channels, " + samples + " samples";
          assertEquals(1, got.samples(), what);
          assertEquals(DIRECTIONS, got.directions(), what);
          assertEquals(cout, got.rows(), what);
          assertEquals(rows, got.cols(), what);
          double[] want = new double[DIRECTIONS * cout * rows], magnitude = new double[want.length];
          int k = g.k(), outH = g.outH();
          for (int n = 0; n < samples; n++)
            for (int d = 0; d < DIRECTIONS; d++)
              for (int p = 0; p < patches; p++)
                for (int o = 0; o < cout; o++)
                  for (int ch = 0; ch < g.c(); ch++)
                    for (int ki = 0; ki < k; ki++)
                      for (int kj = 0; kj < k; kj++) {
                        int yy = (p % outH) * g.s() - g.p() + ki * g.d(), xx = (p / outH) * g.s() - g.p() + kj * g.d();
                        if (yy < 0 || yy >= g.h() || xx < 0 || xx >= g.w()) continue;
                        double term = y[((n * DIRECTIONS + d) * patches + p) * cout + o] * x[n * g.inputSize() + ch + g.c() * (yy + g.h() * xx)];
                        int at = d * cout * rows + o + cout * ((ch * k + ki) * k + kj);
                        want[at] += term;
                        magnitude[at] += Math.abs(term);
                      }
          double[] values = be.toArray(got);
          BlasConvolutionsTest.assertNear(want, magnitude, values, what);
          assertArrayEquals(values, be.toArray(direct().weightGradient(yb, xb, g)), 0, what + ", run 2");
        }
    ConvGeometry g = GEOMETRIES[0];
    assertNull(direct().weightGradient(batch(2, 1, 4, g.patches(), new double[8 * g.patches()]), batch(2, 1, g.c(), g.h() * g.w(), new double[2 * g.inputSize()]), g));
  }

  /** Output channels not a multiple of 8: the direct route leaves them to unfold and gemm, with the same values. */
  @Test
  void otherChannelCountsTakeTheGemmRoute() {
    ConvGeometry g = GEOMETRIES[0];
    for (int cout : new int[] {1, 4, 12, 30}) {
      assertTrue(!VectorConvolution.supports(cout), cout + " channels");
      double[] w = rng.doubles((long) cout * g.patchRows(), -1, 1).toArray();
      double[] x = rng.doubles((long) SAMPLES * DIRECTIONS * g.inputSize(), -1, 1).toArray();
      BlasBatch got = direct().convolution(batch(1, 1, cout, g.patchRows(), w), batch(SAMPLES, DIRECTIONS, g.c(), g.h() * g.w(), x), g, null);
      double[][] want = BlasConvolutionsTest.naiveConvolution(g, cout, w, x, null, SAMPLES * DIRECTIONS);
      BlasConvolutionsTest.assertNear(want[0], want[1], be.toArray(got), "convolution with " + cout + " output channels");
    }
  }

  /** c4d3's second convolution: the two routes agree to float64 rounding, and the direct one is the same bit for bit from run to run. */
  @Test
  void routesAgreeAndTheDirectOneRepeatsBitForBit() {
    ConvGeometry g = new ConvGeometry(16, 32, 32, 3, 1, 1, 1);
    int cout = 32, items = 20;
    BlasBatch w = batch(1, 1, cout, g.patchRows(), rng.doubles((long) cout * g.patchRows(), -1, 1).toArray());
    BlasBatch x = batch(10, 2, g.c(), g.h() * g.w(), rng.doubles((long) items * g.inputSize(), -1, 1).toArray());
    BlasBatch y = batch(10, 2, cout, g.patches(), rng.doubles((long) items * cout * g.patches(), -1, 1).toArray());
    BlasConvolutions gemm = new BlasConvolutions(be, be.products, 2, BlasConvolutions.CHUNK_BYTES, false), direct = direct();
    double[] z = be.toArray(direct.convolution(w, x, g, null)), xa = be.toArray(direct.convolutionAdjoint(w, y, g));
    assertArrayEquals(be.toArray(gemm.convolution(w, x, g, null)), z, 1e-12, "forward: direct against unfold and gemm");
    assertArrayEquals(be.toArray(gemm.convolutionAdjoint(w, y, g)), xa, 1e-12, "adjoint: direct against unfold and gemm");
    for (int run = 0; run < 3; run++) {
      assertArrayEquals(z, be.toArray(direct.convolution(w, x, g, null)), 0, "forward, run " + run);
      assertArrayEquals(xa, be.toArray(direct.convolutionAdjoint(w, y, g)), 0, "adjoint, run " + run);
    }
  }

  private BlasBatch batch(int samples, int directions, int rows, int cols, double[] data) {
    return (BlasBatch) be.fromArray(samples, directions, rows, cols, data);
  }
}
