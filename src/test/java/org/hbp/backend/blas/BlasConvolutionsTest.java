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
 * The chunked unfold-and-gemm convolutions of the float64 BLAS backend ({@link BlasConvolutions}, direct kernels off)
 * against naive loops over the definition written here: {@code Z = W unfold(X) + b 1'} and its
 * adjoint {@code fold(W' Y)}, entry by entry from the index formulas of {@link ConvGeometry}, for
 * chunks of one item per thread, of a few items (the last chunk shorter) and of the whole batch,
 * on batches with samples and directions.
 */
class BlasConvolutionsTest {
  private static final ConvGeometry[] GEOMETRIES = {
      new ConvGeometry(2, 5, 5, 3, 1, 1, 1), // c4d3's kind: 3x3, stride 1, same padding
      new ConvGeometry(3, 7, 6, 3, 2, 1, 2), // stride 2, dilation 2
      new ConvGeometry(4, 6, 5, 1, 1, 0, 1), // 1x1
      new ConvGeometry(1, 8, 4, 2, 2, 0, 1), // no padding, non-square input
      new ConvGeometry(3, 7, 5, 3, 1, 2, 2), // stride 1, dilation 2, odd sizes: the adjoint a convolution padded by d(k-1)-p = 2
      new ConvGeometry(2, 6, 5, 3, 1, 0, 1), // stride 1, no padding: the adjoint a convolution padded by k-1
      new ConvGeometry(2, 5, 4, 2, 1, 2, 1)}; // padding beyond the kernel's span (p > d(k-1)): the adjoint multiplies and folds
  private static final int SAMPLES = 5, DIRECTIONS = 3, COUT = 4;

  private final BlasBackend be = new BlasBackend(Precision.FLOAT64, 2);
  private final Random rng = new Random(17);

  /** Chunk sizes in bytes for geometry g: one item per thread, three items, everything. */
  private static long[] chunkBytes(ConvGeometry g) {
    long item = (long) g.patchRows() * g.patches() * Double.BYTES;
    return new long[] {1, 3 * item, 1L << 30};
  }

  private BlasConvolutions convolutions(long chunkBytes) {
    return new BlasConvolutions(be, be.products, 2, chunkBytes, false);
  }

  @Test
  void convolutionMatchesNaiveLoops() {
    for (ConvGeometry g : GEOMETRIES)
      for (long bytes : chunkBytes(g))
        for (boolean withBias : new boolean[] {false, true}) {
          double[] w = rng.doubles((long) COUT * g.patchRows(), -1, 1).toArray();
          double[] x = rng.doubles((long) SAMPLES * DIRECTIONS * g.inputSize(), -1, 1).toArray();
          double[] b = withBias ? rng.doubles(COUT, -1, 1).toArray() : null;
          BlasBatch got = convolutions(bytes).convolution(batch(1, 1, COUT, g.patchRows(), w), batch(SAMPLES, DIRECTIONS, g.c(), g.h() * g.w(), x), g,
              b == null ? null : batch(1, 1, COUT, 1, b));
          String what = "convolution " + g + ", chunk " + bytes + " bytes, bias " + withBias;
          assertEquals(SAMPLES, got.samples(), what);
          assertEquals(DIRECTIONS, got.directions(), what);
          assertEquals(COUT, got.rows(), what);
          assertEquals(g.patches(), got.cols(), what);
          double[][] want = naiveConvolution(g, COUT, w, x, b, SAMPLES * DIRECTIONS);
          assertNear(want[0], want[1], be.toArray(got), what);
        }
  }

  @Test
  void convolutionAdjointMatchesNaiveLoops() {
    for (ConvGeometry g : GEOMETRIES)
      for (long bytes : chunkBytes(g)) {
        double[] w = rng.doubles((long) COUT * g.patchRows(), -1, 1).toArray();
        double[] y = rng.doubles((long) SAMPLES * DIRECTIONS * COUT * g.patches(), -1, 1).toArray();
        BlasBatch got = convolutions(bytes).convolutionAdjoint(batch(1, 1, COUT, g.patchRows(), w), batch(SAMPLES, DIRECTIONS, COUT, g.patches(), y), g);
        String what = "convolutionAdjoint " + g + ", chunk " + bytes + " bytes";
        assertEquals(SAMPLES, got.samples(), what);
        assertEquals(DIRECTIONS, got.directions(), what);
        assertEquals(g.c(), got.rows(), what);
        assertEquals(g.h() * g.w(), got.cols(), what);
        double[][] want = naiveAdjoint(g, COUT, w, y, SAMPLES * DIRECTIONS);
        assertNear(want[0], want[1], be.toArray(got), what);
      }
  }

  /** The backend itself takes the chunked route for a shared filter item and gives the naive loops' values. */
  @Test
  void backendConvolutionsOfManyDirectionsMatchNaiveLoops() {
    ConvGeometry g = GEOMETRIES[0];
    double[] w = rng.doubles((long) COUT * g.patchRows(), -1, 1).toArray();
    double[] x = rng.doubles((long) SAMPLES * DIRECTIONS * g.inputSize(), -1, 1).toArray();
    double[] y = rng.doubles((long) SAMPLES * DIRECTIONS * COUT * g.patches(), -1, 1).toArray();
    BlasBatch wb = batch(1, 1, COUT, g.patchRows(), w);
    double[][] want = naiveConvolution(g, COUT, w, x, null, SAMPLES * DIRECTIONS);
    assertNear(want[0], want[1], be.toArray(be.convolution(wb, batch(SAMPLES, DIRECTIONS, g.c(), g.h() * g.w(), x), g, null)), "backend convolution");
    double[][] wantAdjoint = naiveAdjoint(g, COUT, w, y, SAMPLES * DIRECTIONS);
    assertNear(wantAdjoint[0], wantAdjoint[1], be.toArray(be.convolutionAdjoint(wb, batch(SAMPLES, DIRECTIONS, COUT, g.patches(), y), g)),
        "backend convolutionAdjoint");
  }

  /** Filters that vary over the batch (a filter per direction) are not this route's: it declines, and the backend's default computes them. */
  @Test
  void declinesFiltersWithBatchAxes() {
    ConvGeometry g = GEOMETRIES[0];
    BlasBatch w = batch(1, DIRECTIONS, COUT, g.patchRows(), rng.doubles((long) DIRECTIONS * COUT * g.patchRows(), -1, 1).toArray());
    BlasBatch x = batch(SAMPLES, 1, g.c(), g.h() * g.w(), rng.doubles((long) SAMPLES * g.inputSize(), -1, 1).toArray());
    BlasBatch y = batch(SAMPLES, DIRECTIONS, COUT, g.patches(), rng.doubles((long) SAMPLES * DIRECTIONS * COUT * g.patches(), -1, 1).toArray());
    assertNull(convolutions(1).convolution(w, x, g, null));
    assertNull(convolutions(1).convolutionAdjoint(w, y, g));
  }

  @Test
  void chunksHoldTheirBytesAtLeastOneItemAndAtMostAShareOfTheBatchPerThread() {
    assertEquals(1, BlasConvolutions.itemsPerChunk(1000, 8, 15, 2, 1));
    assertEquals(3, BlasConvolutions.itemsPerChunk(1000, 8, 15, 2, 3 * 8000 + 7));
    assertEquals(8, BlasConvolutions.itemsPerChunk(1000, 8, 15, 2, 1L << 40), "15 items over 2 threads: chunks of at most 8");
    assertEquals(15, BlasConvolutions.itemsPerChunk(1000, 8, 15, 1, 1L << 40));
    assertEquals(1, BlasConvolutions.itemsPerChunk(1000, 8, 1, 2, 1L << 40));
    assertTrue((long) BlasConvolutions.itemsPerChunk(1 << 20, 8, 1L << 20, 2, 1L << 50) << 20 <= Integer.MAX_VALUE, "scratch entries within an int");
  }

  /**
   * float32 (a backend without oneDNN's convolutions takes this route too): the unfold is staged
   * through a Java array instead of written straight into the block; both routes of the adjoint.
   * Entries within 3e-6 of the sum of their terms' magnitudes: about 50 float32 roundings (2^-24
   * each) for sums of at most 37 terms.
   */
  @Test
  void float32ConvolutionsMatchNaiveLoops() {
    BlasBackend be32 = new BlasBackend(Precision.FLOAT32, 2);
    for (ConvGeometry g : GEOMETRIES)
      for (long bytes : chunkBytes(g)) {
        BlasConvolutions conv = new BlasConvolutions(be32, be32.products, 2, bytes);
        double[] w = floats(rng.doubles((long) COUT * g.patchRows(), -1, 1).toArray());
        double[] x = floats(rng.doubles((long) SAMPLES * DIRECTIONS * g.inputSize(), -1, 1).toArray());
        double[] y = floats(rng.doubles((long) SAMPLES * DIRECTIONS * COUT * g.patches(), -1, 1).toArray());
        BlasBatch wb = (BlasBatch) be32.fromArray(1, 1, COUT, g.patchRows(), w);
        double[] z = be32.toArray(conv.convolution(wb, (BlasBatch) be32.fromArray(SAMPLES, DIRECTIONS, g.c(), g.h() * g.w(), x), g, null));
        double[] xa = be32.toArray(conv.convolutionAdjoint(wb, (BlasBatch) be32.fromArray(SAMPLES, DIRECTIONS, COUT, g.patches(), y), g));
        double[][] want = naiveConvolution(g, COUT, w, x, null, SAMPLES * DIRECTIONS), wantAdjoint = naiveAdjoint(g, COUT, w, y, SAMPLES * DIRECTIONS);
        String what = "float32 " + g + ", chunk " + bytes + " bytes";
        for (int i = 0; i < z.length; i++) assertEquals(want[0][i], z[i], 3e-6 * want[1][i] + 1e-30, what + " convolution entry " + i);
        for (int i = 0; i < xa.length; i++) assertEquals(wantAdjoint[0][i], xa[i], 3e-6 * wantAdjoint[1][i] + 1e-30, what + " adjoint entry " + i);
      }
  }

  /** The values rounded to float32 (exact inputs of a float32 batch). */
  private static double[] floats(double[] v) {
    for (int i = 0; i < v.length; i++) v[i] = (float) v[i];
    return v;
  }

  /** Stride 1 with padding at most the kernel's span: the adjoint is a convolution of Y whose output has the input's size; otherwise none. */
  @Test
  void adjointIsAConvolutionForStrideOneOnly() {
    for (ConvGeometry g : GEOMETRIES) {
      ConvGeometry t = BlasConvolutions.adjointGeometry(g, COUT);
      if (g.s() != 1 || g.p() > g.d() * (g.k() - 1)) {
        assertNull(t, g.toString());
        continue;
      }
      assertEquals(new ConvGeometry(COUT, g.outH(), g.outW(), g.k(), 1, g.d() * (g.k() - 1) - g.p(), g.d()), t, g.toString());
      assertEquals(g.h(), t.outH(), g.toString());
      assertEquals(g.w(), t.outW(), g.toString());
    }
    // the flipped filters, entry by entry: F[ch, (o, i, j)] = W[o, (ch, k-1-i, k-1-j)]
    ConvGeometry g = GEOMETRIES[4];
    int k = g.k(), c = g.c();
    double[] w = rng.doubles((long) COUT * g.patchRows(), -1, 1).toArray(), f = BlasConvolutions.adjointFilters(w, COUT, g);
    for (int o = 0; o < COUT; o++)
      for (int ch = 0; ch < c; ch++)
        for (int i = 0; i < k; i++)
          for (int j = 0; j < k; j++)
            assertEquals(w[o + COUT * ((ch * k + k - 1 - i) * k + k - 1 - j)], f[ch + c * ((o * k + i) * k + j)]);
  }

  /** The threads take chunks in whatever order they get to them: the results are the same bit for bit from run to run. */
  @Test
  void resultsAreTheSameBitForBitFromRunToRun() {
    for (ConvGeometry g : new ConvGeometry[] {GEOMETRIES[0], GEOMETRIES[1]}) {
      double[] w = rng.doubles((long) COUT * g.patchRows(), -1, 1).toArray();
      BlasBatch wb = batch(1, 1, COUT, g.patchRows(), w);
      BlasBatch x = batch(40, 3, g.c(), g.h() * g.w(), rng.doubles(120L * g.inputSize(), -1, 1).toArray());
      BlasBatch y = batch(40, 3, COUT, g.patches(), rng.doubles(120L * COUT * g.patches(), -1, 1).toArray());
      BlasConvolutions conv = convolutions(1);
      double[] z = be.toArray(conv.convolution(wb, x, g, null)), xa = be.toArray(conv.convolutionAdjoint(wb, y, g));
      for (int run = 0; run < 5; run++) {
        assertArrayEquals(z, be.toArray(conv.convolution(wb, x, g, null)), 0, g + " convolution, run " + run);
        assertArrayEquals(xa, be.toArray(conv.convolutionAdjoint(wb, y, g)), 0, g + " adjoint, run " + run);
      }
    }
  }

  @Test
  void chunkedAndSingleChunkResultsAgreeToRounding() {
    // the same products grouped differently: equal up to the gemm's blocking of its sums
    ConvGeometry g = GEOMETRIES[1];
    double[] w = rng.doubles((long) COUT * g.patchRows(), -1, 1).toArray();
    double[] x = rng.doubles((long) SAMPLES * DIRECTIONS * g.inputSize(), -1, 1).toArray();
    double[] a = be.toArray(convolutions(1).convolution(batch(1, 1, COUT, g.patchRows(), w), batch(SAMPLES, DIRECTIONS, g.c(), g.h() * g.w(), x), g, null));
    double[] b = be.toArray(convolutions(1L << 30).convolution(batch(1, 1, COUT, g.patchRows(), w), batch(SAMPLES, DIRECTIONS, g.c(), g.h() * g.w(), x), g, null));
    assertArrayEquals(a, b, 1e-13);
  }

  /** PatchRuns' unfolding, entry by entry, against the definition with rows in (kj, ki, ch) order; and W's columns permuted alike. */
  @Test
  void patchRunsUnfoldTheDefinitionInTheirRowOrder() {
    for (ConvGeometry g : GEOMETRIES) {
      PatchRuns plan = PatchRuns.of(g);
      int c = g.c(), k = g.k(), outH = g.outH(), rows = g.patchRows();
      double[] x = rng.doubles(g.inputSize(), -1, 1).toArray(), u = new double[rows * g.patches()];
      plan.unfold(x, 0, g.patches(), u);
      for (int ox = 0; ox < g.outW(); ox++)
        for (int oy = 0; oy < outH; oy++)
          for (int ch = 0; ch < c; ch++)
            for (int ki = 0; ki < k; ki++)
              for (int kj = 0; kj < k; kj++) {
                int yy = oy * g.s() - g.p() + ki * g.d(), xx = ox * g.s() - g.p() + kj * g.d();
                boolean inside = yy >= 0 && yy < g.h() && xx >= 0 && xx < g.w();
                double want = inside ? x[ch + c * (yy + g.h() * xx)] : 0;
                assertEquals(want, u[((kj * k + ki) * c + ch) + rows * (oy + outH * ox)], g + " column (" + oy + "," + ox + ") row (" + ch + "," + ki + "," + kj + ")");
              }
      // fold is unfold's adjoint: <unfold(x), v> = <x, fold(v)>
      double[] v = rng.doubles(u.length, -1, 1).toArray(), folded = new double[g.inputSize()];
      plan.fold(v, 0, g.patches(), folded);
      double left = 0, right = 0, scale = 0;
      for (int i = 0; i < u.length; i++) {
        left += u[i] * v[i];
        scale += Math.abs(u[i] * v[i]);
      }
      for (int i = 0; i < x.length; i++) right += x[i] * folded[i];
      assertEquals(left, right, 1e-14 * scale, g + ": <unfold(x), v> = <x, fold(v)>");
      double[] w = rng.doubles(3 * rows, -1, 1).toArray(), wp = PatchRuns.permuteColumns(w, 3, g);
      for (int ch = 0; ch < c; ch++)
        for (int ki = 0; ki < k; ki++)
          for (int kj = 0; kj < k; kj++)
            for (int o = 0; o < 3; o++)
              assertEquals(w[o + 3 * ((ch * k + ki) * k + kj)], wp[o + 3 * ((kj * k + ki) * c + ch)], g + " filter column (" + ch + "," + ki + "," + kj + ")");
    }
    // dilation 1, stride 1, same padding: an interior column is k copies of k·c consecutive entries
    ConvGeometry same = new ConvGeometry(16, 32, 32, 3, 1, 1, 1);
    PatchRuns plan = PatchRuns.of(same);
    assertTrue(plan.runCount() <= 3 * same.patches() + 4 * 32 * 3, "runs " + plan.runCount());
  }

  private BlasBatch batch(int samples, int directions, int rows, int cols, double[] data) {
    return (BlasBatch) be.fromArray(samples, directions, rows, cols, data);
  }

  /**
   * {@code Z = W unfold(X) + b 1'} item by item from the definition: {@code Z[o, oy + outH·ox] =
   * b[o] + sum_{ch, ki, kj} W[o, (ch·k + ki)·k + kj] · X[ch, oy·s - p + ki·d, ox·s - p + kj·d]}, the
   * input zero outside it. Returns the values and the sums of the terms' magnitudes (for the
   * rounding bound).
   */
  static double[][] naiveConvolution(ConvGeometry g, int cout, double[] w, double[] x, double[] b, int items) {
    int c = g.c(), h = g.h(), wd = g.w(), k = g.k(), outH = g.outH(), outW = g.outW(), in = g.inputSize(), out = cout * g.patches();
    double[] z = new double[items * out], mag = new double[items * out];
    for (int t = 0; t < items; t++)
      for (int ox = 0; ox < outW; ox++)
        for (int oy = 0; oy < outH; oy++)
          for (int o = 0; o < cout; o++) {
            int at = t * out + o + cout * (oy + outH * ox);
            double sum = b == null ? 0 : b[o], abs = Math.abs(sum);
            for (int ch = 0; ch < c; ch++)
              for (int ki = 0; ki < k; ki++)
                for (int kj = 0; kj < k; kj++) {
                  int yy = oy * g.s() - g.p() + ki * g.d(), xx = ox * g.s() - g.p() + kj * g.d();
                  if (yy < 0 || yy >= h || xx < 0 || xx >= wd) continue;
                  double term = w[o + cout * ((ch * k + ki) * k + kj)] * x[t * in + ch + c * (yy + h * xx)];
                  sum += term;
                  abs += Math.abs(term);
                }
            z[at] = sum;
            mag[at] = abs;
          }
    return new double[][] {z, mag};
  }

  /**
   * {@code fold(W' Y)} item by item from the definition: every term {@code W[o, (ch·k + ki)·k + kj]
   * · Y[o, oy + outH·ox]} added to {@code X[ch, oy·s - p + ki·d, ox·s - p + kj·d]} where that lies
   * in the input. Returns the values and the sums of the terms' magnitudes.
   */
  static double[][] naiveAdjoint(ConvGeometry g, int cout, double[] w, double[] y, int items) {
    int c = g.c(), h = g.h(), wd = g.w(), k = g.k(), outH = g.outH(), outW = g.outW(), in = g.inputSize(), out = cout * g.patches();
    double[] x = new double[items * in], mag = new double[items * in];
    for (int t = 0; t < items; t++)
      for (int ox = 0; ox < outW; ox++)
        for (int oy = 0; oy < outH; oy++)
          for (int o = 0; o < cout; o++)
            for (int ch = 0; ch < c; ch++)
              for (int ki = 0; ki < k; ki++)
                for (int kj = 0; kj < k; kj++) {
                  int yy = oy * g.s() - g.p() + ki * g.d(), xx = ox * g.s() - g.p() + kj * g.d();
                  if (yy < 0 || yy >= h || xx < 0 || xx >= wd) continue;
                  double term = w[o + cout * ((ch * k + ki) * k + kj)] * y[t * out + o + cout * (oy + outH * ox)];
                  x[t * in + ch + c * (yy + h * xx)] += term;
                  mag[t * in + ch + c * (yy + h * xx)] += Math.abs(term);
                }
    return new double[][] {x, mag};
  }

  /** Each entry within 1e-14 of the sum of its terms' magnitudes (a few roundings of float64 sums of a few hundred terms at most). */
  static void assertNear(double[] want, double[] magnitude, double[] got, String what) {
    assertEquals(want.length, got.length, what + ": entries");
    for (int i = 0; i < want.length; i++)
      assertEquals(want[i], got[i], 1e-14 * magnitude[i] + Double.MIN_NORMAL, what + ": entry " + i);
  }
}
