package org.hbp.verify;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.hbp.calculus.Calculus;
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

  /**
   * A subexpression of the user's expression whose own derivative is not finite at a point where
   * its operands are: the node, the operand it is taken with respect to, the order (1: the
   * derivative, 2: the second derivative) and the operand's entries where it is not finite
   * ({@code x[0] = 0.0}; null when they cannot be told).
   */
  public record DerivativeCulprit(Expr node, Expr operand, int order, String entries) {}

  /** The name of the variable that stands for an operand in a node's own derivative (no DSL name has a space). */
  private static final String OPERAND = "operand of";

  /**
   * Where the derivative (order 1) or the second derivative (order 2) of f with respect to x is not
   * finite at the point although f is: the innermost subexpression of f whose own derivative (or,
   * for order 2, second derivative) with respect to an operand that depends on x is not finite
   * there, with that operand's offending entries ({@code sqrt(x)} at {@code x[0] = 0}); null when
   * no node's own derivative is. Subexpressions are visited children first, operands in order.
   */
  public static DerivativeCulprit derivative(Expr f, Expr.Var x, int order, Map<String, Tensor> values, Map<String, Long> dims) {
    List<Expr> children = Exprs.children(f);
    for (Expr c : children) {
      DerivativeCulprit inner = derivative(c, x, order, values, dims);
      if (inner != null) return inner;
    }
    for (int j = 0; j < children.size(); j++) {
      Expr c = children.get(j);
      if (!Exprs.variables(c).contains(x)) continue;
      Tensor cv;
      try {
        cv = Evaluator.evaluate(c, values, dims);
      } catch (ArithmeticException | IllegalArgumentException e) {
        continue;
      }
      boolean finite = true;
      for (double v : cv.data()) finite &= Double.isFinite(v);
      if (!finite) continue;
      Expr.Var t = new Expr.Var(OPERAND, c.shape(), Expr.Role.FREE);
      List<Expr> replaced = new ArrayList<>(children);
      replaced.set(j, t);
      Expr local = Exprs.withChildren(f, replaced);
      Map<String, Tensor> at = new HashMap<>(values);
      at.put(OPERAND, cv);
      for (int k = 1; k <= order; k++) {
        Expr d;
        try {
          d = k == 1 ? Calculus.jacobian(local, t) : Calculus.hessian(local.shape().isScalar() ? local : new Expr.Sum(local), t);
        } catch (RuntimeException e) { // a node the engine does not differentiate in this form: no verdict
          break;
        }
        Tensor dv;
        try {
          dv = Evaluator.evaluate(d, at, dims);
        } catch (ArithmeticException e) {
          return new DerivativeCulprit(f, c, k, null);
        }
        String entries = notFiniteColumns(c, cv, dv);
        if (entries != null) return new DerivativeCulprit(f, c, k, entries);
      }
    }
    return null;
  }

  /** The entries of operand c (value cv) whose columns of the derivative dv hold a non-finite entry, as {@code x[0] = 0.0}; null if none. */
  private static String notFiniteColumns(Expr c, Tensor cv, Tensor dv) {
    String name = c instanceof Expr.Var ? Printer.text(c) : "(" + Printer.text(c) + ")";
    List<String> bad = new ArrayList<>();
    int more = 0;
    double[] d = dv.data(); // numel(node) x numel(c) (a Jacobian) or numel(c) x numel(c) (a Hessian), column-major
    int cols = cv.data().length, rows = d.length / cols;
    for (int j = 0; j < cols; j++) {
      boolean finite = true;
      for (int i = 0; i < rows; i++) finite &= Double.isFinite(d[i + rows * j]);
      if (finite) continue;
      if (bad.size() < MAX_ENTRIES) bad.add((cv.data().length == 1 && c.shape().isScalar() ? name : name + "[" + j + "]") + " = " + cv.data()[j]);
      else more++;
    }
    if (bad.isEmpty()) return null;
    return String.join(", ", bad) + (more > 0 ? " and " + more + " more" : "");
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
