package org.hbp.cli;

import static org.hbp.cli.CliRun.hbp;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code hbp generate --package}: a name that cannot be the package of the target is refused in one line, nothing written. */
class GeneratePackageNameCliTest {
  @TempDir Path dir;

  private void assertRefused(String target, String pkg, String message) {
    Path out = dir.resolve("out-" + target);
    CliRun r = hbp("generate", "--target", target, "--specs", "modules-spec/linear.hbp", "--out", out.toString(), "--package", pkg);
    r.assertExit(2);
    r.assertNoStackTrace();
    assertEquals("hbp: " + message, r.err().strip());
    assertFalse(Files.exists(out));
  }

  @Test
  void pythonKeywordsAndNonIdentifiersAreRefused() {
    assertRefused("pytorch", "class", "--package 'class' is not a Python package name: 'class' is a Python keyword");
    assertRefused("pytorch", "ops.None", "--package 'ops.None' is not a Python package name: 'None' is a Python keyword");
    assertRefused("pytorch", "my-ops",
        "--package 'my-ops' is not a Python package name: expected dot-separated identifiers (letters, digits and _, not starting with a digit)");
    assertRefused("pytorch", "torch", "--package 'torch' is not a Python package name: a package 'torch' would hide PyTorch from the "
        + "generated code, which imports torch");
  }

  @Test
  void javaReservedWordsAreRefused() {
    assertRefused("java", "com.class.ops", "--package 'com.class.ops' is not a Java package name: 'class' is a reserved word of Java");
  }
}
