package org.hbp.cli;

import static org.hbp.cli.CliRun.hbp;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.hbp.io.DType;
import org.hbp.io.NdArray;
import org.hbp.io.Npz;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two modules whose names give the same generated class ({@code foo_bar} and {@code fooBar} both
 * give {@code FooBarOperator}) are refused by every command that generates, compiles or loads
 * operators, in one line naming both modules and where they are declared, before any work: one
 * class would otherwise silently stand for both (curvature ran {@code foo_bar} with
 * {@code fooBar}'s tanh).
 */
class ModuleClassCollisionCliTest {
  @TempDir Path dir;
  Path specs, net, params, batch;

  static final String FOO_BAR = "module foo_bar { dims n; input x: vector(n); output z = sigmoid(x); }\n";
  static final String FOO_BAR_CAMEL = "module fooBar { dims n; input x: vector(n); output z = tanh(x); }\n";

  static final double[] W0 = {0.3, -0.2, 0.5, 0.1, -0.4, 0.7, 0.2, -0.6, 0.1, 0.9, -0.3, 0.4}, B0 = {0.1, -0.2, 0.3};
  static final double[] W2 = {0.5, -0.7, 0.2, -0.1, 0.6, 0.8}, B2 = {0.05, -0.05};
  static final double[] X = {1.0, -0.5, 0.3, 2.0, -1.2, 0.4, 0.9, -0.3, 0.2, 1.5, -0.8, 0.6, -0.1, 0.7, 1.1, -1.4, 0.5, -0.9, 0.3, 0.8};
  static final int[] Y = {0, 1, 0, 1, 1};

  @BeforeEach
  void setUp() throws Exception {
    specs = Files.createDirectories(dir.resolve("s1"));
    net = dir.resolve("net.hbp");
    Files.writeString(net, "network t {\n  input x: vector(4);\n  linear(m = 3);\n  foo_bar;\n  linear(m = 2);\n  loss crossentropy;\n}\n");
    Map<String, NdArray> p = new LinkedHashMap<>();
    p.put("0.weight", NdArray.of(W0, DType.FLOAT64, 3, 4));
    p.put("0.bias", NdArray.of(B0, DType.FLOAT64, 3));
    p.put("2.weight", NdArray.of(W2, DType.FLOAT64, 2, 3));
    p.put("2.bias", NdArray.of(B2, DType.FLOAT64, 2));
    params = dir.resolve("p.npz");
    Npz.write(params, p);
    Map<String, NdArray> b = new LinkedHashMap<>();
    b.put("x", NdArray.of(X, DType.FLOAT64, 5, 4));
    double[] y = new double[Y.length];
    for (int i = 0; i < y.length; i++) y[i] = Y[i];
    b.put("y", NdArray.of(y, DType.INT64, 5));
    batch = dir.resolve("b.npz");
    Npz.write(batch, b);
  }

  /** The mean cross-entropy of linear, sigmoid, linear on the batch, from the definitions (row-major weights, as PyTorch). */
  static double referenceLoss() {
    double sum = 0;
    for (int s = 0; s < 5; s++) {
      double[] h = new double[3];
      for (int i = 0; i < 3; i++) {
        double a = B0[i];
        for (int j = 0; j < 4; j++) a += W0[i * 4 + j] * X[s * 4 + j];
        h[i] = 1 / (1 + Math.exp(-a));
      }
      double[] o = new double[2];
      for (int i = 0; i < 2; i++) {
        o[i] = B2[i];
        for (int j = 0; j < 3; j++) o[i] += W2[i * 3 + j] * h[j];
      }
      double max = Math.max(o[0], o[1]);
      sum += max + Math.log(Math.exp(o[0] - max) + Math.exp(o[1] - max)) - o[Y[s]];
    }
    return sum / 5;
  }

  private CliRun curvature(Path out) {
    return hbp("curvature", "--net", net.toString(), "--specs", specs.toString(), "--params", params.toString(), "--batch", batch.toString(),
        "--diagonal", "exact", "--out", out.toString());
  }

  /** Refused with exit status 2 in one line naming both modules at file:line:col; nothing written. */
  private static void assertRefused(CliRun r, String first, String second) {
    r.assertExit(2);
    r.assertNoStackTrace();
    String line = r.err().strip();
    assertFalse(line.contains("\n"), line);
    assertTrue(line.contains(second + ": module 'fooBar' and module 'foo_bar' (" + first + ") both generate the class FooBarOperator"), line);
    assertTrue(line.endsWith("rename one of them"), line);
  }

  @Test
  void curvatureWithoutTheCollisionComputesTheSigmoidNetsLoss() throws Exception {
    Files.writeString(specs.resolve("c.hbp"), FOO_BAR);
    CliRun r = curvature(dir.resolve("d.npz"));
    r.assertExit(0);
    Matcher m = Pattern.compile("batch of 5: loss (\\S+)").matcher(r.out());
    assertTrue(m.find(), r.out());
    assertEquals(referenceLoss(), Double.parseDouble(m.group(1)), 1e-12);
  }

  @Test
  void curvatureRefusesTwoModulesOfOneClassInOneFile() throws Exception {
    Path c = specs.resolve("c.hbp");
    Files.writeString(c, FOO_BAR + FOO_BAR_CAMEL);
    Path out = dir.resolve("d.npz");
    assertRefused(curvature(out), c + ":1:1", c + ":2:1");
    assertFalse(Files.exists(out));
  }

  @Test
  void curvatureRefusesTwoModulesOfOneClassInTwoFilesOfTheFolders() throws Exception {
    Files.writeString(specs.resolve("a.hbp"), FOO_BAR);
    Path b = Files.createDirectories(dir.resolve("s2")).resolve("b.hbp");
    Files.writeString(b, "\n  " + FOO_BAR_CAMEL);
    Path out = dir.resolve("d.npz");
    CliRun r = hbp("curvature", "--net", net.toString(), "--specs", specs.toString(), "--specs", b.getParent().toString(), "--params",
        params.toString(), "--batch", batch.toString(), "--diagonal", "exact", "--out", out.toString());
    assertRefused(r, specs.resolve("a.hbp") + ":1:1", b + ":2:3");
    assertFalse(Files.exists(out));
  }

  @Test
  void aModuleDeclaredInTheNetworkFileCollidesToo() throws Exception {
    Files.writeString(specs.resolve("c.hbp"), FOO_BAR);
    Files.writeString(net, FOO_BAR_CAMEL + Files.readString(net));
    CliRun r = curvature(dir.resolve("d.npz"));
    assertRefused(r, specs.resolve("c.hbp") + ":1:1", net + ":1:1");
  }

  @Test
  void aUserModuleNamedLikeABuiltInInAnotherCaseFormIsRefused() throws Exception {
    Path c = specs.resolve("c.hbp");
    Files.writeString(c, FOO_BAR + "module Sigmoid { dims n; input x: vector(n); output z = tanh(x); }\n");
    CliRun r = curvature(dir.resolve("d.npz"));
    r.assertExit(2);
    String line = r.err().strip();
    assertTrue(line.matches(Pattern.quote("hbp: " + c + ":2:1: module 'Sigmoid' and module 'sigmoid' (") + ".*modules-spec/sigmoid\\.hbp:\\d+:\\d+\\) "
        + "both generate the class SigmoidOperator; rename one of them"), line);
  }

  @Test
  void verifyRefusesBeforeAnyCheck() throws Exception {
    Path c = specs.resolve("c.hbp");
    Files.writeString(c, FOO_BAR + FOO_BAR_CAMEL);
    CliRun r = hbp("verify", c.toString());
    assertRefused(r, c + ":1:1", c + ":2:1");
    assertFalse(r.out().contains("method checks"), r.out());
  }

  @Test
  void verifyTargetPytorchRefusesNamingTheUsersFile() throws Exception {
    Path c = specs.resolve("c.hbp");
    Files.writeString(c, FOO_BAR + FOO_BAR_CAMEL);
    CliRun r = hbp("verify", "--target", "pytorch", c.toString());
    assertRefused(r, c + ":1:1", c + ":2:1");
  }

  @Test
  void generateRefusesForBothTargetsNamingBothModules() throws Exception {
    Files.writeString(specs.resolve("a.hbp"), FOO_BAR);
    Files.writeString(specs.resolve("b.hbp"), FOO_BAR_CAMEL);
    for (String target : new String[] {"java", "pytorch"}) {
      Path out = dir.resolve("gen-" + target);
      CliRun r = hbp("generate", "--target", target, "--specs", specs.toString(), "--out", out.toString());
      assertRefused(r, specs.resolve("a.hbp") + ":1:1", specs.resolve("b.hbp") + ":1:1");
      assertFalse(Files.exists(out), target);
    }
  }
  /**
   * generate (Java target) refuses a user module whose class is a built-in's, letter case aside:
   * with the default package org.hbp.generated, SigmoidOperator would replace the built-in
   * sigmoid's class on a classpath. Nothing is written.
   */
  @Test
  void generateRefusesAModuleNamedLikeABuiltIn() throws Exception {
    for (String name : new String[] {"Sigmoid", "sigmoid", "SIGMOID", "Cross_entropy"}) {
      Path c = specs.resolve("c.hbp");
      Files.writeString(c, "\n module " + name + " { dims n; input x: vector(n); output z = x; }\n");
      for (String target : new String[] {"java"}) {
        Path out = dir.resolve("gen-" + target);
        CliRun r = hbp("generate", "--target", target, "--specs", specs.toString(), "--out", out.toString());
        r.assertExit(2);
        r.assertNoStackTrace();
        String line = r.err().strip();
        assertFalse(line.contains("\n"), line);
        String builtIn = name.toLowerCase(java.util.Locale.ROOT).replace("_", "");
        assertTrue(line.startsWith("hbp: " + c + ":2:2: module '" + name + "' and the built-in "), line);
        assertTrue(line.matches(".*'" + builtIn + "' \\(.*modules-spec/" + builtIn + "\\.hbp:\\d+:\\d+\\) .*"), line);
        assertTrue(line.endsWith("rename the module: a built-in's class name is reserved"), line);
        assertFalse(Files.exists(out), target);
      }
    }
  }

  /** The built-in spec file itself, or a copy of it, generates (it is the built-in, not a clash). */
  @Test
  void generateOfTheBuiltInSpecOrACopyIsNoClash() throws Exception {
    hbp("generate", "--specs", "modules-spec/sigmoid.hbp", "--out", dir.resolve("own").toString(), "--package", "p.q").assertExit(0);
    Files.copy(Path.of("modules-spec/sigmoid.hbp"), specs.resolve("sigmoid.hbp"));
    hbp("generate", "--specs", specs.toString(), "--out", dir.resolve("copy").toString()).assertExit(0);
  }
}
