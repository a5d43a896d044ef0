package org.hbp.verify;

import org.hbp.calculus.Tensor;
import org.hbp.calculus.Evaluator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.hbp.calculus.Expr;
import org.hbp.calculus.Printer;
import org.hbp.calculus.Simplifier;
import org.hbp.derive.ClosedForm;
import org.hbp.derive.Derivation;
import org.hbp.derive.ModuleRules;
import org.hbp.dsl.Domain;
import org.hbp.dsl.Dsl;
import org.hbp.dsl.DslException;
import org.hbp.dsl.ModuleSpec;
import org.hbp.dsl.Spec;

/**
 * Decides whether a rule derived by hand equals hbp's: {@code x: W'*Hz*W} states the HBP rule of
 * input or parameter x of a module (the Hessian for a loss). Both sides are brought to canonical
 * form by the simplifier; equal forms prove equality. Otherwise a randomized identity test
 * evaluates both at {@link #POINTS} random shapes and points (with random dz and symmetric Hz):
 * a difference found there disproves equality, none found is evidence, not a proof (a piecewise
 * rule wrong only on a thin set of points can escape it). To cross the thresholds of piecewise
 * rules ({@code step(0.5 - abs(t))}) wherever they lie, half of the points scale each variable of
 * real, positive or spd domain by its own factor drawn log-uniformly from
 * [{@link #MIN_SCALE}, {@link #MAX_SCALE}].
 */
public final class ExpectCheck {
  private ExpectCheck() {}

  /** Relative difference below which two exact fp64 evaluations count as the same number. */
  public static final double IDENTITY_TOL = 1e-9;

  /** Random points of the numeric identity test. */
  public static final int POINTS = 400;

  /** The range of the factors by which every other point scales its variables. */
  public static final double MIN_SCALE = 1e-2, MAX_SCALE = 1e2;

  public enum DecidedBy {
    CANONICAL_FORMS, NUMERIC_IDENTITY
  }

  /**
   * The verdict on one expectation. {@code equal} is proven when decided by canonical forms; when
   * decided numerically it means that no difference was found at {@code points} points.
   *
   * @param points the points where both sides were finite and compared (0 for canonical forms)
   */
  public record Result(String module, String wrt, String expected, String derived, boolean equal, DecidedBy decidedBy,
      double maxRelDiff, Map<String, Long> counterexampleDims, int points) {
    /** The verdict's word: EQUAL (proven by canonical forms), AGREES (no difference found at the points) or DIFFERS. */
    public String verdict() {
      return !equal ? "DIFFERS" : decidedBy == DecidedBy.CANONICAL_FORMS ? "EQUAL" : "AGREES";
    }

    public String describe() {
      if (decidedBy == DecidedBy.CANONICAL_FORMS)
        return module + " " + wrt + ": expected " + expected + " equals derived " + derived + " (decided by canonical forms: they are identical)";
      String head = module + " " + wrt + ": expected " + expected + (equal ? " agrees with " : " DIFFERS from ") + "derived " + derived;
      if (equal)
        return head + String.format(" (no difference found at %d random points, half of them at scaled values; canonical forms differ, so this "
            + "is evidence, not a proof; max relative difference %.1e)", points, maxRelDiff);
      return head + String.format(" (a randomized numeric identity test found a difference: max relative difference %.1e at dims %s; "
          + "canonical forms differ)", maxRelDiff, counterexampleDims);
    }
  }

  /**
   * Checks one expectation {@code NAME: EXPR} against module m of spec.
   *
   * @param source how errors name the expectation (e.g. {@code --expect})
   */
  public static Result check(Spec spec, ModuleSpec m, String expectation, String source, long seed) {
    return decide(m, parse(spec, m, expectation, source), seed);
  }

  /** An expectation read: the derivation it is compared with, and the expression as written and as parsed. */
  public record Parsed(Derivation derivation, String text, Expr expected) {}

  /**
   * Reads one expectation {@code NAME: EXPR} for module m of spec, without deciding it: a command
   * reads every expectation first, so that a mistake in one is reported before any work.
   *
   * @throws DslException at the place in the expectation (source:line:col) when it is malformed
   */
  public static Parsed parse(Spec spec, ModuleSpec m, String expectation, String source) {
    int colon = expectation.indexOf(':');
    if (colon < 0)
      throw new DslException(source, 1, 1, "expected 'NAME: EXPR' (an input or parameter, a colon, its HBP rule), e.g. 'x: W'*Hz*W'");
    String wrt = expectation.substring(0, colon).trim();
    String text = expectation.substring(colon + 1);
    Derivation d = null;
    List<Derivation> ds = ModuleRules.derive(m);
    for (Derivation x : ds) if (x.wrt().name().equals(wrt)) d = x;
    if (d == null)
      throw new DslException(source, 1, 1, "module '" + m.name() + "' has no input or parameter '" + wrt + "'; expected one of "
          + ds.stream().map(x -> x.wrt().name()).toList());
    Expr expected;
    try {
      expected = Dsl.parseExpression(text, Dsl.Scope.of(spec, m), source);
    } catch (DslException e) {
      // positions in the expression text, shifted past "NAME:"
      throw new DslException(source, e.line(), e.column() + (e.line() == 1 ? colon + 1 : 0), e.detail());
    }
    Expr derived = d.curvature();
    if (!expected.shape().equals(derived.shape()))
      throw new DslException(source, 1, colon + 2, "the expression has shape " + Printer.type(expected.shape(), m.dimNames())
          + " but the rule of " + wrt + " has shape " + Printer.type(derived.shape(), m.dimNames()));
    return new Parsed(d, text.trim(), expected);
  }

  /** Decides a read expectation against module m's rule: canonical forms, else the numeric identity test with {@code seed}. */
  public static Result decide(ModuleSpec m, Parsed p, long seed) {
    Derivation d = p.derivation();
    String wrt = d.wrt().name();
    Expr expected = p.expected(), derived = d.curvature();
    Simplifier s = m.simplifier();
    Expr canonical = ClosedForm.expand(s.run(expected), s);
    String derivedText = Printer.text(d.curvatureCompact(), m.dimNames());
    String expectedText = p.text();
    if (canonical.equals(derived) || canonical.equals(ClosedForm.expand(s.run(d.curvatureCompact()), s)))
      return new Result(m.name(), wrt, expectedText, derivedText, true, DecidedBy.CANONICAL_FORMS, 0, null, 0);
    Numeric n = numeric(m, expected, derived, seed);
    return new Result(m.name(), wrt, expectedText, derivedText, n.points() > 0 && n.worst() <= IDENTITY_TOL, DecidedBy.NUMERIC_IDENTITY,
        n.worst(), n.worstDims(), n.points());
  }

  /** The outcome of a numeric identity test: the points compared, the largest relative difference and where. */
  record Numeric(int points, double worst, Map<String, Long> worstDims) {}

  /**
   * Evaluates {@code expected} and {@code derived} (rules of module m, of the same shape) at
   * {@link #POINTS} random points: random dims in 1..4, variables from their domains
   * ({@link Sampler}), a random dz and symmetric Hz for a module; every odd point scales each
   * variable of real, positive or spd domain by its own factor from [MIN_SCALE, MAX_SCALE]
   * (log-uniform), drawn again (up to 10 times, then unscaled) while the forward value is not
   * finite. A point where the derived rule is not finite is skipped; so is a scaled point where
   * only the expected one is not (the range of doubles, not the rule, fails there). The relative
   * difference is max |a - b| / max(1, max |b|); a not finite expected value at an unscaled point
   * is an infinite difference.
   */
  static Numeric numeric(ModuleSpec m, Expr expected, Expr derived, long seed) {
    Random rng = new Random(seed);
    double worst = 0;
    Map<String, Long> worstDims = null;
    int compared = 0;
    for (int p = 0; p < POINTS; p++) {
      Map<String, Long> dims = SpecCheck.randomDims(m, rng);
      Map<String, Tensor> values = new LinkedHashMap<>(SpecCheck.randomValues(m, dims, rng));
      boolean scaled = p % 2 == 1 && scale(m, values, dims, rng);
      if (!m.isLoss()) {
        Expr.Var dz = m.outputGradient(), hz = m.outputHessian();
        values.put(dz.name(), SpecCheck.random(rng, dz.shape(), dims));
        int n = (int) m.output().shape().numel().evaluate(dims);
        DMatrixRMaj h = DenseMath.randomSymmetric(n, rng);
        values.put(hz.name(), Tensor.fromDMatrix(h));
      }
      Tensor b = evaluate(derived, values, dims);
      if (b == null) continue;
      Tensor a = evaluate(expected, values, dims);
      double rel;
      if (a == null) {
        if (scaled) continue;
        rel = Double.POSITIVE_INFINITY;
      } else {
        double err = 0, size = 0;
        for (int i = 0; i < b.numel(); i++) {
          err = Math.max(err, Math.abs(a.at(i) - b.at(i)));
          size = Math.max(size, Math.abs(b.at(i)));
        }
        rel = err / Math.max(1, size);
      }
      compared++;
      if (worstDims == null || rel > worst) {
        worst = rel;
        worstDims = dims;
      }
    }
    return new Numeric(compared, worst, worstDims);
  }

  /** e at the point, or null where it is not finite (or its evaluation fails, as a singular inverse). */
  private static Tensor evaluate(Expr e, Map<String, Tensor> values, Map<String, Long> dims) {
    try {
      Tensor t = Evaluator.evaluate(e, values, dims);
      for (double x : t.data()) if (!Double.isFinite(x)) return null;
      return t;
    } catch (ArithmeticException ex) {
      return null;
    }
  }

  /**
   * Scales each variable of real, positive or spd domain of {@code values} (modified) by its own
   * factor, log-uniform in [MIN_SCALE, MAX_SCALE], drawn again up to 10 times while the forward
   * value is not finite; returns whether it scaled (else the values are left unscaled).
   */
  private static boolean scale(ModuleSpec m, Map<String, Tensor> values, Map<String, Long> dims, Random rng) {
    Map<String, Tensor> unscaled = new LinkedHashMap<>(values);
    for (int attempt = 0; attempt < 10; attempt++) {
      for (Expr.Var v : m.variables()) {
        Domain d = m.domain(v.name());
        if (v.role() == Expr.Role.INDEX || !(d == Domain.REAL || d == Domain.POSITIVE || d == Domain.SPD)) continue;
        double f = Math.exp(Math.log(MIN_SCALE) + rng.nextDouble() * (Math.log(MAX_SCALE) - Math.log(MIN_SCALE)));
        Tensor t = unscaled.get(v.name());
        double[] src = t.data();
        Tensor out = Tensor.zeros(t.shape());
        for (int i = 0; i < src.length; i++) out.data()[i] = f * src[i];
        values.put(v.name(), out);
      }
      if (NonFinite.finiteAt(m.outputExpr(), values, dims)) return true;
    }
    values.putAll(unscaled);
    return false;
  }
}
