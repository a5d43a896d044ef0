package org.hbp.derive;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.EigenDecomposition_F64;
import org.hbp.calculus.Dim;
import org.hbp.calculus.Expr;
import org.hbp.calculus.Printer;
import org.hbp.calculus.Shape;
import org.hbp.cli.Main;
import org.hbp.dsl.Dsl;
import org.hbp.dsl.ModuleSpec;
import org.hbp.calculus.Evaluator;
import org.hbp.verify.FiniteDifferences;
import org.hbp.calculus.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The PSD prover proves the common convex losses and is sound: every Hessian it proves PSD has no
 * negative eigenvalue at random points (its own closed form, evaluated, and an independent central
 * finite-difference Hessian of the forward expression, both by EJML's symmetric eigensolver), and
 * every form in a table of indefinite or negative matrices, each shown numerically to have a
 * negative eigenvalue somewhere, is not proven.
 */
class PsdProverTest {
  private static final Path RESOURCE = Path.of("src/test/resources/org/hbp/derive/psd-losses.hbp");

  /** Every loss of modules-spec/ and of the test resource. */
  static Stream<ModuleSpec> losses() throws IOException {
    List<Path> files = new ArrayList<>();
    try (Stream<Path> s = Files.list(Path.of("modules-spec"))) {
      s.filter(p -> p.toString().endsWith(".hbp")).sorted().forEach(files::add);
    }
    files.add(RESOURCE);
    return files.stream().flatMap(f -> Dsl.parseFile(f).modules().stream()).filter(ModuleSpec::isLoss);
  }

  private static ModuleSpec loss(String name) throws IOException {
    return losses().filter(m -> m.name().equals(name)).findFirst().orElseThrow();
  }

  @ParameterizedTest
  @ValueSource(strings = {"bce", "huber", "bce_log", "logistic", "squared_hinge", "huber_relu", "smoothed_crossentropy",
      "smoothed_crossentropy_terms", "crossentropy", "squareloss"})
  void commonConvexLossesAreProvenPsd(String name) throws IOException {
    ModuleSpec m = loss(name);
    for (LossRule d : ModuleRules.lossRules(m)) {
      assertEquals(Boolean.TRUE, d.psd().value(), name + ": " + d.psd().reason() + " for " + Printer.text(d.hessian()));
      assertFalse(d.psd().reason().isBlank());
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"modules-spec/bce.hbp", "modules-spec/huber.hbp", "src/test/resources/org/hbp/derive/psd-losses.hbp"})
  void deriveJsonSaysPsdTrueWithAReason(String file) throws IOException {
    StringWriter out = new StringWriter(), err = new StringWriter();
    int code = Main.execute(new String[] {"derive", file, "--format", "json"}, new PrintWriter(out, true), new PrintWriter(err, true));
    assertEquals(0, code, err.toString());
    JsonNode a = new ObjectMapper().readTree(out.toString());
    assertTrue(a.size() >= 1);
    for (JsonNode o : a) {
      assertTrue(o.get("psd").isBoolean() && o.get("psd").asBoolean(), o.toString());
      assertFalse(o.get("psd_reason").asText().isBlank(), o.toString());
    }
  }

  /**
   * Each loss proven PSD, at 12 random points (dims 1..5, inputs at two scales, targets of every
   * kind the loss admits: probability vectors and one-hot, and for losses without assumptions also
   * labels in {-1, 1} and arbitrary reals): the smallest eigenvalue of the derived Hessian and of
   * the finite-difference Hessian of the forward expression is >= -tol.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("losses")
  void everyLossProvenPsdHasNoNegativeEigenvalue(ModuleSpec m) {
    for (LossRule d : ModuleRules.lossRules(m)) {
      if (!Boolean.TRUE.equals(d.psd().value())) continue;
      Random rng = new Random(m.name().hashCode());
      for (int point = 0; point < 12; point++) {
        Map<String, Long> dims = new LinkedHashMap<>();
        for (Dim dim : m.dims()) for (String s : dim.symbols()) dims.put(s, 1L + rng.nextInt(5));
        Map<String, Tensor> values = new LinkedHashMap<>();
        double scale = point % 2 == 0 ? 1 : 5;
        TargetKind kind = TargetKind.values()[point / 2 % (m.assumptions().isEmpty() ? TargetKind.values().length : 2)];
        for (Expr.Var v : m.variables()) {
          int[] shape = Tensor.toIntShape(v.shape().evaluate(dims));
          values.put(v.name(), v.role() == Expr.Role.TARGET ? kind.draw(rng, shape) : uniform(rng, scale, shape));
        }
        String at = m.name() + " wrt " + d.wrt().name() + " at dims " + dims + ", targets " + kind + ", scale " + scale;
        DMatrixRMaj h = Evaluator.evaluate(d.hessian(), values, dims).toDMatrix();
        assertMinEigenvalueAtLeast(h, -1e-10, "derived Hessian of " + at);
        DMatrixRMaj fd = FiniteDifferences.hessian(m.outputExpr(), d.wrt(), values, dims);
        assertMinEigenvalueAtLeast(fd, -1e-5, "finite-difference Hessian of " + at);
      }
    }
  }

  /** How loss targets are drawn. */
  enum TargetKind {
    PROBABILITY, ONE_HOT, SIGNS, REALS;

    Tensor draw(Random rng, int[] shape) {
      Tensor t = Tensor.zeros(shape);
      double[] d = t.data();
      switch (this) {
        case PROBABILITY -> {
          double sum = 0;
          for (int i = 0; i < d.length; i++) sum += d[i] = 0.05 + rng.nextDouble();
          for (int i = 0; i < d.length; i++) d[i] /= sum;
        }
        case ONE_HOT -> d[rng.nextInt(d.length)] = 1;
        case SIGNS -> {
          for (int i = 0; i < d.length; i++) d[i] = rng.nextBoolean() ? 1 : -1;
        }
        case REALS -> {
          for (int i = 0; i < d.length; i++) d[i] = 3 * (2 * rng.nextDouble() - 1);
        }
      }
      return t;
    }
  }

  private static Tensor uniform(Random rng, double scale, int[] shape) {
    Tensor t = Tensor.zeros(shape);
    double[] d = t.data();
    for (int i = 0; i < d.length; i++) d[i] = scale * (2 * rng.nextDouble() - 1);
    return t;
  }

  private static double minEigenvalue(DMatrixRMaj h) {
    DMatrixRMaj s = new DMatrixRMaj(h.numRows, h.numCols);
    CommonOps_DDRM.transpose(h, s);
    CommonOps_DDRM.addEquals(s, h);
    CommonOps_DDRM.scale(0.5, s);
    EigenDecomposition_F64<DMatrixRMaj> eig = DecompositionFactory_DDRM.eig(s.numRows, false, true);
    assertTrue(eig.decompose(s), "eigendecomposition failed");
    double min = Double.POSITIVE_INFINITY;
    for (int i = 0; i < s.numRows; i++) min = Math.min(min, eig.getEigenvalue(i).getReal());
    return min;
  }

  private static void assertMinEigenvalueAtLeast(DMatrixRMaj h, double relTol, String what) {
    double scale = Math.max(1, CommonOps_DDRM.elementMaxAbs(h));
    double min = minEigenvalue(h);
    assertTrue(min >= relTol * scale, what + ": smallest eigenvalue " + min + " (scale " + scale + ")");
  }

  // ---- matrix forms given directly to the prover ----

  private static final Dim N = Dim.sym("n"), M = Dim.sym("m");

  private static Dsl.Scope scope() {
    return new Dsl.Scope()
        .add(new Expr.Var("x", Shape.vector(N), Expr.Role.INPUT))
        .add(new Expr.Var("y", Shape.vector(N), Expr.Role.TARGET))
        .add(new Expr.Var("A", Shape.matrix(N, N), Expr.Role.DATA))
        .add(new Expr.Var("B", Shape.matrix(N, M), Expr.Role.DATA));
  }

  private static Expr parse(String text) {
    return Dsl.parseExpression(text, scope(), "-e");
  }

  /** PSD forms that the prover must prove. */
  static Stream<String> psdForms() {
    return Stream.of(
        "diag(sigmoid(x) .* (1 - sigmoid(x)))", "diag(sigmoid'(x))", "diag(sigmoid(x) .* sigmoid(-x))", "diag(x .* x)",
        "diag(x.^2)", "diag(exp(x))", "diag(softplus'(x))", "diag(softplus''(x))", "diag(tanh'(x))", "diag(relu(x))",
        "diag(abs(x) .* step(x))", "diag(y.^2 .* sigmoid'(x .* y))", "3*eye(n)", "eye(n) + diag(exp(x))",
        "2*eye(n) - 2*diag(sigmoid'(x))", "eye(n) - 4*diag(sigmoid'(x))", "ones(n, n)", "A'*A", "x*x'",
        "A'*diag(exp(x))*A", "B'*(diag(softmax(x)) - softmax(x)*softmax(x)')*B", "A'*B*B'*A", "kron(A'*A, eye(n))",
        "sum(exp(x))*(A'*A)", "0.9*diag(softmax(x)) - 0.9*softmax(x)*softmax(x)'",
        "diag(softmax(x)) - softmax(x)*softmax(x)' + 2*eye(n)", "diag(sign(x).^2) - diag(sign(x).^2 .* step(x).^2)",
        "diag(y .* sigmoid'(x)) + diag((1 - y) .* sigmoid'(x))", "(A'*A)'", "diag(exp(x)) + A'*A + 0.5*x*x'");
  }

  /** Forms that are not PSD (each is shown to have a negative eigenvalue at some sample). */
  static Stream<String> indefiniteForms() {
    return Stream.of(
        "-(A'*A)", "diag(sigmoid(x) .* (1 - 2*sigmoid(x)))", "diag(sigmoid''(x))", "diag(tanh''(x))", "A'*A - eye(n)",
        "diag(x)", "A + A'", "A", "eye(n) - 5*diag(sigmoid'(x))", "diag(softmax(x)) - 2*softmax(x)*softmax(x)'",
        "diag(softmax(x) .* softmax(x)) - softmax(x)*softmax(x)'", "x*y' + y*x'", "diag(exp(x) - 1)", "kron(A, eye(n))",
        "A'*diag(x)*A", "diag(sigmoid(x) - sigmoid(x).^2 - 0.3)", "diag(log(sigmoid(x)))", "sum(x)*eye(n)",
        "diag(x .* sigmoid(x))", "sum(y)*(diag(softmax(x)) - softmax(x)*softmax(x)')", "diag(y .* sigmoid'(x))",
        "diag(x.^3)", "diag(2*tanh(x).^2 - 1)", "diag(sign(x))", "eye(n) - diag(sign(x).^2) - diag(step(x))",
        "A'*A - 2*diag(exp(x))", "diag(exp(x)) - x*x'", "kron(A'*A, -eye(n))");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("psdForms")
  void psdFormsAreProvenAndNumericallyPsd(String text) {
    Expr e = parse(text);
    assertNotNull(PsdCheck.proof(e), "not proven: " + text);
    for (Sample s : samples(300)) assertMinEigenvalueAtLeast(s.evaluate(e), -1e-10, text + " at " + s);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("indefiniteForms")
  void indefiniteFormsAreNotProven(String text) {
    Expr e = parse(text);
    double worst = Double.POSITIVE_INFINITY;
    for (Sample s : samples(300)) worst = Math.min(worst, minEigenvalue(s.evaluate(e)));
    assertTrue(worst < -1e-3, "the example " + text + " should have a negative eigenvalue somewhere; smallest found " + worst);
    assertNull(PsdCheck.proof(e), text + " is not PSD but was proven: " + PsdCheck.proof(e));
  }

  @Test
  void softmaxCovarianceKeepsItsReason() {
    String r = PsdCheck.proof(parse("diag(softmax(x)) - softmax(x)*softmax(x)'"));
    assertEquals("diag(p) - p*p' with p = softmax(x): covariance of a categorical distribution", r);
  }

  @Test
  void reasonsNameTheBound() {
    assertEquals("diagonal with non-negative entries (entry bounds)", PsdCheck.proof(parse("diag(sigmoid(x) .* (1 - sigmoid(x)))")));
    assertEquals("diagonal with non-negative entries (polynomial bound (Bernstein form) in sigmoid(x))",
        PsdCheck.proof(parse("diag(sigmoid(x) - sigmoid(x).^2)")));
  }

  /** One random point: dims n, m in 1..4, x in [-3, 3], y in [-2, 2], A and B in [-1, 1]. */
  private record Sample(Map<String, Long> dims, Map<String, Tensor> values) {
    DMatrixRMaj evaluate(Expr e) {
      return Evaluator.evaluate(e, values, dims).toDMatrix();
    }

    @Override
    public String toString() {
      return "dims " + dims + ", x = " + java.util.Arrays.toString(values.get("x").data());
    }
  }

  private static List<Sample> samples(int count) {
    Random rng = new Random(7);
    List<Sample> out = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      int n = 1 + rng.nextInt(4), m = 1 + rng.nextInt(4);
      Map<String, Long> dims = Map.of("n", (long) n, "m", (long) m);
      Map<String, Tensor> v = new LinkedHashMap<>();
      v.put("x", uniform(rng, 3, new int[] {n, 1}));
      v.put("y", uniform(rng, 2, new int[] {n, 1}));
      v.put("A", uniform(rng, 1, new int[] {n, n}));
      v.put("B", uniform(rng, 1, new int[] {n, m}));
      out.add(new Sample(dims, v));
    }
    return out;
  }
}
