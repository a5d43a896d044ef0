package org.hbp.network;

import java.util.List;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;

/**
 * EKFAC's scalings (George et al. 2018), the exact GGN's diagonal in the Kronecker eigenbasis:
 *
 * <pre>
 *   D = (1/N) sum_{n,c} (Q_G' U_{n,c} A_n' Q_A)^2          (rank(G) x rank(A), squared entry-wise)
 * </pre>
 *
 * with U_{n,c} (m x T) the vectors carried back to the layer's output and A_n (p x T) the layer's
 * factor (shared by the samples for a bias). Both bases are applied to all columns at once,
 * {@code Ũ = Q_G' [U_{1,1} ...]} and {@code Ã = Q_A' [A_1 ...]} (one product each), and then:
 * <ul>
 *   <li>T = 1 (a linear layer): each gradient is the outer product {@code ũ_{n,c} ã_n'}, whose square
 *       is {@code (ũ_{n,c}∘ũ_{n,c})(ã_n∘ã_n)'}, so {@code D = (1/N) P R'} with
 *       {@code P_{:,n} = sum_c ũ_{n,c}∘ũ_{n,c}} and {@code R_{:,n} = ã_n∘ã_n}: one product;</li>
 *   <li>T > 1 (a convolution): per sample one product of its r vectors stacked,
 *       {@code [Ũ_{n,1}; ...; Ũ_{n,r}] Ã_n'} ((r·rank(G)) x rank(A)), squared and summed over the
 *       samples, in chunks of samples that bound the memory.</li>
 * </ul>
 */
final class KfacScalings {
  /** Entries of the per-chunk products in the T > 1 route (32 MiB in float64). */
  private static final long CHUNK_ENTRIES = 1L << 22;

  private KfacScalings() {}

  /**
   * The scalings of a block whose G has {@code samples x r} items of T columns and whose A has
   * {@code na} items (N, or 1 when shared), for a batch of n samples: column-major rank(G) x rank(A).
   */
  static double[] ekfac(Backend be, KroneckerBlock block, int samples, int r, int na, int t, int n) {
    KroneckerFactor.Eigenbasis ea = block.factorA().eigenbasis(be), eg = block.factorG().eigenbasis(be);
    int rg = eg.rank(), ra = ea.rank();
    double[] d = new double[rg * ra];
    Batch xg = block.factorG().columns(), xa = block.factorA().columns();
    if (xg == null || xa == null) return d;
    double[] ug = host(be, be.matmul(eg.q(), true, xg, false)); // rg x (samples·r·t), column (i·r + c)·t + s
    double[] at = host(be, be.matmul(ea.q(), true, xa, false)); // ra x (na·t), column i·t + s
    if (t == 1) outerProducts(be, ug, at, samples, r, na, rg, ra, d);
    else perSample(be, ug, at, samples, r, na, t, rg, ra, d);
    for (int k = 0; k < d.length; k++) d[k] /= n;
    return d;
  }

  /** T = 1: {@code d = P R'} with P the column sums of squares over c per sample, R the squares of Ã. */
  private static void outerProducts(Backend be, double[] ug, double[] at, int samples, int r, int na, int rg, int ra, double[] d) {
    double[] pp = new double[rg * samples];
    for (int i = 0; i < samples; i++)
      for (int c = 0; c < r; c++) {
        int from = (i * r + c) * rg;
        for (int g = 0; g < rg; g++) pp[g + rg * i] += ug[from + g] * ug[from + g];
      }
    double[] rr = new double[ra * na];
    for (int k = 0; k < rr.length; k++) rr[k] = at[k] * at[k];
    if (na == 1) {
      // A shared by the samples: P's columns summed, times R (one column)
      for (int i = 0; i < samples; i++)
        for (int j = 0; j < ra; j++) for (int g = 0; g < rg; g++) d[g + rg * j] += pp[g + rg * i] * rr[j];
      return;
    }
    Batch pb = be.fromArray(1, 1, rg, samples, pp), rb = be.fromArray(1, 1, ra, na, rr);
    double[] prod = host(be, be.matmul(pb, false, rb, true));
    for (Batch b : List.of(pb, rb)) be.release(b);
    for (int k = 0; k < d.length; k++) d[k] += prod[k];
  }

  /** T > 1: per sample {@code [Ũ_{n,1}; ...; Ũ_{n,r}] Ã_n'}, squared, summed over samples and the r blocks. */
  private static void perSample(Backend be, double[] ug, double[] at, int samples, int r, int na, int t, int rg, int ra, double[] d) {
    int stacked = r * rg;
    int chunk = (int) Math.max(1, Math.min(samples, CHUNK_ENTRIES / Math.max(1L, (long) stacked * ra)));
    for (int from = 0; from < samples; from += chunk) {
      int size = Math.min(chunk, samples - from);
      // item i: (r·rg) x t, entry (c·rg + g, s) = ug[g + rg·((i·r + c)·t + s)]
      double[] w = new double[size * stacked * t];
      for (int i = 0; i < size; i++)
        for (int c = 0; c < r; c++)
          for (int s = 0; s < t; s++) {
            int src = rg * (((from + i) * r + c) * t + s), dst = i * stacked * t + c * rg + stacked * s;
            System.arraycopy(ug, src, w, dst, rg);
          }
      Batch wb = be.fromArray(size, 1, stacked, t, w);
      Batch ab = na == 1 ? be.fromArray(1, 1, ra, t, at) : be.fromArray(size, 1, ra, t, java.util.Arrays.copyOfRange(at, from * ra * t, (from + size) * ra * t));
      Batch prod = be.matmul(wb, false, ab, true);
      Batch sq = be.multiply(prod, prod);
      Batch summed = be.sumSamples(sq);
      double[] sum = be.toArray(summed);
      if (!be.sharesStorage(summed, sq)) be.release(summed);
      for (Batch b : List.of(wb, ab, prod, sq)) be.release(b);
      for (int j = 0; j < ra; j++)
        for (int c = 0; c < r; c++)
          for (int g = 0; g < rg; g++) d[g + rg * j] += sum[c * rg + g + stacked * j];
    }
  }

  /** The batch's entries on the host; the batch released. */
  private static double[] host(Backend be, Batch b) {
    double[] out = be.toArray(b);
    be.release(b);
    return out;
  }
}
