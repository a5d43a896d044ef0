package org.hbp.dsl;

import java.util.ArrayList;
import java.util.List;
import org.hbp.calculus.Dim;
import org.hbp.calculus.Expr;
import org.hbp.calculus.Shape;
import org.hbp.calculus.Simplifier;

/**
 * A checked {@code module} or {@code loss} declaration: its dims, its variables by role, its
 * output expression in the typed IR, and (for losses) its assumptions as rewrites.
 */
public record ModuleSpec(
    String name,
    boolean isLoss,
    String source,
    int line,
    List<Dim> dims,
    java.util.Map<String, Dim> derivedDims,
    List<Expr.Var> variables,
    Expr.Var output,
    Expr outputExpr,
    List<Simplifier.Rewrite> assumptions) {

  public List<Expr.Var> withRole(Expr.Role role) {
    List<Expr.Var> out = new ArrayList<>();
    for (Expr.Var v : variables) if (v.role() == role) out.add(v);
    return out;
  }

  /** The inputs followed by the parameters: what HBP rules are derived for. */
  public List<Expr.Var> differentiable() {
    List<Expr.Var> out = new ArrayList<>(withRole(Expr.Role.INPUT));
    out.addAll(withRole(Expr.Role.PARAM));
    return out;
  }

  /** {@code dz}: the gradient flowing back into the output, shaped like the output. */
  public Expr.Var outputGradient() {
    return new Expr.Var("d" + output.name(), output.shape(), Expr.Role.GRADIENT);
  }

  /** {@code Hz}: the Hessian flowing back, numel(z) x numel(z), symmetric. */
  public Expr.Var outputHessian() {
    Dim n = output.shape().numel();
    return new Expr.Var("H" + output.name(), Shape.matrix(n, n), Expr.Role.HESSIAN);
  }

  /**
   * Names to print dims by: each derived dim, and the product of any two (the patch count
   * oh*ow of a convolution), found on lookup ({@link org.hbp.calculus.DimNames}).
   */
  public java.util.Map<Dim, String> dimNames() {
    return new org.hbp.calculus.DimNames(derivedDims);
  }

  public Simplifier simplifier() {
    return new Simplifier(assumptions);
  }
}
