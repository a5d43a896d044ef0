package org.hbp.calculus;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** A {@link NodeTable} dispatches by node type and fails naming the concern, the node and any exclusion reason. */
class NodeTableTest {
  private static final Expr.Var X = new Expr.Var("x", Shape.vector(Dim.sym("n")), Expr.Role.INPUT);

  private static NodeTable<String, String> table() {
    return NodeTable.<String, String>builder("test concern")
        .on(Expr.Var.class, (v, prefix) -> prefix + v.name())
        .on(Expr.Num.class, n -> "num " + n.value())
        .exclude("never reaches this concern", Expr.Zero.class)
        .build();
  }

  @Test
  void dispatchesByNodeTypeWithTheContext() {
    assertEquals("my x", table().apply(X, "my "));
    assertEquals("num 2.0", table().apply(new Expr.Num(2)));
    assertTrue(table().handles(X));
    assertFalse(table().handles(new Expr.Zero(Shape.SCALAR)));
  }

  @Test
  void aMissingTypeIsAnErrorNamingConcernAndNode() {
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> table().apply(new Expr.Ones(Shape.SCALAR)));
    assertEquals("no test concern for node Ones", e.getMessage());
  }

  @Test
  void anExcludedTypeIsAnErrorGivingTheReason() {
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> table().apply(new Expr.Zero(Shape.SCALAR)));
    assertEquals("no test concern for node Zero (never reaches this concern)", e.getMessage());
  }

  @Test
  void nodeTypesAreTheHandledAndTheExcluded() {
    assertEquals(Set.of(Expr.Var.class, Expr.Num.class, Expr.Zero.class), table().nodeTypes());
    assertEquals(Set.of(Expr.Var.class, Expr.Num.class), table().handled());
    assertEquals(Map.of(Expr.Zero.class, "never reaches this concern"), table().exclusions());
  }

  @Test
  void aTypeRegisteredTwiceOrAnExclusionWithoutAReasonIsRejected() {
    IllegalStateException twice = assertThrows(IllegalStateException.class,
        () -> NodeTable.<Void, String>builder("c").on(Expr.Num.class, n -> "a").exclude("r", Expr.Num.class));
    assertEquals("c: node Num registered twice", twice.getMessage());
    IllegalArgumentException blank = assertThrows(IllegalArgumentException.class,
        () -> NodeTable.<Void, String>builder("c").exclude(" ", Expr.Num.class));
    assertEquals("c: an exclusion needs a reason", blank.getMessage());
  }
}
