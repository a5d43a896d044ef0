package org.hbp.backend.host;

import static org.hbp.backend.BackendChecks.item;
import static org.hbp.backend.host.ParallelLoops.CHUNK;

import java.util.Arrays;
import java.util.Objects;
import java.util.function.DoubleUnaryOperator;
import org.hbp.backend.BackendChecks;
import org.hbp.backend.Batch;
import org.hbp.backend.ConvGeometry;
import org.hbp.backend.Precision;
import org.hbp.backend.ScalarFunction;

/**
 * The kernels of a backend whose batches the host reads and writes ({@link HostBuffer}): every
 * kernel but the products and the transfers, written once on the {@link HostKernels} and used
 * by the CPU and the BLAS backend. A kernel reads an item, or a chunk of {@link
 * ParallelLoops#CHUNK} entries, into a scratch array, computes on the arrays and writes the
 * result back; the streaming kernels (elementwise, maps, unfold and fold, gathers, sums over
 * samples) split large batches over the backend's {@link ParallelLoops}.
 *
 * <p>Entries are computed in double; a backend storing float rounds them as it writes. Indices
 * held as float are exact only below 2^24: {@link #gather}, {@link #scatterAdd} and {@link
 * #windowArgmax} refuse items with more entries than that in {@link Precision#FLOAT32}.
 *
 * @param <B> the backend's batch class
 */
public abstract class HostBackend<B extends Batch & HostBuffer> extends AbstractBackend<B> {
  /** Indices held as float are exact up to here. */
  private static final int FLOAT_EXACT_INTS = 1 << 24;

  /** The format the batches store. */
  protected final Precision precision;
  /** How the streaming kernels split their work. */
  protected final ParallelLoops loops;

  protected HostBackend(String name, Class<B> batchClass, Precision precision, ParallelLoops loops) {
    super(name, batchClass);
    this.precision = Objects.requireNonNull(precision, "precision is null");
    this.loops = Objects.requireNonNull(loops, "loops is null");
  }

  /** A result batch of the given shape; zeroed when asked (otherwise its contents are undefined). */
  protected abstract B alloc(String kernel, int samples, int directions, int rows, int cols, boolean zero);

  /** Entries of the whole batch. */
  protected static long length(Batch b) {
    return (long) b.items() * b.itemSize();
  }

  // ---- elementwise ---------------------------------------------------------------------------

  @Override
  protected Batch elementwise(String kernel, int op, B x, B y, BackendChecks.Elementwise e) {
    int samples = e.samples(), directions = e.directions();
    boolean xScalar = e.aScalar(), yScalar = e.bScalar();
    B out = alloc(kernel, samples, directions, e.rows(), e.cols(), false);
    if (sameLayout(e, x, y)) {
      loops.chunks(length(out), (from, to) -> {
        double[] bx = new double[CHUNK], by = new double[CHUNK], bo = new double[CHUNK];
        streamBinary(op, x, from, false, y, from, false, out, from, to - from, bx, by, bo);
      });
      return out;
    }
    long xn = x.itemSize(), yn = y.itemSize(), n = (long) e.rows() * e.cols();
    loops.run((long) samples * directions, length(out), (from, to) -> {
      double[] bx = new double[CHUNK], by = new double[CHUNK], bo = new double[CHUNK];
      for (long t = from; t < to; t++) {
        int sa = (int) (t / directions), d = (int) (t % directions);
        streamBinary(op, x, item(x, sa, d) * xn, xScalar, y, item(y, sa, d) * yn, yScalar, out, t * n, n, bx, by, bo);
      }
    });
    return out;
  }

  /** out[oo + p] = x[xo + p] op y[yo + p] for p < n in chunks, where a scalar operand is the one entry at its offset. */
  private static void streamBinary(int op, HostBuffer x, long xo, boolean xs, HostBuffer y, long yo, boolean ys, HostBuffer out,
      long oo, long n, double[] bx, double[] by, double[] bo) {
    if (xs) x.read(xo, bx, 0, 1);
    if (ys) y.read(yo, by, 0, 1);
    for (long q = 0; q < n; q += CHUNK) {
      int len = (int) Math.min(CHUNK, n - q);
      if (!xs) x.read(xo + q, bx, 0, len);
      if (!ys) y.read(yo + q, by, 0, len);
      HostKernels.combine(op, bx, 0, xs, by, 0, ys, bo, 0, len);
      out.write(oo + q, bo, 0, len);
    }
  }

  /** An entrywise map of a whole batch, chunk by chunk: {@code f} works in place on each chunk's first n entries. */
  protected interface ChunkOp {
    void apply(double[] chunk, int n);
  }

  /** {@code f} applied chunk by chunk to a copy of x's entries. */
  protected final B mapChunks(String kernel, B x, ChunkOp f) {
    B out = alloc(kernel, x.samples(), x.directions(), x.rows(), x.cols(), false);
    loops.chunks(length(x), (from, to) -> {
      double[] buf = new double[CHUNK];
      for (long q = from; q < to; q += CHUNK) {
        int len = (int) Math.min(CHUNK, to - q);
        x.read(q, buf, 0, len);
        f.apply(buf, len);
        out.write(q, buf, 0, len);
      }
    });
    return out;
  }

  @Override
  public Batch scale(Batch a, double c) {
    return mapChunks("scale", own("scale", "a", a), (d, n) -> HostKernels.scale(c, d, 0, n));
  }

  @Override
  public Batch zerosLike(Batch a) {
    B x = own("zerosLike", "a", a);
    return alloc("zerosLike", x.samples(), x.directions(), x.rows(), x.cols(), true);
  }

  @Override
  public Batch power(Batch a, double exponent) {
    return mapChunks("power", own("power", "a", a), (d, n) -> HostKernels.power(exponent, d, 0, n));
  }

  /** {@code f} over every entry: its chunk form when it has one (one loop per function), else entry by entry. */
  @Override
  public Batch map(Batch a, ScalarFunction f) {
    B x = own("map", "a", a);
    Objects.requireNonNull(f, "map: function is null");
    ScalarFunction.ChunkMap chunk = f.chunk();
    return mapChunks("map", x, chunk != null ? chunk::apply : (d, n) -> HostKernels.map(f, d, 0, n));
  }

  // ---- per-item kernels ------------------------------------------------------------------------

  @Override
  public Batch transpose(Batch a) {
    B x = own("transpose", "a", a);
    int m = x.rows(), n = x.cols();
    B out = alloc("transpose", x.samples(), x.directions(), n, m, false);
    HostKernels.eachItem(x, m * n, out, m * n, x.items(), false, (s, d, t) -> HostKernels.transpose(s, 0, m, n, d, 0));
    return out;
  }

  @Override
  public Batch kron(Batch a, Batch b) {
    B x = own("kron", "a", a), y = own("kron", "b", b);
    BackendChecks.Kron shape = BackendChecks.kronShape(x, y);
    int samples = shape.samples(), directions = shape.directions(), rows = shape.rows(), cols = shape.cols();
    B out = alloc("kron", samples, directions, rows, cols, false);
    int xn = x.itemSize(), yn = y.itemSize(), on = rows * cols;
    double[] xd = new double[xn], yd = new double[yn], od = new double[on];
    for (int s = 0, t = 0; s < samples; s++)
      for (int d = 0; d < directions; d++, t++) {
        x.read((long) item(x, s, d) * xn, xd, 0, xn);
        y.read((long) item(y, s, d) * yn, yd, 0, yn);
        HostKernels.kron(xd, 0, x.rows(), x.cols(), yd, 0, y.rows(), y.cols(), od, 0);
        out.write((long) t * on, od, 0, on);
      }
    return out;
  }

  @Override
  public Batch sum(Batch a) {
    B x = own("sum", "a", a);
    long n = x.itemSize();
    double[] buf = new double[CHUNK], sums = new double[x.items()];
    for (int t = 0; t < sums.length; t++)
      for (long q = 0; q < n; q += CHUNK) {
        int len = (int) Math.min(CHUNK, n - q);
        x.read(t * n + q, buf, 0, len);
        sums[t] += HostKernels.sum(buf, 0, len);
      }
    return ofScalars("sum", x, sums);
  }

  /** A batch of 1x1 items shaped like x's batch axes, holding {@code values}. */
  private B ofScalars(String kernel, B x, double[] values) {
    B out = alloc(kernel, x.samples(), x.directions(), 1, 1, false);
    out.write(0, values, 0, values.length);
    return out;
  }

  @Override
  public Batch trace(Batch a) {
    B x = own("trace", "a", a);
    BackendChecks.requireSquare("trace", x);
    double[] diagonal = diagonals(x), traces = new double[x.items()];
    for (int t = 0, n = x.rows(); t < traces.length; t++) traces[t] = HostKernels.sum(diagonal, t * n, n);
    return ofScalars("trace", x, traces);
  }

  @Override
  public Batch diagonal(Batch a) {
    B x = own("diagonal", "a", a);
    BackendChecks.requireSquare("diagonal", x);
    B out = alloc("diagonal", x.samples(), x.directions(), x.rows(), 1, false);
    double[] d = diagonals(x);
    out.write(0, d, 0, d.length);
    return out;
  }

  /** The diagonals of x's square items side by side (read entry by entry: items may be large). */
  private double[] diagonals(B x) {
    int n = x.rows();
    long nn = (long) n * n;
    double[] d = new double[x.items() * n];
    for (int t = 0; t < x.items(); t++)
      for (int i = 0; i < n; i++) x.read(t * nn + (long) i * (n + 1), d, t * n + i, 1);
    return d;
  }

  @Override
  public Batch diagMatrix(Batch v) {
    B x = own("diagMatrix", "v", v);
    BackendChecks.checkDiagMatrix(x);
    int n = x.rows();
    B out = alloc("diagMatrix", x.samples(), x.directions(), n, n, true);
    long nn = (long) n * n;
    double[] d = new double[n];
    for (int t = 0; t < x.items(); t++) {
      x.read((long) t * n, d, 0, n);
      for (int i = 0; i < n; i++) out.write(t * nn + (long) i * (n + 1), d, i, 1);
    }
    return out;
  }

  @Override
  public Batch softmax(Batch a) {
    B x = own("softmax", "a", a);
    int n = x.itemSize();
    B out = alloc("softmax", x.samples(), x.directions(), x.rows(), x.cols(), false);
    HostKernels.eachItem(x, n, out, n, x.items(), false, (s, d, t) -> HostKernels.softmax(s, 0, n, d, 0));
    return out;
  }

  @Override
  public Batch logSumExp(Batch a) {
    B x = own("logSumExp", "a", a);
    int n = x.itemSize();
    double[] s = new double[n], values = new double[x.items()];
    for (int t = 0; t < values.length; t++) {
      x.read((long) t * n, s, 0, n);
      values[t] = HostKernels.logSumExp(s, 0, n);
    }
    return ofScalars("logSumExp", x, values);
  }

  // ---- per-item decompositions (EJML) ---------------------------------------------------------

  @Override
  public Batch inverse(Batch a) {
    B x = own("inverse", "a", a);
    BackendChecks.requireSquare("inverse", x);
    B out = alloc("inverse", x.samples(), x.directions(), x.rows(), x.rows(), false);
    HostLinearAlgebra.inverse(x, out, x, precision);
    return out;
  }

  @Override
  public Batch determinant(Batch a) {
    B x = own("determinant", "a", a);
    BackendChecks.requireSquare("determinant", x);
    return ofScalars("determinant", x, HostLinearAlgebra.determinants(x, x));
  }

  @Override
  public Batch symmetricEigenMap(Batch a, DoubleUnaryOperator f) {
    B x = own("symmetricEigenMap", "a", a);
    BackendChecks.requireSquare("symmetricEigenMap", x);
    Objects.requireNonNull(f, "symmetricEigenMap: function is null");
    B out = alloc("symmetricEigenMap", x.samples(), x.directions(), x.rows(), x.rows(), false);
    HostLinearAlgebra.symmetricEigenMap(x, f, out, x);
    return out;
  }

  // ---- structured linear maps ----------------------------------------------------------------

  @Override
  public Batch unfold(Batch x, ConvGeometry g) {
    B in = own("unfold", "x", x);
    BackendChecks.checkUnfold(in, g);
    int[] table = BackendChecks.patchTable(g);
    int n = in.itemSize(), m = table.length;
    B out = alloc("unfold", in.samples(), in.directions(), g.patchRows(), g.patches(), false);
    loops.run(in.items(), length(out), (t0, t1) -> {
      double[] s = new double[n], d = new double[Math.min(m, CHUNK)];
      for (long t = t0; t < t1; t++) {
        in.read(t * n, s, 0, n);
        for (int e0 = 0; e0 < m; e0 += d.length) {
          int len = Math.min(d.length, m - e0);
          HostKernels.unfold(table, e0, len, s, 0, d, 0);
          out.write(t * m + e0, d, 0, len);
        }
      }
    });
    return out;
  }

  @Override
  public Batch fold(Batch columns, ConvGeometry g) {
    B in = own("fold", "columns", columns);
    BackendChecks.checkFold(in, g);
    int[] table = BackendChecks.patchTable(g);
    int n = g.inputSize(), m = table.length;
    B out = alloc("fold", in.samples(), in.directions(), g.c(), g.h() * g.w(), false);
    loops.run(in.items(), length(in), (t0, t1) -> {
      double[] s = new double[Math.min(m, CHUNK)], d = new double[n];
      for (long t = t0; t < t1; t++) {
        Arrays.fill(d, 0);
        for (int e0 = 0; e0 < m; e0 += s.length) {
          int len = Math.min(s.length, m - e0);
          in.read(t * m + e0, s, 0, len);
          HostKernels.fold(table, e0, len, s, 0, d, 0);
        }
        out.write(t * n, d, 0, n);
      }
    });
    return out;
  }

  /** The entries of an index batch as ints, each checked to be an integer in [-1, n). */
  protected int[] indices(String kernel, B index, int n) {
    BackendChecks.checkIndexDirections(kernel, index);
    requireExactIndices(kernel, n);
    if (length(index) > BackendChecks.MAX_ENTRIES)
      throw new IllegalArgumentException(kernel + ": index batch " + index.describe() + " is too large");
    int len = (int) length(index);
    int[] idx = new int[len];
    double[] buf = new double[Math.min(Math.max(len, 1), CHUNK)];
    for (int o = 0; o < len; o += buf.length) {
      int c = Math.min(buf.length, len - o);
      index.read(o, buf, 0, c);
      for (int k = 0; k < c; k++) idx[o + k] = BackendChecks.indexEntry(kernel, index, buf[k], o + k, n);
    }
    return idx;
  }

  /** Refuses float32 indices into items of more than 2^24 entries (float holds integers exactly only up to there). */
  private void requireExactIndices(String kernel, int n) {
    if (precision == Precision.FLOAT32 && n > FLOAT_EXACT_INTS)
      throw new IllegalArgumentException(kernel + ": items of " + n + " entries cannot be indexed exactly in float32"
          + " (float holds integers exactly only up to 2^24 = " + FLOAT_EXACT_INTS + "); use a FLOAT64 backend");
  }

  @Override
  public Batch gather(Batch x, Batch index) {
    return gather("gather", x, index, null);
  }

  /** {@link #gather} with each entry multiplied as it is read, where y has the index items' shape and the result's axes or 1. */
  @Override
  public Batch gatherMultiply(Batch x, Batch index, Batch y) {
    B f = own("gatherMultiply", "y", y);
    Batch out = gather("gatherMultiply", x, index, f);
    return out != null ? out : super.gatherMultiply(x, index, y);
  }

  /** The gather, multiplied by factor where it is not null; null where factor does not fit the result ({@link #fits}). */
  private Batch gather(String kernel, Batch x, Batch index, B factor) {
    B src = own(kernel, "x", x), ix = own(kernel, "index", index);
    int[] idx = indices(kernel, ix, src.itemSize());
    int samples = BackendChecks.axis(kernel, "samples", src, ix, src.samples(), ix.samples());
    if (factor != null && !fits(factor, ix, samples, src.directions())) return null;
    B out = alloc(kernel, samples, src.directions(), ix.rows(), ix.cols(), false);
    gatherItems(src, ix, idx, factor, out);
    return out;
  }

  /**
   * Whether a factor y of {@link #gatherMultiply} or {@link #multiplyScatterAdd} multiplies the
   * items of the index's shape entry by entry without widening the result: y's items have the index
   * items' shape, and each of its axes is 1 or the result's. Otherwise the composed kernels serve.
   */
  private static boolean fits(Batch y, Batch ix, int samples, int directions) {
    return y.rows() == ix.rows() && y.cols() == ix.cols() && (y.samples() == 1 || y.samples() == samples)
        && (y.directions() == 1 || y.directions() == directions);
  }

  /**
   * The loop of {@link #gather} on checked operands: item {@code (s, v)} of {@code out} (a fresh
   * {@code [samples x directions]} batch of {@code ix}'s item shape) is {@code out[j] =
   * src[idx[i*m + j]]} (0 where the index is -1) with {@code src} item {@code (s, v)} (broadcast
   * where src has one sample), {@code i} the sample of {@code ix} (0 where it has one) and {@code m}
   * its item size; {@code idx} is {@code ix}'s entries as checked ints ({@link #indices}). Where
   * {@code factor} is not null ({@link #gatherMultiply}), each entry is {@code factor[j] * out[j]}
   * instead, with factor's item {@code (s, v)} (broadcast along its axes of 1). Writes {@code out}
   * only. The items are split over {@link #loops}; a backend overrides this to gather on its own
   * memory.
   */
  protected void gatherItems(B src, B ix, int[] idx, B factor, B out) {
    int n = src.itemSize(), m = ix.itemSize(), directions = out.directions();
    loops.run(out.items(), length(out), (t0, t1) -> {
      double[] s = new double[n], d = new double[m], f = factor == null ? null : new double[m];
      for (long t = t0; t < t1; t++) {
        int sa = (int) (t / directions), v = (int) (t % directions);
        src.read((long) item(src, sa, v) * n, s, 0, n);
        HostKernels.gather(idx, (ix.samples() == 1 ? 0 : sa) * m, m, s, 0, d, 0);
        if (f != null) {
          factor.read((long) item(factor, sa, v) * m, f, 0, m);
          for (int j = 0; j < m; j++) d[j] = f[j] * d[j]; // exact in double for float32 operands, rounded once as written
        }
        out.write(t * m, d, 0, m);
      }
    });
  }

  @Override
  public Batch scatterAdd(Batch g, Batch index, int rows, int cols) {
    return scatterAdd("scatterAdd", null, g, index, rows, cols);
  }

  /**
   * {@link #scatterAdd} of the products, each rounded to the backend's precision before it is
   * summed, where g and y have the index items' shape and y the result's axes or 1; otherwise the
   * composed kernels (which broadcast a 1x1 g, and refuse items of other shapes as multiply does).
   */
  @Override
  public Batch multiplyScatterAdd(Batch y, Batch g, Batch index, int rows, int cols) {
    B f = own("multiplyScatterAdd", "y", y);
    Batch out = g.rows() == f.rows() && g.cols() == f.cols() ? scatterAdd("multiplyScatterAdd", f, g, index, rows, cols) : null;
    return out != null ? out : super.multiplyScatterAdd(y, g, index, rows, cols);
  }

  /** The scatter-add of g, multiplied by factor first where it is not null; null where factor does not fit ({@link #fits}). */
  private Batch scatterAdd(String kernel, B factor, Batch g, Batch index, int rows, int cols) {
    B gr = own(kernel, "g", g), ix = own(kernel, "index", index);
    int n = BackendChecks.scatterAddTarget(gr, ix, rows, cols);
    int[] idx = indices(kernel, ix, n);
    int samples = BackendChecks.axis(kernel, "samples", gr, ix, gr.samples(), ix.samples());
    if (factor != null && !fits(factor, ix, samples, gr.directions())) return null;
    B out = alloc(kernel, samples, gr.directions(), rows, cols, false);
    scatterAddItems(factor, gr, ix, idx, out);
    return out;
  }

  /**
   * The loop of {@link #scatterAdd} on checked operands: item {@code (s, v)} of {@code out} (a
   * fresh {@code [samples x directions]} batch of the target item shape, n entries, contents
   * undefined) is zero plus {@code out[idx[i*m + j]] += g[j]} for {@code j = 0, 1, ..., m-1} in
   * that order (-1 skipped), summed in double and rounded once as stored, with {@code g} item
   * {@code (s, v)} (broadcast where g has one sample), {@code i} the sample of {@code ix} (0 where
   * it has one) and {@code m} its item size; {@code idx} is {@code ix}'s entries as checked ints
   * ({@link #indices}). Where {@code factor} is not null ({@link #multiplyScatterAdd}), the terms
   * are {@code factor[j] * g[j]}, each rounded to the backend's precision, with factor's item
   * {@code (s, v)} (broadcast along its axes of 1). Writes {@code out} only. The items are split
   * over {@link #loops}; a backend overrides this to scatter on its own memory, with the same sums.
   */
  protected void scatterAddItems(B factor, B gr, B ix, int[] idx, B out) {
    int n = out.itemSize(), m = ix.itemSize(), directions = out.directions();
    boolean float32 = precision == Precision.FLOAT32;
    loops.run(out.items(), length(out) + (long) out.items() * m, (t0, t1) -> {
      double[] s = new double[m], d = new double[n], f = factor == null ? null : new double[m];
      for (long t = t0; t < t1; t++) {
        int sa = (int) (t / directions), v = (int) (t % directions);
        gr.read((long) item(gr, sa, v) * m, s, 0, m);
        if (f != null) {
          factor.read((long) item(factor, sa, v) * m, f, 0, m);
          for (int j = 0; j < m; j++) s[j] = float32 ? (float) (f[j] * s[j]) : f[j] * s[j]; // the product multiply would store
        }
        Arrays.fill(d, 0);
        HostKernels.scatterAdd(idx, (ix.samples() == 1 ? 0 : sa) * m, m, s, 0, d, 0);
        out.write(t * n, d, 0, n);
      }
    });
  }

  @Override
  public Batch windowArgmax(Batch x, int c, int h, int w, int k, int s, int p) {
    B in = own("windowArgmax", "x", x);
    BackendChecks.checkWindowArgmax(in, c, h, w, k, s, p);
    requireExactIndices("windowArgmax", in.itemSize());
    int oh = BackendChecks.pooledSize(h, k, s, p), ow = BackendChecks.pooledSize(w, k, s, p);
    int n = in.itemSize(), m = c * oh * ow;
    if ((long) in.samples() * m > BackendChecks.MAX_ENTRIES)
      throw new IllegalArgumentException("windowArgmax: x " + in.describe() + " has too many windows for one index batch");
    B out = alloc("windowArgmax", in.samples(), 1, c, oh * ow, false);
    int[] idx = new int[in.samples() * m];
    loops.run(in.samples(), length(in), (s0, s1) -> {
      double[] xs = new double[n], positions = new double[m];
      for (long a = s0; a < s1; a++) {
        int io = (int) (a * m);
        in.read(a * n, xs, 0, n);
        BackendChecks.windowArgmax(xs, 0, c, h, w, k, s, p, idx, io);
        for (int j = 0; j < m; j++) positions[j] = idx[io + j];
        out.write(a * m, positions, 0, m);
      }
    });
    madeIndices(out, n, idx, s >= k);
    return out;
  }

  /**
   * Called by {@link #windowArgmax} with the index batch it made and its entries as ints ({@code
   * idx}, positions in items of {@code n} entries, -1 for a window of padding only); {@code
   * injective} where no two entries of an index item coincide, -1 aside (the windows do not
   * overlap: stride at least the window). A backend that keeps converted index batches ({@link
   * #indices}) keeps these; the default does nothing.
   */
  protected void madeIndices(B index, int n, int[] idx, boolean injective) {}

  // ---- batch axes ----------------------------------------------------------------------------

  @Override
  public Batch sumSamples(Batch a) {
    B x = own("sumSamples", "a", a);
    long block = (long) x.directions() * x.itemSize();
    B out = alloc("sumSamples", 1, x.directions(), x.rows(), x.cols(), false);
    long chunks = (block + CHUNK - 1) / CHUNK;
    loops.run(chunks, length(x), (c0, c1) -> {
      double[] acc = new double[CHUNK], buf = new double[CHUNK];
      for (long q = c0 * CHUNK; q < Math.min(block, c1 * CHUNK); q += CHUNK) {
        int len = (int) Math.min(CHUNK, block - q);
        Arrays.fill(acc, 0, len, 0);
        for (int sa = 0; sa < x.samples(); sa++) {
          x.read(sa * block + q, buf, 0, len);
          HostKernels.accumulate(buf, 0, acc, 0, len);
        }
        out.write(q, acc, 0, len);
      }
    });
    return out;
  }
}
