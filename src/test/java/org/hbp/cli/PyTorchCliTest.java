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

  /**
   * Correct generated code passes verify's autograd oracle where a variable's Jacobian is identically zero (step, sign,
   * a parameter forward does not use: autograd has no graph there, J = 0) and where the output is a constant (one item,
   * repeated for each sample of the batch by the generated forward): before, the oracle failed with autograd's traceback,
   * and the constant's forward had one value for a batch of three.
   */
  @Test
  void zeroJacobiansAndConstantOutputsPassAgainstAutograd() throws Exception {
    python();
    Path spec = dir.resolve("zero.hbp");
    Files.writeString(spec, Files.readString(Path.of("src/test/resources/specs/zero_jacobians.hbp"))
        + "module constant { dims n; input x: vector(n); output z = 3; }\n"
        + "loss constantloss { dims n; input x: vector(n); target y: vector(n); output E = 5; }\n");
    CliRun r = hbp("verify", "--target", "pytorch", spec.toString(), "--shapes", "2");
    r.assertExit(0);
    r.assertOutContains("PASS zero.hbp/gate0", "PASS zero.hbp/unusedp", "PASS zero.hbp/constant", "forward", "PASS zero.hbp/constantloss", ", 0 failed");
    assertTrue(!r.out().contains("FAIL") && !r.out().contains("Traceback") && !r.err().contains("Traceback"), r.out() + r.err());
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
    r.assertOutContains("PASS tanh40.hbp/tanh40", "ea_jac_t_mat_jac_prod(x, eq. 9)", "66 checks, 0 failed");
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

  /** A module whose names collide with Python, torch.nn.Module, the generated class and its methods' own names. */
  static final String CLASHING = """
      // parameters named like a keyword (lambda), torch.nn.Module's attributes (forward, training), the generated
      // class's method (cache), the runtime's alias (K), and the names the old generator reserved (v); a dim dtype
      // and an input self that the constructor and forward use themselves
      module clash {
        dims n, dtype;
        input self: vector(n);
        param v: matrix(dtype, n);
        param lambda: vector(dtype);
        param forward: vector(dtype);
        param cache: vector(dtype);
        param K: vector(dtype);
        param training: vector(dtype);
        output z = lambda .* tanh(v*self + forward) + cache .* K .* training;
      }

      // a loss whose input and target are named like a Python keyword and the module the code imports
      loss clash_loss {
        dims n;
        input None: vector(n);
        target torch: vector(n);
        output E = (None - torch)'*(None - torch) / n;
      }
      """;

  /**
   * The user's names are the Python names wherever Python allows it (the parameters v and K);
   * the rest are renamed by appending _, listed in PYTHON_NAMES, accepted by every method that
   * takes a name, and the verifier's oracle reads them so: the code agrees with autograd. The Java
   * target handles the same spec.
   */
  @Test
  void namesThatCollideWithPythonAgreeWithAutograd() throws Exception {
    String py = python();
    Path spec = dir.resolve("clash.hbp");
    Files.writeString(spec, CLASHING);
    CliRun r = hbp("verify", "--target", "pytorch", spec.toString(), "--shapes", "2");
    r.assertExit(0);
    r.assertOutContains("PASS clash.hbp/clash", "jac_mat_prod(v)", "residual_mat_prod(lambda, pch-abs)", "jac_mat_prod('forward_', its Python name)",
        "parameters under their Python names", "forward refuses self of shape", "PASS clash.hbp/clash_loss", "gradient('None_', its Python name)",
        ", 0 failed");
    hbp("verify", spec.toString(), "--shapes", "2").assertExit(0); // the Java operators

    // from Python: the names a user sees
    hbp("generate", "--target", "pytorch", "--specs", spec.toString(), "--out", dir.resolve("py").toString(), "--package", "clash_ops")
        .assertExit(0);
    String code = Files.readString(dir.resolve("py/clash_ops/clash.py"));
    assertTrue(code.contains("    lambda -> lambda_ (a Python keyword)") && code.contains("    self -> self_ (a name the generated method uses itself)")
        && code.contains("    forward -> forward_ (an attribute of torch.nn.Module or of the generated class)"), code);
    String out = runPython(py, dir.resolve("py"), """
        import torch
        from clash_ops.clash import Clash, ClashDerivatives
        from clash_ops.clash_loss import ClashLoss, ClashLossDerivatives
        torch.manual_seed(0)
        layer = Clash(n=3, dtype_=2)
        print("keys", sorted(layer.state_dict()))
        print("names", Clash.PYTHON_NAMES)
        x = torch.randn(4, 3, dtype=torch.float64)
        d = ClashDerivatives(layer, x)
        mat = torch.randn(2, 4, 2, dtype=torch.float64)
        for spec, python in (("lambda", "lambda_"), ("forward", "forward_"), ("cache", "cache_"), ("training", "training_")):
            assert torch.equal(d.jac_mat_prod(spec, mat), d.jac_mat_prod(python, mat)), spec
            assert layer.shape(spec) == layer.shape(python) == (2,), spec
        w = torch.randn(2, 4, 2, 3, dtype=torch.float64)
        print("v", tuple(d.jac_mat_prod("v", w).shape), d.residual_kind("v"))
        loss = ClashLoss(n=3)
        y = torch.randn(4, 3, dtype=torch.float64)
        g = ClashLossDerivatives(loss, x, y)
        assert torch.equal(g.gradient("None"), g.gradient("None_"))
        assert torch.allclose(g.gradient("None"), 2 * (x - y) / 3, atol=1e-14, rtol=0)
        print("ok")
        """);
    assertTrue(out.contains("keys ['K', 'cache_', 'forward_', 'lambda_', 'training_', 'v']"), out);
    assertTrue(out.contains("names {'dtype': 'dtype_', 'self': 'self_', 'lambda': 'lambda_', 'forward': 'forward_', 'cache': 'cache_', "
        + "'training': 'training_'}"), out);
    assertTrue(out.contains("v (2, 4, 2) general") && out.endsWith("ok\n"), out);
  }

  /** A module whose file would be the runtime's (or the package's __init__.py) is refused, with its place, before anything is written. */
  @Test
  void aModuleNamedLikeTheRuntimeIsRefused() throws Exception {
    for (String name : List.of("hbp_runtime", "__init__")) {
      Path spec = dir.resolve(name + ".hbp");
      Files.writeString(spec, "// the user's\nmodule " + name + " {\n  dims n;\n  input x: vector(n);\n  output z = 3*x;\n}\n");
      Path out = dir.resolve("out-" + name);
      CliRun r = hbp("generate", "--target", "pytorch", "--specs", spec.toString(), "--out", out.toString());
      assertEquals(2, r.code(), r.out() + r.err());
      assertTrue(r.err().contains(spec + ":2:1: module '" + name + "' would be written to " + name + ".py, the generated package's own"), r.err());
      assertTrue(!Files.exists(out), "nothing written");
      CliRun v = hbp("verify", "--target", "pytorch", spec.toString());
      assertTrue(v.code() != 0 && v.err().contains("would be written to " + name + ".py"), "verify refuses it too: " + v.out() + v.err());
    }
  }

  /**
   * forward (and a loss's, and the derivatives' constructors) check every argument's shape against
   * the spec's dims in PyTorch's layout, the batch free: a transposed sequence, a target of class
   * indices, a batch of another size are ValueErrors naming the module, the variable, the expected
   * and the given shape.
   */
  @Test
  void forwardChecksItsArgumentsShapes() throws Exception {
    String py = python();
    Path specs = dir.resolve("specs");
    Files.createDirectories(specs);
    Files.writeString(specs.resolve("rmsnorm_cols.hbp"), """
        // RMS normalization of each column (token) of a d x T sequence
        module rmsnorm_cols {
          dims d, T;
          input x: matrix(d, T);
          param g: vector(d);
          let ms = ones(d)'*(x.^2) / d;
          output z = (g*ones(T)') .* x ./ (ones(d)*sqrt(ms + 1e-6));
        }
        """);
    Files.copy(Path.of("modules-spec/crossentropy.hbp"), specs.resolve("crossentropy.hbp"));
    hbp("generate", "--target", "pytorch", "--specs", specs.toString(), "--out", dir.resolve("py").toString(), "--package", "ops").assertExit(0);
    String out = runPython(py, dir.resolve("py"), """
        import torch
        from ops.rmsnorm_cols import RmsnormCols, RmsnormColsDerivatives
        from ops.crossentropy import Crossentropy, CrossentropyDerivatives
        layer = RmsnormCols(d=4, T=3)
        print("ok", tuple(layer(torch.randn(2, 4, 3, dtype=torch.float64)).shape))
        def refused(f):
            try:
                f()
                print("accepted")
            except ValueError as e:
                print("ValueError:", e)
        refused(lambda: layer(torch.randn(2, 3, 4, dtype=torch.float64)))
        refused(lambda: RmsnormColsDerivatives(layer, torch.randn(4, 3, dtype=torch.float64)))
        refused(lambda: layer([[1.0]]))
        ce = Crossentropy(c=5)
        x = torch.randn(8, 5, dtype=torch.float64)
        refused(lambda: ce(x, torch.randint(0, 5, (8,))))
        refused(lambda: CrossentropyDerivatives(ce, x, torch.eye(5, dtype=torch.float64)[torch.arange(7) % 5]))
        print("loss", tuple(ce(x, torch.eye(5, dtype=torch.float64)[torch.arange(8) % 5]).shape))
        """);
    assertTrue(out.contains("ok (2, 4, 3)"), out);
    assertTrue(out.contains("ValueError: RmsnormCols: input x: expected shape [N, 4, 3] ([N, d, T]), got [2, 3, 4]"), out);
    assertTrue(out.contains("ValueError: RmsnormCols: input x: expected shape [N, 4, 3] ([N, d, T]), got [4, 3]"), out);
    assertTrue(out.contains("ValueError: RmsnormCols: input x: expected a tensor of shape [N, 4, 3] ([N, d, T]), got list"), out);
    assertTrue(out.contains("ValueError: Crossentropy: target y: expected shape [N, 5] ([N, c]), got [8]"), out);
    assertTrue(out.contains("ValueError: Crossentropy: target y: expected N = 8 samples (as x), got [7, 5]"), out);
    assertTrue(out.contains("loss (8,)") && !out.contains("accepted"), out);
  }

  /** Runs a Python script (dedented by the text block) with the package folder on PYTHONPATH; its output. */
  static String runPython(String py, Path packages, String script) throws Exception {
    Path file = Files.createTempFile(packages, "check", ".py");
    Files.writeString(file, script);
    ProcessBuilder pb = new ProcessBuilder(List.of(py, file.toString())).redirectErrorStream(true);
    pb.environment().put("PYTHONPATH", packages.toString());
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes());
    assertTrue(p.waitFor(300, TimeUnit.SECONDS), out);
    assertEquals(0, p.exitValue(), out);
    return out;
  }
}
