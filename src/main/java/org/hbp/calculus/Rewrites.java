package org.hbp.calculus;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BinaryOperator;
import java.util.function.Function;
import java.util.function.UnaryOperator;

/** The rewrite rules of the {@link Simplifier}, each a small pure function of one node. */
final class Rewrites {
  private Rewrites() {}

  static final List<Simplifier.Rewrite> ALL = new ArrayList<>();

  private static void rule(String name, String identity, UnaryOperator<Expr> f) {
    ALL.add(new Simplifier.Rewrite(name, identity, f));
  }

  private static <T extends Expr> void rule(String name, String identity, Class<T> type, Function<T, Expr> f) {
    ALL.add(new Simplifier.Rewrite(name, identity, e -> type.isInstance(e) ? f.apply(type.cast(e)) : e));
  }

  // ---------- helpers ----------

  /**
   * Associativity of an n-ary node: its {@code operands}, each one that is itself a {@code node}
   * replaced by that node's {@code operands} ((A + B) + C: A, B, C).
   */
  private static <T extends Expr> List<Expr> flattened(List<Expr> operands, Class<T> node, Function<T, List<Expr>> operandsOf) {
    List<Expr> out = new ArrayList<>();
    for (Expr t : operands) {
      if (node.isInstance(t)) out.addAll(operandsOf.apply(node.cast(t)));
      else out.add(t);
    }
    return out;
  }

  /**
   * The rules of a linear functional {@code f} to a scalar ({@code node} = f(a): trace, sum):
   * f(s) = s for a scalar s, f(0) = 0, f(cA) = c f(A), f(sA) = s .* f(A), f(A + B) = f(A) + f(B);
   * null when none applies.
   */
  private static Expr linearFunctional(Expr node, Expr a, UnaryOperator<Expr> f) {
    if (scalar(a)) return a;
    if (zero(a)) return zeroOf(node);
    if (a instanceof Expr.Scale s) return Exprs.scale(s.coefficient(), f.apply(s.operand()));
    if (a instanceof Expr.ScalarMul s) return Exprs.hadamard(s.scalar(), f.apply(s.operand()));
    if (a instanceof Expr.Add s) return new Expr.Add(s.terms().stream().map(f).toList());
    return null;
  }

  private static boolean zero(Expr e) {
    return e instanceof Expr.Zero;
  }

  private static Expr zeroOf(Expr e) {
    return new Expr.Zero(e.shape());
  }

  private static boolean isEye(Expr e) {
    return e instanceof Expr.Eye;
  }

  private static boolean scalar(Expr e) {
    return e.shape().isScalar();
  }

  static Expr product(List<Expr> f) {
    return f.size() == 1 ? f.get(0) : new Expr.MatMul(f);
  }

  static Expr hadamard(List<Expr> f) {
    return f.size() == 1 ? f.get(0) : new Expr.Hadamard(f);
  }

  /** (coefficient, core) of a term: c*X -> (c, X); a constant c -> (c, 1). */
  record Term(double coefficient, Expr core) {}

  static Term split(Expr e) {
    if (e instanceof Expr.Scale s) return new Term(s.coefficient(), s.operand());
    if (e instanceof Expr.Num n) return new Term(n.value(), new Expr.Num(1));
    return new Term(1, e);
  }

  static Expr rebuild(double c, Expr core) {
    if (core instanceof Expr.Num n && n.value() == 1) return c == 0 ? new Expr.Zero(Shape.SCALAR) : new Expr.Num(c);
    return Exprs.scale(c, core);
  }

  /** Number of nodes: the size order of terms. */
  static int size(Expr e) {
    int n = 1;
    for (Expr c : Exprs.children(e)) n += size(c);
    return n;
  }

  private static boolean isInteger(double p) {
    return p == Math.rint(p);
  }

  static {
    // ---------------- constants ----------------
    rule("zero-scalar", "0 (a 1x1 constant) is the symbolic zero", Expr.Num.class,
        n -> n.value() == 0 ? new Expr.Zero(Shape.SCALAR) : n);
    rule("dim-constant", "a constant dimension is a number", Expr.DimValue.class,
        d -> d.dim().isConstant() ? new Expr.Num(d.dim().constant()) : d);
    rule("ones-scalar", "ones(1,1) = 1", Expr.Ones.class, o -> o.shape().isScalar() ? new Expr.Num(1) : o);
    rule("eye-one", "eye(1) = 1", Expr.Eye.class, i -> i.n().isOne() ? new Expr.Num(1) : i);
    rule("commutation-trivial", "K_m1 = K_1n = I", Expr.Commutation.class,
        k -> k.m().isOne() || k.n().isOne() ? new Expr.Eye(k.m().times(k.n())) : k);
    rule("diagonalizer-one", "diagonalizer(1) = 1", Expr.Diagonalizer.class, d -> d.n().isOne() ? new Expr.Num(1) : d);

    // ---------------- sums ----------------
    rule("add-flatten", "(A + B) + C = A + B + C", Expr.Add.class,
        a -> a.terms().stream().noneMatch(t -> t instanceof Expr.Add) ? a : new Expr.Add(flattened(a.terms(), Expr.Add.class, Expr.Add::terms)));
    rule("add-collect", "a*X + b*X = (a+b)*X; A + 0 = A; terms in canonical order", Expr.Add.class, a -> {
      Map<Expr, Double> coef = new LinkedHashMap<>();
      for (Expr t : a.terms()) {
        if (zero(t)) continue;
        Term s = split(t);
        coef.merge(s.core(), s.coefficient(), Double::sum);
      }
      List<Expr> out = new ArrayList<>();
      coef.forEach((core, c) -> {
        if (c != 0) out.add(rebuild(c, core));
      });
      out.sort((x, y) -> {
        // positive terms first, then larger terms first, then by text
        boolean nx = split(x).coefficient() < 0, ny = split(y).coefficient() < 0;
        if (nx != ny) return nx ? 1 : -1;
        int sx = size(split(x).core()), sy = size(split(y).core());
        if (sx != sy) return Integer.compare(sy, sx);
        return Simplifier.ORDER.compare(split(x).core(), split(y).core());
      });
      if (out.isEmpty()) return zeroOf(a);
      if (out.size() == 1) return out.get(0);
      Expr r = new Expr.Add(out);
      return r.equals(a) ? a : r;
    });

    // ---------------- numeric coefficients ----------------
    rule("scale-trivial", "1*A = A; 0*A = 0; c*0 = 0; a*(b*A) = (ab)*A; c*d = cd; c*(A + B) = c*A + c*B", Expr.Scale.class, s -> {
      double c = s.coefficient();
      Expr x = s.operand();
      if (c == 1) return x;
      if (c == 0 || zero(x)) return zeroOf(s);
      if (x instanceof Expr.Scale inner) return Exprs.scale(c * inner.coefficient(), inner.operand());
      if (x instanceof Expr.Num n) return new Expr.Num(c * n.value());
      if (x instanceof Expr.Add a) return new Expr.Add(a.terms().stream().map(t -> Exprs.scale(c, t)).toList());
      return s;
    });

    // ---------------- scalar times matrix ----------------
    rule("scalarmul-normalize", "c*A with c a number is a scaling; s*A for 1x1 A is s.*A; s*(t*A) = (s.*t)*A; coefficients out",
        Expr.ScalarMul.class, m -> {
          Expr s = m.scalar(), a = m.operand();
          if (zero(s) || zero(a)) return zeroOf(m);
          if (s instanceof Expr.Num n) return Exprs.scale(n.value(), a);
          if (s instanceof Expr.Scale c) return Exprs.scale(c.coefficient(), new Expr.ScalarMul(c.operand(), a));
          if (a instanceof Expr.Scale c) return Exprs.scale(c.coefficient(), new Expr.ScalarMul(s, c.operand()));
          if (scalar(a)) return new Expr.Hadamard(List.of(s, a));
          if (a instanceof Expr.ScalarMul inner) return new Expr.ScalarMul(new Expr.Hadamard(List.of(s, inner.scalar())), inner.operand());
          return m;
        });

    // ---------------- matrix products ----------------
    rule("matmul-flatten", "(AB)C = ABC", Expr.MatMul.class,
        m -> m.factors().stream().noneMatch(t -> t instanceof Expr.MatMul) ? m
            : new Expr.MatMul(flattened(m.factors(), Expr.MatMul.class, Expr.MatMul::factors)));
    rule("matmul-zero-identity", "A0 = 0; AI = IA = A", Expr.MatMul.class, m -> {
      if (m.factors().stream().anyMatch(Rewrites::zero)) return zeroOf(m);
      if (m.factors().stream().noneMatch(Rewrites::isEye)) return m;
      List<Expr> out = new ArrayList<>();
      for (Expr f : m.factors()) if (!isEye(f)) out.add(f);
      if (out.isEmpty()) return m.factors().get(0);
      return product(out);
    });
    rule("matmul-coefficients", "A(cB) = c(AB); A(sB) = s(AB) for scalar s", Expr.MatMul.class, m -> {
      double c = 1;
      List<Expr> scalars = new ArrayList<>();
      List<Expr> rest = new ArrayList<>();
      boolean allScalar = m.factors().stream().allMatch(Rewrites::scalar);
      boolean changed = false;
      for (Expr f : m.factors()) {
        if (f instanceof Expr.Scale s) {
          c *= s.coefficient();
          f = s.operand();
          changed = true;
        }
        if (f instanceof Expr.ScalarMul sm) {
          scalars.add(sm.scalar());
          f = sm.operand();
          changed = true;
        }
        if (!allScalar && scalar(f)) {
          if (!(f instanceof Expr.Num n && n.value() == 1)) scalars.add(f);
          changed = true;
          continue;
        }
        rest.add(f);
      }
      if (allScalar) {
        if (!changed) return new Expr.Hadamard(rest);
        // the scalars of ScalarMul factors are factors of the product too (they were dropped: a
        // product (x'x)*2*exp(x'x) lost its 2 once it had become ScalarMul(2, x'x)*exp(x'x))
        List<Expr> all = new ArrayList<>(rest);
        all.addAll(scalars);
        return Exprs.scale(c, hadamard(all));
      }
      if (!changed) return m;
      Expr core = product(rest);
      if (!scalars.isEmpty()) core = new Expr.ScalarMul(hadamard(scalars), core);
      return Exprs.scale(c, core);
    });
    rule("mixed-product", "(A(x)B)(C(x)D) = AC(x)BD; (a(x)B)M = a(x)BM; M(a'(x)B) = a'(x)MB; (A(x)b)M = AM(x)b; M(A(x)b') = MA(x)b'",
        Expr.MatMul.class, m -> pairwise(m, Rewrites::mixedProduct));
    rule("vec-trick", "(A(x)B) vec(C) = vec(B C A'); vec(C)'(A(x)B) = vec(B' C A)'", Expr.MatMul.class,
        m -> pairwise(m, Rewrites::vecTrick));
    rule("diag-product", "diag(a)diag(b) = diag(a.*b); diag(a)b = a.*b; b'diag(a) = (a.*b)'; ones(n)'x = sum(x); x'ones(n) = sum(x)",
        Expr.MatMul.class, m -> pairwise(m, Rewrites::diagProduct));
    rule("diag-times-vector", "diag(a) B c = a .* (B c) when B c is a column; r' B diag(a) = ((r' B)' .* a)' when r' B is a row",
        Expr.MatMul.class, m -> {
          List<Expr> f = m.factors();
          for (int i = 0; i < f.size(); i++) {
            if (!(f.get(i) instanceof Expr.DiagMat d)) continue;
            if (i + 2 < f.size() && f.get(f.size() - 1).shape().isColumn()) {
              List<Expr> out = new ArrayList<>(f.subList(0, i));
              out.add(new Expr.Hadamard(List.of(d.vector(), new Expr.MatMul(f.subList(i + 1, f.size())))));
              return product(out);
            }
            if (i >= 2 && f.get(0).shape().rows().isOne()) {
              List<Expr> out = new ArrayList<>();
              out.add(Exprs.transpose(new Expr.Hadamard(List.of(d.vector(), Exprs.transpose(new Expr.MatMul(f.subList(0, i)))))));
              out.addAll(f.subList(i + 1, f.size()));
              return product(out);
            }
          }
          return m;
        });
    rule("distribute-vector-product", "A (B + C) = A B + A C when the product is a vector (gradients are expanded; matrices stay factored)",
        Expr.MatMul.class, m -> {
          if (!m.shape().rows().isOne() && !m.shape().cols().isOne()) return m;
          List<Expr> f = m.factors();
          for (int i = 0; i < f.size(); i++) {
            if (f.get(i) instanceof Expr.Add a) {
              List<Expr> terms = new ArrayList<>();
              for (Expr t : a.terms()) {
                List<Expr> g = new ArrayList<>(f);
                g.set(i, t);
                terms.add(new Expr.MatMul(g));
              }
              return new Expr.Add(terms);
            }
          }
          return m;
        });
    rule("commutation-product", "K_nm K_mn = I; K_pm (A(x)B) K_nq = B(x)A (A m x n, B p x q)", Expr.MatMul.class, m -> {
      Expr r = pairwise(m, (a, b) -> {
        if (a instanceof Expr.Commutation k1 && b instanceof Expr.Commutation k2 && k1.m().equals(k2.n()) && k1.n().equals(k2.m()))
          return new Expr.Eye(k1.m().times(k1.n()));
        return null;
      });
      if (r != m) return r;
      List<Expr> f = m.factors();
      for (int i = 0; i + 2 < f.size(); i++) {
        if (f.get(i) instanceof Expr.Commutation k1 && f.get(i + 1) instanceof Expr.Kron k && f.get(i + 2) instanceof Expr.Commutation k2) {
          Shape a = k.left().shape(), b = k.right().shape();
          if (k1.m().equals(b.rows()) && k1.n().equals(a.rows()) && k2.m().equals(a.cols()) && k2.n().equals(b.cols())) {
            List<Expr> out = new ArrayList<>(f.subList(0, i));
            out.add(new Expr.Kron(k.right(), k.left()));
            out.addAll(f.subList(i + 3, f.size()));
            return product(out);
          }
        }
      }
      return m;
    });

    // ---------------- transposes ----------------
    rule("transpose", "(A')' = A; s' = s; (AB)' = B'A'; (A+B)' = A'+B'; (A(x)B)' = A'(x)B'; diag(a)' = diag(a); I' = I; K_mn' = K_nm; Hz' = Hz; (A.*B)' = A'.*B'; (A.^p)' = (A').^p; inv(S)' = inv(S) for a symmetric S (W*W', A'*B*A with B symmetric)",
        Expr.Transpose.class, t -> {
          Expr a = t.operand();
          if (scalar(a)) return a;
          if (a instanceof Expr.Transpose inner) return inner.operand();
          if (a instanceof Expr.Zero) return new Expr.Zero(t.shape());
          if (a instanceof Expr.Ones) return new Expr.Ones(t.shape());
          if (a instanceof Expr.Eye || a instanceof Expr.DiagMat) return a;
          if (a instanceof Expr.Var v && v.role() == Expr.Role.HESSIAN) return a;
          if (a instanceof Expr.Commutation k) return new Expr.Commutation(k.n(), k.m());
          if (a instanceof Expr.MatMul m) {
            List<Expr> out = new ArrayList<>();
            for (int i = m.factors().size() - 1; i >= 0; i--) out.add(Exprs.transpose(m.factors().get(i)));
            return new Expr.MatMul(out);
          }
          if (a instanceof Expr.Add s) return new Expr.Add(s.terms().stream().map(Exprs::transpose).toList());
          if (a instanceof Expr.Hadamard h) return new Expr.Hadamard(h.factors().stream().map(Exprs::transpose).toList());
          if (a instanceof Expr.Power p) return new Expr.Power(Exprs.transpose(p.base()), p.exponent());
          if (a instanceof Expr.Scale s) return Exprs.scale(s.coefficient(), Exprs.transpose(s.operand()));
          if (a instanceof Expr.ScalarMul s) return new Expr.ScalarMul(s.scalar(), Exprs.transpose(s.operand()));
          if (a instanceof Expr.Kron k) return new Expr.Kron(Exprs.transpose(k.left()), Exprs.transpose(k.right()));
          if (a instanceof Expr.Inv inv && symmetric(inv.matrix())) return a;
          return t;
        });

    // ---------------- Hadamard products ----------------
    rule("hadamard-normalize", "(A.*B).*C = A.*B.*C; A.*0 = 0; A.*ones = A; (cA).*B = c(A.*B); (sA).*B = s(A.*B); A.^p.*A.^q = A.^(p+q); canonical order",
        Expr.Hadamard.class, h -> {
          List<Expr> flat = flattened(h.factors(), Expr.Hadamard.class, Expr.Hadamard::factors);
          double c = 1;
          List<Expr> scalars = new ArrayList<>();
          Map<Expr, Double> powers = new LinkedHashMap<>();
          boolean isScalar = scalar(h);
          for (Expr f : flat) {
            if (zero(f)) return zeroOf(h);
            if (f instanceof Expr.Scale s) {
              c *= s.coefficient();
              f = s.operand();
            }
            if (f instanceof Expr.Num n) {
              c *= n.value();
              continue;
            }
            if (f instanceof Expr.Ones) continue;
            if (f instanceof Expr.ScalarMul sm && !isScalar) {
              scalars.add(sm.scalar());
              f = sm.operand();
            }
            if (f instanceof Expr.Scale s2) {
              c *= s2.coefficient();
              f = s2.operand();
            }
            Expr base = f instanceof Expr.Power p ? p.base() : f;
            double exp = f instanceof Expr.Power p ? p.exponent() : 1;
            powers.merge(base, exp, Double::sum);
          }
          List<Expr> out = new ArrayList<>();
          powers.forEach((b, p) -> {
            if (p == 1) out.add(b);
            else if (p != 0) out.add(new Expr.Power(b, p));
          });
          out.sort((x, y) -> {
            // sums after other factors, reciprocals last (they print as ./), then by text
            int rx = x instanceof Expr.Power px && px.exponent() < 0 ? 2 : x instanceof Expr.Add ? 1 : 0;
            int ry = y instanceof Expr.Power py && py.exponent() < 0 ? 2 : y instanceof Expr.Add ? 1 : 0;
            if (rx != ry) return Integer.compare(rx, ry);
            return Simplifier.ORDER.compare(x, y);
          });
          Expr core = out.isEmpty() ? (isScalar ? new Expr.Num(1) : new Expr.Ones(h.shape())) : hadamard(out);
          if (!scalars.isEmpty()) core = new Expr.ScalarMul(hadamard(scalars), core);
          Expr r = Exprs.scale(c, core);
          return r.equals(h) ? h : r;
        });
    rule("power", "A.^1 = A; A.^0 = ones; (A.^p).^q = A.^(pq) (q integer); c.^p; (cA).^p = c^p A.^p (p integer); (A.*B).^p = A.^p.*B.^p (p integer)",
        Expr.Power.class, p -> {
          double q = p.exponent();
          Expr b = p.base();
          if (q == 1) return b;
          if (q == 0) return scalar(b) ? new Expr.Num(1) : new Expr.Ones(p.shape());
          if (b instanceof Expr.Num n) return new Expr.Num(Math.pow(n.value(), q));
          if (b instanceof Expr.Ones) return b;
          if (b instanceof Expr.Power inner && isInteger(q)) return new Expr.Power(inner.base(), inner.exponent() * q);
          if (b instanceof Expr.Scale s && isInteger(q)) return Exprs.scale(Math.pow(s.coefficient(), q), new Expr.Power(s.operand(), q));
          if (b instanceof Expr.Hadamard h && isInteger(q))
            return new Expr.Hadamard(h.factors().stream().map(f -> (Expr) new Expr.Power(f, q)).toList());
          return p;
        });

    // ---------------- Kronecker products ----------------
    rule("kron", "1(x)A = A(x)1 = A; s(x)A = sA; I_m(x)I_n = I_mn; 0(x)A = 0; (cA)(x)B = c(A(x)B); a(x)b' = b'(x)a = ab'",
        Expr.Kron.class, k -> {
          Expr a = k.left(), b = k.right();
          if (zero(a) || zero(b)) return zeroOf(k);
          if (scalar(a)) return Exprs.scalarMul(a, b);
          if (scalar(b)) return Exprs.scalarMul(b, a);
          if (a instanceof Expr.Eye i && b instanceof Expr.Eye j) return new Expr.Eye(i.n().times(j.n()));
          if (a instanceof Expr.Scale s) return Exprs.scale(s.coefficient(), new Expr.Kron(s.operand(), b));
          if (b instanceof Expr.Scale s) return Exprs.scale(s.coefficient(), new Expr.Kron(a, s.operand()));
          if (a instanceof Expr.ScalarMul s) return new Expr.ScalarMul(s.scalar(), new Expr.Kron(s.operand(), b));
          if (b instanceof Expr.ScalarMul s) return new Expr.ScalarMul(s.scalar(), new Expr.Kron(a, s.operand()));
          if (a.shape().isColumn() && b.shape().rows().isOne()) return new Expr.MatMul(List.of(a, b));
          if (b.shape().isColumn() && a.shape().rows().isOne()) return new Expr.MatMul(List.of(b, a));
          return k;
        });

    // ---------------- vec and reshape ----------------
    rule("vec", "vec(x) = x for a column; vec(cA) = c vec(A); vec(A+B) = vec(A)+vec(B); vec(reshape(A)) = vec(A); vec(0) = 0",
        Expr.Vec.class, v -> {
          Expr a = v.operand();
          if (a.shape().isColumn()) return a;
          if (zero(a)) return zeroOf(v);
          if (a instanceof Expr.Ones) return new Expr.Ones(v.shape());
          if (a instanceof Expr.Scale s) return Exprs.scale(s.coefficient(), new Expr.Vec(s.operand()));
          if (a instanceof Expr.ScalarMul s) return new Expr.ScalarMul(s.scalar(), new Expr.Vec(s.operand()));
          if (a instanceof Expr.Add s) return new Expr.Add(s.terms().stream().map(t -> (Expr) new Expr.Vec(t)).toList());
          if (a instanceof Expr.Reshape r) return new Expr.Vec(r.operand());
          if (a instanceof Expr.Vec) return a;
          return v;
        });
    rule("reshape", "reshape(A) = A when the shape is A's; reshape(vec(A)) = reshape(A); reshape(reshape(A)) = reshape(A)",
        Expr.Reshape.class, r -> {
          Expr a = r.operand();
          if (a.shape().equals(r.target())) return a;
          if (zero(a)) return zeroOf(r);
          if (a instanceof Expr.Vec v) return new Expr.Reshape(v.operand(), r.target());
          if (a instanceof Expr.Reshape inner) return new Expr.Reshape(inner.operand(), r.target());
          if (a instanceof Expr.Scale s) return Exprs.scale(s.coefficient(), new Expr.Reshape(s.operand(), r.target()));
          return r;
        });

    // ---------------- diag, trace, sum ----------------
    rule("diag", "diag(s) = s for 1x1; diag(ones) = I; diag(0) = 0; diag(ca) = c diag(a); diag(diag(a)) = a; diag(I) = ones",
        e -> {
          if (e instanceof Expr.DiagMat d) {
            Expr v = d.vector();
            if (scalar(v)) return v;
            if (v instanceof Expr.Ones) return new Expr.Eye(v.shape().rows());
            if (zero(v)) return zeroOf(d);
            if (v instanceof Expr.Scale s) return Exprs.scale(s.coefficient(), new Expr.DiagMat(s.operand()));
            if (v instanceof Expr.ScalarMul s) return new Expr.ScalarMul(s.scalar(), new Expr.DiagMat(s.operand()));
            return d;
          }
          if (e instanceof Expr.DiagVec d) {
            Expr m = d.matrix();
            if (m instanceof Expr.DiagMat inner) return inner.vector();
            if (m instanceof Expr.Eye i) return new Expr.Ones(Shape.vector(i.n()));
            if (zero(m)) return zeroOf(d);
            if (scalar(m)) return m;
          }
          return e;
        });
    rule("trace", "tr(s) = s; tr(cA) = c tr(A); tr(A+B) = tr(A)+tr(B); tr(AB) = tr(BA) when BA is 1x1; tr(A(x)B) = tr(A)tr(B); tr(0) = 0",
        Expr.Trace.class, t -> {
          Expr a = t.matrix();
          Expr linear = linearFunctional(t, a, Expr.Trace::new);
          if (linear != null) return linear;
          if (a instanceof Expr.Kron k) return new Expr.Hadamard(List.of(new Expr.Trace(k.left()), new Expr.Trace(k.right())));
          if (a instanceof Expr.Eye i && i.n().isConstant()) return new Expr.Num(i.n().constant());
          if (a instanceof Expr.MatMul m) {
            List<Expr> f = m.factors();
            for (int i = 1; i < f.size(); i++) {
              if (f.get(i).shape().rows().isOne()) {
                List<Expr> rot = new ArrayList<>(f.subList(i, f.size()));
                rot.addAll(f.subList(0, i));
                return new Expr.MatMul(rot);
              }
            }
          }
          return t;
        });
    rule("sum", "sum(s) = s; sum(cA) = c sum(A); sum(A+B) = sum(A)+sum(B); sum(0) = 0; sum(ones(m,n)) = m*n; sum(softmax(x)) = 1",
        Expr.Sum.class, s -> {
          Expr a = s.operand();
          Expr linear = linearFunctional(s, a, Expr.Sum::new);
          if (linear != null) return linear;
          if (a instanceof Expr.Ones) return count(a.shape().numel());
          if (a instanceof Expr.Softmax) return count(a.shape().cols()); // each column sums to 1
          if (a instanceof Expr.Vec v) return new Expr.Sum(v.operand());
          return s;
        });

    // ---------------- linear maps of zero ----------------
    rule("linear-of-zero", "unfold(0) = gather(0) = 0", e -> {
      if ((e instanceof Expr.Unfold u && zero(u.tensor())) || (e instanceof Expr.Gather g && zero(g.source()))) return zeroOf(e);
      return e;
    });

    // ---------------- elementwise functions ----------------
    rule("derivative-atomic", "f^(k)(X) is expanded when its formula is a constant or a single function of t (relu'' = 0, relu' = step, exp' = exp)",
        Expr.Apply.class, a -> {
          if (a.order() == 0) return a;
          Expr f = a.function().derivativeFormula(a.order());
          return atomic(f) ? a.function().derivativeOf(a.order(), a.argument()) : a;
        });
    rule("log-exp", "log(exp(X)) = X; exp(log(X)) = X; log(softmax(x)) = x - logsumexp(x)*ones(n)", Expr.Apply.class, a -> {
      if (a.order() != 0) return a;
      String f = a.function().name();
      Expr x = a.argument();
      if (f.equals("log") && x instanceof Expr.Apply in && in.order() == 0 && in.function().name().equals("exp")) return in.argument();
      if (f.equals("exp") && x instanceof Expr.Apply in && in.order() == 0 && in.function().name().equals("log")) return in.argument();
      Expr.Softmax s = Exprs.logOfSoftmaxArgument(a); // column-wise: S - ones(m)*logsumexp_cols(S)
      if (s != null) return Exprs.logSoftmax(s);
      return a;
    });

    TextbookRewrites.register(ALL);
    IdentityVecContraction.register(ALL);
  }

  /** A derivative formula simple enough to be shown expanded even in compact form. */
  private static boolean atomic(Expr f) {
    if (f instanceof Expr.Scale s) return atomic(s.operand());
    if (f instanceof Expr.Power p) return p.base() instanceof Expr.Var;
    if (f instanceof Expr.Apply a) return a.order() == 0 && a.argument() instanceof Expr.Var;
    return f instanceof Expr.Zero || f instanceof Expr.Num || f instanceof Expr.Ones || f instanceof Expr.Var;
  }

  /** Applies a rule to the first adjacent pair of factors it fits. */
  static Expr pairwise(Expr.MatMul m, BinaryOperator<Expr> pair) {
    List<Expr> f = m.factors();
    for (int i = 0; i + 1 < f.size(); i++) {
      Expr r = pair.apply(f.get(i), f.get(i + 1));
      if (r != null) {
        List<Expr> out = new ArrayList<>(f.subList(0, i));
        out.add(r);
        out.addAll(f.subList(i + 2, f.size()));
        return product(out);
      }
    }
    return m;
  }

  private static Expr mixedProduct(Expr x, Expr y) {
    if (x instanceof Expr.Kron a && y instanceof Expr.Kron b) {
      if (a.left().shape().cols().equals(b.left().shape().rows()) && a.right().shape().cols().equals(b.right().shape().rows()))
        return new Expr.Kron(Exprs.mul(a.left(), b.left()), Exprs.mul(a.right(), b.right()));
    }
    if (x instanceof Expr.Kron a) {
      if (a.left().shape().cols().isOne() && a.right().shape().cols().equals(y.shape().rows()))
        return new Expr.Kron(a.left(), Exprs.mul(a.right(), y));
      if (a.right().shape().cols().isOne() && a.left().shape().cols().equals(y.shape().rows()))
        return new Expr.Kron(Exprs.mul(a.left(), y), a.right());
    }
    if (y instanceof Expr.Kron b) {
      if (b.left().shape().rows().isOne() && x.shape().cols().equals(b.right().shape().rows()))
        return new Expr.Kron(b.left(), Exprs.mul(x, b.right()));
      if (b.right().shape().rows().isOne() && x.shape().cols().equals(b.left().shape().rows()))
        return new Expr.Kron(Exprs.mul(x, b.left()), b.right());
    }
    return null;
  }

  private static Expr vecTrick(Expr x, Expr y) {
    if (x instanceof Expr.Kron k && y instanceof Expr.Vec v) {
      Shape c = v.operand().shape();
      if (c.isMatrixLike() && c.rows().equals(k.right().shape().cols()) && c.cols().equals(k.left().shape().cols()))
        return new Expr.Vec(new Expr.MatMul(List.of(k.right(), v.operand(), Exprs.transpose(k.left()))));
    }
    if (x instanceof Expr.Transpose t && t.operand() instanceof Expr.Vec v && y instanceof Expr.Kron k) {
      Shape c = v.operand().shape();
      if (c.isMatrixLike() && c.rows().equals(k.right().shape().rows()) && c.cols().equals(k.left().shape().rows()))
        return Exprs.transpose(new Expr.Vec(new Expr.MatMul(List.of(Exprs.transpose(k.right()), v.operand(), k.left()))));
    }
    return null;
  }

  private static Expr diagProduct(Expr x, Expr y) {
    if (x instanceof Expr.DiagMat a && y instanceof Expr.DiagMat b)
      return new Expr.DiagMat(new Expr.Hadamard(List.of(a.vector(), b.vector())));
    if (x instanceof Expr.DiagMat a && y.shape().isColumn()) return new Expr.Hadamard(List.of(a.vector(), y));
    if (y instanceof Expr.DiagMat a && x.shape().rows().isOne())
      return Exprs.transpose(new Expr.Hadamard(List.of(a.vector(), Exprs.transpose(x))));
    if (x instanceof Expr.Ones && x.shape().rows().isOne() && y.shape().isColumn()) return new Expr.Sum(y);
    if (y instanceof Expr.Ones && y.shape().isColumn() && x.shape().rows().isOne()) return new Expr.Sum(Exprs.transpose(x));
    return null;
  }

  /** The number {@code d} as an expression: a constant, or the dim itself. */
  private static Expr count(Dim d) {
    return d.isConstant() ? new Expr.Num(d.constant()) : new Expr.DimValue(d);
  }

  /**
   * Whether {@code a} is symmetric by its structure: I, diag(a), the Hessian flowing back, a product
   * equal to its reversed transpose (W*W', A'*B*A with B symmetric), or a sum, scaling or inverse
   * of such. False says nothing (a variable declared spd is not seen here).
   */
  static boolean symmetric(Expr a) {
    if (a instanceof Expr.Eye || a instanceof Expr.DiagMat) return true;
    if (a instanceof Expr.Var v) return v.role() == Expr.Role.HESSIAN;
    if (a instanceof Expr.Scale s) return symmetric(s.operand());
    if (a instanceof Expr.ScalarMul s) return symmetric(s.operand());
    if (a instanceof Expr.Add s) return s.terms().stream().allMatch(Rewrites::symmetric);
    if (a instanceof Expr.Inv i) return symmetric(i.matrix());
    if (a instanceof Expr.MatMul m) {
      List<Expr> f = m.factors();
      int n = f.size();
      for (int i = 0; i < n / 2; i++) if (!f.get(i).equals(transposeOf(f.get(n - 1 - i)))) return false;
      return n % 2 == 0 || symmetric(f.get(n / 2));
    }
    return false;
  }

  /** a' with a double transpose cancelled (for comparing factors, not simplified further). */
  private static Expr transposeOf(Expr a) {
    return a instanceof Expr.Transpose t ? t.operand() : new Expr.Transpose(a);
  }
}
