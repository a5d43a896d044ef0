package org.hbp.dsl;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.hbp.calculus.ElementwiseFunction;
import org.hbp.calculus.Expr;
import org.hbp.calculus.Shape;
import org.hbp.dsl.parser.HbpParser;

/** The front end: parse and check spec files, ad-hoc expressions and types. */
public final class Dsl {
  private Dsl() {}

  static {
    ElementwiseFunction.setFormulaParser(text -> {
      SpecBuilder b = new SpecBuilder("<built-in rule>", text, builtins());
      b.declare("t", Shape.SCALAR, Expr.Role.FREE);
      b.vars().put("t", ElementwiseFunction.T);
      return b.expr(Syntax.parse(text, "<built-in rule>", HbpParser::singleExpr).expr());
    });
  }

  /** Makes sure the built-in derivative rules can be read (installs the formula parser). */
  public static void init() {}

  static Map<String, ElementwiseFunction> builtins() {
    return new LinkedHashMap<>(ElementwiseFunction.BUILTIN_RULES);
  }

  public static Spec parseFile(Path path) {
    String text;
    try {
      text = Files.readString(path);
    } catch (NoSuchFileException e) {
      throw new IllegalArgumentException("spec file not found: " + path);
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read spec file " + path + ": " + e.getMessage());
    }
    return parse(text, path.toString());
  }

  public static Spec parse(String text, String source) {
    HbpParser.FileContext tree = Syntax.parse(text, source, HbpParser::file);
    return new SpecBuilder(source, text, builtins()).file(tree);
  }

  /** A scope for expressions: variables by name and the elementwise functions in reach. */
  public static final class Scope {
    private final Map<String, ElementwiseFunction> functions;
    private final Map<String, Expr.Var> vars = new LinkedHashMap<>();
    private final java.util.Set<String> dims = new java.util.LinkedHashSet<>();
    private final Map<String, org.hbp.calculus.Dim> derived = new LinkedHashMap<>();

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

    public Scope dims(java.util.Collection<String> names) {
      dims.addAll(names);
      return this;
    }

    public Map<String, Expr.Var> vars() {
      return vars;
    }
  }

  /** Parses and checks one expression in a scope. */
  public static Expr parseExpression(String text, Scope scope, String source) {
    HbpParser.SingleExprContext tree = Syntax.parse(text, source, HbpParser::singleExpr);
    SpecBuilder b = new SpecBuilder(source, text, scope.functions);
    b.declareDims(scope.dims);
    b.declareDerivedDims(scope.derived);
    b.vars().putAll(scope.vars);
    return b.expr(tree.expr());
  }

  /** Parses a type such as {@code matrix(n,n)}; undeclared dims are declared. */
  public static Shape parseType(String text, String source) {
    HbpParser.SingleTypeContext tree = Syntax.parse(text, source, HbpParser::singleType);
    return new SpecBuilder(source, text, builtins()).implicitDims().type(tree.typeSpec());
  }
}
