package org.hbp.backend.blas;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.hbp.backend.Batch;
import org.hbp.backend.Precision;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * The gather, scatter-add and window-argmax kernels of the {@link BlasBackend} (a max-pool's
 * forward pass, index map and products; {@link BlasIndexKernels}) in both precisions against loops
 * written here from the definitions of {@link org.hbp.backend.Backend}, bit for bit: a gather
 * copies the stored entries; a scatter-add sums each target entry's terms in index order from
 * zero, in double, rounded once to the stored precision (so with colliding indices of widely
 * spread magnitudes the order and the accumulation precision show in the results). Batches are
 * made large enough for the kernels' loops to be split over the backend's two threads, with
 * broadcast index batches (one sample against many), several directions, padding (-1), signed
 * zeros, infinities and NaN; then the operand errors with their exact messages.
 */
class BlasIndexKernelsTest {
  private static final List<BlasBackend> BACKENDS =
      List.of(new BlasBackend(Precision.FLOAT32, 2), new BlasBackend(Precision.FLOAT64, 2));

  private final Random rng = new Random(20261205);

  // ---- references ------------------------------------------------------------------------------

  /** Entries of a batch [samples x directions] of n-entry items as stored by {@code be} (rounded to float in FLOAT32). */
  private static double[] stored(BlasBackend be, double[] values) {
    double[] s = values.clone();
    if (be.precision() == Precision.FLOAT32) for (int p = 0; p < s.length; p++) s[p] = (float) s[p];
    return s;
  }

  /**
   * gather from the definition: out item (s, v) entry j is x item (s, v) entry idx(s)[j], 0 where
   * the index is -1; x and the index broadcast over samples where they have one.
   */
  private static double[] gatherReference(double[] x, int xSamples, int directions, int n, double[] idx, int idxSamples, int m) {
    int samples = Math.max(xSamples, idxSamples);
    double[] out = new double[samples * directions * m];
    for (int s = 0; s < samples; s++)
      for (int v = 0; v < directions; v++)
        for (int j = 0; j < m; j++) {
          int q = (int) idx[(idxSamples == 1 ? 0 : s) * m + j];
          out[(s * directions + v) * m + j] = q < 0 ? 0 : x[((xSamples == 1 ? 0 : s) * directions + v) * n + q];
        }
    return out;
  }

  /**
   * scatterAdd from the definition: out item (s, v) is zero plus g item (s, v) entry j added at
   * idx(s)[j] for j = 0, 1, ... (or backwards when {@code reversed}), -1 skipped, summed in double
   * ({@code floatSums}: in float) and rounded to float for FLOAT32.
   */
  private static double[] scatterAddReference(double[] g, int gSamples, int directions, int m, double[] idx, int idxSamples, int n,
      Precision precision, boolean reversed, boolean floatSums) {
    int samples = Math.max(gSamples, idxSamples);
    double[] out = new double[samples * directions * n];
    for (int s = 0; s < samples; s++)
      for (int v = 0; v < directions; v++) {
        double[] acc = new double[n];
        float[] facc = new float[n];
        for (int i = 0; i < m; i++) {
          int j = reversed ? m - 1 - i : i;
          int q = (int) idx[(idxSamples == 1 ? 0 : s) * m + j];
          double term = g[((gSamples == 1 ? 0 : s) * directions + v) * m + j];
          if (q < 0) continue;
          acc[q] += term;
          facc[q] += (float) term;
        }
        for (int q = 0; q < n; q++)
          out[(s * directions + v) * n + q] = floatSums ? facc[q] : precision == Precision.FLOAT32 ? (float) acc[q] : acc[q];
      }
    return out;
  }

  /**
   * windowArgmax from the definition: per sample, channel and k x k window of the (c, h, w)
   * column-major tensor, the position {@code ch + c*(y + h*x)} of the first maximum in window order
   * (rows fastest), a NaN always winning (the last NaN of the window).
   */
  private static double[] windowArgmaxReference(double[] x, int samples, int c, int h, int w, int k) {
    int oh = h / k, ow = w / k, in = c * h * w, out = c * oh * ow;
    double[] idx = new double[samples * out];
    for (int s = 0; s < samples; s++)
      for (int ch = 0; ch < c; ch++)
        for (int ox = 0; ox < ow; ox++)
          for (int oy = 0; oy < oh; oy++) {
            int best = -1;
            for (int kx = 0; kx < k; kx++)
              for (int ky = 0; ky < k; ky++) {
                int pos = ch + c * (oy * k + ky + h * (ox * k + kx));
                double val = x[s * in + pos];
                if (best < 0 || Double.isNaN(val) || (!Double.isNaN(x[s * in + best]) && val > x[s * in + best])) best = pos;
              }
            idx[s * out + ch + c * (oy + oh * ox)] = best;
          }
    return idx;
  }

  // ---- data ------------------------------------------------------------------------------------

  /** Entries of widely spread magnitudes and both signs (sums of several depend on their order), with -0, inf and NaN. */
  private double[] values(int length, boolean special) {
    double[] d = new double[length];
    for (int p = 0; p < d.length; p++) d[p] = rng.nextGaussian() * Math.pow(10, rng.nextInt(13) - 6);
    if (special && length > 40) {
      d[3] = -0.0;
      d[17] = Double.POSITIVE_INFINITY;
      d[29] = Double.NaN;
      d[37] = Double.NEGATIVE_INFINITY;
    }
    return d;
  }

  /** Index items of m entries into [0, n), -1 at about one entry in eight; each item a partial permutation when {@code distinct}. */
  private double[] indices(int samples, int m, int n, boolean distinct) {
    double[] idx = new double[samples * m];
    Integer[] perm = new Integer[n];
    for (int s = 0; s < samples; s++) {
      for (int q = 0; q < n; q++) perm[q] = q;
      java.util.Collections.shuffle(Arrays.asList(perm), rng);
      for (int j = 0; j < m; j++) idx[s * m + j] = rng.nextInt(8) == 0 ? -1 : distinct ? perm[j] : rng.nextInt(n);
    }
    return idx;
  }

  /** Releases a batch of NaNs of the given shape, whose block the next allocation of that size may reuse. */
  private static void releaseNaNs(BlasBackend be, int samples, int directions, int rows, int cols) {
    double[] nan = new double[samples * directions * rows * cols];
    Arrays.fill(nan, Double.NaN);
    be.release(be.fromArray(samples, directions, rows, cols, nan));
  }

  // ---- gather ----------------------------------------------------------------------------------

  @Test
  void gatherCopiesTheIndexedEntries() {
    int n = 4096, directions = 4;
    // half of each source item (through arrays) and a few of its entries (read in place)
    assertTrue(BlasIndexKernels.gatherThroughArrays(n, 2048));
    assertFalse(BlasIndexKernels.gatherThroughArrays(n, 64));
    int[][] axes = {{6, 6}, {6, 1}, {1, 6}, {1, 1}}; // x samples, index samples
    for (int m : new int[] {2048, 64})
      for (BlasBackend be : BACKENDS)
        for (int[] ax : axes)
          for (int d : new int[] {1, directions}) {
            double[] x = values(ax[0] * d * n, true), idx = indices(ax[1], m, n, false);
            Batch xb = be.fromArray(ax[0], d, n, 1, x), ib = be.fromArray(ax[1], 1, 64, m / 64, idx);
            int samples = Math.max(ax[0], ax[1]);
            releaseNaNs(be, samples, d, 64, m / 64);
            Batch out = be.gather(xb, ib);
            String what = be.name() + " gather x " + xb.describe() + " index " + ib.describe();
            assertEquals("[" + samples + " x " + d + "] 64x" + m / 64, out.describe(), what);
            assertArrayEquals(gatherReference(stored(be, x), ax[0], d, n, idx, ax[1], m), be.toArray(out), what);
            // the index batch's ints are kept: a second gather gives the same
            assertArrayEquals(be.toArray(out), be.toArray(be.gather(xb, ib)), what + ", again");
          }
  }

  // ---- scatter-add -----------------------------------------------------------------------------

  @Test
  void scatterAddSumsCollidingTermsInIndexOrder() {
    int n = 64, m = 2048; // about 28 terms per target entry
    int[][] axes = {{6, 6}, {6, 1}, {1, 6}, {1, 1}}; // g samples, index samples
    for (BlasBackend be : BACKENDS)
      for (int[] ax : axes)
        for (int d : new int[] {1, 3}) {
          double[] g = values(ax[0] * d * m, true), idx = indices(ax[1], m, n, false);
          Batch gb = be.fromArray(ax[0], d, m, 1, g), ib = be.fromArray(ax[1], 1, m, 1, idx);
          int samples = Math.max(ax[0], ax[1]);
          releaseNaNs(be, samples, d, 8, 8);
          Batch out = be.scatterAdd(gb, ib, 8, 8);
          String what = be.name() + " scatterAdd g " + gb.describe() + " index " + ib.describe();
          assertEquals("[" + samples + " x " + d + "] 8x8", out.describe(), what);
          double[] gs = stored(be, g), want = scatterAddReference(gs, ax[0], d, m, idx, ax[1], n, be.precision(), false, false);
          assertArrayEquals(want, be.toArray(out), what);
          // the data make the order (float64) and summing in float (float32) visible; see also scatterAddSumsInDoubleInIndexOrder
          if (be.precision() == Precision.FLOAT64)
            assertFalse(Arrays.equals(want, scatterAddReference(gs, ax[0], d, m, idx, ax[1], n, be.precision(), true, false)), what);
          else
            assertFalse(Arrays.equals(want, scatterAddReference(gs, ax[0], d, m, idx, ax[1], n, be.precision(), false, true)), what);
        }
  }

  /**
   * Terms whose sum depends on the order, {@code 1 + 2^60 - 2^60 = 0} but {@code -2^60 + 2^60 + 1 =
   * 1}, and on the accumulation precision, {@code 2^24 + 1 + 1 = 2^24 + 2} in double but {@code
   * 2^24} in float (the ties round to even), all representable in float.
   */
  @Test
  void scatterAddSumsInDoubleInIndexOrder() {
    double big = Math.pow(2, 60), f = Math.pow(2, 24);
    for (BlasBackend be : BACKENDS) {
      Batch g = be.fromArray(2, 1, 3, 1, new double[] {1, big, -big, f, 1, 1});
      Batch idx = be.fromArray(2, 1, 3, 1, new double[] {1, 1, 1, 0, 0, 0});
      assertArrayEquals(new double[] {0, 0, f + 2, 0}, be.toArray(be.scatterAdd(g, idx, 2, 1)), be.name());
      Batch shared = be.fromArray(1, 1, 3, 1, new double[] {1, 1, 1}); // both samples onto entry 1
      assertArrayEquals(new double[] {0, 0, 0, f + 2}, be.toArray(be.scatterAdd(g, shared, 2, 1)), be.name() + " shared index");
    }
  }

  /**
   * Distinct indices per index item (a max-pool's), also where different items share positions,
   * and indices that collide only in the last item: -0 terms become +0, untouched entries 0.
   */
  @Test
  void scatterAddWithDistinctIndicesPerItem() {
    int n = 4096, m = 2048;
    for (BlasBackend be : BACKENDS)
      for (int[] ax : new int[][] {{6, 6}, {6, 1}, {1, 6}}) // g samples, index samples
        for (boolean collideInLast : new boolean[] {false, true}) {
          int d = 3, samples = Math.max(ax[0], ax[1]);
          double[] g = values(ax[0] * d * m, true), idx = indices(ax[1], m, n, true);
          for (int p = 0; p < g.length; p += 5) g[p] = -0.0;
          if (collideInLast) idx[idx.length - 1] = idx[idx.length - 2] = 7;
          Batch gb = be.fromArray(ax[0], d, m, 1, g), ib = be.fromArray(ax[1], 1, m, 1, idx);
          releaseNaNs(be, samples, d, n, 1);
          String what = be.name() + " scatterAdd g " + gb.describe() + " index " + ib.describe() + (collideInLast ? ", colliding" : "");
          assertArrayEquals(scatterAddReference(stored(be, g), ax[0], d, m, idx, ax[1], n, be.precision(), false, false),
              be.toArray(be.scatterAdd(gb, ib, n, 1)), what);
        }
  }

  // ---- gather and scatter-add fused with a multiply -------------------------------------------

  /** Entries of a factor [samples x directions] of m-entry items broadcast to item (s, v) of [samples' x directions'] items. */
  private static double[] broadcast(double[] y, int ySamples, int yDirections, int samples, int directions, int m) {
    double[] out = new double[samples * directions * m];
    for (int s = 0; s < samples; s++)
      for (int v = 0; v < directions; v++)
        System.arraycopy(y, ((ySamples == 1 ? 0 : s) * yDirections + (yDirections == 1 ? 0 : v)) * m, out, (s * directions + v) * m, m);
    return out;
  }

  /** {@code y .* a} entry by entry, each product rounded to float for FLOAT32 (the product of two floats is exact in double). */
  private static double[] products(double[] y, double[] a, Precision precision) {
    double[] out = new double[a.length];
    for (int p = 0; p < a.length; p++) out[p] = precision == Precision.FLOAT32 ? (float) (y[p] * a[p]) : y[p] * a[p];
    return out;
  }

  /** Batches the backend's pool has handed out so far (hits and misses). */
  private static long allocations(BlasBackend be) {
    long[] hm = be.poolHitsAndMisses();
    return hm[0] + hm[1];
  }

  /**
   * gatherMultiply from the definitions: each gathered entry times the factor's, rounded once; a
   * factor per sample or shared, with one or all directions (a network's is per sample with one),
   * through both of the gather's paths (through arrays, and in place), over items split between the
   * two threads within a sample (7 samples of 5 directions), with an infinite factor on a padded
   * entry (inf * 0 = NaN, as multiply gives). One batch is allocated, the result: the fused kernel
   * ran, and the gathered batch was never stored.
   */
  @Test
  void gatherMultiplyMultipliesEachGatheredEntryOnce() {
    int n = 4096, d = 5;
    int[][] axes = {{7, 7, 7, 1}, {7, 1, 1, 1}, {1, 7, 7, d}, {7, 7, 1, d}}; // x samples, index samples, factor samples, factor directions
    for (int m : new int[] {2048, 64})
      for (BlasBackend be : BACKENDS)
        for (int[] ax : axes) {
          int samples = Math.max(ax[0], ax[1]);
          double[] x = values(ax[0] * d * n, true), idx = indices(ax[1], m, n, false), y = values(ax[2] * ax[3] * m, true);
          idx[17] = -1; // y[17] is infinite
          Batch xb = be.fromArray(ax[0], d, n, 1, x), ib = be.fromArray(ax[1], 1, 64, m / 64, idx), yb = be.fromArray(ax[2], ax[3], 64, m / 64, y);
          releaseNaNs(be, samples, d, 64, m / 64);
          long before = allocations(be);
          Batch out = be.gatherMultiply(xb, ib, yb);
          String what = be.name() + " gatherMultiply x " + xb.describe() + " index " + ib.describe() + " y " + yb.describe();
          assertEquals(1, allocations(be) - before, what + ": batches allocated");
          assertEquals("[" + samples + " x " + d + "] 64x" + m / 64, out.describe(), what);
          double[] gathered = gatherReference(stored(be, x), ax[0], d, n, idx, ax[1], m);
          double[] got = be.toArray(out);
          assertArrayEquals(products(broadcast(stored(be, y), ax[2], ax[3], samples, d, m), gathered, be.precision()), got, what);
          assertTrue(Double.isNaN(got[17]), what + ": inf times a padded 0");
        }
  }

  /**
   * multiplyScatterAdd from the definitions: each term {@code y[j] * g[j]} rounded to the stored
   * precision, then summed in index order in double; with colliding indices (float32 sums in
   * double), with distinct ones (a max-pool's: one term per entry, -0 becoming +0), and in float64,
   * over items split between the threads within a sample. One batch is allocated, the result.
   */
  @Test
  void multiplyScatterAddRoundsEachProductThenSumsInIndexOrder() {
    int d = 5;
    for (boolean distinct : new boolean[] {false, true})
      for (BlasBackend be : BACKENDS)
        for (int[] ax : new int[][] {{7, 7, 7, 1}, {7, 1, 1, 1}, {1, 7, 7, d}}) { // g samples, index samples, factor samples, factor directions
          int n = distinct ? 4096 : 64, m = 2048, samples = Math.max(ax[0], ax[1]);
          double[] g = values(ax[0] * d * m, true), idx = indices(ax[1], m, n, distinct), y = values(ax[2] * ax[3] * m, true);
          for (int p = 0; p < g.length; p += 5) g[p] = -0.0;
          Batch gb = be.fromArray(ax[0], d, m, 1, g), ib = be.fromArray(ax[1], 1, m, 1, idx), yb = be.fromArray(ax[2], ax[3], m, 1, y);
          releaseNaNs(be, samples, d, n, 1);
          long before = allocations(be);
          Batch out = be.multiplyScatterAdd(yb, gb, ib, n, 1);
          String what = be.name() + " multiplyScatterAdd g " + gb.describe() + " index " + ib.describe() + " y " + yb.describe();
          assertEquals(1, allocations(be) - before, what + ": batches allocated");
          double[] terms = products(broadcast(stored(be, y), ax[2], ax[3], samples, d, m), broadcast(stored(be, g), ax[0], d, samples, d, m), be.precision());
          assertArrayEquals(scatterAddReference(terms, samples, d, m, idx, ax[1], n, be.precision(), false, false), be.toArray(out), what);
        }
  }

  // ---- window argmax, and a max-pool made of the three -----------------------------------------

  @Test
  void windowArgmaxAndMaxPool() {
    int samples = 5, c = 16, h = 16, w = 12, k = 2, m = c * (h / k) * (w / k), n = c * h * w;
    for (BlasBackend be : BACKENDS) {
      double[] x = values(samples * n, true);
      for (int p = 0; p < x.length; p += 11) x[p] = x[p + 3]; // ties within windows
      x[100] = Double.NaN; // a second NaN
      Batch xb = be.fromArray(samples, 1, c, h * w, x);
      double[] xs = stored(be, x), want = windowArgmaxReference(xs, samples, c, h, w, k);
      Batch idx = be.windowArgmax(xb, c, h, w, k);
      assertEquals("[" + samples + " x 1] " + c + "x" + (h / k) * (w / k), idx.describe());
      assertArrayEquals(want, be.toArray(idx), be.name() + " windowArgmax");
      // the forward pass on directions of the input, and its adjoint
      int d = 4;
      double[] v = values(samples * d * n, false), u = values(samples * d * m, true);
      Batch vb = be.fromArray(samples, d, n, 1, v), ub = be.fromArray(samples, d, m, 1, u);
      assertArrayEquals(gatherReference(stored(be, v), samples, d, n, want, samples, m), be.toArray(be.gather(vb, idx)),
          be.name() + " max-pool Jacobian product");
      assertArrayEquals(scatterAddReference(stored(be, u), samples, d, m, want, samples, n, be.precision(), false, false),
          be.toArray(be.scatterAdd(ub, idx, n, 1)), be.name() + " max-pool adjoint product");
    }
  }

  // ---- errors ----------------------------------------------------------------------------------

  private static void assertMessage(String expected, Executable call) {
    assertEquals(expected, assertThrows(IllegalArgumentException.class, call).getMessage());
  }

  @Test
  void operandErrorsNameTheKernelTheOperandAndTheExpectation() {
    for (BlasBackend be : BACKENDS) {
      Batch x = be.fromArray(2, 3, 2, 2, new double[24]);
      Batch high = be.fromArray(2, 1, 3, 1, new double[] {0, 1, 2, 3, 4, 1});
      assertMessage("gather: index batch [2 x 1] 3x1 has entry 4.0 at position 4 (item 1, entry 1); expected an integer in [-1, 4)",
          () -> be.gather(x, high));
      Batch low = be.fromArray(1, 1, 3, 1, new double[] {0, -2, 1});
      assertMessage("scatterAdd: index batch [1 x 1] 3x1 has entry -2.0 at position 1 (item 0, entry 1); expected an integer in [-1, 4)",
          () -> be.scatterAdd(be.fromArray(2, 3, 3, 1, new double[18]), low, 2, 2));
      Batch frac = be.fromArray(1, 1, 2, 1, new double[] {0.5, 1});
      assertMessage("gather: index batch [1 x 1] 2x1 has entry 0.5 at position 0 (item 0, entry 0); expected an integer in [-1, 4)",
          () -> be.gather(x, frac));
      Batch twoDirections = be.fromArray(1, 2, 1, 1, new double[] {0, 1});
      assertMessage("gather: index batch [1 x 2] 1x1 has 2 directions; expected one direction", () -> be.gather(x, twoDirections));
      assertMessage("scatterAdd: index batch [1 x 2] 1x1 has 2 directions; expected one direction",
          () -> be.scatterAdd(be.fromArray(1, 1, 1, 1, new double[1]), twoDirections, 2, 1));
      Batch threeSamples = be.fromArray(3, 1, 1, 1, new double[] {0, 1, 2});
      assertMessage("gather: batch axes of [2 x 3] 2x2 and [3 x 1] 1x1 do not broadcast (samples 2 vs 3; expected equal extents or one of"
          + " them 1)", () -> be.gather(x, threeSamples));
      assertMessage("scatterAdd: batch axes of [2 x 1] 1x1 and [3 x 1] 1x1 do not broadcast (samples 2 vs 3; expected equal extents or"
          + " one of them 1)", () -> be.scatterAdd(be.fromArray(2, 1, 1, 1, new double[2]), threeSamples, 3, 1));
      assertMessage("scatterAdd: items of g [2 x 3] 2x1 and of index [2 x 1] 3x1 differ in entry count; expected g items shaped like the"
          + " index items", () -> be.scatterAdd(be.fromArray(2, 3, 2, 1, new double[12]), high, 5, 1));
      assertMessage("scatterAdd: invalid target item shape -1x2", () -> be.scatterAdd(be.fromArray(1, 1, 3, 1, new double[3]), low, -1, 2));
      assertMessage("windowArgmax: tensor (2, 4, 6) with window 4; expected positive sizes with h and w divisible by k",
          () -> be.windowArgmax(be.fromArray(1, 1, 2, 24, new double[48]), 2, 4, 6, 4));
      assertMessage("windowArgmax: x [1 x 2] 2x24; expected one-direction items of 2*4*6 = 48 entries (a tensor (2, 4, 6))",
          () -> be.windowArgmax(be.fromArray(1, 2, 2, 24, new double[96]), 2, 4, 6, 2));
      BlasBackend other = be.precision() == Precision.FLOAT32 ? BACKENDS.get(1) : BACKENDS.get(0);
      Batch foreign = other.fromArray(1, 1, 1, 1, new double[] {0});
      assertMessage("gather: operand index [1 x 1] 1x1 is a " + other.precision() + " batch, not a batch of the " + be.name() + " backend",
          () -> be.gather(x, foreign));
    }
    BlasBackend f32 = BACKENDS.get(0);
    assertMessage("scatterAdd: items of 16777217 entries cannot be indexed exactly in float32 (float holds integers exactly only up to"
        + " 2^24 = 16777216); use a FLOAT64 backend",
        () -> f32.scatterAdd(f32.fromArray(1, 1, 1, 1, new double[1]), f32.fromArray(1, 1, 1, 1, new double[1]), (1 << 24) + 1, 1));
  }

  /** The injectivity test that picks the scatter-add's one-term path: per index item, -1 aside. */
  @Test
  void injectiveLooksWithinEachIndexItem() {
    assertTrue(BlasIndexKernels.injective(new int[] {0, 1, -1, -1, 1, 0, 2, -1, 1, 1, -1, 0}, 3, 3)); // 4 items, -1 repeated
    assertFalse(BlasIndexKernels.injective(new int[] {0, 1, 2, 2, 1, 1}, 3, 3)); // the second item repeats 1
    assertTrue(BlasIndexKernels.injective(new int[] {2, 2, 2}, 1, 3));
    assertTrue(BlasIndexKernels.injective(new int[0], 0, 3));
    // items far smaller than the target (sorted copies instead of marks)
    assertTrue(BlasIndexKernels.injective(new int[] {90, -1, -1, 5, 4, 90, 0, 7, -1}, 3, 100));
    assertFalse(BlasIndexKernels.injective(new int[] {90, -1, 4, 5, 90, 0, 7, 7, -1}, 3, 100));
  }

  /**
   * transpose: every item of an m x n batch (column-major) becomes n x m with entry (j, i) = entry
   * (i, j), bit for bit, checked against the definition written here: shapes that fill no tile
   * (1 x 1, 1 x 70, 70 x 1), that end mid-tile (33 x 65, 100 x 37), several samples and directions.
   */
  @Test
  void transposeIsTheDefinitionBitForBit() {
    java.util.Random rng = new java.util.Random(3);
    int[][] shapes = {{1, 1, 1, 1}, {1, 1, 1, 70}, {1, 1, 70, 1}, {2, 3, 33, 65}, {3, 1, 100, 37}, {1, 2, 64, 64}};
    for (BlasBackend be : BACKENDS)
      for (int[] sh : shapes) {
        int items = sh[0] * sh[1], m = sh[2], n = sh[3];
        double[] x = stored(be, rng.doubles((long) items * m * n, -1, 1).toArray());
        double[] want = new double[x.length];
        for (int t = 0; t < items; t++)
          for (int j = 0; j < n; j++)
            for (int i = 0; i < m; i++) want[t * m * n + j + n * i] = x[t * m * n + i + m * j];
        org.hbp.backend.Batch got = be.transpose(be.fromArray(sh[0], sh[1], m, n, x));
        assertEquals(n, got.rows());
        assertEquals(m, got.cols());
        assertArrayEquals(want, be.toArray(got), be.name() + " " + java.util.Arrays.toString(sh));
      }
  }
}
