package org.hbp.backend.opencl;

import static org.hbp.backend.BackendFixtures.assertNear;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.hbp.UserError;
import org.hbp.backend.Batch;
import org.hbp.backend.Precision;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The OpenCL backend's products through CLBlast ({@link OpenClBlast}): that CLBlast loads and is
 * the default where its jar ships natives (Linux x86-64, what CI runs), that products then really
 * go through it (its call count moves) and not through it when the kernels are chosen, and its
 * results in every call form (plain, strided-batched, batched with listed offsets, sums over
 * samples accumulated with beta = 1) against EJML products item by item, for odd shapes, all four
 * transpose combinations, broadcasting and output buffers from the pool that hold NaN.
 */
class OpenClBlastTest {
  @BeforeAll
  static void openCl() {
    OpenClTestSupport.requireOpenCl();
  }

  private final Random rng = new Random(19);

  private static boolean shipsNatives() {
    return System.getProperty("os.name").toLowerCase().startsWith("linux")
        && List.of("amd64", "x86_64").contains(System.getProperty("os.arch"));
  }

  private static OpenClBackend backend(Precision p) {
    OpenClBackend be = new OpenClBackend(p, OpenClTestSupport.deviceIndex());
    // where the natives ship, clblastLoadsAndIsTheDefaultWhereItsNativesShip fails instead
    assumeTrue(be.clblastFailure() == null, "CLBlast unavailable: " + be.clblastFailure());
    return be;
  }

  private static double tol(Precision p) {
    return p == Precision.FLOAT64 ? 1e-12 : 1e-4;
  }

  @Test
  void clblastLoadsAndIsTheDefaultWhereItsNativesShip() {
    assumeTrue(shipsNatives(), "JOCLBlast 1.5.2 ships natives for Linux x86-64 (and Windows/macOS x86-64) only");
    assumeTrue(System.getProperty(OpenClBackend.GEMM_PROPERTY) == null, "hbp.opencl.gemm is set for this run");
    assertNull(OpenClBlast.loadFailure(), "CLBlast must load on Linux x86-64");
    for (Precision p : Precision.values()) {
      OpenClBackend be = new OpenClBackend(p, OpenClTestSupport.deviceIndex());
      assertNull(be.clblastFailure(), be.name() + ": CLBlast's check on " + be.device().describe());
      assertEquals("clblast", be.gemmKernel(), be.name() + " default products");
      assertTrue(be.gemmNotice().contains("CLBlast 1.5.2"), be.gemmNotice());
    }
  }

  @Test
  void productsGoThroughClblastOnlyWhenItIsChosen() {
    for (Precision p : Precision.values()) {
      OpenClBackend be = backend(p);
      Batch a = be.fromArray(1, 1, 5, 3, random(15)), b = be.fromArray(1, 1, 3, 4, random(12));
      be.useGemmKernel("clblast");
      long before = OpenClBlast.calls();
      be.matmul(a, false, b, false);
      assertEquals(before + 1, OpenClBlast.calls(), be.name() + ": one CLBlast call for one product");
      be.useGemmKernel("kernels");
      assertTrue(List.of("large", "small", "direct", "naive").contains(be.gemmKernel()), be.gemmKernel());
      long after = OpenClBlast.calls();
      be.matmul(a, false, b, false);
      be.matmulSumSamples(a, false, b, false);
      assertEquals(after, OpenClBlast.calls(), be.name() + ": the kernels made the products, not CLBlast");
      assertTrue(be.gemmNotice().startsWith("matrix products: hand-written kernel '" + be.gemmKernel() + "'"), be.gemmNotice());
    }
  }

  @Test
  void theSystemPropertyChoosesTheKernelsAndUnknownNamesAreRefused() {
    String saved = System.getProperty(OpenClBackend.GEMM_PROPERTY);
    try {
      System.setProperty(OpenClBackend.GEMM_PROPERTY, "kernels");
      OpenClBackend be = new OpenClBackend(Precision.FLOAT32, OpenClTestSupport.deviceIndex());
      assertTrue(List.of("large", "small", "direct", "naive").contains(be.gemmKernel()), be.gemmKernel());
      UserError e = assertThrows(UserError.class, () -> be.useGemmKernel("cublas"));
      assertTrue(e.getMessage().contains("unknown product kernel 'cublas'") && e.getMessage().contains("clblast, kernels"), e.getMessage());
    } finally {
      if (saved == null) System.clearProperty(OpenClBackend.GEMM_PROPERTY);
      else System.setProperty(OpenClBackend.GEMM_PROPERTY, saved);
    }
  }

  @Test
  void withoutClblastTheKernelsMakeTheProductsAndSaySo() throws Exception {
    // another JVM whose class path lacks jocl-blast: CLBlast cannot load there
    String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    String without = Arrays.stream(cp.split(java.io.File.pathSeparator)).filter(e -> !e.contains("jocl-blast"))
        .collect(java.util.stream.Collectors.joining(java.io.File.pathSeparator));
    // under Maven jocl-blast is its own class-path entry; in gpu-check.sh's payload it is inside hbp.jar
    assumeTrue(!without.equals(cp), "no separate jocl-blast entry on the class path to leave out: " + cp);
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    String devices = runJava(java, without, "devices");
    assertTrue(devices.contains("matrix products: the hand-written kernels (CLBlast did not load: NoClassDefFoundError"), devices);
    String bench = runJava(java, without, "bench", "--gemm-sizes", "9", "--backend", "blas-f32", "--device", "opencl", "--warmup", "0",
        "--repeat", "1");
    assertTrue(bench.contains("default matrix products: hand-written kernel '") && bench.contains("CLBlast did not load"), bench);
    assertTrue(bench.contains("clblast        n=9     not available: matrix products through CLBlast are not available"), bench);
    assertTrue(bench.contains("kernel:"), bench);
  }

  /** Runs hbp's main class in another JVM on {@code cp}; its output (the exit status must be 0). */
  private static String runJava(String javaBinary, String cp, String... args) throws Exception {
    List<String> cmd = new java.util.ArrayList<>(List.of(javaBinary, "-cp", cp, "org.hbp.cli.Main"));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    assertEquals(0, p.waitFor(), String.join(" ", cmd) + ":\n" + out);
    return out;
  }

  @Test
  void offsetsAreAffineExactlyWhenTheSampleStepIsDirectionSteps() {
    // items t = s*Dk + d at s*sS + d*sD: affine in t when sS = Dk*sD, when one sample holds the range, or Dk = 1
    assertEquals(7, OpenClBlast.affineStride(0, 6, 21, 7, 3));
    assertEquals(0, OpenClBlast.affineStride(0, 6, 0, 0, 3));
    assertEquals(-1, OpenClBlast.affineStride(0, 6, 10, 0, 3)); // a shared by the directions of each sample
    assertEquals(0, OpenClBlast.affineStride(3, 3, 10, 0, 3)); // ... within one sample it is a stride of 0
    assertEquals(10, OpenClBlast.affineStride(0, 6, 10, 0, 1));
    assertEquals(2 * 10 + 1 * 4, OpenClBlast.offset(7, 10, 4, 3));
  }

  // ---- results against EJML ----------------------------------------------------------------------

  /** (samples, directions) of a and b, shapes m x k x n, per case; odd sizes around CLBlast's tiles and its direct/indirect switch. */
  private static final int[][] CASES = {
      // aS, aD, bS, bD, m, k, n
      {1, 1, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 7, 1, 5}, {1, 1, 1, 1, 33, 17, 65}, {1, 1, 1, 1, 129, 131, 127}, {1, 1, 1, 1, 257, 3, 190},
      {1, 1, 3, 1, 9, 13, 11}, // shared left item
      {3, 1, 3, 4, 10, 7, 6}, // a shared by the directions of each sample (listed offsets when b is transposed)
      {2, 3, 2, 3, 31, 9, 17}, // one item each (strided)
      {2, 3, 1, 1, 5, 66, 3}, // b broadcast
      {1, 3, 2, 1, 12, 5, 8}, // a broadcast over samples, b over directions
  };

  @Test
  void matmulMatchesEjmlForOddShapesAndEveryTranspose() {
    for (Precision p : Precision.values()) {
      OpenClBackend be = backend(p);
      be.useGemmKernel("clblast");
      for (int[] c : CASES)
        for (boolean ta : new boolean[] {false, true})
          for (boolean tb : new boolean[] {false, true}) {
            int m = c[4], k = c[5], n = c[6];
            double[] a = random(c[0] * c[1] * m * k), b = random(c[2] * c[3] * k * n);
            Batch x = ta ? be.fromArray(c[0], c[1], k, m, a) : be.fromArray(c[0], c[1], m, k, a);
            Batch y = tb ? be.fromArray(c[2], c[3], n, k, b) : be.fromArray(c[2], c[3], k, n, b);
            String what = be.name() + " matmul " + Arrays.toString(c) + " ta=" + ta + " tb=" + tb;
            assertNear(ejmlMatmul(c, ta, tb, a, b, false), be.toArray(be.matmul(x, ta, y, tb)), tol(p), what);
            assertNear(ejmlMatmul(c, ta, tb, a, b, true), be.toArray(be.matmulSumSamples(x, ta, y, tb)), tol(p), what + " sum over samples");
          }
    }
  }

  @Test
  void productsWiderThanOneCallAreSplitByColumns() {
    // more columns than OpenClBlast.COLUMN_CHUNK: B's columns (its rows when transposed) and C's from each chunk's first on
    int n = 2 * OpenClBlast.COLUMN_CHUNK + 5;
    for (Precision p : Precision.values()) {
      OpenClBackend be = backend(p);
      be.useGemmKernel("clblast");
      for (boolean tb : new boolean[] {false, true})
        for (int[] c : new int[][] {{1, 1, 1, 1, 2, 3, n}, {2, 1, 2, 1, 3, 2, n}}) {
          double[] a = random(c[0] * c[4] * c[5]), b = random(c[2] * c[5] * n);
          Batch x = be.fromArray(c[0], 1, c[4], c[5], a), y = tb ? be.fromArray(c[2], 1, n, c[5], b) : be.fromArray(c[2], 1, c[5], n, b);
          long before = OpenClBlast.calls();
          double[] got = be.toArray(be.matmul(x, false, y, tb));
          assertTrue(OpenClBlast.calls() - before >= 3, "three column chunks at least");
          assertNear(ejmlMatmul(c, false, tb, a, b, false), got, tol(p), be.name() + " " + Arrays.toString(c) + " tb=" + tb);
        }
    }
  }

  @Test
  void aPooledOutputBufferHoldingNanDoesNotLeakIntoTheProduct() {
    // beta = 0 must overwrite the output, whatever it held; the sums over samples accumulate with beta = 1 after it
    for (Precision p : Precision.values()) {
      OpenClBackend be = backend(p);
      be.useGemmKernel("clblast");
      for (int[] c : new int[][] {{1, 1, 1, 1, 40, 30, 20}, {4, 1, 4, 3, 6, 5, 7}}) {
        int m = c[4], k = c[5], n = c[6];
        double[] a = random(c[0] * m * k), b = random(c[2] * c[3] * k * n);
        Batch x = be.fromArray(c[0], c[1], m, k, a), y = be.fromArray(c[2], c[3], k, n, b);
        for (boolean sum : new boolean[] {false, true}) {
          int outItems = (sum ? 1 : c[0]) * c[3];
          double[] nan = new double[outItems * m * n];
          Arrays.fill(nan, Double.NaN);
          be.release(be.fromArray(1, outItems, m, n, nan)); // into the pool, where the product's output comes from
          Batch z = sum ? be.matmulSumSamples(x, false, y, false) : be.matmul(x, false, y, false);
          assertNear(ejmlMatmul(c, false, false, a, b, sum), be.toArray(z), tol(p), be.name() + " NaN buffer " + Arrays.toString(c) + " sum=" + sum);
        }
      }
    }
  }

  /**
   * The products item by item in EJML (row-major matrices built from the column-major items):
   * item (s, d) of op(A) op(B) with broadcasting over samples and directions, or its sum over the
   * samples when {@code sum}; column-major entries, items in (s, d) order.
   */
  private static double[] ejmlMatmul(int[] c, boolean ta, boolean tb, double[] a, double[] b, boolean sum) {
    int aS = c[0], aD = c[1], bS = c[2], bD = c[3], m = c[4], k = c[5], n = c[6];
    int samples = Math.max(aS, bS), dirs = Math.max(aD, bD);
    int outSamples = sum ? 1 : samples;
    double[] out = new double[outSamples * dirs * m * n];
    for (int s = 0; s < samples; s++)
      for (int d = 0; d < dirs; d++) {
        int ai = (aS == 1 ? 0 : s) * aD + (aD == 1 ? 0 : d), bi = (bS == 1 ? 0 : s) * bD + (bD == 1 ? 0 : d);
        DMatrixRMaj x = item(a, ai, ta ? k : m, ta ? m : k), y = item(b, bi, tb ? n : k, tb ? k : n);
        if (ta) x = CommonOps_DDRM.transpose(x, null);
        if (tb) y = CommonOps_DDRM.transpose(y, null);
        DMatrixRMaj z = new DMatrixRMaj(m, n);
        CommonOps_DDRM.mult(x, y, z);
        int o = ((sum ? 0 : s) * dirs + d) * m * n;
        for (int j = 0; j < n; j++)
          for (int i = 0; i < m; i++) out[o + j * m + i] += z.get(i, j);
      }
    return out;
  }

  /** Item {@code index} (rows x cols, column-major) of a flat array as an EJML matrix. */
  private static DMatrixRMaj item(double[] data, int index, int rows, int cols) {
    DMatrixRMaj x = new DMatrixRMaj(rows, cols);
    int o = index * rows * cols;
    for (int j = 0; j < cols; j++)
      for (int i = 0; i < rows; i++) x.set(i, j, data[o + j * rows + i]);
    return x;
  }

  private double[] random(int length) {
    double[] d = new double[length];
    for (int i = 0; i < d.length; i++) d[i] = rng.nextDouble() * 2 - 1;
    return d;
  }
}
