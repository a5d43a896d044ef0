package org.hbp.backend.blas;

import static org.hbp.backend.BackendChecks.item;

import java.lang.ref.Reference;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.util.Arrays;
import org.hbp.backend.host.ParallelLoops;

/**
 * The gather and scatter-add loops of the {@link BlasBackend} (a max-pool's forward pass, its
 * Jacobian and adjoint products), on the off-heap blocks in the batches' own precision: entries
 * are read and written where the index points, through the blocks' direct buffers ({@code
 * BlasBatch.Block#fbuf}, {@code #dbuf}), whose absolute gets and puts compile to plain memory
 * accesses. A gather that reads a large share of a source item of moderate size copies it into an
 * array of the same precision by one bulk copy first, and its result item out the same way
 * ({@link #gatherThroughArrays}): indexed reads from a block the size of c4d3's activations took
 * twice as long as the copy and the reads from the array. The host loops of
 * {@link org.hbp.backend.host.HostBackend} they replace copied each whole item into a {@code
 * double[]} (for float32 converting every entry) and the result back, which cost more than the
 * indexing itself.
 *
 * <p>The operands are checked by the backend, the index batch converted to checked ints ({@code
 * BlasBackend#indices}); the items are split over the backend's {@link ParallelLoops} as in the
 * host loops. The results are those of the host loops bit for bit: a gather copies entries; a
 * scatter-add sums each target entry's terms in index order starting from zero, in double, and
 * rounds once as it stores (float32). Where no two indices of an index item coincide (a
 * max-pool's, whose windows do not overlap) each target entry has at most one term, so the sum is
 * {@code 0 + g} computed in the batch's own precision (the same value: {@code -0} becomes {@code
 * +0}) and stored at once, without an item-sized scratch array. With a factor y ({@code
 * Backend#gatherMultiply}, {@code #multiplyScatterAdd}) each gathered entry, or each term before it
 * is summed, is {@code y[j]} times it in the batches' precision, as {@code multiply} rounds it; in
 * float32 the injective scatter-add copies g's item (and y's) into arrays first and multiplies
 * there, in one vectorized pass.
 *
 * <p>{@link #transpose} is the fixed permutation of the same kind: each item's entries copied to
 * their transposed places, tile by tile.
 */
final class BlasIndexKernels {
  private BlasIndexKernels() {}

  /** Zeros copied over a target item before its entries are scattered. */
  private static final float[] FLOAT_ZEROS = new float[ParallelLoops.CHUNK];
  private static final double[] DOUBLE_ZEROS = new double[ParallelLoops.CHUNK];

  /** Whether these batches' blocks all have direct buffers (blocks of at most 2^31 - 1 bytes). */
  static boolean direct(BlasBatch... batches) {
    for (BlasBatch b : batches)
      if (b.block.fbuf == null && b.block.dbuf == null) return false;
    return true;
  }

  /**
   * Whether no two entries of any index item coincide, -1 aside: {@code idx} holds index items of
   * {@code m} entries, each in [-1, n). Marks the entries hit in an array of n ints where that is
   * at most 8 times an index item, else sorts a copy of each index item.
   */
  static boolean injective(int[] idx, int m, int n) {
    if (m <= 1) return true;
    if (n <= 8L * m) {
      int[] seen = new int[n]; // the index item (+1) that last hit each target entry
      for (int p = 0, stamp = 1; p < idx.length; stamp++)
        for (int end = p + m; p < end; p++) {
          int q = idx[p];
          if (q < 0) continue;
          if (seen[q] == stamp) return false;
          seen[q] = stamp;
        }
      return true;
    }
    int[] sorted = new int[m];
    for (int p = 0; p < idx.length; p += m) {
      System.arraycopy(idx, p, sorted, 0, m);
      Arrays.sort(sorted);
      for (int j = 1; j < m; j++)
        if (sorted[j] >= 0 && sorted[j] == sorted[j - 1]) return false;
    }
    return true;
  }

  /**
   * Source items of at most this many entries are copied into an array for a gather that reads a
   * large share of them ({@link #gatherThroughArrays}): 8 MiB of doubles per thread at most.
   */
  static final int GATHER_ARRAY_ENTRIES = 1 << 20;

  /**
   * Whether a gather of m entries from source items of n goes through arrays: when the item fits
   * {@link #GATHER_ARRAY_ENTRIES} and the gather reads at least an eighth of it (a max-pool reads a
   * quarter, and touches every cache line); a few entries from a large item (a lookup) are read
   * where they are, not after a copy of the whole item.
   */
  static boolean gatherThroughArrays(int n, int m) {
    return n <= GATHER_ARRAY_ENTRIES && 8L * m >= n;
  }

  /**
   * {@code out} item {@code (s, v)}: {@code out[j] = src[idx[i*m + j]]} (0 where the index is -1)
   * with {@code src} item {@code (s, v)} (broadcast where src has one sample), {@code i} the sample
   * of {@code ix} (0 where it has one) and {@code m} its item size; where {@code factor} is not null
   * ({@link org.hbp.backend.Backend#gatherMultiply}), {@code out[j] = factor[j] * src[idx[i*m + j]]}
   * with factor's item {@code (s, v)} (broadcast along its axes of 1), the product in the batches'
   * precision as {@code multiply} rounds it. Writes {@code out} only. The batches have direct
   * buffers ({@link #direct}) and the backend's precision.
   *
   * <p>Where {@link #gatherThroughArrays} says so, the source item and the result item move by one
   * bulk copy each into and out of arrays, and the indexed reads hit the array in the cache: twice
   * as fast as indexed reads from the block for c4d3's max-pools with 10 directions
   * (docs/performance.md); the factor's item is copied into an array too (once for the directions
   * of a sample that share it), and the products are one pass over the gathered array in the cache,
   * which the compiler vectorizes. Otherwise the entries are read from the blocks where the index
   * points.
   */
  static void gather(ParallelLoops loops, BlasBatch src, BlasBatch ix, int[] idx, BlasBatch factor, BlasBatch out) {
    int n = src.itemSize(), m = ix.itemSize(), directions = out.directions();
    boolean shared = ix.samples() == 1, arrays = gatherThroughArrays(n, m), scaled = factor != null;
    FloatBuffer xf = src.block.fbuf, of = out.block.fbuf, ff = scaled ? factor.block.fbuf : null;
    DoubleBuffer xd = src.block.dbuf, od = out.block.dbuf, fd = scaled ? factor.block.dbuf : null;
    loops.run(out.items(), out.length(), (t0, t1) -> {
      boolean single = of != null;
      float[] sf = arrays && single ? new float[n] : null, rf = arrays && single ? new float[m] : null;
      float[] yf = arrays && single && scaled ? new float[m] : null;
      double[] sd = arrays && !single ? new double[n] : null, rd = arrays && !single ? new double[m] : null;
      double[] yd = arrays && !single && scaled ? new double[m] : null;
      int loaded = -1, loadedFactor = -1; // the source item in sf or sd (an item shared by all samples is copied once), the factor's in yf or yd
      for (long t = t0; t < t1; t++) {
        int sa = (int) (t / directions), v = (int) (t % directions);
        int xi = item(src, sa, v), xo = xi * n, io = shared ? 0 : sa * m, oo = (int) t * m;
        int fi = scaled ? item(factor, sa, v) : -1, fo = fi * m;
        if (!arrays && single) {
          for (int j = 0; j < m; j++) {
            int q = idx[io + j];
            float value = q >= 0 ? xf.get(xo + q) : 0f;
            of.put(oo + j, scaled ? ff.get(fo + j) * value : value);
          }
        } else if (!arrays) {
          for (int j = 0; j < m; j++) {
            int q = idx[io + j];
            double value = q >= 0 ? xd.get(xo + q) : 0d;
            od.put(oo + j, scaled ? fd.get(fo + j) * value : value);
          }
        } else if (single) {
          if (xi != loaded) xf.get(xo, sf, 0, n);
          for (int j = 0; j < m; j++) {
            int q = idx[io + j];
            rf[j] = q >= 0 ? sf[q] : 0f;
          }
          if (scaled) {
            if (fi != loadedFactor) ff.get(fo, yf, 0, m);
            for (int j = 0; j < m; j++) rf[j] = yf[j] * rf[j];
          }
          of.put(oo, rf, 0, m);
        } else {
          if (xi != loaded) xd.get(xo, sd, 0, n);
          for (int j = 0; j < m; j++) {
            int q = idx[io + j];
            rd[j] = q >= 0 ? sd[q] : 0d;
          }
          if (scaled) {
            if (fi != loadedFactor) fd.get(fo, yd, 0, m);
            for (int j = 0; j < m; j++) rd[j] = yd[j] * rd[j];
          }
          od.put(oo, rd, 0, m);
        }
        loaded = xi;
        loadedFactor = fi;
      }
    });
    Reference.reachabilityFence(src);
    Reference.reachabilityFence(factor);
    Reference.reachabilityFence(out);
  }

  /**
   * {@code out} item {@code (s, v)} ({@code n} entries): zero plus {@code out[idx[i*m + j]] +=
   * g[j]} for {@code j = 0, 1, ..., m-1} in that order (-1 skipped), summed in double, with {@code
   * g} item {@code (s, v)} (broadcast where g has one sample), {@code i} the sample of {@code ix}
   * (0 where it has one) and {@code m} its item size; where {@code factor} is not null ({@link
   * org.hbp.backend.Backend#multiplyScatterAdd}) the terms are {@code factor[j] * g[j]}, each in the
   * batches' precision as {@code multiply} rounds it, with factor's item {@code (s, v)} (broadcast
   * along its axes of 1). {@code injective} says that no two indices of an index item coincide
   * ({@link #injective}). Writes {@code out} only (its prior contents are ignored). The batches
   * have direct buffers ({@link #direct}) and the backend's precision.
   */
  static void scatterAdd(ParallelLoops loops, BlasBatch factor, BlasBatch g, BlasBatch ix, int[] idx, boolean injective, BlasBatch out) {
    int n = out.itemSize(), m = ix.itemSize(), directions = out.directions();
    boolean shared = ix.samples() == 1, scaled = factor != null;
    FloatBuffer gf = g.block.fbuf, of = out.block.fbuf, ff = scaled ? factor.block.fbuf : null;
    DoubleBuffer gd = g.block.dbuf, od = out.block.dbuf, fd = scaled ? factor.block.dbuf : null;
    loops.run(out.items(), out.length() + (long) out.items() * m, (t0, t1) -> {
      // float32 with coinciding indices: the sums in double, rounded once as they are stored
      double[] sums = of != null && !injective ? new double[n] : null;
      float[] terms = of != null && injective ? new float[m] : null, factors = terms != null && scaled ? new float[m] : null;
      int[] loadedFactor = {-1}; // the factor item's offset in factors
      for (long t = t0; t < t1; t++) {
        int sa = (int) (t / directions), v = (int) (t % directions);
        int go = item(g, sa, v) * m, io = shared ? 0 : sa * m, oo = (int) t * n, fo = scaled ? item(factor, sa, v) * m : 0;
        if (sums != null) {
          Arrays.fill(sums, 0);
          for (int j = 0; j < m; j++) {
            int q = idx[io + j];
            if (q >= 0) sums[q] += scaled ? ff.get(fo + j) * gf.get(go + j) : gf.get(go + j);
          }
          out.write(oo, sums, 0, n);
        } else if (of != null) { // at most one term per entry: 0 + g in float is the double sum rounded
          // g's item (and the factor's, once for the directions that share it) by one bulk copy into
          // an array, the products one vectorized pass over it in the cache
          gf.get(go, terms, 0, m);
          if (scaled) {
            if (fo != loadedFactor[0]) ff.get(fo, factors, 0, m);
            loadedFactor[0] = fo;
            for (int j = 0; j < m; j++) terms[j] = factors[j] * terms[j];
          }
          for (int p = 0; p < n; p += FLOAT_ZEROS.length) of.put(oo + p, FLOAT_ZEROS, 0, Math.min(FLOAT_ZEROS.length, n - p));
          for (int j = 0; j < m; j++) {
            int q = idx[io + j];
            if (q >= 0) of.put(oo + q, 0f + terms[j]);
          }
        } else { // float64: the sums in place, in the same order
          for (int p = 0; p < n; p += DOUBLE_ZEROS.length) od.put(oo + p, DOUBLE_ZEROS, 0, Math.min(DOUBLE_ZEROS.length, n - p));
          for (int j = 0; j < m; j++) {
            int q = idx[io + j];
            if (q >= 0) od.put(oo + q, od.get(oo + q) + (scaled ? fd.get(fo + j) * gd.get(go + j) : gd.get(go + j)));
          }
        }
      }
    });
    Reference.reachabilityFence(g);
    Reference.reachabilityFence(factor);
    Reference.reachabilityFence(out);
  }

  /** Rows and columns of the tiles of {@link #transpose}: a 32 x 32 tile of doubles is 8 KiB, within L1. */
  private static final int TILE = 32;

  /**
   * Each item of x (m x n, column-major) transposed into the same item of out (n x m): tile by
   * tile, so that both the reads (down x's columns) and the writes (down out's columns) stay within
   * the cache lines of a tile, where a plain loop writes every entry of a column of x a whole row of
   * out apart. The items' column tiles are split over the threads. Entries are copied, not
   * converted: the result is exact in either precision.
   */
  static void transpose(ParallelLoops loops, BlasBatch x, BlasBatch out) {
    int m = x.rows(), n = x.cols();
    long mn = (long) m * n, items = x.items(), tiles = (n + TILE - 1) / TILE;
    FloatBuffer xf = x.block.fbuf, of = out.block.fbuf;
    DoubleBuffer xd = x.block.dbuf, od = out.block.dbuf;
    loops.run(items * tiles, items * mn, (u0, u1) -> {
      for (long u = u0; u < u1; u++) {
        int base = (int) ((u / tiles) * mn), j0 = (int) (u % tiles) * TILE, j1 = Math.min(n, j0 + TILE);
        for (int i0 = 0; i0 < m; i0 += TILE) {
          int i1 = Math.min(m, i0 + TILE);
          for (int j = j0; j < j1; j++) {
            int from = base + m * j, to = base + j;
            if (xd != null) for (int i = i0; i < i1; i++) od.put(to + n * i, xd.get(from + i));
            else for (int i = i0; i < i1; i++) of.put(to + n * i, xf.get(from + i));
          }
        }
      }
    });
    Reference.reachabilityFence(x);
    Reference.reachabilityFence(out);
  }
}
