package org.hbp.dsl;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.hbp.calculus.Dim;
import org.hbp.calculus.DimNames;
import org.hbp.calculus.Expr;
import org.hbp.calculus.Shape;
import org.hbp.calculus.Simplifier;

/**
 * A checked {@code module} or {@code loss} declaration: its dims, its variables by role, its
 * output expression in the typed IR, (for losses) its assumptions as rewrites, the
 * {@link Domain} of every variable (declared, or the default), how each declared index variable
 * is computed ({@link IndexDecl}, by index variable; an index variable without one can be derived
 * and verified but not run in a network), and where it ({@code line}, {@code column}: its first token,
 * 1-based), each variable and the output's subexpressions ({@link ExprPlaces}) are written.
 */
public record ModuleSpec(
    String name,
    boolean isLoss,
    String source,
    int line,
    int column,
    List<Dim> dims,
    Map<String, Dim> derivedDims,
    List<Expr.Var> variables,
    Expr.Var output,
    Expr outputExpr,
    List<Simplifier.Rewrite> assumptions,
    Map<String, Domain> domains,
    Map<String, IndexDecl> indexDecls,
    Map<String, Place> places,
    List<Assumed> assumed,
    ExprPlaces exprPlaces) {

  /** A place in the spec's source: 1-based line and column. */
  public record Place(int line, int column) {}

  /**
   * Where the nodes of the output expression were written, by node identity (a let's nodes where
   * the let is defined): for messages only, so not part of a spec's value (any two are equal).
   */
  public static final class ExprPlaces {
    /** No places known. */
    public static final ExprPlaces NONE = new ExprPlaces(new IdentityHashMap<>());
    private final IdentityHashMap<Expr, Place> places;

    ExprPlaces(IdentityHashMap<Expr, Place> places) {
      this.places = places;
    }

    /** Where node (inside root) was written: its own place, else that of its nearest enclosing node that has one; null if none. */
    public Place of(Expr root, Expr node) {
      List<Expr> path = new ArrayList<>();
      if (!pathTo(root, node, path, new IdentityHashMap<>())) return null;
      for (int i = path.size() - 1; i >= 0; i--) {
        Place p = places.get(path.get(i));
        if (p != null) return p;
      }
      return null;
    }

    private static boolean pathTo(Expr e, Expr node, List<Expr> path, IdentityHashMap<Expr, Boolean> seen) {
      if (seen.put(e, Boolean.TRUE) != null) return false;
      path.add(e);
      if (e == node) return true;
      for (Expr c : org.hbp.calculus.Exprs.children(e)) if (pathTo(c, node, path, seen)) return true;
      path.remove(path.size() - 1);
      return false;
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof ExprPlaces;
    }

    @Override
    public int hashCode() {
      return 0;
    }

    @Override
    public String toString() {
      return "ExprPlaces[" + places.size() + "]";
    }
  }

  /**
   * An {@code assume lhs == rhs;} of the spec as written: its sides in the typed IR (lets
   * inlined, not simplified), the source text of each side ({@code sum(y)}, {@code 1}) and where
   * it is (the {@code assume} keyword). The derivation uses it as a rewrite ({@link #assumptions});
   * a network checks it on each batch's targets ({@code TorchLayout.targets}).
   */
  public record Assumed(Expr lhs, Expr rhs, String lhsText, String rhsText, Place place) {
    /** The assumption as written: {@code assume sum(y) == 1}. */
    public String text() {
      return "assume " + lhsText + " == " + rhsText;
    }
  }

  public ModuleSpec {
    Map<String, Domain> all = new LinkedHashMap<>();
    for (Expr.Var v : variables) all.put(v.name(), domains.getOrDefault(v.name(), Domain.REAL));
    domains = Collections.unmodifiableMap(all);
    indexDecls = Collections.unmodifiableMap(new LinkedHashMap<>(indexDecls));
    places = Collections.unmodifiableMap(new LinkedHashMap<>(places));
    assumed = List.copyOf(assumed);
  }

  /** A spec without the assumptions' source forms (its rewrites only). */
  public ModuleSpec(String name, boolean isLoss, String source, int line, int column, List<Dim> dims, Map<String, Dim> derivedDims,
      List<Expr.Var> variables, Expr.Var output, Expr outputExpr, List<Simplifier.Rewrite> assumptions, Map<String, Domain> domains,
      Map<String, IndexDecl> indexDecls, Map<String, Place> places) {
    this(name, isLoss, source, line, column, dims, derivedDims, variables, output, outputExpr, assumptions, domains, indexDecls, places, List.of(), ExprPlaces.NONE);
  }

  /** A spec without index declarations or places of its variables. */
  public ModuleSpec(String name, boolean isLoss, String source, int line, List<Dim> dims, Map<String, Dim> derivedDims,
      List<Expr.Var> variables, Expr.Var output, Expr outputExpr, List<Simplifier.Rewrite> assumptions, Map<String, Domain> domains) {
    this(name, isLoss, source, line, 1, dims, derivedDims, variables, output, outputExpr, assumptions, domains, Map.of(), Map.of());
  }

  /** A spec whose variables all have their default domain {@link Domain#REAL}. */
  public ModuleSpec(String name, boolean isLoss, String source, int line, List<Dim> dims, Map<String, Dim> derivedDims,
      List<Expr.Var> variables, Expr.Var output, Expr outputExpr, List<Simplifier.Rewrite> assumptions) {
    this(name, isLoss, source, line, dims, derivedDims, variables, output, outputExpr, assumptions, Map.of());
  }

  /** How a network computes the index variable {@code variable}, where the spec declares it. */
  public Optional<IndexDecl> indexDecl(String variable) {
    return Optional.ofNullable(indexDecls.get(variable));
  }

  /**
   * Where a variable is declared, or (for the output's name) where the output's expression starts;
   * the module's line, column 1, where that is not known.
   */
  public Place place(String variable) {
    return places.getOrDefault(variable, new Place(line, 1));
  }

  /** The domain of a variable of this spec ({@link Domain#REAL} for any other name). */
  public Domain domain(String variable) {
    return domains.getOrDefault(variable, Domain.REAL);
  }

  public List<Expr.Var> withRole(Expr.Role role) {
    List<Expr.Var> out = new ArrayList<>();
    for (Expr.Var v : variables) if (v.role() == role) out.add(v);
    return out;
  }

  /** The inputs followed by the parameters: what HBP rules are derived for. */
  public List<Expr.Var> differentiable() {
    List<Expr.Var> out = new ArrayList<>(withRole(Expr.Role.INPUT));
    out.addAll(withRole(Expr.Role.PARAM));
    return out;
  }

  /** {@code dz}: the gradient flowing back into the output, shaped like the output. */
  public Expr.Var outputGradient() {
    return new Expr.Var("d" + output.name(), output.shape(), Expr.Role.GRADIENT);
  }

  /** {@code Hz}: the Hessian flowing back, numel(z) x numel(z), symmetric. */
  public Expr.Var outputHessian() {
    Dim n = output.shape().numel();
    return new Expr.Var("H" + output.name(), Shape.matrix(n, n), Expr.Role.HESSIAN);
  }

  /**
   * Names to print dims by: each derived dim, and the product of any two (the patch count
   * oh*ow of a convolution), found on lookup ({@link org.hbp.calculus.DimNames}).
   */
  public Map<Dim, String> dimNames() {
    return new DimNames(derivedDims);
  }

  /**
   * The simplifier with this spec's assumptions and what its domains allow: {@code abs(x) = x} for
   * a positive x, and {@code sum(y) == 1} for a vector target or data y declared {@code onehot} or
   * {@code probability} (what the domain means: its entries sum to 1), as if the spec said
   * {@code assume sum(y) == 1;}.
   */
  public Simplifier simplifier() {
    List<Simplifier.Rewrite> all = new ArrayList<>(assumptions);
    for (Expr.Var v : variables) {
      Domain d = domain(v.name());
      if (d == Domain.POSITIVE) all.add(Simplifier.positive(v));
      if ((d == Domain.ONEHOT || d == Domain.PROBABILITY) && v.shape().isColumn() && !v.shape().isScalar())
        all.add(Simplifier.assumption(new Expr.Sum(v), new Expr.Num(1)));
    }
    return new Simplifier(all);
  }
}
