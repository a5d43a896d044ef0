package org.hbp.backend.opencl;

import static org.hbp.backend.BackendFixtures.assertNear;
import static org.hbp.backend.BackendFixtures.conv2dProducts;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.hbp.backend.Backend;
import org.hbp.backend.BackendFixtures;
import org.hbp.backend.BackendFixtures.Host;
import org.hbp.backend.Backends;
import org.hbp.backend.Batch;
import org.hbp.backend.ConvGeometry;
import org.hbp.backend.Precision;
import org.hbp.backend.ScalarFunction;
import org.hbp.backend.cpu.CpuBackend;
import org.hbp.cli.DevicesCommand;
import org.hbp.math.Scalars;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * What is particular to the OpenCL backend (the shared contract runs in {@code OpenClF32BackendTest}
 * and {@code OpenClF64BackendTest}): larger products in every layout against the CPU backend (tile
 * edges, batches, broadcasts, the shared left operand, launches split along the grid), the
 * structural kernels at larger sizes, ScalarFunction map kernels and the counted host fallback,
 * the buffer pool and stale batches, deterministic scatterAdd, the generated operators, the error
 * messages (no device, a kernel that does not build, foreign batches), {@code hbp devices}, and a
 * printed GFLOP/s figure of the product kernel. References are the CPU backend in double; float32
 * results are judged relative to max(1, max|expected|).
 */
class OpenClBackendTest {
  @BeforeAll
  static void openCl() {
    OpenClTestSupport.requireOpenCl();
  }

  private final Backend cpu = new CpuBackend();
  private final OpenClBackend f64 = new OpenClBackend(Precision.FLOAT64, OpenClTestSupport.deviceIndex());
  private final OpenClBackend f32 = new OpenClBackend(Precision.FLOAT32, OpenClTestSupport.deviceIndex());
  private final Random rng = new Random(11);
  private final BackendFixtures fx = new BackendFixtures(rng);

  private List<OpenClBackend> both() {
    return List.of(f64, f32);
  }

  private static double tol(OpenClBackend be) {
    return be.precision() == Precision.FLOAT64 ? 1e-12 : 1e-4;
  }

  /** The CPU result of a kernel and the OpenCL one agree (shapes and entries). */
  private void check(String what, OpenClBackend be, Batch expected, Batch actual) {
    assertEquals(expected.describe(), actual.describe(), be.name() + " " + what + ": shape");
    assertNear(cpu.toArray(expected), be.toArray(actual), tol(be), be.name() + " " + what);
  }

  // ---- products ---------------------------------------------------------------------------------

  private void checkMatmul(OpenClBackend be, Host a, boolean ta, Host b, boolean tb, String what) {
    check("matmul " + what + " ta=" + ta + " tb=" + tb, be, cpu.matmul(a.on(cpu), ta, b.on(cpu), tb), be.matmul(a.on(be), ta, b.on(be), tb));
  }

  private void checkMatmulSumSamples(OpenClBackend be, Host a, boolean ta, Host b, boolean tb, String what) {
    check("matmulSumSamples " + what + " ta=" + ta + " tb=" + tb, be, cpu.matmulSumSamples(a.on(cpu), ta, b.on(cpu), tb),
        be.matmulSumSamples(a.on(be), ta, b.on(be), tb));
  }

  /** CLBlast and the product kernels (all run on every device that fits them; the GPU's tiled ones are checked on PoCL too). */
  private static final List<String> GEMM_KERNELS = List.of("clblast", "large", "small", "direct", "naive");

  /** Runs body once per product kernel, on both backends switched to it (then back to the default). */
  private void forEachProductKernel(Runnable body) {
    String d64 = f64.gemmKernel(), d32 = f32.gemmKernel();
    try {
      for (String kernel : GEMM_KERNELS) {
        if (kernel.equals("clblast") && f64.clblastFailure() != null) continue; // CLBlastUsedTest says where it must load
        f64.useGemmKernel(kernel);
        f32.useGemmKernel(kernel);
        body.run();
      }
    } finally {
      f64.useGemmKernel(d64);
      f32.useGemmKernel(d32);
    }
  }

  @Test
  void largerProductsInEveryLayoutMatchTheCpuBackend() {
    forEachProductKernel(this::productsInEveryLayout);
  }

  private void productsInEveryLayout() {
    // sizes off the 64 and 16 tile edges; every transpose combination
    int m = 150, k = 170, n = 130;
    for (boolean ta : new boolean[] {false, true})
      for (boolean tb : new boolean[] {false, true}) {
        Host a = ta ? fx.host(1, 1, k, m) : fx.host(1, 1, m, k), b = tb ? fx.host(2, 1, n, k) : fx.host(2, 1, k, n);
        Host a2 = ta ? fx.host(2, 1, k, m) : fx.host(2, 1, m, k);
        for (OpenClBackend be : both()) {
          checkMatmul(be, a, ta, b, tb, be.gemmKernel() + " shared left " + m + "x" + k + "x" + n);
          checkMatmul(be, a2, ta, b, tb, be.gemmKernel() + " per sample " + m + "x" + k + "x" + n);
        }
      }
    // batched with broadcasting on each axis, a mid-sized item (large and small tiles)
    int[][] axes = {{2, 3, 2, 3}, {1, 3, 2, 3}, {2, 1, 2, 3}, {2, 3, 1, 3}, {2, 3, 2, 1}, {1, 3, 2, 1}, {1, 1, 2, 3}, {2, 3, 1, 1}};
    for (int[] ax : axes)
      for (boolean ta : new boolean[] {false, true})
        for (boolean tb : new boolean[] {false, true})
          for (int[] mkn : ax[0] == 2 && ax[2] == 2 ? new int[][] {{70, 33, 66}, {5, 40, 3}} : new int[][] {{37, 19, 35}, {5, 17, 3}}) {
            int mm = mkn[0], kk = mkn[1], nn = mkn[2];
            Host a = ta ? fx.host(ax[0], ax[1], kk, mm) : fx.host(ax[0], ax[1], mm, kk);
            Host b = tb ? fx.host(ax[2], ax[3], nn, kk) : fx.host(ax[2], ax[3], kk, nn);
            for (OpenClBackend be : both()) {
              String what = be.gemmKernel() + " " + java.util.Arrays.toString(ax) + " " + mm + "x" + kk + "x" + nn;
              checkMatmul(be, a, ta, b, tb, what);
              checkMatmulSumSamples(be, a, ta, b, tb, what);
            }
          }
  }

  @Test
  void matmulSumSamplesFastPathsMatchTheCpuBackend() {
    forEachProductKernel(this::matmulSumSamplesFastPaths);
  }

  private void matmulSumSamplesFastPaths() {
    for (OpenClBackend be : both()) {
      // one direction, all samples: sum_s A_s B_s' as one product of inner dimension S*k
      checkMatmulSumSamples(be, fx.host(40, 1, 70, 9), false, fx.host(40, 1, 66, 9), true, "one direction");
      // outer products per direction (k = 1): a weight gradient with directions
      checkMatmulSumSamples(be, fx.host(40, 3, 70, 1), false, fx.host(40, 3, 66, 1), true, "outer products");
      // a shared by the directions of each sample
      checkMatmulSumSamples(be, fx.host(20, 1, 70, 30), false, fx.host(20, 4, 30, 9), false, "a shared by directions");
      checkMatmulSumSamples(be, fx.host(20, 1, 30, 70), true, fx.host(1, 4, 30, 9), false, "a' shared by directions, b shared by samples");
    }
  }

  @Test
  void launchesSplitAlongTheGridMatchTheCpuBackend() {
    // more than 65535 items (the third grid dimension is split) and more than 65535 column tiles
    // (16-column tiles, 4 x 8-column work groups of the CPU kernel, single columns)
    Host a = fx.host(66000, 1, 2, 3), b = fx.host(66000, 1, 2, 3);
    Host w = fx.host(1, 1, 2, 3), wide = fx.host(1, 1, 3, 2_100_000);
    double[] items = cpu.toArray(cpu.matmul(a.on(cpu), false, b.on(cpu), true));
    double[] columns = cpu.toArray(cpu.matmul(w.on(cpu), false, wide.on(cpu), false));
    Map<OpenClBackend, Batch[]> on = new LinkedHashMap<>();
    for (OpenClBackend be : both()) on.put(be, new Batch[] {a.on(be), b.on(be), w.on(be), wide.on(be)});
    forEachProductKernel(() -> {
      for (OpenClBackend be : both()) {
        Batch[] x = on.get(be);
        assertNear(items, be.toArray(be.matmul(x[0], false, x[1], true)), tol(be), be.name() + " " + be.gemmKernel() + " 66000 items");
        assertNear(columns, be.toArray(be.matmul(x[2], false, x[3], false)), tol(be), be.name() + " " + be.gemmKernel() + " 2.1M columns");
      }
    });
  }


  // ---- structural kernels at larger sizes -------------------------------------------------------

  @Test
  void largeStructuralKernelsMatchTheCpuBackend() {
    for (OpenClBackend be : both()) {
      Host x = fx.host(37, 3, 41, 13), y = fx.host(37, 3, 41, 13), perSample = fx.host(37, 1, 41, 13), shared = fx.host(1, 3, 41, 13);
      Host scalars = fx.host(37, 1, 1, 1);
      for (Host other : List.of(y, perSample, shared, scalars)) {
        check("add", be, cpu.add(x.on(cpu), other.on(cpu)), be.add(x.on(be), other.on(be)));
        check("multiply", be, cpu.multiply(other.on(cpu), x.on(cpu)), be.multiply(other.on(be), x.on(be)));
        check("divide", be, cpu.divide(x.on(cpu), cpu.map(other.on(cpu), ScalarFunction.of("two_plus", "(REAL) 2 + t", t -> 2 + t))),
            be.divide(x.on(be), be.map(other.on(be), ScalarFunction.of("two_plus", "(REAL) 2 + t", t -> 2 + t))));
      }
      check("scale", be, cpu.scale(x.on(cpu), -3), be.scale(x.on(be), -3));
      check("power", be, cpu.power(x.on(cpu), 3), be.power(x.on(be), 3));
      check("sumSamples", be, cpu.sumSamples(x.on(cpu)), be.sumSamples(x.on(be)));
      check("transpose", be, cpu.transpose(x.on(cpu)), be.transpose(x.on(be)));
      Host big = fx.host(3, 2, 200, 300);
      check("sum", be, cpu.sum(big.on(cpu)), be.sum(big.on(be)));
      check("softmax", be, cpu.softmax(cpu.scale(big.on(cpu), 5)), be.softmax(be.scale(big.on(be), 5)));
      check("logSumExp", be, cpu.logSumExp(cpu.scale(big.on(cpu), 5)), be.logSumExp(be.scale(big.on(be), 5)));
      Host sq = fx.host(4, 2, 150, 150);
      check("trace", be, cpu.trace(sq.on(cpu)), be.trace(sq.on(be)));
      check("diagonal", be, cpu.diagonal(sq.on(cpu)), be.diagonal(sq.on(be)));
      Host col = fx.host(4, 2, 150, 1), kx = fx.host(2, 3, 7, 5), ky = fx.host(1, 3, 6, 9);
      check("diagMatrix", be, cpu.diagMatrix(col.on(cpu)), be.diagMatrix(col.on(be)));
      check("kron", be, cpu.kron(kx.on(cpu), ky.on(cpu)), be.kron(kx.on(be), ky.on(be)));

      for (ConvGeometry g : List.of(new ConvGeometry(3, 12, 11, 3, 2, 1, 1), new ConvGeometry(4, 16, 16, 3, 1, 1, 1),
          new ConvGeometry(2, 15, 13, 5, 3, 2, 2))) {
        Host img = fx.host(9, 4, g.c(), g.h() * g.w());
        check("unfold " + g, be, cpu.unfold(img.on(cpu), g), be.unfold(img.on(be), g));
        Host cols = fx.host(9, 4, g.patchRows(), g.patches());
        check("fold " + g, be, cpu.fold(cols.on(cpu), g), be.fold(cols.on(be), g));
      }

      int n = 3 * 12 * 11, m = 3 * 6 * 5;
      double[] idx = new double[9 * m];
      for (int i = 0; i < idx.length; i++) idx[i] = rng.nextInt(n + 1) - 1; // -1: a padded zero; repeats
      Host src = fx.host(9, 50, 3, 12 * 11), grad = fx.host(9, 50, m, 1), sharedGrad = fx.host(1, 50, m, 1);
      Batch ci = cpu.fromArray(9, 1, m, 1, idx), bi = be.fromArray(9, 1, m, 1, idx);
      Batch ci1 = cpu.fromArray(1, 1, m, 1, java.util.Arrays.copyOf(idx, m)), bi1 = be.fromArray(1, 1, m, 1, java.util.Arrays.copyOf(idx, m));
      check("gather", be, cpu.gather(src.on(cpu), ci), be.gather(src.on(be), bi));
      check("gather shared index", be, cpu.gather(src.on(cpu), ci1), be.gather(src.on(be), bi1));
      check("scatterAdd", be, cpu.scatterAdd(grad.on(cpu), ci, n, 1), be.scatterAdd(grad.on(be), bi, n, 1));
      check("scatterAdd shared index", be, cpu.scatterAdd(grad.on(cpu), ci1, n, 1), be.scatterAdd(grad.on(be), bi1, n, 1));
      check("scatterAdd shared g", be, cpu.scatterAdd(sharedGrad.on(cpu), ci, 3, n / 3), be.scatterAdd(sharedGrad.on(be), bi, 3, n / 3));

      // max-pooling: windowArgmax, then its index map through gather and scatterAdd (checked by construction)
      int c = 16, h = 32, w = 24, k = 2;
      Host act = fx.host(6, 1, c, h * w);
      Batch ca = cpu.windowArgmax(act.on(cpu), c, h, w, k), ba = be.windowArgmax(act.on(be), c, h, w, k);
      check("windowArgmax", be, ca, ba);
      Host down = fx.host(6, 3, c, (h / k) * (w / k));
      Host acts = fx.host(6, 3, c, h * w);
      check("max-pool gather", be, cpu.gather(acts.on(cpu), ca), be.gather(acts.on(be), ba));
      check("max-pool scatterAdd", be, cpu.scatterAdd(down.on(cpu), ca, c, h * w), be.scatterAdd(down.on(be), ba, c, h * w));
    }
  }

  @Test
  void scatterAddIsDeterministicWithManyCollisions() {
    // 20000 entries onto 3 targets: a float atomic sum would differ from run to run
    int m = 20000;
    double[] idx = new double[m];
    for (int i = 0; i < m; i++) idx[i] = i % 7 == 0 ? -1 : rng.nextInt(3);
    Host g = fx.host(2, 3, m, 1);
    for (OpenClBackend be : both()) {
      Batch ix = be.fromArray(1, 1, m, 1, idx);
      double[] first = be.toArray(be.scatterAdd(g.on(be), ix, 3, 1));
      for (int i = 0; i < 3; i++)
        assertArrayEquals(first, be.toArray(be.scatterAdd(g.on(be), be.fromArray(1, 1, m, 1, idx), 3, 1)), 0, "bitwise equal");
      double[] ref = cpu.toArray(cpu.scatterAdd(g.on(cpu), cpu.fromArray(1, 1, m, 1, idx), 3, 1));
      assertNear(ref, first, be.precision() == Precision.FLOAT64 ? 1e-11 : 1e-3, be.name() + " scatterAdd with collisions");
    }
  }

  @Test
  void invalidIndicesAreReportedWithTheirPosition() {
    for (OpenClBackend be : both()) {
      Batch x = be.fill(5, 1, 1);
      double[] d = new double[3000];
      d[2345] = 5; // out of range for items of 5 entries
      Batch idx = be.fromArray(1, 1, 3000, 1, d);
      String msg = assertThrows(IllegalArgumentException.class, () -> be.gather(x, idx)).getMessage();
      assertTrue(msg.contains("gather") && msg.contains("5.0") && msg.contains("position 2345") && msg.contains("[-1, 5)"), msg);
      // valid for a larger item: checked again, accepted, then remembered
      assertEquals(3000, be.toArray(be.gather(be.fill(6, 1, 1), idx)).length);
      d[17] = 0.5;
      Batch frac = be.fromArray(1, 1, 3000, 1, d);
      msg = assertThrows(IllegalArgumentException.class, () -> be.scatterAdd(be.fill(3000, 1, 1), frac, 9, 1)).getMessage();
      assertTrue(msg.contains("scatterAdd") && msg.contains("0.5") && msg.contains("position 17"), msg);
    }
  }

  // ---- maps ---------------------------------------------------------------------------------------

  @Test
  void scalarFunctionsRunAsKernels() {
    double[] special = {-1000, -50, -30.5, -1, -1e-3, 0, 1e-3, 0.5, 1, 29.9, 30, 31, 50, 700};
    double[] data = new double[special.length + 400];
    System.arraycopy(special, 0, data, 0, special.length);
    for (int i = special.length; i < data.length; i++) data[i] = 20 * rng.nextDouble() - 10;
    List<ScalarFunction> fns = List.of(
        new ScalarFunction("t_sigmoid", "REAL t_sigmoid(REAL t) { return hbp_sigmoid(t); }\n", Scalars::sigmoid),
        new ScalarFunction("t_softplus", "REAL t_softplus(REAL t) { return hbp_softplus(t); }\n", Scalars::softplus),
        new ScalarFunction("t_step", "REAL t_step(REAL t) { return hbp_step(t); }\n", Scalars::step),
        new ScalarFunction("t_erf", "REAL t_erf(REAL t) { return hbp_erf(t); }\n", Scalars::erf),
        new ScalarFunction("t_sin", "REAL t_sin(REAL t) { return hbp_sin(t); }\n", Scalars::sin),
        new ScalarFunction("t_cos", "REAL t_cos(REAL t) { return hbp_cos(t); }\n", Scalars::cos),
        ScalarFunction.of("t_formula", "t * hbp_tanh(t) + (REAL) 0.25 * hbp_relu(-t) - hbp_sign(t)",
            t -> t * Math.tanh(t) + 0.25 * Math.max(-t, 0) - Math.signum(t)));
    for (OpenClBackend be : both()) {
      Batch x = be.fromArray(2, 1, 3, data.length / 6, data);
      double[] stored = be.toArray(x);
      for (ScalarFunction f : fns) {
        double[] want = new double[stored.length];
        for (int i = 0; i < want.length; i++) want[i] = be.precision().round(f.applyAsDouble(stored[i]));
        double[] got = be.toArray(be.map(x, f));
        double tol = be.precision() == Precision.FLOAT64 ? 1e-14 : 1e-6;
        for (int i = 0; i < want.length; i++)
          assertEquals(want[i], got[i], tol * Math.max(1, Math.abs(want[i])), be.name() + " " + f.name() + "(" + stored[i] + ")");
        assertEquals(want.length, be.toArray(be.map(x, f)).length, "the cached kernel runs again");
      }
    }
  }

  @Test
  void aScalarFunctionThatDoesNotBuildReportsTheBuildLog() {
    ScalarFunction bad = ScalarFunction.of("t_bad", "no_such_function(t)", t -> t);
    OpenClException e = assertThrows(OpenClException.class, () -> f32.map(f32.fill(2, 2, 1), bad));
    assertTrue(e.getMessage().contains("t_bad") && e.getMessage().contains("Build log") && e.getMessage().contains("no_such_function"),
        e.getMessage());
  }

  // ---- generated operators --------------------------------------------------------------------------

  @Test
  void generatedConv2dOperatorMatchesTheCpuBackend() {
    Map<String, Host> in = fx.conv2dInputs();
    Map<String, Batch> ref = conv2dProducts(cpu, in);
    assertEquals(1 + 3 * 6, ref.size());
    for (OpenClBackend be : both()) {
      Map<String, Batch> got = conv2dProducts(be, in);
      assertEquals(ref.keySet(), got.keySet());
      for (String key : ref.keySet()) {
        assertTrue(got.get(key) instanceof OpenClBatch, key + " is a batch of the OpenCL backend");
        check("conv2d " + key, be, ref.get(key), got.get(key));
      }
    }
  }

  @Test
  void generatedLinearAndGatedOperatorsMatchTheCpuBackend() {
    for (OpenClBackend be : both()) fx.linearAndGatedOperators(cpu, be, (what, expected, actual) -> check(what, be, expected, actual));
  }

  // ---- memory -------------------------------------------------------------------------------------

  @Test
  void releasedBuffersAreReusedAndStaleBatchesAreDetected() {
    fx.releasedStorageIsReusedAndStaleBatchesAreDetected(new OpenClBackend(Precision.FLOAT32, OpenClTestSupport.deviceIndex()));
  }

  @Test
  void aReleasedIndexBufferForgetsWhatWasCheckedAndBuilt() {
    OpenClBackend be = new OpenClBackend(Precision.FLOAT64, OpenClTestSupport.deviceIndex());
    Batch g = be.fromArray(1, 1, 4, 1, new double[] {1, 10, 100, 1000});
    Batch idx = be.fromArray(1, 1, 4, 1, new double[] {2, -1, 2, 0});
    assertArrayEquals(new double[] {1000, 0, 101}, be.toArray(be.scatterAdd(g, idx, 3, 1)));
    be.release(idx);
    // the same buffer, now holding other (invalid, then valid) indices
    Batch bad = be.fromArray(1, 1, 4, 1, new double[] {0, 7, 1, 1});
    assertThrows(IllegalArgumentException.class, () -> be.scatterAdd(g, bad, 3, 1));
    be.release(bad);
    Batch other = be.fromArray(1, 1, 4, 1, new double[] {1, 1, 0, -1});
    assertArrayEquals(new double[] {100, 11, 0}, be.toArray(be.scatterAdd(g, other, 3, 1)));
    assertEquals(2, be.poolHitsAndMisses()[0], "both rewrites reused the released buffer");
  }

  @Test
  void unreachableBatchesFreeTheirDeviceBuffers() throws InterruptedException {
    OpenClBackend be = new OpenClBackend(Precision.FLOAT64, OpenClTestSupport.deviceIndex());
    Batch a = be.fromArray(2, 3, 8, 8, fx.randomData(2 * 3 * 64));
    long start = be.deviceBytesInUse();
    for (int i = 0; i < 2000; i++) be.softmax(be.add(be.matmul(a, false, a, true), a));
    be.finish();
    long peak = be.deviceBytesInUse() - start;
    for (int i = 0; i < 100 && be.deviceBytesInUse() - start > (1 << 20); i++) {
      System.gc();
      Thread.sleep(20);
    }
    long after = be.deviceBytesInUse() - start;
    System.out.println("OpenClBackendTest: 2000 iterations held up to " + (peak >> 10) + " KiB of device buffers, "
        + (after >> 10) + " KiB after collection");
    assertTrue(after <= 1 << 20, "device bytes still held after collection: " + after);
  }

  // ---- errors -----------------------------------------------------------------------------------

  @Test
  void aMissingDeviceIsAClearError() {
    OpenClException e = assertThrows(OpenClException.class, () -> new OpenClBackend(Precision.FLOAT32, 999));
    String msg = e.getMessage();
    assertTrue(msg.contains("no OpenCL device with index 999") && msg.contains("apt-get install ocl-icd-libopencl1 pocl-opencl-icd")
        && msg.contains("OCL_ICD_FILENAMES=libnvidia-opencl.so.1") && msg.contains("hbp devices"), msg);
    IllegalArgumentException viaName = assertThrows(IllegalArgumentException.class, () -> Backends.create("opencl-f64:999", 0));
    assertTrue(viaName.getMessage().startsWith("backend 'opencl-f64:999': no OpenCL device with index 999"), viaName.getMessage());
    IllegalArgumentException badName = assertThrows(IllegalArgumentException.class, () -> Backends.create("opencl-f32:x", 0));
    assertTrue(badName.getMessage().contains("unknown backend 'opencl-f32:x'"), badName.getMessage());
  }

  @Test
  void aBatchLargerThanTheDeviceAllowsIsAClearError() {
    // S items of n x n, more bytes than one device buffer may hold: refused before anything is allocated
    int n = 46000;
    long item = (long) n * n * Float.BYTES;
    int samples = (int) (f32.device().maxAllocBytes() / item) + 1;
    Batch a = f32.fill(n, 1, 1), b = f32.fill(1, n, 1);
    Batch as = f32.matmul(a, false, f32.fromArray(samples, 1, 1, 1, new double[samples]), false); // [S x 1] n x 1
    OpenClException e = assertThrows(OpenClException.class, () -> f32.matmul(as, false, b, false));
    long bytes = samples * item;
    assertTrue(e.getMessage().contains("matmul") && e.getMessage().contains(bytes + " bytes")
        && e.getMessage().contains("CL_DEVICE_MAX_MEM_ALLOC_SIZE"), e.getMessage());
  }

  @Test
  void backendsCreatesOpenClBackendsByName() {
    assertTrue(Backends.names().containsAll(List.of("opencl-f32", "opencl-f64")));
    Backend d = Backends.create("opencl-f32", 0);
    assertEquals("opencl-f32", d.name());
    int first = OpenClDevices.list().get(0).index();
    OpenClBackend indexed = (OpenClBackend) Backends.create("opencl-f64:" + first, 0);
    assertEquals(first, indexed.device().index());
    assertEquals(Precision.FLOAT64, indexed.precision());
  }

  @Test
  void foreignBatchesAreRejected() {
    BackendFixtures.foreignBatchesAreRejected(cpu, f64, f32);
    assertThrows(IllegalArgumentException.class, () -> f32.release(f64.fill(2, 2, 1)));
  }

  @Test
  void float32RefusesIndicesItCannotHoldExactly() {
    int big = (1 << 24) + 2;
    Batch x = f32.fill(big, 1, 0);
    Batch idx = f32.fromArray(1, 1, 1, 1, new double[] {3});
    String msg = assertThrows(IllegalArgumentException.class, () -> f32.gather(x, idx)).getMessage();
    assertTrue(msg.contains("gather") && msg.contains("2^24") && msg.contains("FLOAT64"), msg);
    assertArrayEquals(new double[] {0}, f32.toArray(f32.gather(f32.fill(4, 1, 0), idx)));
  }

  // ---- hbp devices ----------------------------------------------------------------------------------

  @Test
  void devicesCommandListsTheDevices() {
    StringWriter out = new StringWriter(), err = new StringWriter();
    CommandLine cl = new CommandLine(new DevicesCommand());
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    assertEquals(0, cl.execute(), err.toString());
    String text = out.toString();
    for (OpenClDevices.Device d : OpenClDevices.list()) assertTrue(text.contains(d.name()), text);
    assertTrue(text.contains("platform 0") && text.contains("fp64") && text.contains("global memory") && text.contains("*"), text);
    assertTrue(text.contains(OpenClBackend.productsNotice() + "\n"), "the line on how matrix products run:\n" + text);
    System.out.print("OpenClBackendTest: hbp devices\n" + text);
  }

  // ---- throughput (printed, not asserted) -------------------------------------------------------------

  @Test
  void productThroughputIsPrinted() {
    int n = 512;
    Host a = fx.host(1, 1, n, n), b = fx.host(1, 1, n, n);
    double[] ref = null;
    for (OpenClBackend be : both()) {
      // the default kernel of the device (OpenClThroughput measures more sizes and repetitions)
      Batch x = a.on(be), y = b.on(be);
      be.toArray(be.matmul(x, false, y, false)); // warm-up
      be.finish();
      long t0 = System.nanoTime();
      Batch z = be.matmul(x, false, y, false);
      be.finish();
      double s = (System.nanoTime() - t0) * 1e-9;
      double[] got = be.toArray(z);
      if (ref == null) ref = got;
      assertNear(ref, got, 1e-4, be.name() + " 512^3 against float64");
      System.out.printf(java.util.Locale.ROOT, "OpenClBackendTest: %s matmul %d^3 on %s (%s): %.3f s, %.2f GFLOP/s%n", be.name(), n,
          be.device().name(), be.gemmKernel(), s, 2.0 * n * n * n / s * 1e-9);
    }
  }
}
