package org.hbp.calculus;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.hbp.ExternalTools;
import org.hbp.derive.Formats;
import org.hbp.derive.ModuleRules;
import org.hbp.dsl.Dsl;
import org.hbp.dsl.ModuleSpec;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every LaTeX output parses with a real TeX parser: KaTeX (src/test/katex, installed by
 * {@code npm ci} there; .ci/run does it) with throwOnError and strict mode, run by node on the
 * LaTeX of every spec in modules-spec/ ({@code hbp derive --format latex}) and of a table of
 * ad-hoc expressions and their Jacobians and Hessians. Under CI=true a missing node or KaTeX is a
 * failure; elsewhere the parse tests are skipped. Exact strings pin the forms fixed in issue 13.
 */
class LatexKatexTest {
  @TempDir Path dir;

  private static final Path KATEX = Path.of("src/test/katex");
  private static final Dim N = Dim.sym("n"), M = Dim.sym("m");

  // ---- exact forms ----

  private static Expr.Var var(String name, Shape s) {
    return new Expr.Var(name, s, Expr.Role.INPUT);
  }

  private static final Expr.Var X = var("X", Shape.matrix(N, N)), W = var("W", Shape.matrix(M, N)), x = var("x", Shape.vector(N));

  @Test
  void transposeOfAnInverseIsOneSuperscript() {
    assertEquals("X^{-\\top}", LatexPrinter.latex(new Expr.Transpose(new Expr.Inv(X))));
    assertEquals("X^{-\\top}", LatexPrinter.latex(new Expr.Inv(new Expr.Transpose(X))));
    assertEquals("\\left(X^{\\top}\\right)^{\\odot 2}", LatexPrinter.latex(new Expr.Power(new Expr.Transpose(X), 2)));
    assertEquals("\\left(W^{\\top} W\\right)^{-1}", LatexPrinter.latex(new Expr.Inv(new Expr.MatMul(List.of(new Expr.Transpose(W), W)))));
  }

  @Test
  void kroneckerProductsAreParenthesisedInProducts() {
    Expr k = new Expr.Kron(new Expr.Eye(M), W);
    assertEquals("\\left(I_{m} \\otimes W\\right) K_{m,n}", LatexPrinter.latex(new Expr.MatMul(List.of(k, new Expr.Commutation(M, N)))));
    assertEquals("\\left(W x\\right) \\otimes I_{m}", LatexPrinter.latex(new Expr.Kron(new Expr.MatMul(List.of(W, x)), new Expr.Eye(M))));
    assertEquals("2 \\left(I_{m} \\otimes W\\right)", LatexPrinter.latex(new Expr.Scale(2, k)));
    assertEquals("I_{m} \\otimes W + W \\otimes I_{m}", LatexPrinter.latex(new Expr.Add(List.of(k, new Expr.Kron(W, new Expr.Eye(M))))));
    assertEquals("\\left(I_{m} \\otimes W\\right)^{\\top}", LatexPrinter.latex(new Expr.Transpose(k)));
  }

  @Test
  void aRowOfOnesIsTransposed() {
    assertEquals("\\mathbf{1}_{n}^{\\top}", LatexPrinter.latex(new Expr.Ones(Shape.matrix(Dim.ONE, N))));
    assertEquals("\\mathbf{1}_{n}^{\\top}", LatexPrinter.latex(new Expr.Transpose(new Expr.Ones(Shape.vector(N)))));
    assertEquals("\\mathbf{1}_{n}", LatexPrinter.latex(new Expr.Ones(Shape.vector(N))));
    assertEquals("\\mathbf{1}_{m \\times n}", LatexPrinter.latex(new Expr.Ones(Shape.matrix(M, N))));
    assertEquals("\\mathbf{1}_{n}^{\\top} x", LatexPrinter.latex(new Expr.MatMul(List.of(new Expr.Ones(Shape.matrix(Dim.ONE, N)), x))));
  }

  @Test
  void derivedDimsPrintByName() {
    ModuleSpec conv = Dsl.parseFile(Path.of("modules-spec/conv2d.hbp")).modules().get(0);
    String tex = Formats.latex(conv, ModuleRules.derive(conv));
    assertTrue(tex.contains("I_{\\mathit{oh} \\mathit{ow}}"), tex);
    assertTrue(tex.contains("\\mathbf{1}_{\\mathit{oh} \\mathit{ow}}^{\\top}"), tex);
    assertFalse(tex.contains("2 p"), "a derived dim written out: " + tex);
    Dim oh = conv.derivedDims().get("oh");
    assertEquals("I_{\\mathit{oh}}", LatexPrinter.latex(new Expr.Eye(oh), conv.dimNames()));
    assertNotEquals("I_{\\mathit{oh}}", LatexPrinter.latex(new Expr.Eye(oh)), "without names the dim is written out");
  }

  @Test
  void fractionsNamesAndNumbers() {
    Expr.Var s = new Expr.Var("s", Shape.SCALAR, Expr.Role.INPUT);
    assertEquals("\\frac{x}{s}", LatexPrinter.latex(new Expr.ScalarMul(new Expr.Power(s, -1), x)));
    assertEquals("\\frac{1}{s}", LatexPrinter.latex(new Expr.Power(s, -1)));
    assertEquals("x \\oslash \\exp\\left(x\\right)", LatexPrinter.latex(new Expr.Hadamard(List.of(x,
        new Expr.Power(new Expr.Apply(ElementwiseFunction.BUILTIN_RULES.get("exp"), 0, x), -1)))));
    assertEquals("W_{1}", LatexPrinter.latex(var("W1", Shape.matrix(M, N))));
    assertEquals("b_{\\mathrm{in}}", LatexPrinter.latex(var("b_in", Shape.vector(M))));
    assertEquals("\\mathrm{mask}", LatexPrinter.latex(var("mask", Shape.vector(M))));
    assertEquals("10^{-5} x", LatexPrinter.latex(new Expr.Scale(1e-5, x)));
    assertEquals("\\sigma'\\left(x\\right) \\odot \\sigma\\left(x\\right)", LatexPrinter.latex(new Expr.Hadamard(List.of(
        new Expr.Apply(ElementwiseFunction.BUILTIN_RULES.get("sigmoid"), 1, x), new Expr.Apply(ElementwiseFunction.BUILTIN_RULES.get("sigmoid"), 0, x)))));
  }

  @Test
  void normSinCosAndErfPrintAsInTextbooks() {
    Dsl.Scope s = scope();
    assertEquals("\\left\\|x\\right\\|", LatexPrinter.latex(Dsl.parseExpression("norm(x)", s, "test")));
    assertEquals("\\sin\\left(x\\right) \\odot \\cos\\left(x\\right)", LatexPrinter.latex(Dsl.parseExpression("sin(x) .* cos(x)", s, "test")));
    assertEquals("\\operatorname{erf}\\left(x\\right)", LatexPrinter.latex(Dsl.parseExpression("erf(x)", s, "test")));
  }

  // ---- everything parses with KaTeX ----

  /** Ad-hoc expressions and the variable to differentiate by: the issue's forms and ~30 more. */
  private static final String[][] AD_HOC = {
      {"tr(inv(X)*A)", "X"}, {"W*W'", "W"}, {"sum(x)", "x"}, {"ones(n)'*x", "x"}, {"kron(A, X)", "X"}, {"inv(X)", "X"},
      {"(W*x)'*(W*x)", "W"}, {"X'*A*X", "X"}, {"tr(X'*A*X)", "X"}, {"A .* X", "X"}, {"diag(x)", "x"}, {"diag(X)", "X"},
      {"vec(X')", "X"}, {"sigmoid(x)", "x"}, {"tanh(W*x)", "x"}, {"softplus(x) .* exp(x)", "x"}, {"x ./ (1 + exp(-x))", "x"},
      {"log(det(X))", "X"}, {"sum(x.^2) / n", "x"}, {"(x'*x) / (x'*y)", "x"}, {"sqrt(x'*x)", "x"}, {"softmax(x)", "x"},
      {"logsumexp(x)", "x"}, {"-y'*log(softmax(x))", "x"}, {"(a - W*x)'*(a - W*x)", "W"}, {"kron(x, x')", "x"},
      {"X.^2", "X"}, {"x.^-1", "x"}, {"relu(x) .* step(x)", "x"}, {"sigmoid''(x)", "x"}, {"0.00001*x'*x", "x"},
      {"exp(-x'*x / 2)", "x"}, {"W'*W", "W"}, {"W1*x + b_in", "W1"}, {"inv(X)'*A", "X"}, {"det(X)*inv(X)", "X"},
      {"x*x' - diag(x)", "x"}, {"sum(sigmoid(x) .* (1 - 2*sigmoid(x)))", "x"}, {"A*X*A'", "X"}, {"tr(X)", "X"},
      {"erf(x) .* sin(x) + cos(x)", "x"}, {"x / norm(x)", "x"}, {"norm(X)", "X"}};

  private static Dsl.Scope scope() {
    return new Dsl.Scope()
        .add(var("x", Shape.vector(N))).add(var("y", Shape.vector(N))).add(var("a", Shape.vector(M)))
        .add(var("X", Shape.matrix(N, N))).add(var("A", Shape.matrix(N, N))).add(var("W", Shape.matrix(M, N)))
        .add(var("W1", Shape.matrix(M, N))).add(var("b_in", Shape.vector(M)));
  }

  /** LaTeX of each ad-hoc expression, of its Jacobian, and of its Hessian when it is a scalar. */
  private static List<String> adHocLatex() {
    List<String> out = new ArrayList<>();
    Dsl.Scope scope = scope();
    for (String[] row : AD_HOC) {
      Expr f = Dsl.parseExpression(row[0], scope, "-e");
      Expr.Var w = scope.vars().get(row[1]);
      out.add(LatexPrinter.latex(f));
      out.add(LatexPrinter.latex(Calculus.jacobian(f, w)));
      if (f.shape().isScalar()) out.add(LatexPrinter.latex(Calculus.hessian(f, w)));
    }
    return out;
  }

  private static List<String> specLatex() throws IOException {
    List<String> out = new ArrayList<>();
    List<Path> files = new ArrayList<>();
    try (Stream<Path> s = Files.list(Path.of("modules-spec"))) {
      s.filter(p -> p.toString().endsWith(".hbp")).sorted().forEach(files::add);
    }
    files.add(Path.of("src/test/resources/org/hbp/derive/psd-losses.hbp"));
    for (Path f : files) for (ModuleSpec m : Dsl.parseFile(f).modules()) out.add(Formats.latex(m, ModuleRules.derive(m)));
    return out;
  }

  @Test
  void theIssuesFormsPrintWithoutDoubleSuperscripts() {
    List<String> tex = adHocLatex();
    assertTrue(tex.size() > 80, "too few LaTeX strings: " + tex.size());
    for (String s : tex) assertFalse(s.matches(".*\\^\\{[^{}]*\\}\\^.*"), "double superscript in " + s);
    assertTrue(tex.stream().anyMatch(s -> s.contains("X^{-\\top}")), "tr(inv(X)*A) gives X^{-T}: " + tex);
  }

  @Test
  void everySpecsLatexParsesWithKatex() throws Exception {
    List<String> tex = specLatex();
    assertTrue(tex.size() >= 20, "specs: " + tex.size());
    assertParses(tex);
  }

  @Test
  void everyAdHocLatexParsesWithKatex() throws Exception {
    assertParses(adHocLatex());
  }

  @Test
  void theCheckerRejectsBadTexAndNamesIt() throws Exception {
    requireKatex();
    Run r = katex(List.of("x^{2}", "X^{-1}^{\\top}"));
    assertEquals(1, r.code(), r.out());
    assertTrue(r.out().contains("X^{-1}^{\\top}"), r.out());
    assertTrue(r.out().contains("Double superscript"), r.out());
  }

  private void assertParses(List<String> tex) throws Exception {
    requireKatex();
    Run r = katex(tex);
    assertEquals(0, r.code(), r.out());
    assertTrue(r.out().contains(tex.size() + " strings parsed"), r.out());
  }

  private record Run(int code, String out) {}

  private Run katex(List<String> tex) throws Exception {
    Path input = dir.resolve("latex.json");
    Files.writeString(input, new ObjectMapper().writeValueAsString(tex));
    Process p = new ProcessBuilder("node", KATEX.resolve("check-latex.js").toString(), input.toString()).redirectErrorStream(true).start();
    p.getOutputStream().close();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(120, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      fail("node did not finish in 120 s");
    }
    return new Run(p.exitValue(), out);
  }

  /** node and KaTeX must be there under CI=true; elsewhere their absence skips the parse tests. */
  private static void requireKatex() {
    String missing = null;
    if (!Files.isDirectory(KATEX.resolve("node_modules/katex"))) missing = "KaTeX is not installed: run (cd src/test/katex && npm ci)";
    else if (!nodeRuns()) missing = "node is not on the PATH (apt-get install nodejs npm)";
    if (missing == null) return;
    if ("true".equals(System.getenv("CI"))) fail(missing + "; CI must run the LaTeX parse tests");
    Assumptions.abort(missing);
  }

  private static boolean nodeRuns() {
    return ExternalTools.succeeds(30, "node", "--version");
  }
}
