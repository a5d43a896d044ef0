package org.hbp.calculus;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.UnaryOperator;
import org.hbp.UserError;

/**
 * Canonicalization by small pure rewrites run bottom-up to a fixed point. Each {@link Rewrite}
 * documents the identity it applies and returns its input unchanged (the same object) when it does
 * not apply. The canonical forms are those of the paper's Table 1: numeric coefficients outside,
 * transposes pushed to the leaves, Kronecker products merged by the mixed-product rule, terms and
 * Hadamard factors in a fixed order, like terms collected.
 */
public final class Simplifier {
  /** One rewrite: its name, the identity it applies, and the function. */
  public record Rewrite(String name, String identity, UnaryOperator<Expr> apply) {}

  private final List<Rewrite> rewrites;

  public Simplifier(List<Rewrite> extra) {
    List<Rewrite> all = new ArrayList<>(Rewrites.ALL);
    all.addAll(extra);
    this.rewrites = List.copyOf(all);
  }

  private static final Simplifier DEFAULT = new Simplifier(List.of());

  /** Simplifies with the built-in rewrites. */
  public static Expr simplify(Expr e) {
    return DEFAULT.run(e);
  }

  /**
   * An assumption {@code lhs == rhs} as a rewrite (lhs is simplified first). It may mention no
   * variable that is differentiated (an input or a parameter): an equation that holds on a set
   * with no interior, such as {@code sum(x) == 1}, does not hold for the derivatives, and
   * rewriting by it would change them. The DSL refuses such assumptions with a positioned
   * error; this is the last guard.
   */
  public static Rewrite assumption(Expr lhs, Expr rhs) {
    for (Expr side : List.of(lhs, rhs))
      for (Expr.Var v : Exprs.variables(side))
        if (v.role() == Expr.Role.INPUT || v.role() == Expr.Role.PARAM)
          throw new UserError("an assumption may not mention " + v.name() + ", which is differentiated");
    Expr l = simplify(lhs), r = simplify(rhs);
    return new Rewrite("assume " + Printer.text(l) + " == " + Printer.text(r), "assumption",
        e -> e.equals(l) ? r : e);
  }

  /**
   * What a positive variable x allows, on the open set where it lives (so derivatives are kept):
   * {@code abs(x) = x}, {@code abs'(x) = sign(x) = 1}, {@code abs''(x) = 0}.
   */
  public static Rewrite positive(Expr.Var x) {
    return new Rewrite("positive " + x.name(), "abs(x) = x, abs'(x) = 1, abs''(x) = 0 for x > 0", e -> {
      if (!(e instanceof Expr.Apply a) || !a.argument().equals(x) || !a.function().name().equals("abs")) return e;
      if (a.order() == 0) return x;
      return a.order() == 1 ? new Expr.Ones(x.shape()) : new Expr.Zero(x.shape());
    });
  }

  private static final int MAX_PASSES = 500;

  public Expr run(Expr e) {
    for (int pass = 0; pass < MAX_PASSES; pass++) {
      Expr next = Exprs.transformUp(e, this::atNode);
      if (next.equals(e)) return e;
      e = next;
    }
    throw new IllegalStateException("simplifier did not reach a fixed point after " + MAX_PASSES + " passes: " + Printer.text(e));
  }

  private Expr atNode(Expr e) {
    for (int round = 0; round < 100; round++) {
      Expr before = e;
      for (Rewrite r : rewrites) {
        Expr next = r.apply().apply(e);
        if (next != e) {
          if (!next.shape().equals(e.shape()))
            throw new IllegalStateException("rewrite " + r.name() + " changed the shape " + e.shape() + " -> " + next.shape()
                + " of " + Printer.text(e));
          e = next;
          if (!Objects.equals(e.getClass(), before.getClass())) return e; // node changed kind: let the next pass see its children
        }
      }
      if (e.equals(before)) return e;
    }
    return e;
  }

  /** The canonical order of terms and factors. */
  static final Comparator<Expr> ORDER = Comparator.comparing(Printer::text);

  /** Lookup of rewrites by name, for tests and documentation. */
  public static Map<String, Rewrite> byName() {
    Map<String, Rewrite> m = new LinkedHashMap<>();
    for (Rewrite r : Rewrites.ALL) m.put(r.name(), r);
    return m;
  }
}
