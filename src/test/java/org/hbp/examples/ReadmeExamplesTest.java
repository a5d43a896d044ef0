package org.hbp.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.EigenDecomposition_F64;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.backend.cpu.CpuBackend;
import org.hbp.cli.Main;
import org.hbp.io.NdArray;
import org.hbp.io.Npz;
import org.hbp.network.ModuleLibrary;
import org.hbp.network.Network;
import org.hbp.network.NetworkResolver;
import org.hbp.network.TorchLayout;
import org.hbp.train.Initialization;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's Java snippets are these example files, quoted whole ({@link #readmeQuotesEachExampleWhole});
 * each runs here and its result is checked against an oracle that shares nothing with hbp's code:
 * a residual Hessian written out by hand, finite differences of the gradient, closed-form derivatives.
 */
class ReadmeExamplesTest {
  @TempDir Path dir;

  static final Path README = Path.of("README.md");
  static final List<Path> EXAMPLES = List.of(
      Path.of("src/test/java/org/hbp/examples/GatedPchExample.java"),
      Path.of("src/test/resources/examples/SoftsignExample.java"),
      Path.of("src/test/java/org/hbp/examples/NetworkCurvatureExample.java"));

  /** The README's ```java blocks, without their fence indentation. */
  static List<String> javaBlocks() throws Exception {
    List<String> lines = Files.readAllLines(README, StandardCharsets.UTF_8), out = new ArrayList<>();
    for (int i = 0; i < lines.size(); i++) {
      String l = lines.get(i);
      if (!l.strip().equals("```java")) continue;
      String indent = l.substring(0, l.indexOf('`'));
      StringBuilder b = new StringBuilder();
      for (i++; !lines.get(i).equals(indent + "```"); i++) {
        String body = lines.get(i);
        b.append(body.startsWith(indent) ? body.substring(indent.length()) : body.strip()).append('\n');
      }
      out.add(b.toString());
    }
    return out;
  }

  /** Each example is a ```java block of the README, byte for byte; every other ```java block is an excerpt of a generated class. */
  @Test
  void readmeQuotesEachExampleWhole() throws Exception {
    List<String> blocks = javaBlocks();
    for (Path p : EXAMPLES) {
      String file = Files.readString(p);
      assertTrue(blocks.contains(file), "README.md does not quote " + p + " whole (copy the file into its ```java block)");
    }
    for (String b : blocks) {
      if (EXAMPLES.stream().anyMatch(p -> b.equals(read(p)))) continue;
      assertExcerptOf(b, Path.of("generated/org/hbp/generated/LinearOperator.java"));
    }
  }

  private static String read(Path p) {
    try {
      return Files.readString(p);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /** The block's lines up to a line "..." (or all) are consecutive lines of the file (indentation aside). */
  private static void assertExcerptOf(String block, Path file) throws Exception {
    List<String> want = new ArrayList<>();
    for (String l : block.split("\n")) {
      if (l.strip().equals("...")) break;
      want.add(l.strip());
    }
    List<String> have = Files.readAllLines(file).stream().map(String::strip).toList();
    boolean found = false;
    for (int i = 0; i + want.size() <= have.size() && !found; i++) found = have.subList(i, i + want.size()).equals(want);
    assertTrue(found, "a ```java block of README.md is neither an example file nor an excerpt of " + file + ":\n" + block);
  }

  // ---- GatedPchExample: the PCH-abs residual against the residual written out by hand ----------------------

  static double sigmoid(double t) {
    return 1 / (1 + Math.exp(-t));
  }

  /**
   * For z = a .* sigmoid(b), a = W1 x, b = W2 x: the Hessian of dz'z in x is
   * sum_k dz_k [s'(b_k) (W1_k' W2_k + W2_k' W1_k) + a_k s''(b_k) W2_k' W2_k] (W1_k, W2_k the k-th rows);
   * PCH-abs replaces its eigenvalues by their absolute values.
   */
  @Test
  void gatedPchIsTheHandDerivedResidualWithAbsoluteEigenvalues() {
    double[] got = GatedPchExample.pchResidual();
    double[][] xs = {{0.5, -1, 2, 0}, {1, 0.3, -0.7, 1.5}}, dzs = {{1, -2, 0.5}, {0.3, 1, -1}};
    double[] w1c = {0.2, -0.1, 0.4, 0.3, 0.5, -0.2, -0.6, 0.1, 0.2, 0.1, 0.3, -0.4}, w2c = {0.7, 0.2, -0.3, -0.5, 0.4, 0.1, 0.2, -0.8, 0.6, 0.3, 0.1, -0.2};
    assertEquals(2 * 16, got.length);
    for (int s = 0; s < 2; s++) {
      DMatrixRMaj r = new DMatrixRMaj(4, 4);
      for (int k = 0; k < 3; k++) {
        double a = 0, b = 0;
        for (int j = 0; j < 4; j++) {
          a += w1c[k + 3 * j] * xs[s][j];
          b += w2c[k + 3 * j] * xs[s][j];
        }
        double s1 = sigmoid(b) * (1 - sigmoid(b)), s2 = s1 * (1 - 2 * sigmoid(b));
        for (int i = 0; i < 4; i++) {
          for (int j = 0; j < 4; j++) {
            double w1i = w1c[k + 3 * i], w1j = w1c[k + 3 * j], w2i = w2c[k + 3 * i], w2j = w2c[k + 3 * j];
            r.add(i, j, dzs[s][k] * (s1 * (w1i * w2j + w2i * w1j) + a * s2 * w2i * w2j));
          }
        }
      }
      DMatrixRMaj abs = absEigenvalues(r);
      for (int i = 0; i < 4; i++) {
        for (int j = 0; j < 4; j++) assertEquals(abs.get(i, j), got[16 * s + i + 4 * j], 1e-12, "sample " + s + " [" + i + ", " + j + "]");
      }
    }
  }

  static DMatrixRMaj absEigenvalues(DMatrixRMaj m) {
    EigenDecomposition_F64<DMatrixRMaj> eig = DecompositionFactory_DDRM.eig(m.numRows, true, true);
    assertTrue(eig.decompose(m.copy()));
    DMatrixRMaj out = new DMatrixRMaj(m.numRows, m.numCols);
    for (int e = 0; e < m.numRows; e++) {
      DMatrixRMaj v = eig.getEigenVector(e);
      DMatrixRMaj vvt = new DMatrixRMaj(m.numRows, m.numRows);
      CommonOps_DDRM.multTransB(v, v, vvt);
      CommonOps_DDRM.addEquals(out, Math.abs(eig.getEigenvalue(e).getReal()), vvt);
    }
    return out;
  }

  // ---- SoftsignExample: generated by `hbp generate`, compiled with the example, against closed forms ---------

  @Test
  void softsignExampleRunsOnTheGeneratedOperator() throws Exception {
    Path specs = Files.createDirectories(dir.resolve("my-specs")), src = dir.resolve("src"), classes = Files.createDirectories(dir.resolve("classes"));
    Files.writeString(specs.resolve("softsign.hbp"), softsignSpecOfReadme());
    StringWriter out = new StringWriter(), err = new StringWriter();
    int code = Main.execute(new String[] {"generate", "--specs", specs.toString(), "--out", src.toString(), "--package", "com.example.ops"},
        new PrintWriter(out, true), new PrintWriter(err, true));
    assertEquals(0, code, out + "\n" + err);
    Path example = Files.createDirectories(src.resolve("com/example")).resolve("SoftsignExample.java");
    Files.copy(EXAMPLES.get(1), example);
    JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
    StringWriter diagnostics = new StringWriter();
    boolean ok = javac.getTask(diagnostics, null, null,
        List.of("-d", classes.toString(), "-classpath", System.getProperty("java.class.path"), "-proc:none"), null,
        javac.getStandardFileManager(null, null, null).getJavaFileObjects(
            src.resolve("com/example/ops/SoftsignLayerOperator.java").toFile(), example.toFile())).call();
    assertTrue(ok, diagnostics.toString());
    try (URLClassLoader loader = new URLClassLoader(new URL[] {classes.toUri().toURL()}, getClass().getClassLoader())) {
      Method run = loader.loadClass("com.example.SoftsignExample").getMethod("run");
      double[][] r = (double[][]) run.invoke(null);
      double[] x = {-2, 0.5, 1, 3, -1, 0}, dz = {1, -1, 2, 0.5, 1, -3};
      for (int i = 0; i < x.length; i++) {
        double d1 = 1 / Math.pow(1 + Math.abs(x[i]), 2), d2 = -2 * Math.signum(x[i]) / Math.pow(1 + Math.abs(x[i]), 3);
        assertEquals(d1 * dz[i], r[0][i], 1e-14, "dx[" + i + "] = softsign'(x) dz");
        assertEquals(Math.abs(dz[i] * d2), r[1][i], 1e-14, "|dz softsign''(x)| [" + i + "]");
      }
    }
  }

  /** The spec the README's worked example tells the user to write (its own block). */
  static String softsignSpecOfReadme() throws Exception {
    String readme = Files.readString(README);
    int m = readme.indexOf("module softsign_layer");
    int start = readme.lastIndexOf("```\n", m) + 4, end = readme.indexOf("```", m);
    assertTrue(m > 0 && start > 4 && end > m, "README: the worked example's spec is gone");
    return readme.substring(start, end).replaceAll("(?m)^   ", "");
  }

  // ---- NetworkCurvatureExample: Hessian products against finite differences of the gradient --------------

  @Test
  void networkCurvatureExampleAgreesWithFiniteDifferences() throws Exception {
    Network net = new Network(NetworkResolver.load(Path.of("networks/resnet.hbp"), null, ModuleLibrary.builtInSpecDirs()),
        ModuleLibrary.forSpecs(), new CpuBackend());
    Map<String, NdArray> params = Initialization.xavierNormalTorch(net, 3);
    Npz.write(dir.resolve("params.npz"), params);
    Random rng = new Random(4);
    int n = 8;
    double[] x = new double[n * 16], y = new double[n];
    for (int i = 0; i < x.length; i++) x[i] = rng.nextGaussian();
    for (int i = 0; i < n; i++) y[i] = rng.nextInt(4);
    Npz.write(dir.resolve("batch.npz"), Map.of("x", NdArray.of(x, n, 16), "y", NdArray.of(y, n)));

    NetworkCurvatureExample.Result r = NetworkCurvatureExample.run(dir);

    TorchLayout io = new TorchLayout(net);
    Map<String, Batch> p = io.parameters(params, "params.npz");
    Batch xb = io.inputs(NdArray.of(x, n, 16), "x"), yb = io.targets(NdArray.of(y, n), n, "y");
    Backend be = net.backend();
    double eps = 1e-5;
    // H v by central differences of the gradient of 0.W, only 0.W moved
    double[] fd = gradientDifference(net, p, xb, yb, r.direction(), eps);
    assertClose(fd, r.hessianTimesDirection(), 1e-6, "H v of 0.W");
    // the damped Newton step with the PSD PCH-abs block is a descent direction: d'g < 0, and the loss goes down along it
    assertTrue(r.cgConverged(), "CG converged");
    double dg = 0;
    for (int i = 0; i < r.gradient().length; i++) dg += r.newtonStep()[i] * r.gradient()[i];
    assertTrue(dg < 0, "d'g = " + dg);
    int[] s = net.parameterShape("0.W");
    double[] w = be.toArray(p.get("0.W")), moved = w.clone();
    for (int i = 0; i < w.length; i++) moved[i] += 1e-2 * r.newtonStep()[i];
    Map<String, Batch> q = new LinkedHashMap<>(p);
    q.put("0.W", be.fromArray(1, 1, s[0], s[1], moved));
    try (var before = net.run(p, xb, yb); var after = net.run(q, xb, yb)) {
      assertEquals(r.loss(), before.loss(), 1e-12, "the example's loss");
      assertTrue(after.loss() < before.loss(), "loss " + before.loss() + " -> " + after.loss() + " along the Newton step");
    }
  }

  /** (grad(W + eps v) - grad(W - eps v)) / (2 eps) of parameter 0.W; v column-major in its shape. */
  private static double[] gradientDifference(Network net, Map<String, Batch> p, Batch x, Batch y, double[] v, double eps) {
    Backend be = net.backend();
    int[] s = net.parameterShape("0.W");
    double[] w = be.toArray(p.get("0.W")), plus = w.clone(), minus = w.clone();
    for (int i = 0; i < w.length; i++) {
      plus[i] += eps * v[i];
      minus[i] -= eps * v[i];
    }
    double[] gp = gradient(net, p, "0.W", be.fromArray(1, 1, s[0], s[1], plus), x, y), gm = gradient(net, p, "0.W", be.fromArray(1, 1, s[0], s[1], minus), x, y);
    double[] out = new double[w.length];
    for (int i = 0; i < w.length; i++) out[i] = (gp[i] - gm[i]) / (2 * eps);
    return out;
  }

  private static double[] gradient(Network net, Map<String, Batch> p, String name, Batch value, Batch x, Batch y) {
    Map<String, Batch> q = new LinkedHashMap<>(p);
    q.put(name, value);
    try (var pass = net.run(q, x, y)) {
      return net.backend().toArray(pass.gradient(name));
    }
  }

  private static void assertClose(double[] want, double[] got, double relTol, String what) {
    assertEquals(want.length, got.length, what);
    double scale = 0;
    for (double w : want) scale = Math.max(scale, Math.abs(w));
    assertTrue(scale > 1e-8, what + ": a zero reference says nothing");
    for (int i = 0; i < want.length; i++) assertEquals(want[i], got[i], relTol * scale, what + " [" + i + "]");
  }

  /**
   * Every network the README writes out in a code block (a block with a line opening {@code network
   * NAME {}) parses and resolves against the built-in modules: each value used, each shape
   * fitting. The branchy graph example had a value it never used, which hbp refuses.
   */
  @Test
  void everyNetworkOfTheReadmeResolves() throws Exception {
    List<String> lines = Files.readAllLines(README, StandardCharsets.UTF_8);
    List<org.hbp.dsl.ModuleSpec> library = org.hbp.network.NetworkResolver.library(org.hbp.network.ModuleLibrary.builtInSpecDirs());
    int found = 0;
    for (int i = 0; i < lines.size(); i++) {
      if (!lines.get(i).strip().startsWith("```")) continue; // a block opens (any language); j finds where it closes
      StringBuilder block = new StringBuilder();
      int j = i + 1;
      boolean network = false;
      for (; j < lines.size() && !lines.get(j).strip().startsWith("```"); j++) {
        block.append(lines.get(j)).append('\n');
        network |= lines.get(j).matches("network \\w+ \\{.*");
      }
      if (!network) {
        i = j;
        continue;
      }
      String where = "README.md block at line " + (i + 2);
      org.hbp.network.NetworkSpec net = org.hbp.network.NetworkResolver.resolve(org.hbp.dsl.Dsl.parse(block.toString(), where), null, library);
      assertTrue(net.name() != null && !net.name().isEmpty(), where);
      found++;
      i = j;
    }
    assertTrue(found >= 3, "README's network blocks: expected at least cnn, branchy and the imported mlp, found " + found);
  }
}
