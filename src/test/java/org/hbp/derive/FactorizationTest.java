package org.hbp.derive;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
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
 * The loss factor S with H = S S': for every form the PSD prover proves, S S' (EJML, blocks side by
 * side) equals the form at 300 random points; for every loss proven PSD (modules-spec/ and the PSD
 * test resource), S S' equals the central finite-difference Hessian of the forward expression and
 * the Jacobian of the derived gradient by finite differences, at random points and targets.
 */
class FactorizationTest {
  private static final Dim N = Dim.sym("n"), M = Dim.sym("m");

  private static Expr parse(String text) {
    Dsl.Scope scope = new Dsl.Scope()
        .add(new Expr.Var("x", Shape.vector(N), Expr.Role.INPUT))
        .add(new Expr.Var("y", Shape.vector(N), Expr.Role.TARGET))
        .add(new Expr.Var("A", Shape.matrix(N, N), Expr.Role.DATA))
        .add(new Expr.Var("B", Shape.matrix(N, M), Expr.Role.DATA));
    return Dsl.parseExpression(text, scope, "-e");
  }

  /** S S' = sum_i S_i S_i', each block evaluated. */
  private static DMatrixRMaj gram(List<Expr> blocks, Map<String, Tensor> values, Map<String, Long> dims) {
    DMatrixRMaj sum = null;
    for (Expr b : blocks) {
      DMatrixRMaj s = Evaluator.evaluate(b, values, dims).toDMatrix();
      DMatrixRMaj ss = new DMatrixRMaj(s.numRows, s.numRows);
      CommonOps_DDRM.multTransB(s, s, ss);
      if (sum == null) sum = ss;
      else CommonOps_DDRM.addEquals(sum, ss);
    }
    return sum;
  }

  private static double relativeError(DMatrixRMaj got, DMatrixRMaj ref) {
    assertEquals(ref.numRows, got.numRows);
    assertEquals(ref.numCols, got.numCols);
    double err = 0, scale = 1;
    for (int i = 0; i < ref.getNumElements(); i++) {
      err = Math.max(err, Math.abs(got.get(i) - ref.get(i)));
      scale = Math.max(scale, Math.abs(ref.get(i)));
    }
    return err / scale;
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("org.hbp.derive.PsdProverTest#psdForms")
  void everyProvenFormHasAFactorWhoseGramIsTheForm(String text) {
    Expr e = parse(text);
    List<Expr> blocks = Factorization.blocks(e);
    assertNotNull(blocks, "no factor for the proven form " + text);
    Random rng = new Random(11);
    for (int i = 0; i < 300; i++) {
      int n = 1 + rng.nextInt(4), m = 1 + rng.nextInt(4);
      Map<String, Long> dims = Map.of("n", (long) n, "m", (long) m);
      Map<String, Tensor> v = new LinkedHashMap<>();
      v.put("x", uniform(rng, 3, n, 1));
      v.put("y", uniform(rng, 2, n, 1));
      v.put("A", uniform(rng, 1, n, n));
      v.put("B", uniform(rng, 1, n, m));
      DMatrixRMaj h = Evaluator.evaluate(e, v, dims).toDMatrix();
      double err = relativeError(gram(blocks, v, dims), h);
      assertTrue(err <= 1e-12, text + ": S S' differs from the form by " + err + " at dims " + dims);
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("org.hbp.derive.PsdProverTest#losses")
  void everyLossProvenPsdHasAFactorMatchingFiniteDifferences(ModuleSpec m) {
    for (LossRule d : ModuleRules.lossRules(m)) {
      if (!Boolean.TRUE.equals(d.psd().value())) continue;
      assertTrue(d.factor().isPresent(), m.name() + ": proven PSD (" + d.psd().reason() + ") but no factor");
      LossFactor f = d.factor().get();
      Random rng = new Random(m.name().hashCode() + 1);
      for (int point = 0; point < 8; point++) {
        Map<String, Long> dims = new LinkedHashMap<>();
        for (Dim dim : m.dims()) for (String s : dim.symbols()) dims.put(s, 1L + rng.nextInt(5));
        Map<String, Tensor> values = new LinkedHashMap<>();
        PsdProverTest.TargetKind kind = PsdProverTest.TargetKind.values()[point % (m.assumptions().isEmpty() ? 4 : 2)];
        for (Expr.Var v : m.variables()) {
          int[] shape = Tensor.toIntShape(v.shape().evaluate(dims));
          values.put(v.name(), v.role() == Expr.Role.TARGET ? kind.draw(rng, shape) : uniform(rng, 2, shape[0], shape[1]));
        }
        String at = m.name() + " at " + dims + ", targets " + kind;
        DMatrixRMaj ss = gram(f.blocks(), values, dims);
        DMatrixRMaj fdE = FiniteDifferences.hessianExtrapolated(m.outputExpr(), d.wrt(), values, dims);
        DMatrixRMaj fdGrad = FiniteDifferences.jacobianExtrapolated(d.gradient(), d.wrt(), values, dims);
        assertTrue(relativeError(ss, fdE) <= 1e-6, at + ": S S' vs finite-difference Hessian of E: " + relativeError(ss, fdE));
        assertTrue(relativeError(ss, fdGrad) <= 1e-8, at + ": S S' vs finite differences of the gradient: " + relativeError(ss, fdGrad));
        long columns = 0;
        for (Expr b : f.blocks()) columns += Evaluator.evaluate(b, values, dims).toDMatrix().numCols;
        assertEquals(columns, f.rank(dims), at + ": rank");
      }
    }
  }

  @Test
  void crossEntropyFactorIsTheCategoricalSquareRoot() {
    ModuleSpec m = Dsl.parseFile(java.nio.file.Path.of("modules-spec/crossentropy.hbp")).modules().get(0);
    LossFactor f = ModuleRules.lossRules(m).get(0).factor().orElseThrow();
    assertEquals("diag(sqrt(softmax(x))) - softmax(x)*sqrt(softmax(x))'", f.text(Printer::text));
  }

  @ParameterizedTest
  @ValueSource(strings = {"squareloss", "mse", "bce"})
  void simpleLossFactorsAreScaledIdentitiesOrDiagonals(String name) {
    ModuleSpec m = Dsl.parseFile(java.nio.file.Path.of("modules-spec/" + name + ".hbp")).modules().get(0);
    LossFactor f = ModuleRules.lossRules(m).get(0).factor().orElseThrow();
    String want = switch (name) {
      case "squareloss" -> Math.sqrt(2) + "*eye(n)";
      case "mse" -> Math.sqrt(2) + "*(n.^-0.5*eye(n))";
      default -> "diag(sqrt(sigmoid(x) .* (1 - sigmoid(x))))";
    };
    assertEquals(want, f.text(Printer::text));
  }

  @Test
  void aLossNotProvenPsdHasNoFactor() {
    ModuleSpec m = Dsl.parse("loss cubic {\n  dims n;\n  input x: vector(n);\n  output E = sum(x.^3);\n}\n", "cubic.hbp").modules().get(0);
    LossRule r = ModuleRules.lossRules(m).get(0);
    assertEquals(null, r.psd().value());
    assertTrue(r.factor().isEmpty());
  }

  @Test
  void deriveJsonListsTheFactorBlocks() throws Exception {
    StringWriter out = new StringWriter(), err = new StringWriter();
    int code = Main.execute(new String[] {"derive", "modules-spec/crossentropy.hbp", "--format", "json"}, new PrintWriter(out, true),
        new PrintWriter(err, true));
    assertEquals(0, code, err.toString());
    JsonNode o = new ObjectMapper().readTree(out.toString()).get(0);
    assertEquals("diag(sqrt(softmax(x))) - softmax(x)*sqrt(softmax(x))'", o.get("factor").get(0).asText());
    assertTrue(o.get("factor_reason").asText().startsWith("H = S*S' from the proof"));
  }

  /** The keys are stable: a loss with no factor still has factor and factor_reason, both null. */
  @Test
  void deriveJsonKeepsTheFactorKeysWhenThereIsNoFactor(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
    java.nio.file.Path spec = dir.resolve("cubic.hbp");
    java.nio.file.Files.writeString(spec, "loss cubic {\n  dims n;\n  input x: vector(n);\n  output E = sum(x.^3);\n}\n");
    StringWriter out = new StringWriter(), err = new StringWriter();
    int code = Main.execute(new String[] {"derive", spec.toString(), "--format", "json"}, new PrintWriter(out, true), new PrintWriter(err, true));
    assertEquals(0, code, err.toString());
    JsonNode o = new ObjectMapper().readTree(out.toString()).get(0);
    assertTrue(o.has("factor") && o.get("factor").isNull(), o.toString());
    assertTrue(o.has("factor_reason") && o.get("factor_reason").isNull(), o.toString());
  }

  @Test
  void deriveTextPrintsTheFactor() {
    StringWriter out = new StringWriter(), err = new StringWriter();
    assertEquals(0, Main.execute(new String[] {"derive", "modules-spec/squareloss.hbp"}, new PrintWriter(out, true), new PrintWriter(err, true)));
    assertTrue(out.toString().contains("factor    S = " + Math.sqrt(2) + "*eye(n)    (Hx = S*S'; matrix(n, n))"), out.toString());
  }

  private static Tensor uniform(Random rng, double scale, int rows, int cols) {
    Tensor t = Tensor.zeros(new int[] {rows, cols});
    double[] d = t.data();
    for (int i = 0; i < d.length; i++) d[i] = scale * (2 * rng.nextDouble() - 1);
    return t;
  }
}
