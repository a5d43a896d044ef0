package org.hbp.verify;

import java.util.HashMap;
import java.util.Map;
import org.ejml.data.DMatrixRMaj;
import org.hbp.calculus.Expr;

/**
 * Central finite differences in fp64 over the {@link Evaluator}, with column-major vec on both
 * sides: column k of a Jacobian is d vec(f) / d vec(x)_k.
 *
 * <p><b>Step choice and accuracy.</b> For a central difference (f(x+h) - f(x-h)) / 2h the
 * truncation error is about h^2/6 |f'''| and the rounding error about eps |f| / h (eps = 2.2e-16),
 * balanced near h = eps^(1/3) ~ 6e-6; the default {@link #JACOBIAN_STEP} = 1e-5 gives errors of
 * about 1e-10 (relative to the size of f and its third derivative), so comparisons at 1e-6 are safe
 * for well-scaled inputs (entries of order 1). The Hessian uses the four-point second difference
 * (f(x+h e_i+h e_j) - f(x+h e_i-h e_j) - f(x-h e_i+h e_j) + f(x-h e_i-h e_j)) / 4h^2, i.e. central
 * differences of central differences, whose truncation error is about h^2 |f''''| / 3 and rounding
 * error about eps |f| / h^2, balanced near h = eps^(1/4) ~ 1e-4; the default {@link #HESSIAN_STEP}
 * = 1e-4 gives errors of about 1e-8 to 1e-7, so compare Hessians at about 1e-5. The Hessian is
 * exactly symmetric (only i <= j is computed). Kinks (relu, abs, step) within h of x break both.
 */
public final class FiniteDifferences {
  private FiniteDifferences() {}

  /** Default step of {@link #jacobian(Expr, Expr.Var, Map, Map)}. */
  public static final double JACOBIAN_STEP = 1e-5;

  /** Default step of {@link #hessian(Expr, Expr.Var, Map, Map)}. */
  public static final double HESSIAN_STEP = 1e-4;

  /** The numel(f) x numel(x) Jacobian with the default step {@link #JACOBIAN_STEP}. */
  public static DMatrixRMaj jacobian(Expr f, Expr.Var x, Map<String, Tensor> values, Map<String, Long> dims) {
    return jacobian(f, x, values, dims, JACOBIAN_STEP);
  }

  /**
   * The numel(f) x numel(x) Jacobian d vec(f) / d vec(x)' by central differences with step h
   * (2 numel(x) evaluations of f). Every other variable keeps its value from {@code values}.
   */
  public static DMatrixRMaj jacobian(Expr f, Expr.Var x, Map<String, Tensor> values, Map<String, Long> dims, double h) {
    requireStep(h);
    Tensor x0 = bound(x, values);
    int n = x0.numel();
    DMatrixRMaj jac = null;
    for (int k = 0; k < n; k++) {
      Tensor plus = eval(f, x, x0.withEntry(k, x0.at(k) + h), values, dims);
      Tensor minus = eval(f, x, x0.withEntry(k, x0.at(k) - h), values, dims);
      if (jac == null) jac = new DMatrixRMaj(plus.numel(), n);
      for (int r = 0; r < plus.numel(); r++) jac.unsafe_set(r, k, (plus.at(r) - minus.at(r)) / (2 * h));
    }
    if (jac == null) jac = new DMatrixRMaj(Evaluator.evaluate(f, values, dims).numel(), 0);
    return jac;
  }

  /** The numel(x) x 1 gradient of a scalar function with the default step {@link #JACOBIAN_STEP}. */
  public static DMatrixRMaj gradient(Expr scalarF, Expr.Var x, Map<String, Tensor> values, Map<String, Long> dims) {
    return gradient(scalarF, x, values, dims, JACOBIAN_STEP);
  }

  /** The numel(x) x 1 gradient (the transposed 1 x numel(x) Jacobian) of a scalar function. */
  public static DMatrixRMaj gradient(Expr scalarF, Expr.Var x, Map<String, Tensor> values, Map<String, Long> dims, double h) {
    requireScalar(scalarF, values, dims);
    DMatrixRMaj j = jacobian(scalarF, x, values, dims, h);
    DMatrixRMaj g = new DMatrixRMaj(j.numCols, 1);
    for (int k = 0; k < j.numCols; k++) g.unsafe_set(k, 0, j.unsafe_get(0, k));
    return g;
  }

  /** The numel(x) x numel(x) Hessian of a scalar function with the default step {@link #HESSIAN_STEP}. */
  public static DMatrixRMaj hessian(Expr scalarF, Expr.Var x, Map<String, Tensor> values, Map<String, Long> dims) {
    return hessian(scalarF, x, values, dims, HESSIAN_STEP);
  }

  /**
   * The numel(x) x numel(x) Hessian of a scalar function by the symmetric four-point second
   * difference with step h (about 2 numel(x)^2 evaluations of f).
   */
  public static DMatrixRMaj hessian(Expr scalarF, Expr.Var x, Map<String, Tensor> values, Map<String, Long> dims, double h) {
    requireStep(h);
    requireScalar(scalarF, values, dims);
    Tensor x0 = bound(x, values);
    int n = x0.numel();
    DMatrixRMaj hess = new DMatrixRMaj(n, n);
    double f0 = Double.NaN;
    for (int i = 0; i < n; i++) {
      for (int j = i; j < n; j++) {
        double v;
        if (i == j) {
          if (Double.isNaN(f0)) f0 = evalScalar(scalarF, x, x0, values, dims);
          double fp = evalScalar(scalarF, x, x0.withEntry(i, x0.at(i) + 2 * h), values, dims);
          double fm = evalScalar(scalarF, x, x0.withEntry(i, x0.at(i) - 2 * h), values, dims);
          v = (fp - 2 * f0 + fm) / (4 * h * h);
        } else {
          double fpp = evalScalar(scalarF, x, shifted(x0, i, h, j, h), values, dims);
          double fpm = evalScalar(scalarF, x, shifted(x0, i, h, j, -h), values, dims);
          double fmp = evalScalar(scalarF, x, shifted(x0, i, -h, j, h), values, dims);
          double fmm = evalScalar(scalarF, x, shifted(x0, i, -h, j, -h), values, dims);
          v = (fpp - fpm - fmp + fmm) / (4 * h * h);
        }
        hess.unsafe_set(i, j, v);
        hess.unsafe_set(j, i, v);
      }
    }
    return hess;
  }

  private static Tensor shifted(Tensor x0, int i, double di, int j, double dj) {
    double[] d = x0.data().clone();
    d[i] += di;
    d[j] += dj;
    return new Tensor(x0.shape(), d);
  }

  private static void requireStep(double h) {
    if (!(h > 0) || Double.isInfinite(h)) throw new IllegalArgumentException("finite-difference step must be positive, got " + h);
  }

  private static void requireScalar(Expr f, Map<String, Tensor> values, Map<String, Long> dims) {
    int[] s = new Evaluator(values, dims).shapeOf(f.shape());
    if (s.length != 2 || s[0] != 1 || s[1] != 1)
      throw new IllegalArgumentException("expected a scalar function, got shape " + f.shape());
  }

  private static Tensor bound(Expr.Var x, Map<String, Tensor> values) {
    Tensor t = values.get(x.name());
    if (t == null) throw new IllegalArgumentException("no value bound for variable '" + x.name() + "'");
    return t;
  }

  private static Tensor eval(Expr f, Expr.Var x, Tensor xValue, Map<String, Tensor> values, Map<String, Long> dims) {
    Map<String, Tensor> v = new HashMap<>(values);
    v.put(x.name(), xValue);
    return Evaluator.evaluate(f, v, dims);
  }

  private static double evalScalar(Expr f, Expr.Var x, Tensor xValue, Map<String, Tensor> values, Map<String, Long> dims) {
    return eval(f, x, xValue, values, dims).scalarValue();
  }
}
