package org.hbp.derive;

import java.util.Objects;
import java.util.Optional;
import org.hbp.calculus.Expr;

/**
 * The rules of a loss E for one input x, canonical and in closed form: {@code gradient} = dE/dx,
 * {@code hessian} = d²E/dx dx', whether the Hessian is positive semi-definite, and where it is
 * proven so, a symbolic factor {@code H = S S'} ({@link LossFactor}, {@link Factorization}).
 */
public record LossRule(String module, Expr.Var wrt, Expr.Var output, Expr gradient, Expr hessian, Psd psd, Optional<LossFactor> factor)
    implements Derivation {

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
    Objects.requireNonNull(factor, "factor");
  }

  /** A rule without a factor. */
  public LossRule(String module, Expr.Var wrt, Expr.Var output, Expr gradient, Expr hessian, Psd psd) {
    this(module, wrt, output, gradient, hessian, psd, Optional.empty());
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
