package org.hbp.calculus;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Function;

/**
 * A symbolic dimension: a polynomial with integer coefficients in dimension symbols and
 * floor-quotients, kept in a normal form so that equal dimensions are equal objects.
 *
 * <p>Examples: {@code n}, {@code m*n}, {@code c*k*k}, {@code (h + 2*p - d*(k - 1) - 1)/s + 1}. The
 * normal form maps each monomial (a sorted list of atoms) to its coefficient; atoms are symbols or
 * floor quotients of two normal forms.
 */
public final class Dim implements Comparable<Dim> {
  /** An atom of a monomial: a dimension symbol, or {@code floor(num / den)}. */
  private record Atom(String symbol, Dim num, Dim den) implements Comparable<Atom> {
    @Override
    public int compareTo(Atom o) {
      return toString().compareTo(o.toString());
    }

    @Override
    public String toString() {
      return symbol != null ? symbol : num.toStringAtomic() + "/" + den.toStringAtomic();
    }

    /** As a factor of a product: a quotient is parenthesized so that it reads back the same. */
    String asFactor(boolean alone) {
      return symbol != null || alone ? toString() : "(" + this + ")";
    }
  }

  /** monomial (sorted atoms, possibly empty for the constant term) -> coefficient (never 0). */
  private final TreeMap<List<Atom>, Long> terms;

  private static final Comparator<List<Atom>> MONO_ORDER = (a, b) -> {
    if (a.size() != b.size()) return Integer.compare(b.size(), a.size());
    for (int i = 0; i < a.size(); i++) {
      int c = a.get(i).compareTo(b.get(i));
      if (c != 0) return c;
    }
    return 0;
  };

  private Dim(TreeMap<List<Atom>, Long> terms) {
    this.terms = terms;
  }

  public static final Dim ONE = of(1);
  public static final Dim ZERO = of(0);

  public static Dim of(long value) {
    TreeMap<List<Atom>, Long> t = new TreeMap<>(MONO_ORDER);
    if (value != 0) t.put(List.of(), value);
    return new Dim(t);
  }

  public static Dim sym(String name) {
    TreeMap<List<Atom>, Long> t = new TreeMap<>(MONO_ORDER);
    t.put(List.of(new Atom(name, null, null)), 1L);
    return new Dim(t);
  }

  public Dim plus(Dim o) {
    TreeMap<List<Atom>, Long> t = new TreeMap<>(MONO_ORDER);
    t.putAll(terms);
    o.terms.forEach((m, c) -> t.merge(m, c, Math::addExact));
    t.values().removeIf(c -> c == 0);
    return new Dim(t);
  }

  public Dim minus(Dim o) {
    return plus(o.times(of(-1))); // exact: overflow throws ArithmeticException
  }

  public Dim times(Dim o) {
    TreeMap<List<Atom>, Long> t = new TreeMap<>(MONO_ORDER);
    for (var a : terms.entrySet()) {
      for (var b : o.terms.entrySet()) {
        List<Atom> mono = new ArrayList<>(a.getKey());
        mono.addAll(b.getKey());
        Collections.sort(mono);
        t.merge(List.copyOf(mono), Math.multiplyExact(a.getValue(), b.getValue()), Math::addExact);
      }
    }
    t.values().removeIf(c -> c == 0);
    return new Dim(t);
  }

  /** Floor division; exact when both are constants, or when the divisor is 1. */
  public Dim floorDiv(Dim den) {
    if (den.isConstant() && den.constant() == 0) throw new ArithmeticException("division of a dimension by 0");
    if (den.equals(ONE)) return this;
    if (isConstant() && den.isConstant()) return of(Math.floorDiv(constant(), den.constant()));
    if (den.isConstant()) {
      long d = den.constant();
      boolean divisible = terms.values().stream().allMatch(c -> c % d == 0);
      if (divisible) {
        TreeMap<List<Atom>, Long> t = new TreeMap<>(MONO_ORDER);
        terms.forEach((m, c) -> t.put(m, c / d));
        return new Dim(t);
      }
    }
    if (equals(den)) return ONE;
    TreeMap<List<Atom>, Long> t = new TreeMap<>(MONO_ORDER);
    t.put(List.of(new Atom(null, this, den)), 1L);
    return new Dim(t);
  }

  public boolean isConstant() {
    return terms.isEmpty() || (terms.size() == 1 && terms.firstKey().isEmpty());
  }

  /** The value of a constant dimension. */
  public long constant() {
    if (!isConstant()) throw new IllegalStateException("dimension " + this + " is not a constant");
    return terms.isEmpty() ? 0 : terms.firstEntry().getValue();
  }

  /**
   * Whether this dimension is below 1 for every value of its symbols (each symbol at least 1): a
   * constant below 1, or a polynomial in symbols only whose non-constant terms all have
   * non-positive coefficients and whose value at all symbols 1 (its largest) is below 1, such as
   * {@code n - n}, {@code -n} or {@code 2 - 2*n}. A dimension with a floor quotient is never
   * decided here.
   */
  public boolean neverPositive() {
    long atOnes = 0;
    for (var e : terms.entrySet()) {
      for (Atom a : e.getKey()) if (a.symbol == null) return false;
      if (!e.getKey().isEmpty() && e.getValue() > 0) return false;
      atOnes += e.getValue();
    }
    return atOnes < 1;
  }

  public boolean isOne() {
    return isConstant() && constant() == 1;
  }

  /** The dimension symbols this dimension mentions. */
  public SortedSet<String> symbols() {
    TreeSet<String> out = new TreeSet<>();
    for (List<Atom> m : terms.keySet()) {
      for (Atom a : m) {
        if (a.symbol != null) out.add(a.symbol);
        else {
          out.addAll(a.num.symbols());
          out.addAll(a.den.symbols());
        }
      }
    }
    return out;
  }

  /**
   * Evaluates with the given symbol values; throws naming the first unbound symbol, and an
   * IllegalArgumentException naming the dimension when its value overflows 64 bits.
   */
  public long evaluate(Map<String, Long> values) {
    try {
      long sum = 0;
      for (var e : terms.entrySet()) {
        long p = e.getValue();
        for (Atom a : e.getKey()) {
          if (a.symbol != null) {
            Long v = values.get(a.symbol);
            if (v == null) throw new IllegalArgumentException("dimension '" + a.symbol + "' is not bound");
            p = Math.multiplyExact(p, v);
          } else {
            long den = a.den.evaluate(values);
            if (den == 0) throw new ArithmeticException("division by zero in dimension " + this);
            p = Math.multiplyExact(p, Math.floorDiv(a.num.evaluate(values), den));
          }
        }
        sum = Math.addExact(sum, p);
      }
      return sum;
    } catch (ArithmeticException e) {
      if (e.getMessage() != null && e.getMessage().startsWith("division by zero")) throw e;
      throw new IllegalArgumentException("dimension " + this + " overflows 64-bit integers at " + values);
    }
  }

  /** Replaces symbols by dimensions. */
  public Dim substitute(Map<String, Dim> values) {
    Dim out = ZERO;
    for (var e : terms.entrySet()) {
      Dim p = of(e.getValue());
      for (Atom a : e.getKey()) {
        if (a.symbol != null) p = p.times(values.getOrDefault(a.symbol, sym(a.symbol)));
        else p = p.times(a.num.substitute(values).floorDiv(a.den.substitute(values)));
      }
      out = out.plus(p);
    }
    return out;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Dim d && terms.equals(d.terms);
  }

  /** The prime modulus of {@link #fingerprint}. */
  public static final long FINGERPRINT_PRIME = 2147483647L;

  private long fingerprint = -1;

  /**
   * This dimension evaluated modulo the prime p = 2^31 - 1 with every atom (a symbol, or a floor
   * quotient taken as a symbol of its own) replaced by a fixed pseudo-random value from its text.
   * As the normal form is a polynomial in the atoms, this is a ring homomorphism: equal dims have
   * equal fingerprints, {@code fp(a*b) = fp(a)*fp(b)} and {@code fp(a+b) = fp(a)+fp(b)} mod p;
   * unequal dims rarely collide. Used to find products of named dims fast (then checked exactly).
   */
  public long fingerprint() {
    long f = fingerprint;
    if (f < 0) {
      f = 0;
      for (var e : terms.entrySet()) {
        long t = Math.floorMod(e.getValue(), FINGERPRINT_PRIME);
        for (Atom a : e.getKey()) t = t * atomValue(a.toString()) % FINGERPRINT_PRIME;
        f = (f + t) % FINGERPRINT_PRIME;
      }
      fingerprint = f;
    }
    return f;
  }

  /** A value in [1, p) from an atom's text (FNV-1a, then reduced). */
  private static long atomValue(String text) {
    long h = 0xcbf29ce484222325L;
    for (int i = 0; i < text.length(); i++) {
      h ^= text.charAt(i);
      h *= 0x100000001b3L;
    }
    return Math.floorMod(h, FINGERPRINT_PRIME - 1) + 1;
  }

  /** The hash code, computed once (a dim is immutable; hashing prints it). */
  private int hash;

  @Override
  public int hashCode() {
    int h = hash;
    if (h == 0) {
      h = Objects.hash(terms.toString());
      hash = h;
    }
    return h;
  }

  @Override
  public int compareTo(Dim o) {
    return toString().compareTo(o.toString());
  }

  /** Prints in the DSL's dimension syntax, e.g. {@code c*k*k} or {@code h + 2*p}. */
  @Override
  public String toString() {
    if (terms.isEmpty()) return "0";
    StringBuilder sb = new StringBuilder();
    boolean first = true;
    List<Map.Entry<List<Atom>, Long>> ordered = new ArrayList<>();
    for (var e : terms.entrySet()) if (e.getValue() > 0 && !e.getKey().isEmpty()) ordered.add(e);
    for (var e : terms.entrySet()) if (e.getValue() < 0 && !e.getKey().isEmpty()) ordered.add(e);
    for (var e : terms.entrySet()) if (e.getKey().isEmpty()) ordered.add(e);
    for (var e : ordered) {
      long c = e.getValue();
      List<Atom> mono = e.getKey();
      if (first) {
        if (c < 0) sb.append("-");
      } else {
        sb.append(c < 0 ? " - " : " + ");
      }
      long ac = Math.abs(c);
      StringBuilder m = new StringBuilder();
      for (Atom a : mono) {
        if (m.length() > 0) m.append("*");
        m.append(a.asFactor(mono.size() == 1 && ac == 1));
      }
      if (mono.isEmpty()) sb.append(ac);
      else if (ac == 1) sb.append(m);
      else sb.append(ac).append("*").append(m);
      first = false;
    }
    return sb.toString();
  }

  /**
   * This dimension as a Java {@code int} expression (for generated code): symbols are mapped by
   * {@code symbol}, floor quotients become {@code Math.floorDiv(num, den)}.
   */
  public String toJava(Function<String, String> symbol) {
    if (terms.isEmpty()) return "0";
    StringBuilder sb = new StringBuilder();
    for (var e : terms.entrySet()) {
      long c = e.getValue();
      List<String> factors = new ArrayList<>();
      for (Atom a : e.getKey())
        factors.add(a.symbol != null ? symbol.apply(a.symbol)
            : "Math.floorDiv(" + a.num.toJava(symbol) + ", " + a.den.toJava(symbol) + ")");
      if (Math.abs(c) != 1 || factors.isEmpty()) factors.add(0, Long.toString(Math.abs(c)));
      String term = String.join(" * ", factors);
      if (sb.length() == 0) sb.append(c < 0 ? "-" + term : term);
      else sb.append(c < 0 ? " - " : " + ").append(term);
    }
    return sb.toString();
  }

  /**
   * For each term, the monomial of its coefficient and plain symbols (floor quotients left out):
   * the candidates q for writing this dimension as {@code q * (derived dims)}.
   */
  public Set<Dim> symbolMonomials() {
    Set<Dim> out = new LinkedHashSet<>();
    for (var e : terms.entrySet()) {
      Dim q = of(e.getValue());
      for (Atom a : e.getKey()) if (a.symbol != null) q = q.times(sym(a.symbol));
      out.add(q);
    }
    return out;
  }

  /** Whether this is a single term (a product of atoms with a positive coefficient). */
  public boolean isMonomial() {
    return terms.size() == 1 && terms.firstEntry().getValue() > 0;
  }

  /** Whether this is one symbol. */
  public boolean isSymbol() {
    return terms.size() == 1 && terms.firstEntry().getValue() == 1 && terms.firstKey().size() == 1
        && terms.firstKey().get(0).symbol != null;
  }

  /** Printed so that it can be a factor of a product: parenthesized when it is a sum. */
  public String toStringAtomic() {
    String s = toString();
    return terms.size() > 1 || (terms.size() == 1 && terms.firstEntry().getValue() < 0) ? "(" + s + ")" : s;
  }
}
