package org.hbp.codegen;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.UnaryOperator;
import org.hbp.calculus.Dim;
import org.hbp.calculus.DimFactoring;
import org.hbp.calculus.Expr;
import org.hbp.calculus.Printer;
import org.hbp.calculus.Shape;
import org.hbp.dsl.ModuleSpec;

/**
 * How one generated class writes the dims, shapes and expressions of its module: as Java int
 * expressions over its dim fields ({@code c * oh * ow}) and, for comments, in the DSL's syntax.
 * A pure function of the module (the cache only remembers factorings already found).
 */
final class Notation {
  private final Map<Dim, String> dimNames;
  private final DimFactoring factoring;
  /** Java forms: the derived dims' fields, then factorings found so far. */
  private final Map<Dim, String> javaDims = new HashMap<>();

  Notation(ModuleSpec m) {
    this.dimNames = m.dimNames();
    this.factoring = new DimFactoring(m.derivedDims());
    for (var e : m.derivedDims().entrySet()) javaDims.putIfAbsent(e.getValue(), Names.dimField(e.getKey()));
  }

  /** A Java int expression for a dimension. */
  String dim(Dim d) {
    String named = javaDims.get(d);
    if (named != null) return named;
    List<String> factored = factorByDerived(d, q -> q.toJava(Names::dimField), Names::dimField);
    if (factored != null) {
      String j = String.join(" * ", factored);
      javaDims.put(d, j);
      return j;
    }
    String s = d.toJava(Names::dimField);
    return d.isConstant() || d.isSymbol() || d.isMonomial() ? s : "(" + s + ")";
  }

  /** A dimension in the DSL's syntax, for comments. */
  String dimText(Dim d) {
    String named = dimNames.get(d);
    if (named != null) return named;
    List<String> factored = factorByDerived(d, Dim::toString, x -> x);
    return factored != null ? String.join("*", factored) : d.toString();
  }

  /** An expression in the DSL's syntax with the module's dim names, for comments. */
  String text(Expr e) {
    return Printer.text(e, dimNames);
  }

  /** A shape in the DSL's syntax, e.g. {@code matrix(m, n)}. */
  String shapeText(Shape s) {
    return Printer.type(s, dimNames);
  }

  /** The rows of a per-sample item of shape s (its first dim), in Java. */
  String rows(Shape s) {
    return dim(s.dims().get(0));
  }

  /** The columns of a per-sample item of shape s (the product of its other dims), in Java. */
  String cols(Shape s) {
    Dim c = Dim.ONE;
    for (int i = 1; i < s.dims().size(); i++) c = c.times(s.dims().get(i));
    return dim(c);
  }

  /**
   * d as q * (a product of up to three derived dims), e.g. c*oh*ow, which reads better than its
   * expanded polynomial: the factors' texts, or null. Fewer factors first, then the first
   * derived dims, then the order of q among d's monomials.
   */
  private List<String> factorByDerived(Dim d, Function<Dim, String> monomial, UnaryOperator<String> name) {
    for (int k = 1; k <= 3; k++) {
      int[] best = null;
      Dim bestQ = null;
      for (Dim q : d.symbolMonomials()) {
        int[] f = factoring.factor(d, q, k);
        if (f != null && (best == null || Arrays.compare(f, best) < 0)) {
          best = f;
          bestQ = q;
        }
      }
      if (best != null) {
        List<String> factors = new ArrayList<>();
        if (!bestQ.isOne()) factors.add(monomial.apply(bestQ));
        for (int i : best) factors.add(name.apply(factoring.name(i)));
        return factors;
      }
    }
    return null;
  }
}
