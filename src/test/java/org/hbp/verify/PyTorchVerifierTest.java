package org.hbp.verify;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.hbp.cli.Python;
import org.hbp.codegen.SourceGeneration;
import org.hbp.dsl.Dsl;
import org.hbp.dsl.ModuleSpec;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The generated PyTorch code against torch.autograd in float64 (the oracle script of
 * {@link PyTorchOracle}, which uses only the generated classes' public interface): every spec of
 * modules-spec/, the new-module examples of src/test/resources/specs, the README's worked example
 * (softsign) and its PyTorch example (rmsnorm), 3 random shapes each, in one Python process. And
 * the oracle fails on wrong code. Needs python3 with torch (CI installs python3-torch): missing
 * under CI=true is a failure, elsewhere a skip.
 */
class PyTorchVerifierTest {
  @TempDir Path dir;

  static String python() {
    Optional<String> py = Python.withTorch();
    if (py.isEmpty()) {
      String why = "no python3 with torch (tried python3 and /usr/bin/python3; apt-get install python3-torch)";
      if (System.getenv("CI") != null) fail(why + "; CI must have it");
      Assumptions.assumeTrue(false, why);
    }
    return py.get();
  }

  private Path softsign() throws Exception {
    Path spec = dir.resolve("softsign.hbp");
    Files.writeString(spec, "// the README's worked example\n"
        + "elementwise softsign(t) = t ./ (1 + abs(t));\n"
        + "module softsign_layer {\n  dims n;\n  input x: vector(n);\n  output z = softsign(x);\n}\n");
    return spec;
  }

  @Test
  void everySpecAgreesWithAutograd() throws Exception {
    List<Path> files = new ArrayList<>(SourceGeneration.specFiles(Path.of("modules-spec")));
    files.addAll(SourceGeneration.specFiles(Path.of("modules-extra")));
    files.addAll(SourceGeneration.specFiles(Path.of("src/test/resources/specs")));
    files.add(Path.of("src/test/resources/pytorch/rmsnorm.hbp"));
    files.add(softsign());
    PyTorchVerifier.Report r = PyTorchVerifier.verify(files, python(), 1, 3);
    assertEquals(0, r.failed(), r.log());
    // every module and loss was checked at 3 shapes, with more than its forward pass
    for (Path f : files) {
      for (ModuleSpec m : Dsl.parse(Dsl.readSpec(f), f.toString()).modules()) {
        String prefix = "PASS " + f.getFileName() + "/" + m.name() + " ";
        long forwards = r.log().lines().filter(l -> l.startsWith(prefix) && l.contains(" forward:")).count();
        long all = r.log().lines().filter(l -> l.startsWith(prefix)).count();
        assertEquals(3, forwards, m.name() + ": " + r.log());
        assertTrue(all >= 3 * 4, m.name() + " has only " + all + " checks");
        if (!m.isLoss()) {
          for (String check : List.of("jac_mat_prod(", "jac_t_mat_prod(", "residual_mat_prod(", "pch-abs", "pch-clip", "ggn",
              "ea_jac_t_mat_jac_prod(", "eq. 9"))
            assertTrue(r.log().lines().anyMatch(l -> l.startsWith(prefix) && l.contains(check)), m.name() + ": no " + check + " check");
        }
      }
    }
    assertTrue(r.log().contains("kronecker_factor(W)"), "the Kronecker factors are checked");
    assertTrue(r.log().contains("hessian_is_psd(x)"), "a PSD claim is checked");
    assertTrue(r.log().lines().anyMatch(l -> l.startsWith("PASS crossentropy.hbp/crossentropy") && l.contains("loss_factor(x) S S'")),
        "the derived loss factor S is checked against autograd's Hessian: " + r.log());
  }

  @Test
  void theDeclaredIndexMapsAgreeWithHbps() throws Exception {
    // maxpool at 8 random shapes (seed 1 draws a 4 x 4 window), zeropad at 3: the module computes
    // window_argmax / pad_source itself when they are not given
    PyTorchVerifier.Report r = PyTorchVerifier.verify(List.of(Path.of("modules-spec/maxpool.hbp"), Path.of("modules-spec/zeropad.hbp")),
        python(), 1, 8);
    assertEquals(0, r.failed(), r.log());
    assertTrue(r.log().lines().anyMatch(l -> l.startsWith("PASS maxpool.hbp/maxpool") && l.contains("'k': 4")
        && l.contains("forward with idx computed as declared")), r.log());
    assertTrue(r.log().lines().anyMatch(l -> l.startsWith("PASS zeropad.hbp/zeropad") && l.contains("forward with idx computed as declared")),
        r.log());
  }

  /**
   * maxpool_strided and avgpool_strided at 8 random shapes: the generated PyTorch modules against autograd, and
   * maxpool_strided's index map as the generated module computes it (window_argmax_strided, from PyTorch's unfold of the
   * input padded by -inf) against hbp's Java kernel, on overlapping windows (stride below the window) and on windows of
   * padding only (a padding above half the window: -1, a zero).
   */
  @Test
  void theStridedPoolsAndTheirDeclaredIndexMapAgreeWithHbps() throws Exception {
    PyTorchVerifier.Report r = PyTorchVerifier.verify(List.of(Path.of("modules-spec/maxpool_strided.hbp"),
        Path.of("modules-spec/avgpool_strided.hbp")), python(), 1, 8);
    assertEquals(0, r.failed(), r.log());
    java.util.regex.Pattern dims = java.util.regex.Pattern.compile("'k': (\\d+), 's': (\\d+), 'p': (\\d+)");
    boolean overlapping = false, paddingOnly = false;
    for (String l : r.log().lines().filter(l -> l.startsWith("PASS maxpool_strided.hbp/maxpool_strided")
        && l.contains("forward with idx computed as declared")).toList()) {
      java.util.regex.Matcher m = dims.matcher(l);
      assertTrue(m.find(), l);
      int k = Integer.parseInt(m.group(1)), s = Integer.parseInt(m.group(2)), p = Integer.parseInt(m.group(3));
      overlapping |= s < k;
      paddingOnly |= 2 * p > k;
    }
    assertTrue(overlapping && paddingOnly, "cases with overlapping windows and with windows of padding only: " + r.log());
    assertTrue(r.log().lines().anyMatch(l -> l.startsWith("PASS avgpool_strided.hbp/avgpool_strided")), r.log());
  }

  private PyTorchVerifier.Report mutated(String spec, String file, String from, String to) throws Exception {
    return PyTorchVerifier.verify(List.of(Path.of("modules-spec", spec)), python(), 1, 3, pkg -> {
      Path p = pkg.resolve(file);
      String text = Files.readString(p);
      assertTrue(text.contains(from), file + " has no '" + from + "'");
      Files.writeString(p, text.replace(from, to));
    });
  }

  @Test
  void theOracleCatchesWrongCode() throws Exception {
    // a wrong second derivative: the residual is wrong, the Jacobian still right
    PyTorchVerifier.Report d2 = mutated("sigmoid.hbp", "sigmoid.py", "* (1.0 + (-1.0 * (2.0 * u))))", "* 1.0)");
    assertTrue(d2.failed() > 0, d2.log());
    assertTrue(d2.log().lines().anyMatch(l -> l.startsWith("FAIL") && l.contains("residual_mat_prod(x, hessian)")), d2.log());
    assertTrue(d2.log().lines().anyMatch(l -> l.startsWith("PASS") && l.contains("jac_mat_prod(x)")), d2.log());
    // pch-abs that does not take absolute values: only the pch-abs checks fail
    PyTorchVerifier.Report abs = mutated("gated.hbp", "hbp_runtime.py", "return values.abs()", "return values");
    assertTrue(abs.log().lines().anyMatch(l -> l.startsWith("FAIL") && l.contains("pch-abs")), abs.log());
    assertTrue(abs.log().lines().noneMatch(l -> l.startsWith("FAIL") && !l.contains("pch-abs")), abs.log());
    // the loss factor without its rank-one correction: S S' = diag(p) is not the Hessian, every other check passes
    PyTorchVerifier.Report factor = mutated("crossentropy.hbp", "crossentropy.py", "        t5 = t1 - t4\n", "        t5 = t1\n");
    assertTrue(factor.log().lines().anyMatch(l -> l.startsWith("FAIL") && l.contains("loss_factor(x)")), factor.log());
    assertTrue(factor.log().lines().noneMatch(l -> l.startsWith("FAIL") && !l.contains("loss_factor(x)")), factor.log());
    // items read row-major instead of column-major
    PyTorchVerifier.Report layout = mutated("conv2d.hbp", "hbp_runtime.py", "return a.mT.reshape(*a.shape[:-2], cols, rows).mT",
        "return a.reshape(*a.shape[:-2], rows, cols)");
    assertTrue(layout.failed() > 0, layout.log());
  }
}
