package org.hbp.backend.blas;

import static org.bytedeco.openblas.global.openblas_nolapack.CblasNoTrans;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasTrans;

import java.util.Arrays;
import org.hbp.backend.BackendChecks;
import org.hbp.backend.ConvGeometry;

/**
 * The unfold-and-gemm convolutions of the {@link BlasBackend} where oneDNN does not convolve
 * (float64; float32 without oneDNN), for one filter item shared by all items of a batch: a
 * layer's forward pass, and its Jacobian {@code J_X = kron(I, W) unfolding} and adjoint applied to
 * N·D directions.
 *
 * <p><b>Chunks, one thread each.</b> The items go in chunks of about {@link #CHUNK_BYTES} unfolded
 * bytes. Each of the backend's threads takes the next chunk not yet taken, unfolds it into its own
 * scratch block (which stays in that core's cache) and multiplies it by the filters in ONE
 * single-threaded gemm over all the chunk's columns ({@code cout x (c·k·k)} times {@code (c·k·k) x
 * (items·patches)}), written straight into the result. The threads thus unfold, multiply and fold
 * at once, each on its own core, with no synchronisation inside a gemm: OpenBLAS's own threads,
 * splitting one gemm only 16 or 32 rows deep, spent much of their time waiting for each other
 * (docs/performance.md, "float64 convolutions"). OpenBLAS runs single-threaded meanwhile (its thread
 * count is process-wide; {@link BlasProducts#useThreads} sets it back). Every result entry is
 * computed by one gemm whose shape does not depend on which thread runs it, so results are the same
 * bit for bit from run to run for a given thread count and chunk size.
 *
 * <p><b>The adjoint.</b> With stride 1 the adjoint {@code fold(W' Y)} is itself a convolution:
 * {@code X̄[ch, y, x] = Σ W[o, ch, k-1-i, k-1-j] Y[o, y - p' + i·d, x - p' + j·d]} with padding
 * {@code p' = d·(k-1) - p} (Y zero outside), i.e. the forward convolution of Y (cout channels) by
 * the flipped, transposed filters ({@link #adjointFilters}): an unfold and a gemm {@code cin x
 * (cout·k·k)} over the chunk's columns, instead of a gemm only cout deep writing {@code c·k·k}
 * rows per column and a fold adding them up. Other strides (and {@code p > d·(k-1)}) keep the
 * mirror image of the forward pass: the gemm {@code W' Y} over the chunk into the scratch block,
 * folded from there into the result.
 *
 * <p>The unfold and fold copy runs of consecutive input entries ({@link PatchRuns}: the unfolded
 * rows in {@code (kj, ki, ch)} order, the filters' columns permuted alike). The same products are
 * summed as by the backend's default convolutions, in another order: the results agree to float64
 * rounding, not bit for bit.
 *
 * <p><b>Direct kernels.</b> Where the JVM has the Vector API ({@code --add-modules
 * jdk.incubator.vector}, as the {@code hbp} launcher starts it), the machine has 8-double vectors
 * (AVX-512) and the convolution writes a multiple of 8 channels, float64 convolutions and stride-1
 * adjoints skip unfold and gemm: {@link VectorConvolution} computes each item from a zero-padded
 * copy, register-blocked, one item at a time per thread; so do the weight gradients summed over the
 * batch ({@link #weightGradient}; {@code J_W v} runs on the same kernel in {@link BlasProducts}).
 * The gemms of only 16 or 32 rows, their operands' packing and the unfold kept unfold-and-gemm at
 * about half the machine's GEMM rate (docs/performance.md). {@code
 * -Dhbp.blas.directConvolutions=false} keeps unfold and gemm.
 */
final class BlasConvolutions {
  /**
   * Unfolded bytes per chunk ({@code hbp.blas.convChunkBytes}, default 1 MiB: within a core's L2
   * cache, measured in docs/performance.md).
   */
  static final long CHUNK_BYTES = Long.getLong("hbp.blas.convChunkBytes", 1L << 20);

  /**
   * Whether this JVM can run {@link VectorConvolution}: {@code jdk.incubator.vector} in the boot
   * layer, 8-double vectors, and not switched off by {@code -Dhbp.blas.directConvolutions=false}.
   */
  static final boolean DIRECT_AVAILABLE = directUnavailableReason() == null;

  /** Why this JVM cannot run {@link VectorConvolution} (see {@link #DIRECT_AVAILABLE}), or null when it can. */
  static String directUnavailableReason() {
    if (!Boolean.parseBoolean(System.getProperty("hbp.blas.directConvolutions", "true"))) return "-Dhbp.blas.directConvolutions=false";
    // checked first: VectorConvolution's class links against the module
    String missing = BlasBackend.vectorApiMissing();
    if (missing != null) return missing;
    return VectorConvolution.machineFits() ? null : "this CPU's vectors hold fewer than 8 doubles (no AVX-512)";
  }

  /** Items per task of the direct kernels: enough to make a task's overhead small, few enough to share a batch. */
  private static final int DIRECT_ITEMS = 8;

  /**
   * The largest Java array a direct kernel's thread keeps (an unfolded sample, a sample's output
   * gradients in all directions): 32 MiB. These live on the Java heap, outside the memory estimate
   * of a pass; larger operands take unfold and gemm, whose blocks are off-heap and estimated.
   */
  static final long DIRECT_ARRAY_BYTES = 32L << 20;

  private final BlasBackend be;
  private final BlasProducts products;
  private final int threads;
  private final int bytesPerEntry;
  /** Unfolded bytes per chunk: {@link #CHUNK_BYTES}, smaller in tests to make many chunks. */
  private final long chunkBytes;
  /** Whether float64 convolutions with a multiple of 8 output channels run {@link VectorConvolution}. */
  private final boolean direct;
  /** Whether the direct kernels store every result through an item-sized buffer, as for a result block over 2 GiB (tests). */
  private boolean staged;

  BlasConvolutions(BlasBackend be, BlasProducts products, int threads, long chunkBytes) {
    this(be, products, threads, chunkBytes, DIRECT_AVAILABLE);
  }

  /**
   * With {@code direct} false, unfold and gemm everywhere; true needs the Vector API in the boot
   * layer, and on a machine without AVX-512 runs {@link VectorConvolution} emulated (the tests'
   * way of checking it everywhere).
   */
  BlasConvolutions(BlasBackend be, BlasProducts products, int threads, long chunkBytes, boolean direct) {
    if (direct && BlasBackend.vectorApiMissing() != null)
      throw new IllegalStateException("direct convolutions need the Vector API: start the JVM with --add-modules jdk.incubator.vector");
    this.be = be;
    this.products = products;
    this.threads = threads;
    this.bytesPerEntry = be.precision().bytes();
    this.chunkBytes = chunkBytes;
    this.direct = direct && be.precision() == org.hbp.backend.Precision.FLOAT64;
  }

  /**
   * Items of {@code entries} unfolded entries each per chunk: {@code chunkBytes} worth, at least
   * one, at most an even share of the {@code items} among the threads (so that every thread gets a
   * chunk), and few enough that the scratch block's entries stay an int.
   */
  static int itemsPerChunk(long entries, int bytesPerEntry, long items, int threads, long chunkBytes) {
    long fit = chunkBytes / Math.max(1, entries * bytesPerEntry);
    long share = (items + threads - 1) / threads;
    long widest = Integer.MAX_VALUE / Math.max(1, entries);
    return (int) Math.max(1, Math.min(Math.min(fit, widest), share));
  }

  /**
   * {@code w * unfold(x) + bias * ones'} per item of x, for a single filter item {@code w} ({@code
   * cout x (c·k·k)}) and a bias (null, or one {@code cout x 1} item); null when the operands are not
   * of this kind (the caller then computes the default's way, with its checks and messages).
   */
  BlasBatch convolution(BlasBatch w, BlasBatch x, ConvGeometry g, BlasBatch bias) {
    BackendChecks.checkUnfold(x, g);
    if (w.items() != 1 || w.cols() != g.patchRows() || (bias != null && bias.items() != 1)) return null;
    BlasBatch out = be.alloc("convolution", x.samples(), x.directions(), w.rows(), g.patches(), false);
    if (x.items() == 0 || w.rows() == 0) return out;
    if (direct && VectorConvolution.supports(w.rows())) {
      directly(new VectorConvolution(be.toArray(w), w.rows(), g, bias == null ? null : be.toArray(bias)), x, out);
      return out;
    }
    double[] biasColumns = bias == null ? null : repeatedColumn(be.toArray(bias), g.patches());
    BlasBatch filters = (BlasBatch) be.fromArray(1, 1, w.rows(), w.cols(), PatchRuns.permuteColumns(be.toArray(w), w.rows(), g));
    try {
      unfoldAndMultiply("convolution", filters, x, g, biasColumns, out);
    } finally {
      be.release(filters);
    }
    return out;
  }

  /**
   * {@code fold(w' * y)} per item of y, for a single filter item {@code w} ({@code cout x (c·k·k)})
   * and items of y of {@code cout x patches}; null when the operands are not of this kind.
   */
  BlasBatch convolutionAdjoint(BlasBatch w, BlasBatch y, ConvGeometry g) {
    int cout = w.rows();
    if (w.items() != 1 || w.cols() != g.patchRows() || y.rows() != cout || y.cols() != g.patches()) return null;
    BlasBatch out = be.alloc("convolutionAdjoint", y.samples(), y.directions(), g.c(), g.h() * g.w(), cout == 0);
    if (y.items() == 0 || cout == 0) return out;
    ConvGeometry t = adjointGeometry(g, cout);
    if (t != null && direct && VectorConvolution.supports(g.c())) {
      directly(new VectorConvolution(adjointFilters(be.toArray(w), cout, g), g.c(), t, null), y, out);
      return out;
    }
    double[] filters = t != null ? PatchRuns.permuteColumns(adjointFilters(be.toArray(w), cout, g), g.c(), t) : PatchRuns.permuteColumns(be.toArray(w), cout, g);
    BlasBatch f = (BlasBatch) be.fromArray(1, 1, t != null ? g.c() : cout, t != null ? t.patchRows() : g.patchRows(), filters);
    try {
      if (t != null) unfoldAndMultiply("convolutionAdjoint", f, y, t, null, out);
      else multiplyAndFold(f, y, g, out);
    } finally {
      be.release(f);
    }
    return out;
  }

  /** This, with the direct kernels' results staged as for a result block over 2 GiB (that path's test). */
  BlasConvolutions staged() {
    staged = true;
    return this;
  }

  /**
   * {@code sum_n y_n unfold(x_n)'} per direction (a convolution's weight gradients summed over the
   * batch) on {@link VectorConvolution#weightGradients}: y of N samples and D directions, {@code cout
   * x patches} with cout a multiple of 8; x of the same N samples and one direction. Each sample's
   * image is padded once and its D output gradients multiply it together; the samples go in fixed
   * chunks, each summed in order into its own partial sum, the chunks' sums added in order, so the
   * result is the same bit for bit from run to run. Null when the operands are not of this kind or
   * the direct kernels do not run here.
   */
  BlasBatch weightGradient(BlasBatch y, BlasBatch x, ConvGeometry g) {
    int cout = y.rows(), samples = y.samples(), directions = y.directions(), rows = g.patchRows(), patches = g.patches();
    if (!direct || !VectorConvolution.supports(cout) || x.directions() != 1 || x.samples() != samples || samples == 0 || y.cols() != patches
        || x.rows() != g.c() || x.cols() != g.h() * g.w() || (long) directions * cout * Math.max(patches, rows) * Double.BYTES > DIRECT_ARRAY_BYTES)
      return null;
    int size = directions * cout * rows, stacked = directions * cout * patches;
    int per = (int) Math.max(1, (samples + 4L * threads - 1) / (4L * threads));
    int tasks = (samples + per - 1) / per, workers = products.workers(tasks);
    double[][] partial = new double[tasks][];
    double[][] grads = new double[workers][], filters = new double[workers][], input = new double[workers][], sums = new double[workers][];
    VectorConvolution[] kernels = new VectorConvolution[workers];
    java.nio.ByteBuffer[] result = new java.nio.ByteBuffer[workers];
    products.singleThreadedInTurn(tasks, (long) samples * stacked, (worker, task) -> {
      if (kernels[worker] == null) {
        grads[worker] = new double[stacked];
        filters[worker] = new double[stacked];
        kernels[worker] = VectorConvolution.weightGradients(filters[worker], cout, directions, g);
        input[worker] = kernels[worker].newInput();
        sums[worker] = new double[size];
        result[worker] = java.nio.ByteBuffer.allocate(size * Double.BYTES).order(java.nio.ByteOrder.nativeOrder());
      }
      double[] sum = new double[size], yd = grads[worker], f = filters[worker], one = sums[worker];
      for (int s = (int) task * per, end = Math.min(samples, s + per); s < end; s++) {
        y.read((long) s * stacked, yd, 0, stacked); // the sample's D items, adjacent
        for (int d = 0; d < directions; d++)
          for (int p = 0; p < patches; p++) System.arraycopy(yd, (d * patches + p) * cout, f, (p * directions + d) * cout, cout);
        kernels[worker].load(x, s, input[worker]);
        kernels[worker].apply(input[worker], result[worker], 0);
        result[worker].asDoubleBuffer().get(0, one, 0, size);
        for (int i = 0; i < size; i++) sum[i] += one[i];
      }
      partial[(int) task] = sum;
    });
    double[] total = partial[0];
    for (int t = 1; t < tasks; t++)
      for (int i = 0; i < size; i++) total[i] += partial[t][i];
    return (BlasBatch) be.fromArray(1, directions, cout, rows, total);
  }

  /**
   * The geometry whose convolution of Y ({@code cout} channels of {@code outH x outW}) is the
   * adjoint of g's (stride 1, padding {@code d·(k-1) - p}), or null when g's adjoint is no
   * convolution of that kind (stride above 1, or padding beyond the kernel's span).
   */
  static ConvGeometry adjointGeometry(ConvGeometry g, int cout) {
    int pad = g.d() * (g.k() - 1) - g.p();
    if (g.s() != 1 || pad < 0 || cout < 1) return null;
    ConvGeometry t = new ConvGeometry(cout, g.outH(), g.outW(), g.k(), 1, pad, g.d());
    return t.outH() == g.h() && t.outW() == g.w() ? t : null;
  }

  /**
   * The filters of the adjoint's convolution: {@code F[ch, (o, i, j)] = W[o, (ch, k-1-i, k-1-j)]}
   * ({@code cin x (cout·k·k)}, column-major, columns in {@link ConvGeometry}'s order) for
   * {@code W} of {@code cout x (cin·k·k)}.
   */
  static double[] adjointFilters(double[] w, int cout, ConvGeometry g) {
    int cin = g.c(), k = g.k();
    double[] f = new double[w.length];
    for (int o = 0; o < cout; o++)
      for (int ch = 0; ch < cin; ch++)
        for (int i = 0; i < k; i++)
          for (int j = 0; j < k; j++)
            f[ch + cin * ((o * k + i) * k + j)] = w[o + cout * ((ch * k + (k - 1 - i)) * k + (k - 1 - j))];
    return f;
  }

  /**
   * out's items = conv's convolution of x's items, {@link #DIRECT_ITEMS} items per task, each thread
   * with its own padded image. The kernel stores straight into out's block; where that spans more
   * than a NIO buffer can (2 GiB), into an item-sized buffer copied into it.
   */
  private void directly(VectorConvolution conv, BlasBatch x, BlasBatch out) {
    long items = x.items();
    int per = (int) Math.max(1, Math.min(DIRECT_ITEMS, (items + threads - 1) / threads));
    long tasks = (items + per - 1) / per;
    int size = conv.outputSize();
    java.nio.ByteBuffer target = staged ? null : out.block.bytes;
    int workers = products.workers(tasks);
    double[][] padded = new double[workers][], result = new double[workers][];
    java.nio.ByteBuffer[] staging = new java.nio.ByteBuffer[workers];
    products.singleThreadedInTurn(tasks, items * size, (worker, task) -> {
      if (padded[worker] == null) {
        padded[worker] = conv.newInput();
        if (target == null) {
          result[worker] = new double[size];
          staging[worker] = java.nio.ByteBuffer.allocate(size * Double.BYTES).order(java.nio.ByteOrder.nativeOrder());
        }
      }
      for (long t = task * per, end = Math.min(items, t + per); t < end; t++) {
        conv.load(x, t, padded[worker]);
        if (target != null) {
          conv.apply(padded[worker], target, (int) (t * size * Double.BYTES));
        } else {
          conv.apply(padded[worker], staging[worker], 0);
          staging[worker].asDoubleBuffer().get(0, result[worker], 0, size);
          out.write(t * size, result[worker], 0, size);
        }
      }
    });
    java.lang.ref.Reference.reachabilityFence(out.block);
  }

  /**
   * out's items = filters (one item, {@code m x rows}, columns in {@link PatchRuns}' order) times
   * the unfolding by g of x's items, plus the bias columns (null: none), chunk by chunk.
   */
  private void unfoldAndMultiply(String kernel, BlasBatch filters, BlasBatch x, ConvGeometry g, double[] biasColumns, BlasBatch out) {
    PatchRuns plan = PatchRuns.of(g);
    int m = filters.rows(), rows = plan.rows, patches = plan.columns;
    forChunks(kernel, x.items(), plan, (space, t0, count) -> {
      unfoldInto(x, t0, count, plan, space);
      long at = t0 * m * patches;
      if (biasColumns != null) for (int t = 0; t < count; t++) out.write(at + (long) t * biasColumns.length, biasColumns, 0, biasColumns.length);
      products.gemm(CblasNoTrans, CblasNoTrans, m, count * patches, rows, filters, 0, m, space.scratch, 0, rows, out, at, m, biasColumns == null ? 0 : 1);
    });
  }

  /** out's items = fold(filters' y) per item of y ({@code cout x patches}), chunk by chunk (the adjoint for any stride). */
  private void multiplyAndFold(BlasBatch filters, BlasBatch y, ConvGeometry g, BlasBatch out) {
    PatchRuns plan = PatchRuns.of(g);
    int cout = filters.rows(), rows = plan.rows, patches = plan.columns;
    forChunks("convolutionAdjoint", y.items(), plan, (space, t0, count) -> {
      products.gemm(CblasTrans, CblasNoTrans, rows, count * patches, cout, filters, 0, cout, y, t0 * cout * patches, cout, space.scratch, 0, rows, 0);
      foldFrom(space, count, plan, out, t0);
    });
  }

  /**
   * One thread's working space: its scratch block for a chunk's unfolding ({@code rows x
   * (patches·items)}), an item of the input or of the fold's sum, and a piece of unfolded columns.
   */
  private record Workspace(BlasBatch scratch, double[] item, double[] piece) {}

  /** The work on one chunk: items {@code [t0, t0+count)}, in the thread's workspace. */
  private interface ChunkBody {
    void run(Workspace space, long t0, int count);
  }

  /**
   * Runs {@code body} over the chunks of {@code items} items unfolded by {@code plan}: on each of the
   * backend's threads, the next chunk not yet taken, until none is left; with OpenBLAS
   * single-threaded meanwhile, and set back to the backend's thread count afterwards.
   */
  private void forChunks(String kernel, long items, PatchRuns plan, ChunkBody body) {
    long entries = (long) plan.rows * plan.columns;
    int per = itemsPerChunk(entries, bytesPerEntry, items, threads, chunkBytes);
    long chunks = (items + per - 1) / per;
    Workspace[] spaces = new Workspace[products.workers(chunks)];
    try {
      for (int i = 0; i < spaces.length; i++)
        spaces[i] = new Workspace(be.alloc(kernel, 1, 1, plan.rows, plan.columns * per, false), new double[plan.inputSize],
            new double[piece(plan.rows) * plan.rows]);
      products.singleThreadedInTurn(chunks, items * entries,
          (worker, c) -> body.run(spaces[worker], c * per, (int) Math.min(per, items - c * per)));
    } finally {
      for (Workspace s : spaces) if (s != null) be.release(s.scratch);
    }
  }

  /** Columns per piece of an item's unfolding staged in a Java array: about {@link #PIECE_ENTRIES} entries, at least one column. */
  private static int piece(int rows) {
    return Math.max(1, PIECE_ENTRIES / Math.max(1, rows));
  }

  /** Entries of the staging array of the unfold and fold (64 KiB of doubles: within L2). */
  private static final int PIECE_ENTRIES = 8192;

  /** Items {@code [t0, t0+count)} of x unfolded (rows in the plan's order) into the scratch block, item t at entry {@code (t - t0)·rows·columns}. */
  private static void unfoldInto(BlasBatch x, long t0, int count, PatchRuns plan, Workspace space) {
    int n = plan.inputSize, rows = plan.rows, columns = plan.columns, step = piece(rows);
    long m = (long) rows * columns;
    double[] in = space.item, buf = space.piece;
    BlasBatch scratch = space.scratch;
    java.nio.DoubleBuffer direct = scratch.block.dbuf;
    for (int t = 0; t < count; t++) {
      x.read((t0 + t) * n, in, 0, n);
      if (direct != null) { // float64 within an int's range: straight into the block
        plan.unfold(in, 0, columns, direct, (int) (t * m));
        continue;
      }
      for (int col0 = 0; col0 < columns; col0 += step) {
        int col1 = Math.min(columns, col0 + step);
        plan.unfold(in, col0, col1, buf);
        scratch.write(t * m + (long) col0 * rows, buf, 0, (col1 - col0) * rows);
      }
    }
  }

  /** The scratch block's first {@code count} unfolded items folded into items {@code [t0, t0+count)} of out. */
  private static void foldFrom(Workspace space, int count, PatchRuns plan, BlasBatch out, long t0) {
    int n = plan.inputSize, rows = plan.rows, columns = plan.columns, step = piece(rows);
    long m = (long) rows * columns;
    double[] buf = space.piece, sum = space.item;
    BlasBatch scratch = space.scratch;
    for (int t = 0; t < count; t++) {
      Arrays.fill(sum, 0);
      for (int col0 = 0; col0 < columns; col0 += step) {
        int col1 = Math.min(columns, col0 + step);
        scratch.read(t * m + (long) col0 * rows, buf, 0, (col1 - col0) * rows);
        plan.fold(buf, col0, col1, sum);
      }
      out.write((t0 + t) * n, sum, 0, n);
    }
  }

  /** The column c repeated {@code times} times: the entries of {@code c * ones(times)'}. */
  private static double[] repeatedColumn(double[] c, int times) {
    double[] r = new double[c.length * times];
    for (int j = 0; j < times; j++) System.arraycopy(c, 0, r, j * c.length, c.length);
    return r;
  }
}
