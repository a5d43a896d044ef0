package org.hbp.network;

import java.util.ArrayList;
import java.util.List;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;

/**
 * One parameter's Kronecker-factored block {@code A ⊗ G} (A p x p over the columns of the
 * parameter's factor, G m x m over its rows), applied to directions V (m x p each) as
 * {@code (A ⊗ G) vec(V) = vec(G V A)} (column-major vec, the repository's convention), or in the
 * eigenbasis {@code A = Q_A Λ_A Q_A'}, {@code G = Q_G Λ_G Q_G'} as
 * {@code vec(Q_G (D ∘ (Q_G' V Q_A)) Q_A')} with {@code D = λ_G λ_A'} (KFAC, KFLR) or EKFAC's
 * corrected scalings. The damped inverse {@code (block + λ I)^-1} is exact in that basis:
 * {@code D} replaced by {@code 1 / (D + λ)}, the damping added to the whole block (not split
 * between the factors).
 *
 * <p>A factor made of fewer columns than its order (A of N < p inputs, G of N·r < m vectors) has
 * a thin eigenbasis ({@link SymmetricEigen#ofGram}): Q with r < p orthonormal columns, the
 * block zero outside their span. Then {@code (block + λ I)^-1 v = v/λ + Q (1/(D + λ) - 1/λ) Q' v},
 * the same formula as for a full basis (where {@code Q Q' = I}).
 */
final class KroneckerBlock {
  /**
   * A factor {@code scale · X X'} (order n) of {@code count} columns X (column-major in
   * {@code columns}), and the formed matrix {@code gram} (column-major, symmetric).
   */
  record Factor(double[] gram, int n, double[] columns, int count, double scale, String what) {
    SymmetricEigen eigen() {
      SymmetricEigen thin = count < n ? SymmetricEigen.ofGram(columns, count, n, scale, what) : null;
      // a factor of zero columns (no gradient reaches the layer) has no thin basis: decompose it whole
      return thin != null && thin.rank() > 0 ? thin : SymmetricEigen.of(gram, 0, n, what, true);
    }
  }

  private final int m, p;
  private final Factor fa, fg;
  /** The factors, column-major (symmetric). */
  private final double[] a, g;
  /** EKFAC's scalings D (m x p, column-major) in the eigenbasis; null for KFAC/KFLR (D = λ_G λ_A'). */
  private double[] scalings;
  private SymmetricEigen eigenA, eigenG;
  private Batch aBatch, gBatch, qa, qg, d;
  /** Damped-inverse scalings by λ, the last one only. */
  private double inverseLambda = Double.NaN;
  private Batch inverseScalings;
  private final List<Batch> owned = new ArrayList<>();

  KroneckerBlock(Factor a, Factor g) {
    this.fa = a;
    this.fg = g;
    this.a = a.gram();
    this.p = a.n();
    this.g = g.gram();
    this.m = g.n();
  }

  int rows() {
    return m;
  }

  int cols() {
    return p;
  }

  double[] a() {
    return a.clone();
  }

  double[] g() {
    return g.clone();
  }

  /** EKFAC's scalings, or null. */
  double[] scalings() {
    return scalings == null ? null : scalings.clone();
  }

  SymmetricEigen eigenA() {
    if (eigenA == null) eigenA = fa.eigen();
    return eigenA;
  }

  SymmetricEigen eigenG() {
    if (eigenG == null) eigenG = fg.eigen();
    return eigenG;
  }

  /** Replaces the diagonal in the eigenbasis by EKFAC's scalings (rank(G) x rank(A), column-major). */
  void correct(double[] d) {
    this.scalings = d;
  }

  /** The diagonal D of the block in the eigenbasis (rank(G) x rank(A)): EKFAC's scalings, or {@code λ_G λ_A'}. */
  double[] eigenbasisDiagonal() {
    if (scalings != null) return scalings.clone();
    double[] la = eigenA().values(), lg = eigenG().values(), out = new double[lg.length * la.length];
    for (int j = 0; j < la.length; j++) for (int i = 0; i < lg.length; i++) out[i + lg.length * j] = lg[i] * la[j];
    return out;
  }

  /** The block applied to directions V ({@code [1 x D] m x p}). */
  Batch matProd(Backend be, Batch v) {
    if (scalings != null) return inBasis(be, v, d(be));
    if (aBatch == null) {
      aBatch = keep(be.fromArray(1, 1, p, p, a));
      gBatch = keep(be.fromArray(1, 1, m, m, g));
    }
    Batch gv = be.matmul(gBatch, false, v, false);
    Batch out = be.matmul(gv, false, aBatch, false);
    be.release(gv);
    return out;
  }

  /** {@code (block + λ I)^-1 V}, λ > 0. */
  Batch dampedInverse(Backend be, Batch v, double lambda) {
    if (lambda != inverseLambda) {
      if (inverseScalings != null) {
        owned.remove(inverseScalings);
        be.release(inverseScalings);
      }
      double[] dd = eigenbasisDiagonal();
      for (int i = 0; i < dd.length; i++) dd[i] = 1 / (dd[i] + lambda) - 1 / lambda;
      inverseScalings = keep(be.fromArray(1, 1, eigenG().rank(), eigenA().rank(), dd));
      inverseLambda = lambda;
    }
    // v/λ + Q (1/(D + λ) - 1/λ) Q' v
    Batch inner = inBasis(be, v, inverseScalings);
    Batch scaled = be.scale(v, 1 / lambda);
    Batch out = be.add(scaled, inner);
    be.release(inner);
    if (!be.sharesStorage(scaled, v)) be.release(scaled);
    return out;
  }

  /** {@code Q_G (S ∘ (Q_G' V Q_A)) Q_A'}. */
  private Batch inBasis(Backend be, Batch v, Batch s) {
    if (qa == null) {
      qa = keep(be.fromArray(1, 1, p, eigenA().rank(), eigenA().qColumnMajor()));
      qg = keep(be.fromArray(1, 1, m, eigenG().rank(), eigenG().qColumnMajor()));
    }
    Batch t1 = be.matmul(qg, true, v, false);
    Batch t2 = be.matmul(t1, false, qa, false);
    Batch t3 = be.multiply(t2, s);
    Batch t4 = be.matmul(qg, false, t3, false);
    Batch out = be.matmul(t4, false, qa, true);
    for (Batch t : List.of(t1, t2, t3, t4)) be.release(t);
    return out;
  }

  private Batch d(Backend be) {
    if (d == null) d = keep(be.fromArray(1, 1, eigenG().rank(), eigenA().rank(), scalings));
    return d;
  }

  private Batch keep(Batch b) {
    owned.add(b);
    return b;
  }

  /** The batches this block made, forgotten here. */
  List<Batch> drain() {
    List<Batch> out = new ArrayList<>(owned);
    owned.clear();
    aBatch = gBatch = qa = qg = d = inverseScalings = null;
    inverseLambda = Double.NaN;
    return out;
  }
}
