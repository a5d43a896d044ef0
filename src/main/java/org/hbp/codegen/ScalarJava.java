package org.hbp.codegen;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import org.hbp.calculus.ElementwiseFunction;
import org.hbp.calculus.Expr;
import org.hbp.calculus.Exprs;
import org.hbp.calculus.Printer;
import org.hbp.calculus.Shape;

/**
 * Prints a scalar formula in the variable {@code t} (an elementwise function's body or derivative)
 * as a Java {@code double} expression, or as an OpenCL C expression of type {@code REAL} (for the
 * kernels of device backends, see {@code org.hbp.backend.ScalarFunction}). Elementwise calls become
 * calls of the generated static methods (Java) or of their C twins {@code <prefix><method>}; the
 * generated methods a formula calls are recorded in {@link #calls()}.
 */
final class ScalarJava {
  /** The variable of a derivative written in the function's value, {@code u = f(t)}. */
  static final Expr.Var U = new Expr.Var("u", Shape.SCALAR, Expr.Role.FREE);

  private final Lowering.Context ctx;
  /** Null for Java; the prefix of the C names of generated functions for OpenCL C. */
  private final String openClPrefix;
  private final LinkedHashSet<String> calls = new LinkedHashSet<>();

  ScalarJava(Lowering.Context ctx) {
    this(ctx, null);
  }

  private ScalarJava(Lowering.Context ctx, String openClPrefix) {
    this.ctx = ctx;
    this.openClPrefix = openClPrefix;
  }

  /** A printer of OpenCL C, calling generated functions as {@code prefix + method}. */
  static ScalarJava openCl(Lowering.Context ctx, String prefix) {
    return new ScalarJava(ctx, prefix);
  }

  /** The generated methods called by what was printed so far, in order of first call. */
  List<String> calls() {
    return List.copyOf(calls);
  }

  private String literal(double v) {
    String l = Names.literal(v);
    return openClPrefix == null ? l : "((REAL) " + l + ")";
  }

  String print(Expr e) {
    if (e instanceof Expr.Var v) {
      if (v.equals(ElementwiseFunction.T)) return "t";
      if (v.equals(U)) return "u";
      throw new CodegenException("the scalar formula refers to '" + v.name() + "'; only t (or u, a function's value) is allowed");
    }
    if (e instanceof Expr.Num n) return n.value() < 0 ? "(" + literal(n.value()) + ")" : literal(n.value());
    if (e instanceof Expr.Ones) return literal(1);
    if (e instanceof Expr.Zero) return literal(0);
    if (e instanceof Expr.Eye) return literal(1);
    if (e instanceof Expr.Add a) {
      StringBuilder sb = new StringBuilder("(").append(print(a.terms().get(0)));
      for (Expr t : a.terms().subList(1, a.terms().size())) {
        if (t instanceof Expr.Scale s && s.coefficient() < 0) {
          sb.append(" - ").append(s.coefficient() == -1 ? print(s.operand()) : print(new Expr.Scale(-s.coefficient(), s.operand())));
        } else if (t instanceof Expr.Num n && n.value() < 0) {
          sb.append(" - ").append(literal(-n.value()));
        } else {
          sb.append(" + ").append(print(t));
        }
      }
      return sb.append(")").toString();
    }
    if (e instanceof Expr.Scale s) {
      if (s.coefficient() == -1) return "(-" + print(s.operand()) + ")";
      return "(" + literal(s.coefficient()) + " * " + print(s.operand()) + ")";
    }
    if (e instanceof Expr.ScalarMul s) return "(" + print(s.scalar()) + " * " + print(s.operand()) + ")";
    if (e instanceof Expr.Hadamard h) return join(h.factors(), " * ");
    if (e instanceof Expr.MatMul m) return join(m.factors(), " * ");
    if (e instanceof Expr.Power p) {
      String b = print(p.base());
      if (p.exponent() == 1) return b;
      if (p.exponent() == 2) return "(" + b + " * " + b + ")";
      if (p.exponent() == -1) return "(" + literal(1) + " / " + b + ")";
      String math = openClPrefix == null ? "Math." : "";
      if (p.exponent() == 0.5) return math + "sqrt(" + b + ")";
      return math + "pow(" + b + ", " + literal(p.exponent()) + ")";
    }
    if (e instanceof Expr.Max || e instanceof Expr.Min) {
      List<Expr> c = Exprs.children(e);
      String f = (openClPrefix == null ? "Math." : "f") + (e instanceof Expr.Max ? "max(" : "min(");
      return f + print(c.get(0)) + ", " + print(c.get(1)) + ")";
    }
    if (e instanceof Expr.Apply a) {
      String method = ctx.function(a.function(), a.order()); // a generated static method of the class
      calls.add(method);
      return (openClPrefix == null ? method : openClPrefix + method) + "(" + print(a.argument()) + ")";
    }
    if (e instanceof Expr.Transpose || e instanceof Expr.Vec || e instanceof Expr.Reshape || e instanceof Expr.DiagMat
        || e instanceof Expr.DiagVec || e instanceof Expr.Trace || e instanceof Expr.Sum)
      return print(Exprs.children(e).get(0));
    throw new CodegenException("cannot print '" + Printer.text(e) + "' (" + e.getClass().getSimpleName() + ") as a scalar Java expression");
  }

  private String join(List<Expr> es, String op) {
    List<String> parts = new ArrayList<>();
    for (Expr x : es) parts.add(print(x));
    return "(" + String.join(op, parts) + ")";
  }
}
