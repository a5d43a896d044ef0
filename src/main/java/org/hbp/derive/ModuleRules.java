package org.hbp.derive;

import java.util.ArrayList;
import java.util.List;
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
 * For a loss: the gradient, the Hessian and whether it is PSD.
 */
public final class ModuleRules {
  private ModuleRules() {}

  public static List<Derivation> derive(ModuleSpec m) {
    List<Derivation> out = new ArrayList<>();
    Simplifier s = m.simplifier();
    if (m.isLoss()) {
      for (Expr.Var x : m.withRole(Expr.Role.INPUT)) {
        Expr g = Calculus.gradient(m.outputExpr(), x, s);
        Expr h = Calculus.hessian(m.outputExpr(), x, s);
        Expr gc = ClosedForm.expand(g, s), hc = ClosedForm.expand(h, s);
        out.add(new Derivation(m.name(), true, x, m.output(), null, null, null, null, gc, hc, PsdCheck.decide(hc),
            null, null, null));
      }
      return out;
    }
    Expr z = m.outputExpr();
    Expr.Var dz = m.outputGradient(), hz = m.outputHessian();
    Expr g = Exprs.mul(Exprs.transpose(vecOf(dz)), vecOf(z));
    for (Expr.Var w : m.differentiable()) {
      Expr j = Calculus.jacobian(z, w, s);
      Expr r = Calculus.hessian(g, w, s);
      Expr hbp = s.run(Exprs.add(Exprs.mul(Exprs.transpose(j), hz, j), r));
      Expr jc = ClosedForm.expand(j, s), rc = ClosedForm.expand(r, s), hc = ClosedForm.expand(hbp, s);
      out.add(new Derivation(m.name(), false, w, m.output(), jc, rc, hc, ResidualKinds.of(rc), null, null, null, j, r, hbp));
    }
    return out;
  }

  private static Expr vecOf(Expr e) {
    return e.shape().isColumn() ? e : new Expr.Vec(e);
  }
}
