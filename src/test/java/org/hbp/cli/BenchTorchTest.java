package org.hbp.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.backend.cpu.CpuBackend;
import org.hbp.network.Curvature;
import org.hbp.network.CurvatureKind;
import org.hbp.network.ModuleLibrary;
import org.hbp.network.Network;
import org.hbp.network.NetworkResolver;
import org.hbp.network.Pass;
import org.hbp.network.Strategy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code hbp bench --torch} compares like with like: the PyTorch program it runs
 * ({@link TorchProgram}, lowered from the declaration) computes, in float64, the loss, the
 * gradients and the exact GGN and Hessian block products that hbp's own pass gives (to 1e-10), on
 * a graph network (convolutions concatenated, a tied instance used twice, merges - and .*, a
 * module from generated code), on a sequential one with residual blocks, and on a graph with modules
 * of two inputs (bilinear, divide). Not a timing test.
 */
class BenchTorchTest {
  @TempDir Path dir;

  /** Inception-like: two convolutions concatenated, a linear instance used twice (tied), softplus from generated code. */
  static final String GRAPH = String.join("\n",
      "network tiedinception {",
      "  input x: tensor(2, 4, 4);",
      "  a = conv2d(cout = 2, k = 1, s = 1, p = 0, d = 1)(x);",
      "  b = conv2d(cout = 3, k = 3, s = 1, p = 1, d = 1)(x);",
      "  c = concat(a, b);",
      "  t = tanh(c);",
      "  q = avgpool(k = 2)(t);",
      "  f = flatten(q);",
      "  h = linear(m = 6)(f);",
      "  fc = linear(m = 6);",
      "  u = fc(h);",
      "  s = softplus(u);",
      "  v = fc(s);",
      "  r = v - h;",
      "  p = r .* s;",
      "  y = linear(m = 3)(p);",
      "  loss crossentropy(y);",
      "}");

  /** Sequential with residual blocks, one around a module from generated code (elu). */
  static final String RESIDUAL = String.join("\n",
      "network residual {",
      "  input x: vector(5);",
      "  linear(m = 6);",
      "  tanh;",
      "  residual {",
      "    linear(m = 6);",
      "    elu;",
      "    linear(m = 6);",
      "  }",
      "  residual {",
      "    sigmoid;",
      "  }",
      "  linear(m = 3);",
      "  loss crossentropy;",
      "}");

  /** Modules of two inputs: bilinear (its inputs from two branches) and divide (entrywise x ./ y, the denominator a softplus, positive). */
  static final String TWO_INPUTS = String.join("\n",
      "network twoinputs {",
      "  input x: vector(5);",
      "  a = linear(m = 4)(x);",
      "  t = tanh(a);",
      "  b = linear(m = 3)(x);",
      "  z = bilinear(m = 4)(t, b);",
      "  u = linear(m = 4)(t);",
      "  p = softplus(u);",
      "  d = divide(z, p);",
      "  y = linear(m = 3)(d);",
      "  loss crossentropy(y);",
      "}");

  /**
   * networks/two_inputs.hbp made small: a module of two matrix inputs declared in the file
   * (cross-attention of 16 query tokens over 4 key tokens), a residual merge, and bilinear of the two means.
   */
  static final String CROSS_ATTENTION = String.join("\n",
      "module cross_attention {",
      "  dims d, e, k, T, S;",
      "  input X: matrix(d, T);",
      "  input Y: matrix(e, S);",
      "  param Wq: matrix(k, d);",
      "  param Wk: matrix(k, e);",
      "  param Wv: matrix(k, e);",
      "  param Wo: matrix(d, k);",
      "  let Q = Wq*X;",
      "  let K = Wk*Y;",
      "  let V = Wv*Y;",
      "  let P = softmax(K'*Q / sqrt(k));",
      "  output Z = Wo*(V*P);",
      "}",
      "network crossattention {",
      "  input x: tensor(2, 8, 8);",
      "  stem = conv2d(cout = 3, k = 2, s = 2, p = 0, d = 1)(x);",
      "  t = tanh(stem);",
      "  q = linear_tokens(m = 3)(t);",
      "  pool = avgpool(k = 2)(t);",
      "  kv = linear_tokens(m = 2)(pool);",
      "  o = cross_attention(k = 2)(q, kv);",
      "  r = o + q;",
      "  f = meanpool(r);",
      "  g = meanpool(kv);",
      "  y = bilinear(m = 3)(f, g);",
      "  loss crossentropy(y);",
      "}");

  @ParameterizedTest
  @ValueSource(strings = {"graph", "residual", "twoinputs", "crossattention"})
  void pytorchSideGivesHbpsLossGradientsAndExactProducts(String which) throws Exception {
    Path file = dir.resolve(which + ".hbp");
    Files.writeString(file, switch (which) {
      case "graph" -> GRAPH;
      case "residual" -> RESIDUAL;
      case "twoinputs" -> TWO_INPUTS;
      default -> CROSS_ATTENTION;
    });
    Backend be = new CpuBackend();
    Network net = new Network(NetworkResolver.load(file, null, ModuleLibrary.builtInSpecDirs()), ModuleLibrary.forSpecs(), be);
    Random rng = new Random(3);
    Map<String, Batch> params = randomParameters(net, be, rng);
    int n = 5;
    int[] in = net.inputShape(), t = net.targetShape();
    Batch x = random(be, rng, n, 1, in);
    double[] y = new double[n * t[0] * t[1]];
    for (int i = 0; i < n; i++) y[i * t[0] * t[1] + rng.nextInt(t[0] * t[1])] = 1;
    Batch yb = be.fromArray(n, 1, t[0], t[1], y);
    Map<String, Batch> dirs = new LinkedHashMap<>();
    for (String name : net.parameterNames()) dirs.put(name, random(be, rng, 1, 2, net.parameterShape(name)));

    for (CurvatureKind kind : List.of(CurvatureKind.GGN, CurvatureKind.HESSIAN)) {
      TorchBench.Run run = TorchBench.run(net, params, x, yb, kind, Map.of(2, dirs), "float64", 1, 0, 1);
      assertTrue(run.nativeModules().containsAll(List.of(which.equals("crossattention") ? "conv2d" : "linear", "crossentropy")), run.nativeModules().toString());
      List<String> generated = switch (which) {
        case "graph" -> List.of("softplus");
        case "residual" -> List.of("elu");
        case "twoinputs" -> List.of("bilinear", "divide", "softplus");
        default -> List.of("cross_attention", "bilinear", "linear_tokens");
      };
      assertTrue(run.generatedModules().containsAll(generated), run.generatedModules().toString());
      try (Pass pass = net.run(params, x, yb)) {
        assertEquals(pass.loss(), run.loss(), 1e-10 * (1 + Math.abs(pass.loss())), "loss");
        Curvature c = pass.curvature(kind, Strategy.EXACT);
        for (String name : net.parameterNames()) {
          assertClose(which + " gradient " + name, be.toArray(pass.gradient(name)), run.gradients().get(name));
          assertClose(which + " " + kind.label() + " product " + name, be.toArray(c.matProd(name, dirs.get(name))), run.products().get(name));
        }
      }
      assertTrue(run.gradientSeconds() > 0 && run.productSeconds().get(2) > 0, run.toString());
    }
  }

  @Test
  void benchTorchPrintsPytorchRowsBesideOursOnAGraphNetwork() throws Exception {
    Path file = dir.resolve("graph.hbp"), json = dir.resolve("bench.json");
    Files.writeString(file, GRAPH);
    StringWriter out = new StringWriter(), err = new StringWriter();
    int code = Main.execute(new String[] {"bench", "--net", file.toString(), "--batch", "4", "--backend", "cpu", "--repeat", "1", "--warmup", "0",
        "--strategies", "exact", "--directions", "1,3", "--torch", "--out", json.toString()}, new PrintWriter(out, true), new PrintWriter(err, true));
    String o = out.toString();
    assertEquals(0, code, o + "\n" + err);
    for (String row : new String[] {"PyTorch gradient pass", "PyTorch products, all blocks, 1 direction", "PyTorch products, all blocks, 3 directions",
        "(ours exact / PyTorch = ", "PyTorch BLAS: ", "PyTorch lowering: native operations for avgpool, conv2d, crossentropy, flatten, linear, tanh; generated code"})
      assertTrue(o.contains(row), "prints " + row + ":\n" + o);
    Matcher m = Pattern.compile("PyTorch agrees with hbp: loss (\\S+), gradients (\\S+), exact ggn products \\(1 direction\\) (\\S+) ").matcher(o);
    assertTrue(m.find(), o);
    for (int i = 1; i <= 3; i++) assertTrue(Double.parseDouble(m.group(i)) <= 1e-10, m.group());
    String j = Files.readString(json);
    assertTrue(j.contains("\"what\": \"PyTorch gradient pass\", \"median_s\": ") && j.contains("\"what\": \"PyTorch products, all blocks, 3 directions\""), j);
  }

  /** Debian's reference BLAS (what python3-torch gets without libopenblas0) is told apart from optimised ones by its path. */
  @Test
  void referenceBlasIsRecognisedByItsDebianPath() {
    assertTrue(TorchBench.isReferenceBlas("/usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0"));
    assertTrue(TorchBench.isReferenceBlas("/usr/lib/x86_64-linux-gnu/lapack/liblapack.so.3"));
    assertFalse(TorchBench.isReferenceBlas("/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3"));
    assertFalse(TorchBench.isReferenceBlas("/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblasp-r0.3.21.so"));
    assertFalse(TorchBench.isReferenceBlas("/opt/intel/mkl/lib/libmkl_rt.so"));
  }

  @Test
  void benchTorchSaysWhereAutogradHasNoProducts() {
    StringWriter out = new StringWriter(), err = new StringWriter();
    int code = Main.execute(new String[] {"bench", "--net", "networks/resnet.hbp", "--batch", "4", "--backend", "cpu", "--repeat", "1", "--warmup", "0",
        "--strategies", "exact", "--directions", "1", "--curvature", "pch-abs", "--torch"}, new PrintWriter(out, true), new PrintWriter(err, true));
    assertEquals(0, code, out + "\n" + err);
    assertTrue(out.toString().contains("PyTorch products: only for --curvature ggn or hessian"), out.toString());
    assertTrue(out.toString().matches("(?s).*PyTorch agrees with hbp: loss \\S+, gradients \\S+ \\(largest.*"), out.toString());
  }

  /** networks/resnet-graph.hbp, the ResNet-style net of docs/performance.md: its blocks and shapes as its comments say, and a pass runs. */
  @Test
  void resnetGraphExampleHasItsProjectionShortcuts() {
    Backend be = new CpuBackend();
    Network net = new Network(NetworkResolver.load(Path.of("networks/resnet-graph.hbp"), null, ModuleLibrary.builtInSpecDirs()),
        ModuleLibrary.forSpecs(), be);
    assertEquals(20, net.parameterNames().size(), net.parameterNames().toString());
    assertEquals(List.of(16, 8, 1, 1), List.of(net.parameterShape("p2.W")[0], net.parameterShape("p2.W")[1], net.parameterShape("p2.b")[1],
        net.parameterShape("y.W")[0] / 10), "p2: a 1x1 projection from 8 to 16 channels");
    assertEquals(32, net.parameterShape("y.W")[1], "global average pooling leaves 32 features");
    Random rng = new Random(5);
    Batch x = random(be, rng, 2, 1, net.inputShape());
    double[] y = new double[2 * 10];
    y[3] = y[17] = 1;
    Map<String, Batch> params = new LinkedHashMap<>();
    for (String name : net.parameterNames()) { // Xavier-normal weights, zero biases, as hbp bench draws them
      int[] s = net.parameterShape(name);
      double[] d = new double[s[0] * s[1]];
      for (int i = 0; i < d.length; i++) d[i] = s[1] == 1 ? 0 : rng.nextGaussian() * Math.sqrt(2.0 / (s[0] + s[1]));
      params.put(name, be.fromArray(1, 1, s[0], s[1], d));
    }
    try (Pass pass = net.run(params, x, be.fromArray(2, 1, 10, 1, y))) {
      assertTrue(Double.isFinite(pass.loss()) && pass.loss() > 0, "loss " + pass.loss());
    }
  }

  private static Map<String, Batch> randomParameters(Network net, Backend be, Random rng) {
    Map<String, Batch> params = new LinkedHashMap<>();
    for (String name : net.parameterNames()) params.put(name, random(be, rng, 1, 1, net.parameterShape(name)));
    return params;
  }

  private static Batch random(Backend be, Random rng, int samples, int directions, int[] item) {
    double[] d = new double[samples * directions * item[0] * item[1]];
    for (int i = 0; i < d.length; i++) d[i] = rng.nextGaussian() * 0.7;
    return be.fromArray(samples, directions, item[0], item[1], d);
  }

  private static void assertClose(String what, double[] want, double[] got) {
    assertEquals(want.length, got.length, what + ": entries");
    double scale = 0;
    for (double v : want) scale = Math.max(scale, Math.abs(v));
    for (int i = 0; i < want.length; i++) assertEquals(want[i], got[i], 1e-10 * (1 + scale), what + " entry " + i);
  }
}
