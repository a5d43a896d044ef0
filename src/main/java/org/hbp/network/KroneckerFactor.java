package org.hbp.network;

import java.util.ArrayList;
import java.util.List;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;

/**
 * One Kronecker factor {@code M = scale · X X'} (order n) of {@code count} columns X (A of a
 * layer's inputs, G of the vectors carried back to its output), kept as X on the backend and
 * applied in the cheaper of two forms:
 *
 * <ul>
 *   <li>factored ({@code 0 < 2·count < n}): {@code V M = scale (V X) X'} and {@code M V = scale X (X' V)},
 *       {@code 4·rows·n·count} flops per direction, nothing of size n x n formed (A of the FC net's
 *       first layer: n = 3072 inputs, count = 500 samples);</li>
 *   <li>dense: M formed once on the backend ({@code 2·n²·count} flops), then {@code 2·rows·n²} per
 *       direction.</li>
 * </ul>
 *
 * <p>Its eigendecomposition {@code M = Q Λ Q'} (for the damped inverse and EKFAC) is computed once
 * and kept ({@link #eigenbasis}); a layer's weight and bias share their G, so it is decomposed once
 * for both. With fewer columns than its order ({@code 0 < count < n}), M has rank at most count and
 * the decomposition goes through the count x count Gram matrix ({@link SymmetricEigen#ofGram}):
 * exact, not an approximation, with the eigenvalues that are zero left out (Q has r ≤ count
 * orthonormal columns and M is zero on their orthogonal complement, which the damped inverse
 * treats exactly as {@code 1/λ} and EKFAC's scalings leave at zero, the per-sample gradients having
 * no component there). The host part of the decomposition ({@link #decompose}) touches no backend,
 * so the factors of a pass are decomposed in parallel.
 */
final class KroneckerFactor {
  /** The eigenpairs of M with the eigenvectors on the backend (n x rank, column-major). */
  record Eigenbasis(double[] values, Batch q) {
    int rank() {
      return values.length;
    }
  }

  final int n, count;
  final double scale;
  final String what;
  /** X column-major (n x count), kept on the host for the decomposition. */
  private final double[] columns;
  /** X on the backend ([1 x 1] n x count); null when count is 0. */
  private final Batch x;
  private Batch dense;
  private double[] gram;
  private SymmetricEigen eigen;
  private Eigenbasis basis;
  private final List<Batch> owned = new ArrayList<>();

  KroneckerFactor(Backend be, double[] columns, int count, int n, double scale, String what) {
    this.n = n;
    this.count = count;
    this.scale = scale;
    this.what = what;
    this.columns = columns;
    this.x = count == 0 ? null : keep(be.fromArray(1, 1, n, count, columns));
  }

  /** X on the backend ({@code [1 x 1] n x count}), or null for a factor of no columns. */
  Batch columns() {
    return x;
  }

  /** Whether products use {@code X} instead of the formed M: {@code 4·n·count < 2·n²}. */
  boolean factored() {
    return count > 0 && 2L * count < n;
  }

  /** M formed on the backend (n x n), once. */
  Batch dense(Backend be) {
    if (dense != null) return dense;
    if (x == null) return dense = keep(be.fromArray(1, 1, n, n, new double[n * n]));
    Batch xx = be.matmul(x, false, x, true);
    dense = be.scale(xx, scale);
    if (!be.sharesStorage(dense, xx)) be.release(xx);
    return keep(dense);
  }

  /** M on the host (column-major, symmetric), once. */
  double[] gram(Backend be) {
    if (gram == null) gram = be.toArray(dense(be));
    return gram;
  }

  /** {@code V M} of directions V ({@code [1 x D] rows x n}). */
  Batch applyRight(Backend be, Batch v) {
    if (!factored()) return be.matmul(v, false, dense(be), false);
    Batch vx = be.matmul(v, false, x, false);
    Batch scaled = scaled(be, vx);
    Batch out = be.matmul(scaled, false, x, true);
    be.release(scaled);
    return out;
  }

  /** {@code M V} of directions V ({@code [1 x D] n x cols}). */
  Batch applyLeft(Backend be, Batch v) {
    if (!factored()) return be.matmul(dense(be), false, v, false);
    Batch xv = be.matmul(x, true, v, false);
    Batch scaled = scaled(be, xv);
    Batch out = be.matmul(x, false, scaled, false);
    be.release(scaled);
    return out;
  }

  private Batch scaled(Backend be, Batch b) {
    Batch s = be.scale(b, scale);
    if (!be.sharesStorage(s, b)) be.release(b);
    return s;
  }

  /** Whether the decomposition goes through the count x count Gram matrix. */
  private boolean viaGram() {
    return count > 0 && count < n;
  }

  /** Readies {@link #decompose} (forms M on the host where the decomposition needs it); backend work, not thread-safe. */
  void prepareDecomposition(Backend be) {
    if (eigen == null && basis == null && !viaGram()) gram(be);
  }

  /**
   * The host eigendecomposition, once: through the Gram matrix where count < n, of M otherwise (and
   * of M where the Gram route finds no nonzero eigenvalue, a factor of zero columns). Touches no
   * backend after {@link #prepareDecomposition}; safe to run in parallel for distinct factors.
   */
  void decompose() {
    if (eigen != null || basis != null) return;
    SymmetricEigen thin = viaGram() ? SymmetricEigen.ofGram(columns, count, n, scale, what) : null;
    if (thin != null && thin.rank() > 0) eigen = thin;
    else if (gram != null) eigen = SymmetricEigen.of(gram, 0, n, what, true);
  }

  /** The eigenbasis on the backend, decomposing here where {@link #decompose} has not run. */
  Eigenbasis eigenbasis(Backend be) {
    if (basis != null) return basis;
    if (eigen == null) {
      prepareDecomposition(be);
      decompose();
      if (eigen == null) eigen = SymmetricEigen.of(gram(be), 0, n, what, true);
    }
    basis = new Eigenbasis(eigen.values(), keep(be.fromArray(1, 1, n, eigen.rank(), eigen.qColumnMajor())));
    eigen = null;
    return basis;
  }

  private Batch keep(Batch b) {
    owned.add(b);
    return b;
  }

  /** The batches this factor made, forgotten here. */
  List<Batch> drain() {
    List<Batch> out = new ArrayList<>(owned);
    owned.clear();
    dense = null;
    basis = null;
    return out;
  }
}
