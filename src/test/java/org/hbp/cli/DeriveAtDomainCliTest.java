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
    assertEquals("hbp: the jacobian of sum(sqrt(x)) is not finite at --at x=" + zero + " (entry [0, 0] = Infinity): (sqrt(x)').^-1"
        + " is not finite there: an entry of sqrt(x)' = 0 ((sqrt(x)')[0] = 0.0)\n", r.err());
    assertFalse(Files.exists(out));
  }

  @Test
  void aPointInsideTheDomainIsEvaluated() throws Exception {
    CliRun r = hbp("derive", "-e", "sum(sqrt(x))", "--var", "x:vector(n)", "--wrt", "x", "--at", "x=" + vector("p.npy", 1, 4));
    assertEquals(0, r.code(), r.err());
    assertEquals("[[0.5, 0.25]]", r.out().strip().lines().reduce((a, b) -> b).orElseThrow());
  }
}
