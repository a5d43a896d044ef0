package org.hbp.derive;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.hbp.calculus.Expr;
import org.hbp.calculus.Printer;
import org.hbp.dsl.Dsl;
import org.hbp.dsl.ModuleSpec;
import org.hbp.dsl.Spec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The derived HBP rules reach the forms of the paper's Table 1 (paper, column-major vec), written
 * here by hand in the DSL as the paper states them and brought to canonical form by the same
 * simplifier: the derived rule and the Table 1 form must be the same canonical expression.
 */
class Table1Test {
  static Stream<Arguments> rows() {
    return Stream.of(
        // spec, wrt, HBP rule as in Table 1 (compact: f', f'' for elementwise derivatives), residual kind
        Arguments.of("linear", "x", "W'*Hz*W", "zero"),
        Arguments.of("linear", "W", "kron(x*x', Hz)", "zero"),
        Arguments.of("linear", "b", "Hz", "zero"),
        Arguments.of("matmul", "X", "kron(eye(p), W)'*HZ*kron(eye(p), W)", "zero"),
        Arguments.of("matmul", "W", "kron(X', eye(m))'*HZ*kron(X', eye(m))", "zero"),
        Arguments.of("bias", "x", "Hz", "zero"),
        Arguments.of("bias", "b", "Hz", "zero"),
        Arguments.of("sigmoid", "x", "diag(sigmoid'(x))*Hz*diag(sigmoid'(x)) + diag(sigmoid''(x) .* dz)", "diagonal"),
        Arguments.of("tanh", "x", "diag(tanh'(x))*Hz*diag(tanh'(x)) + diag(tanh''(x) .* dz)", "diagonal"),
        Arguments.of("softplus", "x", "diag(sigmoid(x))*Hz*diag(sigmoid(x)) + diag(sigmoid'(x) .* dz)", "diagonal"),
        Arguments.of("relu", "x", "diag(step(x))*Hz*diag(step(x))", "zero"),
        Arguments.of("skip", "x",
            "(eye(n) + W2*diag(sigmoid'(W1*x))*W1)'*Hz*(eye(n) + W2*diag(sigmoid'(W1*x))*W1) + W1'*diag(sigmoid''(W1*x) .* (W2'*dz))*W1",
            "general"),
        Arguments.of("skip", "W1",
            "kron(x', W2*diag(sigmoid'(W1*x)))'*Hz*kron(x', W2*diag(sigmoid'(W1*x))) + kron(x*x', diag(sigmoid''(W1*x) .* (W2'*dz)))",
            "general"),
        Arguments.of("skip", "W2", "kron(sigmoid(W1*x)', eye(n))'*Hz*kron(sigmoid(W1*x)', eye(n))", "zero"),
        Arguments.of("flatten", "x", "Hz", "zero"),
        Arguments.of("maxpool", "x", "selection(idx, c*h*w)'*Hz*selection(idx, c*h*w)", "zero"),
        Arguments.of("zeropad", "x", "selection(idx, c*h*w)'*Hz*selection(idx, c*h*w)", "zero"),
        Arguments.of("conv2d", "X", "unfolding(cin, h, w, k, s, p, d)'*kron(eye(oh*ow), W)'*HZ*kron(eye(oh*ow), W)*unfolding(cin, h, w, k, s, p, d)", "zero"),
        Arguments.of("conv2d", "W", "kron(unfold(X, k, s, p, d)', eye(cout))'*HZ*kron(unfold(X, k, s, p, d)', eye(cout))", "zero"),
        Arguments.of("conv2d", "b", "kron(ones(oh*ow), eye(cout))'*HZ*kron(ones(oh*ow), eye(cout))", "zero"),
        Arguments.of("dropout", "x", "diag(mask)*Hz*diag(mask)", "zero"),
        Arguments.of("avgpool", "x",
            "(kron(eye(oh*ow), kron(eye(c), ones(k*k)'))*unfolding(c, h, w, k, k, 0, 1) / (k*k))'*HZ*(kron(eye(oh*ow), kron(eye(c), ones(k*k)'))*unfolding(c, h, w, k, k, 0, 1) / (k*k))",
            "zero"));
  }

  static ModuleSpec module(String name) {
    Spec s = Dsl.parseFile(Path.of("modules-spec", name + ".hbp"));
    return s.module(name).orElseThrow();
  }

  static ModuleRule derivation(ModuleSpec m, String wrt) {
    return ModuleRules.moduleRules(m).stream().filter(d -> d.wrt().name().equals(wrt)).findFirst().orElseThrow();
  }

  @ParameterizedTest(name = "{0}: H_{1} = {2}")
  @MethodSource("rows")
  void derivedRuleIsTheTable1Form(String spec, String wrt, String table1, String kind) {
    ModuleSpec m = module(spec);
    ModuleRule d = derivation(m, wrt);
    Expr expected = m.simplifier().run(Dsl.parseExpression(table1, Dsl.Scope.of(Dsl.parseFile(Path.of("modules-spec", spec + ".hbp")), m), "table1"));
    assertEquals(Printer.text(expected, m.dimNames()), Printer.text(d.compact().hbp(), m.dimNames()));
    assertEquals(expected, d.compact().hbp());
    assertEquals(kind, d.residualKind().label());
  }

  @Test
  void linearJacobiansAreTable1() {
    ModuleSpec m = module("linear");
    assertEquals("W", Printer.text(derivation(m, "x").closedForm().jacobian()));
    assertEquals("kron(x', eye(m))", Printer.text(derivation(m, "W").closedForm().jacobian()));
    assertEquals("eye(m)", Printer.text(derivation(m, "b").closedForm().jacobian()));
  }

  @Test
  void sigmoidResidualIsWrittenOutInClosedForm() {
    ModuleRule d = derivation(module("sigmoid"), "x");
    assertEquals("diag(dz .* sigmoid(x) .* (1 - 2*sigmoid(x)) .* (1 - sigmoid(x)))", Printer.text(d.closedForm().residual()));
    assertEquals("diag(dz .* sigmoid''(x))", Printer.text(d.compact().residual()));
  }

  @Test
  void lossesGiveTable1GradientsHessiansAndPsd() {
    LossRule ce = ModuleRules.lossRules(module("crossentropy")).get(0);
    assertEquals("softmax(x) - y", Printer.text(ce.gradient()));
    assertEquals("diag(softmax(x)) - softmax(x)*softmax(x)'", Printer.text(ce.hessian()));
    assertEquals(Boolean.TRUE, ce.psd().value());
    LossRule sq = ModuleRules.lossRules(module("squareloss")).get(0);
    assertEquals("2*x - 2*y", Printer.text(sq.gradient()));
    assertEquals("2*eye(n)", Printer.text(sq.hessian()));
    assertEquals(Boolean.TRUE, sq.psd().value());
  }

  @Test
  void withoutTheAssumptionTheCrossEntropyHessianKeepsSumY() {
    Spec s = Dsl.parse("loss ce { dims c; input x: vector(c); target y: vector(c); output E = -y'*log(softmax(x)); }", "ce.hbp");
    LossRule d = ModuleRules.lossRules(s.modules().get(0)).get(0);
    assertEquals("sum(y)*softmax(x) - y", Printer.text(d.gradient()));
    assertEquals("sum(y)*(diag(softmax(x)) - softmax(x)*softmax(x)')", Printer.text(d.hessian()));
  }

  @Test
  void aNewModuleWrittenOnlyAsASpecDerives() {
    Spec s = Dsl.parse("elementwise cube(t) = t.^3;\nmodule cube { dims n; input x: vector(n); output z = cube(x); }", "cube.hbp");
    ModuleRule d = ModuleRules.moduleRules(s.modules().get(0)).get(0);
    assertEquals("3*diag(x.^2)", Printer.text(d.closedForm().jacobian()));
    assertEquals("6*diag(dz .* x)", Printer.text(d.closedForm().residual()));
  }

  @Test
  void theGatedUnitHasANonDiagonalResidual() {
    ModuleSpec m = module("gated");
    assertEquals("general", derivation(m, "x").residualKind().label());
    assertEquals("zero", derivation(m, "W1").residualKind().label());
    assertEquals("general", derivation(m, "W2").residualKind().label());
  }
}
