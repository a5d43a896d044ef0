package org.hbp.codegen;

import java.util.ArrayList;
import java.util.List;
import org.hbp.calculus.ElementwiseFunction;
import org.hbp.calculus.Expr;
import org.hbp.calculus.Printer;

/**
 * Prints a scalar formula in the variable {@code t} (an elementwise function's body or derivative)
 * as a Java {@code double} expression; elementwise calls become calls of generated static methods.
 */
final class ScalarJava {
  /** The variable of a derivative written in the function's value, {@code u = f(t)}. */
  static final Expr.Var U = new Expr.Var("u", org.hbp.calculus.Shape.SCALAR, Expr.Role.FREE);

  private final Lowering.Context ctx;

  ScalarJava(Lowering.Context ctx) {
    this.ctx = ctx;
  }

  String print(Expr e) {
    if (e instanceof Expr.Var v) {
      if (v.equals(ElementwiseFunction.T)) return "t";
      if (v.equals(U)) return "u";
      throw new CodegenException("the scalar formula refers to '" + v.name() + "'; only t (or u, a function's value) is allowed");
    }
    if (e instanceof Expr.Num n) return n.value() < 0 ? "(" + Names.literal(n.value()) + ")" : Names.literal(n.value());
    if (e instanceof Expr.Ones) return "1.0";
    if (e instanceof Expr.Zero) return "0.0";
    if (e instanceof Expr.Eye) return "1.0";
    if (e instanceof Expr.Add a) {
      StringBuilder sb = new StringBuilder("(").append(print(a.terms().get(0)));
      for (Expr t : a.terms().subList(1, a.terms().size())) {
        if (t instanceof Expr.Scale s && s.coefficient() < 0) {
          sb.append(" - ").append(s.coefficient() == -1 ? print(s.operand()) : print(new Expr.Scale(-s.coefficient(), s.operand())));
        } else if (t instanceof Expr.Num n && n.value() < 0) {
          sb.append(" - ").append(Names.literal(-n.value()));
        } else {
          sb.append(" + ").append(print(t));
        }
      }
      return sb.append(")").toString();
    }
    if (e instanceof Expr.Scale s) {
      if (s.coefficient() == -1) return "(-" + print(s.operand()) + ")";
      return "(" + Names.literal(s.coefficient()) + " * " + print(s.operand()) + ")";
    }
    if (e instanceof Expr.ScalarMul s) return "(" + print(s.scalar()) + " * " + print(s.operand()) + ")";
    if (e instanceof Expr.Hadamard h) return join(h.factors(), " * ");
    if (e instanceof Expr.MatMul m) return join(m.factors(), " * ");
    if (e instanceof Expr.Power p) {
      String b = print(p.base());
      if (p.exponent() == 1) return b;
      if (p.exponent() == 2) return "(" + b + " * " + b + ")";
      if (p.exponent() == -1) return "(1.0 / " + b + ")";
      if (p.exponent() == 0.5) return "Math.sqrt(" + b + ")";
      return "Math.pow(" + b + ", " + Names.literal(p.exponent()) + ")";
    }
    if (e instanceof Expr.Apply a) {
      String ref = ctx.function(a.function(), a.order()); // Class::method, called unqualified inside the class
      return ref.substring(ref.indexOf("::") + 2) + "(" + print(a.argument()) + ")";
    }
    if (e instanceof Expr.Transpose || e instanceof Expr.Vec || e instanceof Expr.Reshape || e instanceof Expr.DiagMat
        || e instanceof Expr.DiagVec || e instanceof Expr.Trace || e instanceof Expr.Sum)
      return print(org.hbp.calculus.Exprs.children(e).get(0));
    throw new CodegenException("cannot print '" + Printer.text(e) + "' (" + e.getClass().getSimpleName() + ") as a scalar Java expression");
  }

  private String join(List<Expr> es, String op) {
    List<String> parts = new ArrayList<>();
    for (Expr x : es) parts.add(print(x));
    return "(" + String.join(op, parts) + ")";
  }
}
