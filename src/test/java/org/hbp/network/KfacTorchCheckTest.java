package org.hbp.network;

import static org.hbp.network.TorchReference.assertBlockEquals;
import static org.hbp.network.TorchReference.hbp;
import static org.hbp.network.TorchReference.ours;
import static org.hbp.network.TorchReference.runScript;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.hbp.UserError;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.backend.cpu.CpuBackend;
import org.hbp.io.NdArray;
import org.hbp.io.Npz;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * KFLR, KFAC and EKFAC (float64) against their definitions computed in PyTorch
 * (src/test/resources/torch/kfac_reference.py): A from the layers' inputs (a convolution's
 * torch.nn.functional.unfold patches), G from autograd's output gradients of the columns of a
 * loss-Hessian factor that the script takes from torch.linalg.eigh, EKFAC's scalings from
 * autograd's per-sample, per-column weight gradients; the damped inverse products against EJML
 * dense solves; the per-sample gradients against a loop of autograd over the samples.
 */
class KfacTorchCheckTest {
  @TempDir Path dir;

  static final Map<String, String> NETS = Map.of(
      "fc", String.join("\n", "network fc {", "  input x: vector(5);", "  linear(m = 4);", "  sigmoid;", "  linear(m = 4);", "  tanh;",
          "  linear(m = 3);", "  loss crossentropy;", "}"),
      "fcmse", String.join("\n", "network fcmse {", "  input x: vector(5);", "  linear(m = 4);", "  sigmoid;", "  linear(m = 4);", "  tanh;",
          "  linear(m = 3);", "  loss mse;", "}"),
      "cnn", String.join("\n", "network cnn {", "  input x: tensor(2, 6, 6);", "  conv2d(cout = 3, k = 3, s = 1, p = 1, d = 1);", "  sigmoid;",
          "  conv2d(cout = 2, k = 3, s = 2, p = 1, d = 1);", "  tanh;", "  flatten;", "  linear(m = 3);", "  loss crossentropy;", "}"),
      "cnnpool", String.join("\n", "network cnnpool {", "  input x: tensor(2, 6, 6);", "  conv2d(cout = 3, k = 3, s = 1, p = 1, d = 1);", "  sigmoid;",
          "  maxpool(k = 2);", "  conv2d(cout = 2, k = 3, s = 1, p = 1, d = 1);", "  tanh;", "  flatten;", "  linear(m = 3);", "  loss crossentropy;", "}"),
      "wide", String.join("\n", "network wide {", "  input x: vector(9);", "  linear(m = 7);", "  tanh;", "  linear(m = 3);", "  loss crossentropy;", "}"),
      "resnet", String.join("\n", "network resnet {", "  input x: vector(5);", "  linear(m = 4);", "  tanh;", "  residual {", "    linear(m = 4);",
          "    sigmoid;", "    linear(m = 4);", "  }", "  linear(m = 3);", "  loss crossentropy;", "}"));

  /** The reference of a net, and the net's file. */
  private Map<String, NdArray> reference(String name) throws Exception {
    runScript("kfac_reference.py", name, dir.toString());
    Files.writeString(dir.resolve(name + ".hbp"), NETS.get(name));
    return Npz.read(dir.resolve("ref.npz"));
  }

  /** The dense blocks of {@code hbp curvature --strategy S}, by hbp's parameter names. */
  private Map<String, NdArray> dense(String name, String strategy) {
    Path out = dir.resolve(strategy + ".npz");
    hbp("curvature", "--net", dir.resolve(name + ".hbp").toString(), "--params", dir.resolve("params.npz").toString(), "--batch",
        dir.resolve("batch.npz").toString(), "--strategy", strategy, "--curvature", "ggn", "--dense", out.toString());
    try {
      return Npz.read(out);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /** Compares every block {@code <strategy>.<torch name>} of the reference; returns how many. */
  private static int compareBlocks(String name, String strategy, Map<String, NdArray> ref, Map<String, NdArray> got) {
    int compared = 0;
    for (String key : ref.keySet()) {
      if (!key.startsWith(strategy + ".")) continue;
      String param = key.substring(strategy.length() + 1); // the output names the parameters as --params does: PyTorch's
      assertTrue(got.containsKey(param), name + ": no block " + param + " in " + got.keySet());
      assertBlockEquals(name + " " + key, ref.get(key), got.get(param));
      compared++;
    }
    return compared;
  }

  @ParameterizedTest
  @ValueSource(strings = {"fc", "fcmse", "cnn", "cnnpool", "resnet", "wide"})
  void kflrAndEkfacEqualTheirDefinitionsInPyTorch(String name) throws Exception {
    Map<String, NdArray> ref = reference(name);
    int layers = name.equals("resnet") ? 4 : name.equals("wide") ? 2 : 3;
    assertEquals(2 * layers, compareBlocks(name, "kflr", ref, dense(name, "kflr")));
    assertEquals(2 * layers, compareBlocks(name, "ekfac", ref, dense(name, "ekfac")));
  }

  final Backend be = new CpuBackend();

  /** A net of {@link #NETS} with the script's parameters and batch, and its pass. */
  private record Problem(Network net, TorchLayout layout, Pass pass) {}

  private Problem problem(String name) throws Exception {
    Network net = new Network(NetworkResolver.load(dir.resolve(name + ".hbp"), null, List.of(Path.of("modules-spec"))), Network.builtIn(), be);
    TorchLayout layout = new TorchLayout(net);
    Map<String, Batch> p = layout.parametersOnly(Npz.read(dir.resolve("params.npz")), "params.npz");
    Map<String, NdArray> b = Npz.read(dir.resolve("batch.npz"));
    Batch x = layout.inputs(b.get("x"), "batch.npz");
    return new Problem(net, layout, net.run(p, x, layout.targets(b.get("y"), x.samples(), "batch.npz")));
  }

  /**
   * KFAC's Monte-Carlo factors: A is exact (1e-10), and G, the mean over K = 3000 vectors per
   * sample, is unbiased: every entry within 5 standard errors of KFLR's G from PyTorch, the standard
   * error sqrt(Var/K) with Var the variance of one draw, computed in the script from its definition
   * (Gaussian ξ: Var(ξ'Mξ) = 2 ||sym M||²; a sampled label: by enumerating the classes). For a correct
   * estimator a 5-sigma miss of any of the at most 54 entries has probability below 1e-4 (fixed seed:
   * the outcome is deterministic); the standard errors are below 5 % of the largest entry, so a
   * G off by a factor (a lost 1/N, 1/K or 1/T) fails.
   */
  @ParameterizedTest
  @ValueSource(strings = {"fc", "cnn", "fc:sampled", "cnn:sampled"})
  void kfacFactorsAreExactForAAndUnbiasedForG(String which) throws Exception {
    String name = which.split(":")[0];
    KfacOptions.Fisher fisher = which.endsWith(":sampled") ? KfacOptions.Fisher.SAMPLED : KfacOptions.Fisher.MC;
    Map<String, NdArray> ref = reference(name);
    Problem pr = problem(name);
    int k = 3000;
    Curvature c = Curvature.of(pr.pass(), CurvatureKind.GGN, Strategy.KFAC, new KfacOptions(fisher, k, 7, LossFactorColumns.eigen()), 1L << 30);
    int layers = 0;
    for (String key : ref.keySet()) {
      if (!key.startsWith("A.")) continue;
      String torch = key.substring(2);
      KroneckerFactors f = c.kroneckerFactors(ours(torch));
      assertBlockEquals(name + " A " + torch, ref.get(key), inTorchColumnOrder(pr, ours(torch), f));
      NdArray g = ref.get("G." + torch), var = ref.get((fisher == KfacOptions.Fisher.MC ? "gvar_mc." : "gvar_sampled.") + torch);
      double scale = TorchReference.scale(g), worst = 0, largestError = 0;
      double[] gValues = g.data(), varValues = var.data(), ours = f.g();
      for (int i = 0; i < gValues.length; i++) {
        double se = Math.sqrt(varValues[i] / k);
        largestError = Math.max(largestError, se);
        worst = Math.max(worst, Math.abs(ours[i] - gValues[i]) / (se + 1e-15));
      }
      assertTrue(worst < 5, which + " G " + torch + ": an entry is " + worst + " standard errors from KFLR's G");
      assertTrue(largestError < 0.05 * scale, which + " G " + torch + ": standard error " + largestError + " vs scale " + scale);
      // the bias shares G: its block is G itself
      KroneckerFactors bias = c.kroneckerFactors(ours(torch.replace(".weight", ".bias")));
      assertEquals(1, bias.p());
      assertEquals(1.0, bias.a()[0], 1e-12);
      for (int i = 0; i < g.numel(); i++) assertEquals(f.g()[i], bias.g()[i], 1e-15);
      layers++;
    }
    assertEquals(3, layers);
  }

  /**
   * A of a weight in PyTorch's order of the weight's columns (a linear layer after a flatten sees
   * the features in another order): the permutation from {@link TorchLayout#toTorch} of a weight
   * whose entries are their column indices.
   */
  private NdArray inTorchColumnOrder(Problem pr, String param, KroneckerFactors f) {
    int m = f.m(), p = f.p();
    double[] columns = new double[m * p];
    for (int j = 0; j < p; j++) for (int i = 0; i < m; i++) columns[i + m * j] = j;
    double[] torch = pr.layout().toTorch(param, be.fromArray(1, 1, m, p, columns), true).data(); // row-major m x p
    double[] a = new double[p * p];
    for (int j = 0; j < p; j++)
      for (int l = 0; l < p; l++) a[j * p + l] = f.a()[(int) torch[j] + p * (int) torch[l]];
    return NdArray.of(a, p, p);
  }

  /** The damped inverse products {@code (C + λI)^-1 v} in the eigenbasis equal EJML's dense solves with the dense block. */
  @ParameterizedTest
  @ValueSource(strings = {"fc", "cnn", "wide"})
  void dampedInverseProductsEqualDenseSolves(String name) throws Exception {
    reference(name);
    Problem pr = problem(name);
    Random rng = new Random(3);
    for (Strategy st : List.of(Strategy.KFAC, Strategy.KFLR, Strategy.EKFAC)) {
      Curvature c = Curvature.of(pr.pass(), CurvatureKind.GGN, st, new KfacOptions(KfacOptions.Fisher.MC, 2, 1, LossFactorColumns.eigen()), 1L << 30);
      for (String p : pr.net().parameterNames()) {
        int[] s = pr.net().parameterShape(p);
        int n = s[0] * s[1];
        double[] dense = be.toArray(c.dense(p, 1, 1L << 30));
        for (double lambda : new double[] {1e-3, 0.5}) {
          double[] v = rng.doubles(n, -1, 1).toArray();
          DMatrixRMaj m = new DMatrixRMaj(n, n), rhs = new DMatrixRMaj(n, 1, true, v), x = new DMatrixRMaj(n, 1);
          for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) m.set(i, j, dense[i + n * j] + (i == j ? lambda : 0));
          assertTrue(CommonOps_DDRM.solve(m, rhs, x));
          double[] got = be.toArray(c.dampedInverse(p, be.fromArray(1, 1, s[0], s[1], v), lambda));
          double xs = 0, err = 0;
          for (int i = 0; i < n; i++) {
            xs = Math.max(xs, Math.abs(x.get(i)));
            err = Math.max(err, Math.abs(got[i] - x.get(i)));
          }
          assertTrue(err <= 1e-10 * Math.max(1, xs), name + " " + st + " " + p + " λ=" + lambda + ": error " + err + " (scale " + xs + ")");
        }
      }
      // eq. 10 in closed form: alpha = 1 is the right-hand side itself
      double[] g = be.toArray(c.dampedSolve("0.W", pr.pass().gradient("0.W"), 1));
      double[] want = be.toArray(pr.pass().gradient("0.W"));
      for (int i = 0; i < g.length; i++) assertEquals(want[i], g[i], 0);
    }
  }

  /**
   * Per-sample gradients equal autograd's (a loop over samples), 1e-10; the squared norms of the
   * 1/N-scaled ones and the variance equal their definitions evaluated here on autograd's; the same
   * numbers come out of {@code hbp gradients}.
   */
  @ParameterizedTest
  @ValueSource(strings = {"fc", "cnn", "resnet", "fcmse"})
  void firstOrderQuantitiesEqualAutogradPerSample(String name) throws Exception {
    Map<String, NdArray> ref = reference(name);
    Problem pr = problem(name);
    Path out = dir.resolve("grads");
    hbp("gradients", "--net", dir.resolve(name + ".hbp").toString(), "--params", dir.resolve("params.npz").toString(), "--batch",
        dir.resolve("batch.npz").toString(), "--out", out.toString());
    Map<String, NdArray> batchGrad = Npz.read(out.resolve("batch_grad.npz")), l2 = Npz.read(out.resolve("batch_l2.npz")),
        variance = Npz.read(out.resolve("variance.npz"));
    int n = pr.pass().samples(), checked = 0;
    for (String key : ref.keySet()) {
      if (!key.startsWith("psg.")) continue;
      String torch = key.substring(4), param = ours(torch);
      NdArray psg = ref.get(key);
      assertBlockEquals(name + " per-sample " + torch, psg, pr.layout().toTorch(param, SampleGradients.perSample(pr.pass(), param), false));
      int size = psg.numel() / n;
      double[] values = psg.data(), scaled = new double[values.length], norms = new double[n], var = new double[size];
      for (int i = 0; i < values.length; i++) scaled[i] = values[i] / n;
      for (int s = 0; s < n; s++) for (int e = 0; e < size; e++) norms[s] += scaled[s * size + e] * scaled[s * size + e];
      for (int e = 0; e < size; e++) {
        double sum = 0, squares = 0;
        for (int s = 0; s < n; s++) {
          sum += values[s * size + e];
          squares += values[s * size + e] * values[s * size + e];
        }
        var[e] = squares / n - (sum / n) * (sum / n);
      }
      assertBlockEquals(name + " batch_grad " + torch, NdArray.of(scaled, psg.shape()), batchGrad.get(torch));
      assertBlockEquals(name + " batch_l2 " + torch, NdArray.of(norms, n), l2.get(torch));
      assertBlockEquals(name + " variance " + torch, NdArray.of(var, size), NdArray.of(variance.get(torch).data(), size));
      assertBlockEquals(name + " variance (API) " + torch, NdArray.of(var, size),
          NdArray.of(pr.layout().toTorch(param, SampleGradients.variance(pr.pass(), param), true).data(), size));
      checked++;
    }
    assertEquals(name.equals("resnet") ? 8 : 6, checked);
  }

  /** What the strategies refuse, with a message naming the place: a residual that the curvature keeps, a loss without labels to draw. */
  @ParameterizedTest
  @ValueSource(strings = {"fcmse"})
  void refusalsNameTheReason(String name) throws Exception {
    reference(name);
    Problem pr = problem(name);
    UserError e = assertThrows(UserError.class, () -> pr.pass().curvature(CurvatureKind.HESSIAN, Strategy.KFLR));
    assertTrue(e.getMessage().contains("layer 1 (sigmoid) has a residual"), e.getMessage());
    e = assertThrows(UserError.class, () -> Curvature.of(pr.pass(), CurvatureKind.GGN, Strategy.KFAC,
        new KfacOptions(KfacOptions.Fisher.SAMPLED, 1, 0, LossFactorColumns.eigen()), 1L << 30));
    assertTrue(e.getMessage().contains("only the crossentropy loss defines") && e.getMessage().contains("mse"), e.getMessage());
    e = assertThrows(UserError.class, () -> pr.pass().curvature(CurvatureKind.GGN, Strategy.EXACT).dampedInverse("0.W", be.fromArray(1, 1, 4, 5, new double[20]), 1));
    assertTrue(e.getMessage().contains("no closed-form damped inverse"), e.getMessage());
  }

  /** {@code hbp gradients} refuses a file as its output folder, leaving the file as it was; bad kfac options are one-line errors. */
  @ParameterizedTest
  @ValueSource(strings = {"fc"})
  void badCommandLinesAreClearErrors(String name) throws Exception {
    reference(name);
    Path file = dir.resolve("taken.txt");
    Files.writeString(file, "mine");
    String[] common = {"--net", dir.resolve(name + ".hbp").toString(), "--params", dir.resolve("params.npz").toString(), "--batch",
        dir.resolve("batch.npz").toString()};
    java.io.StringWriter out = new java.io.StringWriter(), err = new java.io.StringWriter();
    int code = org.hbp.cli.Main.execute(TorchReference.concat(TorchReference.concat(new String[] {"gradients"}, common), "--out", file.toString()),
        new java.io.PrintWriter(out, true), new java.io.PrintWriter(err, true));
    assertEquals(2, code, err.toString());
    assertTrue(err.toString().contains("exists and is not a folder"), err.toString());
    assertEquals("mine", Files.readString(file));
    for (String[] bad : new String[][] {{"--mc-samples", "0"}, {"--fisher", "empirical"}}) {
      err = new java.io.StringWriter();
      code = org.hbp.cli.Main.execute(TorchReference.concat(TorchReference.concat(new String[] {"curvature"}, common),
          TorchReference.concat(bad, "--strategy", "kfac", "--dense", dir.resolve("d.npz").toString())), new java.io.PrintWriter(out, true),
          new java.io.PrintWriter(err, true));
      assertEquals(2, code, err.toString());
      assertTrue(err.toString().contains(bad[0].equals("--fisher") ? "unknown --fisher 'empirical'; expected mc or sampled" : "--mc-samples must be at least 1"),
          err.toString());
    }
  }

  /** A parameter without a Kronecker factor (the skip module's W1) is refused, naming it; the linear layers' blocks still work. */
  @org.junit.jupiter.api.Test
  void aParameterWithoutKroneckerFactorIsRefusedByName() throws Exception {
    Path file = dir.resolve("skipnet.hbp");
    Files.writeString(file, String.join("\n", "network skipnet {", "  input x: vector(5);", "  linear(m = 4);", "  tanh;", "  skip(h = 3);",
        "  linear(m = 3);", "  loss crossentropy;", "}"));
    Network net = new Network(NetworkResolver.load(file, null, List.of(Path.of("modules-spec"))), Network.builtIn(), be);
    Random rng = new Random(4);
    double[] y = new double[3 * 3];
    for (int i = 0; i < 3; i++) y[i * 3 + i] = 1;
    Pass pass = net.run(ExampleNetworksTest.randomParameters(net, be, rng), be.fromArray(3, 1, 5, 1, rng.doubles(15, -1, 1).toArray()),
        be.fromArray(3, 1, 3, 1, y));
    Curvature c = pass.curvature(CurvatureKind.GGN, Strategy.KFLR);
    assertEquals(20, be.toArray(c.matProd("0.W", be.fromArray(1, 1, 4, 5, rng.doubles(20).toArray()))).length);
    int[] s = net.parameterShape("2.W1");
    UserError e = assertThrows(UserError.class, () -> c.matProd("2.W1", be.fromArray(1, 1, s[0], s[1], new double[s[0] * s[1]])));
    assertTrue(e.getMessage().contains("parameter '2.W1' of layer 2 (skip) has no Kronecker factor"), e.getMessage());
    // the advice fits hbp train --optimizer kfac too, which takes no exact, kfra or bda
    assertTrue(e.getMessage().contains("(with hbp train: --optimizer cg-newton)") && e.getMessage().contains("diag-ggn, diag-ggn-mc or diag-hessian"),
        e.getMessage());
  }
}
