package org.hbp.derive;

import org.hbp.calculus.Expr;
import org.hbp.calculus.Exprs;
import org.hbp.calculus.Simplifier;

/** Writes derivatives of elementwise functions (f'(x), f''(x)) out in closed form. */
public final class ClosedForm {
  private ClosedForm() {}

  public static Expr expand(Expr e, Simplifier s) {
    Expr out = Exprs.transformUp(e, x -> x instanceof Expr.Apply a && a.order() > 0
        ? a.function().derivativeOf(a.order(), a.argument()) : x);
    return s.run(out);
  }
}
