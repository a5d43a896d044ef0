package org.hbp.network;

import java.util.ArrayList;
import java.util.List;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;

/**
 * One parameter's Kronecker-factored block {@code A ⊗ G} (A p x p over the columns of the
 * parameter's factor, G m x m over its rows), applied to directions V (m x p each) as
 * {@code (A ⊗ G) vec(V) = vec(G V A)} (column-major vec, the repository's convention), each factor
 * in its cheaper form ({@link KroneckerFactor}: {@code V A = scale (V X) X'} where A has few
 * columns), or in the eigenbasis {@code A = Q_A Λ_A Q_A'}, {@code G = Q_G Λ_G Q_G'} as
 * {@code vec(Q_G (D ∘ (Q_G' V Q_A)) Q_A')} with {@code D = λ_G λ_A'} (KFAC, KFLR) or EKFAC's
 * corrected scalings. The damped inverse {@code (block + λ I)^-1} is exact in that basis:
 * {@code D} replaced by {@code 1 / (D + λ)}, the damping added to the whole block (not split
 * between the factors). No p·m x p·m Kronecker product is ever formed: every application is four
 * (or two) matrix products with the factors' bases, multiplied in the cheaper order.
 *
 * <p>A factor made of fewer columns than its order (A of N < p inputs, G of N·r < m vectors) has
 * a thin eigenbasis: Q with r < p orthonormal columns, the block zero outside their span. Then
 * {@code (block + λ I)^-1 v = v/λ + Q (1/(D + λ) - 1/λ) Q' v}, the same formula as for a full
 * basis (where {@code Q Q' = I}).
 */
final class KroneckerBlock {
  private final int m, p;
  private final KroneckerFactor fa, fg;
  /** EKFAC's scalings D (rank(G) x rank(A), column-major) in the eigenbasis; null for KFAC/KFLR (D = λ_G λ_A'). */
  private double[] scalings;
  private Batch d;
  /** Damped-inverse scalings by λ, the last one only. */
  private double inverseLambda = Double.NaN;
  private Batch inverseScalings;
  private final List<Batch> owned = new ArrayList<>();

  KroneckerBlock(KroneckerFactor a, KroneckerFactor g) {
    this.fa = a;
    this.fg = g;
    this.p = a.n;
    this.m = g.n;
  }

  int rows() {
    return m;
  }

  int cols() {
    return p;
  }

  KroneckerFactor factorA() {
    return fa;
  }

  KroneckerFactor factorG() {
    return fg;
  }

  /** EKFAC's scalings, or null. */
  double[] scalings() {
    return scalings == null ? null : scalings.clone();
  }

  /** Replaces the diagonal in the eigenbasis by EKFAC's scalings (rank(G) x rank(A), column-major). */
  void correct(double[] dd) {
    this.scalings = dd;
  }

  /** The diagonal D of the block in the eigenbasis (rank(G) x rank(A)): EKFAC's scalings, or {@code λ_G λ_A'}. */
  double[] eigenbasisDiagonal(Backend be) {
    if (scalings != null) return scalings.clone();
    double[] la = fa.eigenbasis(be).values(), lg = fg.eigenbasis(be).values(), out = new double[lg.length * la.length];
    for (int j = 0; j < la.length; j++) for (int i = 0; i < lg.length; i++) out[i + lg.length * j] = lg[i] * la[j];
    return out;
  }

  /** The block applied to directions V ({@code [1 x D] m x p}). */
  Batch matProd(Backend be, Batch v) {
    if (scalings != null) {
      if (d == null) d = keep(be.fromArray(1, 1, fg.eigenbasis(be).rank(), fa.eigenbasis(be).rank(), scalings));
      return inBasis(be, v, d);
    }
    Batch va = fa.applyRight(be, v);
    Batch out = fg.applyLeft(be, va);
    be.release(va);
    return out;
  }

  /** {@code (block + λ I)^-1 V}, λ > 0. */
  Batch dampedInverse(Backend be, Batch v, double lambda) {
    if (lambda != inverseLambda) {
      if (inverseScalings != null) {
        owned.remove(inverseScalings);
        be.release(inverseScalings);
      }
      double[] dd = eigenbasisDiagonal(be);
      for (int i = 0; i < dd.length; i++) dd[i] = 1 / (dd[i] + lambda) - 1 / lambda;
      inverseScalings = keep(be.fromArray(1, 1, fg.eigenbasis(be).rank(), fa.eigenbasis(be).rank(), dd));
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

  /**
   * {@code Q_G (S ∘ (Q_G' V Q_A)) Q_A'} with Q_G m x g and Q_A p x a, each pair of products in the
   * cheaper order: {@code (Q_G' V) Q_A} costs {@code 2 g m p + 2 g p a} flops, {@code Q_G' (V Q_A)}
   * {@code 2 m p a + 2 g m a} (and the same two for the way back).
   */
  private Batch inBasis(Backend be, Batch v, Batch s) {
    Batch qa = fa.eigenbasis(be).q(), qg = fg.eigenbasis(be).q();
    double g = qg.cols(), a = qa.cols();
    boolean leftFirst = g * m * p + g * p * a <= m * p * a + g * m * a;
    Batch t1 = leftFirst ? be.matmul(qg, true, v, false) : be.matmul(v, false, qa, false);
    Batch t2 = leftFirst ? be.matmul(t1, false, qa, false) : be.matmul(qg, true, t1, false);
    Batch t3 = be.multiply(t2, s);
    boolean backLeftFirst = m * g * a + m * a * p <= g * a * p + m * g * p;
    Batch t4 = backLeftFirst ? be.matmul(qg, false, t3, false) : be.matmul(t3, false, qa, true);
    Batch out = backLeftFirst ? be.matmul(t4, false, qa, true) : be.matmul(qg, false, t4, false);
    for (Batch t : List.of(t1, t2, t3, t4)) be.release(t);
    return out;
  }

  private Batch keep(Batch b) {
    owned.add(b);
    return b;
  }

  /** The batches this block made (not its factors', which may be shared), forgotten here. */
  List<Batch> drain() {
    List<Batch> out = new ArrayList<>(owned);
    owned.clear();
    d = inverseScalings = null;
    inverseLambda = Double.NaN;
    return out;
  }
}
