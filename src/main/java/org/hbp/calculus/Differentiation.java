package org.hbp.calculus;

import static org.hbp.calculus.Exprs.add;
import static org.hbp.calculus.Exprs.hadamard;
import static org.hbp.calculus.Exprs.mul;
import static org.hbp.calculus.Exprs.neg;
import static org.hbp.calculus.Exprs.scalarMul;
import static org.hbp.calculus.Exprs.transpose;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.Function;

/**
 * First differentials by the Magnus-Neudecker rules: {@code d(e)} is an expression linear in the
 * differential {@code dX} of one variable X (with d^2 X = 0). One rule per node type, registered in
 * the {@link NodeTable} {@link #RULES} (constants by exclusion, with the reason); a node type without
 * a rule is an error that names it. Sub-expressions that do not contain X have a symbolic zero
 * differential and are skipped.
 */
public final class Differentiation {
  private final Expr.Var x;
  private final Expr.Var dx;

  private Differentiation(Expr.Var x, Expr.Var dx) {
    this.x = x;
    this.dx = dx;
  }

  /** d(e) with respect to x, linear in {@code dx}. */
  public static Expr differential(Expr e, Expr.Var x, Expr.Var dx) {
    return new Differentiation(x, dx).d(e);
  }

  /** The differential of a sub-expression. */
  Expr d(Expr e) {
    if (e.equals(x)) return dx;
    if (!Exprs.contains(e, x)) return new Expr.Zero(e.shape());
    return RULES.apply(e, this);
  }

  /** The node types the differentiation rules account for (constants by exclusion). */
  public static Set<Class<? extends Expr>> nodeTypes() {
    return RULES.nodeTypes();
  }

  private static final NodeTable<Differentiation, Expr> RULES;

  /** Linear operators: d op(U) = op(dU). */
  private static Expr linear(Expr node, Differentiation d) {
    List<Expr> c = Exprs.children(node);
    Expr dc = d.d(c.get(0));
    if (Exprs.isZero(dc)) return new Expr.Zero(node.shape());
    return Exprs.withChildren(node, List.of(dc));
  }

  /**
   * The product rule for a product of {@code factors} (matrix or entrywise), rebuilt by
   * {@code product}: d(U1 U2 ... Uk) = sum_i U1 .. dUi .. Uk, terms with a zero dUi left out.
   */
  private Expr productRule(Expr node, List<Expr> factors, Function<List<Expr>, Expr> product) {
    List<Expr> terms = new ArrayList<>();
    for (int i = 0; i < factors.size(); i++) {
      Expr di = d(factors.get(i));
      if (Exprs.isZero(di)) continue;
      List<Expr> f = new ArrayList<>(factors);
      f.set(i, di);
      terms.add(product.apply(f));
    }
    return add(terms, node.shape());
  }

  static {
    NodeTable.Builder<Differentiation, Expr> rules = NodeTable.builder("differentiation rule");
    rules.exclude("a constant: it contains no variable, so d() answers its zero differential before the lookup", Expr.Num.class,
        Expr.DimValue.class, Expr.Zero.class, Expr.Ones.class, Expr.Eye.class, Expr.Commutation.class, Expr.Diagonalizer.class,
        Expr.Selection.class, Expr.Unfolding.class);
    // the identity of a variable is handled in d(); any other variable is constant
    rules.on(Expr.Var.class, (e, d) -> new Expr.Zero(e.shape()));
    // d(U + V) = dU + dV
    rules.on(Expr.Add.class, (e, d) -> add(e.terms().stream().map(d::d).toList(), e.shape()));
    // d(cU) = c dU
    rules.on(Expr.Scale.class, (e, d) -> Exprs.scale(e.coefficient(), d.d(e.operand())));
    // d(sU) = ds U + s dU
    rules.on(Expr.ScalarMul.class, (e, d) -> add(scalarMul(d.d(e.scalar()), e.operand()), scalarMul(e.scalar(), d.d(e.operand()))));
    // d(U1 U2 ... Uk) = sum_i U1 .. dUi .. Uk
    rules.on(Expr.MatMul.class, (e, d) -> d.productRule(e, e.factors(), Expr.MatMul::new));
    // d(U') = (dU)'
    rules.on(Expr.Transpose.class, (e, d) -> transpose(d.d(e.operand())));
    // d(U .* V) = dU .* V + U .* dV
    rules.on(Expr.Hadamard.class, (e, d) -> d.productRule(e, e.factors(), Expr.Hadamard::new));
    // d(U.^p) = p U.^(p-1) .* dU
    rules.on(Expr.Power.class, (e, d) -> hadamard(Exprs.scale(e.exponent(), new Expr.Power(e.base(), e.exponent() - 1)), d.d(e.base())));
    // d(U (x) V) = dU (x) V + U (x) dV
    rules.on(Expr.Kron.class, (e, d) -> add(Exprs.kron(d.d(e.left()), e.right()), Exprs.kron(e.left(), d.d(e.right()))));
    // linear maps: vec, reshape, diag, tr, sum, unfold, gather
    rules.onEach(Differentiation::linear, Expr.Vec.class, Expr.Reshape.class, Expr.DiagMat.class, Expr.DiagVec.class, Expr.Trace.class,
        Expr.Sum.class, Expr.Unfold.class, Expr.Gather.class);
    // d f(U) = f'(U) .* dU   (entrywise)
    rules.on(Expr.Apply.class, (e, d) -> hadamard(new Expr.Apply(e.function(), e.order() + 1, e.argument()), d.d(e.argument())));
    // p = softmax(u): dp = p .* du - p (p' du)
    // P = softmax(U) column-wise, U m x n: dP = P .* dU - P .* (ones(m,m) * (P .* dU)), column j
    // being p_j .* du_j - p_j (p_j' du_j); its Jacobian is the block diagonal
    // diag(vec P) - diag(vec P) kron(eye(n), ones(m,m)) diag(vec P) = sum_j E_jj (x) (diag(p_j) - p_j p_j')
    rules.on(Expr.Softmax.class, (e, d) -> {
      Expr du = d.d(e.vector());
      if (e.shape().isColumn()) return add(hadamard(e, du), neg(mul(e, transpose(e), du)));
      Expr pdu = hadamard(e, du);
      Dim m = e.shape().rows();
      return add(pdu, neg(hadamard(e, mul(new Expr.Ones(Shape.matrix(m, m)), pdu))));
    });
    // d logsumexp(u) = softmax(u)' du  (over all entries: vec)
    rules.on(Expr.LogSumExp.class, (e, d) -> {
      Expr u = e.operand();
      Expr v = u.shape().isColumn() ? u : new Expr.Vec(u);
      Expr dv = u.shape().isColumn() ? d.d(u) : new Expr.Vec(d.d(u));
      return mul(transpose(new Expr.Softmax(v)), dv);
    });
    // l = logsumexp_cols(U), U m x n: dl = ones(m)' (softmax(U) .* dU), softmax column-wise
    rules.on(Expr.ColumnLogSumExp.class, (e, d) -> {
      Expr u = e.matrix();
      return mul(transpose(new Expr.Ones(Shape.vector(u.shape().rows()))), hadamard(new Expr.Softmax(u), d.d(u)));
    });
    // d max(A, B) = s .* dA + (1 - s) .* dB, d min(A, B) = (1 - s) .* dA + s .* dB, s = step(A - B) (a.e.)
    rules.on(Expr.Max.class, (e, d) -> {
      Expr s = Exprs.stepOfDifference(e.left(), e.right());
      return add(hadamard(s, d.d(e.left())), hadamard(Exprs.oneMinus(s), d.d(e.right())));
    });
    rules.on(Expr.Min.class, (e, d) -> {
      Expr s = Exprs.stepOfDifference(e.left(), e.right());
      return add(hadamard(Exprs.oneMinus(s), d.d(e.left())), hadamard(s, d.d(e.right())));
    });
    // d inv(U) = -inv(U) dU inv(U)
    rules.on(Expr.Inv.class, (e, d) -> neg(mul(e, d.d(e.matrix()), e)));
    // d det(U) = det(U) tr(inv(U) dU)
    rules.on(Expr.Det.class, (e, d) -> hadamard(e, new Expr.Trace(mul(new Expr.Inv(e.matrix()), d.d(e.matrix())))));
    RULES = rules.build();
  }
}
