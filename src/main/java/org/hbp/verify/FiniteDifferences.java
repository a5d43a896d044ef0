package org.hbp.verify;

import org.hbp.calculus.Tensor;
import org.hbp.calculus.Evaluator;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.DoubleFunction;
import java.util.function.Supplier;
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
    Evaluator.Repeated at = new Evaluator.Repeated(f, values, dims, Set.of(x.name()));
    DMatrixRMaj jac = null;
    for (int k = 0; k < n; k++) {
      Tensor plus = at.evaluate(Map.of(x.name(), x0.withEntry(k, x0.at(k) + h)));
      Tensor minus = at.evaluate(Map.of(x.name(), x0.withEntry(k, x0.at(k) - h)));
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
    Evaluator.Repeated at = new Evaluator.Repeated(scalarF, values, dims, Set.of(x.name()));
    DMatrixRMaj hess = new DMatrixRMaj(n, n);
    double f0 = Double.NaN;
    for (int i = 0; i < n; i++) {
      for (int j = i; j < n; j++) {
        double v;
        if (i == j) {
          if (Double.isNaN(f0)) f0 = evalScalar(at, x, x0);
          double fp = evalScalar(at, x, x0.withEntry(i, x0.at(i) + 2 * h));
          double fm = evalScalar(at, x, x0.withEntry(i, x0.at(i) - 2 * h));
          v = (fp - 2 * f0 + fm) / (4 * h * h);
        } else {
          double fpp = evalScalar(at, x, shifted(x0, i, h, j, h));
          double fpm = evalScalar(at, x, shifted(x0, i, h, j, -h));
          double fmp = evalScalar(at, x, shifted(x0, i, -h, j, h));
          double fmm = evalScalar(at, x, shifted(x0, i, -h, j, -h));
          v = (fpp - fpm - fmp + fmm) / (4 * h * h);
        }
        hess.unsafe_set(i, j, v);
        hess.unsafe_set(j, i, v);
      }
    }
    return hess;
  }

  // ---------------- extrapolated references ----------------

  /** First step of {@link #jacobianExtrapolated}; the steps halve from it. */
  public static final double EXTRAPOLATED_JACOBIAN_STEP = 1e-3;

  /** First step of {@link #hessianExtrapolated}; the steps halve from it. */
  public static final double EXTRAPOLATED_HESSIAN_STEP = 4e-3;

  /** Steps of the extrapolated references: h0, h0/2, ..., h0/16. */
  public static final int LEVELS = 5;

  /**
   * The Jacobian by Richardson extrapolation of central differences at the steps h0 / 2^i
   * (i < {@link #LEVELS}), entry by entry ({@link #extrapolate}). Accurate where one fixed step is
   * not: large values (rounding, about eps |f| / h, needs a large step) and nearby singularities
   * (truncation, about h^2 |f'''|, needs a small one).
   */
  public static DMatrixRMaj jacobianExtrapolated(Expr f, Expr.Var x, Map<String, Tensor> values, Map<String, Long> dims) {
    int rows = numel(f, values, dims), cols = bound(x, values).numel();
    return extrapolate(h -> orNaN(() -> jacobian(f, x, values, dims, h), rows, cols), EXTRAPOLATED_JACOBIAN_STEP, LEVELS, SETTLED_JACOBIAN);
  }

  /** The gradient of a scalar function by {@link #jacobianExtrapolated}, as a column. */
  public static DMatrixRMaj gradientExtrapolated(Expr scalarF, Expr.Var x, Map<String, Tensor> values, Map<String, Long> dims) {
    requireScalar(scalarF, values, dims);
    DMatrixRMaj j = jacobianExtrapolated(scalarF, x, values, dims);
    return new DMatrixRMaj(j.numCols, 1, true, j.data);
  }

  /** The Hessian of a scalar function by Richardson extrapolation of {@link #hessian} at halved steps. */
  public static DMatrixRMaj hessianExtrapolated(Expr scalarF, Expr.Var x, Map<String, Tensor> values, Map<String, Long> dims) {
    requireScalar(scalarF, values, dims);
    int n = bound(x, values).numel();
    return extrapolate(h -> orNaN(() -> hessian(scalarF, x, values, dims, h), n, n), EXTRAPOLATED_HESSIAN_STEP, LEVELS, SETTLED_HESSIAN);
  }

  /**
   * The numel(a) x numel(b) mixed second derivatives {@code d²f/(d vec(a)_i d vec(b)_j)} of a scalar
   * function of two different variables, by the four-point cross difference with step h:
   * {@code (f(a+h e_i, b+h e_j) - f(a+h e_i, b-h e_j) - f(a-h e_i, b+h e_j) + f(a-h e_i, b-h e_j)) / 4h²}.
   */
  public static DMatrixRMaj mixedHessian(Expr scalarF, Expr.Var a, Expr.Var b, Map<String, Tensor> values, Map<String, Long> dims, double h) {
    requireStep(h);
    requireScalar(scalarF, values, dims);
    if (a.name().equals(b.name())) throw new IllegalArgumentException("mixed derivatives need two different variables, got " + a.name() + " twice");
    Tensor a0 = bound(a, values), b0 = bound(b, values);
    DMatrixRMaj out = new DMatrixRMaj(a0.numel(), b0.numel());
    Evaluator.Repeated at = new Evaluator.Repeated(scalarF, values, dims, Set.of(a.name(), b.name()));
    Map<String, Tensor> v = new HashMap<>();
    for (int i = 0; i < a0.numel(); i++)
      for (int j = 0; j < b0.numel(); j++) {
        double sum = 0;
        for (int si = -1; si <= 1; si += 2)
          for (int sj = -1; sj <= 1; sj += 2) {
            v.put(a.name(), a0.withEntry(i, a0.at(i) + si * h));
            v.put(b.name(), b0.withEntry(j, b0.at(j) + sj * h));
            sum += si * sj * at.evaluate(v).scalarValue();
          }
        out.unsafe_set(i, j, sum / (4 * h * h));
      }
    return out;
  }

  /** {@link #mixedHessian} by Richardson extrapolation at halved steps, as {@link #hessianExtrapolated}. */
  public static DMatrixRMaj mixedHessianExtrapolated(Expr scalarF, Expr.Var a, Expr.Var b, Map<String, Tensor> values, Map<String, Long> dims) {
    int rows = bound(a, values).numel(), cols = bound(b, values).numel();
    return extrapolate(h -> orNaN(() -> mixedHessian(scalarF, a, b, values, dims, h), rows, cols), EXTRAPOLATED_HESSIAN_STEP, LEVELS,
        SETTLED_HESSIAN);
  }

  /**
   * Ridders' form of Richardson extrapolation (Numerical Recipes, dfridr), entry by entry, for a
   * difference quotient D(h) whose error is a series in h^2 (central differences): with
   * T[i][0] = D(h0 / 2^i) and T[i][j] = (4^j T[i][j-1] - T[i-1][j-1]) / (4^j - 1), each T[i][j]
   * (j >= 1) has the error estimate max(|T[i][j] - T[i][j-1]|, |T[i][j] - T[i-1][j-1]|); an entry
   * takes the value of smallest estimate. Entries that are not finite at a step (it left the
   * domain) take no part; an entry with no estimate at all takes its value at the smallest step.
   * The steps stop early, from the third on, once every estimate is below {@code settle}
   * relative to the largest entry (smooth functions: three steps).
   */
  static DMatrixRMaj extrapolate(DoubleFunction<DMatrixRMaj> atStep, double h0, int levels, double settle) {
    DMatrixRMaj[] previous = null;
    DMatrixRMaj best = null;
    double[] error = null;
    DMatrixRMaj last = null;
    double h = h0;
    for (int i = 0; i < levels; i++, h /= 2) {
      DMatrixRMaj[] row = new DMatrixRMaj[i + 1];
      row[0] = last = atStep.apply(h);
      if (best == null) {
        best = row[0].copy();
        error = new double[best.getNumElements()];
        Arrays.fill(error, Double.POSITIVE_INFINITY);
      }
      double factor = 4;
      for (int j = 1; j <= i; j++, factor *= 4) {
        row[j] = new DMatrixRMaj(best.numRows, best.numCols);
        for (int k = 0; k < error.length; k++) {
          double here = row[j - 1].data[k], before = previous[j - 1].data[k];
          double v = (factor * here - before) / (factor - 1);
          row[j].data[k] = v;
          double e = Math.max(Math.abs(v - here), Math.abs(v - before));
          if (e < error[k]) { // false for NaN
            error[k] = e;
            best.data[k] = v;
          }
        }
      }
      previous = row;
      if (i >= 2 && settled(best, error, settle)) break;
    }
    for (int k = 0; k < error.length; k++) if (error[k] == Double.POSITIVE_INFINITY) best.data[k] = last.data[k];
    return best;
  }

  /**
   * Extrapolation stops early once every entry's error estimate is below this, relative to
   * max(1, max |entry|): 1e-8 for Jacobians and 1e-7 for Hessians, 1/100 of the tolerances of
   * {@code hbp verify} (a Hessian's rounding error, about eps |f| / h^2, is near 1e-9 |f| at the
   * third step, so a stricter bound would take every step for functions of large values).
   */
  static final double SETTLED_JACOBIAN = 1e-8, SETTLED_HESSIAN = 1e-7;

  private static boolean settled(DMatrixRMaj best, double[] error, double settled) {
    double scale = 1;
    for (double v : best.data) scale = Math.max(scale, Math.abs(v));
    for (double e : error) if (!(e <= settled * scale)) return false;
    return true;
  }

  /** A difference quotient, or NaN everywhere when a step failed arithmetically (a singular inverse). */
  private static DMatrixRMaj orNaN(Supplier<DMatrixRMaj> quotient, int rows, int cols) {
    try {
      return quotient.get();
    } catch (ArithmeticException e) {
      DMatrixRMaj nan = new DMatrixRMaj(rows, cols);
      Arrays.fill(nan.data, Double.NaN);
      return nan;
    }
  }

  private static int numel(Expr f, Map<String, Tensor> values, Map<String, Long> dims) {
    int n = 1;
    for (int d : new Evaluator(values, dims).shapeOf(f.shape())) n *= d;
    return n;
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

  private static double evalScalar(Evaluator.Repeated f, Expr.Var x, Tensor xValue) {
    return f.evaluate(Map.of(x.name(), xValue)).scalarValue();
  }
}
