package org.hbp.codegen;

import java.util.ArrayList;
import java.util.List;
import org.hbp.calculus.Expr;
import org.hbp.calculus.Shape;

/**
 * The diagonal, as a column, of a matrix expression that is structurally diagonal (what
 * {@code ResidualKind.DIAGONAL} recognizes), by the identities
 * {@code diag(diag(v)) = v}, {@code diag(eye(n)) = ones(n)}, {@code diag(A + B) = diag(A) + diag(B)},
 * {@code diag(A B) = diag(A) .* diag(B)} (diagonal A, B) and
 * {@code diag(kron(A, B)) = vec(diag(B) diag(A)')}.
 */
final class DiagonalOf {
  private DiagonalOf() {}

  static Expr of(Expr e) {
    if (e instanceof Expr.DiagMat d) return d.vector();
    if (e instanceof Expr.Eye i) return new Expr.Ones(Shape.vector(i.n()));
    if (e instanceof Expr.Zero z) return new Expr.Zero(Shape.vector(z.shape().rows()));
    if (e.shape().isScalar()) return e;
    if (e instanceof Expr.Scale s) return new Expr.Scale(s.coefficient(), of(s.operand()));
    if (e instanceof Expr.ScalarMul s) return new Expr.ScalarMul(s.scalar(), of(s.operand()));
    if (e instanceof Expr.Add a) {
      List<Expr> terms = new ArrayList<>();
      for (Expr t : a.terms()) terms.add(of(t));
      return new Expr.Add(terms);
    }
    if (e instanceof Expr.MatMul m) {
      List<Expr> factors = new ArrayList<>();
      for (Expr f : m.factors()) factors.add(of(f));
      return new Expr.Hadamard(factors);
    }
    if (e instanceof Expr.Kron k) return new Expr.Vec(new Expr.MatMul(List.of(of(k.right()), new Expr.Transpose(of(k.left())))));
    throw new CodegenException("the residual is classified diagonal, but its diagonal cannot be read off " + e.getClass().getSimpleName());
  }
}
