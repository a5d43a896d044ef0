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
 */
final class KroneckerBlock {
  private final int m, p;
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

  KroneckerBlock(double[] a, int p, double[] g, int m) {
    this.a = a;
    this.p = p;
    this.g = g;
    this.m = m;
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
    if (eigenA == null) eigenA = SymmetricEigen.of(a, 0, p, "the Kronecker factor A", true);
    return eigenA;
  }

  SymmetricEigen eigenG() {
    if (eigenG == null) eigenG = SymmetricEigen.of(g, 0, m, "the Kronecker factor G", true);
    return eigenG;
  }

  /** Replaces the diagonal in the eigenbasis by EKFAC's scalings (m x p, column-major). */
  void correct(double[] d) {
    this.scalings = d;
  }

  /** The diagonal D of the block in the eigenbasis: EKFAC's scalings, or {@code λ_G λ_A'}. */
  double[] eigenbasisDiagonal() {
    if (scalings != null) return scalings.clone();
    double[] la = eigenA().values(), lg = eigenG().values(), out = new double[m * p];
    for (int j = 0; j < p; j++) for (int i = 0; i < m; i++) out[i + m * j] = lg[i] * la[j];
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
      for (int i = 0; i < dd.length; i++) dd[i] = 1 / (dd[i] + lambda);
      inverseScalings = keep(be.fromArray(1, 1, m, p, dd));
      inverseLambda = lambda;
    }
    return inBasis(be, v, inverseScalings);
  }

  /** {@code Q_G (S ∘ (Q_G' V Q_A)) Q_A'}. */
  private Batch inBasis(Backend be, Batch v, Batch s) {
    if (qa == null) {
      qa = keep(be.fromArray(1, 1, p, p, eigenA().qColumnMajor()));
      qg = keep(be.fromArray(1, 1, m, m, eigenG().qColumnMajor()));
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
    if (d == null) d = keep(be.fromArray(1, 1, m, p, scalings));
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
