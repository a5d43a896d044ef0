package org.hbp.cli;

import static org.hbp.cli.CliRun.hbp;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code hbp generate --target pytorch} and {@code hbp verify --target pytorch} end to end, and the
 * README's PyTorch example (src/test/resources/pytorch: the spec and the script the README quotes,
 * run here on the generated code). Needs python3 with torch: missing under CI is a failure.
 */
class PyTorchCliTest {
  @TempDir Path dir;

  static final Path EXAMPLE = Path.of("src/test/resources/pytorch");

  static String python() {
    Optional<String> py = Python.withTorch();
    if (py.isEmpty()) {
      String why = "no python3 with torch (apt-get install python3-torch)";
      if (System.getenv("CI") != null) fail(why + "; CI must have it");
      Assumptions.assumeTrue(false, why);
    }
    return py.get();
  }

  @Test
  void generatesAPythonPackage() throws Exception {
    CliRun r = hbp("generate", "--target", "pytorch", "--specs", EXAMPLE.toString(), "--out", dir.toString(), "--package", "my_ops");
    r.assertExit(0);
    r.assertOutContains("3 Python files in package my_ops");
    assertTrue(Files.readString(dir.resolve("my_ops/rmsnorm.py")).contains("class RmsnormDerivatives(K.ModuleDerivatives):"));
    CliRun again = hbp("generate", "--target", "pytorch", "--specs", EXAMPLE.toString(), "--out", dir.toString(), "--package", "my_ops");
    again.assertExit(0);
    assertTrue(again.out().contains("unchanged") && !again.out().contains("wrote"), again.out());
  }

  @Test
  void anUnknownTargetIsAnError() {
    CliRun r = hbp("generate", "--target", "tensorflow", "--specs", EXAMPLE.toString(), "--out", dir.toString());
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("--target 'tensorflow': expected java or pytorch"), r.err());
    CliRun v = hbp("verify", "--target", "tensorflow", EXAMPLE.resolve("rmsnorm.hbp").toString());
    assertEquals(2, v.code(), v.err());
  }

  @Test
  void verifiesAUsersSpecAgainstAutograd() {
    python();
    CliRun r = hbp("verify", "--target", "pytorch", EXAMPLE.resolve("rmsnorm.hbp").toString(), "--shapes", "2");
    r.assertExit(0);
    r.assertOutContains("PASS rmsnorm.hbp/rmsnorm", "residual_mat_prod(x, pch-abs)", "ea_jac_t_mat_jac_prod(g, eq. 9)", ", 0 failed");
  }

  /**
   * A module whose rules are too large for one method (40 nested tanh): its sums become part
   * methods ({@code MethodParts}) in the Python code as in the Java operators, and the split code
   * agrees with autograd.
   */
  @Test
  void splitMethodsAgreeWithAutograd() throws Exception {
    python();
    Path spec = dir.resolve("tanh40.hbp");
    Files.writeString(spec, "module tanh40 {\n  dims n;\n  input x: vector(n);\n  output z = " + "tanh(".repeat(40) + "x" + ")".repeat(40) + ";\n}\n");
    hbp("generate", "--target", "pytorch", "--specs", spec.toString(), "--out", dir.resolve("py").toString(), "--package", "split").assertExit(0);
    String code = Files.readString(dir.resolve("py/split/tanh40.py"));
    assertTrue(code.contains("    def _part0(self, cache"), "the large sums are part methods");
    assertTrue(code.contains("self._part0(cache"), "and are called");
    CliRun r = hbp("verify", "--target", "pytorch", spec.toString(), "--shapes", "3");
    r.assertExit(0);
    r.assertOutContains("PASS tanh40.hbp/tanh40", "ea_jac_t_mat_jac_prod(x, eq. 9)", "60 checks, 0 failed");
  }

  @Test
  void theReadmeExampleRunsAsQuoted() throws Exception {
    String readme = Files.readString(Path.of("README.md"));
    String spec = Files.readString(EXAMPLE.resolve("rmsnorm.hbp"));
    String script = Files.readString(EXAMPLE.resolve("rmsnorm_curvature.py"));
    assertTrue(readme.contains(spec), "the README quotes " + EXAMPLE.resolve("rmsnorm.hbp") + " verbatim");
    assertTrue(readme.contains(script), "the README quotes " + EXAMPLE.resolve("rmsnorm_curvature.py") + " verbatim");
    String py = python();
    hbp("generate", "--target", "pytorch", "--specs", EXAMPLE.toString(), "--out", dir.toString(), "--package", "my_ops").assertExit(0);
    ProcessBuilder pb = new ProcessBuilder(List.of(py, EXAMPLE.resolve("rmsnorm_curvature.py").toAbsolutePath().toString()))
        .directory(dir.toFile()).redirectErrorStream(true);
    pb.environment().put("PYTHONPATH", dir.toString());
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes());
    assertTrue(p.waitFor(300, TimeUnit.SECONDS), out);
    assertEquals(0, p.exitValue(), out);
    assertTrue(out.contains("max |H_x - autograd| =") && out.contains("KFRA block of g: torch.Size([5, 5])"), out);
  }
}
