package org.hbp.codegen;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.hbp.calculus.Dim;
import org.hbp.calculus.Expr;
import org.hbp.calculus.Printer;
import org.hbp.calculus.Shape;
import org.hbp.codegen.OperatorModel.FunctionConstant;
import org.hbp.codegen.OperatorModel.LossPlan;
import org.hbp.codegen.OperatorModel.ScalarMethod;
import org.hbp.codegen.OperatorModel.VariablePlan;
import org.hbp.derive.ModuleRules;
import org.hbp.dsl.Dsl;
import org.hbp.dsl.ModuleSpec;
import org.hbp.runtime.ResidualKind;
import org.junit.jupiter.api.Test;

/**
 * The analysed model of the built-in modules states what the paper's rules say about them
 * (Table 1, eq. 7): which variables have Kronecker-factored, diagonal or sample-independent
 * Jacobians, which residuals vanish, what is memoized, which scalar functions are generated.
 */
class OperatorAnalyserTest {
  private static ModuleSpec module(String name) {
    return Dsl.parseFile(Path.of("modules-spec", name + ".hbp")).module(name).orElseThrow();
  }

  private static OperatorModel model(String name) {
    return OperatorAnalyser.analyse(module(name), "modules-spec/" + name + ".hbp", "0".repeat(64));
  }

  private static Expr.Var var(ModuleSpec m, String name) {
    return m.variables().stream().filter(v -> v.name().equals(name)).findFirst().orElseThrow();
  }

  private static List<String> names(List<VariablePlan> plans) {
    return plans.stream().map(VariablePlan::name).toList();
  }

  @Test
  void linearHasKroneckerFactorsForItsParametersAndNoResiduals() {
    OperatorModel model = model("linear");
    ModuleSpec m = model.module();
    assertFalse(model.isLoss());
    assertEquals(List.of("x", "W", "b"), names(model.variables()));
    assertTrue(model.losses().isEmpty());
    // z = W x + b is linear in each of x, W, b: every residual vanishes and no R v body is lowered
    for (VariablePlan p : model.variables()) {
      assertEquals(ResidualKind.ZERO, p.residualKind(), p.name());
      assertTrue(p.residual().isEmpty(), p.name());
      assertTrue(p.residualDiagonal().isEmpty(), p.name());
    }
    // vec(dW x) = (x' ⊗ I) vec(dW): A = x; vec(db) = I db: A = 1; an input has no factor
    assertTrue(model.variable("x").kroneckerFactor().isEmpty());
    assertEquals(var(m, "x"), model.variable("W").kroneckerFactor().orElseThrow().expr());
    Expr one = model.variable("b").kroneckerFactor().orElseThrow().expr();
    assertEquals(new Expr.Ones(Shape.SCALAR), one);
    // Dz(x) = W and Dz(b) = I read no input: the same for every sample; Dz(W) = x' ⊗ I does not
    assertTrue(model.variable("x").jacobianShared());
    assertFalse(model.variable("W").jacobianShared());
    assertTrue(model.variable("b").jacobianShared());
    // only Dz(b) = I is diagonal, and it is not diag(d): no Jacobian diagonal to compute
    assertEquals(List.of(false, false, true), model.variables().stream().map(VariablePlan::jacobianIsDiagonal).toList());
    assertTrue(model.variables().stream().allMatch(p -> p.jacobianDiagonal().isEmpty()));
    assertTrue(model.variables().stream().noneMatch(VariablePlan::jacobianIsSelection));
    // nothing elementwise, nothing convolved, nothing worth memoizing
    assertTrue(model.scalarMethods().isEmpty());
    assertTrue(model.functionConstants().isEmpty());
    assertTrue(model.geometries().isEmpty());
    assertTrue(model.memoSlots().isEmpty());
  }

  @Test
  void conv2dFactorsItsWeightByTheUnfoldedInputAndItsBiasByOnes() {
    OperatorModel model = model("conv2d");
    ModuleSpec m = model.module();
    assertEquals(List.of("X", "W", "b"), names(model.variables()));
    Dim cin = Dim.sym("cin"), k = Dim.sym("k"), cout = Dim.sym("cout");
    Dim positions = m.derivedDims().get("oh").times(m.derivedDims().get("ow"));
    // Z = W U + b 1' with U = unfold(X): vec(dW U) = (U' ⊗ I) vec(dW), A = U (cin k k x oh ow)
    Expr a = model.variable("W").kroneckerFactor().orElseThrow().expr();
    assertTrue(a instanceof Expr.Unfold, Printer.text(a));
    assertEquals(Shape.matrix(cin.times(k).times(k), positions), a.shape());
    // vec(db 1') = (1 ⊗ I) db: A = 1' (1 x oh ow)
    Expr ones = model.variable("b").kroneckerFactor().orElseThrow().expr();
    assertTrue(ones instanceof Expr.Ones, Printer.text(ones));
    assertEquals(Shape.matrix(Dim.ONE, positions), ones.shape());
    assertTrue(model.variable("X").kroneckerFactor().isEmpty());
    // Dz(X) depends on W only; Dz(b) = 1 ⊗ I on nothing; Dz(W) on the sample's input
    assertTrue(model.variable("X").jacobianShared());
    assertFalse(model.variable("W").jacobianShared());
    assertTrue(model.variable("b").jacobianShared());
    assertTrue(model.variables().stream().noneMatch(VariablePlan::jacobianIsDiagonal));
    assertTrue(model.variables().stream().allMatch(p -> p.residualKind() == ResidualKind.ZERO));
    // one convolution geometry, of the input's shape and the spec's kernel, stride, padding, dilation
    assertEquals(1, model.geometries().size());
    Expr.ConvDims g = model.geometries().get(0).geometry();
    assertEquals(List.of(cin, Dim.sym("h"), Dim.sym("w"), k, Dim.sym("s"), Dim.sym("p"), Dim.sym("d")),
        List.of(g.c(), g.h(), g.w(), g.kernel(), g.stride(), g.padding(), g.dilation()));
    assertEquals("geometry0", model.geometries().get(0).name());
    // the unfolded input is a forward-only value that J_W, its transpose and the factor A all use
    assertTrue(model.memoSlots().stream().anyMatch(s -> s.expr() instanceof Expr.Unfold), "unfold(X) is memoized");
    assertEquals(cout, var(m, "b").shape().rows());
  }

  @Test
  void sigmoidHasADiagonalJacobianAndResidualAndComputesDerivativesFromItsValue() {
    OperatorModel model = model("sigmoid");
    VariablePlan x = model.variable("x");
    assertEquals(ResidualKind.DIAGONAL, x.residualKind());
    assertTrue(x.residual().isPresent());
    // J = diag(sigmoid'(x)), R = diag(dz .* sigmoid''(x)): their diagonals are the vectors
    assertEquals("sigmoid'(x)", Printer.text(x.jacobianDiagonal().orElseThrow().expr()));
    assertEquals("dz .* sigmoid''(x)", Printer.text(x.residualDiagonal().orElseThrow().expr()));
    assertTrue(x.jacobianIsDiagonal());
    assertFalse(x.jacobianIsSelection());
    assertFalse(x.jacobianShared());
    assertTrue(x.kroneckerFactor().isEmpty());
    // sigmoid' = u (1 - u) and sigmoid'' = u (1 - u) (1 - 2u) in u = sigmoid(t): mapped over the cached output
    List<String> constants = model.functionConstants().stream().map(FunctionConstant::field).toList();
    assertTrue(constants.containsAll(List.of("FN_SIGMOID_D1_OF_VALUE", "FN_SIGMOID_D2_OF_VALUE")), constants.toString());
    FunctionConstant d1 = model.functionConstants().stream().filter(c -> c.method().equals("sigmoid_d1_of_value")).findFirst().orElseThrow();
    assertTrue(d1.builtin());
    assertEquals("REAL SigmoidOperator_sigmoid_d1_of_value(REAL u) { return (u * (((REAL) 1.0) - u)); }\n", d1.openClSource());
    ScalarMethod m1 = model.scalarMethods().stream().filter(s -> s.name().equals("sigmoid_d1_of_value")).findFirst().orElseThrow();
    assertEquals("u", m1.parameter());
    assertEquals("(u * (1.0 - u))", m1.returned().toString());
    // scalar methods are listed by name
    List<String> methods = model.scalarMethods().stream().map(ScalarMethod::name).toList();
    assertEquals(methods.stream().sorted().toList(), methods);
  }

  @Test
  void maxpoolsJacobianIsASelectionWithoutADiagonal() {
    // z = gather(x, idx): J = selection(idx, c*h*w), each row one entry of x; zero residual
    VariablePlan x = model("maxpool").variable("x");
    assertTrue(x.jacobianIsSelection());
    assertFalse(x.jacobianIsDiagonal());
    assertTrue(x.jacobianDiagonal().isEmpty());
    assertEquals(ResidualKind.ZERO, x.residualKind());
  }

  @Test
  void crossEntropyIsALossWithAPsdHessianAndMemoizesSoftmax() {
    OperatorModel model = model("crossentropy");
    assertTrue(model.isLoss());
    assertTrue(model.variables().isEmpty());
    assertEquals(1, model.losses().size());
    LossPlan x = model.losses().get(0);
    assertEquals("x", x.name());
    assertEquals("softmax(x) - y", Printer.text(x.rule().gradient()));
    assertEquals("diag(softmax(x)) - softmax(x)*softmax(x)'", Printer.text(x.rule().hessian()));
    assertTrue(x.psd());
    // softmax(x) is in the forward value, the gradient and the Hessian: computed once per forward pass
    Expr softmax = Dsl.parseExpression("softmax(x)", Dsl.Scope.of(Dsl.parseFile(Path.of("modules-spec/crossentropy.hbp")),
        model.module()), "test");
    assertTrue(model.memoSlots().stream().anyMatch(s -> s.expr().equals(softmax)),
        model.memoSlots().stream().map(s -> Printer.text(s.expr())).toList().toString());
    // memo slots are numbered 0.. without gaps
    assertEquals(model.memoSlots().size(), model.memoSlots().stream().map(OperatorModel.MemoSlot::slot).distinct().count());
    assertTrue(model.memoSlots().stream().allMatch(s -> s.slot() < model.memoSlots().size()));
    // sqrt (of the loss factor diag(sqrt(p)) - p*sqrt(p)'): a built-in, mapped by its constant; no log: the forward
    // value's log(softmax(x)) is computed as x - logsumexp(x) (finite where softmax underflows to 0)
    assertEquals(List.of("FN_SQRT"), model.functionConstants().stream().map(FunctionConstant::field).toList());
    assertTrue(model.functionConstants().stream().allMatch(FunctionConstant::builtin));
    assertEquals(1, x.factor().size());
  }

  @Test
  void theModelIsImmutable() {
    OperatorModel model = model("linear");
    assertThrows(UnsupportedOperationException.class, () -> model.variables().clear());
    assertThrows(UnsupportedOperationException.class, () -> model.memoSlots().clear());
    assertThrows(UnsupportedOperationException.class, () -> model.functionConstants().clear());
  }

  @Test
  void analysingTwiceWritesTheSameClass() {
    assertEquals(OperatorWriter.write(model("conv2d")).toString(), OperatorWriter.write(model("conv2d")).toString());
  }

  @Test
  void sharedSubexpressionsAreThoseOccurringMoreThanOnce() {
    ModuleSpec m = module("linear");
    Expr x = var(m, "x"), w = var(m, "W");
    Expr wx = new Expr.MatMul(List.of(w, x));
    var shared = OperatorAnalyser.sharedSubexpressions(List.of(wx, x));
    assertEquals(java.util.Set.of(x), shared);
  }

  @Test
  void aLossHasNoModuleRulesAndAModuleNoLossRules() {
    assertThrows(IllegalArgumentException.class, () -> ModuleRules.moduleRules(module("crossentropy")));
    assertThrows(IllegalArgumentException.class, () -> ModuleRules.lossRules(module("linear")));
  }
}
