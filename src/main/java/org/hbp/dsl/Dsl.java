package org.hbp.dsl;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;
import org.antlr.v4.runtime.ParserRuleContext;
import org.antlr.v4.runtime.Token;
import org.hbp.UserError;
import org.hbp.calculus.Dim;
import org.hbp.calculus.ElementwiseFunction;
import org.hbp.calculus.Expr;
import org.hbp.calculus.Exprs;
import org.hbp.calculus.Lift;
import org.hbp.calculus.Printer;
import org.hbp.calculus.Shape;
import org.hbp.dsl.parser.HbpParser;

/** The front end: parse and check spec files, ad-hoc expressions and types. */
public final class Dsl {
  private Dsl() {}

  static Map<String, ElementwiseFunction> builtins() {
    return new LinkedHashMap<>(ElementwiseFunction.BUILTIN_RULES);
  }

  public static Spec parseFile(Path path) {
    return parse(readSpec(path), path.toString());
  }

  /**
   * The text of a spec file, decoded strictly as UTF-8 (a leading UTF-8 byte order mark is
   * dropped): bytes that are not UTF-8, a UTF-16 byte order mark or a NUL byte (UTF-16 without a
   * mark) are a {@link DslException} at the line and column where they occur.
   */
  public static String readSpec(Path path) {
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(path);
    } catch (NoSuchFileException e) {
      throw new UserError("spec file not found: " + path);
    } catch (IOException e) {
      throw new UserError("cannot read spec file " + path + ": " + e.getMessage());
    }
    return SpecText.decode(bytes, path.toString());
  }

  /**
   * The longest module or loss name: a name becomes a Java class name and a file name
   * ({@code NameOperator.java}), which file systems limit to 255 bytes.
   */
  public static final int MAX_NAME_LENGTH = 100;

  /** The largest number of entries of an array: the runtime indexes arrays by int. */
  public static final long MAX_ENTRIES = Integer.MAX_VALUE;

  static void requireNameLength(SpecBuilder b, Token name, String kind) {
    if (name.getText().length() > MAX_NAME_LENGTH)
      throw b.error(name, kind + " name '" + name.getText().substring(0, 20) + "...' is " + name.getText().length()
          + " characters long; names are limited to " + MAX_NAME_LENGTH + " characters (they become Java class and file names)");
  }

  /** A whole-number dimension literal: at most {@link #MAX_ENTRIES} (arrays are indexed by int). */
  static long dimensionValue(SpecBuilder b, Token t) {
    String s = t.getText().replaceFirst("^0+(?=.)", "");
    if (s.length() > 10 || Long.parseLong(s) > MAX_ENTRIES)
      throw b.error(t, "a dimension must be at most " + MAX_ENTRIES + " (arrays are indexed by int), but found " + t.getText());
    return Long.parseLong(s);
  }

  /** Dimension arithmetic whose constants overflow 64 bits is refused at the expression. */
  static Dim exactDim(SpecBuilder b, ParserRuleContext at,
      Supplier<Dim> f) {
    try {
      return f.get();
    } catch (ArithmeticException e) {
      throw b.error(at, "the dimension " + b.src(at) + " is too large (its constants overflow 64-bit integers)");
    }
  }

  /** A shape whose number of entries is a known constant above {@link #MAX_ENTRIES} is refused. */
  static Shape requireIndexable(SpecBuilder b, ParserRuleContext at, Shape s) {
    Dim n;
    try {
      n = s.numel();
    } catch (ArithmeticException e) {
      throw b.error(at, b.src(at) + " has more than " + MAX_ENTRIES + " entries (arrays are indexed by int)");
    }
    if (n.isConstant() && n.constant() > MAX_ENTRIES)
      throw b.error(at, b.src(at) + " has " + n.constant() + " entries; an array has at most " + MAX_ENTRIES
          + " entries (arrays are indexed by int)");
    return s;
  }

  /**
   * Names in order of their Levenshtein distance to {@code name}, closest first (ties
   * alphabetical), at most {@code limit} of them, joined by ", "; when some are left out, followed
   * by {@code ", ... (N in all)"}. For "unknown name" messages: the likely typo comes first.
   */
  public static String closestFirst(String name, Collection<String> names, int limit) {
    java.util.List<String> sorted = Calls.closestFirst(name, new LinkedHashSet<>(names));
    if (sorted.size() <= limit) return String.join(", ", sorted);
    return String.join(", ", sorted.subList(0, limit)) + ", ... (" + sorted.size() + " in all)";
  }

  /** An elementwise body or derivative must apply entry by entry (no sum, trace, product of matrices). */
  static void requireEntrywise(SpecBuilder b, ParserRuleContext at, Expr formula, String what, String param) {
    Expr bad = Lift.notEntrywise(formula, ElementwiseFunction.T);
    if (bad != null) {
      Expr shown = Exprs.substitute(bad, ElementwiseFunction.T, new Expr.Var(param, Shape.SCALAR, Expr.Role.FREE));
      throw b.error(at, what + " must be elementwise in " + param + " (built from " + param
          + ", numbers, + - .* ./ .^ and elementwise functions), but it uses " + Printer.text(shown));
    }
  }

  public static Spec parse(String text, String source) {
    HbpParser.FileContext tree = Syntax.parse(text, source, HbpParser::file);
    return new SpecBuilder(source, text, builtins()).file(tree);
  }

  /** A scope for expressions: variables by name and the elementwise functions in reach. */
  public static final class Scope {
    private final Map<String, ElementwiseFunction> functions;
    private final Map<String, Expr.Var> vars = new LinkedHashMap<>();
    private final Set<String> dims = new LinkedHashSet<>();
    private final Map<String, Dim> derived = new LinkedHashMap<>();

    public Scope(Map<String, ElementwiseFunction> functions) {
      this.functions = new LinkedHashMap<>(functions);
    }

    public Scope() {
      this(builtins());
    }

    /** The scope of a module: its dims, variables, and dz / Hz of its output. */
    public static Scope of(Spec spec, ModuleSpec m) {
      Scope s = new Scope(spec.functions());
      for (var d : m.dims()) s.dims.addAll(d.symbols());
      s.derived.putAll(m.derivedDims());
      for (Expr.Var v : m.variables()) s.add(v);
      if (!m.isLoss()) {
        s.add(m.outputGradient());
        s.add(m.outputHessian());
      }
      return s;
    }

    public Scope add(Expr.Var v) {
      vars.put(v.name(), v);
      for (var d : v.shape().dims()) dims.addAll(d.symbols());
      return this;
    }

    public Scope dims(Collection<String> names) {
      dims.addAll(names);
      return this;
    }

    public Map<String, Expr.Var> vars() {
      return vars;
    }
  }

  /** Parses and checks one expression in a scope. */
  public static Expr parseExpression(String text, Scope scope, String source) {
    return parseExpressionWithPlaces(text, scope, source).expr();
  }

  /** An expression as parsed, with where each of its nodes was written (for messages). */
  public record ParsedExpression(Expr expr, ModuleSpec.ExprPlaces places) {}

  /** {@link #parseExpression}, with the places of the expression's nodes in {@code text}. */
  public static ParsedExpression parseExpressionWithPlaces(String text, Scope scope, String source) {
    HbpParser.SingleExprContext tree = Syntax.parse(text, source, HbpParser::singleExpr);
    SpecBuilder b = new SpecBuilder(source, text, scope.functions);
    b.declareDims(scope.dims);
    b.declareDerivedDims(scope.derived);
    b.vars().putAll(scope.vars);
    Expr e = b.expr(tree.expr());
    return new ParsedExpression(e, b.exprPlaces());
  }

  /** Parses a type such as {@code matrix(n,n)}; undeclared dims are declared. */
  public static Shape parseType(String text, String source) {
    HbpParser.SingleTypeContext tree = Syntax.parse(text, source, HbpParser::singleType);
    return new SpecBuilder(source, text, builtins()).implicitDims().type(tree.typeSpec());
  }
}
