package org.hbp.codegen;

import static org.hbp.codegen.Lowering.isEye;
import static org.hbp.codegen.Lowering.sampleIndependent;
import static org.hbp.codegen.Lowering.structured;

import java.util.List;
import java.util.function.Function;
import org.hbp.calculus.Dim;
import org.hbp.calculus.Expr;
import org.hbp.codegen.program.Op;
import org.hbp.codegen.program.Value;

/**
 * Products with structured matrices, for {@link Lowering}: {@code M * v} evaluated right to left
 * so that structured factors are applied as maps and never formed: {@code kron(A, B)} by the vec
 * trick {@code kron(A,B) vec(X) = vec(B X A')}, {@code unfolding} by unfold (its transpose by
 * fold), {@code selection} by gather (scatter-add), {@code diag(d)} by a Hadamard product,
 * {@code commutation} by a transpose, {@code eye} not at all; and the dense products of values.
 */
final class StructuredProducts {
  private final Lowering l;
  private final Lowering.Context ctx;

  StructuredProducts(Lowering l) {
    this.l = l;
    this.ctx = l.ctx;
  }

  private Value emit(Op op, String comment) {
    return l.emit(op, comment);
  }

  private Value value(Expr e) {
    return l.valueOf(e);
  }

  /** An operand of a dense product: a value, possibly used transposed. */
  private record Operand(Expr expr, Value value, boolean transposed) {
    /** e as a value used transposed or not (nested transposes cancel). */
    static Operand of(Expr e) {
      boolean transposed = false;
      while (e instanceof Expr.Transpose t) {
        e = t.operand();
        transposed = !transposed;
      }
      return new Operand(e, null, transposed);
    }

    static Operand plain(Value v) {
      return new Operand(null, v, false);
    }
  }

  private Value mm(Operand a, Operand b, String comment) {
    Value an = a.value != null ? a.value : value(a.expr);
    Value bn = b.value != null ? b.value : value(b.expr);
    return emit(new Op.MatMul(an, a.transposed, bn, b.transposed), comment);
  }

  /** The value of a product: a convolution, a chain of dense products, or structured factors applied to a dense one. */
  Value matmulValue(Expr.MatMul m) {
    List<Expr> fs = m.factors();
    String text = ctx.notation().text(m);
    int k = fs.size();
    boolean anyStructured = fs.stream().anyMatch(Lowering::structured);
    if (k == 2 && convolution(Operand.of(fs.get(0)), Operand.of(fs.get(1)))) {
      Expr.Unfold u = (Expr.Unfold) Operand.of(fs.get(1)).expr();
      return emit(new Op.Convolution(value(fs.get(0)), value(u.tensor()), u.geometry(), null), text);
    }
    if (!anyStructured) {
      if (fs.get(k - 1).shape().cols().isOne()) {
        Operand acc = Operand.of(fs.get(k - 1));
        for (int i = k - 2; i >= 0; i--) acc = Operand.plain(mm(Operand.of(fs.get(i)), acc, i == 0 ? text : null));
        return acc.value;
      }
      Operand acc = Operand.of(fs.get(0));
      for (int i = 1; i < k; i++) acc = Operand.plain(mm(acc, Operand.of(fs.get(i)), i == k - 1 ? text : null));
      return acc.value;
    }
    Expr last = fs.get(k - 1);
    if (!structured(last) || k == 1) {
      Expr left = k == 2 ? fs.get(0) : new Expr.MatMul(fs.subList(0, k - 1));
      return applyMatrix(left, value(last), text);
    }
    Expr first = fs.get(0);
    if (!structured(first)) {
      Expr rest = k == 2 ? fs.get(1) : new Expr.MatMul(fs.subList(1, k));
      Value ft = emit(new Op.Transpose(value(first)), null);
      Value r = applyMatrix(new Expr.Transpose(rest), ft, null);
      return emit(new Op.Transpose(r), text);
    }
    throw new CodegenException("cannot compute the product '" + text + "' of structured matrices without forming one of them");
  }

  /**
   * Whether {@code op(l) * op(r)} is a convolution {@code W * unfold(X)} to hand to
   * {@code be.convolution}: r an unfold not computed yet, l a dense factor, neither transposed.
   * The unfolded matrix is then never formed by a backend with a direct convolution; where other
   * rules need it (a Kronecker factor, a per-sample Jacobian) they compute it themselves.
   */
  private boolean convolution(Operand left, Operand right) {
    return right.expr instanceof Expr.Unfold && !right.transposed && !left.transposed && !structured(left.expr)
        && !l.values.containsKey(right.expr);
  }

  /**
   * Whether factors i and i+1 of a product are {@code kron(I, B) * unfolding}: a convolution of the
   * applied vector with the rows of a dense B as filters (a Jacobian of {@code W * unfold(X)} with
   * respect to X), applied by {@code be.convolution} and its transpose by
   * {@code be.convolutionAdjoint} instead of unfold (fold) and a product.
   */
  private static boolean convolutionPair(List<Expr> factors, int i) {
    if (i < 0 || i + 1 >= factors.size()) return false;
    // B's columns are the unfolding's rows (and then the identity's size its patches)
    return factors.get(i) instanceof Expr.Kron k && isEye(k.left()) && !(k.right() instanceof Expr.Transpose) && !structured(k.right())
        && factors.get(i + 1) instanceof Expr.Unfolding u && k.right().shape().cols().equals(u.geometry().patchRows());
  }

  /** Whether factors i and i+1 are {@code unfolding' * kron(I, B')}: the transpose of a {@link #convolutionPair}. */
  private static boolean adjointConvolutionPair(List<Expr> factors, int i) {
    if (i < 0 || i + 1 >= factors.size()) return false;
    return factors.get(i) instanceof Expr.Transpose t && t.operand() instanceof Expr.Unfolding u && factors.get(i + 1) instanceof Expr.Kron k
        && isEye(k.left()) && k.right() instanceof Expr.Transpose bt && !(bt.operand() instanceof Expr.Transpose) && !structured(bt.operand())
        && bt.operand().shape().cols().equals(u.geometry().patchRows());
  }

  /**
   * {@code fold(B' * V)} for column vectors v of rows(B) * patches entries: the adjoint of the
   * convolution with B's rows as filters, as column vectors of the unfolded tensor's size.
   */
  private Value convolutionAdjoint(Expr b, Expr.Unfolding u, Value v, String comment) {
    Expr.ConvDims g = u.geometry();
    Value y = emit(new Op.Reshape(v, b.shape().rows(), g.patches()), null);
    Value x = emit(new Op.ConvolutionAdjoint(value(b), y, g), null);
    return emit(new Op.Reshape(x, u.shape().cols(), Dim.ONE), comment);
  }

  /**
   * {@code M * X} for a batch X whose items are matrices with cols(M) rows: each column is
   * treated as a direction (a free view), M applied, and the columns put back.
   */
  Value applyMatrix(Expr m, Value x, String comment) {
    Value v = emit(new Op.ColumnsAsDirections(x), null);
    Value r = apply(m, v);
    return emit(new Op.DirectionsAsColumns(r, x.items().cols()), comment);
  }

  /**
   * {@code M * v} for a batch v of column vectors with numel = cols(M) entries: the result's items
   * are columns with rows(M) entries.
   */
  Value apply(Expr m, Value v) {
    String text = ctx.notation().text(m);
    if (m instanceof Expr.Eye) return v;
    if (m instanceof Expr.Zero z) return emit(new Op.Fill(z.shape().rows(), Dim.ONE, 0.0), text + " * v");
    if (m instanceof Expr.Scale s) return emit(new Op.Scale(apply(s.operand(), v), s.coefficient()), null);
    if (m instanceof Expr.ScalarMul s) return emit(new Op.Multiply(value(s.scalar()), apply(s.operand(), v)), null);
    if (m instanceof Expr.Add a && MethodParts.parts(a) != null) return l.sumOfParts(MethodParts.parts(a), v, null);
    if (m instanceof Expr.Add a) return sumOfProducts(a, t -> apply(t, v));
    if (m instanceof Expr.MatMul mm) {
      List<Expr> fs = mm.factors();
      Value acc = v;
      for (int i = fs.size() - 1; i >= 0; i--) {
        if (convolutionPair(fs, i - 1)) {
          // kron(I, B) * unfolding * v: v's entries are the tensor, B's rows the filters
          Expr b = ((Expr.Kron) fs.get(i - 1)).right();
          Expr.ConvDims g = ((Expr.Unfolding) fs.get(i)).geometry();
          Value y = emit(new Op.Convolution(value(b), acc, g, null), null);
          acc = emit(new Op.Reshape(y, fs.get(i - 1).shape().rows(), Dim.ONE),
              ctx.notation().text(fs.get(i - 1)) + " * " + ctx.notation().text(fs.get(i)) + " * v (convolution)");
          i--;
        } else if (adjointConvolutionPair(fs, i - 1)) {
          // unfolding' * kron(I, B') * v = fold(B' * V)
          Expr b = ((Expr.Transpose) ((Expr.Kron) fs.get(i)).right()).operand();
          Expr.Unfolding u = (Expr.Unfolding) ((Expr.Transpose) fs.get(i - 1)).operand();
          acc = convolutionAdjoint(b, u, acc, ctx.notation().text(fs.get(i - 1)) + " * " + ctx.notation().text(fs.get(i)) + " * v (convolution adjoint)");
          i--;
        } else acc = apply(fs.get(i), acc);
      }
      return acc;
    }
    if (m instanceof Expr.DiagMat d) {
      Value fused = mapMultiply(d.vector(), v);
      return fused != null ? fused : emit(new Op.Multiply(value(d.vector()), v), "diag(...) * v");
    }
    if (m instanceof Expr.Kron k) return applyKron(k.left(), k.right(), v);
    if (m instanceof Expr.Commutation c) {
      Value x = emit(new Op.Reshape(v, c.m(), c.n()), null);
      Value t = emit(new Op.Transpose(x), null);
      return emit(new Op.Reshape(t, c.m().times(c.n()), Dim.ONE), text + " * v");
    }
    if (m instanceof Expr.Diagonalizer d) {
      Value dm = emit(new Op.DiagMatrix(v), null);
      return emit(new Op.Reshape(dm, d.n().times(d.n()), Dim.ONE), text + " * v");
    }
    if (m instanceof Expr.Selection s) {
      Value g = emit(new Op.Gather(v, value(s.index())), null);
      return emit(new Op.Reshape(g, s.index().shape().numel(), Dim.ONE), text + " * v (gather)");
    }
    if (m instanceof Expr.Unfolding u) {
      Value x = emit(new Op.Unfold(v, u.geometry()), null);
      return emit(new Op.Reshape(x, u.shape().rows(), Dim.ONE), text + " * v (unfold)");
    }
    if (m instanceof Expr.Transpose t) return applyTransposed(t.operand(), v);
    return emit(new Op.MatMul(value(m), false, v, false), text + " * v");
  }

  /**
   * (T1 + T2 + ... + Tk) v = T1 v + T2 v + ... + Tk v, each {@code Ti v} by {@code product}; a term
   * {@code -1 * U} is subtracted as {@code U v}.
   */
  private Value sumOfProducts(Expr.Add a, Function<Expr, Value> product) {
    Value acc = product.apply(a.terms().get(0));
    for (int i = 1; i < a.terms().size(); i++) {
      Expr t = a.terms().get(i);
      if (t instanceof Expr.Scale s && s.coefficient() == -1) acc = emit(new Op.Subtract(acc, product.apply(s.operand())), null);
      else acc = emit(new Op.Add(acc, product.apply(t)), null);
    }
    return acc;
  }

  /** {@code M' * v}, pushing the transpose down to the structured factors. */
  private Value applyTransposed(Expr m, Value v) {
    String text = ctx.notation().text(m) + "' * v";
    if (m instanceof Expr.Transpose t) return apply(t.operand(), v);
    if (m instanceof Expr.Eye) return v;
    if (m instanceof Expr.Zero z) return emit(new Op.Fill(z.shape().cols(), Dim.ONE, 0.0), text);
    if (m instanceof Expr.DiagMat) return apply(m, v);
    if (m instanceof Expr.Scale s) return emit(new Op.Scale(applyTransposed(s.operand(), v), s.coefficient()), null);
    if (m instanceof Expr.ScalarMul s) return emit(new Op.Multiply(value(s.scalar()), applyTransposed(s.operand(), v)), null);
    if (m instanceof Expr.Add a && MethodParts.parts(a) != null)
      return l.sumOfParts(MethodParts.parts(a).stream().map(p -> (Expr) new Expr.Transpose(p)).toList(), v, null);
    if (m instanceof Expr.Add a) return sumOfProducts(a, t -> applyTransposed(t, v));
    if (m instanceof Expr.MatMul mm) {
      // (f1 f2 ... fk)' v = fk' (... (f1' v))
      List<Expr> fs = mm.factors();
      Value acc = v;
      for (int i = 0; i < fs.size(); i++) {
        if (convolutionPair(fs, i)) {
          // (kron(I, B) * unfolding)' * v = fold(B' * V)
          acc = convolutionAdjoint(((Expr.Kron) fs.get(i)).right(), (Expr.Unfolding) fs.get(i + 1), acc,
              "(" + ctx.notation().text(fs.get(i)) + " * " + ctx.notation().text(fs.get(i + 1)) + ")' * v (convolution adjoint)");
          i++;
        } else acc = applyTransposed(fs.get(i), acc);
      }
      return acc;
    }
    if (m instanceof Expr.Kron k) return applyKron(new Expr.Transpose(k.left()), new Expr.Transpose(k.right()), v);
    if (m instanceof Expr.Commutation c) return apply(new Expr.Commutation(c.n(), c.m()), v);
    if (m instanceof Expr.Diagonalizer d) {
      Value x = emit(new Op.Reshape(v, d.n(), d.n()), null);
      return emit(new Op.Diagonal(x), text);
    }
    if (m instanceof Expr.Selection s) {
      Value g = emit(new Op.Reshape(v, Lowering.rows(s.index().shape()), Lowering.cols(s.index().shape())), null);
      return emit(new Op.ScatterAdd(g, value(s.index()), s.n(), Dim.ONE), text + " (scatter-add)");
    }
    if (m instanceof Expr.Unfolding u) {
      Expr.ConvDims g = u.geometry();
      Value x = emit(new Op.Reshape(v, g.patchRows(), g.patches()), null);
      Value f = emit(new Op.Fold(x, g), null);
      return emit(new Op.Reshape(f, u.shape().cols(), Dim.ONE), text + " (fold)");
    }
    if (m instanceof Expr.Ones o) return apply(new Expr.Ones(o.shape().transpose()), v);
    return emit(new Op.MatMul(value(m), true, v, false), text);
  }

  /**
   * {@code diag(f^(k)(x)) * v} as one {@code mapMultiply} of the known value {@code f(x)} when
   * f^(k) is a function of f alone (sigmoid' = u (1 - u)): the derivative is computed on the fly in
   * the pass over v, never stored; where the derivative is memoized, a backend that multiplies a
   * stored map faster (into several directions) takes the memo instead. Null when d is not such a
   * derivative.
   */
  private Value mapMultiply(Expr d, Value v) {
    if (!(d instanceof Expr.Apply a) || a.order() < 1 || l.values.containsKey(d)) return null;
    Value known = l.known(new Expr.Apply(a.function(), 0, a.argument()));
    if (known == null || ctx.functionOfValue(a.function(), a.order()) == null) return null;
    return emit(new Op.MapMultiply(known, new Op.Fn(a.function(), a.order(), true), v, l.memoSlotIfMemoized(d)),
        "diag(" + ctx.notation().text(d) + ") * v");
  }

  // ---- products summed over the batch ---------------------------------------------------

  /**
   * {@code sum_n M_n v_n} over the batch (one sample in the result), with the sum pushed into
   * the products: a factor the same for every sample is applied once to the summed directions,
   * and an outer product of per-sample factors (a weight's gradient, {@code sum_n dz_n x_n'}) is
   * one product of side-by-side items ({@code sumProducts}), never N outer products.
   */
  Value applySummed(Expr m, Value v) {
    if (sampleIndependent(m)) return apply(m, emit(new Op.SamplesSum(v), null));
    if (m instanceof Expr.Scale sc) return emit(new Op.Scale(applySummed(sc.operand(), v), sc.coefficient()), null);
    if (m instanceof Expr.Add a) {
      Value acc = applySummed(a.terms().get(0), v);
      for (int i = 1; i < a.terms().size(); i++) acc = emit(new Op.Add(acc, applySummed(a.terms().get(i), v)), null);
      return acc;
    }
    if (m instanceof Expr.MatMul mm) {
      List<Expr> fs = mm.factors();
      int j = 0; // fs[0..j) are the same for every sample: apply them after summing
      while (j < fs.size() && sampleIndependent(fs.get(j))) j++;
      if (j > 0) {
        Value inner = applySummed(fs.size() - j == 1 ? fs.get(j) : new Expr.MatMul(fs.subList(j, fs.size())), v);
        return apply(j == 1 ? fs.get(0) : new Expr.MatMul(fs.subList(0, j)), inner);
      }
      Value u = apply(fs.size() == 2 ? fs.get(1) : new Expr.MatMul(fs.subList(1, fs.size())), v);
      return applySummed(fs.get(0), u);
    }
    if (m instanceof Expr.Kron k && !structured(k.left()) && !isEye(k.left())) {
      Dim q = k.left().shape().cols(), s0 = k.right().shape().cols(), p = k.left().shape().rows(), r = k.right().shape().rows();
      Value x = emit(new Op.Reshape(v, s0, q), "X = reshape(v, " + ctx.notation().dimText(s0) + ", " + ctx.notation().dimText(q) + ")");
      Value bx = isEye(k.right()) ? x : applyMatrix(k.right(), x, "B*X with B = " + ctx.notation().text(k.right()));
      Operand op = Operand.of(k.left());
      Value bxa;
      if (op.expr() instanceof Expr.Unfold u && !op.transposed() && !l.values.containsKey(u)) {
        // sum_n (B*X_n) * unfold(T_n)': a convolution's weight gradient, the unfolding never formed
        bxa = emit(new Op.SumConvolutionWeightGradients(bx, value(u.tensor()), u.geometry()),
            "sum_n (B*X_n)*A_n' with A' = " + ctx.notation().text(new Expr.Transpose(u)) + " (convolution weight gradient)");
      } else {
        bxa = emit(new Op.SumProducts(bx, false, value(op.expr()), !op.transposed()),
            "sum_n (B*X_n)*A_n' with A' = " + ctx.notation().text(op.transposed() ? op.expr() : new Expr.Transpose(op.expr())));
      }
      return emit(new Op.Reshape(bxa, r.times(p), Dim.ONE), "kron(A, B) * v = vec(B*X*A'), summed over the batch");
    }
    return emit(new Op.SamplesSum(apply(m, v)), null);
  }

  /**
   * {@code kron(A, B) * v} with A p x q, B r x s, v of qs entries: by the vec trick
   * {@code vec(B X A')} with X = reshape(v, s, q); A and B may themselves be structured.
   */
  private Value applyKron(Expr a, Expr b, Value v) {
    Dim q = a.shape().cols(), s = b.shape().cols(), p = a.shape().rows(), r = b.shape().rows();
    Value x = emit(new Op.Reshape(v, s, q), "X = reshape(v, " + ctx.notation().dimText(s) + ", " + ctx.notation().dimText(q) + ")");
    Value bx = isEye(b) ? x : applyMatrix(b, x, "B*X with B = " + ctx.notation().text(b));
    Value bxa;
    if (isEye(a)) bxa = bx;
    else if (!structured(a)) {
      Operand op = Operand.of(a);
      Expr.Unfold u = op.expr() instanceof Expr.Unfold f && op.transposed() && !l.values.containsKey(f) ? f : null;
      Integer slot = u == null ? null : l.memoSlotIfMemoized(u);
      if (slot != null) {
        // (B X) * unfold(T): B X's directions as the filters of a convolution of T, the unfolding
        // never formed where the backend convolves directly
        bxa = emit(new Op.ConvolutionOfDirections(bx, value(u.tensor()), u.geometry(), slot),
            "(B*X)*A' with A' = " + ctx.notation().text(u) + " (a convolution, the directions as filters)");
      } else {
        // (B X) * A' : A' is op(A) transposed
        bxa = emit(new Op.MatMul(bx, false, value(op.expr()), !op.transposed()),
            "(B*X)*A' with A' = " + ctx.notation().text(op.transposed() ? op.expr() : new Expr.Transpose(op.expr())));
      }
    } else {
      Value t = emit(new Op.Transpose(bx), null);
      Value at = applyMatrix(a, t, null);
      bxa = emit(new Op.Transpose(at), "(B*X)*A' with A = " + ctx.notation().text(a));
    }
    return emit(new Op.Reshape(bxa, r.times(p), Dim.ONE), "kron(A, B) * v = vec(B*X*A')");
  }
}
