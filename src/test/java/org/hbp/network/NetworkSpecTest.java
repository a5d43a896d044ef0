package org.hbp.network;

import static org.hbp.dsl.DslErrors.assertDslError;
import static org.hbp.dsl.DslErrors.row;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.hbp.UserError;
import org.hbp.calculus.Expr;
import org.hbp.dsl.Dsl;
import org.hbp.dsl.DslException;
import org.hbp.dsl.ModuleSpec;
import org.hbp.dsl.ParsedNetwork;
import org.hbp.dsl.Spec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@code network} declarations: parsing, module lookup, dim inference and shapes, index paths,
 * the description, loading from files, and the error messages (written by hand).
 */
class NetworkSpecTest {
  private static final List<ModuleSpec> BUILT_IN = NetworkResolver.library(List.of(Path.of("modules-spec")));

  private static String lines(String... lines) {
    return String.join("\n", lines) + "\n";
  }

  private static NetworkSpec resolve(String text) {
    return NetworkResolver.resolve(Dsl.parse(text, "net.hbp"), null, BUILT_IN);
  }

  private static List<List<Integer>> shapes(NetworkSpec net) {
    List<List<Integer>> out = new ArrayList<>();
    out.add(net.inputShape());
    for (NetworkSpec.Node n : net.body()) out.add(n.outputShape());
    return out;
  }

  // ---------------- successful parses ----------------

  /** The paper's fully connected net 3072-1024-512-256-128-64-32-16-10 with sigmoids. */
  @Test
  void fullyConnected() {
    NetworkSpec net = resolve(lines(
        "network fc {",
        "  input x: vector(3072);",
        "  linear(m = 1024); sigmoid;",
        "  linear(m = 512); sigmoid;",
        "  linear(m = 256); sigmoid;",
        "  linear(m = 128); sigmoid;",
        "  linear(m = 64); sigmoid;",
        "  linear(m = 32); sigmoid;",
        "  linear(m = 16); sigmoid;",
        "  linear(m = 10);",
        "  loss crossentropy;",
        "}"));
    assertEquals("fc", net.name());
    assertEquals("net.hbp", net.source());
    assertEquals(1, net.line());
    assertEquals(List.of(3072), net.inputShape());
    assertEquals(15, net.body().size());
    int[] widths = {3072, 1024, 512, 256, 128, 64, 32, 16, 10};
    for (int i = 0; i < 8; i++) {
      NetworkSpec.Layer linear = (NetworkSpec.Layer) net.body().get(2 * i);
      assertEquals("linear", linear.module().name());
      assertEquals(Map.of("n", widths[i], "m", widths[i + 1]), linear.dims());
      assertEquals(List.of(widths[i]), linear.inputShape());
      assertEquals(List.of(widths[i + 1]), linear.outputShape());
      if (i < 7) {
        NetworkSpec.Layer sigmoid = (NetworkSpec.Layer) net.body().get(2 * i + 1);
        assertEquals("sigmoid", sigmoid.module().name());
        assertEquals(Map.of("n", widths[i + 1]), sigmoid.dims());
        assertEquals(List.of(widths[i + 1]), sigmoid.outputShape());
      }
    }
    NetworkSpec.Layer loss = net.loss();
    assertEquals("crossentropy", loss.module().name());
    assertTrue(loss.module().isLoss());
    assertEquals(Map.of("c", 10), loss.dims());
    assertEquals(List.of(10), loss.inputShape());
    assertEquals(List.of(1), loss.outputShape());
    assertEquals(11, loss.line());
    assertEquals(8, loss.column());
    // positions: the module name of each instance
    assertEquals(3, net.body().get(0).line());
    assertEquals(3, net.body().get(0).column());
    assertEquals(21, net.body().get(1).column());
    List<String> paths = NetworkResolver.layers(net).stream().map(NetworkResolver.LayerAt::path).toList();
    assertEquals(List.of("0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14"), paths);
  }

  /**
   * A CNN on tensor(3, 32, 32): conv2d's output is the matrix Z = matrix(cout, oh*ow); sigmoid acts
   * on it entrywise and keeps its shape; maxpool reads it as tensor(16, 32, 32) by conv2d's (oh, ow).
   */
  @Test
  void convolutional() {
    NetworkSpec net = resolve(lines(
        "network cnn {",
        "  input x: tensor(3, 32, 32);",
        "  conv2d(cout = 16, k = 3, s = 1, p = 1, d = 1);",
        "  sigmoid;",
        "  maxpool(k = 2);",
        "  zeropad(p = 1);",
        "  avgpool(k = 2);",
        "  flatten;",
        "  linear(m = 10);",
        "  loss crossentropy;",
        "}"));
    assertEquals(List.of(List.of(3, 32, 32), List.of(16, 1024), List.of(16, 1024), List.of(16, 16, 16), List.of(16, 18, 18),
        List.of(16, 81), List.of(1296), List.of(10)), shapes(net));
    List<NetworkSpec.Layer> l = net.body().stream().map(NetworkSpec.Layer.class::cast).toList();
    assertEquals(Map.of("cin", 3, "cout", 16, "h", 32, "w", 32, "k", 3, "s", 1, "p", 1, "d", 1), l.get(0).dims());
    assertEquals(Map.of("n", 16 * 1024), l.get(1).dims());
    assertEquals(List.of(16, 1024), l.get(1).inputShape());
    assertEquals(Map.of("c", 16, "h", 32, "w", 32, "k", 2), l.get(2).dims());
    assertEquals(List.of(16, 1024), l.get(2).inputShape());
    assertEquals(Map.of("c", 16, "h", 16, "w", 16, "p", 1), l.get(3).dims());
    assertEquals(Map.of("c", 16, "h", 18, "w", 18, "k", 2), l.get(4).dims());
    assertEquals(Map.of("c", 16, "h", 9, "w", 9), l.get(5).dims());
    assertEquals(Map.of("n", 1296, "m", 10), l.get(6).dims());
    assertEquals(Map.of("c", 10), net.loss().dims());
  }

  /** Residual blocks, nested: the body maps the shape to itself; index paths as nn.Sequential's. */
  @Test
  void residual() {
    NetworkSpec net = resolve(lines(
        "network res {",
        "  input x: vector(784);",
        "  linear(m = 256);",
        "  relu;",
        "  residual {",
        "    linear(m = 128);",
        "    relu;",
        "    linear(m = 256);",
        "    residual { tanh; }",
        "  }",
        "  skip(h = 32);",
        "  linear(m = 10);",
        "  loss squareloss;",
        "}"));
    assertEquals(5, net.body().size());
    NetworkSpec.Residual block = assertInstanceOf(NetworkSpec.Residual.class, net.body().get(2));
    assertEquals(List.of(256), block.inputShape());
    assertEquals(List.of(256), block.outputShape());
    assertEquals(5, block.line());
    assertEquals(3, block.column());
    assertEquals(4, block.body().size());
    NetworkSpec.Layer inner = (NetworkSpec.Layer) block.body().get(0);
    assertEquals(Map.of("n", 256, "m", 128), inner.dims());
    assertInstanceOf(NetworkSpec.Residual.class, block.body().get(3));
    assertEquals(Map.of("n", 256, "h", 32), ((NetworkSpec.Layer) net.body().get(3)).dims());
    assertEquals(Map.of("n", 10), net.loss().dims());

    List<NetworkResolver.LayerAt> layers = NetworkResolver.layers(net);
    assertEquals(List.of("0", "1", "2.0", "2.1", "2.2", "2.3.0", "3", "4"), layers.stream().map(NetworkResolver.LayerAt::path).toList());
    assertEquals(List.of("linear", "relu", "linear", "relu", "linear", "tanh", "skip", "linear"),
        layers.stream().map(a -> a.layer().module().name()).toList());
  }

  @Test
  void describe() {
    NetworkSpec net = resolve(lines(
        "network small {",
        "  input x: tensor(1, 8, 8);",
        "  conv2d(cout = 2, k = 3, s = 1, p = 0, d = 1);",
        "  relu;",
        "  flatten;",
        "  residual { linear(m = 72); }",
        "  loss crossentropy;",
        "}"));
    assertEquals(lines(
        "network small (net.hbp:1): input tensor(1, 8, 8); * = inferred from the incoming shape",
        "  0      conv2d        cin=1* cout=2 h=8* w=8* k=3 s=1 p=0 d=1  tensor(1, 8, 8) -> matrix(2, 36)",
        "  1      relu          n=72*                                    matrix(2, 36) -> matrix(2, 36)",
        "  2      flatten       c=2* h=6* w=6*                           matrix(2, 36) -> vector(72)",
        "  3      residual                                               vector(72) -> vector(72) (x + body(x))",
        "    3.0  linear        n=72* m=72                               vector(72) -> vector(72)",
        "  loss   crossentropy  c=72*                                    vector(72) -> scalar"), NetworkResolver.describe(net));
  }

  /** Keyword dims that the shape also determines must agree; a matrix meets a tensor input by given h and w. */
  @Test
  void givenDimsAndMatrixAsTensor() {
    NetworkSpec net = resolve(lines(
        "network a {",
        "  input x: matrix(4, 36);",
        "  maxpool(k = 2, h = 6, w = 6);",
        "  flatten(c = 4);",
        "  linear(n = 36, m = 3);",
        "  loss crossentropy(c = 3);",
        "}"));
    assertEquals(List.of(List.of(4, 36), List.of(4, 3, 3), List.of(36), List.of(3)), shapes(net));
  }

  /** Elementwise-like modules keep any shape, a tensor included; the network name can be chosen. */
  @Test
  void namedNetworkAndShapeKeepingModules() {
    Spec spec = Dsl.parse(lines(
        "network a { input x: vector(3); loss squareloss; }",
        "network b {",
        "  input x: tensor(2, 3, 4);",
        "  tanh; dropout; bias; elu; swish;",
        "  residual { softplus; }",
        "  flatten;",
        "  loss squareloss;",
        "}"), "net.hbp");
    assertEquals(List.of("a", "b"), spec.networks().stream().map(ParsedNetwork::name).toList());
    NetworkSpec b = NetworkResolver.resolve(spec, "b", BUILT_IN);
    assertEquals(List.of(List.of(2, 3, 4), List.of(2, 3, 4), List.of(2, 3, 4), List.of(2, 3, 4), List.of(2, 3, 4), List.of(2, 3, 4),
        List.of(2, 3, 4), List.of(24)), shapes(b));
    assertEquals(Map.of("n", 24), ((NetworkSpec.Layer) b.body().get(0)).dims());
    NetworkSpec a = NetworkResolver.resolve(spec, "a", BUILT_IN);
    assertTrue(a.body().isEmpty());
    assertEquals(Map.of("n", 3), a.loss().dims());
    assertEquals(2, spec.network("b").orElseThrow().line());

    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> NetworkResolver.resolve(spec, null, BUILT_IN));
    assertEquals("net.hbp declares 2 networks (a, b); name one (--network NAME)", e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> NetworkResolver.resolve(spec, "c", BUILT_IN));
    assertEquals("no network named 'c' in net.hbp (networks: a, b)", e.getMessage());
    Spec none = Dsl.parse("module m { dims n; input x: vector(n); output z = x; }", "m.hbp");
    e = assertThrows(IllegalArgumentException.class, () -> NetworkResolver.resolve(none, null, BUILT_IN));
    assertEquals("m.hbp declares no network", e.getMessage());
  }

  /** The file's own modules shadow the library's; later library entries shadow earlier ones. */
  @Test
  void shadowing() {
    NetworkSpec net = resolve(lines(
        "module sigmoid {",
        "  dims n;",
        "  input x: vector(n);",
        "  param W: matrix(n, n);",
        "  output z = sigmoid(W*x);",
        "}",
        "network a { input x: vector(5); sigmoid; loss squareloss; }"));
    ModuleSpec m = ((NetworkSpec.Layer) net.body().get(0)).module();
    assertEquals("net.hbp", m.source());
    assertEquals(1, m.withRole(Expr.Role.PARAM).size());

    ModuleSpec mine = Dsl.parse("module relu { dims n; input x: vector(n); data a: vector(n); output z = a .* x; }", "mine.hbp").modules().get(0);
    List<ModuleSpec> lib = new ArrayList<>(BUILT_IN);
    lib.add(mine);
    NetworkSpec withMine = NetworkResolver.resolve(Dsl.parse("network a { input x: vector(5); relu; loss squareloss; }", "net.hbp"), null, lib);
    assertEquals("mine.hbp", ((NetworkSpec.Layer) withMine.body().get(0)).module().source());
  }

  @Test
  void load(@TempDir Path dir) throws IOException {
    Path specs = Files.createDirectory(dir.resolve("specs"));
    Files.writeString(specs.resolve("double.hbp"), "module double { dims n; input x: vector(n); output z = 2*x; }\n");
    Path file = dir.resolve("net.hbp");
    Files.writeString(file, lines("network n {", "  input x: vector(4);", "  double;", "  linear(m = 2);", "  loss crossentropy;", "}"));
    NetworkSpec net = NetworkResolver.load(file, null, List.of(Path.of("modules-spec"), specs));
    assertEquals(file.toString(), net.source());
    assertEquals(List.of("double", "linear"), NetworkResolver.layers(net).stream().map(a -> a.layer().module().name()).toList());
    assertEquals(List.of(2), net.body().get(1).outputShape());

    // errors keep the file's name and position
    DslException d = assertThrows(DslException.class, () -> NetworkResolver.load(file, null, List.of(Path.of("modules-spec"))));
    // the modules by Levenshtein distance to 'double', ties alphabetical (4 divide; 5 conv2d dropout elu gelu relu; 6 bias flatten ...)
    assertEquals(file + ":3:3: no module named 'double' (modules, closest first: divide, conv2d, dropout, elu, gelu, relu, bias, flatten, gated, "
        + "linear, ... (54 in all); a module of your own comes in with --specs DIR)", d.getMessage());

    Path missing = dir.resolve("nope.hbp");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> NetworkResolver.load(missing, null, List.of(specs)));
    assertEquals("network file not found: " + missing, e.getMessage());
    Path noFolder = dir.resolve("no-specs");
    e = assertThrows(IllegalArgumentException.class, () -> NetworkResolver.load(file, null, List.of(noFolder)));
    assertEquals("spec folder not found: " + noFolder, e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> NetworkResolver.load(dir, null, List.of(specs)));
    assertEquals("not a file: " + dir, e.getMessage());
  }

  /** What Dsl.parse keeps of a network before resolution: names, keyword dims, blocks and positions. */
  @Test
  void parsedDeclaration() {
    Spec spec = Dsl.parse(lines(
        "// a comment",
        "network fc {",
        "  input img: tensor(1, 28, 28);",
        "  conv2d(cout = 4, k = 5);",
        "  residual { relu; }",
        "  loss crossentropy(c = 10);",
        "}"), "net.hbp");
    ParsedNetwork d = spec.networks().get(0);
    assertEquals("fc", d.name());
    assertEquals(2, d.line());
    assertEquals(9, d.column());
    assertEquals(new ParsedNetwork.Input("img", List.of(1, 28, 28), 3, 3), d.input());
    assertEquals(new ParsedNetwork.Instance("conv2d",
        List.of(new ParsedNetwork.Arg("cout", 4, 4, 10), new ParsedNetwork.Arg("k", 5, 4, 20)), 4, 3), d.body().get(0));
    assertEquals(new ParsedNetwork.Residual(List.of(new ParsedNetwork.Instance("relu", List.of(), 5, 14)), 5, 3), d.body().get(1));
    assertEquals(new ParsedNetwork.Instance("crossentropy", List.of(new ParsedNetwork.Arg("c", 10, 6, 21)), 6, 8), d.loss());
    assertTrue(spec.modules().isEmpty());
  }

  // ---------------- errors ----------------

  /** A network {@code net} with input x of the given type, the given items from line 3, and a loss crossentropy. */
  private static String net(String input, String... items) {
    StringBuilder s = new StringBuilder("network net {\n  input x: " + input + ";\n");
    for (String item : items) s.append("  ").append(item).append('\n');
    return s.append("  loss crossentropy;\n}\n").toString();
  }

  /** Two files of one --specs folder declaring the same module: refused, naming both, never one silently taken. */
  @Test
  void twoFilesOfOneSpecFolderDeclaringOneNameAreRefused(@TempDir Path dir) throws IOException {
    Path specs = Files.createDirectory(dir.resolve("dup"));
    Files.writeString(specs.resolve("a.hbp"), "module dupm { dims n; input x: vector(n); output z = 2*x; }\n");
    Files.writeString(specs.resolve("b.hbp"), "\nmodule dupm { dims n; input x: vector(n); output z = 3*x; }\n");
    Path file = dir.resolve("net.hbp");
    Files.writeString(file, lines("network nd {", "  input x: vector(3);", "  dupm;", "  loss squareloss;", "}"));
    UserError e = assertThrows(UserError.class, () -> NetworkResolver.load(file, null, List.of(Path.of("modules-spec"), specs)));
    assertEquals(specs.resolve("b.hbp") + ":2:1: module 'dupm' is also declared in " + specs.resolve("a.hbp") + ":1:1, a file of the same spec folder "
        + specs + "; which one is meant is ambiguous: rename one of them or move it to a folder of its own", e.getMessage());
    // a user folder may still shadow a built-in module of the same name (a later folder shadows an earlier one)
    Path own = Files.createDirectory(dir.resolve("own"));
    Files.writeString(own.resolve("relu.hbp"), "module relu { dims n; input x: vector(n); output z = 2*x; }\n");
    assertEquals(own.resolve("relu.hbp").toString(), NetworkResolver.library(List.of(Path.of("modules-spec"), own)).stream()
        .filter(m -> m.name().equals("relu")).reduce((a, b) -> b).orElseThrow().source());
  }

  private static final String CONV = "conv2d(cout = 16, k = 3, s = 1, p = 1, d = 1);";

  static Stream<Arguments> errors() {
    return Stream.of(
        // ---- lookup ----
        row(net("vector(784)", "lineer(m = 10);"),
            "net.hbp:3:3: no module named 'lineer' (modules, closest first: linear, bilinear, bias, conv2d, divide, elu, flatten, gated, gelu, "
                + "relu, ... (54 in all); a module of your own comes in with --specs DIR)"),
        row(net("vector(10)", "crossentropy;"),
            "net.hbp:3:3: 'crossentropy' is a loss; use it as 'loss crossentropy;'"),
        row(lines("network net {", "  input x: vector(10);", "  loss linear;", "}"),
            "net.hbp:3:8: 'linear' is a module, not a loss (losses: bce, crossentropy, huber, mse, squareloss)"),
        row(lines("network net {", "  input x: vector(10);", "  loss crossentrpy;", "}"),
            "net.hbp:3:8: no loss named 'crossentrpy' (losses, closest first: crossentropy, huber, mse, bce, squareloss; a loss of your own comes in with --specs DIR)"),
        row(lines("module two { dims n; input x: vector(n); input y: vector(n); output z = x + y; }", "network net {",
            "  input x: vector(10);", "  two;", "  loss squareloss;", "}"),
            "net.hbp:4:3: two: a layer of a sequential network needs exactly one input, but two has 2 (x, y); apply it to 2 values in a "
                + "graph network: NAME = two(VALUE, VALUE);"),
        // ---- keyword dims ----
        row(net("tensor(3, 32, 32)", "conv2d(q = 3, cout = 16, k = 3, s = 1, p = 1, d = 1);"),
            "net.hbp:3:10: conv2d: 'q' is not a dim of conv2d (its dims: cin, cout, h, w, k, s, p, d)"),
        row(net("tensor(3, 32, 32)", "conv2d(cout = 16, k = 3, s = 1, p = 1, d = 1, oh = 32);"),
            "net.hbp:3:49: conv2d: 'oh' is a derived dim of conv2d (oh = (d + h + 2*p - d*k - 1)/s + 1), computed from the others; "
                + "it cannot be given"),
        row(net("vector(784)", "linear(m = 10, n = 100);"),
            "net.hbp:3:18: linear: n = 100 is given but the incoming shape vector(784) gives n = 784"),
        row(net("tensor(3, 32, 32)", "conv2d(cin = 1, cout = 16, k = 3, s = 1, p = 1, d = 1);"),
            "net.hbp:3:10: conv2d: cin = 1 is given but the incoming shape tensor(3, 32, 32) gives cin = 3"),
        row(lines("network net {", "  input x: vector(10);", "  linear(m = 10);", "  loss crossentropy(c = 5);", "}"),
            "net.hbp:4:21: crossentropy: c = 5 is given but the incoming shape vector(10) gives c = 10"),
        row(net("tensor(3, 32, 32)", CONV, "maxpool(k = 2, h = 30);"),
            "net.hbp:4:18: maxpool: h = 30 is given but the incoming shape matrix(16, 1024) (read as tensor(16, 32, 32)) gives h = 32"),
        row(net("vector(10)", "linear(m = 2, m = 3);"),
            "net.hbp:3:17: linear: 'm' is given twice"),
        row(net("vector(10)", "linear(m = 2.5);"),
            "net.hbp:3:14: a dimension must be a whole number, but found 2.5"),
        // ---- unbound dims ----
        row(net("tensor(3, 32, 32)", "conv2d(cout = 16, k = 3, p = 1, d = 1);"),
            "net.hbp:3:3: dim 's' of conv2d is neither given nor determined by the incoming shape tensor(3, 32, 32); give it, e.g. conv2d(s = ...)"),
        row(net("vector(784)", "linear;"),
            "net.hbp:3:3: dim 'm' of linear is neither given nor determined by the incoming shape vector(784); give it, e.g. linear(m = ...)"),
        row(net("matrix(16, 1024)", "maxpool(k = 2);"),
            "net.hbp:3:3: dim 'h' of maxpool is neither given nor determined by the incoming shape matrix(16, 1024); give it, e.g. maxpool(h = ...)"),
        // ---- shapes ----
        row(net("tensor(1, 28, 28)", "linear(n = 784, m = 10);"),
            "net.hbp:3:3: linear: the input is vector(784) but the incoming shape is tensor(1, 28, 28)"),
        row(net("tensor(16, 32, 32)", "matmul(m = 3);"),
            "net.hbp:3:3: matmul: the input is matrix(n, p) but the incoming shape is tensor(16, 32, 32)"),
        row(net("matrix(16, 1024)", "maxpool(k = 2, h = 30, w = 30);"),
            "net.hbp:3:3: maxpool: the input is tensor(16, 30, 30) but the incoming shape is matrix(16, 1024); a matrix(c, h*w) is read as tensor(c, h, w)"),
        row(net("matrix(3, 4)"),
            "net.hbp:3:8: crossentropy: the input is vector(c) but the incoming shape is matrix(3, 4)"),
        row(lines("module sq { dims n; input x: matrix(n, n); output z = x*x; }", "network net {", "  input x: matrix(3, 4);", "  sq;",
            "  loss squareloss;", "}"),
            "net.hbp:4:3: sq: the input is matrix(3, 3) but the incoming shape is matrix(3, 4)"),
        row(lines("module dbl { dims n; input x: vector(2*n); output z = x; }", "network net {", "  input x: vector(7);", "  dbl(n = 3);",
            "  loss squareloss;", "}"),
            "net.hbp:4:3: dbl: the input is vector(6) but the incoming shape is vector(7)"),
        // ---- non-positive results ----
        row(net("vector(784)", "linear(m = 0);"),
            "net.hbp:3:3: linear: the output would be vector(0); every extent must be positive (n = 784, m = 0)"),
        row(net("tensor(3, 4, 4)", "conv2d(cout = 16, k = 7, s = 1, p = 0, d = 1);"),
            "net.hbp:3:3: conv2d: oh = (d + h + 2*p - d*k - 1)/s + 1 would be -2; it must be positive "
                + "(cin = 3, cout = 16, h = 4, w = 4, k = 7, s = 1, p = 0, d = 1)"),
        row(net("tensor(3, 4, 4)", "conv2d(cout = 16, k = 3, s = 0, p = 0, d = 1);"),
            "net.hbp:3:3: conv2d: division by zero in oh = (d + h + 2*p - d*k - 1)/s + 1 "
                + "(cin = 3, cout = 16, h = 4, w = 4, k = 3, s = 0, p = 0, d = 1)"),
        row(net("tensor(3, 4, 4)", "conv2d(cout = 16, k = 0, s = 1, p = 1, d = 1);"),
            "net.hbp:3:3: conv2d: param W would be matrix(16, 0); every extent must be positive "
                + "(cin = 3, cout = 16, h = 4, w = 4, k = 0, s = 1, p = 1, d = 1)"),
        row(net("tensor(3, 4, 4)", "maxpool(k = 8);"),
            "net.hbp:3:3: maxpool: the output would be tensor(3, 0, 0); every extent must be positive (c = 3, h = 4, w = 4, k = 8)"),
        // ---- residual blocks ----
        row(net("vector(784)", "linear(m = 256);", "residual {", "  linear(m = 128);", "}"),
            "net.hbp:4:3: a residual block must map vector(256) to itself but its body gives vector(128)"),
        row(net("tensor(3, 8, 8)", "residual { " + CONV + " }"),
            "net.hbp:3:3: a residual block must map tensor(3, 8, 8) to itself but its body gives matrix(16, 64)"),
        row(net("vector(10)", "residual { }"),
            "net.hbp:3:3: a residual block needs at least one layer"),
        row(net("vector(10)", "block { relu; }"),
            "net.hbp:3:3: unknown block 'block'; the only block is 'residual { ... }'"),
        row(net("vector(10)", "residual { input y: vector(3); }"),
            "net.hbp:3:14: 'input' is not allowed inside a residual block"),
        row(net("vector(10)", "residual { relu; loss squareloss; }"),
            "net.hbp:3:20: 'loss' is not allowed inside a residual block"),
        // ---- structure: input and loss ----
        row(lines("network net {", "  input x: vector(10);", "  linear(m = 10);", "}"),
            "net.hbp:4:1: network 'net' has no loss; expected 'loss NAME;' as its last item"),
        row(lines("network net {", "  linear(m = 10);", "  loss crossentropy;", "}"),
            "net.hbp:2:3: network 'net' has no input before its first layer; expected 'input NAME: TYPE;' first"),
        row("network net { }",
            "net.hbp:1:9: network 'net' has no input; expected 'input NAME: TYPE;'"),
        row(lines("network net {", "  input x: vector(784);", "  input y: vector(784);", "  loss crossentropy;", "}"),
            "net.hbp:3:3: network 'net' already has input 'x'; only one input is allowed"),
        row(lines("network net {", "  input x: vector(10);", "  loss crossentropy;", "  sigmoid;", "}"),
            "net.hbp:4:3: network 'net': the loss must be the last item, but 'sigmoid' follows it"),
        row(lines("network net {", "  input x: vector(10);", "  loss crossentropy;", "  loss squareloss;", "}"),
            "net.hbp:4:3: network 'net': the loss must be the last item, but loss 'squareloss' follows it"),
        row(net("vector(n)"),
            "net.hbp:2:19: the input of network 'net' needs whole numbers as dims, but found 'n'"),
        row(net("vector(0)"),
            "net.hbp:2:19: a dimension of a network's input must be positive, but found 0"),
        row(net("scalar"),
            "net.hbp:2:12: the input of network 'net' must be a vector, matrix or tensor, but found scalar"),
        row(net("vector(10)") + net("vector(10)"),
            "net.hbp:5:9: network 'net' is declared twice"),
        // ---- syntax ----
        row(lines("network net {", "  input x: vector(10);", "  relu", "  loss crossentropy;", "}"),
            "net.hbp:4:3: expected '(', ';' or '{' but found keyword 'loss'"),
        row(net("vector(10)", "relu(n);"),
            "net.hbp:3:9: expected '=' but found ')'"),
        row(net("vector(10)", "relu(n = -1);"),
            "net.hbp:3:12: expected a number but found '-'"),
        row(net("vector(10)", "42;"),
            "net.hbp:3:3: expected a network item (input, a module, residual { ... } or loss) or '}' but found number 42"),
        row(lines("network net {", "  input x: vector(10);", "  residual { relu;"),
            "net.hbp:4:1: expected '}' to close residual block (opened at 3:12) but found end of input"),
        row(lines("network net {", "  input x: vector(10);", "  loss crossentropy;", "module m { }"),
            "net.hbp:4:1: expected '}' to close network 'net' (opened at 1:13) but found keyword 'module'"),
        row("network { }",
            "net.hbp:1:9: expected a name but found '{'"));
  }

  @ParameterizedTest(name = "[{index}] {1}")
  @MethodSource("errors")
  void errorMessages(String input, String message) {
    assertDslError(() -> resolve(input), message);
  }

  @Test
  void theErrorTableIsLargeEnough() {
    assertTrue(errors().count() >= 15);
  }
}
