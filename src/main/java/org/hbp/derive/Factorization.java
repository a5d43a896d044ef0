package org.hbp.derive;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.hbp.calculus.Dim;
import org.hbp.calculus.ElementwiseFunction;
import org.hbp.calculus.Expr;
import org.hbp.calculus.Shape;
import org.hbp.calculus.Simplifier;

/**
 * Derives a factor {@code H = S S'} of a loss Hessian ({@link LossFactor}) along the structural
 * proof of {@link PsdCheck}, one rule per proof rule:
 *
 * <ul>
 *   <li>{@code eye(n) = eye(n) eye(n)'}; {@code ones(n, n) = 1*1'}; {@code zeros} has the zero column;
 *   <li>{@code diag(v) = diag(sqrt(v)) diag(sqrt(v))'} for v >= 0;
 *   <li>{@code c*A = (sqrt(c) S)(sqrt(c) S)'} for c >= 0, the same for a scalar s >= 0 with
 *       {@code sqrt(s)}; {@code A'} has A's factor (a PSD A is symmetric);
 *   <li>{@code kron(A, B) = kron(S_A, S_B) kron(S_A, S_B)'};
 *   <li>a congruence {@code F'*B*F = (F' S_B)(F' S_B)'}, a Gram matrix {@code F'*F} (also {@code
 *       x*x'}) has the factor F';
 *   <li>{@code diag(p) - p*p'} with p = softmax(x): {@code S = diag(sqrt(p)) - p*sqrt(p)'}, since
 *       {@code S S' = diag(p) - 2 p p' + p (sqrt(p)'sqrt(p)) p'} and {@code sqrt(p)'sqrt(p) = sum(p) = 1};
 *   <li>a sum of PSD terms: the blocks of the terms' factors side by side ({@code sum_i S_i S_i'}),
 *       the collected diagonal of the sum as one block {@code diag(sqrt(v))} (left out when its
 *       entries collect to zero).
 * </ul>
 */
public final class Factorization {
  private Factorization() {}

  private static final ElementwiseFunction SQRT = ElementwiseFunction.BUILTIN_RULES.get("sqrt");

  /** The factor of a Hessian that {@link PsdCheck} proves PSD, simplified; empty where no rule gives one. */
  public static Optional<LossFactor> of(Expr h, Simplifier s) {
    String proof = PsdCheck.proof(h);
    if (proof == null) return Optional.empty();
    List<Expr> blocks = blocks(h);
    if (blocks == null) return Optional.empty();
    return Optional.of(new LossFactor(blocks.stream().map(s::run).toList(), "H = S*S' from the proof: " + proof));
  }

  /** The blocks S_i with e = sum S_i S_i', or null. */
  static List<Expr> blocks(Expr e) {
    if (e.shape().isTensor() || !e.shape().rows().equals(e.shape().cols())) return null;
    if (e.shape().isScalar()) return NonNegativity.proof(e) == null ? null : List.of(sqrtScalar(e));
    if (e instanceof Expr.Eye i) return List.of(i);
    if (e instanceof Expr.Zero z) return List.of(new Expr.Zero(Shape.vector(z.shape().rows())));
    if (e instanceof Expr.Ones o) return List.of(new Expr.Ones(Shape.vector(o.shape().rows())));
    if (e instanceof Expr.Scale sc) {
      if (sc.coefficient() < 0) return null;
      return map(blocks(sc.operand()), b -> new Expr.Scale(Math.sqrt(sc.coefficient()), b));
    }
    if (e instanceof Expr.ScalarMul m) {
      if (NonNegativity.proof(m.scalar()) == null) return null;
      Expr root = sqrtScalar(m.scalar());
      return map(blocks(m.operand()), b -> new Expr.ScalarMul(root, b));
    }
    if (e instanceof Expr.Transpose t) return blocks(t.operand());
    if (e instanceof Expr.DiagMat d) return NonNegativity.proof(d.vector()) == null ? null : List.of(new Expr.DiagMat(sqrt(d.vector())));
    if (e instanceof Expr.Kron k) {
      List<Expr> a = blocks(k.left()), b = a == null ? null : blocks(k.right());
      if (b == null) return null;
      List<Expr> out = new ArrayList<>();
      for (Expr x : a) for (Expr y : b) out.add(new Expr.Kron(x, y));
      return out;
    }
    if (e instanceof Expr.MatMul mm) return congruence(mm);
    if (e instanceof Expr.Add a) return sum(a);
    return null;
  }

  /** c*s*F_1..F_k*F_k'..F_1' (factor sqrt(c s) F_1..F_k) or with a PSD middle B (factor sqrt(c s) F_1..F_k S_B). */
  private static List<Expr> congruence(Expr.MatMul mm) {
    PsdCheck.Chain ch = PsdCheck.Chain.of(mm);
    if (ch.coefficient() < 0) return null;
    for (Expr s : ch.scalars()) if (NonNegativity.proof(s) == null) return null;
    List<Expr> f = ch.factors();
    int n = f.size();
    for (int i = 0; i < n / 2; i++) if (!PsdCheck.isTransposeOf(f.get(i), f.get(n - 1 - i))) return null;
    List<Expr> middle = n % 2 == 0 ? null : blocks(f.get(n / 2));
    if (n % 2 == 1 && middle == null) return null;
    List<Expr> half = f.subList(0, n / 2);
    List<Expr> out = new ArrayList<>();
    if (middle == null) out.add(withScalars(ch, product(half)));
    else for (Expr b : middle) out.add(withScalars(ch, product(append(half, b))));
    return out;
  }

  private static Expr withScalars(PsdCheck.Chain ch, Expr b) {
    for (Expr s : ch.scalars()) b = new Expr.ScalarMul(sqrtScalar(s), b);
    return ch.coefficient() == 1 ? b : new Expr.Scale(Math.sqrt(ch.coefficient()), b);
  }

  private static List<Expr> append(List<Expr> a, Expr b) {
    List<Expr> out = new ArrayList<>(a);
    out.add(b);
    return out;
  }

  private static Expr product(List<Expr> factors) {
    return factors.size() == 1 ? factors.get(0) : new Expr.MatMul(factors);
  }

  /** The blocks of a sum, collected as {@link PsdCheck}'s sum rule collects them. */
  private static List<Expr> sum(Expr.Add add) {
    List<PsdCheck.Term> terms = new ArrayList<>();
    PsdCheck.flatten(add, 1, terms);
    List<Expr> diagonal = new ArrayList<>(), out = new ArrayList<>();
    double[] a = {1};
    Dim n = add.shape().rows();
    for (PsdCheck.Term t : terms) {
      Expr m = t.matrix();
      double c = t.coefficient();
      Expr p;
      if (m instanceof Expr.DiagMat d) diagonal.add(scaled(c, d.vector()));
      else if (m instanceof Expr.Eye) diagonal.add(scaled(c, new Expr.Ones(Shape.vector(n))));
      else if (c < 0 && (p = PsdCheck.softmaxOfOuterProduct(m, a)) != null) {
        // -a*p*p' = a*(diag(p) - p*p') - a*diag(p)
        diagonal.add(scaled(c * a[0], p));
        Expr root = sqrt(p);
        out.add(new Expr.Scale(Math.sqrt(-c * a[0]),
            new Expr.Add(List.of(new Expr.DiagMat(root), new Expr.Scale(-1, new Expr.MatMul(List.of(p, new Expr.Transpose(root))))))));
      } else {
        List<Expr> b = c >= 0 ? blocks(m) : null;
        if (b == null) return null;
        for (Expr x : b) out.add(c == 1 ? x : new Expr.Scale(Math.sqrt(c), x));
      }
    }
    if (!diagonal.isEmpty()) {
      Expr v = diagonal.size() == 1 ? diagonal.get(0) : new Expr.Add(diagonal);
      String s = NonNegativity.proof(v);
      if (s == null) return null;
      if (!s.equals(NonNegativity.COLLECTS_TO_ZERO)) out.add(0, new Expr.DiagMat(sqrt(v)));
    }
    return out.isEmpty() ? null : out;
  }

  private static Expr scaled(double c, Expr v) {
    return c == 1 ? v : new Expr.Scale(c, v);
  }

  private static Expr sqrt(Expr v) {
    return new Expr.Apply(SQRT, 0, v);
  }

  /** sqrt(s) of a non-negative scalar: folded for numbers and powers of dims. */
  static Expr sqrtScalar(Expr s) {
    if (s instanceof Expr.Num x) return new Expr.Num(Math.sqrt(x.value()));
    if (s instanceof Expr.DimValue) return new Expr.Power(s, 0.5);
    if (s instanceof Expr.Power p && (p.base() instanceof Expr.DimValue || p.base() instanceof Expr.Num nb && nb.value() >= 0))
      return new Expr.Power(p.base(), p.exponent() / 2);
    return sqrt(s);
  }

  private static List<Expr> map(List<Expr> blocks, java.util.function.UnaryOperator<Expr> f) {
    return blocks == null ? null : blocks.stream().map(f).toList();
  }
}
