package org.hbp.backend.blas;

import java.util.Arrays;
import org.hbp.backend.ConvGeometry;

/**
 * The unfolding of a {@link ConvGeometry} as runs of contiguous copies, for the rows of the
 * unfolded matrix in the order {@code (kj, ki, ch)} (channel fastest) instead of {@link
 * ConvGeometry}'s {@code (ch, ki, kj)}.
 *
 * <p>The input {@code X[ch, y, x]} is stored at {@code ch + c·(y + h·x)}, channel fastest. In the
 * order {@code (kj, ki, ch)} row {@code (kj·k + ki)·c + ch} of column {@code (oy, ox)} holds
 * {@code X[ch, oy·s - p + ki·d, ox·s - p + kj·d]}, so a column's rows for one {@code (ki, kj)} are
 * c consecutive input entries, and with dilation 1 those of all {@code ki} inside the input are
 * {@code k·c} consecutive ones: an unfolded column is k copies of {@code k·c} entries (plus
 * zeros for the padding) instead of {@code c·k·k} gathers through an index table. A product
 * {@code W unfold(X)} is the same sum with W's columns permuted alike ({@link #permuteColumns}).
 *
 * <p>Runs: for each column {@code col} (= {@code oy + outH·ox}), the triples {@code (row, source,
 * length)} in {@code runs[starts[col] .. starts[col+1])} cover the rows {@code 0 .. c·k·k} in order;
 * {@code source} is the input entry of the run's first row (the run's rows take consecutive input
 * entries), or -1 for a run of zeros (the padding).
 */
final class PatchRuns {
  /** Rows of the unfolded matrix, {@code c·k·k}. */
  final int rows;
  /** Columns of the unfolded matrix (output positions). */
  final int columns;
  /** Entries of one input item, {@code c·h·w}. */
  final int inputSize;
  private final int[] starts;
  private final int[] runs;
  /** Zeros as long as the longest run (the source of the padding's bulk copies). */
  private final double[] zeros;

  private PatchRuns(int rows, int columns, int inputSize, int[] starts, int[] runs) {
    this.rows = rows;
    this.columns = columns;
    this.inputSize = inputSize;
    this.starts = starts;
    this.runs = runs;
    int longest = 0;
    for (int r = 2; r < runs.length; r += 3) longest = Math.max(longest, runs[r]);
    this.zeros = new double[longest];
  }

  /** The runs of geometry g. */
  static PatchRuns of(ConvGeometry g) {
    int c = g.c(), h = g.h(), w = g.w(), k = g.k(), outH = g.outH(), outW = g.outW(), rows = g.patchRows(), columns = g.patches();
    int[] starts = new int[columns + 1];
    int[] runs = new int[16];
    int used = 0;
    for (int ox = 0; ox < outW; ox++)
      for (int oy = 0; oy < outH; oy++) {
        int col = oy + outH * ox, open = -1; // index in runs of the open run
        starts[col] = used / 3;
        for (int kj = 0; kj < k; kj++)
          for (int ki = 0; ki < k; ki++) {
            int yy = oy * g.s() - g.p() + ki * g.d(), xx = ox * g.s() - g.p() + kj * g.d();
            boolean inside = yy >= 0 && yy < h && xx >= 0 && xx < w;
            int row = (kj * k + ki) * c, source = inside ? c * (yy + h * xx) : -1;
            // c rows at once: their sources are consecutive (or all padding)
            if (open >= 0 && (source < 0 ? runs[open + 1] < 0 : runs[open + 1] >= 0 && runs[open + 1] + runs[open + 2] == source)) {
              runs[open + 2] += c;
              continue;
            }
            if (used + 3 > runs.length) runs = Arrays.copyOf(runs, 2 * runs.length);
            runs[used] = row;
            runs[used + 1] = source;
            runs[used + 2] = c;
            open = used;
            used += 3;
          }
      }
    starts[columns] = used / 3;
    return new PatchRuns(rows, columns, g.inputSize(), starts, Arrays.copyOf(runs, used));
  }

  /** Runs in all (for tests and sizing). */
  int runCount() {
    return starts[columns];
  }

  /**
   * Columns {@code [col0, col1)} of the unfolding (rows in (kj, ki, ch) order) of the item at
   * {@code in[0 ..]}, column {@code col} written at {@code out[(col - col0)·rows ..]}.
   */
  void unfold(double[] in, int col0, int col1, double[] out) {
    for (int col = col0; col < col1; col++) {
      int base = (col - col0) * rows;
      for (int r = starts[col], end = starts[col + 1]; r < end; r++) {
        int row = runs[3 * r], source = runs[3 * r + 1], length = runs[3 * r + 2];
        if (source < 0) Arrays.fill(out, base + row, base + row + length, 0);
        else System.arraycopy(in, source, out, base + row, length);
      }
    }
  }

  /**
   * {@link #unfold} written straight into a direct buffer (an off-heap block): column {@code col}
   * at {@code out[at + (col - col0)·rows ..]}, each run one bulk copy (no staging array).
   */
  void unfold(double[] in, int col0, int col1, java.nio.DoubleBuffer out, int at) {
    for (int col = col0; col < col1; col++) {
      int base = at + (col - col0) * rows;
      for (int r = starts[col], end = starts[col + 1]; r < end; r++) {
        int row = runs[3 * r], source = runs[3 * r + 1], length = runs[3 * r + 2];
        if (source < 0) out.put(base + row, zeros, 0, length);
        else out.put(base + row, in, source, length);
      }
    }
  }

  /** The adjoint of {@link #unfold}: columns {@code [col0, col1)} held in {@code cols} as unfold writes them, added into {@code sum}. */
  void fold(double[] cols, int col0, int col1, double[] sum) {
    for (int col = col0; col < col1; col++) {
      int base = (col - col0) * rows;
      for (int r = starts[col], end = starts[col + 1]; r < end; r++) {
        int row = runs[3 * r], source = runs[3 * r + 1], length = runs[3 * r + 2];
        if (source < 0) continue;
        for (int e = 0, from = base + row; e < length; e++) sum[source + e] += cols[from + e];
      }
    }
  }

  /**
   * The columns of {@code w} ({@code m x c·k·k}, column-major, columns in {@link ConvGeometry}'s
   * {@code (ch, ki, kj)} order) in this class's {@code (kj, ki, ch)} order: {@code W unfold(X) =
   * permuteColumns(W) · (this unfolding of X)}.
   */
  static double[] permuteColumns(double[] w, int m, ConvGeometry g) {
    int c = g.c(), k = g.k();
    double[] out = new double[w.length];
    for (int ch = 0; ch < c; ch++)
      for (int ki = 0; ki < k; ki++)
        for (int kj = 0; kj < k; kj++)
          System.arraycopy(w, ((ch * k + ki) * k + kj) * m, out, ((kj * k + ki) * c + ch) * m, m);
    return out;
  }
}
