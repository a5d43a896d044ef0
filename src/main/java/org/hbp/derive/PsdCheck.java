package org.hbp.derive;

import java.util.ArrayList;
import java.util.List;
import org.hbp.calculus.Expr;
import org.hbp.calculus.Printer;
import org.hbp.calculus.Shape;
import org.hbp.calculus.Simplifier;

/**
 * Decides whether a loss Hessian is positive semi-definite by a structural proof. Every rule is a
 * theorem; what no rule covers is "not proven", never "no":
 *
 * <ul>
 *   <li>{@code eye(n)}, {@code zeros}, {@code ones(n, n)} (= 1*1') are PSD;
 *   <li>{@code diag(v)} is PSD when every entry of v is non-negative ({@link NonNegativity}:
 *       products of non-negative factors such as {@code sigmoid(t) .* (1 - sigmoid(t))}, squares,
 *       {@code exp}, f'(t) of a formula that is non-negative, polynomials in bounded atoms);
 *   <li>c*A and s*A with c >= 0, s a scalar expression >= 0, A PSD; A' of a PSD A;
 *   <li>{@code kron(A, B)} of PSD A and B (its eigenvalues are products of theirs);
 *   <li>congruences {@code F'*B*F} of a PSD B and Gram matrices {@code F'*F} (also as chains
 *       {@code A'*B'*M*B*A}, and {@code x*x'});
 *   <li>sums: the diagonal terms ({@code c*diag(v)}, {@code c*eye(n)}) of a sum are collected into one
 *       diagonal {@code diag(sum c*v)}, each {@code -a*p*p'} with p = softmax(x) and a > 0 is
 *       written a*(diag(p) - p*p') - a*diag(p) (the first is a categorical covariance, PSD since
 *       p >= 0 and sum(p) = 1), every other term must be PSD, and the collected diagonal must be
 *       non-negative. So {@code 0.9*diag(p) - 0.9*p*p'} and the binary cross-entropy's sum of four
 *       diagonals are proven.
 * </ul>
 */
public final class PsdCheck {
  private PsdCheck() {}

  public static LossRule.Psd decide(Expr h) {
    String why = proof(h);
    if (why != null) return new LossRule.Psd(true, why);
    return new LossRule.Psd(null, "no structural proof found");
  }

  /** A short reason when e is provably PSD, else null. */
  static String proof(Expr e) {
    if (e.shape().isTensor() || !e.shape().rows().equals(e.shape().cols())) return null;
    if (e.shape().isScalar()) {
      String s = NonNegativity.proof(e);
      return s == null ? null : "a 1x1 Hessian with a non-negative entry (" + s + ")";
    }
    if (e instanceof Expr.Eye) return "identity";
    if (e instanceof Expr.Zero) return "zero";
    if (e instanceof Expr.Ones) return "ones(n, n) = 1*1'";
    if (e instanceof Expr.Scale s) {
      if (s.coefficient() < 0) return null;
      String p = proof(s.operand());
      return p == null ? null : "non-negative multiple of " + p;
    }
    if (e instanceof Expr.ScalarMul m) {
      String s = NonNegativity.proof(m.scalar()), p = s == null ? null : proof(m.operand());
      return p == null ? null : "non-negative scalar " + Printer.text(m.scalar()) + " (" + s + ") times " + p;
    }
    if (e instanceof Expr.Transpose t) return proof(t.operand());
    if (e instanceof Expr.DiagMat d) {
      String s = NonNegativity.proof(d.vector());
      return s == null ? null : "diagonal with non-negative entries (" + s + ")";
    }
    if (e instanceof Expr.Kron k) {
      String a = proof(k.left()), b = a == null ? null : proof(k.right());
      return b == null ? null : "Kronecker product of PSD factors (" + a + "; " + b + ")";
    }
    if (e instanceof Expr.MatMul mm) return congruence(mm);
    if (e instanceof Expr.Add a) return sum(a);
    return null;
  }

  /**
   * A matrix product read as c * s_1 * ... * s_k * F_1*...*F_n: nested products flattened, numeric
   * coefficients c and scalar factors s_i of the factors pulled out (a product is linear in each).
   */
  record Chain(double coefficient, List<Expr> scalars, List<Expr> factors) {
    static Chain of(Expr.MatMul mm) {
      double[] c = {1};
      List<Expr> scalars = new ArrayList<>(), factors = new ArrayList<>();
      for (Expr f : mm.factors()) collect(f, c, scalars, factors);
      return new Chain(c[0], scalars, factors);
    }

    private static void collect(Expr f, double[] c, List<Expr> scalars, List<Expr> factors) {
      if (f instanceof Expr.MatMul m) for (Expr g : m.factors()) collect(g, c, scalars, factors);
      else if (f instanceof Expr.Scale s) {
        c[0] *= s.coefficient();
        collect(s.operand(), c, scalars, factors);
      } else if (f instanceof Expr.ScalarMul m) {
        scalars.add(m.scalar());
        collect(m.operand(), c, scalars, factors);
      } else factors.add(f);
    }
  }

  /** c*s*F'*F (Gram) or c*s*F'*B*F with B PSD, c >= 0 and s >= 0, for chains read from both ends. */
  private static String congruence(Expr.MatMul mm) {
    Chain ch = Chain.of(mm);
    if (ch.coefficient() < 0) return null;
    for (Expr s : ch.scalars()) if (NonNegativity.proof(s) == null) return null;
    List<Expr> f = ch.factors();
    int n = f.size();
    if (n == 1) return proof(f.get(0));
    for (int i = 0; i < n / 2; i++) if (!isTransposeOf(f.get(i), f.get(n - 1 - i))) return null;
    if (n % 2 == 0) return "Gram matrix F'*F";
    String b = proof(f.get(n / 2));
    return b == null ? null : "congruence F'*B*F of a PSD B (" + b + ")";
  }

  static boolean isTransposeOf(Expr a, Expr b) {
    return Simplifier.simplify(new Expr.Transpose(a)).equals(b) || Simplifier.simplify(new Expr.Transpose(b)).equals(a)
        || new Expr.Transpose(a).equals(b) || new Expr.Transpose(b).equals(a);
  }

  /** A term c*M of a sum. */
  record Term(double coefficient, Expr matrix) {}

  static void flatten(Expr e, double c, List<Term> out) {
    if (e instanceof Expr.Add a) for (Expr t : a.terms()) flatten(t, c, out);
    else if (e instanceof Expr.Scale s) flatten(s.operand(), c * s.coefficient(), out);
    else out.add(new Term(c, e));
  }

  private static String sum(Expr.Add add) {
    List<Term> terms = new ArrayList<>();
    flatten(add, 1, terms);
    List<Expr> diagonal = new ArrayList<>();
    List<String> parts = new ArrayList<>();
    boolean covariance = false;
    double[] a = {1};
    for (Term t : terms) {
      Expr m = t.matrix();
      double c = t.coefficient();
      if (m instanceof Expr.DiagMat d) diagonal.add(scaled(c, d.vector()));
      else if (m instanceof Expr.Eye i) diagonal.add(scaled(c, new Expr.Ones(Shape.vector(i.n()))));
      else if (c < 0 && softmaxOfOuterProduct(m, a) != null) {
        diagonal.add(scaled(c * a[0], softmaxOfOuterProduct(m, a))); // -a*p*p' = a*(diag(p) - p*p') - a*diag(p)
        covariance = true;
      } else {
        String p = c >= 0 ? proof(m) : null;
        if (p == null) return null;
        if (!parts.contains(p)) parts.add(p);
      }
    }
    if (!diagonal.isEmpty()) {
      Expr v = diagonal.size() == 1 ? diagonal.get(0) : new Expr.Add(diagonal);
      String s = NonNegativity.proof(v);
      if (s == null) return null;
      if (!(covariance && s.equals(NonNegativity.COLLECTS_TO_ZERO))) parts.add(0, "collected diagonal with non-negative entries (" + s + ")");
    }
    if (covariance) parts.add(0, "diag(p) - p*p' with p = softmax(x): covariance of a categorical distribution");
    return parts.size() == 1 ? parts.get(0) : "sum of PSD terms: " + String.join("; ", parts);
  }

  private static Expr scaled(double c, Expr v) {
    return c == 1 ? v : new Expr.Scale(c, v);
  }

  /** p when m is a*p*p' with p = softmax(x) and a numeric a > 0 (from the factors), else null; a is returned in scale[0]. */
  static Expr softmaxOfOuterProduct(Expr m, double[] scale) {
    if (!(m instanceof Expr.MatMul mm)) return null;
    Chain ch = Chain.of(mm);
    if (ch.factors().size() != 2 || !ch.scalars().isEmpty() || ch.coefficient() <= 0) return null;
    Expr p = ch.factors().get(0);
    if (!(p instanceof Expr.Softmax) || !ch.factors().get(1).equals(new Expr.Transpose(p))) return null;
    scale[0] = ch.coefficient();
    return p;
  }
}
