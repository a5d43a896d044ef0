package org.hbp.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.hbp.UserError;
import org.hbp.backend.Batch;
import org.hbp.backend.Precision;
import org.hbp.backend.blas.BlasBackend;
import org.hbp.network.ConjugateGradient;
import org.hbp.network.Curvature;
import org.hbp.network.CurvatureKind;
import org.hbp.network.KfacOptions;
import org.hbp.network.ModuleLibrary;
import org.hbp.network.Network;
import org.hbp.network.NetworkResolver;
import org.hbp.network.Pass;
import org.hbp.network.Strategy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A second-order step's own memory ({@link StepMemory}: {@code 2 P b + k n_max b}) counted from the
 * shapes, taken from the limit before the curvature plans its chunks of samples, and refused when
 * it alone exceeds the limit. The net: 300 inputs, 300 sigmoid units, 3 classes, so by hand
 * {@code P = 300·300 + 300 + 3·300 + 3 = 91203} entries and {@code n_max = 300·300 = 90000}.
 */
class StepMemoryTest {
  @TempDir Path dir;

  private static final long P = 300 * 300 + 300 + 3 * 300 + 3, N_MAX = 300 * 300;
  private static final long MIB = 1 << 20;

  private Network net(Precision precision) throws Exception {
    Path f = dir.resolve("n.hbp");
    Files.writeString(f, "network n {\n  input x: vector(300);\n  linear(m = 300);\n  sigmoid;\n  linear(m = 3);\n  loss crossentropy;\n}\n");
    return new Network(NetworkResolver.load(f, null, ModuleLibrary.builtInSpecDirs()), ModuleLibrary.forSpecs(), new BlasBackend(precision, 1));
  }

  /** The name of the 300 x 300 weight, found by its shape. */
  private static String largest(Network net) {
    for (String p : net.parameterNames()) if (Arrays.equals(net.parameterShape(p), new int[] {300, 300})) return p;
    throw new AssertionError("no 300 x 300 parameter in " + net.parameterNames());
  }

  private static CgNewton.Settings hessianDiagonal(long limit) {
    return new CgNewton.Settings(0.1, 0.5, CurvatureKind.HESSIAN, Strategy.DIAG_HESSIAN, 1, new ConjugateGradient.Settings(0.1, 0, 2), limit);
  }

  @Test
  void theStepsOwnMemoryIsCountedFromTheShapesAndPrecision() throws Exception {
    Network f64 = net(Precision.FLOAT64), f32 = net(Precision.FLOAT32);
    assertEquals(8 * (2 * P + 9 * N_MAX), CgNewton.stepMemory(f64).bytes());
    assertEquals(4 * (2 * P + 9 * N_MAX), CgNewton.stepMemory(f32).bytes());
    assertEquals(8 * (2 * P + 6 * N_MAX), KfacNewton.stepMemory(f64).bytes());
    assertEquals(4 * (2 * P + 6 * N_MAX), KfacNewton.stepMemory(f32).bytes());
    assertEquals(20 * MIB - 8 * (2 * P + 9 * N_MAX), CgNewton.stepMemory(f64).budget(20 * MIB));
  }

  /**
   * With one joint block per layer the solve's vectors are those of the largest layer, W and b
   * together: {@code n_max = 300·300 + 300 = 90300} entries, named by both parameters.
   */
  @Test
  void withJointBlocksTheLargestBlockIsTheLargestLayer() throws Exception {
    Network f64 = net(Precision.FLOAT64), f32 = net(Precision.FLOAT32);
    long layer = 300 * 300 + 300;
    StepMemory m = StepMemory.ofLayers("cg-newton", f64, StepMemory.CG_VECTORS);
    assertEquals(8 * (2 * P + 9 * layer), m.bytes());
    assertEquals(4 * (2 * P + 9 * layer), StepMemory.ofLayers("cg-newton", f32, StepMemory.CG_VECTORS).bytes());
    String w = largest(f64);
    assertTrue(m.describe().contains("'" + w + "," + w.replace(".W", ".b") + "' (" + layer + " entries)"), m.describe());
  }

  /**
   * A CG-Newton step with the Hessian diagonal at batch 20 under a 20 MiB limit plans its chunks
   * with {@code 20 MiB - 8 (2 P + 9 n_max)} = 12.43 MiB: the same plan as the curvature given that
   * budget directly, more chunks than the curvature given the whole limit.
   */
  @Test
  void theChunkPlanGetsTheLimitLessTheStepsOwnMemory() throws Exception {
    Network net = net(Precision.FLOAT64);
    int n = 20;
    Random rng = new Random(5);
    double[] x = rng.doubles(n * 300, -1, 1).toArray(), y = new double[n * 3];
    for (int i = 0; i < n; i++) y[i * 3 + rng.nextInt(3)] = 1;
    Map<String, Batch> p = Initialization.xavierNormal(net, 2);
    Pass pass = net.run(p, net.backend().fromArray(n, 1, 300, 1, x), net.backend().fromArray(n, 1, 3, 1, y));
    long limit = 20 * MIB, own = 8 * (2 * P + 9 * N_MAX), budget = limit - own;

    List<String> whole = new ArrayList<>(), reduced = new ArrayList<>(), step = new ArrayList<>();
    Curvature.of(pass, CurvatureKind.HESSIAN, Strategy.DIAG_HESSIAN, KfacOptions.defaults(), limit, whole::add).release();
    Curvature.of(pass, CurvatureKind.HESSIAN, Strategy.DIAG_HESSIAN, KfacOptions.defaults(), budget, reduced::add).release();
    new CgNewton(net, hessianDiagonal(limit), step::add).step(pass, p);
    assertEquals(1, whole.size(), whole.toString());
    assertEquals(1, reduced.size(), reduced.toString());
    assertEquals(List.of(reduced.get(0) + " (--memory-limit 20.0 MiB less the 7.6 MiB the cg-newton step holds itself)"), step);
    assertTrue(chunks(reduced.get(0)) > chunks(whole.get(0)), whole + " against " + reduced);
  }

  /**
   * The kfac optimizer with the GGN diagonal, on a net of 20 inputs, 20 tanh units and 100 classes
   * ({@code P = 20·20 + 20 + 100·20 + 100 = 2520}, {@code n_max = 100·20 = 2000}) at batch 40 under
   * 1.5 MiB: it plans with {@code 1.5 MiB - 8 (2 P + 6 n_max)}, 133.1 KiB less.
   */
  @Test
  void kfacsChunkPlanGetsTheLimitLessItsStepsOwnMemory() throws Exception {
    Path f = dir.resolve("k.hbp");
    Files.writeString(f, "network k {\n  input x: vector(20);\n  linear(m = 20);\n  tanh;\n  linear(m = 100);\n  loss crossentropy;\n}\n");
    Network net = new Network(NetworkResolver.load(f, null, ModuleLibrary.builtInSpecDirs()), ModuleLibrary.forSpecs(),
        new BlasBackend(Precision.FLOAT64, 1));
    int n = 40;
    Random rng = new Random(5);
    double[] x = rng.doubles(n * 20, -1, 1).toArray(), y = new double[n * 100];
    for (int i = 0; i < n; i++) y[i * 100 + rng.nextInt(100)] = 1;
    Map<String, Batch> p = Initialization.xavierNormal(net, 2);
    Pass pass = net.run(p, net.backend().fromArray(n, 1, 20, 1, x), net.backend().fromArray(n, 1, 100, 1, y));
    long limit = 3 * MIB / 2, own = 8 * (2 * 2520 + 6 * 2000);
    assertEquals(own, KfacNewton.stepMemory(net).bytes());

    List<String> whole = new ArrayList<>(), reduced = new ArrayList<>(), step = new ArrayList<>();
    Curvature.of(pass, CurvatureKind.GGN, Strategy.DIAG_GGN, KfacOptions.defaults(), limit, whole::add).release();
    Curvature.of(pass, CurvatureKind.GGN, Strategy.DIAG_GGN, KfacOptions.defaults(), limit - own, reduced::add).release();
    new KfacNewton(net, new KfacNewton.Settings(0.1, 0.1, Strategy.DIAG_GGN, KfacOptions.defaults(), limit), step::add).step(pass, p);
    assertEquals(1, whole.size(), whole.toString());
    assertEquals(1, reduced.size(), reduced.toString());
    assertEquals(List.of(reduced.get(0) + " (--memory-limit 1.5 MiB less the 133.1 KiB the kfac step holds itself)"), step);
    assertTrue(chunks(reduced.get(0)) > chunks(whole.get(0)), whole + " against " + reduced);
  }

  private static int chunks(String line) {
    Matcher m = Pattern.compile(".* computing it in (\\d+) chunks of .*").matcher(line);
    assertTrue(m.matches(), line);
    return Integer.parseInt(m.group(1));
  }

  /** 8 · 2P = 1459248 B, 8 · 9 · 90000 = 6480000 B, together 7939248 B: over a 5 MiB limit, refused before any step. */
  @Test
  void aStepWhoseOwnMemoryExceedsTheLimitIsRefusedWithItsSizes() throws Exception {
    Network net = net(Precision.FLOAT64);
    UserError e = assertThrows(UserError.class, () -> new CgNewton(net, hessianDiagonal(5 * MIB)));
    assertEquals("not enough memory: a cg-newton step holds 7.6 MiB besides the pass and the curvature (parameters 712.5 KiB, their updates "
        + "712.5 KiB, 9 vectors of the largest block '" + largest(net) + "' (90000 entries) 6.2 MiB): over --memory-limit 5.0 MiB; use a "
        + "smaller network, or raise --memory-limit (or the heap: JAVA_TOOL_OPTIONS=-Xmx8g)", e.getMessage());
    KfacNewton.Settings kfac = new KfacNewton.Settings(0.1, 0.1, Strategy.DIAG_GGN, KfacOptions.defaults(), 5 * MIB);
    e = assertThrows(UserError.class, () -> new KfacNewton(net, kfac));
    assertTrue(e.getMessage().startsWith("not enough memory: a kfac step holds 5.5 MiB besides the pass and the curvature (parameters 712.5 KiB, "
        + "their updates 712.5 KiB, 6 vectors of the largest block '" + largest(net) + "' (90000 entries) 4.1 MiB): over --memory-limit 5.0 MiB"),
        e.getMessage());
  }
}
