package org.hbp.network;

import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.runtime.ForwardCache;
import org.hbp.runtime.ModuleOperator;
import org.hbp.runtime.OperatorSupport;
import org.hbp.runtime.ResidualKind;

/**
 * How each module's residual term {@code R = sum_k dz_k d^2 z_k / d x^2} (paper eq. 7, the second
 * term) enters the curvature, in one place (BackPACK's table from curvature to residual
 * modification). The curvature kind fixes the map ({@link CurvatureKind#residual}):
 *
 * <pre>
 *   hessian   R            (as is)
 *   ggn       0            (dropped)
 *   pch-abs   Q |Λ| Q'     (R = Q Λ Q'; |.| of a diagonal R's entries)
 *   pch-clip  Q max(Λ,0) Q'
 * </pre>
 *
 * The operators give the exact residual only ({@link ModuleOperator#residualMatProd},
 * {@link ModuleOperator#residualDiagonal}, {@link ModuleOperator#residual}); this class modifies
 * it, either per sample ({@link #product}, {@link #diagonal}, {@link #dense}: the exact strategy,
 * Chen et al.) or after the batch average ({@link #averagedDiagonal}, {@link #averagedDense}: the
 * paper's order for kfra and bda, eq. 8 / eq. 9). How a residual is modified follows from its
 * derived kind ({@link #pchMethod}).
 */
public final class ResidualPolicy {
  private final ResidualModification modification;

  private ResidualPolicy(ResidualModification modification) {
    this.modification = java.util.Objects.requireNonNull(modification, "modification");
  }

  /** The policy of a curvature kind. */
  public static ResidualPolicy of(CurvatureKind kind) {
    return new ResidualPolicy(kind.residual());
  }

  /** The policy applying one modification. */
  public static ResidualPolicy of(ResidualModification modification) {
    return new ResidualPolicy(modification);
  }

  /** The map applied to the residual's eigenvalues. */
  public ResidualModification modification() {
    return modification;
  }

  /** How PCH removes negative curvature from a residual of this kind. */
  public static PchMethod pchMethod(ResidualKind kind) {
    switch (kind) {
      case ZERO:
        return PchMethod.NOTHING;
      case DIAGONAL:
        return PchMethod.ELEMENTWISE;
      default:
        return PchMethod.EIGENDECOMPOSITION;
    }
  }

  /** Whether the residual of wrt adds anything: it is not zero, and the curvature keeps it (not GGN). */
  public boolean contributes(ModuleOperator op, String wrt) {
    return op.residualKind(wrt) != ResidualKind.ZERO && modification != ResidualModification.ZERO;
  }

  // ---- per sample (the exact strategy) ----------------------------------------------------------

  /** {@code mod(R_n) v_n} per sample: exact, zero, or with |eigenvalues| or max(eigenvalues, 0). */
  public Batch product(ModuleOperator op, ForwardCache cache, String wrt, Batch dz, Batch v) {
    Backend be = op.backend();
    int[] s = op.itemShape(wrt);
    v = OperatorSupport.shaped(be, op.name(), v, wrt, s, "residualMatProd");
    ResidualKind kind = op.residualKind(wrt);
    if (!contributes(op, wrt)) return be.scale(v, 0);
    if (modification == ResidualModification.NONE) return op.residualMatProd(cache, wrt, dz, v);
    if (kind == ResidualKind.DIAGONAL) return be.multiply(diagonal(op, cache, wrt, dz), v);
    int n = s[0] * s[1];
    Batch r = dense(op, cache, wrt, dz);
    return OperatorSupport.shaped(be, op.name(), be.matmul(r, false, be.reshape(v, n, 1), false), wrt, s, "residualMatProd");
  }

  /** The diagonal of {@code mod(R_n)} per sample, in wrt's shape, for a zero or diagonal residual; throws for a general one. */
  public Batch diagonal(ModuleOperator op, ForwardCache cache, String wrt, Batch dz) {
    Backend be = op.backend();
    int[] s = op.itemShape(wrt);
    if (op.residualKind(wrt) != ResidualKind.GENERAL && modification == ResidualModification.ZERO) return be.fill(s[0], s[1], 0);
    Batch d = op.residualDiagonal(cache, wrt, dz);
    return modification == ResidualModification.NONE || op.residualKind(wrt) == ResidualKind.ZERO ? d : be.map(d, modification.function());
  }

  /** The dense {@code mod(R_n)} per sample, numel(wrt) x numel(wrt). */
  public Batch dense(ModuleOperator op, ForwardCache cache, String wrt, Batch dz) {
    Backend be = op.backend();
    int n = op.numel(wrt);
    ResidualKind kind = op.residualKind(wrt);
    if (kind == ResidualKind.ZERO || modification == ResidualModification.ZERO) return be.fill(n, n, 0);
    if (kind == ResidualKind.DIAGONAL) return be.diagMatrix(be.reshape(diagonal(op, cache, wrt, dz), n, 1));
    Batch r = op.residual(cache, wrt, dz);
    return modification == ResidualModification.NONE ? r : be.symmetricEigenMap(r, modification::apply);
  }

  // ---- after the batch average (kfra, bda) ------------------------------------------------------

  /**
   * The diagonal of the batch-averaged residual of eq. 8 / eq. 9, modified after averaging:
   * {@code mod(mean_n diag R_n)}, entrywise (the diagonal entries are the eigenvalues). One sample,
   * in wrt's shape; throws for a general residual.
   */
  public Batch averagedDiagonal(ModuleOperator op, ForwardCache cache, String wrt, Batch dz) {
    Backend be = op.backend();
    boolean zero = modification == ResidualModification.ZERO;
    Batch each = zero ? diagonal(op, cache, wrt, dz) : op.residualDiagonal(cache, wrt, dz);
    Batch mean = be.meanSamples(each, cache.samples());
    if (!be.sharesStorage(each, mean)) be.release(each);
    if (zero || modification == ResidualModification.NONE) return mean;
    Batch modified = be.map(mean, modification.function());
    if (!be.sharesStorage(mean, modified)) be.release(mean);
    return modified;
  }

  /**
   * The batch-averaged residual of eq. 8 / eq. 9, modified after averaging: {@code R̄ = mean_n R_n},
   * then for PCH {@code Q f(Λ) Q'} of {@code R̄ = Q Λ Q'} (entrywise on the diagonal where the
   * residual is diagonal). Dense numel(wrt) x numel(wrt), one sample: the order of the paper and
   * of the authors' code.
   */
  public Batch averagedDense(ModuleOperator op, ForwardCache cache, String wrt, Batch dz) {
    Backend be = op.backend();
    int n = op.numel(wrt);
    ResidualKind kind = op.residualKind(wrt);
    if (!contributes(op, wrt)) return be.fill(n, n, 0);
    if (kind == ResidualKind.DIAGONAL) {
      Batch d = averagedDiagonal(op, cache, wrt, dz);
      Batch r = be.diagMatrix(be.reshape(d, n, 1));
      if (!be.sharesStorage(d, r)) be.release(d);
      return r;
    }
    Batch each = op.residual(cache, wrt, dz);
    Batch mean = be.meanSamples(each, cache.samples());
    if (!be.sharesStorage(each, mean)) be.release(each);
    if (modification == ResidualModification.NONE) return mean;
    Batch modified = be.symmetricEigenMap(mean, modification::apply);
    if (!be.sharesStorage(mean, modified)) be.release(mean);
    return modified;
  }
}
