package org.hbp.verify;

import org.hbp.calculus.Tensor;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Collectors;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.hbp.calculus.Exprs;
import org.hbp.codegen.OperatorGenerator;
import org.hbp.codegen.OperatorLoader;
import org.hbp.derive.ModuleRule;
import org.hbp.derive.ModuleRules;
import org.hbp.dsl.Domain;
import org.hbp.dsl.Dsl;
import org.hbp.dsl.ModuleSpec;
import org.hbp.dsl.Spec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code hbp verify} neither cries wolf nor stops seeing wrong rules: operators with inverses and
 * log-determinants pass at 20 seeds, the sampler draws from the declared domains, and a rule that
 * is wrong by a small factor still fails at the points where the right one passes.
 */
class VerifySeedsTest {
  @TempDir static Path work;

  static final String INV = "module invm {\n  dims n;\n  input x: vector(n);\n  param S: matrix(n, n);\n  output z = inv(S)*x;\n}\n";
  static final String LOGDET = "module logdetm {\n  dims n;\n  input x: vector(n);\n  param S: matrix(n, n) spd;\n"
      + "  output z = log(det(S))*x;\n}\n";

  private static OperatorCheck.Factory compile(Spec spec, String text, String name) throws Exception {
    Map<String, Class<?>> classes = OperatorLoader.compile(OperatorGenerator.generate(spec, text, name, "hbp.test." + name),
        work.resolve(name));
    Class<?> type = classes.get(OperatorGenerator.className(spec.modules().get(0).name()));
    return (be, dims) -> new OperatorLoader.Loaded(type, false).create(be, dims);
  }

  private static List<String> failuresAtSeeds(String text, String name, int seeds) throws Exception {
    Spec spec = Dsl.parse(text, name + ".hbp");
    ModuleSpec m = spec.modules().get(0);
    OperatorCheck.Factory factory = compile(spec, text, name);
    List<String> failures = new ArrayList<>();
    for (long seed = 1; seed <= seeds; seed++) {
      OperatorCheck.Report r = OperatorCheck.check(m, factory, seed, 3);
      for (OperatorCheck.Row row : r.rows())
        if (!row.passed()) failures.add("seed " + seed + ": " + row.method + " " + row.wrt + " rel " + row.maxRel() + " " + row.failure());
    }
    return failures;
  }

  @Test
  void anInverseVerifiesAtTwentySeeds() throws Exception {
    List<String> failures = failuresAtSeeds(INV, "inv", 20);
    assertTrue(failures.isEmpty(), String.join("\n", failures));
  }

  @Test
  void aLogDeterminantOfAnSpdParameterVerifiesAtTwentySeeds() throws Exception {
    List<String> failures = failuresAtSeeds(LOGDET, "logdet", 20);
    assertTrue(failures.isEmpty(), String.join("\n", failures));
  }

  @Test
  void aRuleWrongByOnePartInAThousandStillFails() {
    ModuleSpec m = Dsl.parse(INV, "inv.hbp").modules().get(0);
    ModuleRule d = ModuleRules.moduleRules(m).stream().filter(x -> x.wrt().name().equals("S")).findFirst().orElseThrow();
    ModuleRule.Forms closed = d.closedForm();
    ModuleRule wrong = new ModuleRule(d.module(), d.wrt(), d.output(), d.residualKind(),
        new ModuleRule.Forms(closed.jacobian(), Exprs.scale(1.001, closed.residual()), closed.hbp()), d.compact());
    for (long seed = 1; seed <= 5; seed++) {
      Random rng = new Random(seed);
      Map<String, Long> dims = SpecCheck.randomDims(m, rng);
      Map<String, Tensor> values = SpecCheck.randomValues(m, dims, rng);
      long s = rng.nextLong();
      List<SpecCheck.Check> right = SpecCheck.check(m, d, values, dims, new Random(s));
      List<SpecCheck.Check> bad = SpecCheck.check(m, wrong, values, dims, new Random(s));
      assertTrue(right.stream().allMatch(SpecCheck.Check::passed), right.toString());
      assertFalse(bad.stream().filter(c -> c.what().equals("residual")).allMatch(SpecCheck.Check::passed), bad.toString());
    }
  }

  @Test
  void targetsAndVariablesAreDrawnFromTheirDomains() {
    ModuleSpec m = Dsl.parse("loss l {\n  dims n, k;\n  input x: vector(n) positive;\n  data S: matrix(n, n) spd;\n"
        + "  target y: matrix(n, k) onehot;\n  target p: vector(n) probability;\n  target s: vector(n) sign;\n  target r: vector(n);\n"
        + "  output E = x'*S*x + sum(y'*x) + p'*x + s'*x + r'*x;\n}\n", "l.hbp").modules().get(0);
    assertEquals(Domain.REAL, m.domain("r"));
    Random rng = new Random(3);
    boolean rNegative = false;
    for (int t = 0; t < 20; t++) {
      Map<String, Long> dims = SpecCheck.randomDims(m, rng);
      Map<String, Tensor> v = SpecCheck.randomValues(m, dims, rng);
      for (double x : v.get("x").data()) assertTrue(x >= 0.5 && x < 2, "positive: " + x);
      DMatrixRMaj s = v.get("S").toDMatrix();
      DMatrixRMaj st = new DMatrixRMaj(s.numCols, s.numRows);
      CommonOps_DDRM.transpose(s, st);
      assertTrue(org.ejml.dense.row.MatrixFeatures_DDRM.isIdentical(s, st, 0), "symmetric");
      assertTrue(org.ejml.dense.row.factory.DecompositionFactory_DDRM.chol(s.numRows, true).decompose(s.copy()), "positive definite");
      Tensor y = v.get("y");
      int rows = y.shape()[0];
      for (int c = 0; c < y.numel() / rows; c++) {
        double sum = 0, ones = 0;
        for (int r = 0; r < rows; r++) {
          double e = y.data()[c * rows + r];
          assertTrue(e == 0 || e == 1, "onehot entry " + e);
          sum += e;
        }
        assertEquals(1, sum);
      }
      double ps = 0;
      for (double e : v.get("p").data()) {
        assertTrue(e > 0);
        ps += e;
      }
      assertEquals(1, ps, 1e-12);
      for (double e : v.get("s").data()) assertTrue(e == 1 || e == -1, "sign " + e);
      for (double e : v.get("r").data()) rNegative |= e < 0;
    }
    assertTrue(rNegative, "real targets take negative values too");
  }

  @Test
  void realSquareMatricesAreWellConditioned() {
    Random rng = new Random(5);
    for (int t = 0; t < 200; t++) {
      Tensor s = Sampler.draw(Domain.REAL, new int[] {4, 4}, rng);
      double[] sv = org.ejml.dense.row.SingularOps_DDRM.singularValues(s.toDMatrix());
      for (double x : sv) assertTrue(x >= Sampler.MIN_SINGULAR_VALUE, "singular value " + x);
    }
  }

  @Test
  void aForwardValueThatIsNeverFiniteNamesTheExpressionThatLeftItsDomain() {
    ModuleSpec m = Dsl.parse("loss l {\n  dims n;\n  input x: vector(n);\n  output E = sum(log(x - 5));\n}\n", "l.hbp").modules().get(0);
    Random rng = new Random(1);
    Map<String, Long> dims = SpecCheck.randomDims(m, rng);
    Sampler.DomainException e = assertThrows(Sampler.DomainException.class, () -> SpecCheck.randomValues(m, dims, rng));
    // positive x is drawn in [0.5, 2), where x - 5 <= 0 too: no hint to declare it so
    assertEquals("l: log(x - 5*ones(n)), written at l.hbp:4:18, is not finite at any of 100 random points: an entry of"
        + " x - 5*ones(n) <= 0 there", e.getMessage());
  }

  /** The message of a module m, with input x: vector(n), n = 4, and this output, whose forward value is never finite. */
  private static String neverFinite(String output) {
    ModuleSpec m = Dsl.parse("module m {\n  dims n;\n  input x: vector(n);\n  output z = " + output + ";\n}\n", "m.hbp").modules().get(0);
    return assertThrows(Sampler.DomainException.class, () -> Sampler.point(m, Map.of("n", 4L), new Random(3), Map.of())).getMessage();
  }

  @Test
  void declaringAVariablePositiveIsAdvisedOnlyWhereItMakesTheValueFinite() {
    // real x in [-1, 1): all four entries above 0.9 about once in 160000 draws; positive x in [0.5, 2): about once in 3.5
    assertEquals("m: log(x - 0.9*ones(n)), written at m.hbp:4:14, is not finite at any of 100 random points: an entry of"
        + " x - 0.9*ones(n) <= 0 there; declare x positive if it is meant to be", neverFinite("log(x - 0.9)"));
    // undefined whatever the sign of x: no hint, the place of the output instead
    assertEquals("m: log(-exp(x)), written at m.hbp:4:14, is not finite at any of 100 random points: an entry of -exp(x) <= 0"
        + " there", neverFinite("log(-exp(x))"));
    // a divisor that is 0 at every point without simplifying to 0 (x ./ (x - x) is refused by the parser)
    assertEquals("m: relu(-abs(x)).^-1, written at m.hbp:4:14, is not finite at any of 100 random points: an entry of relu(-abs(x)) = 0"
        + " there", neverFinite("x ./ relu(-abs(x))"));
    // the place is that of the subexpression (of its nearest written enclosing one: ./ for the reciprocal it makes)
    assertEquals("m: relu(-abs(x)).^-1, written at m.hbp:4:20, is not finite at any of 100 random points: an entry of relu(-abs(x)) = 0"
        + " there", neverFinite("2*x + x ./ relu(-abs(x))"));
  }

  @Test
  void extrapolationIsAccurateForLargeValuesAndNearSingularities() {
    // f = 1e4 * sum(x .* x): Hessian 2e4 I exactly; one fixed step of 1e-4 is off by about 1e-4 absolute
    ModuleSpec big = Dsl.parse("loss l {\n  dims n;\n  input x: vector(n);\n  output E = 10000*(x'*x);\n}\n", "l.hbp").modules().get(0);
    Map<String, Long> dims = new LinkedHashMap<>(Map.of("n", 3L));
    Map<String, Tensor> v = SpecCheck.randomValues(big, dims, new Random(2));
    DMatrixRMaj h = FiniteDifferences.hessianExtrapolated(big.outputExpr(), big.variables().get(0), v, dims);
    for (int i = 0; i < 3; i++) for (int j = 0; j < 3; j++) assertEquals(i == j ? 2e4 : 0, h.get(i, j), 1e-6);
    // f = 1/(x - 0.99) at x = 1: f'' = 2/0.01^3 = 2e6; the fixed step 1e-4 is off by about 4e-4 relative
    // (truncation (2h)^2 f''''/12 = 800), the extrapolation by less than 1e-6
    ModuleSpec near = Dsl.parse("loss l {\n  input x: scalar;\n  output E = (x - 0.99).^-1;\n}\n", "l.hbp").modules().get(0);
    Map<String, Tensor> one = Map.of("x", Tensor.scalar(1));
    double fixed = FiniteDifferences.hessian(near.outputExpr(), near.variables().get(0), one, Map.of()).get(0, 0);
    assertTrue(Math.abs(fixed - 2e6) > 2e6 * 1e-4, "the fixed step is inaccurate here: " + fixed);
    assertEquals(2e6, FiniteDifferences.hessianExtrapolated(near.outputExpr(), near.variables().get(0), one, Map.of()).get(0, 0), 2e6 * 1e-6);
    assertEquals(-1e4, FiniteDifferences.gradientExtrapolated(near.outputExpr(), near.variables().get(0), one, Map.of()).get(0, 0), 1e4 * 1e-9);
  }
}
