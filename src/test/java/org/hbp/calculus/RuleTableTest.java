package org.hbp.calculus;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** The rule tables fail loudly, naming the node, where a rule is missing or a form is not linear. */
class RuleTableTest {
  @Test
  void identificationOfANonLinearNodeNamesIt() {
    var s = Fixtures.scope("x:vector(n)");
    Expr.Var x = s.vars().get("x");
    Expr.Var dx = Exprs.differentialOf(x);
    Expr notLinear = new Expr.Apply(ElementwiseFunction.BUILTIN_RULES.get("exp"), 0, dx);
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> Identification.jacobian(notLinear, dx));
    assertEquals("no identification rule for node Apply (the differential is not linear in dx)", e.getMessage());
  }

  @Test
  void aProductWithTwoLinearFactorsIsRejected() {
    var s = Fixtures.scope("x:vector(n)");
    Expr.Var dx = Exprs.differentialOf(s.vars().get("x"));
    Expr quadratic = new Expr.MatMul(java.util.List.of(new Expr.Transpose(dx), dx));
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> Identification.jacobian(quadratic, dx));
    assertEquals("a matrix product is not linear in dx", e.getMessage());
  }

  @Test
  void everyNodeTypeHasADifferentiationRuleOrIsALeaf() {
    var s = Fixtures.scope("X:matrix(n,n)");
    Expr.Var x = s.vars().get("X");
    // a node type without a rule would throw "no differentiation rule for node ..."
    for (String text : new String[] {"tr(inv(X)*X')", "det(X)", "sum(diag(diag(X)))", "logsumexp(X)", "sum(kron(X, X))",
        "sum(reshape(X, n*n))", "softmax(vec(X))'*vec(X)", "sum(sigmoid'(X))", "softmax(X)", "logsumexp_cols(X)", "max(X, X')",
        "min(X, 0)"}) {
      Expr f = Fixtures.parse(text, s);
      Calculus.jacobian(f, x);
    }
  }
}
