package org.hbp.backend;

import java.util.Objects;

/**
 * The argument checks, shape rules and host-side index geometry that every {@link Backend}
 * implementation shares: static helpers that validate a kernel's operands, throw the documented
 * {@link IllegalArgumentException} (naming the kernel, the operands by {@link Batch#describe()} and
 * what was expected) and return the extents the kernel computes with. The kernels' loops stay in the
 * backends; only what is independent of where a batch's data lives is here, so that all backends
 * agree on shapes, broadcasting and messages.
 */
public final class BackendChecks {
  /** Largest array the JVM reliably allocates. */
  public static final long MAX_ENTRIES = Integer.MAX_VALUE - 8;

  private BackendChecks() {}

  // ---- batch axes and items ------------------------------------------------------------------

  /** The broadcast extent of one batch axis of operands a and b (extents x of a, y of b). */
  public static int axis(String kernel, String axis, Batch a, Batch b, int x, int y) {
    if (x == y || y == 1) return x;
    if (x == 1) return y;
    throw new IllegalArgumentException(kernel + ": batch axes of " + a.describe() + " and " + b.describe()
        + " do not broadcast (" + axis + " " + x + " vs " + y + "; expected equal extents or one of them 1)");
  }

  /**
   * Entries of a batch of the given shape held in one native allocation (item sizes stay ints, as
   * {@link Batch} reports them), or an IllegalArgumentException naming the kernel.
   */
  public static long entries(String kernel, int samples, int directions, int rows, int cols) {
    if (samples < 1 || directions < 1 || rows < 0 || cols < 0)
      throw new IllegalArgumentException(kernel + ": invalid batch shape [" + samples + " x " + directions + "] " + rows + "x" + cols
          + " (batch axes must be >= 1, item dimensions >= 0)");
    long item = (long) rows * cols;
    if (item > Integer.MAX_VALUE)
      throw new IllegalArgumentException(kernel + ": items " + rows + "x" + cols + " have " + item + " entries, more than an int counts");
    long items = (long) samples * directions;
    if (items > Integer.MAX_VALUE || (item > 0 && items > Long.MAX_VALUE / 8 / item))
      throw new IllegalArgumentException(kernel + ": batch [" + samples + " x " + directions + "] " + rows + "x" + cols + " is too large");
    return items * item;
  }

  /** Item position in {@code b} of the output item (s, d), broadcasting b's axes of extent 1. */
  public static int item(Batch b, int s, int d) {
    return (b.samples() == 1 ? 0 : s) * b.directions() + (b.directions() == 1 ? 0 : d);
  }

  /** Item {@code t} of {@code a} with its sample and direction, for messages. */
  public static String itemName(Batch a, int t) {
    return "item " + t + " (sample " + t / a.directions() + ", direction " + t % a.directions() + ") of " + a.describe();
  }

  /** Requires square items of operand {@code a} of the kernel. */
  public static void requireSquare(String kernel, Batch a) {
    if (a.rows() != a.cols())
      throw new IllegalArgumentException(kernel + ": operand " + a.describe() + " has non-square items; expected n x n items");
  }

  // ---- transfer, constants and views ---------------------------------------------------------

  /** The checks of {@link Backend#fromArray}: data present, a valid shape, and exactly its entry count. */
  public static void checkFromArray(int samples, int directions, int rows, int cols, double[] data) {
    Objects.requireNonNull(data, "fromArray: data is null");
    if (samples < 1 || directions < 1 || rows < 0 || cols < 0)
      throw new IllegalArgumentException("fromArray: invalid shape [" + samples + " x " + directions + "] " + rows + "x" + cols
          + "; expected samples, directions >= 1 and rows, cols >= 0");
    long n = (long) samples * directions * rows * cols;
    if (n != data.length)
      throw new IllegalArgumentException("fromArray: shape [" + samples + " x " + directions + "] " + rows + "x" + cols
          + " needs " + n + " entries, got " + data.length);
  }

  /**
   * The range of {@link Backend#toArray(Batch, int, int)}: samples {@code first .. first + count - 1}
   * of {@code b}'s, and at most a Java array's entries; the entries per sample (directions times
   * item), as a long.
   */
  public static long checkSampleRange(Batch b, int first, int count) {
    if (first < 0 || count < 0 || (long) first + count > b.samples())
      throw new IllegalArgumentException("toArray: samples " + first + " .. " + ((long) first + count - 1) + " of " + b.describe()
          + "; expected a range within its " + b.samples() + " samples");
    long item = (long) b.directions() * b.itemSize();
    if (count * item > MAX_ENTRIES)
      throw new IllegalArgumentException("toArray: " + count + " samples of " + b.describe() + " have " + count * item
          + " entries, more than a Java array holds");
    return item;
  }

  /** The item shape of {@link Backend#fill}. */
  public static void checkFill(int rows, int cols) {
    if (rows < 0 || cols < 0) throw new IllegalArgumentException("fill: invalid item shape " + rows + "x" + cols);
  }

  /** The size of {@link Backend#eye}. */
  public static void checkEye(int n) {
    if (n < 0) throw new IllegalArgumentException("eye: invalid size " + n);
  }

  /** {@link Backend#reshape} of {@code a}'s items to {@code rows x cols}: the same entry count. */
  public static void checkReshape(Batch a, int rows, int cols) {
    if (rows < 0 || cols < 0 || (long) rows * cols != a.itemSize())
      throw new IllegalArgumentException("reshape: items of " + a.describe() + " (" + a.itemSize() + " entries) cannot be "
          + rows + "x" + cols + "; expected the same entry count");
  }

  /** The direction extent of {@link Backend#columnsAsDirections} of {@code a}: {@code directions*cols}. */
  public static int columnsAsDirections(Batch a) {
    long dirs = (long) a.directions() * a.cols();
    if (a.cols() < 1 || dirs > Integer.MAX_VALUE)
      throw new IllegalArgumentException("columnsAsDirections: operand " + a.describe()
          + " cannot be split into one direction per column; expected items with 1 or more columns and directions*cols in int range");
    return (int) dirs;
  }

  /** {@link Backend#directionsAsColumns} of {@code a}: column items, directions a multiple of {@code cols}. */
  public static void checkDirectionsAsColumns(Batch a, int cols) {
    if (a.cols() != 1)
      throw new IllegalArgumentException("directionsAsColumns: operand " + a.describe() + " has items with " + a.cols()
          + " columns; expected column items r x 1");
    if (cols < 1 || a.directions() % cols != 0)
      throw new IllegalArgumentException("directionsAsColumns: " + a.directions() + " directions of " + a.describe()
          + " cannot be grouped into " + cols + " columns; expected a positive divisor of the direction extent");
  }

  /** {@link Backend#samplesAsColumns} of {@code a}: one direction of column items. */
  public static void checkSamplesAsColumns(Batch a) {
    if (a.directions() != 1 || a.cols() != 1)
      throw new IllegalArgumentException("samplesAsColumns: operand " + a.describe()
          + " cannot be seen as one matrix of its samples' columns; expected [S x 1] items r x 1");
  }

  // ---- elementwise ---------------------------------------------------------------------------

  /** The operator codes of the elementwise kernels add, subtract, multiply and divide. */
  public static final int ADD = 0, SUBTRACT = 1, MULTIPLY = 2, DIVIDE = 3;

  /** {@code v op w} for an operator code. */
  public static double scalarOp(int op, double v, double w) {
    return switch (op) {
      case ADD -> v + w;
      case SUBTRACT -> v - w;
      case MULTIPLY -> v * w;
      default -> v / w;
    };
  }

  /**
   * The result shape of an elementwise kernel: broadcast batch axes, the item shape, and which
   * operand (if any) has 1x1 items broadcast over the other's entries.
   */
  public record Elementwise(int samples, int directions, int rows, int cols, boolean aScalar, boolean bScalar) {}

  /** The checks and result shape of the elementwise kernel {@code kernel} of a and b. */
  public static Elementwise elementwise(String kernel, Batch a, Batch b) {
    int samples = axis(kernel, "samples", a, b, a.samples(), b.samples());
    int directions = axis(kernel, "directions", a, b, a.directions(), b.directions());
    if (a.rows() == b.rows() && a.cols() == b.cols()) return new Elementwise(samples, directions, a.rows(), a.cols(), false, false);
    if (b.rows() == 1 && b.cols() == 1) return new Elementwise(samples, directions, a.rows(), a.cols(), false, true);
    if (a.rows() == 1 && a.cols() == 1) return new Elementwise(samples, directions, b.rows(), b.cols(), true, false);
    throw new IllegalArgumentException(kernel + ": item shapes of " + a.describe() + " and " + b.describe()
        + " differ; expected equal item shapes, or one operand with 1x1 items");
  }

  // ---- products ------------------------------------------------------------------------------

  /**
   * The extents of {@code op(a) * op(b)}: {@code op(a)} is {@code m x k}, {@code op(b)} is
   * {@code k x n}, over the broadcast batch axes {@code samples x directions}.
   */
  public record Product(int m, int k, int n, int samples, int directions) {}

  /** The checks and extents of {@link Backend#matmul}. */
  public static Product matmulShape(Batch a, boolean transposeA, Batch b, boolean transposeB) {
    return product("matmul", a, transposeA, b, transposeB, true);
  }

  /** The checks and extents of {@link Backend#matmulSumSamples} (before the sum over samples). */
  public static Product matmulSumSamplesShape(Batch a, boolean transposeA, Batch b, boolean transposeB) {
    return product("matmulSumSamples", a, transposeA, b, transposeB, false);
  }

  /** Inner dimensions, then batch axes; {@code markTransposed} names transposed operands in the message. */
  private static Product product(String kernel, Batch a, boolean transposeA, Batch b, boolean transposeB, boolean markTransposed) {
    int m = transposeA ? a.cols() : a.rows(), k = transposeA ? a.rows() : a.cols();
    int k2 = transposeB ? b.cols() : b.rows(), n = transposeB ? b.rows() : b.cols();
    if (k != k2)
      throw new IllegalArgumentException(kernel + ": inner dimensions differ: op(a) is " + m + "x" + k + " for a = " + a.describe()
          + (markTransposed && transposeA ? " (transposed)" : "") + ", op(b) is " + k2 + "x" + n + " for b = " + b.describe()
          + (markTransposed && transposeB ? " (transposed)" : "") + "; expected cols(op(a)) == rows(op(b))");
    int samples = axis(kernel, "samples", a, b, a.samples(), b.samples());
    int directions = axis(kernel, "directions", a, b, a.directions(), b.directions());
    return new Product(m, k, n, samples, directions);
  }

  /** The result shape of {@link Backend#kron}: broadcast batch axes, items {@code rows x cols}. */
  public record Kron(int samples, int directions, int rows, int cols) {}

  /** The checks and result shape of {@link Backend#kron} of a and b. */
  public static Kron kronShape(Batch a, Batch b) {
    int samples = axis("kron", "samples", a, b, a.samples(), b.samples());
    int directions = axis("kron", "directions", a, b, a.directions(), b.directions());
    long rows = (long) a.rows() * b.rows(), cols = (long) a.cols() * b.cols();
    if (rows > Integer.MAX_VALUE || cols > Integer.MAX_VALUE)
      throw new IllegalArgumentException("kron: result items of " + a.describe() + " and " + b.describe() + " are too large");
    return new Kron(samples, directions, (int) rows, (int) cols);
  }

  /** {@link Backend#diagMatrix} of {@code v}: column items. */
  public static void checkDiagMatrix(Batch v) {
    if (v.cols() != 1)
      throw new IllegalArgumentException("diagMatrix: operand " + v.describe() + " does not have column items; expected n x 1 items");
  }

  // ---- structured linear maps ----------------------------------------------------------------

  /** {@link Backend#unfold} of {@code x}: a geometry, and items of its input's entry count. */
  public static void checkUnfold(Batch x, ConvGeometry g) {
    Objects.requireNonNull(g, "unfold: geometry is null");
    if (x.itemSize() != g.inputSize())
      throw new IllegalArgumentException("unfold: items of " + x.describe() + " have " + x.itemSize() + " entries; geometry "
          + g + " expects c x (h*w) = " + g.c() + "x" + (g.h() * g.w()) + " items (" + g.inputSize() + " entries)");
  }

  /** The bias of {@link Backend#convolution}: none (null), or one entry per filter (row of w). */
  public static void checkBias(String kernel, Batch w, Batch bias) {
    if (bias != null && (bias.rows() != w.rows() || bias.cols() != 1))
      throw new IllegalArgumentException(kernel + ": bias " + bias.describe() + " has " + bias.rows() + "x" + bias.cols()
          + " items; expected one entry per filter, " + w.rows() + "x1 items");
  }

  /** {@link Backend#fold} of {@code columns}: a geometry, and items of unfold's entry count. */
  public static void checkFold(Batch columns, ConvGeometry g) {
    Objects.requireNonNull(g, "fold: geometry is null");
    if ((long) columns.itemSize() != (long) g.patchRows() * g.patches())
      throw new IllegalArgumentException("fold: items of " + columns.describe() + " have " + columns.itemSize() + " entries; geometry "
          + g + " expects (c*k*k) x patches = " + g.patchRows() + "x" + g.patches() + " items");
  }

  /**
   * For each entry (row, col) of unfold(X), at {@code row + patchRows*col}, the column-major index
   * of X it reads, or -1 in the padding: the convention of {@link ConvGeometry}.
   */
  public static int[] patchTable(ConvGeometry g) {
    int c = g.c(), h = g.h(), w = g.w(), k = g.k(), outH = g.outH(), outW = g.outW(), r = g.patchRows();
    long size = (long) r * g.patches();
    if (size > MAX_ENTRIES) throw new IllegalArgumentException("unfold geometry " + g + " has too many patch entries");
    int[] table = new int[(int) size];
    for (int ch = 0; ch < c; ch++)
      for (int ki = 0; ki < k; ki++)
        for (int kj = 0; kj < k; kj++) {
          int row = (ch * k + ki) * k + kj;
          for (int ow = 0; ow < outW; ow++) {
            int xx = ow * g.s() - g.p() + kj * g.d();
            for (int oh = 0; oh < outH; oh++) {
              int yy = oh * g.s() - g.p() + ki * g.d();
              boolean inside = yy >= 0 && yy < h && xx >= 0 && xx < w;
              table[row + r * (oh + outH * ow)] = inside ? ch + c * (yy + h * xx) : -1;
            }
          }
        }
    return table;
  }

  /** An index batch of {@link Backend#gather} or {@link Backend#scatterAdd}: one direction. */
  public static void checkIndexDirections(String kernel, Batch index) {
    if (index.directions() != 1)
      throw new IllegalArgumentException(kernel + ": index batch " + index.describe() + " has " + index.directions()
          + " directions; expected one direction");
  }

  /** Entry {@code v} at position {@code p} of an index batch, checked to be an integer in [-1, n). */
  public static int indexEntry(String kernel, Batch index, double v, int p, int n) {
    if (v != Math.rint(v) || v < -1 || v >= n) {
      int m = index.itemSize();
      throw new IllegalArgumentException(kernel + ": index batch " + index.describe() + " has entry " + v + " at position " + p
          + " (item " + (m == 0 ? 0 : p / m) + ", entry " + (m == 0 ? 0 : p % m) + "); expected an integer in [-1, " + n + ")");
    }
    return (int) v;
  }

  /**
   * The checks of {@link Backend#scatterAdd} of {@code g} by {@code index} into {@code rows x cols}
   * items; the entries of a target item, {@code rows*cols}.
   */
  public static int scatterAddTarget(Batch g, Batch index, int rows, int cols) {
    if (rows < 0 || cols < 0 || (long) rows * cols > Integer.MAX_VALUE)
      throw new IllegalArgumentException("scatterAdd: invalid target item shape " + rows + "x" + cols);
    if (g.itemSize() != index.itemSize())
      throw new IllegalArgumentException("scatterAdd: items of g " + g.describe() + " and of index " + index.describe()
          + " differ in entry count; expected g items shaped like the index items");
    return rows * cols;
  }

  // ---- batch axes ----------------------------------------------------------------------------

  /** {@link Backend#meanSamples} of {@code a} for batch size n: n >= 1, and a has n samples or 1. */
  public static void checkMeanSamples(Batch a, int n) {
    if (n < 1) throw new IllegalArgumentException("meanSamples: batch size " + n + " of " + a.describe() + "; expected n >= 1");
    if (a.samples() != 1 && a.samples() != n)
      throw new IllegalArgumentException("meanSamples: operand " + a.describe() + " has " + a.samples()
          + " samples but the batch size is " + n + "; expected " + n + " samples or 1");
  }

  /** Checks the operand of {@link Backend#windowArgmax}. */
  public static void checkWindowArgmax(Batch x, int c, int h, int w, int k) {
    if (c < 1 || h < 1 || w < 1 || k < 1 || h % k != 0 || w % k != 0)
      throw new IllegalArgumentException("windowArgmax: tensor (" + c + ", " + h + ", " + w + ") with window " + k
          + "; expected positive sizes with h and w divisible by k");
    if (x.directions() != 1 || x.rows() * x.cols() != c * h * w)
      throw new IllegalArgumentException("windowArgmax: x " + x.describe() + "; expected one-direction items of " + c + "*" + h + "*" + w
          + " = " + c * h * w + " entries (a tensor (" + c + ", " + h + ", " + w + "))");
  }

  /**
   * Checks the operand of {@link Backend#windowArgmax(Batch, int, int, int, int, int, int)}: positive
   * sizes, window and stride, padding at least 0, at least one window on each axis.
   */
  public static void checkWindowArgmax(Batch x, int c, int h, int w, int k, int s, int p) {
    if (c < 1 || h < 1 || w < 1 || k < 1 || s < 1 || p < 0 || h + 2L * p < k || w + 2L * p < k)
      throw new IllegalArgumentException("windowArgmax: tensor (" + c + ", " + h + ", " + w + ") with window " + k + ", stride " + s
          + ", padding " + p + "; expected positive sizes, window and stride, padding >= 0 and the padded height and width at least the window");
    if (x.directions() != 1 || x.rows() * x.cols() != c * h * w)
      throw new IllegalArgumentException("windowArgmax: x " + x.describe() + "; expected one-direction items of " + c + "*" + h + "*" + w
          + " = " + c * h * w + " entries (a tensor (" + c + ", " + h + ", " + w + "))");
  }

  /** The number of k-windows at stride s along an axis of n entries padded by p on each side (floor mode): (n + 2p - k)/s + 1. */
  public static int pooledSize(int n, int k, int s, int p) {
    return (n + 2 * p - k) / s + 1;
  }

  /**
   * The arg-max of each k x k window of one item {@code xs[xo ..]} (tensor (c, h, w) column-major)
   * into {@code idx[io ..]}, as positions in the item: see {@link Backend#windowArgmax(Batch, int,
   * int, int, int)} (stride k, no padding).
   */
  public static void windowArgmax(double[] xs, int xo, int c, int h, int w, int k, int[] idx, int io) {
    windowArgmax(xs, xo, c, h, w, k, k, 0, idx, io);
  }

  /**
   * The arg-max of each k x k window at stride s of one item {@code xs[xo ..]} (tensor (c, h, w)
   * column-major) padded by p, into {@code idx[io ..]}, as positions in the item: see {@link
   * Backend#windowArgmax(Batch, int, int, int, int, int, int)}. A window covers the rows and
   * columns of x that it overlaps (the padding, -inf, never wins); one that overlaps none gives -1.
   *
   * <p>Per output position the window's c channels lie side by side. A first pass takes their
   * maxima ({@code Math.max}, without branches, vectorized by the JIT); a second, walking the
   * window backwards, keeps the first position holding the maximum. Comparing entries one by one
   * instead mispredicts on random data about once per window (twice as slow). A NaN maximum (no
   * position equals it) takes the comparing loop: the last NaN of the window wins.
   */
  public static void windowArgmax(double[] xs, int xo, int c, int h, int w, int k, int s, int p, int[] idx, int io) {
    int oh = pooledSize(h, k, s, p), ow = pooledSize(w, k, s, p);
    double[] max = new double[c];
    int[] best = new int[c];
    for (int ox = 0; ox < ow; ox++)
      for (int oy = 0; oy < oh; oy++) {
        int o = io + c * (oy + oh * ox);
        int y0 = Math.max(0, oy * s - p), y1 = Math.min(h, oy * s - p + k), x0 = Math.max(0, ox * s - p), x1 = Math.min(w, ox * s - p + k);
        if (y0 >= y1 || x0 >= x1) { // padding only
          java.util.Arrays.fill(idx, o, o + c, -1);
          continue;
        }
        int corner = c * (y0 + h * x0);
        for (int ch = 0; ch < c; ch++) max[ch] = xs[xo + corner + ch];
        for (int xx = x0; xx < x1; xx++)
          for (int y = xx == x0 ? y0 + 1 : y0; y < y1; y++) {
            int base = xo + c * (y + h * xx);
            for (int ch = 0; ch < c; ch++) max[ch] = Math.max(max[ch], xs[base + ch]);
          }
        java.util.Arrays.fill(best, -1);
        for (int xx = x1 - 1; xx >= x0; xx--)
          for (int y = y1 - 1; y >= y0; y--) {
            int base = c * (y + h * xx);
            for (int ch = 0; ch < c; ch++) best[ch] = xs[xo + base + ch] == max[ch] ? base + ch : best[ch];
          }
        for (int ch = 0; ch < c; ch++) {
          if (best[ch] < 0) { // a NaN in the window
            best[ch] = corner + ch;
            double m = xs[xo + corner + ch];
            for (int xx = x0; xx < x1; xx++)
              for (int y = xx == x0 ? y0 + 1 : y0; y < y1; y++) {
                int src = ch + c * (y + h * xx);
                double v = xs[xo + src];
                if (v > m || v != v) {
                  m = v;
                  best[ch] = src;
                }
              }
          }
          idx[o + ch] = best[ch];
        }
      }
  }

}
