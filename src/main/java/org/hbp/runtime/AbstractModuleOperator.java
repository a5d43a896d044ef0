package org.hbp.runtime;

import java.util.function.Supplier;
import org.hbp.UserError;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.backend.ConvGeometry;
import org.hbp.backend.ScalarFunction;

/**
 * The parts of {@link ModuleOperator} that follow from the generated products alone: the exact
 * residual's diagonal and dense form, and explicit propagation J' M J (per sample, eq. 8 and
 * eq. 9), all built from {@link #jacTMatProd} and {@link #residualMatProd} without forming a
 * Jacobian. Math only: which curvature flows back (Hessian, GGN, PCH) is the network's choice.
 */
public abstract class AbstractModuleOperator extends AbstractOperator implements ModuleOperator {
  protected AbstractModuleOperator(Backend backend) {
    super(backend);
  }

  /** By default, the per-sample products summed; generated operators push the sum into the products. */
  @Override
  public Batch jacTMatProdSum(ForwardCache cache, String wrt, Batch v) {
    return samplesSum(jacTMatProd(cache, wrt, v), cache);
  }

  /**
   * The sum over the batch of a per-sample batch; one with a single sample is the same for all N
   * samples of the forward pass, so its sum is N times it.
   */
  protected final Batch samplesSum(Batch b, ForwardCache cache) {
    return b.samples() == 1 ? (cache.samples() == 1 ? b : be.scale(b, cache.samples())) : be.sumSamples(b);
  }

  /** {@code sum_n op(a_n) op(b_n)} over the batch, as {@link #samplesSum} counts shared operands. */
  protected final Batch sumProducts(Batch a, boolean transposeA, Batch b, boolean transposeB, ForwardCache cache) {
    if (a.samples() == 1 && b.samples() == 1) return samplesSum(be.matmul(a, transposeA, b, transposeB), cache);
    return be.matmulSumSamples(a, transposeA, b, transposeB);
  }

  /**
   * {@code sum_n y_n unfold(x_n)'} over the batch (a convolution's weight gradient), as
   * {@link #sumProducts} counts shared operands.
   */
  protected final Batch sumConvolutionWeightGradients(Batch y, Batch x, ConvGeometry g, ForwardCache cache) {
    if (y.samples() == 1 && x.samples() == 1) {
      Batch u = be.unfold(x, g);
      Batch p = be.matmul(y, false, u, true);
      be.release(u);
      return samplesSum(p, cache);
    }
    return be.convolutionWeightGradient(y, x, g);
  }

  /**
   * {@code w_d * unfold(x_n)} for every direction d of w and sample n of x (a convolution's
   * {@code J_W v}, the directions as filters): the backend's direct convolution where it has one
   * for these operands ({@link Backend#convolvesDirectly}), which never forms the unfolding; else
   * the product with the forward pass's unfolding, {@code unfolding} (memoized).
   */
  protected final Batch convolveDirections(Batch w, Batch x, ConvGeometry g, Supplier<Batch> unfolding) {
    if (be.convolvesDirectly(w, x, g)) return be.convolution(w, x, g, null);
    return be.matmul(w, false, unfolding.get(), false);
  }

  /**
   * {@code f(x) .* v} (a diagonal Jacobian {@code diag(f(x))} applied to v): the product with the
   * stored {@code f(x)}, {@code stored} (memoized, computed once per forward pass), where the
   * backend multiplies a stored map faster for these operands ({@link
   * Backend#multipliesStoredMaps}: x into several directions of v); else the backend's one pass
   * over x and v, which never stores f(x). Both give the same entries.
   */
  protected final Batch mapMultiply(Batch x, ScalarFunction f, Batch v, Supplier<Batch> stored) {
    if (be.multipliesStoredMaps(x, v)) return be.multiply(stored.get(), v);
    return be.mapMultiply(x, f, v);
  }

  /** The exact diagonal of a diagonal residual (generated; only called for DIAGONAL kinds). */
  protected abstract Batch exactResidualDiagonal(ForwardCache cache, String wrt, Batch dz);

  /** Zeros in wrt's item shape with the samples and directions of v: the product with a mixed residual that vanishes. */
  protected final Batch zerosIn(String wrt, Batch v) {
    return zerosIn(wrt, v.samples(), v.directions());
  }

  /**
   * Zeros in variable's item shape with the given samples and directions: the product with a
   * Jacobian that vanishes identically (a variable the output does not depend on, or only through
   * a piecewise-constant function), per sample ({@code [N x V]}) or summed ({@code [1 x V]}).
   */
  protected final Batch zerosIn(String variable, int samples, int directions) {
    int[] s = itemShape(variable);
    return be.fromArray(samples, directions, s[0], s[1], new double[samples * directions * s[0] * s[1]]);
  }

  /** Checks that wrt names an input or a parameter. */
  protected final void requireDifferentiable(String wrt) {
    if (!differentiable().contains(wrt))
      throw new UserError(name() + ": '" + wrt + "' is not an input or parameter; expected one of " + differentiable());
  }

  @Override
  public Batch residualDiagonal(ForwardCache cache, String wrt, Batch dz) {
    ResidualKind kind = residualKind(wrt);
    int[] s = itemShape(wrt);
    if (kind == ResidualKind.GENERAL)
      throw new IllegalStateException(name() + ": the residual with respect to '" + wrt + "' is not diagonal; use residual or residualMatProd");
    if (kind == ResidualKind.ZERO) return be.fill(s[0], s[1], 0);
    return exactResidualDiagonal(cache, wrt, dz);
  }

  @Override
  public Batch residual(ForwardCache cache, String wrt, Batch dz) {
    ResidualKind kind = residualKind(wrt);
    int n = numel(wrt);
    if (kind == ResidualKind.ZERO) return be.fill(n, n, 0);
    if (kind == ResidualKind.DIAGONAL) return be.diagMatrix(be.reshape(residualDiagonal(cache, wrt, dz), n, 1));
    Batch columns = residualMatProd(cache, wrt, dz, identityDirections(wrt));
    return be.directionsAsColumns(be.reshape(columns, n, 1), n);
  }

  /** The unit vectors of wrt's space as numel(wrt) directions, shared by all samples. */
  protected final Batch identityDirections(String variable) {
    int[] s = itemShape(variable);
    return be.reshape(be.columnsAsDirections(be.eye(s[0] * s[1])), s[0], s[1]);
  }

  /** J' applied to each column of items numel(out) x c: items numel(wrt) x c. */
  private Batch jacTColumns(ForwardCache cache, String wrt, Batch columns) {
    int c = columns.cols();
    int[] out = itemShape(outputName());
    Batch v = be.reshape(be.columnsAsDirections(columns), out[0], out[1]);
    Batch r = jacTMatProd(cache, wrt, v);
    return be.directionsAsColumns(be.reshape(r, numel(wrt), 1), c);
  }

  private Batch checkSquare(Batch m, String what) {
    int n = numel(outputName());
    if (m.rows() != n || m.cols() != n)
      throw new UserError(name() + "." + what + ": the matrix " + m.describe() + " should have items " + n + "x" + n
          + " (numel of output '" + outputName() + "')");
    return m;
  }

  @Override
  public Batch propagate(ForwardCache cache, String wrt, Batch m) {
    requireDifferentiable(wrt);
    checkSquare(m, "propagate");
    Batch jtmt = jacTColumns(cache, wrt, be.transpose(m)); // J' M'
    return jacTColumns(cache, wrt, be.transpose(jtmt)); // J' (M J)
  }

  @Override
  public Batch propagateAveraged(ForwardCache cache, String wrt, Batch m, Averaging averaging) {
    requireDifferentiable(wrt);
    checkSquare(m, "propagateAveraged");
    int n = cache.samples();
    Batch diag = m.samples() == 1 ? jacobianDiagonal(cache, wrt) : null;
    if (diag != null) {
      // J_n = diag(a_n): J_n' M J_n = M .* (a_n a_n'), so eq. 8 is M .* mean(a a') (one product of
      // the side-by-side a_n, never N matrices) and eq. 9 is M .* (mean a)(mean a)'
      int d = numel(wrt);
      Batch a = be.reshape(diag, d, 1);
      Batch g;
      if (averaging == Averaging.MEAN_OF_PRODUCTS) g = be.scale(sumProducts(a, false, a, true, cache), 1.0 / n);
      else {
        Batch mean = be.meanSamples(a, n);
        g = be.matmul(mean, false, mean, true);
      }
      return be.multiply(m, g);
    }
    if (averaging == Averaging.MEAN_OF_PRODUCTS) return be.meanSamples(propagate(cache, wrt, m), n);
    Batch meanJtMt = be.meanSamples(jacTColumns(cache, wrt, be.transpose(m)), n); // mean_n J_n' M'
    return be.meanSamples(jacTColumns(cache, wrt, be.transpose(meanJtMt)), n); // mean_n J_n' (M mean_m J_m)
  }

  /** Fails for a variable that is not declared, naming the declared ones. */
  protected final UserError unknown(String variable) {
    return new UserError(name() + ": no variable named '" + variable + "'; it has " + differentiable() + " and constants "
        + constants());
  }
}
