package org.hbp.network;

import static org.hbp.network.TorchReference.assertBlockEquals;
import static org.hbp.network.TorchReference.hbp;
import static org.hbp.network.TorchReference.runScript;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.hbp.cli.Main;
import org.hbp.io.NdArray;
import org.hbp.io.NpyException;
import org.hbp.io.Npz;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A loss's {@code assume LHS == RHS;} over its target is checked on every batch: the derived
 * gradient and curvature are simplified under it, so a sample that breaks it is refused (file,
 * array, sample, the assumption as written at file:line:col, both sides' values), and a batch that
 * keeps it gets the gradient, Hessian and GGN of PyTorch autograd
 * (src/test/resources/torch/assume_label_smoothing.py). A loss whose Hessian is not proven PSD is
 * refused by factor-based curvature with the derivation's hint of what would help.
 */
class AssumptionCheckTest {
  @TempDir Path dir;

  @org.junit.jupiter.api.BeforeAll
  static void builtInLibrary() {
    if (TorchLayoutShapesTest.library == null) TorchLayoutShapesTest.library = NetworkResolver.library(ModuleLibrary.builtInSpecDirs());
  }

  /** The reviewer's label-smoothing loss with a real target (no domain check applies) and its assumption on line 5, column 3. */
  static final String LOSS = """
      loss lsce {
        dims c;
        input x: vector(c);
        target y: vector(c) real;
        assume sum(y) == 1;
        output E = -(0.9*y + (0.1/c)*ones(c))'*log(softmax(x));
      }
      """;

  static final String NET = LOSS + "network n { input x: vector(4); linear(m = 3); loss lsce; }\n";

  @Test
  void aBatchThatKeepsTheAssumptionGetsTorchsGradientAndCurvature() throws Exception {
    runScript("assume_label_smoothing.py", dir.toString());
    Path net = dir.resolve("lsce.hbp");
    Files.writeString(net, NET);
    Map<String, NdArray> ref = Npz.read(dir.resolve("ref.npz"));
    String params = dir.resolve("params.npz").toString(), batch = dir.resolve("batch.npz").toString();
    hbp("gradients", "--net", net.toString(), "--params", params, "--batch", batch, "--out", dir.resolve("g").toString());
    Map<String, NdArray> perSample = Npz.read(dir.resolve("g/batch_grad.npz"));
    int compared = 0;
    for (String name : new String[] {"0.weight", "0.bias"}) {
      NdArray g = perSample.get(name), r = ref.get("grad." + name);
      int n = g.shape()[0], size = r.data().length;
      double[] sum = new double[size], values = g.data(); // batch_grad holds (1/N) grad l_n: their sum is the gradient of the mean loss
      for (int i = 0; i < n; i++) for (int q = 0; q < size; q++) sum[q] += values[i * size + q];
      assertBlockEquals("gradient " + name, r, NdArray.of(sum, r.shape()));
      compared++;
    }
    for (String kind : new String[] {"hessian", "ggn"}) {
      Path dense = dir.resolve(kind + ".npz");
      String out = hbp("curvature", "--net", net.toString(), "--params", params, "--batch", batch, "--curvature", kind, "--dense", dense.toString());
      double loss = TorchReference.loss(out);
      assertEquals(ref.get("loss").data()[0], loss, 1e-12 * Math.max(1, Math.abs(loss)), out);
      Map<String, NdArray> got = Npz.read(dense);
      for (String name : new String[] {"0.weight", "0.bias"}) {
        assertBlockEquals(kind + " " + name, ref.get(kind + "." + name), got.get(name));
        compared++;
      }
    }
    assertEquals(6, compared);
    // the reviewer's batch: row 0 is [2, 0, 0], whose sum is 2; refused before any pass
    String err = failure("gradients", "--net", net.toString(), "--params", params, "--batch", dir.resolve("bad.npz").toString(), "--out",
        dir.resolve("g2").toString());
    assertEquals("hbp: " + dir.resolve("bad.npz") + ": array 'y' sample 0 breaks the assumption 'assume sum(y) == 1' of loss lsce at " + net
        + ":5:3: sum(y) is 2.0 but 1 is 1.0 (they may differ by at most 1e-6 (1 + |right side|)); the gradient and curvature are derived under this "
        + "assumption and would be wrong for this sample: give targets that satisfy it, or drop the assumption from the loss", err.strip());
    assertTrue(!Files.exists(dir.resolve("g2/batch_grad.npz")));
  }

  /** The tolerance 1e-6 (1 + |RHS|) = 2e-6 for sum(y) == 1, and the sample named by its index in the file. */
  @Test
  void theToleranceIsRelativeToTheRightSideAndTheSampleIsNamed() {
    TorchLayout l = TorchLayoutShapesTest.withLoss(LOSS, "lsce");
    assertEquals(2, l.targets(NdArray.of(new double[] {0.5, 0.5, 0, 1.5, -0.5, 1.5e-6}, 2, 3), 2, "b.npz").samples());
    String m = message(() -> l.targets(NdArray.of(new double[] {0.5, 0.5, 0, 1.5, -0.5, 2.5e-6}, 2, 3), 2, "b.npz"));
    assertTrue(m.startsWith("b.npz: array 'y' sample 1 breaks the assumption 'assume sum(y) == 1' of loss lsce at "), m);
    assertTrue(m.contains(".hbp:5:3: sum(y) is 1.0000025 but 1 is 1.0 "), m);
    // sum(y) == 1 of a probability target is its domain check's, within 1e-6 times its length (3e-6 here), not refused by a tighter one
    TorchLayout p = TorchLayoutShapesTest.withLoss(LOSS.replace("real", "probability"), "lsce");
    assertEquals(1, p.targets(NdArray.of(new double[] {0.5, 0.5 + 2.5e-6, 0}, 1, 3), 1, "b.npz").samples());
    assertTrue(message(() -> p.targets(NdArray.of(new double[] {0.5, 0.5 + 3.5e-6, 0}, 1, 3), 1, "b.npz")).contains("row 0 sums to 1.0000035"));
    // class indices turned into one-hot rows are checked too: sum(y) == 2 fails for every row
    TorchLayout two = TorchLayoutShapesTest.withLoss(LOSS.replace("real", "probability").replace("== 1", "== 2"), "lsce");
    assertTrue(message(() -> two.targets(NdArray.of(new double[] {0, 2}, 2), 2, "b.npz")).contains("sample 0 breaks the assumption 'assume sum(y) == 2'"));
  }

  /**
   * An undeclared target takes the probability domain from {@code assume sum(y) == 1} alone (its
   * entries then checked to be >= 0); another assumption implies no domain, so rows that keep it
   * are accepted and only it is checked.
   */
  @Test
  void onlySumOneMakesAnUndeclaredTargetAProbability() {
    TorchLayout two = TorchLayoutShapesTest.withLoss(LOSS.replace(" real", "").replace("== 1", "== 2"), "lsce");
    assertEquals(2, two.targets(NdArray.of(new double[] {2, 0, 0, 0, 3, -1}, 2, 3), 2, "b.npz").samples());
    assertTrue(message(() -> two.targets(NdArray.of(new double[] {1, 0, 0}, 1, 3), 1, "b.npz"))
        .contains("sample 0 breaks the assumption 'assume sum(y) == 2'"));
    TorchLayout one = TorchLayoutShapesTest.withLoss(LOSS.replace(" real", ""), "lsce");
    String m = message(() -> one.targets(NdArray.of(new double[] {1.5, -0.5, 0}, 1, 3), 1, "b.npz"));
    assertTrue(m.contains("-0.5") && m.contains("probability"), m);
  }

  /**
   * A matrix target read as the file's [N, c, k] entry for entry: the assumption that each column
   * Y[:, j] sums to 1 holds for columns that do while the rows do not; a column that does not is
   * named by its entry of the right side.
   */
  @Test
  void aMatrixTargetsAssumptionSeesItsColumns() {
    TorchLayout l = TorchLayoutShapesTest.withLoss("loss ownm { dims c, k; input x: vector(c); target Y: matrix(c, k) real; "
        + "assume Y'*ones(c) == ones(k); output E = -sum(Y'*log(softmax(x))); }", "ownm(k = 2)");
    // rows of [3, 2]: (0.5, 0.2), (0.5, 0.3), (0, 0.5): columns sum to 1 and 1, rows to 0.7, 0.8, 0.5
    assertEquals(1, l.targets(NdArray.of(new double[] {0.5, 0.2, 0.5, 0.3, 0, 0.5}, 1, 3, 2), 1, "b.npz").samples());
    String m = message(() -> l.targets(NdArray.of(new double[] {0.5, 0.2, 0.5, 0.3, 0, 0.6}, 1, 3, 2), 1, "b.npz"));
    assertTrue(m.contains("sample 0 breaks the assumption 'assume Y'*ones(c) == ones(k)' of loss ownm at "), m);
    assertTrue(m.contains(": Y'*ones(c) is 1.1 but ones(k) is 1.0 (entry 1 of its column-major vec)"), m);
  }

  /** Without the assumption the Hessian is not proven PSD: factor-based curvature says which declaration would help, as derive does. */
  @Test
  void noCertifiedFactorCarriesTheDerivationsHint() throws Exception {
    runScript("assume_label_smoothing.py", dir.toString());
    Path net = dir.resolve("lsce.hbp");
    Files.writeString(net, NET.replace("  assume sum(y) == 1;\n", ""));
    assertTrue(!Files.readString(net).contains("assume"));
    String hint = "its Hessian is not proven PSD (no structural proof found; the Hessian depends on sum(y): if y sums to 1 (class labels or "
        + "probabilities), declare it onehot or probability (e.g. 'target y: vector(c) onehot;') or write 'assume sum(y) == 1;'), so no S with "
        + "H = S*S' is derived";
    String derived = hbp("derive", net.toString());
    assertTrue(derived.contains("the Hessian depends on sum(y): if y sums to 1"), derived);
    String[] common = {"curvature", "--net", net.toString(), "--params", dir.resolve("params.npz").toString(), "--batch",
        dir.resolve("batch.npz").toString()};
    String[][] uses = {{"--diagonal", "exact", "--out", dir.resolve("d.npz").toString()}, {"--strategy", "kflr", "--dense", dir.resolve("k.npz").toString()},
        {"--strategy", "kfac", "--dense", dir.resolve("f.npz").toString()}};
    for (String[] use : uses) {
      String err = failure(TorchReference.concat(common, use));
      assertTrue(err.contains("hbp: no certified factor for loss lsce (input 'x'): " + hint), String.join(" ", use) + ": " + err);
    }
  }

  private static String message(Runnable r) {
    return assertThrows(NpyException.class, r::run).getMessage();
  }

  /** Runs {@code hbp args} expecting a refusal of its input (exit status 2); its standard error. */
  private static String failure(String... args) {
    StringWriter out = new StringWriter(), err = new StringWriter();
    int code = Main.execute(args, new PrintWriter(out, true), new PrintWriter(err, true));
    assertEquals(2, code, out + "\n" + err);
    return err.toString();
  }
}
