package org.hbp.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import org.hbp.backend.blas.BlasBackend;
import org.hbp.backend.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

/** BLAS matmul paths (shared, per-sample, per-direction left items; column and matrix right items) equal the CPU backend's. */
class MatmulLayoutsTest {
  final Backend cpu = new CpuBackend(), blas = new BlasBackend(Precision.FLOAT64);
  final Random rng = new Random(12);

  double[] random(int n) {
    double[] x = new double[n];
    for (int i = 0; i < x.length; i++) x[i] = rng.nextGaussian();
    return x;
  }

  @Test
  void everyBroadcastLayoutAgrees() {
    everyBroadcastLayoutAgrees(blas, 1e-12);
  }

  /** The same in float32 (inputs rounded to float; sums of 5 products, so 1e-5 covers float's rounding). */
  @Test
  void everyBroadcastLayoutAgreesInFloat32() {
    everyBroadcastLayoutAgrees(new BlasBackend(Precision.FLOAT32), 1e-5);
  }

  /**
   * {@code op(a) op(b)} of random items (rounded to float when f32) with axes {@code ax} = {a's
   * samples, directions, b's samples, directions}, op(a) m x k and op(b) k x n: the CPU backend's
   * product and be's, of equal lengths.
   */
  private double[][] products(Backend be, int[] ax, int m, int n, int k, boolean ta, boolean tb, boolean f32) {
    double[] a = random(ax[0] * ax[1] * m * k), b = random(ax[2] * ax[3] * k * n);
    if (f32) {
      for (int i = 0; i < a.length; i++) a[i] = (float) a[i];
      for (int i = 0; i < b.length; i++) b[i] = (float) b[i];
    }
    int ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
    double[] want = cpu.toArray(cpu.matmul(cpu.fromArray(ax[0], ax[1], ar, ac, a), ta, cpu.fromArray(ax[2], ax[3], br, bc, b), tb));
    double[] got = be.toArray(be.matmul(be.fromArray(ax[0], ax[1], ar, ac, a), ta, be.fromArray(ax[2], ax[3], br, bc, b), tb));
    assertEquals(want.length, got.length);
    return new double[][] {want, got};
  }

  private void everyBroadcastLayoutAgrees(Backend blas, double tolerance) {
    boolean f32 = tolerance > 1e-12;
    int[][] axes = {{1, 1, 4, 3}, {1, 3, 4, 1}, {4, 1, 4, 3}, {4, 3, 1, 1}, {4, 3, 4, 3}, {1, 3, 4, 3}, {4, 1, 1, 3}};
    for (int[] ax : axes)
      for (int n : new int[] {1, 2})
        for (boolean ta : new boolean[] {false, true})
          for (boolean tb : new boolean[] {false, true}) {
            double[][] r = products(blas, ax, 3, n, 5, ta, tb, f32);
            double[] want = r[0], got = r[1];
            for (int i = 0; i < want.length; i++)
              assertEquals(want[i], got[i], tolerance, java.util.Arrays.toString(ax) + " n=" + n + " " + ta + tb + " [" + i + "]");
          }
  }

  /**
   * Per-sample, per-direction left items times one right item per sample ({@code J_W' S}, a
   * convolution weight's columns: r directions of a sample times its unfolded input), the layout
   * that BLAS stacks into one gemm per sample where the reduction is at least 32 deep: the CPU
   * backend's values, both transposes of b, float64 and float32 (inputs rounded to float; sums of
   * at most 100 products).
   */
  @Test
  void perSampleDirectionsTimesOneItemPerSampleAgree() {
    for (Precision p : Precision.values()) {
      Backend be = new BlasBackend(p);
      boolean f32 = p == Precision.FLOAT32;
      for (int[] mnk : new int[][] {{16, 27, 64}, {7, 5, 32}, {1, 40, 100}, {3, 1, 33}, {16, 9, 31}})
        for (boolean tb : new boolean[] {false, true}) {
          // several samples (stacked per sample), and one sample with D directions (bda's V ā, the Kronecker eigenbases: not stacked)
          for (int[] ax : new int[][] {{4, 3, 4, 1}, {1, 3, 1, 1}}) {
            double[][] r = products(be, ax, mnk[0], mnk[1], mnk[2], false, tb, f32);
            for (int i = 0; i < r[0].length; i++)
              assertEquals(r[0][i], r[1][i], f32 ? 1e-4 : 1e-12, p + " " + java.util.Arrays.toString(ax) + java.util.Arrays.toString(mnk) + " tb=" + tb + " [" + i + "]");
          }
        }
    }
  }

  /**
   * A convolution's filter directions times its unfolded inputs ({@code J_W v}: per-direction left
   * items shared by the samples, per-sample right items with many columns), the layout that float64
   * runs on the direct kernels (m a multiple of 8, at least 64 columns) where the JVM and CPU allow,
   * and on one OpenBLAS gemm per direction elsewhere (m = 12; 63 columns): the CPU backend's values.
   */
  @Test
  void filterDirectionsTimesUnfoldedInputsAgree() {
    for (int[] mnk : new int[][] {{16, 70, 27}, {8, 64, 5}, {40, 100, 36}, {12, 70, 27}, {16, 63, 27}})
      for (int directions : new int[] {2, 5}) {
        int m = mnk[0], n = mnk[1], k = mnk[2];
        double[][] r = products(blas, new int[] {1, directions, 3, 1}, m, n, k, false, false, false);
        for (int i = 0; i < r[0].length; i++)
          assertEquals(r[0][i], r[1][i], 1e-12, m + "x" + k + " times " + k + "x" + n + ", " + directions + " directions [" + i + "]");
      }
  }

  /**
   * float32 outer products large enough for oneDNN's matmul (m n >= 2^18 per item: bda's
   * {@code (H̄ V ā) ā'} per direction), per-direction left columns times a shared or per-sample
   * right column transposed, equal the CPU backend's float64 products rounded once to float32.
   */
  @Test
  void largeFloat32OuterProductsAgree() {
    Backend f32 = new BlasBackend(Precision.FLOAT32);
    int m = 640, n = 512;
    int[][] axes = {{1, 3, 1, 1}, {2, 3, 2, 1}, {2, 1, 2, 1}};
    for (int[] ax : axes) {
      double[] a = random(ax[0] * ax[1] * m), b = random(ax[2] * ax[3] * n);
      for (int i = 0; i < a.length; i++) a[i] = (float) a[i];
      for (int i = 0; i < b.length; i++) b[i] = (float) b[i];
      double[] want = cpu.toArray(cpu.matmul(cpu.fromArray(ax[0], ax[1], m, 1, a), false, cpu.fromArray(ax[2], ax[3], n, 1, b), true));
      double[] got = f32.toArray(f32.matmul(f32.fromArray(ax[0], ax[1], m, 1, a), false, f32.fromArray(ax[2], ax[3], n, 1, b), true));
      assertEquals(want.length, got.length);
      for (int i = 0; i < want.length; i++)
        assertEquals((float) want[i], got[i], 0, java.util.Arrays.toString(ax) + " [" + i + "]");
    }
  }

  /**
   * Products with a short inner dimension and result items of over 1 MiB, which the BLAS backend
   * computes in column blocks in the cache and copies into place (bda's outer products), equal the
   * CPU backend's: every transposition, per-direction and per-sample items, a last block narrower
   * than the others (n = 500 is no multiple of the block's 374 float or 187 double columns).
   * float64 to 1e-12; float32 with k = 1 bit for bit (a product of two floats is exact in double,
   * so both round it once), with k = 3 to 1e-5 (sums of 3 products in float).
   */
  @Test
  void thinProductsWithLargeResultsAgree() {
    int m = 700, n = 500;
    int[][] axes = {{1, 3, 1, 1}, {2, 3, 2, 1}, {2, 3, 1, 1}, {2, 1, 2, 1}};
    for (Precision precision : Precision.values()) {
      Backend be = new BlasBackend(precision);
      boolean f32 = precision == Precision.FLOAT32;
      for (int k : new int[] {1, 3})
        for (int[] ax : axes)
          for (boolean ta : new boolean[] {false, true})
            for (boolean tb : new boolean[] {false, true}) {
              double[][] r = products(be, ax, m, n, k, ta, tb, f32);
              double[] want = r[0], got = r[1];
              String where = precision + " k=" + k + " " + java.util.Arrays.toString(ax) + " " + ta + tb;
              for (int i = 0; i < want.length; i++) {
                if (!f32) assertEquals(want[i], got[i], 1e-12 * Math.max(1, Math.abs(want[i])), where + " [" + i + "]");
                else if (k == 1) assertEquals((float) want[i], got[i], 0, where + " [" + i + "]");
                else assertEquals(want[i], got[i], 1e-5 * Math.max(1, Math.abs(want[i])), where + " [" + i + "]");
              }
            }
    }
  }

  /**
   * Several large matrices (over 1 MiB each) times a column each, which the BLAS backend runs as one
   * single-threaded gemv per core (bda's {@code V ā} per direction), equal the CPU backend's: every
   * transposition, per-direction and per-sample matrices, shared and per-item columns, and c added
   * (matmulAdd, beta = 1). To the rounding bound of a sum of k + 1 terms in the precision,
   * {@code (k + 1) u Σ|terms|}.
   */
  @Test
  void largeMatricesTimesColumnsAgree() {
    int m = 700, k = 400;
    int[][] axes = {{1, 3, 1, 1}, {2, 3, 2, 3}, {1, 4, 1, 4}, {3, 1, 3, 1}};
    for (Precision precision : Precision.values()) {
      Backend be = new BlasBackend(precision);
      boolean f32 = precision == Precision.FLOAT32;
      double u = f32 ? 0x1p-24 : 0x1p-53;
      for (int[] ax : axes)
        for (boolean ta : new boolean[] {false, true})
          for (boolean tb : new boolean[] {false, true})
            for (boolean add : new boolean[] {false, true}) {
              double[] a = random(ax[0] * ax[1] * m * k), b = random(ax[2] * ax[3] * k), c = random(ax[0] * ax[1] * m);
              if (f32) for (double[] v : new double[][] {a, b, c}) for (int i = 0; i < v.length; i++) v[i] = (float) v[i];
              int ar = ta ? k : m, ac = ta ? m : k, br = tb ? 1 : k, bc = tb ? k : 1;
              Batch wantProduct = cpu.matmul(cpu.fromArray(ax[0], ax[1], ar, ac, a), ta, cpu.fromArray(ax[2], ax[3], br, bc, b), tb);
              Batch sizeProduct = cpu.matmul(cpu.fromArray(ax[0], ax[1], ar, ac, abs(a)), ta, cpu.fromArray(ax[2], ax[3], br, bc, abs(b)), tb);
              double[] want = cpu.toArray(add ? cpu.add(wantProduct, cpu.fromArray(ax[0], ax[1], m, 1, c)) : wantProduct);
              double[] size = cpu.toArray(add ? cpu.add(sizeProduct, cpu.fromArray(ax[0], ax[1], m, 1, abs(c))) : sizeProduct);
              Batch x = be.fromArray(ax[0], ax[1], ar, ac, a), y = be.fromArray(ax[2], ax[3], br, bc, b);
              double[] got = be.toArray(add ? be.matmulAdd(x, ta, y, tb, be.fromArray(ax[0], ax[1], m, 1, c)) : be.matmul(x, ta, y, tb));
              assertEquals(want.length, got.length);
              String where = precision + " " + java.util.Arrays.toString(ax) + " " + ta + tb + (add ? " +c" : "");
              for (int i = 0; i < want.length; i++) assertEquals(want[i], got[i], (k + 1) * u * size[i], where + " [" + i + "]");
            }
    }
  }

  /**
   * A linear layer's {@code W x + b} over a batch, large enough for oneDNN's matmul (float32), with b
   * added in the matmul's epilogue as its bias: equal to the CPU backend's product plus b, for W
   * and W' stored, samples and directions; and a per-sample c (not a bias) beside it. To the
   * rounding bound of a float sum of 200 products and c, {@code 201 · 2^-24 · Σ|terms|}.
   */
  @Test
  void float32ProductsPlusABiasColumnAgree() {
    Backend f32 = new BlasBackend(Precision.FLOAT32);
    int m = 300, k = 200;
    int[][] axes = {{50, 1, 1, 1}, {20, 3, 1, 1}, {50, 1, 50, 1}};
    for (int[] ax : axes)
      for (boolean ta : new boolean[] {false, true}) {
        double[] w = random(m * k), x = random(ax[0] * ax[1] * k), c = random(ax[2] * ax[3] * m);
        for (double[] v : new double[][] {w, x, c}) for (int i = 0; i < v.length; i++) v[i] = (float) v[i];
        int wr = ta ? k : m, wc = ta ? m : k;
        double[] want = cpu.toArray(cpu.add(cpu.matmul(cpu.fromArray(1, 1, wr, wc, w), ta, cpu.fromArray(ax[0], ax[1], k, 1, x), false),
            cpu.fromArray(ax[2], ax[3], m, 1, c)));
        double[] got = f32.toArray(f32.matmulAdd(f32.fromArray(1, 1, wr, wc, w), ta, f32.fromArray(ax[0], ax[1], k, 1, x), false,
            f32.fromArray(ax[2], ax[3], m, 1, c)));
        // the same sum of |terms|, for the rounding bound of a float sum of k + 1 terms: (k + 1) 2^-24 sum |terms|
        double[] size = cpu.toArray(cpu.add(cpu.matmul(cpu.fromArray(1, 1, wr, wc, abs(w)), ta, cpu.fromArray(ax[0], ax[1], k, 1, abs(x)), false),
            cpu.fromArray(ax[2], ax[3], m, 1, abs(c))));
        assertEquals(want.length, got.length);
        for (int i = 0; i < want.length; i++)
          assertEquals(want[i], got[i], (k + 1) * 0x1p-24 * size[i], java.util.Arrays.toString(ax) + " " + ta + " [" + i + "]");
      }
  }

  private static double[] abs(double[] v) {
    double[] out = new double[v.length];
    for (int i = 0; i < v.length; i++) out[i] = Math.abs(v[i]);
    return out;
  }
}
