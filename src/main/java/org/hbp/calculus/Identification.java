package org.hbp.calculus;

import static org.hbp.calculus.Exprs.kron;
import static org.hbp.calculus.Exprs.mul;
import static org.hbp.calculus.Exprs.transpose;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * First identification theorem: given an expression L linear in a differential dX, find the
 * matrix A with vec(L) = A vec(dX); A is the Jacobian, {@code numel(L) x numel(X)}, column-major vec
 * on both sides. One rule per node type in the {@link NodeTable} {@link #RULES} (constants and
 * nonlinear nodes excluded there, with the reason):
 * <ul>
 *   <li>vec(A L B) = (B' (x) A) vec(L)</li>
 *   <li>vec(L') = commutation(m,n) vec(L) for L of m x n</li>
 *   <li>vec(a .* L) = diag(vec(a)) vec(L)</li>
 *   <li>vec(s A) with s linear: vec(A) s; tr(L) = vec(I)' vec(L); sum(L) = ones' vec(L)</li>
 *   <li>diag(l) = diagonalizer(n) l; diag(L) = diagonalizer(n)' vec(L)</li>
 *   <li>vec(L (x) B) = (I_n (x) K_qm (x) I_p)(I_mn (x) vec B) vec(L), and similarly for A (x) L</li>
 *   <li>unfold(L) = unfolding(..) vec(L); gather(L, idx) = selection(idx, n) vec(L)</li>
 * </ul>
 */
public final class Identification {
  private final Expr.Var dx;

  private Identification(Expr.Var dx) {
    this.dx = dx;
  }

  /** The matrix A with vec(linear) = A vec(dx). */
  public static Expr jacobian(Expr linear, Expr.Var dx) {
    return new Identification(dx).j(linear);
  }

  Expr j(Expr e) {
    Dim rows = e.shape().numel(), cols = dx.shape().numel();
    if (e.equals(dx)) return new Expr.Eye(cols);
    if (!Exprs.contains(e, dx)) {
      if (Exprs.isZero(e)) return new Expr.Zero(Shape.matrix(rows, cols));
      throw new IllegalStateException("a term of a differential does not contain " + dx.name() + ": " + Printer.text(e));
    }
    if (!RULES.handles(e)) throw new IllegalStateException("no identification rule for node " + e.getClass().getSimpleName()
        + " (the differential is not linear in " + dx.name() + ")");
    return RULES.apply(e, this);
  }

  /** The node types the identification rules account for (constants and nonlinear nodes by exclusion). */
  public static Set<Class<? extends Expr>> nodeTypes() {
    return RULES.nodeTypes();
  }

  private static final NodeTable<Identification, Expr> RULES;

  private static Expr vecOf(Expr a) {
    return a.shape().isColumn() ? a : new Expr.Vec(a);
  }

  /** The single operand that contains dx (linear forms have exactly one per product). */
  private int linearIndex(List<Expr> factors, String what) {
    int found = -1;
    for (int i = 0; i < factors.size(); i++) {
      if (Exprs.contains(factors.get(i), dx)) {
        if (found >= 0) throw new IllegalStateException(what + " is not linear in " + dx.name());
        found = i;
      }
    }
    return found;
  }

  static {
    NodeTable.Builder<Identification, Expr> rules = NodeTable.builder("identification rule");
    rules.exclude("a variable: dX itself is answered before the lookup, any other variable is a constant term", Expr.Var.class);
    rules.exclude("a constant: j() answers a zero or rejects a constant term before the lookup", Expr.Num.class, Expr.DimValue.class,
        Expr.Zero.class, Expr.Ones.class, Expr.Eye.class, Expr.Commutation.class, Expr.Diagonalizer.class, Expr.Selection.class,
        Expr.Unfolding.class);
    rules.exclude("nonlinear: a differential never applies it to dX, so j() reports the form as not linear", Expr.Power.class,
        Expr.Apply.class, Expr.Softmax.class, Expr.LogSumExp.class, Expr.ColumnLogSumExp.class, Expr.Max.class, Expr.Min.class,
        Expr.Inv.class, Expr.Det.class);
    rules.on(Expr.Add.class, (e, id) -> {
      List<Expr> t = new ArrayList<>();
      for (Expr x : e.terms()) if (!Exprs.isZero(x)) t.add(id.j(x));
      return Exprs.add(t, Shape.matrix(e.shape().numel(), id.dx.shape().numel()));
    });
    rules.on(Expr.Scale.class, (e, id) -> Exprs.scale(e.coefficient(), id.j(e.operand())));
    rules.on(Expr.ScalarMul.class, (e, id) -> {
      if (Exprs.contains(e.scalar(), id.dx)) return mul(vecOf(e.operand()), id.j(e.scalar()));
      return Exprs.scalarMul(e.scalar(), id.j(e.operand()));
    });
    rules.on(Expr.MatMul.class, (e, id) -> {
      List<Expr> f = e.factors();
      int i = id.linearIndex(f, "a matrix product");
      Expr l = f.get(i);
      Expr left = i == 0 ? new Expr.Eye(l.shape().rows()) : (i == 1 ? f.get(0) : new Expr.MatMul(f.subList(0, i)));
      Expr right = i == f.size() - 1 ? new Expr.Eye(l.shape().cols())
          : (i == f.size() - 2 ? f.get(f.size() - 1) : new Expr.MatMul(f.subList(i + 1, f.size())));
      return mul(kron(transpose(right), left), id.j(l));
    });
    rules.on(Expr.Transpose.class, (e, id) -> {
      Shape s = e.operand().shape();
      return mul(new Expr.Commutation(s.rows(), s.cols()), id.j(e.operand()));
    });
    rules.on(Expr.Hadamard.class, (e, id) -> {
      List<Expr> f = e.factors();
      int i = id.linearIndex(f, "a Hadamard product");
      List<Expr> others = new ArrayList<>(f);
      others.remove(i);
      Expr a = others.size() == 1 ? others.get(0) : new Expr.Hadamard(others);
      return mul(new Expr.DiagMat(vecOf(a)), id.j(f.get(i)));
    });
    rules.on(Expr.Kron.class, (e, id) -> {
      Shape a = e.left().shape(), b = e.right().shape();
      Dim m = a.rows(), n = a.cols(), p = b.rows(), q = b.cols();
      Expr perm = kron(kron(new Expr.Eye(n), new Expr.Commutation(q, m)), new Expr.Eye(p));
      if (Exprs.contains(e.left(), id.dx)) {
        if (Exprs.contains(e.right(), id.dx)) throw new IllegalStateException("a Kronecker product is not linear in " + id.dx.name());
        return mul(perm, kron(new Expr.Eye(m.times(n)), vecOf(e.right())), id.j(e.left()));
      }
      return mul(perm, kron(vecOf(e.left()), new Expr.Eye(p.times(q))), id.j(e.right()));
    });
    rules.on(Expr.Vec.class, (e, id) -> id.j(e.operand()));
    rules.on(Expr.Reshape.class, (e, id) -> id.j(e.operand()));
    rules.on(Expr.DiagMat.class, (e, id) -> mul(new Expr.Diagonalizer(e.vector().shape().rows()), id.j(e.vector())));
    rules.on(Expr.DiagVec.class, (e, id) -> mul(transpose(new Expr.Diagonalizer(e.matrix().shape().rows())), id.j(e.matrix())));
    rules.on(Expr.Trace.class, (e, id) -> mul(transpose(new Expr.Vec(new Expr.Eye(e.matrix().shape().rows()))), id.j(e.matrix())));
    rules.on(Expr.Sum.class, (e, id) -> mul(transpose(new Expr.Ones(Shape.vector(e.operand().shape().numel()))), id.j(e.operand())));
    rules.on(Expr.Unfold.class, (e, id) -> mul(new Expr.Unfolding(e.geometry()), id.j(e.tensor())));
    rules.on(Expr.Gather.class, (e, id) -> mul(new Expr.Selection(e.index(), e.source().shape().numel()), id.j(e.source())));
    RULES = rules.build();
  }
}
