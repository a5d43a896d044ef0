package org.hbp.calculus;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.hbp.codegen.Lowering;
import org.junit.jupiter.api.Test;

/**
 * Every per-node concern is complete by construction: each {@link NodeTable} (or other table keyed
 * by node type) accounts for every record class of the sealed {@link Expr} family, by a handler or
 * by an explicit exclusion with its reason. A new node type fails this test, naming the node and
 * each table that lacks it, until every concern has an entry for it.
 */
class NodeTablesCompletenessTest {
  /** One table: its name in failure messages and the node types it accounts for. */
  private record Table(String name, Set<Class<? extends Expr>> nodeTypes) {}

  /** The tables keyed by node type. To check a new one, add a row. */
  private static List<Table> tables() {
    return List.of(
        new Table("children (Exprs)", Exprs.childrenNodeTypes()),
        new Table("rebuild from children (Exprs)", Exprs.rebuildNodeTypes()),
        new Table("printer (Printer)", Printer.nodeTypes()),
        new Table("printer precedence (Printer)", Printer.precedenceNodeTypes()),
        new Table("LaTeX (LatexPrinter)", LatexPrinter.nodeTypes()),
        new Table("LaTeX precedence (LatexPrinter)", LatexPrinter.precedenceNodeTypes()),
        new Table("evaluation (calculus.Evaluator)", Evaluator.nodeTypes()),
        new Table("differentiation rules (Differentiation)", Differentiation.nodeTypes()),
        new Table("identification rules (Identification)", Identification.nodeTypes()),
        new Table("entrywise lifting (Lift)", Lift.nodeTypes()),
        new Table("lowering (codegen.Lowering)", Lowering.loweredNodeTypes()));
  }

  /** The concrete node classes of {@code type}: its permitted subclasses, walked through nested sealed interfaces. */
  private static Set<Class<? extends Expr>> nodeClasses(Class<?> type) {
    Set<Class<? extends Expr>> out = new LinkedHashSet<>();
    for (Class<?> c : type.getPermittedSubclasses()) {
      if (c.isSealed()) out.addAll(nodeClasses(c));
      else out.add(c.asSubclass(Expr.class));
    }
    return out;
  }

  @Test
  void everyTableAccountsForEveryNodeType() {
    Set<Class<? extends Expr>> nodes = nodeClasses(Expr.class);
    List<String> missing = new ArrayList<>();
    for (Table t : tables())
      for (Class<? extends Expr> node : nodes)
        if (!t.nodeTypes().contains(node)) missing.add("node " + node.getSimpleName() + " has no entry in the " + t.name() + " table");
    if (!missing.isEmpty()) fail(missing.size() + " missing table entries:\n" + String.join("\n", missing));
  }

  @Test
  void noTableNamesATypeOutsideTheFamily() {
    Set<Class<? extends Expr>> nodes = nodeClasses(Expr.class);
    for (Table t : tables())
      for (Class<? extends Expr> c : t.nodeTypes()) assertTrue(nodes.contains(c), t.name() + " has an entry for " + c.getName());
  }

  @Test
  void theWalkFindsTheWholeFamily() {
    // a floor, so that a broken walk (finding nothing) cannot make the tests above pass vacuously
    Set<Class<? extends Expr>> nodes = nodeClasses(Expr.class);
    assertTrue(nodes.size() >= 34, "found only " + nodes);
    assertTrue(nodes.contains(Expr.Var.class) && nodes.contains(Expr.Gather.class) && nodes.contains(Expr.Unfolding.class));
    for (Class<? extends Expr> c : nodes) assertTrue(c.isRecord(), c.getName() + " is not a record");
    assertEquals(nodes.size(), Set.copyOf(nodes).size());
  }
}
