package org.hbp.network;

import java.util.List;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;

/**
 * The left factor G of a Kronecker-factored block {@code G ⊗ H̄} (a parameter whose Jacobian is
 * {@code kron(a', I)}), as the block applies itself to directions X (m x p each): {@code (G ⊗ H̄)
 * vec(X) = vec(H̄ X G)}. G is kept in the cheaper of two forms:
 *
 * <ul>
 *   <li>{@link Dense}: G itself (p x p), {@code (H̄ X) G}: 2·m²·p + 2·m·p² flops per direction;
 *   <li>{@link Factored}: {@code G = c F F'} with F p x r of rank r (BDA's {@code ā ā'}, r = 1;
 *       KFRA's {@code A A' / N} with the N samples' columns side by side, r = N), applied as
 *       {@code c (H̄ (X F)) F'}: 4·m·p·r + 2·m²·r flops per direction and nothing of size p x p
 *       formed (for BDA on the FC net's first layer, m = 1024 and p = 3072, about 10⁷ flops
 *       instead of 2.6·10¹⁰).
 * </ul>
 */
sealed interface KroneckerLeft {
  /** {@code H̄ X G} of directions X ({@code [1 x D] m x p}) and H̄ (one m x m item). */
  Batch sandwich(Backend be, Batch h, Batch x);

  /** p, the order of G. */
  int rows();

  /** The batches this factor computed (to release with the blocks); views of the pass's caches are not among them. */
  List<Batch> owned();

  /**
   * KFRA's factor {@code G = (1/N) sum_n a_n a_n' = A A' / N} of per-sample columns a_n (p x 1),
   * for a layer with m outputs: factored where a product costs less that way, {@code 4·m·p·N +
   * 2·m²·N < 2·m²·p + 2·m·p²} (roughly N < p/2 for m ≈ p; the dense G's one-time 2·p²·N is not
   * counted, as products with many directions amortise it), dense otherwise; a column shared by
   * all samples gives {@code a a'}.
   */
  static KroneckerLeft meanOfOuterProducts(Backend be, Batch a, int samples, int m) {
    if (a.samples() == 1) return new Factored(a, 1, List.of());
    double p = a.rows(), n = a.samples();
    if (4 * m * p * n + 2.0 * m * m * n < 2.0 * m * m * p + 2 * m * p * p)
      return new Factored(be.samplesAsColumns(a), 1.0 / samples, List.of());
    return new Dense(be.scale(be.matmulSumSamples(a, false, a, true), 1.0 / samples));
  }

  /** BDA's factor {@code G = ā ā'} with {@code ā = mean_n a_n}: rank one, always factored. */
  static KroneckerLeft outerProductOfMean(Backend be, Batch a, int samples) {
    Batch mean = be.meanSamples(a, samples);
    return new Factored(mean, 1, be.sharesStorage(mean, a) ? List.of() : List.of(mean));
  }

  /** G held as a p x p matrix. */
  record Dense(Batch g) implements KroneckerLeft {
    @Override
    public Batch sandwich(Backend be, Batch h, Batch x) {
      Batch hx = be.matmul(h, false, x, false);
      Batch out = be.matmul(hx, false, g, false);
      be.release(hx);
      return out;
    }

    @Override
    public List<Batch> owned() {
      return List.of(g);
    }

    @Override
    public int rows() {
      return g.rows();
    }
  }

  /** {@code G = scale · F F'} with F p x r, never formed. */
  record Factored(Batch f, double scale, List<Batch> owned) implements KroneckerLeft {
    @Override
    public Batch sandwich(Backend be, Batch h, Batch x) {
      Batch xf = be.matmul(x, false, f, false);
      Batch hxf = be.matmul(h, false, xf, false);
      be.release(xf);
      Batch out = be.matmul(hxf, false, f, true);
      be.release(hxf);
      if (scale == 1) return out;
      Batch scaled = be.scale(out, scale);
      if (!be.sharesStorage(scaled, out)) be.release(out);
      return scaled;
    }

    @Override
    public int rows() {
      return f.rows();
    }
  }
}
