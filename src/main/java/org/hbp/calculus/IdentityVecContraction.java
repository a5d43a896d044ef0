package org.hbp.calculus;

import java.util.ArrayList;
import java.util.List;

/**
 * Contracts the {@code vec(eye(n))} of a second derivative against the gradient it is weighted
 * with, so that no product of the residual forms the n^2-fold objects {@code kron(vec(eye(n)), C)}.
 *
 * <p>Where X occurs twice in a product (the scores {@code X'*A*X} of attention), the second
 * differential of {@code vec(J)} brings in {@code kron(vec(eye(n)), C)} or {@code kron(C,
 * vec(eye(n)))}, a permutation {@code kron(kron(eye, K), eye)} that lines its axes up, and the
 * gradient row {@code w' = vec(G)'} that contracts them. With {@code C} of (n_s*e) rows, read as
 * U = reshape(C*v, e, n_s), and Pi any matrix of n*e columns (eye, a commutation, or what the
 * mixed-product rule moved into the Kronecker product), index bookkeeping gives
 * <pre>
 *   kron(w', Pi) * kron(kron(eye(n), K(n_s, n)), eye(e)) * kron(vec(eye(n)), C)
 *       = Pi * kron(G', eye(e)) * C,                      G = reshape(w, n_s, n)   (vec(U*G))
 *   kron(w', Pi) * kron(kron(eye(n_s), K(n, e)), eye(n)) * kron(C, vec(eye(n)))
 *       = Pi * K(e, n) * kron(G, eye(e)) * C,             G = reshape(w, n, n_s)   (vec(G*U'))
 * </pre>
 * and, for the diagonal of an elementwise function's second derivative ({@code diagonalizer(n)*Y}
 * with diagonalizer(n) v = vec(diag(v)), B of (e1*e2) rows, W = reshape(w, e2, n)): column a of the
 * result is reshape(B*V*Y'(:, a), e1, e2) * W(:, a), i.e.
 * <pre>
 *   kron(w', Pi) * kron(kron(eye(n), K(e2, n)), eye(e1)) * kron(diagonalizer(n)*Y, B)
 *       = Pi * kron(eye(n), kron(ones(1, e2), eye(e1))) * diag(vec(ones(e1)*w')) * kron(Y, B)
 * </pre>
 * (vec(ones(e1)*w') = vec(kron(W, ones(e1))): the weights repeated, without forming a Kronecker
 * product). (K(m, n) the commutation matrix, K(m, n) vec(A) = vec(A') for A m x n). The right-hand sides
 * are Kronecker products of small factors that the mixed-product rule merges with C, e.g. {@code
 * kron(G', B)} for {@code C = kron(eye(n), B)}: the residual {@code kron(G, A) + kron(G', A')} of
 * {@code tr(G' dX' A dX)}, which the generated code applies as {@code A*V*G'}.
 */
final class IdentityVecContraction {
  private IdentityVecContraction() {}

  static void register(List<Simplifier.Rewrite> all) {
    all.add(new Simplifier.Rewrite("contract-vec-eye",
        "kron(w', P) kron(kron(I_n, K(s,n)), I_e) kron(vec(I_n), C) = P kron(G', I_e) C, G = reshape(w, s, n); "
            + "kron(w', P) kron(kron(I_s, K(n,e)), I_n) kron(C, vec(I_n)) = P K(e,n) kron(G, I_e) C, G = reshape(w, n, s); "
            + "kron(w', P) kron(kron(I_n, K(f,n)), I_e) kron(diagonalizer(n) Y, B) = P kron(I_n, kron(ones(1,f), I_e)) diag(vec(ones(e) w')) kron(Y, B)",
        e -> e instanceof Expr.MatMul m ? contract(m) : e));
  }

  /** The first triple of adjacent factors that one of the three identities contracts, contracted; else m. */
  static Expr contract(Expr.MatMul m) {
    List<Expr> f = factors(m);
    for (int i = 0; i + 2 < f.size(); i++) {
      Expr r = triple(f.get(i), f.get(i + 1), f.get(i + 2));
      if (r != null) {
        List<Expr> out = new ArrayList<>(f.subList(0, i));
        out.add(r);
        out.addAll(f.subList(i + 3, f.size()));
        return Rewrites.product(out);
      }
    }
    return m;
  }

  /** The factors of a product, nested products flattened (associativity). */
  private static List<Expr> factors(Expr.MatMul m) {
    List<Expr> out = new ArrayList<>();
    for (Expr f : m.factors()) {
      if (f instanceof Expr.MatMul inner) out.addAll(factors(inner));
      else out.add(f);
    }
    return out;
  }

  private static Expr triple(Expr left, Expr permutation, Expr right) {
    if (!(left instanceof Expr.Kron l) || !l.left().shape().rows().isOne()) return null;
    if (!(permutation instanceof Expr.Kron p && p.left() instanceof Expr.Kron inner && inner.left() instanceof Expr.Eye outer
        && inner.right() instanceof Expr.Commutation k && p.right() instanceof Expr.Eye last))
      return null;
    if (!(right instanceof Expr.Kron r)) return null;
    Expr w = Exprs.transpose(l.left()), pi = l.right();
    Dim pw = w.shape().rows();
    Dim n = vecEyeSize(r.left());
    if (n != null) { // kron(vec(I_n), C): outer = n, k = K(s, n), last = e
      Dim s = k.m(), e = last.n();
      Expr c = r.right();
      if (!outer.n().equals(n) || !k.n().equals(n) || !c.shape().rows().equals(s.times(e)) || !pw.equals(s.times(n))
          || !pi.shape().cols().equals(n.times(e)))
        return null;
      Expr g = new Expr.Reshape(w, Shape.matrix(s, n));
      return times(pi, Exprs.mul(Exprs.kron(Exprs.transpose(g), Exprs.eye(e)), c));
    }
    Expr.Diagonalizer dg = diagonalizerOf(r.left());
    if (dg != null) { // kron(diagonalizer(n)*Y, B): outer = n, k = K(e2, n), last = e1
      Dim nn = dg.n(), e2 = k.m(), e1 = last.n();
      Expr b = r.right();
      if (!outer.n().equals(nn) || !k.n().equals(nn) || !b.shape().rows().equals(e1.times(e2)) || !pw.equals(nn.times(e2))
          || !pi.shape().cols().equals(nn.times(e1)))
        return null;
      Expr y = r.left() instanceof Expr.MatMul m ? Rewrites.product(factors(m).subList(1, factors(m).size())) : Exprs.eye(nn);
      Expr sumGroups = Exprs.kron(Exprs.eye(nn), Exprs.kron(new Expr.Ones(Shape.matrix(Dim.ONE, e2)), Exprs.eye(e1)));
      Expr weights = new Expr.DiagMat(new Expr.Vec(Exprs.mul(new Expr.Ones(Shape.vector(e1)), Exprs.transpose(w))));
      return times(pi, Exprs.mul(sumGroups, Exprs.mul(weights, Exprs.kron(y, b))));
    }
    n = vecEyeSize(r.right());
    if (n != null) { // kron(C, vec(I_n)): outer = s, k = K(n, e), last = n
      Dim s = outer.n(), e = k.n();
      Expr c = r.left();
      if (!k.m().equals(n) || !last.n().equals(n) || !c.shape().rows().equals(s.times(e)) || !pw.equals(n.times(s))
          || !pi.shape().cols().equals(n.times(e)))
        return null;
      Expr g = new Expr.Reshape(w, Shape.matrix(n, s));
      return times(pi, Exprs.mul(new Expr.Commutation(e, n), Exprs.mul(Exprs.kron(g, Exprs.eye(e)), c)));
    }
    return null;
  }

  /** Pi * M, with Pi = eye left out. */
  private static Expr times(Expr pi, Expr m) {
    return pi instanceof Expr.Eye ? m : Exprs.mul(pi, m);
  }

  /** The diagonalizer when e is {@code diagonalizer(n)} or a product that starts with it, else null. */
  private static Expr.Diagonalizer diagonalizerOf(Expr e) {
    if (e instanceof Expr.Diagonalizer d) return d;
    if (e instanceof Expr.MatMul m && factors(m).get(0) instanceof Expr.Diagonalizer d) return d;
    return null;
  }

  /** n when e is {@code vec(eye(n))}, else null. */
  private static Dim vecEyeSize(Expr e) {
    return e instanceof Expr.Vec v && v.operand() instanceof Expr.Eye i ? i.n() : null;
  }
}
