package org.hbp.runtime;

import java.util.List;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;

/**
 * The math of one module, as the HBP runtime needs it (in the spirit of BackPACK's derivatives
 * classes): generated from a spec in {@code modules-spec/}, it knows nothing about which curvature
 * flows back or how batches are averaged beyond the products below.
 *
 * <p><b>Batches.</b> Every value is a {@link Batch} over N samples and V directions whose items
 * have the variable's own shape (a vector {@code n x 1}, a matrix {@code m x n}, a tensor
 * {@code (c,h,w)} as {@code c x (h*w)}); vectorization is column-major, as in the derived
 * formulas. An axis of extent 1 means "the same for every sample/direction" (a parameter, or a
 * direction shared by all samples); results keep an axis of extent 1 where they do not vary along
 * it (the Jacobian of a linear layer with respect to its input is the same for every sample).
 *
 * <p><b>Variables.</b> {@code wrt} names an input or a parameter of the spec
 * ({@link #differentiable()}); data and index variables are given to {@link #forward} only.
 */
public interface ModuleOperator extends Operator {
  /** The parameters, differentiated like the inputs. */
  List<String> parameters();

  /** Inputs followed by parameters. */
  default List<String> differentiable() {
    List<String> out = new java.util.ArrayList<>(inputs());
    out.addAll(parameters());
    return out;
  }

  /** J v: directions in wrt's shape to directions in the output's shape. */
  Batch jacMatProd(ForwardCache cache, String wrt, Batch v);

  /** J' v: directions in the output's shape to wrt's shape (per sample; gradient backward for v = dz). */
  Batch jacTMatProd(ForwardCache cache, String wrt, Batch v);

  /**
   * The sum over the batch's N samples of {@code J_n' v_n} (directions the same for every sample
   * count N times): one sample in the result, in wrt's shape. For a weight this is one product
   * {@code sum_n dz_n x_n'}, never N outer products; the gradient of a summed loss is
   * {@code jacTMatProdSum(cache, w, dz)}.
   */
  Batch jacTMatProdSum(ForwardCache cache, String wrt, Batch v);

  /**
   * Gradient backward: the per-sample gradient {@code J' dz} with respect to an input (delta x)
   * or a parameter (delta theta, still per sample: summing or averaging is the caller's).
   */
  default Batch backward(ForwardCache cache, String wrt, Batch dz) {
    return jacTMatProd(cache, wrt, dz);
  }

  /** Whether the derived Jacobian with respect to wrt is the same for every sample (e.g. W for a linear layer's input). */
  boolean jacobianIsShared(String wrt);

  /** Whether the derived Jacobian with respect to wrt is diagonal (an elementwise module) or the identity. */
  boolean jacobianIsDiagonal(String wrt);

  /** Whether the residual sum_k dz_k d^2 z_k / d wrt^2 is zero, diagonal or general (derived). */
  ResidualKind residualKind(String wrt);

  /** How PCH removes negative curvature from the residual: follows from {@link #residualKind}. */
  default PchMethod pchMethod(String wrt) {
    switch (residualKind(wrt)) {
      case ZERO:
        return PchMethod.NOTHING;
      case DIAGONAL:
        return PchMethod.ELEMENTWISE;
      default:
        return PchMethod.EIGENDECOMPOSITION;
    }
  }

  /** R v with the exact residual R of sample n at the output gradient dz (matrix-free). */
  Batch residualMatProd(ForwardCache cache, String wrt, Batch dz, Batch v);

  /** The modified residual applied to directions: exact, zero, or with |eigenvalues| or max(eigenvalues, 0). */
  Batch residualMatProd(ForwardCache cache, String wrt, Batch dz, Batch v, ResidualModification modification);

  /** The diagonal of a zero or diagonal residual, modified, in wrt's shape; throws for a general one. */
  Batch residualDiagonal(ForwardCache cache, String wrt, Batch dz, ResidualModification modification);

  /**
   * The dense modified residual per sample, numel(wrt) x numel(wrt) (PCH per sample, as the exact
   * strategy uses it; the batch strategies modify the average: {@link #averagedResidual}).
   */
  Batch residual(ForwardCache cache, String wrt, Batch dz, ResidualModification modification);

  /**
   * The diagonal of the batch-averaged residual of eq. 8 / eq. 9, modified after averaging (PCH
   * as the paper puts it: the bar is over the whole residual term, and PCH modifies that term):
   * {@code mod(mean_n diag R_n)} with R_n the exact residual of sample n at its output gradient
   * dz_n, and mod = identity, 0, |.| or max(., 0) entrywise (the diagonal entries are the
   * eigenvalues). One sample, in wrt's shape; throws for a general residual.
   */
  default Batch averagedResidualDiagonal(ForwardCache cache, String wrt, Batch dz, ResidualModification modification) {
    Backend be = backend();
    boolean zero = modification == ResidualModification.ZERO;
    Batch each = residualDiagonal(cache, wrt, dz, zero ? ResidualModification.ZERO : ResidualModification.NONE);
    Batch mean = be.meanSamples(each, cache.samples());
    if (!be.sharesStorage(each, mean)) be.release(each);
    if (zero || modification == ResidualModification.NONE) return mean;
    Batch modified = be.map(mean, modification.function());
    if (!be.sharesStorage(mean, modified)) be.release(mean);
    return modified;
  }

  /**
   * The batch-averaged residual of eq. 8 / eq. 9, modified after averaging: {@code R̄ = mean_n R_n}
   * (exact per-sample residuals), then for PCH {@code Q f(Λ) Q'} of the symmetric
   * eigendecomposition {@code R̄ = Q Λ Q'} with f = |.| or max(., 0) (entrywise on the diagonal
   * where the residual is diagonal). Dense numel(wrt) x numel(wrt), one sample. This is the order
   * of the paper and of the authors' code; {@link #residual} modifies each sample's residual (the
   * exact strategy's PCH, per sample).
   */
  default Batch averagedResidual(ForwardCache cache, String wrt, Batch dz, ResidualModification modification) {
    Backend be = backend();
    int[] s = itemShape(wrt);
    int n = s[0] * s[1];
    ResidualKind kind = residualKind(wrt);
    if (kind == ResidualKind.ZERO || modification == ResidualModification.ZERO) return be.fill(n, n, 0);
    if (kind == ResidualKind.DIAGONAL) {
      Batch d = averagedResidualDiagonal(cache, wrt, dz, modification);
      Batch r = be.diagMatrix(be.reshape(d, n, 1));
      if (!be.sharesStorage(d, r)) be.release(d);
      return r;
    }
    Batch each = residual(cache, wrt, dz, ResidualModification.NONE);
    Batch mean = be.meanSamples(each, cache.samples());
    if (!be.sharesStorage(each, mean)) be.release(each);
    if (modification == ResidualModification.NONE) return mean;
    Batch modified = be.symmetricEigenMap(mean, modification::apply);
    if (!be.sharesStorage(mean, modified)) be.release(mean);
    return modified;
  }

  /** J' M J per sample for M with items numel(out) x numel(out); items numel(wrt) x numel(wrt). */
  Batch propagate(ForwardCache cache, String wrt, Batch m);

  /** The batch-averaged J' M J of eq. 8 or eq. 9 (one sample in the result). */
  Batch propagateAveraged(ForwardCache cache, String wrt, Batch m, Averaging averaging);

  /**
   * Whether the Jacobian with respect to a parameter has the derived form {@code kron(A', I)},
   * so that its HBP block is {@code (A ⊗ I) Hz (A' ⊗ I)}.
   */
  boolean hasKroneckerFactor(String parameter);

  /** The per-sample factor A of {@code J = kron(A', I)}; throws when there is none. */
  Batch kroneckerFactor(ForwardCache cache, String parameter);
}
