package org.hbp.derive;

import java.util.Objects;
import org.hbp.calculus.Expr;

/**
 * The rules of a loss E for one input x, canonical and in closed form: {@code gradient} = dE/dx,
 * {@code hessian} = d²E/dx dx', and whether the Hessian is positive semi-definite.
 */
public record LossRule(String module, Expr.Var wrt, Expr.Var output, Expr gradient, Expr hessian, Psd psd) implements Derivation {

  /** Whether a loss Hessian is positive semi-definite (null: not proven), and how that was decided. */
  public record Psd(Boolean value, String reason) {
    public Psd {
      Objects.requireNonNull(reason, "reason");
    }
  }

  public LossRule {
    Objects.requireNonNull(module, "module");
    Objects.requireNonNull(wrt, "wrt");
    Objects.requireNonNull(output, "output");
    Objects.requireNonNull(gradient, "gradient");
    Objects.requireNonNull(hessian, "hessian");
    Objects.requireNonNull(psd, "psd");
  }

  @Override
  public Expr curvature() {
    return hessian;
  }

  @Override
  public Expr curvatureCompact() {
    return hessian;
  }
}
