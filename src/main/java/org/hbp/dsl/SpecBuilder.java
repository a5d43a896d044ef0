package org.hbp.dsl;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.antlr.v4.runtime.ParserRuleContext;
import org.antlr.v4.runtime.Token;
import org.antlr.v4.runtime.tree.ParseTree;
import org.hbp.calculus.Dim;
import org.hbp.calculus.ElementwiseFunction;
import org.hbp.calculus.Expr;
import org.hbp.calculus.Exprs;
import org.hbp.calculus.Shape;
import org.hbp.calculus.Simplifier;
import org.hbp.dsl.parser.HbpLexer;
import org.hbp.dsl.parser.HbpParser;

/**
 * The checker: turns a parse tree into the typed IR. It resolves names and dims, computes shapes
 * (derived dims such as the number of unfold patches included), and reports semantic errors at
 * {@code source:line:col}.
 */
final class SpecBuilder {
  private final String source;
  private final String text;
  private final Map<String, ElementwiseFunction> functions;
  /** The elementwise function whose body this builder reads, or null (a body cannot call its own function). */
  private String definingFunction;
  private final Set<String> dims = new LinkedHashSet<>();
  /** Derived dims: names for dimensions computed from others, substituted where used. */
  private final Map<String, Dim> derivedDims = new LinkedHashMap<>();
  private final Map<String, Expr.Var> vars = new LinkedHashMap<>();
  /** Whether undeclared dim names are declared on first use (ad-hoc expressions). */
  private boolean implicitDims;
  /** The local definitions ({@code let t = ...;}) of the module being read; none elsewhere. */
  private Lets lets = new Lets(this);
  /** Where each expression node of the current module was written, by identity (for messages). */
  private IdentityHashMap<Expr, ModuleSpec.Place> exprPlaces = new IdentityHashMap<>();

  SpecBuilder(String source, String text, Map<String, ElementwiseFunction> functions) {
    this.source = source;
    this.text = text;
    this.functions = functions;
  }

  // ---------------- files ----------------

  Spec file(HbpParser.FileContext ctx) {
    List<ModuleSpec> modules = new ArrayList<>();
    List<ParsedNetwork> networks = new ArrayList<>();
    Set<String> names = new HashSet<>();
    Set<String> networkNames = new HashSet<>();
    for (HbpParser.DeclContext d : ctx.decl()) {
      if (d.elementwiseDecl() != null) elementwise(d.elementwiseDecl());
      else if (d.networkDecl() != null) {
        HbpParser.NetworkDeclContext n = d.networkDecl();
        if (!networkNames.add(n.name.getText())) throw error(n.name, "network '" + n.name.getText() + "' is declared twice");
        networks.add(network(n));
      } else {
        HbpParser.ModuleDeclContext m = d.moduleDecl();
        Dsl.requireNameLength(this, m.name, m.kind.getText());
        if (!names.add(m.name.getText())) throw error(m.name, m.kind.getText() + " '" + m.name.getText() + "' is declared twice");
        modules.add(new SpecBuilder(source, text, functions).module(m));
      }
    }
    return new Spec(source, functions, modules, networks);
  }

  private void elementwise(HbpParser.ElementwiseDeclContext ctx) {
    String name = ctx.name.getText();
    if (functions.containsKey(name) || Calls.isBuiltin(name)) {
      throw error(ctx.name, Calls.isBuiltin(name)
          ? "'" + name + "' is a built-in function and cannot be redefined"
          : "function '" + name + "' is declared twice");
    }
    if (!ctx.extra.isEmpty())
      throw error(ctx.extra.get(0), "elementwise function '" + name + "' declares " + (1 + ctx.extra.size()) + " arguments, but an elementwise function "
          + "takes one, the entry it maps; a function of several inputs is a module with several inputs");
    SpecBuilder body = new SpecBuilder(source, text, functions);
    body.definingFunction = name;
    Expr.Var t = ElementwiseFunction.T;
    body.vars.put(ctx.param.getText(), t);
    Expr f = body.expr(ctx.body);
    if (!f.shape().isScalar()) throw error(ctx.body, "the body of elementwise function '" + name + "' must be scalar, but it is " + f.shape());
    Dsl.requireEntrywise(this, ctx.body, f, "the body of elementwise function '" + name + "'", ctx.param.getText());
    Map<Integer, Expr> given = new LinkedHashMap<>();
    ElementwiseFunction fn = ElementwiseFunction.userDefined(name, f, given);
    functions.put(name, fn); // the overrides may mention the function itself
    for (HbpParser.DerivativeContext dc : ctx.derivative()) {
      String key = dc.name.getText();
      int order = switch (key) {
        case "d1" -> 1;
        case "d2" -> 2;
        default -> throw error(dc.name, "expected d1 or d2 (the first or second derivative) but found name '" + key + "'");
      };
      if (given.containsKey(order)) throw error(dc.name, "derivative " + key + " is given twice");
      Expr d = body.expr(dc.expr());
      if (!d.shape().isScalar()) throw error(dc.expr(), "derivative " + key + " must be scalar, but it is " + d.shape());
      Dsl.requireEntrywise(this, dc.expr(), d, "derivative " + key + " of '" + name + "'", ctx.param.getText());
      given.put(order, d);
    }
    functions.put(name, ElementwiseFunction.userDefined(name, f, given));
  }

  private ModuleSpec module(HbpParser.ModuleDeclContext ctx) {
    boolean loss = ctx.kind.getType() == HbpLexer.LOSS;
    String kind = loss ? "loss" : "module";
    Expr.Var output = null;
    Expr outputExpr = null;
    List<Simplifier.Rewrite> assumptions = new ArrayList<>();
    List<ModuleSpec.Assumed> assumed = new ArrayList<>();
    List<HbpParser.AssumeItemContext> assumeItems = new ArrayList<>();
    Map<String, Domain> domains = new LinkedHashMap<>();
    Map<String, ModuleSpec.Place> places = new LinkedHashMap<>();
    List<HbpParser.VarItemContext> computedIndices = new ArrayList<>();
    lets = new Lets(this, ctx);
    exprPlaces = new IdentityHashMap<>();
    requireLetNamesNew(ctx);
    for (HbpParser.ItemContext item : ctx.item()) {
      if (item instanceof HbpParser.DimsItemContext d) {
        for (HbpParser.DimDeclContext dd : d.dimDecl()) {
          String name = dd.ID().getText();
          if (dims.contains(name) || derivedDims.containsKey(name)) throw error(dd.ID().getSymbol(), "dim '" + name + "' is declared twice");
          requireNotLet(dd.ID().getSymbol(), name);
          if (dd.expr() != null) derivedDims.put(name, positiveDim(dd.expr(), "derived dim '" + name + "' = "));
          else dims.add(name);
        }
      } else if (item instanceof HbpParser.VarItemContext v) {
        String name = v.name.getText();
        if (vars.containsKey(name)) throw error(v.name, "variable '" + name + "' is declared twice");
        if (dims.contains(name)) throw error(v.name, "'" + name + "' is already declared as a dim");
        requireNotLet(v.name, name);
        Expr.Role role = role(v);
        if (role == Expr.Role.TARGET && !loss) throw error(v.role, "'target' is allowed in a loss only");
        if (role == Expr.Role.PARAM && loss) throw error(v.role, "'param' is not allowed in a loss; a loss has no parameters");
        Expr.Var var = new Expr.Var(name, type(v.typeSpec()), role);
        vars.put(name, var);
        places.put(name, new ModuleSpec.Place(v.name.getLine(), v.name.getCharPositionInLine() + 1));
        if (v.domain != null) domains.put(name, domain(v.domain, var));
        if (v.eq != null && role != Expr.Role.INDEX)
          throw error(v.eq, "'= ...' after a type says how an index map is computed, but " + name + " is " + IndexDecls.role(role)
              + "; only 'index' variables take one");
        if (v.eq != null) computedIndices.add(v);
      } else if (item instanceof HbpParser.LetItemContext l) {
        lets.define(l, output != null && output.name().equals(l.name.getText()) ? "the output" : kindOf(l.name.getText()));
      } else if (item instanceof HbpParser.AssumeItemContext a) {
        if (!loss) throw error(a.start, "'assume' is allowed in a loss only");
        assumeItems.add(a);
      } else if (item instanceof HbpParser.OutputItemContext o) {
        if (output != null) throw error(o.start, kind + " '" + ctx.name.getText() + "' already has output '" + output.name() + "'; only one output is allowed");
        String name = o.ID().getText();
        if (vars.containsKey(name) || lets.isDefined(name)) throw error(o.ID().getSymbol(), "'" + name + "' is already declared; the output needs a new name");
        outputExpr = expr(o.expr());
        lets.requireWithinLimits(o.expr(), outputExpr, "the output");
        Dsl.requireIndexable(this, o.expr(), outputExpr.shape());
        if (loss && !outputExpr.shape().isScalar())
          throw error(o.expr(), "loss '" + ctx.name.getText() + "' must be scalar, but its output " + name + " is " + outputExpr.shape());
        output = new Expr.Var(name, outputExpr.shape(), Expr.Role.FREE);
        places.put(name, new ModuleSpec.Place(o.expr().start.getLine(), o.expr().start.getCharPositionInLine() + 1));
      }
    }
    if (output == null) throw error(ctx.stop, kind + " '" + ctx.name.getText() + "' has no output; expected 'output NAME = EXPRESSION;'");
    if (vars.values().stream().noneMatch(v -> v.role() == Expr.Role.INPUT))
      throw error(ctx.name, kind + " '" + ctx.name.getText() + "' has no input; expected 'input NAME: TYPE;'");
    Map<String, IndexDecl> indexDecls = new LinkedHashMap<>();
    for (HbpParser.VarItemContext v : computedIndices)
      indexDecls.put(v.name.getText(), IndexDecls.check(this, v, vars.get(v.name.getText()), ctx.name.getText()));
    for (HbpParser.AssumeItemContext a : assumeItems) {
      Expr l = expr(a.lhs), r = expr(a.rhs);
      if (!l.shape().equals(r.shape()))
        throw error(a.lhs, "the sides of 'assume' differ in shape: " + src(a.lhs) + " is " + l.shape() + " but " + src(a.rhs) + " is " + r.shape());
      checkAssumption(a);
      // assume sum(y) == 1 of an undeclared vector target: y is taken as a probability vector (entries >= 0, checked on batches);
      // another assumption implies no domain
      if (l instanceof Expr.Sum sum && sum.operand() instanceof Expr.Var v && v.role() == Expr.Role.TARGET && v.shape().isColumn()
          && r instanceof Expr.Num one && one.value() == 1)
        domains.putIfAbsent(v.name(), Domain.PROBABILITY);
      assumptions.add(Simplifier.assumption(l, r));
      assumed.add(new ModuleSpec.Assumed(l, r, src(a.lhs), src(a.rhs), new ModuleSpec.Place(a.start.getLine(), a.start.getCharPositionInLine() + 1)));
    }
    lets.requireAllUsed();
    List<Dim> dimList = dims.stream().map(Dim::sym).toList();
    return new ModuleSpec(ctx.name.getText(), loss, source, ctx.start.getLine(), ctx.start.getCharPositionInLine() + 1, dimList, Collections.unmodifiableMap(new LinkedHashMap<>(derivedDims)), List.copyOf(vars.values()),
        output, outputExpr, assumptions, domains, indexDecls, places, assumed, new ModuleSpec.ExprPlaces(exprPlaces));
  }

  /**
   * An assumption rewrites its left side into its right side wherever it occurs, also in the
   * derivatives; so it may mention only variables that are not differentiated (targets and data),
   * and its left side must mention one of them. An equation in an input or a parameter, such as
   * {@code sum(x) == 1}, holds on a set with no interior, where it does not hold for the
   * derivatives: rewriting by it would silently change them.
   */
  private void checkAssumption(HbpParser.AssumeItemContext a) {
    for (HbpParser.ExprContext side : List.of(a.lhs, a.rhs)) {
      for (HbpParser.NameExprContext n : names(side)) {
        for (Expr.Var v : variablesNamed(n.ID().getText()))
          if (v.role() == Expr.Role.INPUT || v.role() == Expr.Role.PARAM)
            throw error(n, "'assume' may mention only targets and data, which are not differentiated, but " + v.name() + " is "
                + (v.role() == Expr.Role.INPUT ? "an input" : "a parameter") + "; an assumption about it would change its derivatives");
      }
    }
    boolean mentionsData = names(a.lhs).stream().flatMap(n -> variablesNamed(n.ID().getText()).stream())
        .anyMatch(v -> v.role() == Expr.Role.TARGET || v.role() == Expr.Role.DATA);
    if (!mentionsData)
      throw error(a.lhs, "the left side of 'assume' must mention a target or data variable (it is rewritten into the right side), but "
          + src(a.lhs) + " mentions none");
  }

  /** The variables a name stands for: a variable itself, those of a let's value, or none. */
  private List<Expr.Var> variablesNamed(String name) {
    Expr.Var v = vars.get(name);
    if (v != null) return List.of(v);
    Expr let = lets.valueOf(name);
    return let == null ? List.of() : Exprs.variables(let);
  }

  private static Expr.Role role(HbpParser.VarItemContext v) {
    return switch (v.role.getType()) {
      case HbpLexer.INPUT -> Expr.Role.INPUT;
      case HbpLexer.PARAM -> Expr.Role.PARAM;
      case HbpLexer.DATA -> Expr.Role.DATA;
      case HbpLexer.INDEX -> Expr.Role.INDEX;
      default -> Expr.Role.TARGET;
    };
  }

  /**
   * Refuses, before anything else of the module is read, a let whose name an earlier item of the
   * module (a dim, a variable, the output, another let) or a function already has: otherwise a use
   * of that name before the let would be reported as "used before its definition", and moving the
   * let as that error advises would only lead to this one.
   */
  private void requireLetNamesNew(HbpParser.ModuleDeclContext ctx) {
    Map<String, String> taken = new HashMap<>();
    for (HbpParser.ItemContext item : ctx.item()) {
      if (item instanceof HbpParser.DimsItemContext d) {
        for (HbpParser.DimDeclContext dd : d.dimDecl()) taken.putIfAbsent(dd.ID().getText(), "a dim");
      } else if (item instanceof HbpParser.VarItemContext v) {
        taken.putIfAbsent(v.name.getText(), IndexDecls.role(role(v)));
      } else if (item instanceof HbpParser.OutputItemContext o) {
        taken.putIfAbsent(o.ID().getText(), "the output");
      } else if (item instanceof HbpParser.LetItemContext l) {
        String name = l.name.getText();
        String kind = taken.get(name);
        if (kind == null && (functions.containsKey(name) || Calls.isBuiltin(name))) kind = "a function";
        lets.requireNewName(l, kind);
      }
    }
  }

  /** What a name already is in this module ("a dim", "an input", "a function"), or null when it is new. */
  private String kindOf(String name) {
    if (dims.contains(name) || derivedDims.containsKey(name)) return "a dim";
    Expr.Var v = vars.get(name);
    if (v != null) return IndexDecls.role(v.role());
    return functions.containsKey(name) || Calls.isBuiltin(name) ? "a function" : null;
  }

  private void requireNotLet(Token at, String name) {
    if (lets.isDefined(name)) throw error(at, "'" + name + "' is already defined by a let at " + lets.placeOf(name) + "; choose another name");
  }

  /** The name expressions in a parse tree, in source order. */
  private static List<HbpParser.NameExprContext> names(ParseTree t) {
    List<HbpParser.NameExprContext> out = new ArrayList<>();
    if (t instanceof HbpParser.NameExprContext n) out.add(n);
    for (int i = 0; i < t.getChildCount(); i++) out.addAll(names(t.getChild(i)));
    return out;
  }

  /** The declared domain of a variable: a known word, allowed for its role, fitting its shape. */
  private Domain domain(Token word, Expr.Var v) {
    Domain d = Domain.of(word.getText()).orElseThrow(() -> error(word, "unknown domain '" + word.getText() + "' of " + v.name()
        + "; expected one of " + Domain.words()));
    List<Domain> allowed = Domain.allowed(v.role());
    if (!allowed.contains(d)) {
      String role = v.role().name().toLowerCase(Locale.ROOT);
      throw error(word, allowed.isEmpty() ? "an " + role + " map takes no domain, but " + v.name() + " is declared '" + d.word + "'"
          : "'" + d.word + "' is not a domain of " + role + " " + v.name() + "; " + role + "s may be "
          + String.join(", ", allowed.stream().map(x -> x.word).toList()) + (d.isLabel() ? " (labels are targets or data)" : ""));
    }
    String misfit = d.misfit(v.shape());
    if (misfit != null) throw error(word, v.name() + ": " + misfit);
    return d;
  }

  // ---------------- networks ----------------

  /**
   * The structure of a network: exactly one input, first, with whole positive dims; module
   * instances and residual blocks; exactly one loss, last. Names are resolved later, against a
   * module library.
   */
  private ParsedNetwork network(HbpParser.NetworkDeclContext ctx) {
    String name = ctx.name.getText();
    if (GraphStatements.isGraph(ctx)) return new GraphStatements(this).network(ctx);
    ParsedNetwork.Input input = null;
    ParsedNetwork.Instance loss = null;
    List<ParsedNetwork.Item> body = new ArrayList<>();
    for (HbpParser.LayerItemContext item : ctx.layerItem()) {
      if (loss != null) throw error(item.start, "network '" + name + "': the loss must be the last item, but " + describeItem(item) + " follows it");
      if (item instanceof HbpParser.NetInputItemContext in) {
        if (input != null) throw error(in.start, "network '" + name + "' already has input '" + input.name() + "'; only one input is allowed");
        input = networkInput(name, in);
      } else if (item instanceof HbpParser.NetLossItemContext l) {
        if (input == null) throw error(l.start, "network '" + name + "' has no input before its loss; expected 'input NAME: TYPE;' first");
        loss = instance(l.name, l.layerArgs());
      } else {
        if (input == null) throw error(item.start, "network '" + name + "' has no input before its first layer; expected 'input NAME: TYPE;' first");
        body.add(layer(item));
      }
    }
    if (input == null) throw error(ctx.name, "network '" + name + "' has no input; expected 'input NAME: TYPE;'");
    if (loss == null) throw error(ctx.stop, "network '" + name + "' has no loss; expected 'loss NAME;' as its last item");
    return new ParsedNetwork(name, source, ctx.name.getLine(), ctx.name.getCharPositionInLine() + 1, input, body, loss);
  }

  /** A layer or a residual block (not an input or a loss, which are allowed at the top level only). */
  private ParsedNetwork.Item layer(HbpParser.LayerItemContext item) {
    if (!(item instanceof HbpParser.LayerInstanceContext l)) throw error(item, "unexpected network item '" + src(item) + "'");
    if (l.open == null) return instance(l.name, l.layerArgs());
    if (!l.name.getText().equals("residual"))
      throw error(l.name, "unknown block '" + l.name.getText() + "'; the only block is 'residual { ... }'");
    if (l.layerItem().isEmpty()) throw error(l.name, "a residual block needs at least one layer");
    List<ParsedNetwork.Item> body = new ArrayList<>();
    for (HbpParser.LayerItemContext i : l.layerItem()) {
      if (i instanceof HbpParser.NetInputItemContext || i instanceof HbpParser.NetLossItemContext)
        throw error(i.start, "'" + i.start.getText() + "' is not allowed inside a residual block");
      body.add(layer(i));
    }
    return new ParsedNetwork.Residual(body, l.name.getLine(), l.name.getCharPositionInLine() + 1);
  }

  static String describeItem(HbpParser.LayerItemContext item) {
    if (item instanceof HbpParser.NetInputItemContext) return "'input'";
    if (item instanceof HbpParser.NetLossItemContext l) return "loss '" + l.name.getText() + "'";
    HbpParser.LayerInstanceContext l = (HbpParser.LayerInstanceContext) item;
    if (l.eq != null) return "'" + l.name.getText() + " = ...'";
    return l.open != null ? "a " + l.name.getText() + " block" : "'" + l.name.getText() + "'";
  }

  ParsedNetwork.Instance instance(Token name, HbpParser.LayerArgsContext args) {
    List<ParsedNetwork.Arg> out = new ArrayList<>();
    Set<String> keys = new HashSet<>();
    if (args != null) {
      for (HbpParser.LayerArgContext a : args.layerArg()) {
        String key = a.key.getText();
        if (!keys.add(key)) throw error(a.key, name.getText() + ": '" + key + "' is given twice");
        out.add(new ParsedNetwork.Arg(key, wholeNumber(a.value, false), a.key.getLine(), a.key.getCharPositionInLine() + 1));
      }
    }
    return new ParsedNetwork.Instance(name.getText(), out, name.getLine(), name.getCharPositionInLine() + 1);
  }

  ParsedNetwork.Input networkInput(String network, HbpParser.NetInputItemContext in) {
    HbpParser.TypeSpecContext t = in.typeSpec();
    List<HbpParser.ExprContext> axes;
    if (t instanceof HbpParser.VectorTypeContext v) axes = List.of(v.expr());
    else if (t instanceof HbpParser.MatrixTypeContext m) axes = m.expr();
    else if (t instanceof HbpParser.TensorTypeContext c) axes = c.expr();
    else throw error(t, "the input of network '" + network + "' must be a vector, matrix or tensor, but found " + src(t));
    List<Integer> shape = new ArrayList<>();
    for (HbpParser.ExprContext e : axes) {
      if (!(e instanceof HbpParser.NumberExprContext n))
        throw error(e, "the input of network '" + network + "' needs whole numbers as dims, but found '" + src(e) + "'");
      shape.add(wholeNumber(n.NUMBER().getSymbol(), true));
    }
    long entries = Shape.entries(shape.stream().map(Integer::longValue).toList());
    if (entries > Dsl.MAX_ENTRIES)
      throw error(t, "the input of network '" + network + "' has " + entries + " entries; an array has at most " + Dsl.MAX_ENTRIES + " (arrays are indexed by int)");
    return new ParsedNetwork.Input(in.ID().getText(), shape, in.start.getLine(), in.start.getCharPositionInLine() + 1);
  }

  /** A NUMBER token as an int dimension: whole, at most Integer.MAX_VALUE, and positive where asked. */
  private int wholeNumber(Token t, boolean positive) {
    String s = t.getText();
    if (!s.matches("[0-9]+")) throw error(t, "a dimension must be a whole number, but found " + s);
    if (s.length() > 10 || Long.parseLong(s) > Integer.MAX_VALUE) throw error(t, "a dimension must be at most " + Integer.MAX_VALUE + ", but found " + s);
    int v = Integer.parseInt(s);
    if (positive && v <= 0) throw error(t, "a dimension of a network's input must be positive, but found " + s);
    return v;
  }

  // ---------------- ad hoc ----------------

  /** Declares a variable of an ad-hoc expression (dims are declared on first use). */
  void declare(String name, Shape shape, Expr.Role role) {
    vars.put(name, new Expr.Var(name, shape, role));
  }

  void declareDims(Collection<String> names) {
    dims.addAll(names);
  }

  void declareDerivedDims(Map<String, Dim> derived) {
    derivedDims.putAll(derived);
  }

  SpecBuilder implicitDims() {
    implicitDims = true;
    return this;
  }

  Set<String> dims() {
    return dims;
  }

  // ---------------- types and dims ----------------

  Shape type(HbpParser.TypeSpecContext t) {
    return Dsl.requireIndexable(this, t, shape(t));
  }

  private Shape shape(HbpParser.TypeSpecContext t) {
    if (t instanceof HbpParser.ScalarTypeContext) return Shape.SCALAR;
    if (t instanceof HbpParser.VectorTypeContext v) return Shape.vector(positiveDim(v.expr(), ""));
    if (t instanceof HbpParser.MatrixTypeContext m) return Shape.matrix(positiveDim(m.expr(0), ""), positiveDim(m.expr(1), ""));
    HbpParser.TensorTypeContext c = (HbpParser.TensorTypeContext) t;
    return Shape.tensor(positiveDim(c.expr(0), ""), positiveDim(c.expr(1), ""), positiveDim(c.expr(2), ""));
  }

  /**
   * A dimension of a type or a derived dim: refused when it is below 1 for every value of its
   * dims ({@code 0}, {@code n0 - n0}, {@code -n}); {@code what} prefixes the message.
   */
  Dim positiveDim(HbpParser.ExprContext e, String what) {
    Dim d = dim(e);
    if (d.neverPositive()) {
      String value = d.isConstant() ? String.valueOf(d.constant()) : "below 1 for all values of its dims";
      if (what.isEmpty() && src(e).equals(value)) throw error(e, "a dimension must be positive, but found " + value);
      throw error(e, "a dimension must be positive, but " + what + src(e) + " is " + value);
    }
    return d;
  }

  Dim dim(HbpParser.ExprContext e) {
    if (e instanceof HbpParser.NumberExprContext n) {
      String s = n.NUMBER().getText();
      if (!s.matches("[0-9]+")) throw error(e, "a dimension must be a whole number, but found " + s);
      return Dim.of(Dsl.dimensionValue(this, n.NUMBER().getSymbol()));
    }
    if (e instanceof HbpParser.NameExprContext n) {
      String name = n.ID().getText();
      if (derivedDims.containsKey(name)) return derivedDims.get(name);
      if (!dims.contains(name)) {
        if (implicitDims && !vars.containsKey(name)) dims.add(name);
        else if (vars.containsKey(name)) throw error(e, "'" + name + "' is a variable, but a dimension was expected here");
        else if (lets.isDefined(name))
          throw error(e, "'" + name + "' is a let (a value), but a dimension was expected here; name a dimension with 'dims " + name + " = ...;'");
        else throw error(e, "undeclared dim '" + name + "'");
      }
      return Dim.sym(name);
    }
    if (e instanceof HbpParser.ParenExprContext p) return dim(p.expr());
    if (e instanceof HbpParser.AddExprContext a) {
      Dim l = dim(a.expr(0)), r = dim(a.expr(1));
      return Dsl.exactDim(this, e, () -> a.op.getText().equals("+") ? l.plus(r) : l.minus(r));
    }
    if (e instanceof HbpParser.MulExprContext m && m.op.getText().equals("*")) {
      Dim l = dim(m.expr(0)), r = dim(m.expr(1));
      return Dsl.exactDim(this, e, () -> l.times(r));
    }
    if (e instanceof HbpParser.MulExprContext m) {
      Dim l = dim(m.expr(0)), r = dim(m.expr(1));
      return switch (m.op.getText()) {
        case "*" -> l.times(r);
        case "/" -> {
          if (r.isConstant() && r.constant() == 0) throw error(m.expr(1), "division of a dimension by 0");
          yield l.floorDiv(r);
        }
        default -> throw error(m, "expected a dimension (names, whole numbers, + - * /) but found '" + m.op.getText() + "'");
      };
    }
    throw error(e, "expected a dimension (names, whole numbers, + - * /) but found '" + src(e) + "'");
  }

  // ---------------- expressions ----------------

  /** Where the nodes of the expressions built since the current module began were written. */
  ModuleSpec.ExprPlaces exprPlaces() {
    return new ModuleSpec.ExprPlaces(new IdentityHashMap<>(exprPlaces));
  }

  Expr expr(HbpParser.ExprContext e) {
    Expr r = build(e);
    exprPlaces.putIfAbsent(r, new ModuleSpec.Place(e.start.getLine(), e.start.getCharPositionInLine() + 1));
    return r;
  }

  private Expr build(HbpParser.ExprContext e) {
    if (isDimExpression(e)) return new Expr.DimValue(dim(e));
    if (e instanceof HbpParser.ParenExprContext p) return expr(p.expr());
    if (e instanceof HbpParser.NumberExprContext n) return new Expr.Num(literal(n.NUMBER().getSymbol()));
    if (e instanceof HbpParser.NameExprContext n) return name(n);
    if (e instanceof HbpParser.NegExprContext n) return Exprs.neg(expr(n.expr()));
    if (e instanceof HbpParser.TransposeExprContext t) {
      Expr a = expr(t.expr());
      if (a.shape().isTensor()) throw error(t, "cannot transpose " + src(t.expr()) + ", a " + a.shape() + "; reshape it to a matrix first");
      return Exprs.transpose(a);
    }
    if (e instanceof HbpParser.PowerExprContext p) {
      double v = literal(p.NUMBER().getSymbol());
      return new Expr.Power(expr(p.expr()), p.minus != null ? -v : v);
    }
    if (e instanceof HbpParser.AddExprContext a) return add(a);
    if (e instanceof HbpParser.MulExprContext m) return mul(m);
    if (e instanceof HbpParser.CallExprContext c) return Calls.call(this, c);
    throw error(e, "unsupported expression '" + src(e) + "'");
  }

  /**
   * The value of a number literal, a finite double: a literal beyond the largest double (about
   * 1.8e308, e.g. {@code 1e400}) or one that is not zero but rounds to 0 (below about 4.9e-324,
   * e.g. {@code 1e-400}) is an error at its place, never Infinity or a silent 0.
   */
  private double literal(Token t) {
    String s = t.getText();
    double v = Double.parseDouble(s);
    if (Double.isInfinite(v))
      throw error(t, "the number " + s + " is too large: a number literal must be a finite double, at most about 1.8e308");
    String mantissa = s.split("[eE]")[0];
    if (v == 0 && mantissa.matches(".*[1-9].*"))
      throw error(t, "the number " + s + " is too small: it is not zero but rounds to 0 in double precision (the smallest positive double is "
          + "about 4.9e-324); write 0 if 0 is meant");
    return v;
  }

  /** Whether e is made of dims, whole numbers and + - * / only, with at least one dim. */
  private boolean isDimExpression(HbpParser.ExprContext e) {
    return dimOnly(e) && mentionsDim(e);
  }

  private boolean dimOnly(HbpParser.ExprContext e) {
    if (e instanceof HbpParser.NumberExprContext n) return n.NUMBER().getText().matches("[0-9]+");
    if (e instanceof HbpParser.NameExprContext n) return (dims.contains(n.ID().getText()) || derivedDims.containsKey(n.ID().getText())) && !vars.containsKey(n.ID().getText());
    if (e instanceof HbpParser.ParenExprContext p) return dimOnly(p.expr());
    if (e instanceof HbpParser.AddExprContext a) return dimOnly(a.expr(0)) && dimOnly(a.expr(1));
    if (e instanceof HbpParser.MulExprContext m) return (m.op.getText().equals("*") || m.op.getText().equals("/")) && dimOnly(m.expr(0)) && dimOnly(m.expr(1));
    return false;
  }

  private boolean mentionsDim(HbpParser.ExprContext e) {
    if (e instanceof HbpParser.NameExprContext) return true;
    if (e instanceof HbpParser.ParenExprContext p) return mentionsDim(p.expr());
    if (e instanceof HbpParser.AddExprContext a) return mentionsDim(a.expr(0)) || mentionsDim(a.expr(1));
    if (e instanceof HbpParser.MulExprContext m) return mentionsDim(m.expr(0)) || mentionsDim(m.expr(1));
    return false;
  }

  private Expr name(HbpParser.NameExprContext n) {
    String name = n.ID().getText();
    Expr let = lets.use(n);
    if (let != null) return let;
    Expr.Var v = vars.get(name);
    if (v != null) {
      if (v.role() == Expr.Role.INDEX) throw error(n, "'" + name + "' is an index map; use it through gather(X, " + name + ")");
      return v;
    }
    if (functions.containsKey(name) || Calls.isBuiltin(name)) throw error(n, "'" + name + "' is a function; call it as " + name + "(...)");
    Set<String> known = new LinkedHashSet<>();
    vars.forEach((k, w) -> {
      if (w.role() != Expr.Role.INDEX) known.add(k);
    });
    known.addAll(lets.definedNames());
    known.addAll(dims);
    known.addAll(derivedDims.keySet());
    throw error(n, "unknown name '" + name + "'" + (known.isEmpty() ? "" : "; known names, closest first: " + Dsl.closestFirst(name, known, 10)));
  }

  private Expr add(HbpParser.AddExprContext a) {
    Expr l = expr(a.expr(0)), r = expr(a.expr(1));
    boolean minus = a.op.getText().equals("-");
    Shape sl = l.shape(), sr = r.shape();
    if (!sl.equals(sr)) {
      if (sl.isScalar()) l = broadcast(l, sr);
      else if (sr.isScalar()) r = broadcast(r, sl);
      else throw mismatch(a, a.op.getText(), a.expr(0), sl, a.expr(1), sr, "shapes differ");
    }
    return new Expr.Add(List.of(l, minus ? Exprs.neg(r) : r));
  }

  /** A scalar broadcast to a shape: s*ones(shape). */
  static Expr broadcast(Expr s, Shape shape) {
    return Exprs.scalarMul(s, new Expr.Ones(shape));
  }

  private Expr mul(HbpParser.MulExprContext m) {
    Expr l = expr(m.expr(0)), r = expr(m.expr(1));
    Shape sl = l.shape(), sr = r.shape();
    String op = m.op.getText();
    switch (op) {
      case "*": {
        if (sl.isScalar() || sr.isScalar()) return Exprs.mul(l, r);
        if (sl.isTensor() || sr.isTensor())
          throw mismatch(m, op, m.expr(0), sl, m.expr(1), sr, "a matrix product needs matrices; use .* for elementwise products");
        if (!sl.cols().equals(sr.rows()))
          throw mismatch(m, op, m.expr(0), sl, m.expr(1), sr, "inner dimensions " + sl.cols() + " and " + sr.rows() + " differ");
        return new Expr.MatMul(List.of(l, r));
      }
      case ".*": {
        if (sl.equals(sr)) return new Expr.Hadamard(List.of(l, r));
        if (sl.isScalar() || sr.isScalar()) return Exprs.hadamard(l, r);
        throw mismatch(m, op, m.expr(0), sl, m.expr(1), sr, "shapes differ");
      }
      case "./": {
        if (r instanceof Expr.Num n && n.value() == 0) throw error(m.expr(1), "division by 0");
        requireNonZeroDivisor(m.expr(1), r);
        Expr inv = new Expr.Power(r, -1);
        if (sl.equals(sr)) return new Expr.Hadamard(List.of(l, inv));
        if (sl.isScalar()) return Exprs.hadamard(l, inv);
        if (sr.isScalar()) return Exprs.scalarMul(inv, l);
        throw mismatch(m, op, m.expr(0), sl, m.expr(1), sr, "shapes differ");
      }
      default: { // "/"
        if (!sr.isScalar())
          throw error(m.expr(1), "'/' divides by a scalar, but " + src(m.expr(1)) + " is " + sr + "; use ./ for elementwise division");
        if (r instanceof Expr.Num n) {
          if (n.value() == 0) throw error(m.expr(1), "division by 0");
          return Exprs.scale(1 / n.value(), l);
        }
        requireNonZeroDivisor(m.expr(1), r);
        return Exprs.hadamard(new Expr.Power(r, -1), l);
      }
    }
  }

  /**
   * Refuses a divisor that is not the literal 0 but simplifies to the zero constant
   * ({@code x ./ (x - x)}, {@code x / (2*s - s - s)}, {@code x ./ zeros(n)}): the quotient is not
   * finite anywhere, so derive would print rules of nothing, generate would write code that computes
   * NaN, and verify would only say that no sample point is finite. The error is at the divisor.
   */
  private void requireNonZeroDivisor(HbpParser.ExprContext at, Expr divisor) {
    if (!Exprs.isZero(Simplifier.simplify(divisor))) return;
    throw error(at, "division by 0: the divisor " + src(at) + " simplifies to 0"
        + (divisor.shape().isScalar() ? "" : " in every entry") + ", so the quotient is not finite anywhere");
  }

  // ---------------- errors ----------------

  String source() {
    return source;
  }

  String src(ParserRuleContext c) {
    if (c.start == null || c.stop == null || c.stop.getStopIndex() < c.start.getStartIndex()) return c.getText();
    return text.substring(c.start.getStartIndex(), c.stop.getStopIndex() + 1);
  }

  DslException mismatch(ParserRuleContext at, String op, ParserRuleContext a, Shape sa, ParserRuleContext b, Shape sb, String why) {
    return error(at, "shape mismatch in '" + op + "': " + src(a) + " is " + sa + " but " + src(b) + " is " + sb + "; " + why);
  }

  DslException error(ParserRuleContext at, String message) {
    return error(at.start, message);
  }

  DslException error(Token t, String message) {
    return new DslException(source, t.getLine(), t.getCharPositionInLine() + 1, message);
  }

  /** The elementwise function whose body this builder reads, or null. */
  String definingFunction() {
    return definingFunction;
  }

  Map<String, ElementwiseFunction> functions() {
    return functions;
  }

  Map<String, Expr.Var> vars() {
    return vars;
  }
}
