package org.hbp.cli;

import static org.hbp.cli.CliRun.hbp;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A divisor that is not the literal 0 but simplifies to 0 ({@code x ./ (x - x)}) is refused with
 * the place of the divisor by derive, verify and generate (both targets) alike, as {@code x ./ 0}
 * is. It was caught only by verify, whose sample points were never finite; derive printed rules and
 * generate wrote code that computes NaN.
 */
class ZeroDivisorCliTest {
  @TempDir Path dir;

  @Test
  void derivVerifyAndGenerateRefuseItAtTheDivisor() throws Exception {
    // line 4, column 25 (hand-counted): in "  output z = g .* (x ./ (x - x));" the divisor's "(" is the 25th character
    Path spec = Files.writeString(dir.resolve("q.hbp"),
        "module q {\n  dims n;\n  input x: vector(n); param g: vector(n);\n  output z = g .* (x ./ (x - x));\n}\n");
    String message = "hbp: " + spec + ":4:25: division by 0: the divisor (x - x) simplifies to 0 in every entry, so the quotient is not"
        + " finite anywhere";
    String[][] commands = {
        {"derive", spec.toString()},
        {"verify", spec.toString()},
        {"generate", "--specs", spec.toString(), "--out", dir.resolve("java").toString()},
        {"generate", "--target", "pytorch", "--specs", spec.toString(), "--out", dir.resolve("py").toString()}};
    for (String[] c : commands) {
      CliRun r = hbp(c);
      r.assertExit(2);
      r.assertNoStackTrace();
      assertEquals(message, r.err().strip(), String.join(" ", c));
      assertEquals("", r.out(), String.join(" ", c));
    }
    assertFalse(Files.exists(dir.resolve("java")) || Files.exists(dir.resolve("py")), "nothing is generated");
  }

  @Test
  void anAdHocExpressionToo() {
    CliRun r = hbp("derive", "-e", "sum(x ./ (2*x - x - x))", "--var", "x:vector(n)", "--wrt", "x");
    r.assertExit(2);
    // -e:1:10 (hand-counted): "sum(x ./ (" puts the divisor's '(' at column 10
    assertEquals("hbp: -e:1:10: division by 0: the divisor (2*x - x - x) simplifies to 0 in every entry, so the quotient is not"
        + " finite anywhere", r.err().strip());
  }

  @Test
  void aDivisorThatIsZeroOnlySomewhereIsNotRefused() {
    CliRun r = hbp("derive", "-e", "sum(x ./ (x - 1))", "--var", "x:vector(n)", "--wrt", "x");
    r.assertExit(0);
  }
}
