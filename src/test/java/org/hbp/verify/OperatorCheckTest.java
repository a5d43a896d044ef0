package org.hbp.verify;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.codegen.OperatorGenerator;
import org.hbp.codegen.OperatorLoader;
import org.hbp.runtime.ResidualKind;
import org.hbp.dsl.Dsl;
import org.hbp.dsl.ModuleSpec;
import org.hbp.dsl.Spec;
import org.hbp.runtime.Averaging;
import org.hbp.runtime.ForwardCache;
import org.hbp.runtime.LossOperator;
import org.hbp.runtime.ModuleOperator;
import org.hbp.runtime.Operator;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * OperatorCheck catches a wrong operator: each method of a correct generated operator, perturbed
 * by 1e-3 in one entry (or a wrong property claimed), makes exactly the rows of that method fail.
 */
class OperatorCheckTest {
  @TempDir static Path work;

  private static Spec spec(String file) throws Exception {
    return Dsl.parse(Files.readString(Path.of("modules-spec", file)), file);
  }

  private static Object create(ModuleSpec m, String text, Backend be, Map<String, Integer> dims) {
    return new OperatorLoader.Loaded(OperatorLoader.builtIn(m, OperatorGenerator.sha256(text)).orElseThrow(), true).create(be, dims);
  }

  private static List<OperatorCheck.Row> failing(OperatorCheck.Report r) {
    return r.rows().stream().filter(x -> !x.passed()).collect(Collectors.toList());
  }

  private static String table(OperatorCheck.Report r) {
    return r.rows().stream().map(x -> x.method + " " + x.wrt + " " + x.maxRel() + " " + (x.passed() ? "PASS" : "FAIL")).collect(Collectors.joining("\n"));
  }

  @ParameterizedTest
  @CsvSource({
      "softplus.hbp, forward, forward",
      "sigmoid.hbp, jacMatProd, jacMatProd",
      "sigmoid.hbp, jacTMatProd, jacTMatProd",
      "linear.hbp, jacTMatProdSum, jacTMatProdSum",
      "conv2d.hbp, jacTMatProdSum, jacTMatProdSum",
      "sigmoid.hbp, residualMatProd, residualMatProd",
      "sigmoid.hbp, residualDiagonal, residualDiagonal",
      "sigmoid.hbp, residual, residual",
      "sigmoid.hbp, residualKind, residualKind",
      "gated.hbp, residual, residual",
      "gated.hbp, propagate, propagate",
      "gated.hbp, propagateAveraged, propagateAveraged",
      "linear.hbp, kroneckerFactor, kroneckerFactor",
      "sigmoid.hbp, jacobianIsShared, jacobianIsShared",
      "linear.hbp, jacobianIsDiagonal, jacobianIsDiagonal",
      "sigmoid.hbp, jacobianDiagonal, jacobianDiagonal",
      "linear.hbp, jacobianIsSelection, jacobianIsSelection",
      "sigmoid.hbp, jacobianIsSelection, jacobianIsSelection",
      "conv2d.hbp, jacTMatProd, jacTMatProd",
      "maxpool.hbp, jacMatProd, jacMatProd",
      "maxpool.hbp, jacobianSelection, jacobianSelection",
      "linear.hbp, mixedResidualMatProd, mixedResidualMatProd",
      "skip.hbp, mixedResidualMatProd, mixedResidualMatProd"})
  void aPerturbedMethodFailsItsRows(String file, String broken, String rowPrefix) throws Exception {
    String text = Files.readString(Path.of("modules-spec", file));
    ModuleSpec m = spec(file).modules().get(0);
    OperatorCheck.Report good = OperatorCheck.check(m, (be, d) -> create(m, text, be, d), 5, 2);
    assertTrue(good.passed(), table(good));
    OperatorCheck.Report bad = OperatorCheck.check(m, (be, d) -> new Perturbed((ModuleOperator) create(m, text, be, d), broken), 5, 2);
    List<OperatorCheck.Row> f = failing(bad);
    assertFalse(f.isEmpty(), broken + " perturbed but nothing failed:\n" + table(bad));
    assertTrue(f.stream().anyMatch(r -> r.method.split(" ")[0].equals(rowPrefix)), broken + " perturbed, but none of its rows failed:\n" + table(bad));
    // the PCH rows (abs, clip) check the network's ResidualPolicy applied to the operator's exact
    // residual methods and residual kind, so they fail with the method they are built on
    for (OperatorCheck.Row row : f)
      if (!pchRow(row))
        assertEquals(rowPrefix, row.method.split(" ")[0], broken + " perturbed, but " + row.method + " failed:\n" + table(bad));
  }

  private static boolean pchRow(OperatorCheck.Row row) {
    return row.method.endsWith(" abs") || row.method.endsWith(" clip");
  }

  /**
   * sigmoid' and sigmoid'' are generated from the forward value z = sigmoid(x) (u (1 - u), ...):
   * a wrong forward then also fails the rules that reuse it, and the forward row is among them.
   */
  @Test
  void aWrongForwardValueAlsoFailsTheRulesThatReuseIt() throws Exception {
    String text = Files.readString(Path.of("modules-spec", "sigmoid.hbp"));
    ModuleSpec m = spec("sigmoid.hbp").modules().get(0);
    OperatorCheck.Report bad = OperatorCheck.check(m, (be, d) -> new Perturbed((ModuleOperator) create(m, text, be, d), "forward"), 5, 2);
    java.util.Set<String> failed = failing(bad).stream().map(r -> r.method.split(" ")[0]).collect(Collectors.toSet());
    assertTrue(failed.containsAll(List.of("forward", "jacMatProd", "jacTMatProd", "residualMatProd")), table(bad));
  }

  /** A loss that is not convex, compiled in-process: a false PSD claim and wrong gradients are caught. */
  @ParameterizedTest
  @CsvSource({"gradient, gradient", "hessianMatProd, hessianMatProd", "hessian, hessian", "hessianIsPsd, hessianIsPsd"})
  void aWrongLossFails(String broken, String rowPrefix) throws Exception {
    String text = "loss cubic {\n  dims n;\n  input x: vector(n);\n  output l = sum(x.^3);\n}\n";
    Spec s = Dsl.parse(text, "cubic.hbp");
    ModuleSpec m = s.modules().get(0);
    Class<?> c = OperatorLoader.compile(OperatorGenerator.generate(s, text, "cubic.hbp", "test.ops"), work.resolve(broken))
        .get("CubicOperator");
    OperatorLoader.Loaded loaded = new OperatorLoader.Loaded(c, false);
    OperatorCheck.Report good = OperatorCheck.check(m, loaded::create, 3, 2);
    assertTrue(good.passed(), table(good));
    assertFalse(good.rows().stream().anyMatch(r -> r.method.equals("hessianIsPsd")), "cubic is not claimed PSD");
    OperatorCheck.Report bad = OperatorCheck.check(m, (be, d) -> new PerturbedLoss((LossOperator) loaded.create(be, d), broken), 3, 2);
    List<OperatorCheck.Row> f = failing(bad);
    assertFalse(f.isEmpty(), table(bad));
    for (OperatorCheck.Row row : f) assertEquals(rowPrefix, row.method, row.method + " failed:\n" + table(bad));
  }

  /** Adds 1e-3 to the first entry of one method's results. */
  static Batch bump(Backend be, Batch b) {
    double[] d = be.toArray(b);
    d[0] += 1e-3;
    return be.fromArray(b.samples(), b.directions(), b.rows(), b.cols(), d);
  }

  /** An operator that passes every call to {@code in}, except that the method named {@code broken} answers wrongly. */
  abstract static class PerturbedOperator<O extends Operator> implements Operator {
    final O in;
    final String broken;

    PerturbedOperator(O in, String broken) {
      this.in = in;
      this.broken = broken;
    }

    /** {@code x}, bumped if {@code method} is the broken one. */
    Batch b(String method, Batch x) {
      return method.equals(broken) ? bump(in.backend(), x) : x;
    }

    public String name() { return in.name(); }
    public String specSource() { return in.specSource(); }
    public Backend backend() { return in.backend(); }
    public Map<String, Integer> dims() { return in.dims(); }
    public List<String> inputs() { return in.inputs(); }
    public List<String> constants() { return in.constants(); }
    public String outputName() { return in.outputName(); }
    public int[] itemShape(String v) { return in.itemShape(v); }
  }

  static class Perturbed extends PerturbedOperator<ModuleOperator> implements ModuleOperator {
    Perturbed(ModuleOperator in, String broken) {
      super(in, broken);
    }

    public List<String> parameters() { return in.parameters(); }
    public List<String> dataVariables() { return in.dataVariables(); }
    public List<String> indexVariables() { return in.indexVariables(); }

    public ForwardCache forward(Map<String, Batch> values) {
      ForwardCache c = in.forward(values);
      if (broken.equals("forward")) c.put(outputName(), bump(backend(), c.get(outputName())));
      return c;
    }

    public Batch jacMatProd(ForwardCache c, String w, Batch v) { return b("jacMatProd", in.jacMatProd(c, w, v)); }
    public Batch jacTMatProd(ForwardCache c, String w, Batch v) { return b("jacTMatProd", in.jacTMatProd(c, w, v)); }
    public Batch jacTMatProdSum(ForwardCache c, String w, Batch v) { return b("jacTMatProdSum", in.jacTMatProdSum(c, w, v)); }

    public ResidualKind residualKind(String w) {
      return broken.equals("residualKind") ? ResidualKind.ZERO : in.residualKind(w);
    }

    public Batch residualMatProd(ForwardCache c, String w, Batch dz, Batch v) { return b("residualMatProd", in.residualMatProd(c, w, dz, v)); }
    public Batch residualDiagonal(ForwardCache c, String w, Batch dz) { return b("residualDiagonal", in.residualDiagonal(c, w, dz)); }
    public Batch residual(ForwardCache c, String w, Batch dz) { return b("residual", in.residual(c, w, dz)); }
    public Batch propagate(ForwardCache c, String w, Batch m) { return b("propagate", in.propagate(c, w, m)); }
    public Batch propagateAveraged(ForwardCache c, String w, Batch m, Averaging a) {
      return b("propagateAveraged", in.propagateAveraged(c, w, m, a));
    }
    public boolean hasMixedResiduals() { return in.hasMixedResiduals(); }
    public Batch mixedResidualMatProd(ForwardCache c, String w, String of, Batch dz, Batch v) {
      return b("mixedResidualMatProd", in.mixedResidualMatProd(c, w, of, dz, v));
    }
    public boolean hasKroneckerFactor(String p) { return in.hasKroneckerFactor(p); }
    public boolean jacobianIsShared(String w) { return broken.equals("jacobianIsShared") || in.jacobianIsShared(w); }
    public boolean jacobianIsDiagonal(String w) { return broken.equals("jacobianIsDiagonal") || in.jacobianIsDiagonal(w); }
    public Batch jacobianDiagonal(ForwardCache c, String w) { return b("jacobianDiagonal", in.jacobianDiagonal(c, w)); }
    public boolean jacobianIsSelection(String w) { return broken.equals("jacobianIsSelection") || in.jacobianIsSelection(w); }
    public Batch jacobianSelection(ForwardCache c, String w) {
      Batch idx = in.jacobianSelection(c, w);
      if (idx == null || !broken.equals("jacobianSelection")) return idx;
      double[] d = in.backend().toArray(idx);
      d[0] = d[0] == 0 ? 1 : 0; // another entry of the input, a valid index: only the comparison with the reference catches it
      return in.backend().fromArray(idx.samples(), idx.directions(), idx.rows(), idx.cols(), d);
    }
    public Batch kroneckerFactor(ForwardCache c, String p) { return b("kroneckerFactor", in.kroneckerFactor(c, p)); }
  }

  static final class PerturbedLoss extends PerturbedOperator<LossOperator> implements LossOperator {
    PerturbedLoss(LossOperator in, String broken) {
      super(in, broken);
    }

    public ForwardCache forward(Map<String, Batch> values) { return in.forward(values); }
    public Batch gradient(ForwardCache c, String w) { return b("gradient", in.gradient(c, w)); }
    public Batch hessianMatProd(ForwardCache c, String w, Batch v) { return b("hessianMatProd", in.hessianMatProd(c, w, v)); }
    public Batch hessian(ForwardCache c, String w) { return b("hessian", in.hessian(c, w)); }
    public boolean hessianIsPsd(String w) { return broken.equals("hessianIsPsd") || in.hessianIsPsd(w); }
    public int[] factorRanks(String w) { return in.factorRanks(w); }
    public Batch factorMatProd(ForwardCache c, String w, int block, Batch u) { return in.factorMatProd(c, w, block, u); }
    public Batch factor(ForwardCache c, String w) { return b("factor", in.factor(c, w)); }
  }

  /** A wrong factor of a built-in loss fails its two factor rows (S against the derivation, S S' against H) and nothing else. */
  @ParameterizedTest
  @CsvSource({"crossentropy.hbp", "bce.hbp", "squareloss.hbp"})
  void aWrongFactorFailsTheFactorRows(String file) throws Exception {
    String text = Files.readString(Path.of("modules-spec", file));
    ModuleSpec m = spec(file).modules().get(0);
    OperatorCheck.Report good = OperatorCheck.check(m, (be, d) -> (LossOperator) create(m, text, be, d), 3, 2);
    assertTrue(good.passed(), table(good));
    assertTrue(good.rows().stream().anyMatch(r -> r.method.equals("factor S*S'")), table(good));
    OperatorCheck.Report bad = OperatorCheck.check(m, (be, d) -> new PerturbedLoss((LossOperator) create(m, text, be, d), "factor"), 3, 2);
    java.util.Set<String> failed = failing(bad).stream().map(r -> r.method).collect(Collectors.toSet());
    assertEquals(java.util.Set.of("factor", "factor S*S'"), failed, table(bad));
  }

  /**
   * A loss whose Hessian is a sum (diag(exp(x)) plus the categorical covariance) has a factor of two
   * blocks, [diag(sqrt(exp(x))), diag(sqrt(p)) - p*sqrt(p)']: generated as two methods, joined by
   * factor(), checked like one block, and a wrong factor fails its rows.
   */
  @Test
  void aFactorOfTwoBlocksIsGeneratedAndChecked() throws Exception {
    String text = "loss ceexp {\n  dims c;\n  input x: vector(c);\n  target y: vector(c) probability;\n  assume sum(y) == 1;\n"
        + "  output E = -y'*log(softmax(x)) + sum(exp(x));\n}\n";
    Spec s = Dsl.parse(text, "ceexp.hbp");
    ModuleSpec m = s.modules().get(0);
    Class<?> c = OperatorLoader.compile(OperatorGenerator.generate(s, text, "ceexp.hbp", "test.ops"), work.resolve("twoblocks"))
        .get("CeexpOperator");
    OperatorLoader.Loaded loaded = new OperatorLoader.Loaded(c, false);
    assertEquals("[3, 3]", java.util.Arrays.toString(((LossOperator) loaded.create(new org.hbp.backend.cpu.CpuBackend(), Map.of("c", 3)))
        .factorRanks("x")));
    OperatorCheck.Report good = OperatorCheck.check(m, loaded::create, 3, 2);
    assertTrue(good.passed(), table(good));
    assertTrue(good.rows().stream().anyMatch(r -> r.method.equals("factor S*S'")), table(good));
    OperatorCheck.Report bad = OperatorCheck.check(m, (be, d) -> new PerturbedLoss((LossOperator) loaded.create(be, d), "factor"), 3, 2);
    assertEquals(java.util.Set.of("factor", "factor S*S'"), failing(bad).stream().map(r -> r.method).collect(Collectors.toSet()), table(bad));
  }

  /** A loss without a certified factor refuses factor products with a message naming the loss. */
  @Test
  void aLossWithoutFactorSaysSo() throws Exception {
    String text = "loss cubic {\n  dims n;\n  input x: vector(n);\n  output l = sum(x.^3);\n}\n";
    Spec s = Dsl.parse(text, "cubic.hbp");
    Class<?> c = OperatorLoader.compile(OperatorGenerator.generate(s, text, "cubic.hbp", "test.ops"), work.resolve("nofactor"))
        .get("CubicOperator");
    Backend be = new org.hbp.backend.cpu.CpuBackend();
    LossOperator op = (LossOperator) new OperatorLoader.Loaded(c, false).create(be, Map.of("n", 2));
    assertEquals(0, op.factorRanks("x").length);
    ForwardCache fc = op.forward(Map.of("x", be.fromArray(1, 1, 2, 1, new double[] {1, 2})));
    org.hbp.UserError e = org.junit.jupiter.api.Assertions.assertThrows(org.hbp.UserError.class, () -> op.factor(fc, "x"));
    assertTrue(e.getMessage().startsWith("no certified factor for loss cubic (input 'x'): its Hessian is not proven PSD"), e.getMessage());
  }

  @org.junit.jupiter.api.Test
  void anOperatorThatThrowsIsReportedNotFatal() throws Exception {
    String text = Files.readString(Path.of("modules-spec/tanh.hbp"));
    ModuleSpec m = spec("tanh.hbp").modules().get(0);
    OperatorCheck.Report r = OperatorCheck.check(m, (be, d) -> new Perturbed((ModuleOperator) create(m, text, be, d), "none") {
      @Override
      public Batch jacTMatProd(ForwardCache c, String w, Batch v) {
        throw new IllegalStateException("boom");
      }
    }, 1, 1);
    OperatorCheck.Row row = r.rows().stream().filter(x -> x.method.equals("jacTMatProd")).findFirst().orElseThrow();
    assertFalse(row.passed());
    assertEquals("IllegalStateException: boom", row.failure());
  }
}
