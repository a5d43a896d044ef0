package org.hbp.network;

import static org.hbp.dsl.DslErrors.assertDslError;
import static org.hbp.dsl.DslErrors.row;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.hbp.dsl.Dsl;
import org.hbp.dsl.ModuleSpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Graph network declarations: what they resolve to, and their errors at file:line:col (messages written by hand). */
class GraphNetworkSpecTest {

  /** The built-in modules and cross_attention, a spec of the tests. */
  private static final List<ModuleSpec> LIBRARY =
      NetworkResolver.library(List.of(Path.of("modules-spec"), Path.of("src/test/resources/specs/cross_attention.hbp")));

  private static NetworkSpec resolve(String text) {
    return NetworkResolver.resolve(Dsl.parse(text, "net.hbp"), null, LIBRARY);
  }

  /** A graph network with the given statements after {@code input x: vector(4);}, one per line from line 3. */
  private static String graph(String... statements) {
    return "network g {\n  input x: vector(4);\n" + String.join("\n", statements.length == 0 ? new String[0] : statements) + "\n}\n";
  }

  @Test
  void theBriefsExampleResolves() {
    NetworkSpec net = resolve(graph(
        "  h = linear(m = 32)(x);",
        "  a = tanh(h);  b = sigmoid(h);",
        "  z = a + b;",
        "  c = concat(a, b);",
        "  fc = linear(m = 32);",
        "  u = fc(z); v = fc(u);",
        "  w = v .* z;",
        "  k = concat(w, c);",
        "  y = linear(m = 4)(k);",
        "  loss crossentropy(y);"));
    assertTrue(net.isGraph());
    NetworkSpec.Graph g = net.graph();
    assertEquals("x", g.input());
    assertEquals("y", g.output());
    assertEquals(List.of("h", "a", "b", "z", "c", "u", "v", "w", "k", "y"), g.steps().stream().map(NetworkSpec.Step::value).toList());
    NetworkSpec.Merge c = (NetworkSpec.Merge) g.steps().get(4);
    assertEquals(NetworkSpec.MergeOp.CONCAT, c.op());
    assertEquals(List.of(64), c.outputShape());
    NetworkSpec.Apply u = (NetworkSpec.Apply) g.steps().get(5), v = (NetworkSpec.Apply) g.steps().get(6);
    assertEquals("fc", u.instance());
    assertEquals("fc", v.instance());
    assertEquals(List.of(32), v.outputShape());
  }

  /** A module of two inputs of one dim, declared in the file (the library has none of that form). */
  private static final String TWO = "module two { dims n; input x: vector(n); input y: vector(n); output z = x .* y; }\n";

  @Test
  void aModuleOfSeveralInputsBindsThemInDeclarationOrder() {
    NetworkSpec net = resolve(graph(
        "  h = linear(m = 3)(x);",
        "  z = bilinear(m = 2)(x, h);",
        "  loss crossentropy(z);"));
    NetworkSpec.Apply z = (NetworkSpec.Apply) net.graph().steps().get(1);
    assertEquals(List.of("x", "h"), z.inputs());
    assertEquals(List.of(List.of(4), List.of(3)), z.inputShapes());
    assertEquals(java.util.Map.of("n", 4, "p", 3, "m", 2), z.layer().dims());
    assertEquals(List.of(2), z.outputShape());
    assertEquals(List.of(4), z.layer().inputShape());
  }

  @Test
  void crossAttentionTakesQueriesAndKeysOfDifferentSequences() {
    NetworkSpec net = resolve("module mix { dims d, T, S; input X: matrix(d, T); param A: matrix(T, S); output Z = X*A; }\n"
        + "network g {\n  input x: matrix(4, 5);\n  m = mix(S = 3)(x);\n  kv = linear_tokens(m = 6)(m);\n"
        + "  o = cross_attention(k = 2)(x, kv);\n  p = meanpool(o);\n  loss crossentropy(p);\n}\n");
    NetworkSpec.Apply o = (NetworkSpec.Apply) net.graph().steps().get(2);
    assertEquals(List.of("x", "kv"), o.inputs());
    assertEquals(java.util.Map.of("d", 4, "e", 6, "k", 2, "T", 5, "S", 3), o.layer().dims());
    assertEquals(List.of(4, 5), o.outputShape());
    assertTrue(NetworkResolver.describe(net).contains("o     cross_attention  d=4* e=6* k=2 T=5* S=3*  x, kv -> matrix(4, 5)"), NetworkResolver.describe(net));
  }

  static Stream<Arguments> errors() {
    return Stream.of(
        row(graph("  h = tanh(q);", "  loss crossentropy(h);"),
            "net.hbp:3:12: unknown value 'q' (values so far: x)"),
        row(graph("  h = tanh(a);", "  a = tanh(x);", "  loss crossentropy(h);"),
            "net.hbp:3:12: value 'a' is used before its definition at 4:3; a graph network defines each value before it is used (it has no cycles)"),
        row(graph("  h = tanh(h);", "  loss crossentropy(h);"),
            "net.hbp:3:12: value 'h' is used before its definition at 3:3; a graph network defines each value before it is used (it has no cycles)"),
        row(graph("  h = tanh(x);", "  b = sigmoid(x);", "  loss crossentropy(h);"),
            "net.hbp:4:3: value 'b' is never used; every value of a graph network must reach the loss"),
        row(graph("  fc = linear(m = 3);", "  h = tanh(x);", "  loss crossentropy(h);"),
            "net.hbp:3:3: instance 'fc' is never applied; every value of a graph network must reach the loss"),
        row(graph("  h = linear(m = 3)(x);", "  z = h + x;", "  loss crossentropy(z);"),
            "net.hbp:4:11: shape mismatch at 'z': h is vector(3) but x is vector(4); + needs equal shapes"),
        row(graph("  h = linear(m = 3)(x);", "  z = h .* x;", "  loss crossentropy(z);"),
            "net.hbp:4:12: shape mismatch at 'z': h is vector(3) but x is vector(4); .* needs equal shapes"),
        row("network g {\n  input x: tensor(2, 4, 4);\n  a = conv2d(cout = 3, k = 3, s = 1, p = 0, d = 1)(x);\n  c = concat(x, a);\n  loss mse(c);\n}\n",
            "net.hbp:4:17: shape mismatch at 'c': x is tensor(2, 4, 4) but a is matrix(3, 4); concat joins along the first dim and needs the other dims equal"),
        row(graph("  fc = linear(m = 4);", "  u = fc(x);", "  h = linear(m = 3)(u);", "  v = fc(h);", "  loss crossentropy(v);"),
            "net.hbp:6:10: instance 'fc' is applied to vector(3) here but to vector(4) at 4:3; a shared instance (one set of parameters) takes one input shape"),
        row(graph("  h = tanh(x);", "  h = sigmoid(h);", "  loss crossentropy(h);"),
            "net.hbp:4:3: 'h' is already defined at 3:3; each name is defined once"),
        row(graph("  h = crossentropy(x);", "  loss crossentropy(h);"),
            "net.hbp:3:7: 'crossentropy' is a loss; use it as 'loss crossentropy;'"),
        row(graph("  fc = linear(m = 4);", "  h = tanh(fc);", "  loss crossentropy(h);"),
            "net.hbp:4:12: 'fc' is a module instance, not a value; apply it to a value: fc(VALUE)"),
        row(graph("  fc = linear(m = 4);", "  h = fc(m = 4)(x);", "  loss crossentropy(h);"),
            "net.hbp:4:10: instance 'fc' has its dims from its definition at 3:3; apply it without them: fc(VALUE)"),
        row(graph("  h = tanh(x, x);", "  loss crossentropy(h);"),
            "net.hbp:3:7: tanh is applied to 2 values but takes 1 (its input x)"),
        row(graph("  z = bilinear(m = 2)(x);", "  loss crossentropy(z);"),
            "net.hbp:3:7: bilinear is applied to 1 value but takes 2 (its inputs x, y, bound in this order)"),
        row(graph("  bl = bilinear(m = 2);", "  z = bl(x, x, x);", "  loss crossentropy(z);"),
            "net.hbp:4:7: bl is applied to 3 values but its module bilinear takes 2 (its inputs x, y, bound in this order)"),
        row(graph("  o = cross_attention(k = 2)(x, x);", "  loss crossentropy(o);"),
            "net.hbp:3:30: cross_attention: input X (argument 1) is matrix(d, T) but the incoming shape is vector(4)"),
        row(TWO + graph("  h = linear(m = 3)(x);", "  z = two(x, h);", "  loss crossentropy(z);"),
            "net.hbp:5:14: two: input y (argument 2) is vector(4) but the incoming shape is vector(3)"),
        row(TWO + graph("  h = linear(m = 3)(x);", "  z = two(n = 3)(x, h);", "  loss crossentropy(z);"),
            "net.hbp:5:11: two: n = 3 is given but the incoming shape vector(4) of input x (argument 1) gives n = 4"),
        row(graph("  bl = bilinear(m = 2);", "  u = bl(x, x);", "  h = linear(m = 3)(x);", "  v = bl(x, h);", "  w = u + v;", "  loss crossentropy(w);"),
            "net.hbp:6:13: instance 'bl' is applied to vector(3) (argument 2) here but to vector(4) at 4:3; a shared instance (one set of "
                + "parameters) takes one input shape"),
        row("network s {\n  input x: vector(4);\n  bilinear(m = 2);\n  loss crossentropy;\n}\n",
            "net.hbp:3:3: bilinear: a layer of a sequential network needs exactly one input, but bilinear has 2 (x, y); apply it to 2 values "
                + "in a graph network: NAME = bilinear(VALUE, VALUE);"),
        row(graph("  c = concat(x);", "  loss crossentropy(c);"),
            "net.hbp:3:7: concat needs at least two values: 'NAME = concat(a, b);'"),
        row(graph("  h = tanh(x);", "  loss crossentropy;"),
            "net.hbp:4:8: the loss of graph network 'g' needs the value it is applied to: 'loss crossentropy(VALUE);'"),
        row(graph("  h = tanh(x);", "  relu;", "  loss crossentropy(h);"),
            "net.hbp:4:3: 'relu' is a sequential layer in graph network 'g', whose items name their values; write 'NAME = relu(VALUE);'"),
        row(graph("  h = tanh(x);", "  loss crossentropy(h);", "  b = tanh(h);"),
            "net.hbp:5:3: network 'g': the loss must be the last item, but 'b = ...' follows it"),
        row(graph("  h = tanh(x)", "  loss crossentropy(h);"),
            "net.hbp:4:3: expected ';' but found keyword 'loss'"));
  }

  @ParameterizedTest(name = "[{index}] {1}")
  @MethodSource("errors")
  void errorMessages(String input, String message) {
    assertDslError(() -> resolve(input), message);
  }
}
