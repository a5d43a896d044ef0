package org.hbp.dsl;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.hbp.calculus.ElementwiseFunction;
import org.hbp.calculus.Expr;
import org.hbp.calculus.Shape;
import org.hbp.dsl.parser.HbpParser;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The calculus builds the built-in derivative formulas as trees, without the DSL; each must be
 * the tree the DSL reads from the formula's text (the text the rule table was written in before),
 * so that derivations and generated code are unchanged. Their values are checked against finite
 * differences by {@code ElementwiseRulesTest}.
 */
class BuiltinFormulasTest {
  private static Expr parse(String text) {
    SpecBuilder b = new SpecBuilder("<formula>", text, Dsl.builtins());
    b.declare("t", Shape.SCALAR, Expr.Role.FREE);
    b.vars().put("t", ElementwiseFunction.T);
    return b.expr(Syntax.parse(text, "<formula>", HbpParser::singleExpr).expr());
  }

  @ParameterizedTest(name = "{0}^({1}) = {2}")
  @CsvSource(delimiter = '|', value = {
      "exp|1|exp(t)", "exp|2|exp(t)",
      "log|1|t.^-1", "log|2|-t.^-2",
      "sqrt|1|0.5*sqrt(t).^-1", "sqrt|2|-0.25*sqrt(t).^-3",
      "sigmoid|1|sigmoid(t).*(1 - sigmoid(t))", "sigmoid|2|sigmoid(t).*(1 - sigmoid(t)).*(1 - 2*sigmoid(t))",
      "tanh|1|1 - tanh(t).^2", "tanh|2|-2*tanh(t).*(1 - tanh(t).^2)",
      "relu|1|step(t)", "relu|2|0",
      "softplus|1|sigmoid(t)", "softplus|2|sigmoid(t).*(1 - sigmoid(t))",
      "step|1|0", "step|2|0",
      "abs|1|sign(t)", "abs|2|0",
      "sign|1|0", "sign|2|0",
      "erf|1|1.1283791670955126*exp(-t.^2)", "erf|2|-2.256758334191025*t.*exp(-t.^2)",
      "sin|1|cos(t)", "sin|2|-sin(t)",
      "cos|1|-sin(t)", "cos|2|-cos(t)"})
  void builtFormulaIsTheParsedText(String function, int order, String text) {
    assertEquals(parse(text), ElementwiseFunction.BUILTIN_RULES.get(function).derivativeFormula(order));
  }
}
