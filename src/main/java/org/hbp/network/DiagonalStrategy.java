package org.hbp.network;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.hbp.UserError;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;

/**
 * Diagonal curvature blocks: each parameter's block replaced by its diagonal, as BackPACK's
 * DiagGGNExact, DiagGGNMC and DiagHessian give it, usable wherever a block is (products, dense
 * blocks, CG-Newton) and with a closed-form damped inverse {@code v / (d + λ)}:
 * <ul>
 *   <li>{@link Variant#GGN}: the exact GGN diagonal ({@link GgnDiagonal#exact}, from the loss factor);</li>
 *   <li>{@link Variant#GGN_MC}: its unbiased Monte-Carlo estimate from {@code mcSamples} Rademacher
 *       vectors per sample ({@link GgnDiagonal#monteCarlo}, seed of the {@link KfacOptions});</li>
 *   <li>{@link Variant#HESSIAN}: the exact Hessian diagonal ({@link HessianDiagonal#exact}).</li>
 * </ul>
 * The GGN variants need the GGN ({@code --curvature ggn}: the policy drops every residual); the
 * Hessian variant the Hessian (residuals as they are). Other curvatures are refused: the diagonal
 * of a PCH block is not what these compute.
 */
final class DiagonalStrategy implements CurvatureStrategy {
  enum Variant { GGN, GGN_MC, HESSIAN }

  private final Variant variant;
  private final KfacOptions options;

  DiagonalStrategy(Variant variant, KfacOptions options) {
    this.variant = variant;
    this.options = options;
  }

  /** The diagonals are computed in chunks of samples where the batch does not fit the limit. */
  @Override
  public boolean fitsItsPreparation() {
    return true;
  }

  @Override
  public Blocks prepare(Pass pass, ResidualPolicy policy, long memoryLimitBytes) {
    return prepare(pass, policy, memoryLimitBytes, line -> {});
  }

  /** {@code notices} gets one line where the diagonal is computed in chunks of samples. */
  @Override
  public Blocks prepare(Pass pass, ResidualPolicy policy, long memoryLimitBytes, java.util.function.Consumer<String> notices) {
    checkDefined(pass.net, policy);
    Map<String, Batch> diagonal = switch (variant) {
      case GGN -> GgnDiagonal.exact(pass, memoryLimitBytes, notices);
      case GGN_MC -> GgnDiagonal.monteCarlo(pass, options.mcSamples(), GgnDiagonal.Sampling.RADEMACHER, options.seed(), memoryLimitBytes, notices);
      case HESSIAN -> HessianDiagonal.exact(pass, memoryLimitBytes, notices);
    };
    return new DiagonalBlocks(pass.net.be, diagonal, label());
  }

  private String label() {
    return switch (variant) {
      case GGN -> "diag-ggn";
      case GGN_MC -> "diag-ggn-mc";
      case HESSIAN -> "diag-hessian";
    };
  }

  /** Refuses a curvature other than the diagonal's own: the GGN's (no residual terms) or the Hessian's (all of them, unmodified). */
  @Override
  public void checkDefined(Network net, ResidualPolicy policy) {
    ResidualModification needed = variant == Variant.HESSIAN ? ResidualModification.NONE : ResidualModification.ZERO;
    if (policy.modification() != needed)
      throw new UserError("--strategy " + label() + " is the diagonal of the " + (variant == Variant.HESSIAN ? "Hessian" : "GGN")
          + "; use it with --curvature " + (variant == Variant.HESSIAN ? "hessian" : "ggn"));
  }

  /** The diagonals, one item in each parameter's shape, applied entrywise. */
  private static final class DiagonalBlocks implements Blocks {
    private final Backend be;
    private final Map<String, Batch> diagonal;
    private final String label;

    DiagonalBlocks(Backend be, Map<String, Batch> diagonal, String label) {
      this.be = be;
      this.diagonal = diagonal;
      this.label = label;
    }

    private Batch of(Network.LayerNode layer, String var) {
      Batch d = diagonal.get(layer.parameterName(var));
      if (d == null) throw new IllegalStateException("no diagonal for " + layer.parameterName(var));
      return d;
    }

    @Override
    public Batch matProd(Network.LayerNode layer, String var, Batch v) {
      return be.multiply(of(layer, var), v);
    }

    @Override
    public Batch blockDiagonalMatProd(Network.LayerNode layer, String var, Batch v, int blocks) {
      return matProd(layer, var, v); // a diagonal is block-diagonal over any row groups
    }

    /** {@code v / (d + λ)}; refused where {@code d + λ <= 0} (a Hessian diagonal may be negative). */
    @Override
    public Batch dampedInverse(Network.LayerNode layer, String var, Batch v, double lambda) {
      Batch d = of(layer, var);
      double[] host = be.toArray(d);
      for (int i = 0; i < host.length; i++) {
        host[i] += lambda;
        if (!(host[i] > 0))
          throw new UserError("--strategy " + label + ": the damped diagonal of " + layer.parameterName(var) + " has entry " + host[i]
              + " <= 0 at index " + i + " (damping " + lambda + "); use diag-ggn or more damping (alpha: train's --alpha, curvature's --solve)");
      }
      Batch shifted = be.fromArray(d.samples(), d.directions(), d.rows(), d.cols(), host);
      Batch out = be.divide(v, shifted);
      be.release(shifted);
      return out;
    }

    @Override
    public List<Batch> drain() {
      List<Batch> held = new ArrayList<>(diagonal.values());
      diagonal.clear();
      return held;
    }
  }
}
