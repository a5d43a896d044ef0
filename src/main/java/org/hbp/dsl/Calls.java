package org.hbp.dsl;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.apache.commons.text.similarity.LevenshteinDistance;
import org.hbp.calculus.Dim;
import org.hbp.calculus.ElementwiseFunction;
import org.hbp.calculus.Expr;
import org.hbp.calculus.Exprs;
import org.hbp.calculus.Shape;
import org.hbp.dsl.parser.HbpParser;

/** Type checking of function calls: built-in matrix functions and elementwise functions. */
final class Calls {
  private Calls() {}

  /** The number of arguments of a function that checks its own (reshape, ones, zeros: a number of dims; unfold: optional, named ones). */
  private static final int OWN_CHECK = -1;

  /** The built-in matrix functions, each with its number of arguments. */
  private static final Map<String, Integer> MATRIX_FUNCTIONS = Map.ofEntries(Map.entry("sum", 1), Map.entry("tr", 1), Map.entry("diag", 1),
      Map.entry("kron", 2), Map.entry("vec", 1), Map.entry("flatten", 1), Map.entry("reshape", OWN_CHECK), Map.entry("ones", OWN_CHECK),
      Map.entry("zeros", OWN_CHECK), Map.entry("eye", 1), Map.entry("inv", 1), Map.entry("det", 1), Map.entry("softmax", 1),
      Map.entry("logsumexp", 1), Map.entry("logsumexp_cols", 1), Map.entry("max", 2), Map.entry("min", 2), Map.entry("unfold", OWN_CHECK),
      Map.entry("gather", 2), Map.entry("commutation", 2), Map.entry("diagonalizer", 1), Map.entry("selection", 2), Map.entry("unfolding", 7),
      Map.entry("norm", 1));

  static boolean isBuiltin(String name) {
    return MATRIX_FUNCTIONS.containsKey(name) || ElementwiseFunction.BUILTIN_RULES.containsKey(name);
  }

  /** The functions a spec can call: the matrix functions, the built-in and the spec's own elementwise ones. */
  private static Set<String> knownFunctions(SpecBuilder b) {
    Set<String> known = new TreeSet<>(MATRIX_FUNCTIONS.keySet());
    known.addAll(b.functions().keySet());
    return known;
  }

  /** Names by edit distance to {@code name} (Levenshtein), ties in alphabetical order. */
  static List<String> closestFirst(String name, Collection<String> names) {
    LevenshteinDistance distance = LevenshteinDistance.getDefaultInstance();
    return names.stream().sorted(Comparator.comparingInt((String n) -> distance.apply(name, n)).thenComparing(Comparator.naturalOrder()))
        .toList();
  }

  static Expr call(SpecBuilder b, HbpParser.CallExprContext c) {
    String f = c.ID().getText();
    int primes = c.QUOTE().size();
    List<HbpParser.ArgContext> args = c.arg();
    ElementwiseFunction fn = b.functions().get(f);
    if (fn != null) {
      arity(b, c, f, args, 1);
      Expr a = b.expr(args.get(0).expr());
      return new Expr.Apply(fn, primes, a);
    }
    if (!MATRIX_FUNCTIONS.containsKey(f)) {
      if (b.vars().containsKey(f)) throw b.error(c, "'" + f + "' is a variable, not a function");
      if (f.equals(b.definingFunction()))
        throw b.error(c, "elementwise function '" + f + "' calls itself in its body; a body cannot be recursive (its derivatives d1 and d2, "
            + "in a { ... } block after it, may use it)");
      throw b.error(c, "unknown function '" + f + "'; known functions, closest first: " + String.join(", ", closestFirst(f, knownFunctions(b))));
    }
    if (primes > 0) throw b.error(c, "'" + f + "' is not an elementwise function; only those have derivatives f'(x)");
    if (!f.equals("unfold")) {
      for (HbpParser.ArgContext a : args) if (a.key != null) throw b.error(a, f + " takes no named arguments");
    }
    int n = MATRIX_FUNCTIONS.get(f);
    if (n != OWN_CHECK) arity(b, c, f, args, n);
    return switch (f) {
      case "sum" -> new Expr.Sum(b.expr(args.get(0).expr()));
      case "tr" -> new Expr.Trace(square(b, args.get(0), f));
      case "diag" -> diag(b, args.get(0), f);
      case "kron" -> new Expr.Kron(matrix(b, args.get(0), f), matrix(b, args.get(1), f));
      case "vec", "flatten" -> new Expr.Vec(b.expr(args.get(0).expr()));
      case "reshape" -> reshape(b, c, args);
      case "ones", "zeros" -> {
        if (args.isEmpty() || args.size() > 3) throw b.error(c, f + " expects 1 to 3 dimensions but got " + args.size());
        Shape s = shapeOf(b, args);
        yield f.equals("ones") ? new Expr.Ones(s) : new Expr.Zero(s);
      }
      case "eye" -> new Expr.Eye(b.dim(args.get(0).expr()));
      case "inv" -> new Expr.Inv(square(b, args.get(0), f));
      case "det" -> new Expr.Det(square(b, args.get(0), f));
      case "softmax" -> softmax(b, args.get(0));
      case "logsumexp" -> new Expr.LogSumExp(b.expr(args.get(0).expr()));
      case "logsumexp_cols" -> new Expr.ColumnLogSumExp(matrix(b, args.get(0), f));
      case "max", "min" -> maxOrMin(b, f, args.get(0), args.get(1));
      case "gather" -> new Expr.Gather(b.expr(args.get(0).expr()), indexMap(b, args.get(1), f));
      case "selection" -> new Expr.Selection(indexMap(b, args.get(0), f), b.dim(args.get(1).expr()));
      case "commutation" -> new Expr.Commutation(b.dim(args.get(0).expr()), b.dim(args.get(1).expr()));
      case "diagonalizer" -> new Expr.Diagonalizer(b.dim(args.get(0).expr()));
      case "unfolding" -> unfolding(b, c, args);
      case "norm" -> norm(b, args.get(0));
      default -> unfold(b, c, args);
    };
  }

  /** diag(v) of a column v is the diagonal matrix; diag(M) of a square matrix its diagonal. */
  private static Expr diag(SpecBuilder b, HbpParser.ArgContext arg, String f) {
    Expr a = b.expr(arg.expr());
    if (a.shape().isColumn()) return new Expr.DiagMat(a);
    return new Expr.DiagVec(square(b, arg, f));
  }

  /**
   * norm(X): the 2-norm of a vector (the Frobenius norm of a matrix or tensor), a scalar, read as
   * {@code sqrt(sum(X.^2))}, which the printer shows as {@code norm(X)} again. It is differentiable
   * where X is not 0 (its derivative X'/norm(X) is undefined at 0).
   */
  private static Expr norm(SpecBuilder b, HbpParser.ArgContext arg) {
    Expr x = b.expr(arg.expr());
    if (x.shape().isScalar()) throw b.error(arg, "norm expects a vector, matrix or tensor, but " + b.src(arg) + " is a scalar; use abs(" + b.src(arg) + ")");
    return Exprs.norm(x);
  }

  /** reshape(X, d1[, d2[, d3]]) to a shape with as many entries. */
  private static Expr reshape(SpecBuilder b, HbpParser.CallExprContext c, List<HbpParser.ArgContext> args) {
    if (args.size() < 2 || args.size() > 4) throw b.error(c, "reshape expects (X, d1[, d2[, d3]]) but got " + args.size() + (args.size() == 1 ? " argument" : " arguments"));
    Expr x = b.expr(args.get(0).expr());
    Shape target = shapeOf(b, args.subList(1, args.size()));
    if (!target.numel().equals(x.shape().numel()))
      throw b.error(c, "cannot reshape " + b.src(args.get(0)) + ", a " + x.shape() + " with " + x.shape().numel()
          + " entries, to " + target + " with " + target.numel() + " entries");
    return new Expr.Reshape(x, target);
  }

  /** softmax of a vector, or of each column of a matrix. */
  private static Expr softmax(SpecBuilder b, HbpParser.ArgContext arg) {
    Expr v = b.expr(arg.expr());
    if (v.shape().isTensor())
      throw b.error(arg, "softmax expects a vector or a matrix (softmaxed column by column), but " + b.src(arg) + " is " + v.shape());
    return new Expr.Softmax(v);
  }

  /** unfolding(c, h, w, k, s, p, d): the unfolding matrix of that geometry. */
  private static Expr unfolding(SpecBuilder b, HbpParser.CallExprContext c, List<HbpParser.ArgContext> args) {
    Dim[] d = new Dim[7];
    for (int i = 0; i < 7; i++) d[i] = b.dim(args.get(i).expr());
    Expr.ConvDims g = new Expr.ConvDims(d[0], d[1], d[2], d[3], d[4], d[5], d[6]);
    checkGeometry(b, c, g);
    return new Expr.Unfolding(g);
  }

  /** Elementwise {@code max(a, b)} or {@code min(a, b)} of equally shaped arguments, a scalar one broadcast. */
  private static Expr maxOrMin(SpecBuilder b, String f, HbpParser.ArgContext first, HbpParser.ArgContext second) {
    Expr x = b.expr(first.expr()), y = b.expr(second.expr());
    Shape sx = x.shape(), sy = y.shape();
    if (!sx.equals(sy)) {
      if (sx.isScalar()) x = broadcast(x, sy);
      else if (sy.isScalar()) y = broadcast(y, sx);
      else throw b.error(second, f + " expects arguments of the same shape (or a scalar), but " + b.src(first) + " is " + sx
          + " and " + b.src(second) + " is " + sy);
    }
    return f.equals("max") ? new Expr.Max(x, y) : new Expr.Min(x, y);
  }

  /** A scalar broadcast to a shape, a number c (also -c) as c*ones(shape). */
  private static Expr broadcast(Expr scalar, Shape shape) {
    if (scalar instanceof Expr.Num n && n.value() == 0) return new Expr.Zero(shape);
    if (scalar instanceof Expr.Scale s && s.operand() instanceof Expr.Num n) return Exprs.scale(s.coefficient() * n.value(), new Expr.Ones(shape));
    return SpecBuilder.broadcast(scalar, shape);
  }


  /** unfold(X, k [, s [, p [, d]]]), also with names kernel=, stride=, padding=, dilation=. */
  private static Expr unfold(SpecBuilder b, HbpParser.CallExprContext c, List<HbpParser.ArgContext> args) {
    if (args.size() < 2) throw b.error(c, "unfold expects (X, kernel[, stride[, padding[, dilation]]]) but got " + args.size() + (args.size() == 1 ? " argument" : " arguments"));
    Expr x = b.expr(args.get(0).expr());
    if (!x.shape().isTensor()) throw b.error(args.get(0), "unfold expects a tensor(c,h,w), but " + b.src(args.get(0)) + " is " + x.shape());
    List<String> names = List.of("kernel", "stride", "padding", "dilation");
    Map<String, Dim> given = new LinkedHashMap<>();
    boolean named = false;
    for (int i = 1; i < args.size(); i++) {
      HbpParser.ArgContext a = args.get(i);
      String key;
      if (a.key != null) {
        key = a.key.getText();
        named = true;
        if (!names.contains(key)) throw b.error(a, "unfold has no argument '" + key + "'; expected kernel, stride, padding or dilation");
      } else {
        if (named) throw b.error(a, "a positional argument cannot follow a named one");
        if (i - 1 >= names.size()) throw b.error(a, "unfold takes at most 5 arguments");
        key = names.get(i - 1);
      }
      if (given.containsKey(key)) throw b.error(a, "'" + key + "' is given twice");
      given.put(key, b.dim(a.expr()));
    }
    if (!given.containsKey("kernel")) throw b.error(c, "unfold needs a kernel size");
    Shape s = x.shape();
    Expr.ConvDims g = new Expr.ConvDims(s.dims().get(0), s.dims().get(1), s.dims().get(2), given.get("kernel"),
        given.getOrDefault("stride", Dim.ONE), given.getOrDefault("padding", Dim.ZERO), given.getOrDefault("dilation", Dim.ONE));
    checkGeometry(b, c, g);
    return new Expr.Unfold(x, g);
  }

  private static void checkGeometry(SpecBuilder b, HbpParser.CallExprContext c, Expr.ConvDims g) {
    if (g.stride().isConstant() && g.stride().constant() <= 0) throw b.error(c, "the stride must be positive");
    if (g.kernel().isConstant() && g.kernel().constant() <= 0) throw b.error(c, "the kernel size must be positive");
    if (g.outH().isConstant() && g.outH().constant() <= 0) throw b.error(c, "the kernel does not fit: the output height is " + g.outH());
  }

  private static Expr.Var indexMap(SpecBuilder b, HbpParser.ArgContext a, String f) {
    if (a.expr() instanceof HbpParser.NameExprContext n) {
      Expr.Var v = b.vars().get(n.ID().getText());
      if (v != null && v.role() == Expr.Role.INDEX) return v;
    }
    throw b.error(a, f + " expects an index map (declared 'index NAME: TYPE'), but found '" + b.src(a) + "'");
  }

  private static Shape shapeOf(SpecBuilder b, List<HbpParser.ArgContext> dims) {
    List<Dim> d = new ArrayList<>();
    for (HbpParser.ArgContext a : dims) d.add(b.dim(a.expr()));
    if (d.size() == 1) return Shape.vector(d.get(0));
    return new Shape(d);
  }

  private static Expr matrix(SpecBuilder b, HbpParser.ArgContext a, String f) {
    Expr m = b.expr(a.expr());
    if (m.shape().isTensor()) throw b.error(a, f + " expects a matrix, but " + b.src(a) + " is " + m.shape());
    return m;
  }

  private static Expr square(SpecBuilder b, HbpParser.ArgContext a, String f) {
    Expr m = matrix(b, a, f);
    if (!m.shape().rows().equals(m.shape().cols()))
      throw b.error(a, f + " expects a square matrix, but " + b.src(a) + " is " + m.shape());
    return m;
  }

  private static void arity(SpecBuilder b, HbpParser.CallExprContext c, String f, List<HbpParser.ArgContext> args, int n) {
    if (args.size() != n)
      throw b.error(c, f + " expects " + n + (n == 1 ? " argument" : " arguments") + " but got " + args.size());
  }
}
