package org.hbp.derive;

import java.util.Objects;
import org.hbp.calculus.Expr;
import org.hbp.runtime.ResidualKind;

/**
 * The HBP rules of a module for one input or parameter w (paper eq. 7): {@code jacobian} = Dz(w),
 * {@code residual} = sum_k dz_k Hz_k(w), {@code hbp} = Dz(w)' Hz Dz(w) + residual. Each is given
 * twice, canonical: in {@link #closedForm()} derivatives of elementwise functions are written out,
 * in {@link #compact()} they stay {@code f'(x)}, {@code f''(x)} (what the generated code computes).
 *
 * @param residualKind the structure of the residual (zero, diagonal, general)
 */
public record ModuleRule(String module, Expr.Var wrt, Expr.Var output, ResidualKind residualKind, Forms closedForm, Forms compact)
    implements Derivation {

  /** The three rules of one form. */
  public record Forms(Expr jacobian, Expr residual, Expr hbp) {
    public Forms {
      Objects.requireNonNull(jacobian, "jacobian");
      Objects.requireNonNull(residual, "residual");
      Objects.requireNonNull(hbp, "hbp");
    }
  }

  public ModuleRule {
    Objects.requireNonNull(module, "module");
    Objects.requireNonNull(wrt, "wrt");
    Objects.requireNonNull(output, "output");
    Objects.requireNonNull(residualKind, "residualKind");
    Objects.requireNonNull(closedForm, "closedForm");
    Objects.requireNonNull(compact, "compact");
  }

  @Override
  public Expr curvature() {
    return closedForm.hbp();
  }

  @Override
  public Expr curvatureCompact() {
    return compact.hbp();
  }
}
