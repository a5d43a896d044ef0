package org.hbp.calculus;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Rewrites that bring derived results into the form a textbook (or matrixcalculus.org) prints:
 * commutation matrices absorbed into vec and Kronecker factors, like Kronecker and diagonal terms
 * merged, polynomial cancellations in elementwise sums, common elementwise factors pulled out, and
 * the standard functions recognised (logsumexp, softmax, softplus, the odd symmetry of sigmoid and
 * tanh). Each is a small pure function of one node that returns its input (the same object) when
 * it does not apply; registered after the canonical rules of {@link Rewrites}.
 *
 * <p>Termination: none of these rules is undone by another. The merges and the factorings turn a
 * sum into a product, and nothing distributes Kronecker products, diag or elementwise products
 * over sums again except {@code expand-collect}, which fires only when the expansion cancels or
 * merges terms and is strictly smaller.
 */
final class TextbookRewrites {
  private TextbookRewrites() {}

  /** The most monomials {@code expand-collect} will form from one sum (guards against blow-ups). */
  static final int MAX_MONOMIALS = 64;

  static void register(List<Simplifier.Rewrite> all) {
    all.add(new Simplifier.Rewrite("commutation-vec",
        "K_mn vec(A) = vec(A') for A m x n; vec(A)' K_mn = vec(A')' for A n x m",
        e -> e instanceof Expr.MatMul m ? Rewrites.pairwise(m, TextbookRewrites::commutationVec) : e));
    all.add(new Simplifier.Rewrite("commutation-kron",
        "K_pm (A(x)B) = B(x)A when A or B is a column; (A(x)B) K_nq = B(x)A when A or B is a row (A m x n, B p x q)",
        e -> e instanceof Expr.MatMul m ? Rewrites.pairwise(m, TextbookRewrites::commutationKron) : e));
    all.add(new Simplifier.Rewrite("kron-outer", "a(x)(b'(x)C) = b'(x)(a(x)C) = (ab')(x)C for a column a and a row b'", e -> {
      if (e instanceof Expr.Kron k && k.right() instanceof Expr.Kron r) {
        Shape a = k.left().shape(), b = r.left().shape();
        if (a.isColumn() && b.rows().isOne()) return new Expr.Kron(new Expr.MatMul(List.of(k.left(), r.left())), r.right());
        if (b.isColumn() && a.rows().isOne()) return new Expr.Kron(new Expr.MatMul(List.of(r.left(), k.left())), r.right());
      }
      return e;
    }));
    all.add(new Simplifier.Rewrite("kron-rows", "kron(u', v') = vec(v*u')' for rows u', v' (the vec form of an outer-product gradient)", e -> {
      if (e instanceof Expr.Kron k && k.left().shape().rows().isOne() && k.right().shape().rows().isOne() && !scalarLike(k.left())
          && !scalarLike(k.right()))
        return Exprs.transpose(new Expr.Vec(new Expr.MatMul(List.of(Exprs.transpose(k.right()), k.left()))));
      return e;
    }));
    all.add(new Simplifier.Rewrite("add-merge-kron", "a*kron(A,B) + b*kron(A,C) = a*kron(A, B + (b/a)*C); a*kron(A,C) + b*kron(B,C) = a*kron(A + (b/a)*B, C)",
        e -> e instanceof Expr.Add a ? mergeKron(a) : e));
    all.add(new Simplifier.Rewrite("add-merge-vec",
        "a*vec(P*R) + b*vec(Q*R) = a*vec((P + (b/a)*Q)*R); a*vec(L*P) + b*vec(L*Q) = a*vec(L*(P + (b/a)*Q)); the same for vec(..)' "
            + "(e.g. vec(A'*X)' + vec(A*X)' = vec((A' + A)*X)')",
        e -> e instanceof Expr.Add a ? mergeVec(a) : e));
    all.add(new Simplifier.Rewrite("common-coefficient",
        "(c*A - c*B)*C = c*((A - B)*C), and likewise for any factor of a matrix or Kronecker product (a sum of a scaling stays distributed)",
        TextbookRewrites::commonCoefficient));
    all.add(new Simplifier.Rewrite("add-merge-diag", "a*diag(u) + b*diag(v) = diag(a*u + b*v) (a, b numbers or scalars)",
        e -> e instanceof Expr.Add a ? mergeDiag(a) : e));
    all.add(new Simplifier.Rewrite("expand-collect",
        "A.*(B + C) + D = A.*B + A.*C + D and A.*(B./A + C) = B + A.*C, taken only when like terms then merge or a factor cancels its reciprocal, "
            + "and the result is smaller (e.g. s.*(1 - y) - y.*(1 - s) = s - y)",
        e -> e instanceof Expr.Add || e instanceof Expr.Hadamard ? expandCollect(e) : e));
    all.add(new Simplifier.Rewrite("factor-hadamard", "A.*B + A.^2.*C = A.*(B + A.*C): common elementwise factors out of a sum (A - A.^2 = A.*(1 - A))",
        e -> e instanceof Expr.Add a ? factorHadamard(a) : e));
    all.add(new Simplifier.Rewrite("recognise-functions",
        "log(sum(exp(X))) = logsumexp(X); log(1 + exp(X)) = softplus(X); exp(x) / sum(exp(x)) = softmax(x)",
        TextbookRewrites::recognise));
    all.add(new Simplifier.Rewrite("odd-functions", "sigmoid(-X) = 1 - sigmoid(X); tanh(-X) = -tanh(X)", TextbookRewrites::odd));
  }

  private static boolean scalarLike(Expr e) {
    return e.shape().isScalar();
  }

  // ---------------- commutation matrices ----------------

  private static Expr commutationVec(Expr x, Expr y) {
    if (x instanceof Expr.Commutation k && y instanceof Expr.Vec v) {
      Shape a = v.operand().shape();
      if (a.isMatrixLike() && a.rows().equals(k.m()) && a.cols().equals(k.n())) return new Expr.Vec(Exprs.transpose(v.operand()));
    }
    if (x instanceof Expr.Transpose t && t.operand() instanceof Expr.Vec v && y instanceof Expr.Commutation k) {
      Shape a = v.operand().shape();
      if (a.isMatrixLike() && a.rows().equals(k.n()) && a.cols().equals(k.m()))
        return Exprs.transpose(new Expr.Vec(Exprs.transpose(v.operand())));
    }
    return null;
  }

  private static Expr commutationKron(Expr x, Expr y) {
    if (x instanceof Expr.Commutation k && y instanceof Expr.Kron kr) {
      Shape a = kr.left().shape(), b = kr.right().shape();
      if (k.m().equals(b.rows()) && k.n().equals(a.rows()) && (a.cols().isOne() || b.cols().isOne()))
        return new Expr.Kron(kr.right(), kr.left());
    }
    if (x instanceof Expr.Kron kr && y instanceof Expr.Commutation k) {
      Shape a = kr.left().shape(), b = kr.right().shape();
      if (k.m().equals(a.cols()) && k.n().equals(b.cols()) && (a.rows().isOne() || b.rows().isOne()))
        return new Expr.Kron(kr.right(), kr.left());
    }
    return null;
  }

  // ---------------- merging like Kronecker and diagonal terms ----------------

  private static Expr mergeKron(Expr.Add a) {
    List<Expr> t = a.terms();
    for (int i = 0; i < t.size(); i++) {
      Rewrites.Term ti = Rewrites.split(t.get(i));
      if (!(ti.core() instanceof Expr.Kron ki)) continue;
      for (int j = i + 1; j < t.size(); j++) {
        Rewrites.Term tj = Rewrites.split(t.get(j));
        if (!(tj.core() instanceof Expr.Kron kj)) continue;
        double c = tj.coefficient() / ti.coefficient();
        Expr merged = null;
        if (ki.left().equals(kj.left()) && ki.right().shape().equals(kj.right().shape()))
          merged = new Expr.Kron(ki.left(), sum(ki.right(), Exprs.scale(c, kj.right())));
        else if (ki.right().equals(kj.right()) && ki.left().shape().equals(kj.left().shape()))
          merged = new Expr.Kron(sum(ki.left(), Exprs.scale(c, kj.left())), ki.right());
        if (merged != null) merged = Exprs.scale(ti.coefficient(), merged);
        if (merged != null) return replacePair(a, i, j, merged);
      }
    }
    return a;
  }

  /** The factors of the product inside vec(..) or vec(..)' (row or column), or null. */
  private static List<Expr> vecProduct(Expr core, boolean row) {
    Expr v = row ? (core instanceof Expr.Transpose t ? t.operand() : null) : core;
    return v instanceof Expr.Vec vec && vec.operand() instanceof Expr.MatMul m ? m.factors() : null;
  }

  private static Expr mergeVec(Expr.Add a) {
    List<Expr> t = a.terms();
    for (boolean row : new boolean[] {true, false}) {
      for (int i = 0; i < t.size(); i++) {
        Rewrites.Term ti = Rewrites.split(t.get(i));
        List<Expr> fi = vecProduct(ti.core(), row);
        if (fi == null) continue;
        for (int j = i + 1; j < t.size(); j++) {
          Rewrites.Term tj = Rewrites.split(t.get(j));
          List<Expr> fj = vecProduct(tj.core(), row);
          if (fj == null) continue;
          double c = tj.coefficient() / ti.coefficient();
          Expr inner = null;
          Expr li = fi.get(fi.size() - 1), lj = fj.get(fj.size() - 1);
          Expr pi = Rewrites.product(fi.subList(0, fi.size() - 1)), pj = Rewrites.product(fj.subList(0, fj.size() - 1));
          Expr ri = Rewrites.product(fi.subList(1, fi.size())), rj = Rewrites.product(fj.subList(1, fj.size()));
          if (li.equals(lj) && pi.shape().equals(pj.shape())) inner = new Expr.MatMul(List.of(sum(pi, Exprs.scale(c, pj)), li));
          else if (fi.get(0).equals(fj.get(0)) && ri.shape().equals(rj.shape()))
            inner = new Expr.MatMul(List.of(fi.get(0), sum(ri, Exprs.scale(c, rj))));
          if (inner == null) continue;
          Expr v = new Expr.Vec(inner);
          return replacePair(a, i, j, Exprs.scale(ti.coefficient(), row ? Exprs.transpose(v) : v));
        }
      }
    }
    return a;
  }

  /** The coefficient of the first term of a sum when every term's has its magnitude, or 1. */
  private static double sharedCoefficient(Expr e) {
    if (!(e instanceof Expr.Add a)) return 1;
    double c = Rewrites.split(a.terms().get(0)).coefficient();
    for (Expr t : a.terms()) if (Math.abs(Rewrites.split(t).coefficient()) != Math.abs(c)) return 1;
    return c;
  }

  private static Expr commonCoefficient(Expr e) {
    List<Expr> f = e instanceof Expr.MatMul m ? m.factors() : e instanceof Expr.Kron k ? List.of(k.left(), k.right()) : null;
    if (f == null) return e;
    for (int i = 0; i < f.size(); i++) {
      double c = sharedCoefficient(f.get(i));
      if (c == 1 || c == 0) continue;
      List<Expr> g = new ArrayList<>(f);
      g.set(i, new Expr.Add(((Expr.Add) f.get(i)).terms().stream().map(t -> Exprs.scale(1 / c, t)).toList()));
      return Exprs.scale(c, e instanceof Expr.MatMul ? new Expr.MatMul(g) : new Expr.Kron(g.get(0), g.get(1)));
    }
    return e;
  }

  private static Expr mergeDiag(Expr.Add a) {
    List<Expr> vectors = new ArrayList<>(), rest = new ArrayList<>();
    for (Expr t : a.terms()) {
      Rewrites.Term s = Rewrites.split(t);
      if (s.core() instanceof Expr.DiagMat d) vectors.add(Exprs.scale(s.coefficient(), d.vector()));
      else if (s.core() instanceof Expr.ScalarMul m && m.operand() instanceof Expr.DiagMat d)
        vectors.add(Exprs.scale(s.coefficient(), Exprs.scalarMul(m.scalar(), d.vector())));
      else rest.add(t);
    }
    if (vectors.size() < 2) return a;
    rest.add(0, new Expr.DiagMat(new Expr.Add(vectors)));
    return rest.size() == 1 ? rest.get(0) : new Expr.Add(rest);
  }

  private static Expr sum(Expr x, Expr y) {
    return new Expr.Add(List.of(x, y));
  }

  private static Expr replacePair(Expr.Add a, int i, int j, Expr merged) {
    List<Expr> out = new ArrayList<>(a.terms());
    out.set(i, merged);
    out.remove(j);
    return out.size() == 1 ? out.get(0) : new Expr.Add(out);
  }

  // ---------------- elementwise polynomials ----------------

  /**
   * c * prod_b b.^p: a monomial of an elementwise polynomial (factors keyed by base); cancelled
   * when forming it made some factor's exponent reach zero (b .* b.^-1).
   */
  private record Monomial(double coefficient, Map<Expr, Double> powers, boolean cancelled) {
    static final Monomial ONE = new Monomial(1, Map.of(), false);

    Monomial times(Monomial o) {
      Map<Expr, Double> p = new HashMap<>(powers);
      boolean c = cancelled || o.cancelled;
      for (var en : o.powers.entrySet()) {
        double q = p.merge(en.getKey(), en.getValue(), Double::sum);
        if (q == 0) {
          p.remove(en.getKey());
          c = true;
        }
      }
      return new Monomial(coefficient * o.coefficient, p, c);
    }

    Monomial scaled(double s) {
      return new Monomial(s * coefficient, powers, cancelled);
    }
  }

  /**
   * Expansion of elementwise polynomials: products distributed over sums, except that a sum that
   * also occurs as the base of a negative power stays a factor (so that (1 - s) .* (1 - s).^-1
   * cancels).
   */
  private record Expansion(Set<Expr> atoms) {
    static Expansion of(Expr e) {
      Set<Expr> atoms = new HashSet<>();
      collectDenominators(e, atoms);
      return new Expansion(atoms);
    }

    private static void collectDenominators(Expr e, Set<Expr> out) {
      if (e instanceof Expr.Power p && p.exponent() < 0) out.add(p.base());
      if (e instanceof Expr.Add || e instanceof Expr.Hadamard || e instanceof Expr.Scale) for (Expr c : Exprs.children(e)) collectDenominators(c, out);
    }

    /** The monomials of e; null past {@link #MAX_MONOMIALS}. */
    List<Monomial> expand(Expr e) {
      if (e instanceof Expr.Zero) return List.of();
      if (e instanceof Expr.Ones) return List.of(Monomial.ONE);
      if (e instanceof Expr.Num n) return List.of(Monomial.ONE.scaled(n.value()));
      if (e instanceof Expr.Scale s) {
        List<Monomial> in = expand(s.operand());
        return in == null ? null : in.stream().map(m -> m.scaled(s.coefficient())).toList();
      }
      if (e instanceof Expr.Add a && !atoms.contains(a)) {
        List<Monomial> out = new ArrayList<>();
        for (Expr t : a.terms()) {
          List<Monomial> in = expand(t);
          if (in == null || out.size() + in.size() > MAX_MONOMIALS) return null;
          out.addAll(in);
        }
        return out;
      }
      if (e instanceof Expr.Hadamard h) {
        List<Monomial> out = List.of(Monomial.ONE);
        for (Expr f : h.factors()) {
          List<Monomial> in = expand(f);
          if (in == null || out.size() * in.size() > MAX_MONOMIALS) return null;
          List<Monomial> next = new ArrayList<>();
          for (Monomial x : out) for (Monomial y : in) next.add(x.times(y));
          out = next;
        }
        return out;
      }
      if (e instanceof Expr.Power p && p.base() instanceof Expr.Add && !atoms.contains(p.base()) && p.exponent() >= 2 && p.exponent() <= 4
          && p.exponent() == Math.rint(p.exponent())) {
        List<Expr> copies = Collections.nCopies((int) p.exponent(), p.base());
        return expand(new Expr.Hadamard(copies));
      }
      if (e instanceof Expr.Power p && (!(p.base() instanceof Expr.Add) || atoms.contains(p.base())))
        return List.of(new Monomial(1, Map.of(p.base(), p.exponent()), false));
      return List.of(new Monomial(1, Map.of(e, 1.0), false));
    }
  }

  /** Whether a term (or a product) has an elementwise product that distributes over a sum. */
  private static boolean expandable(Expr t) {
    Expr core = Rewrites.split(t).core();
    if (core instanceof Expr.Power p) return p.base() instanceof Expr.Add && p.exponent() >= 2 && p.exponent() <= 4;
    return core instanceof Expr.Hadamard h && h.factors().stream().anyMatch(f -> f instanceof Expr.Add || f instanceof Expr.Power p && p.base() instanceof Expr.Add);
  }

  /**
   * A sum or an elementwise product expanded into monomials and collected, when that merges like
   * terms (sums only) or cancels a factor against its reciprocal, and the result is smaller.
   */
  private static Expr expandCollect(Expr e) {
    boolean isSum = e instanceof Expr.Add;
    if (isSum ? ((Expr.Add) e).terms().stream().noneMatch(TextbookRewrites::expandable) : !expandable(e)) return e;
    List<Monomial> raw = Expansion.of(e).expand(e);
    if (raw == null) return e;
    Map<Map<Expr, Double>, Double> collected = new LinkedHashMap<>();
    for (Monomial m : raw) collected.merge(m.powers(), m.coefficient(), Double::sum);
    boolean merged = collected.size() < raw.size(), cancelled = raw.stream().anyMatch(Monomial::cancelled);
    if (!(cancelled || (isSum && merged))) return e;
    List<Expr> terms = new ArrayList<>();
    collected.forEach((powers, c) -> {
      if (c != 0) terms.add(Exprs.scale(c, monomialCore(powers, e.shape())));
    });
    Expr out = Exprs.add(terms, e.shape());
    return Rewrites.size(out) < Rewrites.size(e) ? out : e;
  }

  private static Expr monomialCore(Map<Expr, Double> powers, Shape shape) {
    List<Expr> f = new ArrayList<>();
    powers.forEach((b, p) -> f.add(p == 1 ? b : new Expr.Power(b, p)));
    f.sort(Simplifier.ORDER);
    if (f.isEmpty()) return shape.isScalar() ? new Expr.Num(1) : new Expr.Ones(shape);
    return Rewrites.hadamard(f);
  }

  /** The factors of one term of a sum without distributing: base -> exponent; null for a term with none. */
  private static Map<Expr, Double> factorsOf(Expr core) {
    Map<Expr, Double> m = new LinkedHashMap<>();
    List<Expr> fs = core instanceof Expr.Hadamard h ? h.factors() : List.of(core);
    for (Expr f : fs) {
      if (f instanceof Expr.Num || f instanceof Expr.Ones) continue;
      if (f instanceof Expr.Power p) m.merge(p.base(), p.exponent(), Double::sum);
      else m.merge(f, 1.0, Double::sum);
    }
    return m;
  }

  private static Expr factorHadamard(Expr.Add a) {
    List<Rewrites.Term> terms = a.terms().stream().map(Rewrites::split).toList();
    Map<Expr, Double> common = null;
    for (Rewrites.Term t : terms) {
      Map<Expr, Double> f = factorsOf(t.core());
      if (common == null) {
        common = new LinkedHashMap<>(f);
      } else {
        common.keySet().retainAll(f.keySet());
        for (var en : common.entrySet()) en.setValue(Math.min(en.getValue(), f.get(en.getKey())));
      }
    }
    common.values().removeIf(p -> !(p > 0));
    if (common.isEmpty()) return a;
    List<Expr> rest = new ArrayList<>();
    for (Rewrites.Term t : terms) {
      Map<Expr, Double> f = factorsOf(t.core());
      for (var en : common.entrySet()) f.merge(en.getKey(), -en.getValue(), Double::sum);
      f.values().removeIf(p -> p == 0);
      double c = t.coefficient() * numericFactor(t.core());
      rest.add(Exprs.scale(c, monomialCore(f, a.shape())));
    }
    List<Expr> out = new ArrayList<>();
    common.forEach((b, p) -> out.add(p == 1 ? b : new Expr.Power(b, p)));
    out.add(new Expr.Add(rest));
    return new Expr.Hadamard(out);
  }

  /** The product of the numeric factors of a term's core (a constant 1x1 factor of a scalar product). */
  private static double numericFactor(Expr core) {
    double c = 1;
    List<Expr> fs = core instanceof Expr.Hadamard h ? h.factors() : List.of(core);
    for (Expr f : fs) if (f instanceof Expr.Num n) c *= n.value();
    return c;
  }

  // ---------------- standard functions ----------------

  private static boolean applies(Expr e, String f) {
    return e instanceof Expr.Apply a && a.order() == 0 && a.function().name().equals(f);
  }

  private static Expr argument(Expr e) {
    return ((Expr.Apply) e).argument();
  }

  private static boolean one(Expr e) {
    return e instanceof Expr.Ones || (e instanceof Expr.Num n && n.value() == 1);
  }

  private static Expr recognise(Expr e) {
    if (applies(e, "log")) {
      Expr x = argument(e);
      if (x instanceof Expr.Sum s && applies(s.operand(), "exp")) return new Expr.LogSumExp(argument(s.operand()));
      if (x instanceof Expr.Add a && a.terms().size() == 2) {
        Expr p = a.terms().get(0), q = a.terms().get(1);
        if (one(p) && applies(q, "exp")) return apply("softplus", argument(q));
        if (one(q) && applies(p, "exp")) return apply("softplus", argument(p));
      }
    }
    if (e instanceof Expr.ScalarMul m && m.scalar() instanceof Expr.Power p && p.exponent() == -1 && p.base() instanceof Expr.Sum s
        && applies(s.operand(), "exp") && argument(s.operand()).shape().isColumn()) {
      Expr x = argument(s.operand());
      if (m.operand().equals(s.operand())) return new Expr.Softmax(x);
      if (m.operand() instanceof Expr.Transpose t && t.operand().equals(s.operand())) return Exprs.transpose(new Expr.Softmax(x));
    }
    return e;
  }

  private static Expr apply(String f, Expr x) {
    return new Expr.Apply(ElementwiseFunction.BUILTIN_RULES.get(f), 0, x);
  }

  private static Expr odd(Expr e) {
    boolean sigmoid = applies(e, "sigmoid"), tanh = applies(e, "tanh");
    if (!sigmoid && !tanh) return e;
    if (!(argument(e) instanceof Expr.Scale s && s.coefficient() == -1)) return e;
    Expr f = apply(sigmoid ? "sigmoid" : "tanh", s.operand());
    if (tanh) return Exprs.neg(f);
    Expr one = e.shape().isScalar() ? new Expr.Num(1) : new Expr.Ones(e.shape());
    return new Expr.Add(List.of(one, Exprs.neg(f)));
  }
}
