package org.hbp.verify;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.hbp.calculus.Evaluator;
import org.hbp.calculus.Expr;
import org.hbp.calculus.Exprs;
import org.hbp.calculus.Printer;
import org.hbp.calculus.Tensor;

/**
 * Where an expression is not finite at a point: the innermost subexpression that is not finite
 * although its operands are, what its operand did there ({@code an entry of x < 0}) and which
 * entries of the operand did it. Used by {@code hbp verify}'s random points ({@link Sampler}) and by
 * {@code hbp derive -e ... --at}.
 */
public final class NonFinite {
  private NonFinite() {}

  /** At most this many offending entries are listed. */
  static final int MAX_ENTRIES = 3;

  /** Whether e evaluates to finite entries only (an arithmetic failure, such as a singular inverse, is not finite). */
  public static boolean finiteAt(Expr e, Map<String, Tensor> values, Map<String, Long> dims) {
    try {
      for (double x : Evaluator.evaluate(e, values, dims).data()) if (!Double.isFinite(x)) return false;
      return true;
    } catch (ArithmeticException ex) {
      return false;
    }
  }

  /** The first subexpression of e, children first, that is not finite while all its children are; null when e is finite. */
  public static Expr innermost(Expr e, Map<String, Tensor> values, Map<String, Long> dims) {
    for (Expr c : Exprs.children(e)) {
      Expr inner = innermost(c, values, dims);
      if (inner != null) return inner;
    }
    return finiteAt(e, values, dims) ? null : e;
  }

  /** The operand whose values put e outside its domain (log, sqrt, a negative or fractional power), or null for another e. */
  static Expr operand(Expr e) {
    if (e instanceof Expr.Apply a && a.order() == 0 && (a.function().name().equals("log") || a.function().name().equals("sqrt")))
      return a.argument();
    if (e instanceof Expr.Power p && (p.exponent() < 0 || p.exponent() != Math.rint(p.exponent()))) return p.base();
    return null;
  }

  /** Whether value v of e's operand is outside e's domain. */
  private static boolean outside(Expr e, double v) {
    if (e instanceof Expr.Apply a) return a.function().name().equals("log") ? !(v > 0) : !(v >= 0);
    Expr.Power p = (Expr.Power) e;
    if (p.exponent() < 0 && v == 0) return true;
    return p.exponent() != Math.rint(p.exponent()) && !(v >= 0);
  }

  /** What an operand did where e is not finite, for the functions with a restricted domain ({@code an entry of x <= 0}), or null. */
  public static String why(Expr e) {
    if (e instanceof Expr.Apply a && a.order() == 0) {
      String arg = Printer.text(a.argument());
      String entry = a.argument().shape().isScalar() ? arg : "an entry of " + arg;
      return switch (a.function().name()) {
        case "log" -> entry + " <= 0";
        case "sqrt" -> entry + " < 0";
        default -> null;
      };
    }
    if (e instanceof Expr.Power p) {
      String base = Printer.text(p.base());
      String entry = p.base().shape().isScalar() ? base : "an entry of " + base;
      if (p.exponent() < 0) return entry + " = 0";
      if (p.exponent() != Math.rint(p.exponent())) return entry + " < 0";
    }
    if (e instanceof Expr.Inv i) return Printer.text(i.matrix()) + " is singular";
    return null;
  }

  /**
   * The entries of e's operand outside e's domain at the point, as {@code x[0] = -1} (flat index,
   * column-major; the first {@link #MAX_ENTRIES}, then how many more), or null when e has no such
   * operand or it cannot be evaluated.
   */
  public static String entries(Expr e, Map<String, Tensor> values, Map<String, Long> dims) {
    Expr arg = operand(e);
    if (arg == null) return null;
    double[] d;
    try {
      d = Evaluator.evaluate(arg, values, dims).data();
    } catch (ArithmeticException ex) {
      return null;
    }
    String name = arg instanceof Expr.Var ? Printer.text(arg) : "(" + Printer.text(arg) + ")";
    List<String> bad = new ArrayList<>();
    int more = 0;
    for (int i = 0; i < d.length; i++) {
      if (!outside(e, d[i])) continue;
      if (bad.size() < MAX_ENTRIES) bad.add((d.length == 1 && arg.shape().isScalar() ? name : name + "[" + i + "]") + " = " + d[i]);
      else more++;
    }
    if (bad.isEmpty()) return null;
    return String.join(", ", bad) + (more > 0 ? " and " + more + " more" : "");
  }
}
