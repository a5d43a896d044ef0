package org.hbp.network;

import static org.hbp.network.TorchReference.assertBlockEquals;
import static org.hbp.network.TorchReference.runScript;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.hbp.UserError;
import org.hbp.backend.Batch;
import org.hbp.io.NdArray;
import org.hbp.io.Npz;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Per-layer joint blocks ({@link Curvature#layerDense}, {@link Curvature#layerMatProd}) against
 * PyTorch autograd in float64 (src/test/resources/torch/layer_blocks.py): each layer's Hessian
 * block over all its parameters by {@code torch.autograd.functional.hessian}, its GGN block as
 * {@code J' H_z J} from autograd's Jacobian of the outputs, cross blocks between W and b (and the
 * skip module's W1 and W2, whose mixed residual is not zero) included, to 1e-10.
 */
class LayerBlocksTorchCheckTest {
  @TempDir Path dir;

  /** Runs layer_blocks.py (and with it network_products.py) for net {@code name}; hbp's pass on the same problem. */
  private NetworkProductsTest.Problem problem(String name) throws Exception {
    return NetworkProductsTest.problem("layer_blocks.py", name, dir, "layer_ref.npz");
  }

  /** The name the outputs give hbp's parameter {@code p}: PyTorch's, as the problem's --params file names it. */
  private static String torchName(String p) {
    return TorchLayout.arrayName(p, java.util.Set.of());
  }

  /** The prefix of a layer's parameters (PyTorch's module name): the name without its last part. */
  private static String prefix(String parameter) {
    return parameter.substring(0, parameter.lastIndexOf('.'));
  }

  @ParameterizedTest
  @ValueSource(strings = {"fc", "cnn", "skip", "resnet"})
  void denseJointBlocksAgreeWithAutograd(String name) throws Exception {
    NetworkProductsTest.Problem pr = problem(name);
    int compared = 0;
    for (CurvatureKind kind : List.of(CurvatureKind.HESSIAN, CurvatureKind.GGN)) {
      Curvature c = new Curvature(pr.pass(), kind, Strategy.EXACT, Curvature.DEFAULT_MEMORY_LIMIT);
      for (List<String> group : c.layerGroups()) {
        NdArray ref = pr.ref().get(kind.label() + "." + prefix(group.get(0)));
        assertTrue(ref != null, kind.label() + " " + group + " in " + pr.ref().keySet());
        Batch dense = c.layerDense(group.get(0), Curvature.DEFAULT_MEMORY_LIMIT);
        assertBlockEquals(name + " " + kind.label() + " " + group, ref, LayerBlockLayout.toTorch(pr.layout(), pr.net(), group, dense));
        compared++;
      }
    }
    assertEquals(pr.ref().size(), compared);
  }

  /** Products with V directions on every parameter of a layer: the reference matrix applied to them (PyTorch's flattening). */
  @ParameterizedTest
  @ValueSource(strings = {"fc", "skip"})
  void productsAgreeWithAutogradsBlocks(String name) throws Exception {
    NetworkProductsTest.Problem pr = problem(name);
    for (CurvatureKind kind : List.of(CurvatureKind.HESSIAN, CurvatureKind.GGN)) {
      Curvature c = new Curvature(pr.pass(), kind, Strategy.EXACT, Curvature.DEFAULT_MEMORY_LIMIT);
      for (List<String> group : c.layerGroups()) {
        Map<String, Batch> v = new LinkedHashMap<>();
        for (String p : group) v.put(p, pr.directions().get(p));
        Map<String, Batch> got = c.layerMatProd(v);
        NdArray ref = pr.ref().get(kind.label() + "." + prefix(group.get(0)));
        int d = ref.shape()[0];
        double[] block = ref.data();
        int directions = v.values().iterator().next().directions();
        // the stacked directions in PyTorch's flattening, then ref times them
        double[][] stacked = new double[directions][d];
        int offset = 0;
        for (String p : group) {
          double[] t = pr.layout().toTorch(p, v.get(p), false).data();
          int numel = t.length / directions;
          for (int k = 0; k < directions; k++) System.arraycopy(t, k * numel, stacked[k], offset, numel);
          offset += numel;
        }
        offset = 0;
        for (String p : group) {
          double[] g = pr.layout().toTorch(p, got.get(p), false).data();
          int numel = g.length / directions;
          double[] expected = new double[g.length];
          for (int k = 0; k < directions; k++)
            for (int i = 0; i < numel; i++) {
              double s = 0;
              for (int j = 0; j < d; j++) s += block[(offset + i) * d + j] * stacked[k][j];
              expected[k * numel + i] = s;
            }
          assertBlockEquals(name + " " + kind.label() + " product " + p, NdArray.of(expected, g.length), NdArray.of(g, g.length));
          offset += numel;
        }
      }
    }
  }

  /**
   * {@code hbp spectrum --blocks layer}: every layer's top eigenvalues equal those of autograd's
   * dense joint block (layer_blocks.py) eigendecomposed by EJML, to 1e-8 relative to the largest
   * magnitude; its eigenvectors, written per parameter in PyTorch's shapes and stacked as PyTorch
   * flattens them ({@code [W.flatten(); b]}), equal EJML's up to sign where the eigenvalue is
   * separated; spectrum.json keys each layer by its name and lists its parameters. And
   * {@code --scope block:NAME} with PyTorch's name of a parameter gives its layer's block alone.
   */
  @ParameterizedTest
  @ValueSource(strings = {"fc", "skip", "cnn"})
  void theSpectrumOfEveryLayersJointBlockAgreesWithAutograd(String name) throws Exception {
    NetworkProductsTest.Problem pr = problem(name);
    Map<String, List<String>> layers = Curvature.namedLayerGroups(pr.net());
    String[] common = {"spectrum", "--net", dir.resolve(name + ".hbp").toString(), "--params", dir.resolve("params.npz").toString(),
        "--batch", dir.resolve("batch.npz").toString(), "--backend", "cpu", "--blocks", "layer", "--top", "3", "--tol", "1e-12",
        "--max-iterations", "400"};
    for (CurvatureKind kind : List.of(CurvatureKind.HESSIAN, CurvatureKind.GGN)) {
      Path out = dir.resolve("spectrum-" + kind.label());
      TorchReference.hbp(TorchReference.concat(common, "--curvature", kind.label(), "--out", out.toString()));
      com.fasterxml.jackson.databind.JsonNode blocks = new com.fasterxml.jackson.databind.ObjectMapper()
          .readTree(out.resolve("spectrum.json").toFile()).get("blocks");
      List<String> keys = new java.util.ArrayList<>();
      blocks.fieldNames().forEachRemaining(keys::add);
      assertEquals(List.copyOf(layers.keySet()), keys);
      Map<String, NdArray> vectors = Npz.read(out.resolve("eigenvectors.npz"));
      for (Map.Entry<String, List<String>> e : layers.entrySet()) {
        String where = name + " " + kind.label() + " layer " + e.getKey();
        List<String> params = new java.util.ArrayList<>();
        blocks.get(e.getKey()).get("parameters").forEach(p -> params.add(p.asText()));
        assertEquals(e.getValue().stream().map(LayerBlocksTorchCheckTest::torchName).toList(), params, where); // as --params names them
        NdArray ref = pr.ref().get(kind.label() + "." + e.getKey());
        int d = ref.shape()[0];
        org.ejml.data.DMatrixRMaj u = new org.ejml.data.DMatrixRMaj(1, 1);
        double[] exact = NetworkSpectrumTest.eigenvalues(NetworkSpectrumTest.symmetrized(new org.ejml.data.DMatrixRMaj(d, d, true, ref.data())), u);
        com.fasterxml.jackson.databind.JsonNode top = blocks.get(e.getKey()).get("top");
        int k = Math.min(3, d);
        assertEquals(k, top.get("values").size(), where);
        assertTrue(top.get("converged").asBoolean(), where);
        double scale = Math.max(1, Math.max(Math.abs(exact[0]), Math.abs(exact[d - 1])));
        for (int i = 0; i < k; i++) {
          assertEquals(exact[i], top.get("values").get(i).asDouble(), 1e-8 * scale, where + " eigenvalue " + i);
          double gap = Math.min(i > 0 ? exact[i - 1] - exact[i] : Double.POSITIVE_INFINITY, i + 1 < d ? exact[i] - exact[i + 1] : Double.POSITIVE_INFINITY);
          if (gap <= 1e-3 * scale) continue;
          double dot = 0;
          int offset = 0;
          for (String p : e.getValue()) {
            NdArray v = vectors.get(torchName(p));
            assertEquals(k, v.shape()[0], where + " " + p);
            int numel = v.numel() / k;
            double[] values = v.data();
            for (int j = 0; j < numel; j++) dot += values[i * numel + j] * u.get(offset + j, i);
            offset += numel;
          }
          assertEquals(d, offset, where);
          assertEquals(1, Math.abs(dot), 1e-6, where + " eigenvector " + i + " (gap " + gap + ")");
        }
      }
    }
    // one layer, by PyTorch's name of its first parameter
    String first = layers.values().iterator().next().get(0), layer = layers.keySet().iterator().next();
    Path one = dir.resolve("spectrum-one");
    String log = TorchReference.hbp(TorchReference.concat(common, "--curvature", "ggn", "--scope",
        "block:" + TorchLayout.arrayName(first, java.util.Set.of()), "--out", one.toString()));
    assertTrue(log.contains("layer " + layer + " (" + String.join(", ", layers.get(layer)) + ")"), log);
    List<String> keys = new java.util.ArrayList<>();
    new com.fasterxml.jackson.databind.ObjectMapper().readTree(one.resolve("spectrum.json").toFile()).get("blocks").fieldNames().forEachRemaining(keys::add);
    assertEquals(List.of(layer), keys);
  }

  /** The damping of the Newton steps checked against layer_steps.py: every system it makes is positive definite there. */
  private static final double ALPHA = 0.1;
  /** CG run to convergence: the relative residual at which it stops. */
  private static final ConjugateGradient.Settings TO_CONVERGENCE = new ConjugateGradient.Settings(1e-13, 0, 1000);

  /** The entries of each parameter of {@code group} in PyTorch's flattening, stacked: {@code [W.flatten(); b]}. */
  private static NdArray stacked(TorchLayout layout, List<String> group, Map<String, Batch> byParameter) {
    List<double[]> parts = new java.util.ArrayList<>();
    int d = 0;
    for (String p : group) {
      double[] t = layout.toTorch(p, byParameter.get(p), true).data();
      parts.add(t);
      d += t.length;
    }
    double[] out = new double[d];
    int offset = 0;
    for (double[] t : parts) {
      System.arraycopy(t, 0, out, offset, t.length);
      offset += t.length;
    }
    return NdArray.of(out, d);
  }

  /**
   * The damped Newton step of eq. 10 with each layer's joint block ({@link Curvature#layerSolve},
   * CG to convergence) equals {@code torch.linalg.solve(ALPHA I + (1 - ALPHA) C, -g)} with autograd's
   * dense joint block C and gradient g (layer_steps.py), to 1e-10, for the Hessian (the skip module's
   * mixed residual between W1 and W2 included) and the GGN; and, so that the comparison tells the
   * joint block from the per-parameter ones, the per-parameter steps of a layer of several parameters
   * differ from the reference by far more.
   */
  @ParameterizedTest
  @ValueSource(strings = {"fc", "skip", "cnn"})
  void newtonStepsAgreeWithADenseSolveOfAutogradsBlocks(String name) throws Exception {
    NetworkProductsTest.Problem pr = NetworkProductsTest.problem("layer_steps.py", name, dir, "layer_steps.npz", Double.toString(ALPHA));
    org.hbp.backend.Backend be = pr.net().backend();
    int compared = 0;
    for (CurvatureKind kind : List.of(CurvatureKind.HESSIAN, CurvatureKind.GGN)) {
      Curvature c = new Curvature(pr.pass(), kind, Strategy.EXACT, Curvature.DEFAULT_MEMORY_LIMIT);
      for (List<String> group : c.layerGroups()) {
        String key = kind.label() + "." + prefix(group.get(0));
        assertTrue(pr.ref().get("mineig." + key).data()[0] > 0, key + ": the reference system is not positive definite");
        Map<String, Batch> minusG = new LinkedHashMap<>();
        for (String p : group) minusG.put(p, be.scale(pr.pass().gradient(p), -1));
        ConjugateGradient.JointResult r = c.layerSolve(minusG, ALPHA, TO_CONVERGENCE);
        assertTrue(r.converged(), key + ": CG did not converge in " + r.iterations() + " iterations");
        assertEquals(group, List.copyOf(r.solution().keySet()), key + ": the solution's parameters");
        NdArray ref = pr.ref().get("step." + key);
        assertBlockEquals(name + " step " + key, ref, stacked(pr.layout(), group, r.solution()));
        if (group.size() > 1) {
          Map<String, Batch> separate = new LinkedHashMap<>();
          for (String p : group) separate.put(p, ConjugateGradient.solve(be, v -> c.matProd(p, v), ALPHA, minusG.get(p), TO_CONVERGENCE).solution());
          double apart = TorchReference.maxAbsDifference(stacked(pr.layout(), group, separate), ref);
          assertTrue(apart > 1e-4 * TorchReference.scale(ref), key + ": the per-parameter steps are as close to the reference (" + apart + ")");
        }
        compared++;
      }
    }
    assertEquals(2 * new Curvature(pr.pass(), CurvatureKind.GGN, Strategy.EXACT, Curvature.DEFAULT_MEMORY_LIMIT).layerGroups().size(), compared);
  }

  /**
   * {@code hbp curvature --blocks layer}: --dense writes each layer's joint block in PyTorch's
   * flattening, named by its parameters, equal to autograd's; --vectors writes the products per
   * parameter, equal to the Java API's; the options it does not combine with (other strategies, PCH on
   * layers of several parameters, --solve included; --diagonal; --scope net) are refused in one line.
   */
  @ParameterizedTest
  @ValueSource(strings = {"cnn"})
  void theCommandLineWritesJointBlocks(String name) throws Exception {
    NetworkProductsTest.Problem pr = problem(name);
    String[] common = {"curvature", "--net", dir.resolve(name + ".hbp").toString(), "--params", dir.resolve("params.npz").toString(),
        "--batch", dir.resolve("batch.npz").toString(), "--blocks", "layer"};
    for (CurvatureKind kind : List.of(CurvatureKind.HESSIAN, CurvatureKind.GGN)) {
      Path dense = dir.resolve(kind.label() + "-dense.npz");
      TorchReference.hbp(TorchReference.concat(common, "--curvature", kind.label(), "--dense", dense.toString()));
      Map<String, NdArray> got = Npz.read(dense);
      if (kind == CurvatureKind.GGN) {
        // the joint blocks from the loss factor's columns (--ggn-route factored), against autograd's too
        Path factored = dir.resolve("ggn-factored-dense.npz");
        TorchReference.hbp(TorchReference.concat(common, "--curvature", "ggn", "--ggn-route", "factored", "--dense", factored.toString()));
        Map<String, NdArray> fromFactor = Npz.read(factored);
        assertEquals(got.keySet(), fromFactor.keySet());
        for (List<String> group : new Curvature(pr.pass(), kind, Strategy.EXACT, Curvature.DEFAULT_MEMORY_LIMIT).layerGroups())
          assertBlockEquals("cli factored " + group, pr.ref().get("ggn." + prefix(group.get(0))),
              fromFactor.get(String.join(",", group.stream().map(LayerBlocksTorchCheckTest::torchName).toList())));
      }
      Curvature c = new Curvature(pr.pass(), kind, Strategy.EXACT, Curvature.DEFAULT_MEMORY_LIMIT);
      assertEquals(c.layerGroups().size(), got.size(), got.keySet().toString());
      for (List<String> group : c.layerGroups())
        assertBlockEquals("cli " + kind.label() + " " + group, pr.ref().get(kind.label() + "." + prefix(group.get(0))),
            got.get(String.join(",", group.stream().map(LayerBlocksTorchCheckTest::torchName).toList())));
      Path products = dir.resolve(kind.label() + "-products.npz");
      TorchReference.hbp(TorchReference.concat(common, "--curvature", kind.label(), "--vectors", dir.resolve("dirs.npz").toString(),
          "--out", products.toString()));
      Map<String, NdArray> written = Npz.read(products);
      for (List<String> group : c.layerGroups()) {
        Map<String, Batch> v = new LinkedHashMap<>();
        for (String p : group) v.put(p, pr.directions().get(p));
        Map<String, Batch> api = c.layerMatProd(v);
        for (String p : group) {
          assertBlockEquals("cli products " + p, pr.layout().toTorch(p, api.get(p), false), written.get(torchName(p)));
        }
      }
    }
    // refused before anything is written; a path in the test's folder all the same
    String x = dir.resolve("refused.npz").toString();
    for (String[] bad : List.of(new String[] {"--strategy", "kfra", "--dense", x}, new String[] {"--curvature", "pch-clip", "--dense", x},
        new String[] {"--strategy", "kflr", "--solve", "0.1", "--out", x}, new String[] {"--curvature", "pch-abs", "--solve", "0.1", "--out", x},
        new String[] {"--diagonal", "exact", "--out", x}, new String[] {"--scope", "net", "--vectors", dir.resolve("dirs.npz").toString(), "--out", x})) {
      java.io.StringWriter err = new java.io.StringWriter();
      int code = org.hbp.cli.Main.execute(TorchReference.concat(common, bad), new java.io.PrintWriter(new java.io.StringWriter(), true),
          new java.io.PrintWriter(err, true));
      assertTrue(code != 0 && err.toString().contains("--blocks layer") && err.toString().strip().lines().count() == 1, String.join(" ", bad) + ": " + err);
      assertTrue(!java.nio.file.Files.exists(Path.of(x)), String.join(" ", bad) + ": wrote " + x);
    }
  }

  /**
   * {@code hbp curvature --blocks layer --solve ALPHA --out STEP.npz} with CG run to convergence
   * writes each parameter's part of its layer's step, under PyTorch's names (as --params has them) in PyTorch's shapes as the
   * per-parameter solve writes them, equal to the dense solve of autograd's joint blocks
   * (layer_steps.py); and with ALPHA = 1 minus autograd's gradient.
   */
  @ParameterizedTest
  @ValueSource(strings = {"skip"})
  void theCommandLineSolvesWithJointBlocks(String name) throws Exception {
    NetworkProductsTest.Problem pr = NetworkProductsTest.problem("layer_steps.py", name, dir, "layer_steps.npz", Double.toString(ALPHA));
    String[] common = {"curvature", "--net", dir.resolve(name + ".hbp").toString(), "--params", dir.resolve("params.npz").toString(),
        "--batch", dir.resolve("batch.npz").toString(), "--blocks", "layer", "--cg-tol", "1e-13", "--cg-maxiter", "1000", "--out"};
    Curvature ggn = new Curvature(pr.pass(), CurvatureKind.GGN, Strategy.EXACT, Curvature.DEFAULT_MEMORY_LIMIT);
    for (CurvatureKind kind : List.of(CurvatureKind.HESSIAN, CurvatureKind.GGN)) {
      Path step = dir.resolve(kind.label() + "-step.npz");
      String log = TorchReference.hbp(TorchReference.concat(common, step.toString(), "--curvature", kind.label(), "--solve", Double.toString(ALPHA)));
      assertTrue(!log.contains("not converged") && log.contains("one joint block per layer"), log);
      Map<String, NdArray> written = Npz.read(step);
      assertEquals(pr.net().parameterNames().size(), written.size(), written.keySet().toString());
      for (List<String> group : ggn.layerGroups()) {
        List<Double> got = new java.util.ArrayList<>();
        for (String p : group) {
          NdArray a = written.get(torchName(p));
          assertEquals(java.util.Arrays.toString(pr.layout().toTorch(p, pr.pass().gradient(p), true).shape()), java.util.Arrays.toString(a.shape()), p);
          for (double x : a.data()) got.add(x);
        }
        double[] flat = got.stream().mapToDouble(Double::doubleValue).toArray();
        assertBlockEquals("cli step " + kind.label() + " " + group, pr.ref().get("step." + kind.label() + "." + prefix(group.get(0))),
            NdArray.of(flat, flat.length));
      }
    }
    Path plain = dir.resolve("alpha1.npz");
    TorchReference.hbp(TorchReference.concat(common, plain.toString(), "--curvature", "hessian", "--solve", "1"));
    Map<String, NdArray> minusGrad = Npz.read(plain);
    for (List<String> group : ggn.layerGroups()) {
      double[] ref = pr.ref().get("grad." + prefix(group.get(0))).data();
      int offset = 0;
      for (String p : group) {
        double[] d = minusGrad.get(torchName(p)).data();
        for (int i = 0; i < d.length; i++) assertEquals(-ref[offset + i], d[i], 1e-12, p + "[" + i + "]");
        offset += d.length;
      }
    }
  }

  /**
   * One CG-Newton step with per-layer joint blocks ({@link org.hbp.train.CgNewton}, {@code
   * layerBlocks}; CG to convergence) moves every parameter by gamma times its part of the reference
   * step of its layer (layer_steps.py: the dense solve of autograd's joint block), for the Hessian and
   * the GGN; a strategy other than exact is refused when the optimizer is made.
   */
  @ParameterizedTest
  @ValueSource(strings = {"skip"})
  void aCgNewtonStepWithJointBlocksIsTheReferenceStep(String name) throws Exception {
    NetworkProductsTest.Problem pr = NetworkProductsTest.problem("layer_steps.py", name, dir, "layer_steps.npz", Double.toString(ALPHA));
    double gamma = 0.7;
    for (CurvatureKind kind : List.of(CurvatureKind.HESSIAN, CurvatureKind.GGN)) {
      Map<String, Batch> before = pr.layout().parametersOnly(Npz.read(dir.resolve("params.npz")), "params.npz");
      Map<String, Batch> after = new LinkedHashMap<>(before);
      org.hbp.train.CgNewton opt = new org.hbp.train.CgNewton(pr.net(),
          new org.hbp.train.CgNewton.Settings(gamma, ALPHA, kind, Strategy.EXACT, 1, true, TO_CONVERGENCE, 1L << 30));
      opt.step(pr.pass(), after);
      for (List<String> group : Curvature.layerGroups(pr.net())) {
        double[] old = stacked(pr.layout(), group, before).data(), moved = stacked(pr.layout(), group, after).data();
        double[] step = pr.ref().get("step." + kind.label() + "." + prefix(group.get(0))).data();
        double[] expected = new double[old.length];
        for (int i = 0; i < old.length; i++) expected[i] = old[i] + gamma * step[i];
        assertBlockEquals(name + " cg-newton " + kind.label() + " " + group, NdArray.of(expected, expected.length), NdArray.of(moved, moved.length));
      }
    }
    UserError e = assertThrows(UserError.class, () -> new org.hbp.train.CgNewton(pr.net(),
        new org.hbp.train.CgNewton.Settings(gamma, ALPHA, CurvatureKind.GGN, Strategy.BDA, 1, true, TO_CONVERGENCE, 1L << 30)));
    assertTrue(e.getMessage().contains("--blocks layer") && e.getMessage().contains("--strategy bda"), e.getMessage());
  }

  /**
   * PCH is defined for the joint block of a layer of one parameter: it is that parameter's block,
   * whose PCH (tanh's residual modified on the way) the dense reference checks in
   * {@link NetworkCurvatureTest}.
   */
  @org.junit.jupiter.api.Test
  void pchOfALayerOfOneParameterIsItsBlock() {
    NetworkSpec spec = new NetworkSpec("nobias", "test", 1, List.of(4), List.of(
        NetworkCurvatureTest.layer("linear_nobias", Map.of("n", 4, "m", 3), List.of(4), List.of(3)), NetworkCurvatureTest.elementwise("tanh", 3),
        NetworkCurvatureTest.layer("linear_nobias", Map.of("n", 3, "m", 2), List.of(3), List.of(2))), NetworkCurvatureTest.crossEntropy(2));
    NetworkCurvatureTest.Setup s = new NetworkCurvatureTest.Setup(spec, 3, 5, 3.0);
    Pass pass = s.pass();
    for (CurvatureKind kind : List.of(CurvatureKind.PCH_ABS, CurvatureKind.PCH_CLIP, CurvatureKind.HESSIAN)) {
      Curvature c = new Curvature(pass, kind, Strategy.EXACT, Curvature.DEFAULT_MEMORY_LIMIT);
      for (List<String> group : c.layerGroups()) {
        assertEquals(1, group.size());
        double[] joint = s.net.backend().toArray(c.layerDense(group.get(0), Curvature.DEFAULT_MEMORY_LIMIT));
        double[] block = s.net.backend().toArray(c.dense(group.get(0), 1, Curvature.DEFAULT_MEMORY_LIMIT));
        assertEquals(block.length, joint.length);
        for (int i = 0; i < block.length; i++) assertEquals(block[i], joint[i], 1e-12, kind.label() + " " + group + " [" + i + "]");
      }
    }
  }

  /**
   * The step of a layer of one parameter is that parameter's step (PCH allowed, as for its block):
   * {@link Curvature#layerSolve} with CG to convergence equals EJML's dense solve of
   * {@code [ALPHA I + (1 - ALPHA) B] d = -g}, B the parameter's dense block ({@link Curvature#dense},
   * checked against the dense reference in {@link NetworkCurvatureTest}), g the pass's gradient.
   */
  @org.junit.jupiter.api.Test
  void theStepOfALayerOfOneParameterIsItsParametersStep() {
    NetworkSpec spec = new NetworkSpec("nobias", "test", 1, List.of(4), List.of(
        NetworkCurvatureTest.layer("linear_nobias", Map.of("n", 4, "m", 3), List.of(4), List.of(3)), NetworkCurvatureTest.elementwise("tanh", 3),
        NetworkCurvatureTest.layer("linear_nobias", Map.of("n", 3, "m", 2), List.of(3), List.of(2))), NetworkCurvatureTest.crossEntropy(2));
    NetworkCurvatureTest.Setup s = new NetworkCurvatureTest.Setup(spec, 3, 5, 3.0);
    Pass pass = s.pass();
    org.hbp.backend.Backend be = s.net.backend();
    for (CurvatureKind kind : List.of(CurvatureKind.PCH_ABS, CurvatureKind.PCH_CLIP, CurvatureKind.GGN)) {
      Curvature c = new Curvature(pass, kind, Strategy.EXACT, Curvature.DEFAULT_MEMORY_LIMIT);
      for (List<String> group : c.layerGroups()) {
        String p = group.get(0);
        double[] g = be.toArray(pass.gradient(p));
        int n = g.length;
        org.ejml.data.DMatrixRMaj a = new org.ejml.data.DMatrixRMaj(n, n);
        double[] block = be.toArray(c.dense(p, 1, Curvature.DEFAULT_MEMORY_LIMIT)); // column-major, symmetric
        for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) a.set(i, j, (1 - ALPHA) * block[i + n * j] + (i == j ? ALPHA : 0));
        org.ejml.data.DMatrixRMaj x = new org.ejml.data.DMatrixRMaj(n, 1), minusG = new org.ejml.data.DMatrixRMaj(n, 1);
        for (int i = 0; i < n; i++) minusG.set(i, 0, -g[i]);
        assertTrue(org.ejml.dense.row.CommonOps_DDRM.solve(a, minusG, x));
        ConjugateGradient.JointResult r = c.layerSolve(Map.of(p, be.scale(pass.gradient(p), -1)), ALPHA, TO_CONVERGENCE);
        assertTrue(r.converged(), kind.label() + " " + p);
        double[] got = be.toArray(r.solution().get(p));
        for (int i = 0; i < n; i++) assertEquals(x.get(i), got[i], 1e-10 * Math.max(1, Math.abs(x.get(i))), kind.label() + " " + p + " [" + i + "]");
      }
    }
  }

  /** Per-layer blocks are refused, with the reason, for PCH on layers of several parameters and for the other strategies. */
  @ParameterizedTest
  @ValueSource(strings = {"fc"})
  void refusesWhatItDoesNotDefine(String name) throws Exception {
    NetworkProductsTest.Problem pr = problem(name);
    Curvature pch = new Curvature(pr.pass(), CurvatureKind.PCH_ABS, Strategy.EXACT, Curvature.DEFAULT_MEMORY_LIMIT);
    UserError e = assertThrows(UserError.class, () -> pch.layerDense("0.W", Curvature.DEFAULT_MEMORY_LIMIT));
    assertTrue(e.getMessage().contains("--blocks layer with --curvature pch-abs") && e.getMessage().contains("layer 0"), e.getMessage());
    Curvature kfra = new Curvature(pr.pass(), CurvatureKind.GGN, Strategy.KFRA, Curvature.DEFAULT_MEMORY_LIMIT);
    e = assertThrows(UserError.class, () -> kfra.layerMatProd(Map.of("0.W", pr.directions().get("0.W"))));
    assertTrue(e.getMessage().contains("--blocks layer") && e.getMessage().contains("--strategy kfra"), e.getMessage());
    Curvature ggn = new Curvature(pr.pass(), CurvatureKind.GGN, Strategy.EXACT, Curvature.DEFAULT_MEMORY_LIMIT);
    e = assertThrows(UserError.class, () -> ggn.layerMatProd(Map.of("0.W", pr.directions().get("0.W"), "2.b", pr.directions().get("2.b"))));
    assertTrue(e.getMessage().contains("one layer"), e.getMessage());
  }
}
