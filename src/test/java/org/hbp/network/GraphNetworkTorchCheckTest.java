package org.hbp.network;

import static org.hbp.network.TorchReference.assertBlockEquals;
import static org.hbp.network.TorchReference.assertStepIsMinusGradient;
import static org.hbp.network.TorchReference.assertStepSolvesTheBlocks;
import static org.hbp.network.TorchReference.concat;
import static org.hbp.network.TorchReference.hbp;
import static org.hbp.network.TorchReference.loss;
import static org.hbp.network.TorchReference.runScript;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.hbp.io.NdArray;
import org.hbp.io.Npz;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Graph networks against PyTorch autograd in float64 (src/test/resources/torch/graph_networks.py,
 * the same nets written as nn.Modules): {@code hbp curvature --net} on the graph declaration gives
 * autograd's mean loss, gradients (the Newton step with alpha = 1 is minus the gradient), exact
 * Hessian and GGN blocks of every parameter to 1e-10, and the CG solve with alpha = 1/2 in every
 * GGN block against a dense solve with autograd's block: a branch with add and subtract merges, a
 * concat, entrywise products (one of a value with itself), a tied layer used twice (its blocks sum
 * both uses and the cross terms), convolutions concatenated along channels, and convolutions through
 * activations and max-pools (one activation read by its pool alone).
 */
class GraphNetworkTorchCheckTest {
  @TempDir Path dir;

  static final String ADD = String.join("\n",
      "network add {",
      "  input x: vector(5);",
      "  h = linear(m = 4)(x);",
      "  a = tanh(h);",
      "  b = sigmoid(h);",
      "  z = a + b;",
      "  d = z - h;",
      "  y = linear(m = 3)(d);",
      "  loss crossentropy(y);",
      "}");

  static final String CONCAT = String.join("\n",
      "network cat {",
      "  input x: vector(5);",
      "  h = linear(m = 4)(x);",
      "  a = tanh(h);",
      "  g = linear(m = 3)(x);",
      "  b = sigmoid(g);",
      "  c = concat(a, b);",
      "  y = linear(m = 3)(c);",
      "  loss crossentropy(y);",
      "}");

  static final String PRODUCT = String.join("\n",
      "network product {",
      "  input x: vector(5);",
      "  h = linear(m = 4)(x);",
      "  a = tanh(h);",
      "  g = linear(m = 4)(x);",
      "  b = sigmoid(g);",
      "  p = a .* b;",
      "  q = a .* a;",
      "  s = p + q;",
      "  y = linear(m = 3)(s);",
      "  loss crossentropy(y);",
      "}");

  static final String TIED = String.join("\n",
      "network tied {",
      "  input x: vector(5);",
      "  h = linear(m = 4)(x);",
      "  a = tanh(h);",
      "  fc = linear(m = 4);",
      "  u = fc(a);",
      "  t = tanh(u);",
      "  v = fc(t);",
      "  y = linear(m = 3)(v);",
      "  loss crossentropy(y);",
      "}");

  static final String INCEPTION = String.join("\n",
      "network inception {",
      "  input x: tensor(2, 4, 4);",
      "  a = conv2d(cout = 2, k = 1, s = 1, p = 0, d = 1)(x);",
      "  b = conv2d(cout = 3, k = 3, s = 1, p = 1, d = 1)(x);",
      "  c = concat(a, b);",
      "  t = tanh(c);",
      "  f = flatten(t);",
      "  y = linear(m = 3)(f);",
      "  loss crossentropy(y);",
      "}");

  /**
   * A sigmoid whose value its max-pool alone reads (a pair whose products multiply by sigmoid' on
   * the entries the pool keeps: {@link DiagonalSelections}), and a tanh whose value two max-pools
   * read (no pair).
   */
  static final String POOL = String.join("\n",
      "network pool {",
      "  input x: tensor(2, 4, 4);",
      "  a = conv2d(cout = 3, k = 3, s = 1, p = 1, d = 1)(x);",
      "  t = sigmoid(a);",
      "  p = maxpool(k = 2)(t);",
      "  b = conv2d(cout = 3, k = 3, s = 1, p = 1, d = 1)(x);",
      "  u = tanh(b);",
      "  q = maxpool(k = 2)(u);",
      "  r = maxpool(k = 2)(u);",
      "  s = p + q;",
      "  v = s .* r;",
      "  f = flatten(v);",
      "  y = linear(m = 3)(f);",
      "  loss crossentropy(y);",
      "}");

  static String source(String name) {
    return switch (name) {
      case "add" -> ADD;
      case "concat" -> CONCAT;
      case "product" -> PRODUCT;
      case "tied" -> TIED;
      case "pool" -> POOL;
      default -> INCEPTION;
    };
  }

  @ParameterizedTest
  @ValueSource(strings = {"add", "concat", "product", "tied", "inception", "pool"})
  void graphNetworksAgreeWithAutograd(String name) throws Exception {
    runScript("graph_networks.py", name, dir.toString());
    Path net = dir.resolve(name + ".hbp");
    Files.writeString(net, source(name));
    Map<String, NdArray> ref = Npz.read(dir.resolve("ref.npz"));
    String[] common = {"curvature", "--net", net.toString(), "--params", dir.resolve("params.npz").toString(), "--batch",
        dir.resolve("batch.npz").toString(), "--strategy", "exact"};
    // the GGN by both routes (factored: a shared instance's uses summed with their cross terms, as autograd's block has them)
    for (String[] run : new String[][] {{"hessian", "network"}, {"ggn", "network"}, {"ggn", "factored"}}) {
      String kind = run[0];
      int compared = 0;
      Path outFile = dir.resolve(kind + "-" + run[1] + ".npz");
      String out = hbp(concat(common, "--curvature", kind, "--ggn-route", run[1], "--dense", outFile.toString()));
      assertEquals(ref.get("loss").data()[0], loss(out), 1e-10, "loss");
      Map<String, NdArray> got = Npz.read(outFile);
      for (String key : ref.keySet()) {
        if (!key.startsWith(kind + ".")) continue;
        assertBlockEquals(name + " " + key + " (" + run[1] + ")", ref.get(key), got.get(key.substring(kind.length() + 1)));
        compared++;
      }
      assertEquals(got.size(), compared, "every parameter's block compared");
    }
    Path step = dir.resolve("step.npz");
    hbp(concat(common, "--curvature", "ggn", "--solve", "1", "--out", step.toString(), "--cg-tol", "0"));
    assertStepIsMinusGradient(ref, Npz.read(step));
    // the CG solve of [I/2 + G/2] d = -g in every block, against a dense solve with autograd's GGN blocks
    Path half = dir.resolve("step-half.npz");
    hbp(concat(common, "--curvature", "ggn", "--solve", "0.5", "--out", half.toString(), "--cg-tol", "1e-14", "--cg-maxiter", "500"));
    assertStepSolvesTheBlocks(ref, "ggn", 0.5, Npz.read(half));
  }

  /**
   * kfra and bda (hessian, ggn, pch-abs, pch-clip) against their definition written in PyTorch
   * (src/test/resources/torch/graph_frontier.py: the frontier's joint Hessian as one dense matrix,
   * the per-sample Jacobians and residuals of every step by autograd, the averaged residual
   * modified by an eigendecomposition), to 1e-10: branches, + and -, concat, .* of two values and of
   * a value with itself.
   */
  @ParameterizedTest
  @ValueSource(strings = {"add", "concat", "product"})
  void kfraAndBdaFollowTheFrontierDefinition(String name) throws Exception {
    runScript("graph_frontier.py", name, dir.toString());
    Path net = dir.resolve(name + ".hbp");
    Files.writeString(net, source(name));
    Map<String, NdArray> ref = Npz.read(dir.resolve("ref.npz"));
    int compared = 0;
    for (String strategy : new String[] {"kfra", "bda"})
      for (String kind : new String[] {"hessian", "ggn", "pch-abs", "pch-clip"}) {
        Path outFile = dir.resolve(strategy + "-" + kind + ".npz");
        hbp("curvature", "--net", net.toString(), "--params", dir.resolve("params.npz").toString(), "--batch", dir.resolve("batch.npz").toString(),
            "--strategy", strategy, "--curvature", kind, "--dense", outFile.toString());
        Map<String, NdArray> got = Npz.read(outFile);
        String prefix = strategy + "." + kind + ".";
        int here = 0;
        for (String key : ref.keySet()) {
          if (!key.startsWith(prefix)) continue;
          assertBlockEquals(name + " " + key, ref.get(key), got.get(key.substring(prefix.length())));
          here++;
        }
        assertEquals(got.size(), here, prefix + ": every block compared");
        compared += here;
      }
    assertEquals(8 * Npz.read(dir.resolve("params.npz")).size(), compared);
  }
}
