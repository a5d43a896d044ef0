package org.hbp.backend.blas;

import static org.bytedeco.openblas.global.openblas_nolapack.CblasNoTrans;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasTrans;

import java.util.Arrays;
import org.hbp.backend.BackendChecks;
import org.hbp.backend.ConvGeometry;
import org.hbp.backend.host.ParallelLoops;

/**
 * The unfold-and-gemm convolutions of the {@link BlasBackend} where oneDNN does not convolve
 * (float64; float32 without oneDNN), for one filter item shared by all items of a batch: a
 * layer's forward pass, and its Jacobian {@code J_X = kron(I, W) unfolding} and adjoint applied to
 * N·D directions.
 *
 * <p>The default of {@link org.hbp.backend.Backend#convolution} unfolds every item at once, then
 * multiplies: for N·D = 1000 items of a 16 x 32 x 32 input that is a 1.2 GB unfolded batch
 * (k·k copies of the input) written to memory and read back, and its adjoint a 1.2 GB product
 * folded afterwards. Here the items go in chunks of about {@link #CHUNK_BYTES} unfolded bytes
 * (at least one item per thread): each chunk is unfolded into one scratch block, which stays in
 * the caches, and multiplied by the filters in ONE gemm over all its items' columns side by side
 * ({@code cout x (c·k·k)} times {@code (c·k·k) x (items·patches)}), written straight into the
 * result. The adjoint is the mirror image: one gemm {@code W' Y} over the chunk into the scratch
 * block, folded from there into the result. The unfold and fold copy runs of consecutive input
 * entries ({@link PatchRuns}: the unfolded rows in {@code (kj, ki, ch)} order, the filters'
 * columns permuted alike). The same products are summed as by the default, in another order: the
 * results agree to float64 rounding, not bit for bit.
 */
final class BlasConvolutions {
  /**
   * Unfolded bytes per chunk ({@code hbp.blas.convChunkBytes}, default 8 MiB: within a
   * last-level cache, and wide enough that the gemm of a chunk runs at its full rate).
   */
  static final long CHUNK_BYTES = Long.getLong("hbp.blas.convChunkBytes", 8L << 20);

  private final BlasBackend be;
  private final BlasProducts products;
  private final ParallelLoops loops;
  private final int threads;
  private final int bytesPerEntry;
  /** Unfolded bytes per chunk: {@link #CHUNK_BYTES}, smaller in tests to make many chunks. */
  private final long chunkBytes;

  BlasConvolutions(BlasBackend be, BlasProducts products, ParallelLoops loops, int threads, long chunkBytes) {
    this.be = be;
    this.products = products;
    this.loops = loops;
    this.threads = threads;
    this.bytesPerEntry = be.precision().bytes();
    this.chunkBytes = chunkBytes;
  }

  /**
   * Items of {@code entries} unfolded entries each per chunk: {@link #CHUNK_BYTES} worth, at
   * least one per thread (so the unfold and fold run on every thread), at most {@code items}.
   */
  static int itemsPerChunk(long entries, int bytesPerEntry, long items, int threads, long chunkBytes) {
    long fit = Math.max(threads, chunkBytes / Math.max(1, entries * bytesPerEntry));
    long widest = Integer.MAX_VALUE / Math.max(1, entries); // the scratch block's entries stay an int
    return (int) Math.max(1, Math.min(Math.min(fit, widest), items));
  }

  /**
   * {@code w * unfold(x) + bias * ones'} per item of x, for a single filter item {@code w} ({@code
   * cout x (c·k·k)}) and a bias (null, or one {@code cout x 1} item); null when the operands are not
   * of this kind (the caller then computes the default's way, with its checks and messages).
   */
  BlasBatch convolution(BlasBatch w, BlasBatch x, ConvGeometry g, BlasBatch bias) {
    int cout = w.rows(), rows = g.patchRows(), patches = g.patches();
    BackendChecks.checkUnfold(x, g);
    if (w.items() != 1 || w.cols() != rows || (bias != null && bias.items() != 1)) return null;
    long items = x.items();
    BlasBatch out = be.alloc("convolution", x.samples(), x.directions(), cout, patches, false);
    if (items == 0 || cout == 0) return out;
    PatchRuns plan = PatchRuns.of(g);
    double[] biasColumns = bias == null ? null : repeatedColumn(be.toArray(bias), patches);
    int per = itemsPerChunk((long) rows * patches, bytesPerEntry, items, threads, chunkBytes);
    BlasBatch filters = permutedFilters(w, g), scratch = be.alloc("convolution", 1, 1, rows, patches * per, false);
    try {
      products.useThreads();
      for (long t0 = 0; t0 < items; t0 += per) {
        int count = (int) Math.min(per, items - t0);
        unfoldInto(x, t0, count, plan, scratch);
        long at = t0 * cout * patches;
        if (biasColumns != null) for (int t = 0; t < count; t++) out.write(at + (long) t * biasColumns.length, biasColumns, 0, biasColumns.length);
        products.gemm(CblasNoTrans, CblasNoTrans, cout, count * patches, rows, filters, 0, cout, scratch, 0, rows, out, at, cout,
            biasColumns == null ? 0 : 1);
      }
    } finally {
      be.release(scratch);
      be.release(filters);
    }
    return out;
  }

  /**
   * {@code fold(w' * y)} per item of y, for a single filter item {@code w} ({@code cout x (c·k·k)})
   * and items of y of {@code cout x patches}; null when the operands are not of this kind.
   */
  BlasBatch convolutionAdjoint(BlasBatch w, BlasBatch y, ConvGeometry g) {
    int cout = w.rows(), rows = g.patchRows(), patches = g.patches();
    if (w.items() != 1 || w.cols() != rows || y.rows() != cout || y.cols() != patches) return null;
    long items = y.items();
    BlasBatch out = be.alloc("convolutionAdjoint", y.samples(), y.directions(), g.c(), g.h() * g.w(), cout == 0);
    if (items == 0 || cout == 0) return out;
    PatchRuns plan = PatchRuns.of(g);
    int per = itemsPerChunk((long) rows * patches, bytesPerEntry, items, threads, chunkBytes);
    BlasBatch filters = permutedFilters(w, g), scratch = be.alloc("convolutionAdjoint", 1, 1, rows, patches * per, false);
    try {
      products.useThreads();
      for (long t0 = 0; t0 < items; t0 += per) {
        int count = (int) Math.min(per, items - t0);
        products.gemm(CblasTrans, CblasNoTrans, rows, count * patches, cout, filters, 0, cout, y, t0 * cout * patches, cout, scratch, 0, rows, 0);
        foldFrom(scratch, count, plan, out, t0);
      }
    } finally {
      be.release(scratch);
      be.release(filters);
    }
    return out;
  }

  /** w's columns in the row order of {@link PatchRuns} (a new one-item batch). */
  private BlasBatch permutedFilters(BlasBatch w, ConvGeometry g) {
    return (BlasBatch) be.fromArray(1, 1, w.rows(), w.cols(), PatchRuns.permuteColumns(be.toArray(w), w.rows(), g));
  }

  /** Columns per piece of an item's unfolding staged in a Java array: about {@link #PIECE_ENTRIES} entries, at least one column. */
  private static int piece(int rows) {
    return Math.max(1, PIECE_ENTRIES / Math.max(1, rows));
  }

  /** Entries of the per-thread staging array of the unfold and fold (64 KiB of doubles: within L2). */
  private static final int PIECE_ENTRIES = 8192;

  /** Items {@code [t0, t0+count)} of x unfolded (rows in the plan's order) into the scratch block, item t at entry {@code (t - t0)·rows·columns}. */
  private void unfoldInto(BlasBatch x, long t0, int count, PatchRuns plan, BlasBatch scratch) {
    int n = plan.inputSize, rows = plan.rows, columns = plan.columns, step = piece(rows);
    long m = (long) rows * columns;
    loops.run(count, count * m, (a, b) -> {
      double[] in = new double[n], buf = new double[step * rows];
      for (long t = a; t < b; t++) {
        x.read((t0 + t) * n, in, 0, n);
        for (int col0 = 0; col0 < columns; col0 += step) {
          int col1 = Math.min(columns, col0 + step);
          plan.unfold(in, col0, col1, buf);
          scratch.write(t * m + (long) col0 * rows, buf, 0, (col1 - col0) * rows);
        }
      }
    });
  }

  /** The scratch block's first {@code count} unfolded items folded into items {@code [t0, t0+count)} of out. */
  private void foldFrom(BlasBatch scratch, int count, PatchRuns plan, BlasBatch out, long t0) {
    int n = plan.inputSize, rows = plan.rows, columns = plan.columns, step = piece(rows);
    long m = (long) rows * columns;
    loops.run(count, count * m, (a, b) -> {
      double[] buf = new double[step * rows], sum = new double[n];
      for (long t = a; t < b; t++) {
        Arrays.fill(sum, 0);
        for (int col0 = 0; col0 < columns; col0 += step) {
          int col1 = Math.min(columns, col0 + step);
          scratch.read(t * m + (long) col0 * rows, buf, 0, (col1 - col0) * rows);
          plan.fold(buf, col0, col1, sum);
        }
        out.write((t0 + t) * n, sum, 0, n);
      }
    });
  }

  /** The column c repeated {@code times} times: the entries of {@code c * ones(times)'}. */
  private static double[] repeatedColumn(double[] c, int times) {
    double[] r = new double[c.length * times];
    for (int j = 0; j < times; j++) System.arraycopy(c, 0, r, j * c.length, c.length);
    return r;
  }
}
