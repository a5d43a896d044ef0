package org.hbp.network;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.ejml.data.DMatrixRMaj;
import org.hbp.dsl.DslException;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Index maps computed as the spec declares them, whatever the module and its dims are called: a
 * user's stride-2 max-pooling {@code pool2} (dims ch, hh, ww, s) and zero-padding {@code border}
 * (dims c1, h1, w1, q) in a CNN, with curvature against the dense references of
 * {@link DenseReference}, which compute their index maps by hand from the module names and dims;
 * and the errors of a network whose index map is not declared or does not fit.
 */
class IndexDeclNetworkTest {
  private static final String MODULES = String.join("\n",
      "module pool2 {",
      "  dims ch, hh, ww, s;",
      "  input img: tensor(ch, hh, ww);",
      "  index best: tensor(ch, hh/s, ww/s) = window_argmax(img, s);",
      "  output out = gather(img, best);",
      "}",
      "module border {",
      "  dims c1, h1, w1, q;",
      "  input t: tensor(c1, h1, w1);",
      "  index src: tensor(c1, h1 + 2*q, w1 + 2*q) = pad_source(t, q);",
      "  output u = gather(t, src);",
      "}",
      "module gpool {",
      "  dims ch, hh, ww, s;",
      "  input img: tensor(ch, hh, ww);",
      "  index best: tensor(ch, hh/s, ww/s);",
      "  output out = gather(img, best);",
      "}",
      "");

  @TempDir
  static Path dir;
  private static Network.OperatorFactory operators;

  @BeforeAll
  static void operators() {
    operators = ModuleLibrary.forSpecs(); // compiles each user spec file once
  }

  /** A file with the modules above and one network on input tensor(1, 4, 4) with the given layers between conv and flatten. */
  private static Path network(String name, String... layers) throws IOException {
    StringBuilder s = new StringBuilder(MODULES).append("network n {\n  input x: tensor(1, 4, 4);\n")
        .append("  conv2d(cout = 2, k = 3, s = 1, p = 1, d = 1);\n  sigmoid;\n");
    for (String l : layers) s.append("  ").append(l).append('\n');
    s.append("  flatten;\n  linear(m = 3);\n  loss crossentropy;\n}\n");
    Path f = dir.resolve(name);
    Files.writeString(f, s.toString());
    return f;
  }

  private static NetworkSpec load(Path f) {
    return NetworkResolver.load(f, null, List.of(Path.of("modules-spec")));
  }

  @Test
  void userPoolingAndPaddingAgreeWithTheDenseReferenceForEveryKindAndStrategy() throws IOException {
    NetworkSpec spec = load(network("cnn.hbp", "pool2(s = 2);", "border(q = 1);"));
    assertEquals(Map.of("ch", 2, "hh", 4, "ww", 4, "s", 2), ((NetworkSpec.Layer) spec.body().get(2)).dims());
    NetworkCurvatureTest.Setup s = new NetworkCurvatureTest.Setup(spec, operators, 3, 11, 1);
    Pass pass = s.pass();
    DenseReference ref = s.reference();
    assertEquals(ref.loss(), pass.loss(), 1e-12);
    for (CurvatureKind kind : CurvatureKind.values())
      for (Strategy strategy : NetworkCurvatureTest.paperStrategies()) {
        Curvature c = pass.curvature(kind, strategy);
        Map<String, DMatrixRMaj> blocks = ref.blocks(kind, strategy);
        for (String p : s.net.parameterNames()) {
          double e = NetworkCurvatureTest.relError(NetworkCurvatureTest.dense(c, p, 1), blocks.get(p));
          assertTrue(e < NetworkCurvatureTest.TOL, kind + " " + strategy + " block " + p + ": relative error " + e);
        }
      }
  }

  /**
   * The same network with the built-in maxpool and zeropad gives the same loss, gradient and
   * curvature: the user's declarations compute the same index maps.
   */
  @Test
  void userModulesMatchTheBuiltInOnes() throws IOException {
    NetworkCurvatureTest.Setup user = new NetworkCurvatureTest.Setup(load(network("user.hbp", "pool2(s = 2);", "border(q = 1);")),
        operators, 2, 5, 1);
    NetworkCurvatureTest.Setup builtIn = new NetworkCurvatureTest.Setup(load(network("builtin.hbp", "maxpool(k = 2);", "zeropad(p = 1);")),
        operators, 2, 5, 1);
    Pass a = user.pass(), b = builtIn.pass();
    assertEquals(b.loss(), a.loss(), 0);
    for (String p : user.net.parameterNames()) {
      DMatrixRMaj ca = NetworkCurvatureTest.dense(a.curvature(CurvatureKind.HESSIAN, Strategy.EXACT), p, 1);
      DMatrixRMaj cb = NetworkCurvatureTest.dense(b.curvature(CurvatureKind.HESSIAN, Strategy.EXACT), p, 1);
      assertEquals(0, NetworkCurvatureTest.relError(ca, cb), p);
    }
  }

  @Test
  void anUndeclaredIndexMapIsRefusedAtItsDeclaration() throws IOException {
    Path f = network("undeclared.hbp", "gpool(s = 2);");
    NetworkSpec spec = load(f);
    DslException e = assertThrows(DslException.class, () -> new Network(spec, operators, NetworkCurvatureTest.BE));
    assertEquals(f + ":16:9: layer 2: module 'gpool' does not say how a network computes its index map 'best'; declare it as "
        + "'index best: TYPE = PRIMITIVE;' with PRIMITIVE window_argmax(INPUT, K) (the position of the maximum of each K x K window of "
        + "INPUT, stride K) or window_argmax_strided(INPUT, K, S, P) (the position of the maximum of each K x K window of INPUT at stride S, "
        + "INPUT padded by P on each side with -inf, floor mode) or pad_source(INPUT, P) (the source position in INPUT of each position of INPUT padded by P on each side, "
        + "-1 in the padding)", e.getMessage());
  }

  @Test
  void aWindowThatDoesNotDivideTheInputIsRefused() throws IOException {
    Path f = network("odd.hbp", "pool2(s = 3);");
    NetworkSpec spec = load(f);
    DslException e = assertThrows(DslException.class, () -> new Network(spec, operators, NetworkCurvatureTest.BE));
    assertEquals(f + ":4:40: layer 2: window_argmax(img, s) needs the height 4 and the width 4 of img divisible by the window 3",
        e.getMessage());
  }
}
