package org.hbp.dsl;

import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.antlr.v4.runtime.ParserRuleContext;
import org.antlr.v4.runtime.Token;
import org.antlr.v4.runtime.tree.ParseTree;
import org.hbp.calculus.Expr;
import org.hbp.calculus.Exprs;
import org.hbp.dsl.parser.HbpParser;

/**
 * The local definitions of one module, {@code let t = EXPRESSION;}: names for subexpressions, so
 * that a long forward expression reads as the math does. A let is substituted where it is used (the
 * derivation sees the expanded expression, so a let changes nothing but the text). Its name is new
 * in the module (not a dim, a variable, a function, the output or another let); it is defined
 * before its uses (later lets, the output, assumptions) and it is used: an unused let is an error,
 * as it means that the expression written is not the one meant (or that the let is left over).
 *
 * <p>Written out, lets must stay within the limits of text: {@link Nesting#MAX_DEPTH} levels of
 * nesting (a let's name counts as its value in parentheses) and {@value #MAX_EXPANDED_NODES} nodes
 * (a let used twice counts twice: lets that use each other twice would otherwise double the
 * expression at each step, which the derivation and the printed results expand).
 */
final class Lets {
  /** The most nodes of a let's value or of the output with its lets written out. */
  static final long MAX_EXPANDED_NODES = 100_000;

  private final SpecBuilder b;
  /** Every let of the module at its name token, first definition of a name: to say "defined at" of a use that comes before it. */
  private final Map<String, Token> declared = new LinkedHashMap<>();
  /** The lets defined so far, by name, at their name token, with their values. */
  private final Map<String, Token> defined = new LinkedHashMap<>();
  private final Map<String, Expr> values = new LinkedHashMap<>();
  private final Set<String> used = new HashSet<>();
  /** The let whose expression is being read, or null. */
  private String defining;
  /** The nesting levels of each let's value written out. */
  private final Map<String, Integer> levels = new HashMap<>();

  /** No lets: for expressions outside a module (elementwise bodies, ad-hoc expressions). */
  Lets(SpecBuilder b) {
    this.b = b;
  }

  /** The lets of a module, known by name from the start (so that a use before the definition is reported as such). */
  Lets(SpecBuilder b, HbpParser.ModuleDeclContext module) {
    this(b);
    for (HbpParser.ItemContext item : module.item())
      if (item instanceof HbpParser.LetItemContext l) declared.putIfAbsent(l.name.getText(), l.name);
  }

  /**
   * Reads {@code let name = expr;}; {@code taken} says what the name already is in the module ("a
   * dim", "an input", ...), or is null when it is new.
   */
  void define(HbpParser.LetItemContext l, String taken) {
    String name = l.name.getText();
    Token first = defined.get(name);
    if (first != null) throw b.error(l.name, "let '" + name + "' is defined twice (first at " + place(first) + ")");
    requireNewName(l, taken);
    defining = name;
    Expr value = b.expr(l.expr());
    defining = null;
    requireWithinLimits(l.expr(), value, "let '" + name + "'");
    defined.put(name, l.name);
    values.put(name, value);
    levels.put(name, levels(l.expr()));
  }

  /**
   * Refuses a let whose name is {@code taken} ("a dim", "an input", ...; null when it is new) or
   * the name of an earlier let of the module (by {@link #declared}), at the let's name.
   */
  void requireNewName(HbpParser.LetItemContext l, String taken) {
    String name = l.name.getText();
    Token first = declared.get(name);
    if (first != null && first != l.name) throw b.error(l.name, "let '" + name + "' is defined twice (first at " + place(first) + ")");
    if (taken != null) throw b.error(l.name, "let '" + name + "': '" + name + "' is already " + taken + "; a let needs a new name");
  }

  /**
   * Refuses an expression that, with its lets written out, nests deeper than {@link
   * Nesting#MAX_DEPTH} levels or has more than {@link #MAX_EXPANDED_NODES} nodes; {@code what} names
   * it in the message.
   */
  void requireWithinLimits(HbpParser.ExprContext at, Expr value, String what) {
    if (values.isEmpty()) return; // without lets the text itself is within the limits
    int depth = levels(at);
    if (depth > Nesting.MAX_DEPTH)
      throw b.error(at, what + " with its lets written out nests " + depth + " levels; expressions nest at most " + Nesting.MAX_DEPTH
          + " levels");
    if (expandedSize(value, new IdentityHashMap<>()) > MAX_EXPANDED_NODES)
      throw b.error(at, what + " with its lets written out has more than " + MAX_EXPANDED_NODES + " nodes (each use of a let copies "
          + "its value); use the lets fewer times inside each other");
  }

  /** The nesting levels of a parse tree as {@link Nesting} counts them, a let's name as its value in parentheses. */
  private int levels(ParseTree t) {
    if (!(t instanceof ParserRuleContext ctx)) return 0;
    if (ctx instanceof HbpParser.NameExprContext n && levels.containsKey(n.ID().getText())) return 1 + levels.get(n.ID().getText());
    int below = 0;
    for (int i = 0; i < ctx.getChildCount(); i++) below = Math.max(below, levels(ctx.getChild(i)));
    return below + (ctx instanceof HbpParser.ExprContext ? 1 : 0);
  }

  /** The number of nodes of e written out as a tree (shared nodes once per use), saturating above the limit. */
  private static long expandedSize(Expr e, IdentityHashMap<Expr, Long> memo) {
    Long known = memo.get(e);
    if (known != null) return known;
    long size = 1;
    for (Expr c : Exprs.children(e)) size = Math.min(size + expandedSize(c, memo), MAX_EXPANDED_NODES + 1);
    memo.put(e, size);
    return size;
  }

  /**
   * The value of a let used by name, or null when the name is not a let's. A let used in its own
   * definition or before it is an error.
   */
  Expr use(HbpParser.NameExprContext n) {
    String name = n.ID().getText();
    Expr value = values.get(name);
    if (value != null) {
      used.add(name);
      return value;
    }
    if (name.equals(defining)) throw b.error(n, "let '" + name + "' refers to itself; a let names an expression of earlier names");
    Token later = declared.get(name);
    if (later != null)
      throw b.error(n, "'" + name + "' is used before its definition (let " + name + " at " + place(later) + "); move the let before its first use");
    return null;
  }

  /** The value of a defined let, or null (without marking it used). */
  Expr valueOf(String name) {
    return values.get(name);
  }

  /** The names of the lets defined so far, in order. */
  java.util.Collection<String> definedNames() {
    return defined.keySet();
  }

  /** Whether a let of this name is defined so far. */
  boolean isDefined(String name) {
    return defined.containsKey(name);
  }

  /** Where the let of this name is defined, as line:col. */
  String placeOf(String name) {
    return place(defined.get(name));
  }

  /** Refuses a let that nothing uses, at its name. */
  void requireAllUsed() {
    for (Map.Entry<String, Token> e : defined.entrySet())
      if (!used.contains(e.getKey()))
        throw b.error(e.getValue(), "let '" + e.getKey() + "' is never used; use it in a later let, the output or an assumption, or remove it");
  }

  private static String place(Token t) {
    return t.getLine() + ":" + (t.getCharPositionInLine() + 1);
  }
}
