package org.hbp.cli;

import static org.hbp.cli.CliRun.hbp;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.nio.file.Files;
import java.nio.file.Path;
import org.hbp.io.NdArray;
import org.hbp.io.Npy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code hbp derive -e EXPR --at ...} at a point outside the expression's domain: one line naming
 * the point, the subexpression and the offending entries, exit status 2, no --out file (before: the
 * NaN entries were printed or written, with status 0).
 */
class DeriveAtDomainCliTest {
  @TempDir Path dir;

  private Path vector(String name, double... v) throws Exception {
    Path p = dir.resolve(name);
    Npy.write(p, NdArray.of(v, v.length));
    return p;
  }

  @Test
  void anExpressionUndefinedAtThePointNamesTheSubexpressionAndEntryAndWritesNothing() throws Exception {
    Path neg = vector("neg.npy", -1, 4);
    Path out = dir.resolve("o.npy");
    CliRun r = hbp("derive", "-e", "sum(sqrt(x))", "--var", "x:vector(n)", "--wrt", "x", "--at", "x=" + neg, "--out", out.toString());
    assertEquals(2, r.code());
    assertEquals("hbp: sum(sqrt(x)) is not defined at --at x=" + neg + ": sqrt(x) is not finite there: an entry of x < 0 (x[0] = -1.0)\n",
        r.err());
    assertFalse(Files.exists(out));
    r = hbp("derive", "-e", "sum(sqrt(x))", "--var", "x:vector(n)", "--wrt", "x", "--at", "x=" + neg);
    assertEquals(2, r.code());
    assertEquals("", r.out());
  }

  @Test
  void aDerivativeThatIsNotFiniteAtThePointNamesItsEntries() throws Exception {
    Path zero = vector("zero.npy", 0, 4);
    Path out = dir.resolve("o.npy");
    CliRun r = hbp("derive", "-e", "sum(sqrt(x))", "--var", "x:vector(n)", "--wrt", "x", "--at", "x=" + zero, "--out", out.toString());
    assertEquals(2, r.code());
    // sqrt'(t) = 1/(2 sqrt(t)) is infinite at t = 0 only: the subexpression sqrt(x), written at column 5, at x[0]
    // (before: the message named (sqrt(x)').^-1, a node of the derived rule, and its entry (sqrt(x)')[0])
    assertEquals("hbp: the jacobian of sum(sqrt(x)) is not finite at --at x=" + zero + " (entry [0, 0] = Infinity): the derivative of"
        + " sqrt(x) (-e:1:5) is not finite where x[0] = 0.0\n", r.err());
    assertFalse(Files.exists(out));
  }

  @Test
  void aDerivativeNotFiniteAtAnInnerSubexpressionNamesItsPlaceAndOperandEntries() throws Exception {
    // d/dx sqrt(x - 1) = 1/(2 sqrt(x - 1)): infinite where x = 1, i.e. at entry 1 of [2, 1, 5]; sqrt is at column 14 of
    // "x'*x + 2*sum(sqrt(x - 1))" (hand-counted), its operand x - 1 is 0 at entry 1
    Path p = vector("p.npy", 2, 1, 5);
    CliRun r = hbp("derive", "-e", "x'*x + 2*sum(sqrt(x - 1))", "--var", "x:vector(n)", "--wrt", "x", "--at", "x=" + p);
    assertEquals(2, r.code());
    assertEquals("hbp: the jacobian of x'*x + 2*sum(sqrt(x - 1)) is not finite at --at x=" + p + " (entry [0, 1] = Infinity): the"
        + " derivative of sqrt(x - 1) (-e:1:14) is not finite where (x - 1)[1] = 0.0\n", r.err());
  }

  @Test
  void aSecondDerivativeThatIsNotFiniteNamesTheSubexpressionWhoseSecondDerivativeIsNot() throws Exception {
    // x.^1.5: first derivative 1.5 x.^0.5 is finite at 0, the second 0.75 x.^-0.5 is not, at x[1] and x[2]
    Path z = vector("z.npy", 1, 0, 0);
    CliRun r = hbp("derive", "-e", "sum(x.^1.5)", "--var", "x:vector(n)", "--wrt", "x", "--order", "2", "--at", "x=" + z);
    assertEquals(2, r.code());
    assertEquals("hbp: the hessian of sum(x.^1.5) is not finite at --at x=" + z + " (entries [1, 1] = Infinity, [2, 2] = Infinity): the"
        + " second derivative of x.^1.5 (-e:1:5) is not finite where x[1] = 0.0, x[2] = 0.0\n", r.err());
    // its jacobian is finite there: 1.5*sqrt([1, 0, 0])
    r = hbp("derive", "-e", "sum(x.^1.5)", "--var", "x:vector(n)", "--wrt", "x", "--at", "x=" + z);
    assertEquals(0, r.code(), r.err());
    assertEquals("[[1.5, 0.0, 0.0]]", r.out().strip().lines().reduce((a, b) -> b).orElseThrow());
  }

  @Test
  void aPointInsideTheDomainIsEvaluated() throws Exception {
    CliRun r = hbp("derive", "-e", "sum(sqrt(x))", "--var", "x:vector(n)", "--wrt", "x", "--at", "x=" + vector("p.npy", 1, 4));
    assertEquals(0, r.code(), r.err());
    assertEquals("[[0.5, 0.25]]", r.out().strip().lines().reduce((a, b) -> b).orElseThrow());
  }
}
