package org.hbp.derive;

import org.hbp.calculus.Expr;
import org.hbp.calculus.Exprs;
import org.hbp.calculus.Printer;
import org.hbp.calculus.Simplifier;

/** Writes derivatives of elementwise functions (f'(x), f''(x)) out in closed form. */
public final class ClosedForm {
  private ClosedForm() {}

  public static Expr expand(Expr e, Simplifier s) {
    // derivative formulas may mention derivatives of other functions (swish' uses sigmoid'): repeat
    for (int depth = 0; depth < 32; depth++) {
      Expr out = Exprs.transformUp(e, x -> x instanceof Expr.Apply a && a.order() > 0
          ? a.function().derivativeOf(a.order(), a.argument()) : x);
      if (out.equals(e)) return s.run(e);
      e = out;
    }
    throw new IllegalStateException("derivative formulas nest more than 32 levels deep: " + Printer.text(e));
  }
}
