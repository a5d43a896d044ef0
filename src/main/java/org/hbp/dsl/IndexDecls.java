package org.hbp.dsl;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.hbp.calculus.Dim;
import org.hbp.calculus.Expr;
import org.hbp.calculus.Shape;
import org.hbp.dsl.parser.HbpParser;

/**
 * Checks the declaration of how an index variable is computed,
 * {@code index NAME: TYPE = PRIMITIVE(INPUT, DIMS);}: a known {@link IndexPrimitive} with its
 * number of arguments, by position; the first an input of the module, a tensor; the others
 * positive dims; and the declared type the primitive's result.
 */
final class IndexDecls {
  private IndexDecls() {}

  /** The checked declaration of the index variable {@code var} declared by {@code v}, in module {@code module}. */
  static IndexDecl check(SpecBuilder b, HbpParser.VarItemContext v, Expr.Var var, String module) {
    HbpParser.ExprContext e = v.computed;
    if (!(e instanceof HbpParser.CallExprContext c) || !c.QUOTE().isEmpty())
      throw b.error(e, "expected an index primitive, " + IndexPrimitive.describeAll() + ", but found '" + b.src(e) + "'");
    String name = c.ID().getText();
    IndexPrimitive p = IndexPrimitive.of(name).orElseThrow(() -> b.error(c, "unknown index primitive '" + name + "'; expected "
        + IndexPrimitive.describeAll()));
    List<HbpParser.ArgContext> args = c.arg();
    if (args.size() != p.arity())
      throw b.error(c, name + " expects " + p.arity() + " arguments " + p.usage().substring(name.length()) + " but got " + args.size());
    for (HbpParser.ArgContext a : args)
      if (a.key != null) throw b.error(a, name + " takes no named arguments; expected " + p.usage());
    Expr.Var input = input(b, args.get(0), name, module);
    List<Dim> dims = new ArrayList<>();
    for (HbpParser.ArgContext a : args.subList(1, args.size())) dims.add(b.positiveDim(a.expr(), ""));
    Shape result = p.result(input.shape(), dims);
    if (!result.equals(var.shape()))
      throw b.error(e, "index " + var.name() + " is declared " + b.src(v.typeSpec()) + " but " + b.src(e) + " is " + result);
    return new IndexDecl(var.name(), p, input.name(), dims, e.start.getLine(), e.start.getCharPositionInLine() + 1);
  }

  /** The first argument: the name of an input of the module, a tensor(c, h, w). */
  private static Expr.Var input(SpecBuilder b, HbpParser.ArgContext a, String f, String module) {
    String expected = f + " computes an index map from an input of module '" + module + "', ";
    if (!(a.expr() instanceof HbpParser.NameExprContext n)) throw b.error(a, expected + "but found '" + b.src(a) + "'");
    String name = n.ID().getText();
    Expr.Var v = b.vars().get(name);
    if (v == null) {
      throw b.error(a, expected + (b.dims().contains(name) ? "but '" + name + "' is a dim" : "but there is no variable '" + name + "'"));
    }
    if (v.role() != Expr.Role.INPUT)
      throw b.error(a, expected + "but " + name + " is " + role(v.role()));
    if (!v.shape().isTensor()) throw b.error(a, f + " expects a tensor(c,h,w), but " + name + " is " + v.shape());
    return v;
  }

  /** A role in words, with its article: "an input", "a parameter". */
  static String role(Expr.Role role) {
    return switch (role) {
      case INPUT -> "an input";
      case PARAM -> "a parameter";
      case DATA -> "a data variable";
      case INDEX -> "an index map";
      case TARGET -> "a target";
      default -> "a " + role.name().toLowerCase(Locale.ROOT);
    };
  }
}
