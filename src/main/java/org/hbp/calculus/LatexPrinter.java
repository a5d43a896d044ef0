package org.hbp.calculus;

import java.util.stream.Collectors;

/** Prints the IR as LaTeX math (for papers and notebooks); {@code Hz} is \mathcal{H}z, {@code dz} is \delta z. */
public final class LatexPrinter {
  private LatexPrinter() {}

  public static String latex(Expr e) {
    return p(e);
  }

  private static String wrap(Expr e, int min) {
    String s = p(e);
    return Printer.precedence(e) < min ? "\\left(" + s + "\\right)" : s;
  }

  private static String name(Expr.Var v) {
    String n = v.name();
    String base = n.length() > 1 && n.matches("[A-Za-z]+[0-9]+") ? n.replaceAll("([0-9]+)$", "_{$1}") : n;
    if (v.role() == Expr.Role.HESSIAN) return "\\mathcal{H}" + base.substring(1);
    if (v.role() == Expr.Role.GRADIENT || v.role() == Expr.Role.DIFFERENTIAL) return "\\delta " + base.substring(1);
    return base.length() > 1 && !base.contains("_") ? "\\mathrm{" + base + "}" : base;
  }

  private static String p(Expr e) {
    if (e instanceof Expr.Var v) return name(v);
    if (e instanceof Expr.Num n) return Printer.number(n.value());
    if (e instanceof Expr.DimValue d) return d.dim().toStringAtomic();
    if (e instanceof Expr.Zero) return "0";
    if (e instanceof Expr.Ones o) return "\\mathbf{1}_{" + o.shape().numel() + "}";
    if (e instanceof Expr.Eye i) return "I_{" + i.n() + "}";
    if (e instanceof Expr.Commutation k) return "K_{" + k.m() + "," + k.n() + "}";
    if (e instanceof Expr.Diagonalizer d) return "D_{" + d.n() + "}";
    if (e instanceof Expr.Selection s) return "\\Pi_{" + s.index().name() + "}";
    if (e instanceof Expr.Unfolding) return "U";
    if (e instanceof Expr.Add a) {
      StringBuilder sb = new StringBuilder();
      for (int i = 0; i < a.terms().size(); i++) {
        Expr t = a.terms().get(i);
        if (i > 0 && t instanceof Expr.Scale s && s.coefficient() < 0) {
          sb.append(" - ").append(wrap(Exprs.scale(-s.coefficient(), s.operand()), 2));
        } else {
          if (i > 0) sb.append(" + ");
          sb.append(wrap(t, 2));
        }
      }
      return sb.toString();
    }
    if (e instanceof Expr.Scale s) return s.coefficient() == -1 ? "-" + wrap(s.operand(), 4) : Printer.number(s.coefficient()) + " " + wrap(s.operand(), 4);
    if (e instanceof Expr.ScalarMul m) return wrap(m.scalar(), 4) + " " + wrap(m.operand(), 4);
    if (e instanceof Expr.MatMul m) return m.factors().stream().map(f -> wrap(f, 4)).collect(Collectors.joining(" "));
    if (e instanceof Expr.Hadamard h) return h.factors().stream().map(f -> wrap(f, 4)).collect(Collectors.joining(h.shape().isScalar() ? " " : " \\odot "));
    if (e instanceof Expr.Transpose t) return wrap(t.operand(), 5) + "^{\\top}";
    if (e instanceof Expr.Power p) return wrap(p.base(), 5) + "^{" + (p.base().shape().isScalar() ? "" : "\\odot ") + Printer.number(p.exponent()) + "}";
    if (e instanceof Expr.Kron k) return wrap(k.left(), 4) + " \\otimes " + wrap(k.right(), 4);
    if (e instanceof Expr.Vec v) return "\\operatorname{vec}\\left(" + p(v.operand()) + "\\right)";
    if (e instanceof Expr.Reshape r) return "\\operatorname{reshape}\\left(" + p(r.operand()) + "\\right)";
    if (e instanceof Expr.DiagMat d) return "\\operatorname{diag}\\left(" + p(d.vector()) + "\\right)";
    if (e instanceof Expr.DiagVec d) return "\\operatorname{diag}\\left(" + p(d.matrix()) + "\\right)";
    if (e instanceof Expr.Trace t) return "\\operatorname{tr}\\left(" + p(t.matrix()) + "\\right)";
    if (e instanceof Expr.Sum s) return "\\operatorname{sum}\\left(" + p(s.operand()) + "\\right)";
    if (e instanceof Expr.Apply a) {
      String f = a.function().name().equals("sigmoid") ? "\\sigma" : "\\operatorname{" + a.function().name() + "}";
      return f + "'".repeat(a.order()) + "\\left(" + p(a.argument()) + "\\right)";
    }
    if (e instanceof Expr.Softmax s) return "\\operatorname{softmax}\\left(" + p(s.vector()) + "\\right)";
    if (e instanceof Expr.LogSumExp l) return "\\operatorname{logsumexp}\\left(" + p(l.operand()) + "\\right)";
    if (e instanceof Expr.Max m) return "\\max\\left(" + p(m.left()) + ", " + p(m.right()) + "\\right)";
    if (e instanceof Expr.Min m) return "\\min\\left(" + p(m.left()) + ", " + p(m.right()) + "\\right)";
    if (e instanceof Expr.ColumnLogSumExp l) return "\\operatorname{logsumexp}_{\\mathrm{cols}}\\left(" + p(l.matrix()) + "\\right)";
    if (e instanceof Expr.Inv i) return wrap(i.matrix(), 5) + "^{-1}";
    if (e instanceof Expr.Det d) return "\\det\\left(" + p(d.matrix()) + "\\right)";
    if (e instanceof Expr.Unfold u) return "[\\![" + p(u.tensor()) + "]\\!]";
    if (e instanceof Expr.Gather g) return "\\Pi_{" + g.index().name() + "} " + wrap(g.source(), 5);
    throw new IllegalArgumentException("no LaTeX for " + e.getClass().getSimpleName());
  }
}
