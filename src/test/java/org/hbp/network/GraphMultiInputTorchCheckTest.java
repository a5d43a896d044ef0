package org.hbp.network;

import static org.hbp.network.TorchReference.assertBlockEquals;
import static org.hbp.network.TorchReference.assertStepIsMinusGradient;
import static org.hbp.network.TorchReference.concat;
import static org.hbp.network.TorchReference.hbp;
import static org.hbp.network.TorchReference.loss;
import static org.hbp.network.TorchReference.ours;
import static org.hbp.network.TorchReference.runScript;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.hbp.io.NdArray;
import org.hbp.io.Npz;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Graph networks with modules of several inputs against PyTorch autograd in float64
 * (src/test/resources/torch/graph_multi_input.py, the nets written with PyTorch's F.bilinear and
 * attention on (tokens, features) sequences): a bilinear merge of two branches of one value, the
 * first also feeding a skip, and a cross-attention whose queries come from one value and
 * keys/values from another of fewer tokens computed from it (so kfra/bda's cross blocks between a
 * module's inputs reach a parameter's block), and the bilinear layer with one value given to
 * both inputs (its slots summed). {@code hbp curvature} gives autograd's mean loss, gradients (the Newton
 * step with alpha = 1), exact Hessian, GGN and PCH blocks, whole-network Hessian- and GGN-vector
 * products, and kfra/bda blocks as their frontier definition gives them (the joint residual of a
 * module's inputs, averaged, then modified as one matrix), all to 1e-10.
 */
class GraphMultiInputTorchCheckTest {
  @TempDir Path dir;

  static final String BILINEAR = String.join("\n",
      "network bil {",
      "  input x: vector(5);",
      "  h = linear(m = 4)(x);",
      "  a = tanh(h);",
      "  g = linear(m = 3)(h);",
      "  b = sigmoid(g);",
      "  z = bilinear(m = 4)(a, b);",
      "  t = tanh(z);",
      "  r = t + a;",
      "  y = linear(m = 3)(r);",
      "  loss crossentropy(y);",
      "}");

  static final String CROSS = String.join("\n",
      "module tokens_mix {",
      "  dims d, T, S;",
      "  input X: matrix(d, T);",
      "  param A: matrix(T, S);",
      "  output Z = X*A;",
      "}",
      "network cross {",
      "  input x: matrix(4, 5);",
      "  q = linear_tokens(m = 4)(x);",
      "  m = tokens_mix(S = 3)(q);",
      "  kv = linear_tokens(m = 3)(m);",
      "  a = tanh(kv);",
      "  o = cross_attention(k = 2)(q, a);",
      "  r = o + q;",
      "  p = meanpool(r);",
      "  y = linear(m = 3)(p);",
      "  loss crossentropy(y);",
      "}");

  private Map<String, NdArray> prepare(String name) throws Exception {
    runScript("graph_multi_input.py", name, dir.toString());
    String text = switch (name) {
      case "bilinear" -> BILINEAR;
      case "repeated" -> BILINEAR.replace("bilinear(m = 4)(a, b)", "bilinear(m = 4)(b, b)");
      default -> CROSS;
    };
    Files.writeString(dir.resolve(name + ".hbp"), text);
    return Npz.read(dir.resolve("ref.npz"));
  }

  /** The spec of cross-attention, a spec of the tests (not built in). */
  static final String CROSS_ATTENTION = "src/test/resources/specs/cross_attention.hbp";

  private String[] common(String name) {
    return new String[] {"curvature", "--net", dir.resolve(name + ".hbp").toString(), "--params", dir.resolve("params.npz").toString(),
        "--batch", dir.resolve("batch.npz").toString(), "--specs", CROSS_ATTENTION};
  }

  /** The two specs derive, and their operators (built in, or generated now) pass hbp verify. */
  @org.junit.jupiter.api.Test
  void theSpecsVerify() {
    for (String spec : new String[] {"modules-spec/bilinear.hbp", CROSS_ATTENTION}) {
      String out = hbp("verify", spec);
      assertTrue(out.contains(", 0 failed"), out);
    }
  }

  /** Every reference key {@code <prefix><torch name>} against hbp's array of that parameter; all of hbp's arrays compared. */
  private static int compare(String what, Map<String, NdArray> ref, String prefix, Map<String, NdArray> got) {
    int compared = 0;
    for (String key : ref.keySet()) {
      if (!key.startsWith(prefix)) continue;
      String torch = key.substring(prefix.length());
      NdArray g = got.containsKey(torch) ? got.get(torch) : got.get(ours(torch));
      assertBlockEquals(what + " " + key, ref.get(key), g);
      compared++;
    }
    assertEquals(got.size(), compared, what + " " + prefix + ": every array compared");
    return compared;
  }

  @ParameterizedTest
  @ValueSource(strings = {"bilinear", "cross", "repeated"})
  void exactQuantitiesAgreeWithAutograd(String name) throws Exception {
    Map<String, NdArray> ref = prepare(name);
    String[] exact = concat(common(name), "--strategy", "exact");
    for (String kind : new String[] {"hessian", "ggn", "pch-abs", "pch-clip"}) {
      Path out = dir.resolve(kind + ".npz");
      String printed = hbp(concat(exact, "--curvature", kind, "--dense", out.toString()));
      assertEquals(ref.get("loss").data()[0], loss(printed), 1e-10, "loss");
      compare(name, ref, kind + ".", Npz.read(out));
    }
    for (String kind : new String[] {"hessian", "ggn"}) {
      Path out = dir.resolve("net-" + kind + ".npz");
      hbp(concat(common(name), "--scope", "net", "--curvature", kind, "--vectors", dir.resolve("dirs.npz").toString(), "--out", out.toString()));
      compare(name, ref, kind.equals("hessian") ? "hvp." : "ggnvp.", Npz.read(out));
    }
    Path step = dir.resolve("step.npz");
    hbp(concat(exact, "--curvature", "ggn", "--solve", "1", "--out", step.toString(), "--cg-tol", "0"));
    assertStepIsMinusGradient(ref, Npz.read(step));
  }

  @ParameterizedTest
  @ValueSource(strings = {"bilinear", "cross", "repeated"})
  void kfraAndBdaFollowTheFrontierDefinition(String name) throws Exception {
    Map<String, NdArray> ref = prepare(name);
    int compared = 0;
    for (String strategy : new String[] {"kfra", "bda"})
      for (String kind : new String[] {"hessian", "ggn", "pch-abs", "pch-clip"}) {
        Path out = dir.resolve(strategy + "-" + kind + ".npz");
        hbp(concat(common(name), "--strategy", strategy, "--curvature", kind, "--dense", out.toString()));
        compared += compare(name, ref, strategy + "." + kind + ".", Npz.read(out));
      }
    assertEquals(8 * Npz.read(dir.resolve("params.npz")).size(), compared);
  }
}
