package org.hbp.runtime;

import java.util.List;
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

  /** The data variables (e.g. a dropout mask), given to {@link #forward} per sample; part of {@link #constants}. */
  List<String> dataVariables();

  /**
   * The index variables (the index map of a gather, e.g. a pooling window's arg-max), computed by
   * the caller from the input and given to {@link #forward}; part of {@link #constants}.
   */
  List<String> indexVariables();

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

  /**
   * The per-sample vector d of a derived Jacobian {@code J = diag(d)} with respect to wrt (an
   * elementwise module's, such as {@code sigmoid'(x)}), in wrt's shape with one direction; null
   * where the derived Jacobian has no such form (the identity included). Generated operators
   * override it. Operators generated before it was part of this interface declared it protected:
   * regenerate them ({@code hbp generate}, or the Maven plugin's build) before running them with
   * this version.
   */
  default Batch jacobianDiagonal(ForwardCache cache, String wrt) {
    return null;
  }

  /**
   * Whether the derived Jacobian with respect to wrt is a selection, {@code J = selection(idx, n)}:
   * each output entry is one entry of wrt, or zero (a max-pool, an index select). Then
   * {@code J diag(d) = diag(J d) J} for any d, which lets a network apply the diagonal of the
   * module before it after the selection, on the selected entries only ({@code
   * DiagonalSelections}). Generated operators override it; false claims nothing.
   */
  default boolean jacobianIsSelection(String wrt) {
    return false;
  }

  /**
   * The index map idx of a derived Jacobian {@code J = selection(idx, n)} with respect to wrt
   * ({@link #jacobianIsSelection}), as the forward pass memoized it: {@code J v} is {@code
   * gather(v, idx)} with v's items flattened to {@code n x 1} (n wrt's size), the result in idx's
   * item shape, and {@code J' w} is {@code scatterAdd(w, idx, n, 1)}. A network pairs the selection
   * with a diagonal Jacobian before it only where it gives the map, and then gathers and multiplies
   * in one kernel ({@link org.hbp.backend.Backend#gatherMultiply}). Null where the Jacobian has no
   * such form.
   * Generated operators override it where they have such a Jacobian.
   */
  default Batch jacobianSelection(ForwardCache cache, String wrt) {
    return null;
  }

  /** Whether the residual sum_k dz_k d^2 z_k / d wrt^2 is zero, diagonal or general (derived). */
  ResidualKind residualKind(String wrt);

  /**
   * R v with the exact residual {@code R_n = sum_k dz_{n,k} d^2 z_k / d wrt^2} of sample n at its
   * output gradient dz_n (matrix-free). Modifying it (GGN, PCH) is the network's business
   * ({@code org.hbp.network.ResidualPolicy}).
   */
  Batch residualMatProd(ForwardCache cache, String wrt, Batch dz, Batch v);

  /**
   * The diagonal of the exact residual of each sample, in wrt's shape, where the residual is zero
   * or diagonal ({@link #residualKind}); throws for a general one.
   */
  Batch residualDiagonal(ForwardCache cache, String wrt, Batch dz);

  /** The dense exact residual of each sample, numel(wrt) x numel(wrt). */
  Batch residual(ForwardCache cache, String wrt, Batch dz);

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

  /**
   * Whether {@link #mixedResidualMatProd} is derived for every pair of differentiable variables
   * (operators generated by this hbp); the whole-network Hessian product needs it.
   */
  default boolean hasMixedResiduals() {
    return false;
  }

  /**
   * M v with the mixed residual {@code M_n = sum_k dz_{n,k} d^2 z_k / (d wrt d of)} of sample n at
   * its output gradient dz_n, numel(wrt) x numel(of): directions v in of's shape, result in wrt's
   * shape (per sample). For {@code of = wrt} it is the residual of {@link #residualMatProd}.
   */
  default Batch mixedResidualMatProd(ForwardCache cache, String wrt, String of, Batch dz, Batch v) {
    if (wrt.equals(of)) return residualMatProd(cache, wrt, dz, v);
    throw new UnsupportedOperationException(name() + ": no mixed residual of " + wrt + " and " + of);
  }
}
