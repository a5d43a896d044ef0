package org.hbp.derive;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.hbp.calculus.Calculus;
import org.hbp.calculus.Expr;
import org.hbp.calculus.Exprs;
import org.hbp.calculus.Simplifier;
import org.hbp.dsl.ModuleSpec;

/**
 * Derives the HBP rules of a module (paper eq. 7) from its forward expression alone:
 * <ul>
 *   <li>Jacobian Dz(w) by the first identification theorem;</li>
 *   <li>residual sum_k dz_k Hz_k(w) as the Hessian of g(w) = vec(dz)' vec(z(w)) with dz fixed;</li>
 *   <li>HBP rule Hw = Dz(w)' Hz Dz(w) + residual; the residual's kind (zero, diagonal, general).</li>
 * </ul>
 * For a loss: the gradient, the Hessian, whether it is PSD and, where proven, a factor H = S S'.
 */
public final class ModuleRules {
  private ModuleRules() {}

  /** The rules of a module ({@link ModuleRule}s) or of a loss ({@link LossRule}s), one per input or parameter. */
  public static List<Derivation> derive(ModuleSpec m) {
    return m.isLoss() ? List.copyOf(lossRules(m)) : List.copyOf(moduleRules(m));
  }

  /** A loss's gradient, Hessian and PSD verdict for each of its inputs. */
  public static List<LossRule> lossRules(ModuleSpec m) {
    if (!m.isLoss()) throw new IllegalArgumentException(m.name() + " is a module, not a loss");
    List<LossRule> out = new ArrayList<>();
    Simplifier s = m.simplifier();
    for (Expr.Var x : m.withRole(Expr.Role.INPUT)) {
      Expr g = Calculus.gradient(m.outputExpr(), x, s);
      Expr h = Calculus.hessian(m.outputExpr(), x, s);
      Expr gc = ClosedForm.expand(g, s), hc = ClosedForm.expand(h, s);
      LossRule.Psd psd = PsdCheck.decide(hc);
      if (psd.value() == null) psd = new LossRule.Psd(null, psd.reason() + sumHint(m, hc));
      Optional<LossFactor> factor = Boolean.TRUE.equals(psd.value()) ? Factorization.of(hc, s) : Optional.empty();
      out.add(new LossRule(m.name(), x, m.output(), gc, hc, psd, factor));
    }
    return out;
  }

  /**
   * For a Hessian not proven PSD that holds {@code sum(y)} of a vector target or data y of real
   * domain: which declaration would tell the prover that y sums to 1 (empty when there is none).
   */
  static String sumHint(ModuleSpec m, Expr h) {
    java.util.Set<String> names = new java.util.LinkedHashSet<>();
    Exprs.transformUp(h, e -> {
      if (e instanceof Expr.Sum s && s.operand() instanceof Expr.Var v && (v.role() == Expr.Role.TARGET || v.role() == Expr.Role.DATA)
          && v.shape().isColumn() && m.domain(v.name()) == org.hbp.dsl.Domain.REAL) names.add(v.name());
      return e;
    });
    if (names.isEmpty()) return "";
    String y = names.iterator().next();
    return "; the Hessian depends on sum(" + y + "): if " + y + " sums to 1 (class labels or probabilities), declare it onehot or probability "
        + "(e.g. 'target " + y + ": vector(c) onehot;') or write 'assume sum(" + y + ") == 1;'";
  }

  /** A module's Jacobian, residual and HBP rule for each differentiable variable (eq. 7). */
  public static List<ModuleRule> moduleRules(ModuleSpec m) {
    if (m.isLoss()) throw new IllegalArgumentException(m.name() + " is a loss, not a module");
    List<ModuleRule> out = new ArrayList<>();
    Simplifier s = m.simplifier();
    Expr z = m.outputExpr();
    Expr.Var dz = m.outputGradient(), hz = m.outputHessian();
    Expr g = Exprs.mul(Exprs.transpose(vecOf(dz)), vecOf(z));
    for (Expr.Var w : m.differentiable()) {
      Expr j = Calculus.jacobian(z, w, s);
      Expr r = Calculus.hessian(g, w, s);
      Expr hbp = s.run(Exprs.add(Exprs.mul(Exprs.transpose(j), hz, j), r));
      Expr jc = ClosedForm.expand(j, s), rc = ClosedForm.expand(r, s), hc = ClosedForm.expand(hbp, s);
      out.add(new ModuleRule(m.name(), w, m.output(), ResidualKinds.of(rc), new ModuleRule.Forms(jc, rc, hc),
          new ModuleRule.Forms(j, r, hbp)));
    }
    return out;
  }

  /**
   * The mixed residuals {@code sum_k dz_k d²z_k/(da db)} of a module for every ordered pair of
   * different differentiable variables (a, b), in the spec's order ({@link MixedResidual}).
   */
  public static List<MixedResidual> mixedResiduals(ModuleSpec m) {
    if (m.isLoss()) throw new IllegalArgumentException(m.name() + " is a loss, not a module");
    List<MixedResidual> out = new ArrayList<>();
    Simplifier s = m.simplifier();
    Expr g = Exprs.mul(Exprs.transpose(vecOf(m.outputGradient())), vecOf(m.outputExpr()));
    for (Expr.Var a : m.differentiable()) {
      Expr ga = Calculus.gradientVec(g, a, s);
      for (Expr.Var b : m.differentiable())
        if (!a.equals(b)) out.add(new MixedResidual(a, b, Calculus.jacobian(ga, b, s)));
    }
    return out;
  }

  private static Expr vecOf(Expr e) {
    return e.shape().isColumn() ? e : new Expr.Vec(e);
  }
}
