package org.hbp.verify;

import org.hbp.calculus.Tensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.SingularOps_DDRM;
import org.hbp.UserError;
import org.hbp.calculus.Expr;
import org.hbp.calculus.Exprs;
import org.hbp.calculus.Printer;
import org.hbp.calculus.Shape;
import org.hbp.dsl.Domain;
import org.hbp.dsl.ModuleSpec;

/**
 * The random points of {@code hbp verify}: every variable drawn from its {@link Domain}, and the
 * whole point drawn again while the forward value is not finite there.
 *
 * <ul>
 *   <li>real: entries uniform in [-1, 1); a square matrix (n at least 2) is drawn again until its
 *       smallest singular value is at least {@link #MIN_SINGULAR_VALUE}, so that inverses and
 *       their derivatives stay moderate (condition number below about 40) and finite differences
 *       accurate;
 *   <li>positive: entries uniform in [0.5, 2);
 *   <li>spd: {@code A A' / n + I / 2} with A uniform in [-1, 1), eigenvalues in [0.5, n + 0.5];
 *   <li>probability: each column 0.1 + uniform [0, 1), divided by its sum;
 *   <li>onehot: each column one entry 1 at a uniform position, the others 0;
 *   <li>sign: entries -1 or +1 with equal probability;
 *   <li>index maps: entries in [-1, n) for the gathers that use them.
 * </ul>
 */
public final class Sampler {
  private Sampler() {}

  /** Points drawn before giving up on a forward value that is never finite. */
  public static final int MAX_TRIES = 100;

  /** The smallest singular value of a sampled square matrix of real domain. */
  public static final double MIN_SINGULAR_VALUE = 0.1;

  /** No point with a finite forward value was found: says which expression left its domain. */
  public static final class DomainException extends UserError {
    public DomainException(String message) {
      super(message);
    }
  }

  /**
   * A random point of module m at dims: the values in {@code fixed} kept (the parameters shared by
   * a batch), every other variable drawn from its domain, drawn again (up to {@link #MAX_TRIES}
   * times) until the forward value is finite.
   *
   * @throws DomainException naming the innermost expression that is not finite, when no draw was
   *     finite
   */
  public static Map<String, Tensor> point(ModuleSpec m, Map<String, Long> dims, Random rng, Map<String, Tensor> fixed) {
    Map<String, Tensor> values = null;
    for (int attempt = 0; attempt < MAX_TRIES; attempt++) {
      values = draw(m, dims, rng, fixed);
      if (NonFinite.finiteAt(m.outputExpr(), values, dims)) return values;
    }
    throw new DomainException(diagnose(m, values, dims, fixed));
  }

  /** One draw of every variable not in {@code fixed}. */
  static Map<String, Tensor> draw(ModuleSpec m, Map<String, Long> dims, Random rng, Map<String, Tensor> fixed) {
    Map<String, Tensor> values = new LinkedHashMap<>();
    Map<Expr.Var, Long> sourceSize = new LinkedHashMap<>();
    Exprs.transformUp(m.outputExpr(), e -> {
      if (e instanceof Expr.Gather g) sourceSize.put(g.index(), g.source().shape().numel().evaluate(dims));
      return e;
    });
    for (Expr.Var v : m.variables()) {
      if (fixed.containsKey(v.name())) {
        values.put(v.name(), fixed.get(v.name()));
        continue;
      }
      int[] shape = Tensor.toIntShape(v.shape().evaluate(dims));
      if (v.role() == Expr.Role.INDEX) {
        long n = sourceSize.getOrDefault(v, 1L);
        Tensor t = Tensor.zeros(shape);
        double[] d = t.data();
        for (int i = 0; i < d.length; i++) d[i] = rng.nextInt((int) n + 1) - 1;
        values.put(v.name(), t);
      } else {
        values.put(v.name(), draw(m.domain(v.name()), shape, rng));
      }
    }
    return values;
  }

  /** A value of a domain and shape (column-major). */
  public static Tensor draw(Domain domain, int[] shape, Random rng) {
    Tensor t = Tensor.zeros(shape);
    double[] d = t.data();
    int rows = shape[0], cols = d.length / Math.max(1, rows);
    switch (domain) {
      case POSITIVE -> {
        for (int i = 0; i < d.length; i++) d[i] = 0.5 + 1.5 * rng.nextDouble();
      }
      case SPD -> {
        Tensor a = Tensor.random(rng, rows, rows);
        DMatrixRMaj am = a.toDMatrix(), s = new DMatrixRMaj(rows, rows);
        CommonOps_DDRM.multTransB(am, am, s);
        CommonOps_DDRM.scale(1.0 / rows, s);
        for (int i = 0; i < rows; i++) s.add(i, i, 0.5);
        return Tensor.fromDMatrix(s);
      }
      case PROBABILITY -> {
        for (int c = 0; c < cols; c++) {
          double sum = 0;
          for (int r = 0; r < rows; r++) sum += d[c * rows + r] = 0.1 + rng.nextDouble();
          for (int r = 0; r < rows; r++) d[c * rows + r] /= sum;
        }
      }
      case ONEHOT -> {
        for (int c = 0; c < cols; c++) d[c * rows + rng.nextInt(rows)] = 1;
      }
      case SIGN -> {
        for (int i = 0; i < d.length; i++) d[i] = rng.nextBoolean() ? 1 : -1;
      }
      default -> {
        do {
          for (int i = 0; i < d.length; i++) d[i] = rng.nextDouble() * 2 - 1;
        } while (shape.length == 2 && rows == cols && rows > 1 && smallestSingularValue(t) < MIN_SINGULAR_VALUE);
      }
    }
    return t;
  }

  private static double smallestSingularValue(Tensor square) {
    double[] s = SingularOps_DDRM.singularValues(square.toDMatrix());
    double min = Double.POSITIVE_INFINITY;
    for (double x : s) min = Math.min(min, x);
    return min;
  }

  /**
   * In words: the innermost subexpression of the forward expression that is not finite at the
   * last point although its operands are, what its operand did there, and which domains to
   * declare, e.g. {@code log(det(S)) is not finite at any of 100 random points: det(S) <= 0 there;
   * declare S spd}.
   */
  static String diagnose(ModuleSpec m, Map<String, Tensor> values, Map<String, Long> dims, Map<String, Tensor> fixed) {
    Expr culprit = NonFinite.innermost(m.outputExpr(), values, dims);
    if (culprit == null) culprit = m.outputExpr();
    ModuleSpec.Place at = m.exprPlaces().of(m.outputExpr(), culprit);
    if (at == null) at = m.place(m.output().name());
    StringBuilder s = new StringBuilder(m.name()).append(": ").append(Printer.text(culprit)).append(", written at ")
        .append(m.source()).append(':').append(at.line()).append(':').append(at.column()).append(", is not finite at any of ")
        .append(MAX_TRIES).append(" random points");
    String why = NonFinite.why(culprit);
    if (why != null) s.append(": ").append(why).append(" there");
    List<String> hints = new ArrayList<>();
    for (Expr.Var v : Exprs.variables(culprit)) {
      if (m.domain(v.name()) != Domain.REAL || v.role() == Expr.Role.INDEX) continue;
      Shape sh = v.shape();
      boolean square = sh.isMatrixLike() && sh.rows().equals(sh.cols()) && !sh.isScalar();
      Domain d = square ? Domain.SPD : Domain.POSITIVE;
      if (finiteSomewhere(m, dims, fixed, v, d)) hints.add(v.name() + " " + d.word);
    }
    if (!hints.isEmpty()) s.append("; declare ").append(String.join(" or ", hints)).append(" if it is meant to be");
    else if (!fixed.isEmpty()) s.append(" (with the parameters shared by the samples)");
    return s.toString();
  }

  /**
   * Whether the forward value of m is finite at one of {@link #MAX_TRIES} points with v drawn from
   * domain d (the other variables as before): only then is "declare v d" a hint worth giving (not
   * for {@code log(-exp(x))} or {@code x ./ relu(-abs(x))}, undefined whatever the sign of x). The draws
   * use a fixed seed, so that the message does not change from run to run.
   */
  private static boolean finiteSomewhere(ModuleSpec m, Map<String, Long> dims, Map<String, Tensor> fixed, Expr.Var v, Domain d) {
    Random rng = new Random(1);
    int[] shape = Tensor.toIntShape(v.shape().evaluate(dims));
    for (int attempt = 0; attempt < MAX_TRIES; attempt++) {
      Map<String, Tensor> values = draw(m, dims, rng, fixed);
      values.put(v.name(), draw(d, shape, rng));
      if (NonFinite.finiteAt(m.outputExpr(), values, dims)) return true;
    }
    return false;
  }
}
