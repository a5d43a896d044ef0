package org.hbp.verify;

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
import org.hbp.dsl.Dsl;
import org.hbp.dsl.DslException;
import org.hbp.dsl.ModuleSpec;
import org.hbp.dsl.Spec;

/**
 * Decides whether a rule derived by hand equals hbp's: {@code x: W'*Hz*W} states the HBP rule of
 * input or parameter x of a module (the Hessian for a loss). Both sides are brought to canonical
 * form by the simplifier; equal forms decide "equal". Otherwise a randomized identity test
 * evaluates both at random shapes and points (with random dz and symmetric Hz) and decides.
 */
public final class ExpectCheck {
  private ExpectCheck() {}

  /** Relative difference below which two exact fp64 evaluations count as the same number. */
  public static final double IDENTITY_TOL = 1e-9;

  /** Random points of the numeric identity test. */
  public static final int POINTS = 5;

  public enum DecidedBy {
    CANONICAL_FORMS, NUMERIC_IDENTITY
  }

  public record Result(String module, String wrt, String expected, String derived, boolean equal, DecidedBy decidedBy,
      double maxRelDiff, Map<String, Long> counterexampleDims) {
    public String describe() {
      String head = module + " " + wrt + ": expected " + expected + (equal ? " equals " : " DIFFERS from ") + "derived " + derived;
      if (decidedBy == DecidedBy.CANONICAL_FORMS) return head + " (decided by canonical forms: they are identical)";
      return head + String.format(" (decided by a randomized numeric identity test at %d random points: canonical forms differ; max relative "
          + "difference %.1e%s)", POINTS, maxRelDiff, equal ? "" : " at dims " + counterexampleDims);
    }
  }

  /**
   * Checks one expectation {@code NAME: EXPR} against module m of spec.
   *
   * @param source how errors name the expectation (e.g. {@code --expect})
   */
  public static Result check(Spec spec, ModuleSpec m, String expectation, String source, long seed) {
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
    Simplifier s = m.simplifier();
    Expr canonical = ClosedForm.expand(s.run(expected), s);
    String derivedText = Printer.text(d.curvatureCompact(), m.dimNames());
    String expectedText = text.trim();
    if (canonical.equals(derived) || canonical.equals(ClosedForm.expand(s.run(d.curvatureCompact()), s)))
      return new Result(m.name(), wrt, expectedText, derivedText, true, DecidedBy.CANONICAL_FORMS, 0, null);
    Random rng = new Random(seed);
    double worst = 0;
    Map<String, Long> worstDims = null;
    for (int p = 0; p < POINTS; p++) {
      Map<String, Long> dims = SpecCheck.randomDims(m, rng);
      Map<String, Tensor> values = new LinkedHashMap<>(SpecCheck.randomValues(m, dims, rng));
      if (!m.isLoss()) {
        Expr.Var dz = m.outputGradient(), hz = m.outputHessian();
        values.put(dz.name(), SpecCheck.random(rng, dz.shape(), dims));
        int n = (int) m.output().shape().numel().evaluate(dims);
        DMatrixRMaj h = DenseMath.randomSymmetric(n, rng);
        values.put(hz.name(), Tensor.fromDMatrix(h));
      }
      Tensor a = Evaluator.evaluate(expected, values, dims), b = Evaluator.evaluate(derived, values, dims);
      double err = 0, scale = 0;
      for (int i = 0; i < b.numel(); i++) {
        err = Math.max(err, Math.abs(a.at(i) - b.at(i)));
        scale = Math.max(scale, Math.abs(b.at(i)));
      }
      double rel = Double.isNaN(err) ? Double.POSITIVE_INFINITY : err / Math.max(1, scale);
      if (worstDims == null || rel > worst) {
        worst = rel;
        worstDims = dims;
      }
    }
    return new Result(m.name(), wrt, expectedText, derivedText, worst <= IDENTITY_TOL, DecidedBy.NUMERIC_IDENTITY, worst, worstDims);
  }
}
