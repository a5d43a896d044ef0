package org.hbp.backend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.BiFunction;
import java.util.function.BinaryOperator;
import java.util.function.DoubleBinaryOperator;
import java.util.function.DoubleUnaryOperator;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.EigenDecomposition_F64;
import org.hbp.calculus.Dim;
import org.hbp.calculus.Expr;
import org.hbp.calculus.Shape;
import org.hbp.calculus.Evaluator;
import org.hbp.calculus.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * The {@link Backend} contract, checked for every backend (one concrete subclass each) against
 * independent references: naive item-by-item EJML computations in double, the reference
 * interpreter {@link Evaluator} for unfold and gather, and adjoint identities for fold and
 * scatterAdd. References are computed from the entries as the backend stores them ({@link
 * Backend#toArray}), so a float32 backend is judged on its arithmetic, not on the rounding of its
 * inputs.
 *
 * <p><b>Tolerances.</b> A float64 backend must match to the tolerance absolutely (1e-12, as
 * the CPU backend always did). A float32 backend is judged relative to {@code max(1, max|expected|)}:
 * float's unit roundoff is 2^-24 (about 6e-8), a product or sum of k terms may err by about k of
 * those relative to the sum of the magnitudes (k <= 10 and magnitudes of a few units at the sizes
 * used here, so about 1e-6), and inverse, determinant and eigen-maps round their double results
 * once; 1e-4 leaves two orders of magnitude of margin without letting a wrong formula (an O(1)
 * error) through.
 */
abstract class AbstractBackendTest {
  /** The backend under test (a fresh one per test class instance). */
  private final Backend be;
  /** What {@link Backend#name()} must say. */
  private final String expectedName;
  /** The format the backend stores entries in. */
  private final Precision precision;
  /** The error allowed: absolute for FLOAT64, relative to max(1, magnitude) for FLOAT32. */
  private final double tol;

  /** Checks the backend {@code backend} makes, named {@code expectedName}, storing {@code precision}, to {@code tolerance}. */
  protected AbstractBackendTest(java.util.function.Supplier<Backend> backend, String expectedName, Precision precision,
      double tolerance) {
    this.be = backend.get();
    this.expectedName = expectedName;
    this.precision = precision;
    this.tol = tolerance;
  }

  private Precision precision() {
    return precision;
  }

  private final Random rng = new Random(20240917);

  /** The error allowed for a result of the given magnitude. */
  private double allowed(double magnitude) {
    return precision() == Precision.FLOAT64 ? tol : tol * Math.max(1, Math.abs(magnitude));
  }

  /** v as the backend stores it. */
  private double stored(double v) {
    return precision().round(v);
  }

  // ---- helpers -------------------------------------------------------------------------------

  private double[] randomData(int n) {
    double[] d = new double[n];
    for (int p = 0; p < n; p++) d[p] = 2 * rng.nextDouble() - 1;
    return d;
  }

  private Batch random(int samples, int directions, int rows, int cols) {
    return be.fromArray(samples, directions, rows, cols, randomData(samples * directions * rows * cols));
  }

  /** Item (s, v) of b as an EJML matrix, broadcasting axes of extent 1. */
  private DMatrixRMaj item(Batch b, int s, int v) {
    int ss = b.samples() == 1 ? 0 : s, vv = b.directions() == 1 ? 0 : v;
    double[] d = be.toArray(b);
    int r = b.rows(), c = b.cols(), o = (ss * b.directions() + vv) * r * c;
    DMatrixRMaj m = new DMatrixRMaj(r, c);
    for (int i = 0; i < r; i++) for (int j = 0; j < c; j++) m.set(i, j, d[o + i + r * j]);
    return m;
  }

  private static DMatrixRMaj transposed(DMatrixRMaj m) {
    return CommonOps_DDRM.transpose(m, null);
  }

  private static double maxAbs(DMatrixRMaj a) {
    double e = 0;
    for (int p = 0; p < a.getNumElements(); p++) e = Math.max(e, Math.abs(a.data[p]));
    return e;
  }

  private static double maxAbsDiff(DMatrixRMaj a, DMatrixRMaj b) {
    double e = 0;
    for (int p = 0; p < a.getNumElements(); p++) e = Math.max(e, Math.abs(a.data[p] - b.data[p]));
    return e;
  }

  private void assertClose(DMatrixRMaj expected, DMatrixRMaj actual, String what) {
    assertEquals(expected.numRows, actual.numRows, what + ": rows");
    assertEquals(expected.numCols, actual.numCols, what + ": cols");
    double err = maxAbsDiff(expected, actual);
    assertTrue(err <= allowed(maxAbs(expected)), what + ": max abs error " + err + "\nexpected " + expected + "\nactual " + actual);
  }

  /** Asserts actual is [samples x directions] with every item equal to expected(s, v). */
  private void assertItems(int samples, int directions, Batch actual, BiFunction<Integer, Integer, DMatrixRMaj> expected, String what) {
    assertEquals(samples, actual.samples(), what + ": samples");
    assertEquals(directions, actual.directions(), what + ": directions");
    for (int s = 0; s < samples; s++)
      for (int v = 0; v < directions; v++) assertClose(expected.apply(s, v), item(actual, s, v), what + " item (" + s + "," + v + ")");
  }

  /** Applies f entrywise to a copy of m. */
  private static DMatrixRMaj entrywise(DMatrixRMaj m, DoubleUnaryOperator f) {
    DMatrixRMaj r = m.copy();
    for (int p = 0; p < r.data.length; p++) r.data[p] = f.applyAsDouble(r.data[p]);
    return r;
  }

  private static DMatrixRMaj scalar(double v) {
    return new DMatrixRMaj(1, 1, true, v);
  }

  private static double dot(double[] a, double[] b) {
    assertEquals(a.length, b.length, "inner product of arrays of different lengths");
    double s = 0;
    for (int p = 0; p < a.length; p++) s += a[p] * b[p];
    return s;
  }

  private static <T extends Throwable> String messageOf(Class<T> type, Executable call) {
    return assertThrows(type, call).getMessage();
  }

  private static void assertContains(String message, String... parts) {
    for (String p : parts) assertTrue(message.contains(p), "message lacks '" + p + "': " + message);
  }

  /** Pairs of batch axes (samples, directions) of a and b exercising broadcasting on each axis. */
  private static final int[][] AXES = {
      {2, 3, 2, 3}, // equal
      {1, 3, 2, 3}, // a shared by samples
      {2, 1, 2, 3}, // a shared by directions
      {2, 3, 1, 3}, // b shared by samples
      {2, 3, 2, 1}, // b shared by directions
      {1, 3, 2, 1}, // crossed
      {1, 1, 2, 3}, // a a single item
      {2, 3, 1, 1}, // b a single item
  };

  // ---- transfer, constants, views ------------------------------------------------------------

  @Test
  void layoutTransferAndConstants() {
    double[] data = randomData(2 * 3 * 2 * 2);
    Batch b = be.fromArray(2, 3, 2, 2, data);
    assertEquals("[2 x 3] 2x2", b.describe());
    assertEquals(expectedName, be.name());
    // item (s, v) at s*directions + v, column-major
    assertEquals(stored(data[(1 * 3 + 2) * 4 + 1 + 2 * 1]), item(b, 1, 2).get(1, 1));
    assertEquals(stored(data[(0 * 3 + 1) * 4 + 1]), item(b, 0, 1).get(1, 0));
    double keep = stored(data[0]);
    data[0] = 99; // fromArray copies
    assertEquals(keep, be.toArray(b)[0]);
    be.toArray(b)[0] = 42; // toArray is fresh
    assertEquals(keep, be.toArray(b)[0]);

    Batch f = be.fill(2, 3, 1.5);
    assertEquals("[1 x 1] 2x3", f.describe());
    for (double v : be.toArray(f)) assertEquals(1.5, v);
    assertArrayEquals(new double[] {1, 0, 0, 0, 1, 0, 0, 0, 1}, be.toArray(be.eye(3)));

    assertContains(messageOf(IllegalArgumentException.class, () -> be.fromArray(1, 2, 2, 2, new double[7])), "fromArray", "8", "7");
  }

  /**
   * toArray of a range of samples: their items (every direction) as fromArray was given them, through
   * a view too; an empty range is empty; a range outside the samples is refused naming the batch.
   */
  @Test
  void toArrayOfARangeOfSamples() {
    int samples = 5, directions = 3, item = 2 * 2 * directions;
    double[] data = randomData(samples * item);
    Batch b = be.fromArray(samples, directions, 2, 2, data), view = be.reshape(b, 4, 1);
    for (int[] range : new int[][] {{0, 5}, {0, 1}, {2, 2}, {4, 1}, {3, 0}, {5, 0}})
      for (Batch x : new Batch[] {b, view}) {
        double[] got = be.toArray(x, range[0], range[1]);
        assertEquals(range[1] * item, got.length, Arrays.toString(range));
        for (int k = 0; k < got.length; k++) assertEquals(stored(data[range[0] * item + k]), got[k], "samples " + Arrays.toString(range) + " entry " + k);
      }
    assertContains(messageOf(IllegalArgumentException.class, () -> be.toArray(b, 4, 2)), "toArray", "samples 4 .. 5", "[5 x 3] 2x2");
    assertContains(messageOf(IllegalArgumentException.class, () -> be.toArray(b, -1, 1)), "toArray", "[5 x 3] 2x2");
  }

  /**
   * Empty items and empty inner dimensions: a product over k = 0 is zero, empty results keep
   * their shapes, reductions over no entries give their neutral values (sum 0, logSumExp -inf, the
   * determinant of a 0x0 item 1), and -0.0 survives fill.
   */
  @Test
  void degenerateShapes() {
    // k = 0: a zero product; m = 0 or n = 0: empty items
    Batch a = be.fromArray(2, 1, 3, 0, new double[0]), b = be.fromArray(2, 1, 0, 4, new double[0]);
    Batch z = be.matmul(a, false, b, false);
    assertEquals("[2 x 1] 3x4", z.describe());
    assertArrayEquals(new double[24], be.toArray(z));
    assertArrayEquals(new double[24], be.toArray(be.matmul(b, true, a, true))); // (4x0)(0x3)
    assertArrayEquals(new double[12], be.toArray(be.matmulSumSamples(a, false, b, false)));
    assertEquals("[2 x 1] 0x2", be.matmul(a, true, be.fill(3, 2, 1), false).describe());
    assertEquals("[2 x 1] 3x0", be.matmul(be.fill(3, 3, 1), false, a, false).describe());
    Batch empty = be.fill(0, 3, 2.0);
    assertEquals(0, be.toArray(be.add(empty, be.fill(1, 1, 1.0))).length);
    assertEquals("[1 x 1] 3x0", be.transpose(empty).describe());
    assertArrayEquals(new double[] {0}, be.toArray(be.sum(empty)));
    assertArrayEquals(new double[] {Double.NEGATIVE_INFINITY}, be.toArray(be.logSumExp(empty)));
    assertEquals(0, be.toArray(be.softmax(empty)).length);
    assertArrayEquals(new double[] {1}, be.toArray(be.determinant(be.eye(0))));
    assertEquals(0, be.toArray(be.gather(be.fill(3, 1, 1), be.fromArray(1, 1, 0, 1, new double[0]))).length);
    assertArrayEquals(new double[3], be.toArray(be.scatterAdd(be.fill(0, 1, 1), be.fromArray(1, 1, 0, 1, new double[0]), 3, 1)));
    assertEquals(Double.doubleToRawLongBits(-0.0), Double.doubleToRawLongBits(be.toArray(be.fill(1, 1, -0.0))[0]));
  }

  @Test
  void reshapeIsAView() {
    Batch a = random(2, 2, 3, 4);
    Batch r = be.reshape(a, 6, 2);
    assertEquals("[2 x 2] 6x2", r.describe());
    assertArrayEquals(be.toArray(a), be.toArray(r));
    assertContains(messageOf(IllegalArgumentException.class, () -> be.reshape(a, 5, 2)), "reshape", a.describe(), "5x2");
  }

  @Test
  void columnsAsDirectionsRoundTripAndItemMapping() {
    int S = 2, D = 3, r = 4, c = 5;
    Batch a = random(S, D, r, c);
    Batch cols = be.columnsAsDirections(a);
    assertEquals("[2 x 15] 4x1", cols.describe());
    for (int s = 0; s < S; s++)
      for (int d = 0; d < D; d++)
        for (int j = 0; j < c; j++) {
          DMatrixRMaj col = CommonOps_DDRM.extract(item(a, s, d), 0, r, j, j + 1);
          assertClose(col, item(cols, s, d * c + j), "column " + j + " of item (" + s + "," + d + ")");
        }
    Batch back = be.directionsAsColumns(cols, c);
    assertEquals(a.describe(), back.describe());
    assertArrayEquals(be.toArray(a), be.toArray(back));

    assertContains(messageOf(IllegalArgumentException.class, () -> be.directionsAsColumns(cols, 4)), "directionsAsColumns", "15", "4");
    assertContains(messageOf(IllegalArgumentException.class, () -> be.directionsAsColumns(a, 1)), "directionsAsColumns", a.describe());
  }

  @Test
  void samplesAsColumnsPutsSampleNInColumnN() {
    int S = 5, r = 3;
    Batch a = random(S, 1, r, 1);
    Batch m = be.samplesAsColumns(a);
    assertEquals("[1 x 1] 3x5", m.describe());
    for (int n = 0; n < S; n++)
      assertClose(item(a, n, 0), CommonOps_DDRM.extract(item(m, 0, 0), 0, r, n, n + 1), "column " + n);
    assertContains(messageOf(IllegalArgumentException.class, () -> be.samplesAsColumns(random(2, 2, 3, 1))), "samplesAsColumns", "[2 x 2] 3x1");
    assertContains(messageOf(IllegalArgumentException.class, () -> be.samplesAsColumns(random(2, 1, 3, 2))), "samplesAsColumns", "[2 x 1] 3x2");
  }

  // ---- elementwise ---------------------------------------------------------------------------

  private void checkBinary(String name, DoubleBinaryOperator op, BinaryOperator<Batch> kernel) {
    for (int[] ax : AXES) {
      // equal item shapes, a with 1x1 items, b with 1x1 items, both 1x1; then large items (at
      // least 6 x 2400 entries: the float32 BLAS backend's oneDNN kernels take these)
      int[][] shapes = {{3, 4, 3, 4}, {1, 1, 3, 4}, {3, 4, 1, 1}, {1, 1, 1, 1}, {40, 60, 40, 60}, {1, 1, 40, 60}, {40, 60, 1, 1}};
      for (int[] sh : shapes) {
        Batch a = random(ax[0], ax[1], sh[0], sh[1]);
        Batch b = random(ax[2], ax[3], sh[2], sh[3]);
        if (name.equals("divide")) b = be.map(b, ScalarFunction.of("away", "t + copysign((REAL) 0.5, t)", v -> v + Math.copySign(0.5, v))); // away from 0
        Batch bb = b;
        int rows = Math.max(sh[0], sh[2]), cols = Math.max(sh[1], sh[3]);
        Batch out = kernel.apply(a, b);
        assertEquals(rows, out.rows());
        assertEquals(cols, out.cols());
        assertItems(Math.max(ax[0], ax[2]), Math.max(ax[1], ax[3]), out, (s, v) -> {
          DMatrixRMaj x = item(a, s, v), y = item(bb, s, v), e = new DMatrixRMaj(rows, cols);
          for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
              e.set(i, j, op.applyAsDouble(x.numRows == 1 && x.numCols == 1 ? x.get(0, 0) : x.get(i, j),
                  y.numRows == 1 && y.numCols == 1 ? y.get(0, 0) : y.get(i, j)));
          return e;
        }, name + " " + Arrays.toString(ax) + " " + Arrays.toString(sh));
      }
    }
  }

  @Test
  void elementwiseWithBroadcasting() {
    checkBinary("add", (x, y) -> x + y, be::add);
    checkBinary("subtract", (x, y) -> x - y, be::subtract);
    checkBinary("multiply", (x, y) -> x * y, be::multiply);
    checkBinary("divide", (x, y) -> x / y, be::divide);
  }

  @Test
  void elementwiseErrors() {
    Batch a = random(2, 3, 3, 4), b = random(2, 3, 4, 3), c = random(3, 3, 3, 4);
    assertContains(messageOf(IllegalArgumentException.class, () -> be.add(a, b)), "add", a.describe(), b.describe(), "1x1");
    assertContains(messageOf(IllegalArgumentException.class, () -> be.multiply(a, c)), "multiply", a.describe(), c.describe(),
        "samples");
    Batch d = random(2, 2, 3, 4);
    assertContains(messageOf(IllegalArgumentException.class, () -> be.subtract(a, d)), "subtract", a.describe(), d.describe(),
        "directions");
  }

  @Test
  void scaleMapPower() {
    Batch a = random(2, 3, 3, 2);
    assertItems(2, 3, be.scale(a, -2.5), (s, v) -> entrywise(item(a, s, v), x -> -2.5 * x), "scale");
    assertItems(2, 3, be.map(a, ScalarFunction.of("t_tanh", "tanh(t)", Math::tanh)), (s, v) -> entrywise(item(a, s, v), Math::tanh), "map");
    Batch pos = be.map(a, ScalarFunction.of("abs_plus", "fabs(t) + (REAL) 0.1", x -> Math.abs(x) + 0.1));
    for (double e : new double[] {2, 3, 0.5, -1, 1, 0, -1.5})
      assertItems(2, 3, be.power(pos, e), (s, v) -> entrywise(item(pos, s, v), x -> Math.pow(x, e)), "power " + e);
    assertItems(2, 3, be.power(a, 2), (s, v) -> entrywise(item(a, s, v), x -> x * x), "power 2 of signed entries");
  }

  /** zerosLike: zeros of a's batch axes and item shape, also where a holds NaN or infinities (0 * a would not be). */
  @Test
  void zerosLikeIsZeroEvenWhereTheOperandIsNotFinite() {
    double[] data = randomData(2 * 3 * 3 * 2);
    data[0] = Double.NaN;
    data[5] = Double.POSITIVE_INFINITY;
    data[17] = Double.NEGATIVE_INFINITY;
    Batch a = be.fromArray(2, 3, 3, 2, data);
    Batch z = be.zerosLike(a);
    assertEquals(List.of(2, 3, 3, 2), List.of(z.samples(), z.directions(), z.rows(), z.cols()));
    double[] entries = be.toArray(z);
    assertEquals(36, entries.length);
    for (double e : entries) assertEquals(0.0, e, 0.0);
    Batch released = be.scale(a, 1); // storage that a later allocation may reuse: zerosLike must not show its entries
    be.release(released);
    for (double e : be.toArray(be.zerosLike(a))) assertEquals(0.0, e, 0.0);
    assertEquals(List.of(1, 1, 0, 4), shape(be.zerosLike(be.fromArray(1, 1, 0, 4, new double[0]))));
  }

  private static List<Integer> shape(Batch b) {
    return List.of(b.samples(), b.directions(), b.rows(), b.cols());
  }

  /**
   * mapMultiply(a, f, b) = f(a) .* b entrywise, computed here from the stored entries: same
   * layouts (large enough for the parallel chunked pass), and a broadcast over directions and
   * samples; f a ScalarFunction without and with a chunk form.
   */
  @Test
  void mapMultiplyIsTheMappedHadamardProduct() {
    ScalarFunction d1 = new ScalarFunction("mm_d1", "REAL mm_d1(REAL u) { return u * ((REAL) 1 - u); }\n", u -> u * (1 - u),
        (values, n) -> {
          for (int i = 0; i < n; i++) values[i] = values[i] * (1 - values[i]);
        });
    ScalarFunction square = ScalarFunction.of("square_half", "t * t + (REAL) 0.5", u -> u * u + 0.5);
    int[][] shapes = {{3, 2, 4, 5, 3, 2}, {40, 1, 97, 11, 40, 1}, {3, 1, 4, 5, 3, 4}, {1, 1, 4, 5, 3, 2}, {3, 2, 4, 5, 1, 1}};
    for (int[] sh : shapes)
      for (ScalarFunction f : java.util.List.of(d1, square)) {
        Batch a = random(sh[0], sh[1], sh[2], sh[3]), b = random(sh[4], sh[5], sh[2], sh[3]);
        int samples = Math.max(sh[0], sh[4]), directions = Math.max(sh[1], sh[5]);
        assertItems(samples, directions, be.mapMultiply(a, f, b), (s, v) -> {
          DMatrixRMaj r = entrywise(item(a, s, v), f);
          DMatrixRMaj bi = item(b, s, v);
          for (int p = 0; p < r.data.length; p++) r.data[p] *= bi.data[p];
          return r;
        }, "mapMultiply " + java.util.Arrays.toString(sh) + (f == d1 ? " chunked" : " entrywise"));
      }
  }

  /**
   * The contract of {@link Backend#multipliesStoredMaps}: where a backend says a stored f(x) times v
   * is its faster route, {@code multiply(map(x, f), v)} gives exactly the entries of {@code
   * mapMultiply(x, f, v)} (f(x) rounded to the entry's precision either way), so that a generated
   * operator may take either. The functions: the generated sigmoid's and tanh's derivatives of
   * their value (with their built-in names, which oneDNN's kernels know), one with a chunk form
   * only; the BLAS backends must take the stored route for one direction of x into several of v
   * (v with x's samples, or one sample for all: a bias's directions), and every backend must keep
   * the one pass for equal layouts.
   */
  @Test
  void aStoredMapTimesDirectionsIsTheMapMultiplyBitForBit() {
    ScalarFunction d1 = new ScalarFunction("st_d1", "REAL st_d1(REAL u) { return u * ((REAL) 1 - u); }\n", u -> u * (1 - u),
        (values, n) -> {
          for (int i = 0; i < n; i++) values[i] = values[i] * (1 - values[i]);
        });
    ScalarFunction sigmoid = new ScalarFunction("st_sigmoid_d1", "REAL st_sigmoid_d1(REAL u) { return u * ((REAL) 1 - u); }\n", u -> u * (1 - u),
        (values, n) -> {
          for (int i = 0; i < n; i++) values[i] = values[i] * (1 - values[i]);
        }, "sigmoid_d1_of_value");
    ScalarFunction tanh = new ScalarFunction("st_tanh_d1", "REAL st_tanh_d1(REAL u) { return (REAL) 1 - u * u; }\n", u -> 1 - u * u,
        (values, n) -> {
          for (int i = 0; i < n; i++) values[i] = 1 - values[i] * values[i];
        }, "tanh_d1_of_value");
    int[][] shapes = {{7, 1, 300, 1, 7, 10}, {3, 1, 4, 5, 3, 4}, {3, 2, 4, 5, 3, 2}, {40, 1, 97, 11, 40, 3}, {100, 1, 1024, 1, 100, 10},
        {50, 1, 640, 1, 1, 10}};
    int stored = 0;
    for (int[] sh : shapes)
      for (ScalarFunction f : java.util.List.of(d1, sigmoid, tanh)) {
        Batch x = random(sh[0], sh[1], sh[2], sh[3]), v = random(sh[4], sh[5], sh[2], sh[3]);
        String what = "f(x) .* v, x " + x.describe() + ", v " + v.describe() + ", " + f.name();
        if (sh[1] == sh[5]) assertFalse(be.multipliesStoredMaps(x, v), be.name() + ": equal layouts keep the one pass: " + what);
        if (sh[1] == 1 && sh[5] > 1 && be.name().startsWith("blas"))
          assertTrue(be.multipliesStoredMaps(x, v), be.name() + " should multiply a stored map into directions: " + what);
        if (!be.multipliesStoredMaps(x, v)) continue;
        stored++;
        double[] fused = be.toArray(be.mapMultiply(x, f, v)), product = be.toArray(be.multiply(be.map(x, f), v));
        assertArrayEquals(fused, product, 0, what);
      }
    if (be.name().startsWith("blas")) assertEquals(15, stored, be.name() + ": the broadcasts over directions");
  }

  /**
   * {@code scale(a, c)} over a batch of several tasks' entries with a tail that fills no vector
   * (3 x 7 items of 1000 x 13): each entry is {@code c * a} rounded once to the stored precision
   * (c = -2.5 and 0.375, exact in float, so that the double product is exact before its rounding).
   */
  @Test
  void scaleOfALargeBatchIsOneRoundedProductPerEntry() {
    Batch a = random(3, 7, 1000, 13);
    double[] x = be.toArray(a);
    for (double c : new double[] {-2.5, 0.375}) {
      double[] got = be.toArray(be.scale(a, c));
      for (int i = 0; i < x.length; i++) {
        double want = precision() == Precision.FLOAT32 ? (double) (float) (c * x[i]) : c * x[i];
        if (got[i] != want) throw new AssertionError(be.name() + ": scale by " + c + ", entry " + i + ": " + got[i] + " where " + want);
      }
    }
  }

  // ---- per-item linear algebra ---------------------------------------------------------------

  private void checkMatmul(int[] ax, int m, int k, int n, boolean ta, boolean tb) {
    Batch a = ta ? random(ax[0], ax[1], k, m) : random(ax[0], ax[1], m, k);
    Batch b = tb ? random(ax[2], ax[3], n, k) : random(ax[2], ax[3], k, n);
    Batch out = be.matmul(a, ta, b, tb);
    assertEquals(m, out.rows());
    assertEquals(n, out.cols());
    assertItems(Math.max(ax[0], ax[2]), Math.max(ax[1], ax[3]), out, (s, v) -> {
      DMatrixRMaj x = item(a, s, v), y = item(b, s, v), e = new DMatrixRMaj(m, n);
      CommonOps_DDRM.mult(ta ? transposed(x) : x, tb ? transposed(y) : y, e);
      return e;
    }, "matmul " + Arrays.toString(ax) + " " + m + "x" + k + "x" + n + " ta=" + ta + " tb=" + tb);
  }

  @Test
  void matmulAllTransposesAndBroadcasts() {
    for (int[] ax : AXES)
      for (boolean ta : new boolean[] {false, true})
        for (boolean tb : new boolean[] {false, true}) {
          checkMatmul(ax, 3, 7, 4, ta, tb);
          checkMatmul(ax, 5, 2, 1, ta, tb);
        }
  }

  @Test
  void matmulSharedLeftFastPathAndRemainders() {
    // a single item of a, b not transposed: one wide product; inner sizes cover the unrolled
    // loop and every remainder
    for (int k = 1; k <= 9; k++)
      for (boolean ta : new boolean[] {false, true}) {
        checkMatmul(new int[] {1, 1, 3, 4}, 6, k, 5, ta, false);
        checkMatmul(new int[] {1, 1, 1, 1}, 2, k, 3, ta, false);
        checkMatmul(new int[] {2, 2, 2, 2}, 4, k, 3, ta, false); // non-fast path
      }
    // a single item with b transposed takes the per-item path
    checkMatmul(new int[] {1, 1, 3, 2}, 4, 6, 5, false, true);
    checkMatmul(new int[] {1, 1, 3, 2}, 4, 6, 5, true, true);
  }

  /** op(a) op(b) + c against EJML, c with the given batch axes (broadcast where they are 1). */
  private void checkMatmulAdd(int[] ax, int cs, int cd, int m, int k, int n, boolean ta, boolean tb) {
    Batch a = ta ? random(ax[0], ax[1], k, m) : random(ax[0], ax[1], m, k);
    Batch b = tb ? random(ax[2], ax[3], n, k) : random(ax[2], ax[3], k, n);
    Batch c = random(cs, cd, m, n);
    Batch out = be.matmulAdd(a, ta, b, tb, c);
    assertEquals(m, out.rows());
    assertEquals(n, out.cols());
    assertItems(Math.max(Math.max(ax[0], ax[2]), cs), Math.max(Math.max(ax[1], ax[3]), cd), out, (s, v) -> {
      DMatrixRMaj x = item(a, s, v), y = item(b, s, v), e = new DMatrixRMaj(m, n);
      CommonOps_DDRM.mult(ta ? transposed(x) : x, tb ? transposed(y) : y, e);
      CommonOps_DDRM.addEquals(e, item(c, s, v));
      return e;
    }, "matmulAdd " + Arrays.toString(ax) + " c [" + cs + " x " + cd + "] " + m + "x" + k + "x" + n + " ta=" + ta + " tb=" + tb);
  }

  @Test
  void matmulAddAllTransposesAndBroadcasts() {
    for (int[] ax : AXES)
      for (boolean ta : new boolean[] {false, true})
        for (boolean tb : new boolean[] {false, true}) {
          int samples = Math.max(ax[0], ax[2]), directions = Math.max(ax[1], ax[3]);
          checkMatmulAdd(ax, 1, 1, 3, 7, 4, ta, tb); // a bias: one item for all
          checkMatmulAdd(ax, samples, directions, 3, 7, 4, ta, tb); // one per product item
          checkMatmulAdd(ax, samples, 1, 5, 2, 1, ta, tb);
          checkMatmulAdd(ax, 1, directions, 5, 2, 1, ta, tb);
        }
    // the shared-left fast path (a layer's W*x + b) and an empty inner dimension (c alone)
    checkMatmulAdd(new int[] {1, 1, 4, 1}, 1, 1, 6, 5, 1, false, false);
    checkMatmulAdd(new int[] {1, 1, 4, 1}, 1, 1, 6, 0, 3, true, false);
    // c with more samples than the product: broadcast the product, as add does
    checkMatmulAdd(new int[] {1, 1, 1, 1}, 3, 2, 2, 3, 4, false, false);
    Batch a = random(2, 1, 3, 4), b = random(2, 1, 4, 2), wrong = random(2, 1, 2, 3);
    assertContains(messageOf(IllegalArgumentException.class, () -> be.matmulAdd(a, false, b, false, wrong)), wrong.describe());
  }

  /** sum over the samples of op(a) op(b), per direction; a shared operand counts once per sample. */
  private void checkMatmulSumSamples(int[] ax, int m, int k, int n, boolean ta, boolean tb) {
    Batch a = ta ? random(ax[0], ax[1], k, m) : random(ax[0], ax[1], m, k);
    Batch b = tb ? random(ax[2], ax[3], n, k) : random(ax[2], ax[3], k, n);
    Batch out = be.matmulSumSamples(a, ta, b, tb);
    int samples = Math.max(ax[0], ax[2]);
    assertEquals(m, out.rows());
    assertEquals(n, out.cols());
    assertItems(1, Math.max(ax[1], ax[3]), out, (s, v) -> {
      DMatrixRMaj e = new DMatrixRMaj(m, n), p = new DMatrixRMaj(m, n);
      for (int q = 0; q < samples; q++) {
        DMatrixRMaj x = item(a, q, v), y = item(b, q, v);
        CommonOps_DDRM.mult(ta ? transposed(x) : x, tb ? transposed(y) : y, p);
        CommonOps_DDRM.addEquals(e, p);
      }
      return e;
    }, "matmulSumSamples " + Arrays.toString(ax) + " " + m + "x" + k + "x" + n + " ta=" + ta + " tb=" + tb);
  }

  @Test
  void matmulSumSamplesAllTransposesAndBroadcasts() {
    int[][] axes = Arrays.copyOf(AXES, AXES.length + 2);
    axes[AXES.length] = new int[] {3, 1, 3, 1}; // one direction, all samples: sum_s A_s B_s' is one product
    axes[AXES.length + 1] = new int[] {3, 1, 3, 4}; // a shared by the directions of each sample
    for (int[] ax : axes)
      for (boolean ta : new boolean[] {false, true})
        for (boolean tb : new boolean[] {false, true}) {
          checkMatmulSumSamples(ax, 3, 7, 4, ta, tb);
          checkMatmulSumSamples(ax, 5, 1, 2, ta, tb); // outer products: a weight gradient
        }
    Batch a = random(2, 1, 3, 4), b = random(2, 1, 5, 2);
    assertContains(messageOf(IllegalArgumentException.class, () -> be.matmulSumSamples(a, false, b, false)), "matmulSumSamples",
        a.describe(), b.describe(), "3x4", "5x2");
  }

  @Test
  void matmulErrors() {
    Batch a = random(2, 3, 3, 4), b = random(2, 3, 5, 2);
    assertContains(messageOf(IllegalArgumentException.class, () -> be.matmul(a, false, b, false)), "matmul", a.describe(),
        b.describe(), "3x4", "5x2");
    Batch c = random(2, 3, 4, 3); // op(c) = c' is 3x4
    assertContains(messageOf(IllegalArgumentException.class, () -> be.matmul(a, false, c, true)), "matmul", c.describe(),
        "transposed", "3x4");
    Batch d = random(3, 3, 4, 2);
    assertContains(messageOf(IllegalArgumentException.class, () -> be.matmul(a, false, d, false)), "matmul", a.describe(),
        d.describe(), "samples 2 vs 3");
  }

  @Test
  void transposeAndKron() {
    Batch a = random(2, 3, 3, 5);
    Batch t = be.transpose(a);
    assertEquals("[2 x 3] 5x3", t.describe());
    assertItems(2, 3, t, (s, v) -> transposed(item(a, s, v)), "transpose");
    for (int[] ax : AXES) {
      Batch x = random(ax[0], ax[1], 2, 3), y = random(ax[2], ax[3], 3, 2);
      Batch k = be.kron(x, y);
      assertEquals(6, k.rows());
      assertEquals(6, k.cols());
      assertItems(Math.max(ax[0], ax[2]), Math.max(ax[1], ax[3]), k,
          (s, v) -> CommonOps_DDRM.kron(item(x, s, v), item(y, s, v), null), "kron " + Arrays.toString(ax));
    }
    Batch x = random(2, 1, 1, 4), y = random(1, 3, 3, 1);
    assertItems(2, 3, be.kron(x, y), (s, v) -> CommonOps_DDRM.kron(item(x, s, v), item(y, s, v), null), "kron row x column");
  }

  @Test
  void reductionsAndDiagonals() {
    Batch a = random(2, 3, 4, 4), r = random(2, 3, 3, 5), v = random(2, 3, 4, 1);
    assertItems(2, 3, be.sum(r), (s, d) -> scalar(CommonOps_DDRM.elementSum(item(r, s, d))), "sum");
    assertItems(2, 3, be.trace(a), (s, d) -> scalar(CommonOps_DDRM.trace(item(a, s, d))), "trace");
    assertItems(2, 3, be.diagonal(a), (s, d) -> {
      DMatrixRMaj e = new DMatrixRMaj(4, 1);
      CommonOps_DDRM.extractDiag(item(a, s, d), e);
      return e;
    }, "diagonal");
    assertItems(2, 3, be.diagMatrix(v), (s, d) -> CommonOps_DDRM.diag(item(v, s, d).data), "diagMatrix");

    assertContains(messageOf(IllegalArgumentException.class, () -> be.trace(r)), "trace", r.describe(), "square");
    assertContains(messageOf(IllegalArgumentException.class, () -> be.diagonal(r)), "diagonal", r.describe());
    assertContains(messageOf(IllegalArgumentException.class, () -> be.diagMatrix(r)), "diagMatrix", r.describe(), "n x 1");
  }

  @Test
  void softmaxAndLogSumExp() {
    Batch a = be.scale(random(2, 3, 5, 2), 4);
    assertItems(2, 3, be.softmax(a), (s, v) -> {
      DMatrixRMaj e = entrywise(item(a, s, v), Math::exp);
      CommonOps_DDRM.divide(e, CommonOps_DDRM.elementSum(e));
      return e;
    }, "softmax");
    assertItems(2, 3, be.logSumExp(a),
        (s, v) -> scalar(Math.log(CommonOps_DDRM.elementSum(entrywise(item(a, s, v), Math::exp)))), "logSumExp");

    // stability: entries whose exp overflows or underflows
    Batch big = be.fromArray(1, 2, 2, 1, new double[] {1000, 1000, -1000, -1001});
    double[] lse = be.toArray(be.logSumExp(big));
    assertEquals(1000 + Math.log(2), lse[0], allowed(1000));
    assertEquals(-1000 + Math.log1p(Math.exp(-1)), lse[1], allowed(1000));
    double[] sm = be.toArray(be.softmax(big));
    assertEquals(0.5, sm[0], allowed(1));
    assertEquals(0.5, sm[1], allowed(1));
    assertEquals(1 / (1 + Math.exp(-1)), sm[2], allowed(1));
    assertEquals(Double.NEGATIVE_INFINITY,
        be.toArray(be.logSumExp(be.fromArray(1, 1, 2, 1, new double[] {Double.NEGATIVE_INFINITY, Double.NEGATIVE_INFINITY})))[0]);
  }

  /** Well-conditioned random square items: random + n*I. */
  private Batch wellConditioned(int samples, int directions, int n) {
    Batch r = random(samples, directions, n, n);
    return be.add(r, be.scale(be.eye(n), n));
  }

  @Test
  void inverseAndDeterminant() {
    for (int n : new int[] {1, 2, 3, 5, 7}) {
      Batch a = wellConditioned(2, 3, n);
      assertItems(2, 3, be.inverse(a), (s, v) -> {
        DMatrixRMaj e = new DMatrixRMaj(n, n);
        assertTrue(CommonOps_DDRM.invert(item(a, s, v), e));
        return e;
      }, "inverse " + n);
      Batch det = be.determinant(a);
      assertEquals(1, det.rows());
      for (int s = 0; s < 2; s++)
        for (int v = 0; v < 3; v++) {
          double e = CommonOps_DDRM.det(item(a, s, v));
          assertEquals(e, item(det, s, v).get(0, 0), tol * Math.max(1, Math.abs(e)), "det " + n);
        }
    }
    // a non-symmetric item checks the orientation of inverse and determinant
    Batch ns = be.fromArray(1, 1, 2, 2, new double[] {1, 3, 2, 4}); // [[1, 2], [3, 4]]
    assertArrayEquals(new double[] {-2, 1.5, 1, -0.5}, be.toArray(be.inverse(ns)), allowed(2));
    assertEquals(-2, be.toArray(be.determinant(ns))[0], allowed(2));

    double[] d = be.toArray(wellConditioned(1, 3, 3));
    double[] singular = {1, 2, 3, 2, 4, 6, 0, 1, 5}; // columns 0 and 1 parallel
    System.arraycopy(singular, 0, d, 2 * 9, 9);
    Batch withSingular = be.fromArray(1, 3, 3, 3, d);
    assertContains(messageOf(ArithmeticException.class, () -> be.inverse(withSingular)), "inverse", "item 2", "singular");
    Batch rect = random(1, 1, 2, 3);
    assertContains(messageOf(IllegalArgumentException.class, () -> be.inverse(rect)), "inverse", rect.describe(), "square");
    assertContains(messageOf(IllegalArgumentException.class, () -> be.determinant(rect)), "determinant", rect.describe());
  }

  private static double[] sortedEigenvalues(DMatrixRMaj sym) {
    EigenDecomposition_F64<DMatrixRMaj> eig = DecompositionFactory_DDRM.eig(sym.numRows, false, true);
    assertTrue(eig.decompose(sym.copy()));
    double[] l = new double[sym.numRows];
    for (int i = 0; i < l.length; i++) l[i] = eig.getEigenvalue(i).real;
    Arrays.sort(l);
    return l;
  }

  @Test
  void symmetricEigenMap() {
    int n = 5;
    Batch a = random(2, 3, n, n);
    BiFunction<Integer, Integer, DMatrixRMaj> sym = (s, v) -> {
      DMatrixRMaj x = item(a, s, v), e = new DMatrixRMaj(n, n);
      CommonOps_DDRM.add(0.5, x, 0.5, transposed(x), e);
      return e;
    };
    // f = identity reproduces the symmetrized item
    assertItems(2, 3, be.symmetricEigenMap(a, x -> x), sym, "symmetricEigenMap identity");

    // f = max(., 0) gives the PSD projection
    Batch psd = be.symmetricEigenMap(a, x -> Math.max(x, 0));
    for (int s = 0; s < 2; s++)
      for (int v = 0; v < 3; v++) {
        DMatrixRMaj p = item(psd, s, v), sv = sym.apply(s, v);
        assertClose(transposed(p), p, "PSD projection symmetric");
        double[] expected = sortedEigenvalues(sv), actual = sortedEigenvalues(p);
        for (int i = 0; i < n; i++) expected[i] = Math.max(expected[i], 0);
        Arrays.sort(expected);
        assertArrayEquals(expected, actual, Math.max(1e-10, allowed(expected[n - 1])), "eigenvalues of the PSD projection");
        assertTrue(expected[0] < 1e-10 && sortedEigenvalues(sv)[0] < 0, "test data has a negative eigenvalue");
        // P (P - S) = 0: P lives on the non-negative eigenspace
        DMatrixRMaj diff = new DMatrixRMaj(n, n), prod = new DMatrixRMaj(n, n);
        CommonOps_DDRM.subtract(p, sv, diff);
        CommonOps_DDRM.mult(p, diff, prod);
        assertClose(new DMatrixRMaj(n, n), prod, "P (P - S)");
      }

    // f = abs: |S|^2 = S^2
    Batch abs = be.symmetricEigenMap(a, Math::abs);
    assertItems(2, 3, be.matmul(abs, false, abs, false), (s, v) -> {
      DMatrixRMaj x = sym.apply(s, v), e = new DMatrixRMaj(n, n);
      CommonOps_DDRM.mult(x, x, e);
      return e;
    }, "|S|^2");
  }

  // ---- structured linear maps ----------------------------------------------------------------

  /** Geometries built on use (not in a static initializer, so a faulty ConvGeometry fails only the tests using it). */
  private static ConvGeometry[] geometries() {
    return new ConvGeometry[] {
        new ConvGeometry(1, 3, 3, 2, 1, 0, 1),
        new ConvGeometry(2, 5, 6, 3, 2, 1, 2), // stride 2, padding 1, dilation 2
        new ConvGeometry(3, 4, 5, 3, 1, 1, 1), // padding 1
        new ConvGeometry(2, 7, 6, 2, 2, 0, 1), // stride 2
        new ConvGeometry(1, 6, 4, 2, 1, 0, 2), // dilation 2
        new ConvGeometry(2, 2, 2, 3, 1, 1, 1), // kernel larger than the input
    };
  }

  private static Expr.ConvDims exprGeometry(ConvGeometry g) {
    return new Expr.ConvDims(Dim.of(g.c()), Dim.of(g.h()), Dim.of(g.w()), Dim.of(g.k()), Dim.of(g.s()), Dim.of(g.p()),
        Dim.of(g.d()));
  }

  @Test
  void unfoldMatchesEvaluator() {
    for (ConvGeometry g : geometries()) {
      Batch x = random(2, 3, g.c(), g.h() * g.w());
      Batch u = be.unfold(x, g);
      assertEquals(g.patchRows(), u.rows());
      assertEquals(g.patches(), u.cols());
      Expr.Var xv = new Expr.Var("X", Shape.tensor(Dim.of(g.c()), Dim.of(g.h()), Dim.of(g.w())), Expr.Role.INPUT);
      Expr unfold = new Expr.Unfold(xv, exprGeometry(g));
      assertItems(2, 3, u, (s, v) -> {
        // the item c x (h*w) in column-major order is the tensor (c, h, w)
        Tensor t = Tensor.fromDMatrix(item(x, s, v)).reshape(g.c(), g.h(), g.w());
        return Evaluator.evaluate(unfold, Map.of("X", t), Map.of()).toDMatrix();
      }, "unfold " + g);
    }
    Batch bad = random(1, 1, 2, 5);
    ConvGeometry g = geometries()[1];
    assertContains(messageOf(IllegalArgumentException.class, () -> be.unfold(bad, g)), "unfold", bad.describe(), "60");
  }

  @Test
  void foldIsTheAdjointOfUnfold() {
    for (ConvGeometry g : geometries()) {
      Batch x = random(2, 3, g.c(), g.h() * g.w());
      Batch c = random(2, 3, g.patchRows(), g.patches());
      Batch f = be.fold(c, g);
      assertEquals(g.c(), f.rows());
      assertEquals(g.h() * g.w(), f.cols());
      double lhs = dot(be.toArray(f), be.toArray(x)), rhs = dot(be.toArray(c), be.toArray(be.unfold(x, g)));
      assertEquals(rhs, lhs, tol * Math.max(1, Math.abs(rhs)), "<fold(C), X> = <C, unfold(X)> for " + g);
    }
    Batch bad = random(1, 1, 3, 3);
    assertContains(messageOf(IllegalArgumentException.class, () -> be.fold(bad, geometries()[0])), "fold", bad.describe(), "4x4");
  }

  // ---- convolutions --------------------------------------------------------------------------

  /** A fused-convolution case: the input geometry and the number of filters (output channels). */
  private record ConvCase(ConvGeometry g, int cout) {
    @Override
    public String toString() {
      return g + " cout=" + cout;
    }
  }

  /**
   * Cases for the fused convolutions (built on use, as {@link #geometries()}): kernels 1, 3 and 5;
   * strides 1, 2 and 3; padding 0, 1 and 2; dilation 1 and 2; h != w; 1, 3 and 16 channels in;
   * 1, 4 and 32 filters.
   */
  private static ConvCase[] convolutionCases() {
    return new ConvCase[] {
        new ConvCase(new ConvGeometry(1, 7, 5, 1, 1, 0, 1), 4), // 1x1 kernel: a product per pixel
        new ConvCase(new ConvGeometry(3, 7, 5, 1, 2, 0, 1), 1), // 1x1 kernel, stride 2: subsampling
        new ConvCase(new ConvGeometry(3, 7, 5, 1, 1, 1, 1), 4), // 1x1 kernel, padding 1: border outputs all padding
        new ConvCase(new ConvGeometry(3, 7, 5, 3, 1, 1, 1), 4), // "same" 3x3
        new ConvCase(new ConvGeometry(3, 9, 12, 3, 2, 1, 1), 32), // stride 2, h < w
        new ConvCase(new ConvGeometry(16, 9, 12, 3, 1, 1, 1), 32), // 144-term sums
        new ConvCase(new ConvGeometry(1, 9, 12, 3, 3, 0, 2), 1), // stride 3, dilation 2
        new ConvCase(new ConvGeometry(3, 7, 5, 3, 1, 2, 1), 4), // padding 2: output larger than the input
        new ConvCase(new ConvGeometry(3, 9, 12, 5, 1, 2, 1), 4), // "same" 5x5
        new ConvCase(new ConvGeometry(16, 9, 12, 5, 3, 2, 2), 32), // all at once: 400-term sums, a 2x3 output
        new ConvCase(new ConvGeometry(1, 7, 5, 5, 2, 0, 1), 4), // valid 5x5, stride 2: a 2x1 output
        new ConvCase(new ConvGeometry(16, 7, 5, 3, 2, 2, 2), 4), // stride 2, padding 2, dilation 2
        new ConvCase(new ConvGeometry(3, 2, 2, 3, 1, 1, 1), 4), // kernel larger than the input
    };
  }

  /** Item (s, v) of b's entries {@code data} (as toArray lays them out), broadcasting axes of extent 1. */
  private static double[] itemData(double[] data, Batch b, int s, int v) {
    int ss = b.samples() == 1 ? 0 : s, vv = b.directions() == 1 ? 0 : v, n = b.itemSize();
    int at = (ss * b.directions() + vv) * n;
    return Arrays.copyOfRange(data, at, at + n);
  }

  /**
   * Calls {@code term(o, col, in, out)} for every term of a direct convolution with geometry g and
   * cout filters: filter entry {@code W[o, col]} at {@code o + cout*col}, {@code col = (ch*k + ki)*k
   * + kj}, times input entry {@code X[ch, y, x]} at {@code in = ch + c*(y + h*x)}, {@code y = oy*s
   * - p + ki*d}, {@code x = ox*s - p + kj*d}, into output entry (o, oy + outH*ox) at {@code out = o
   * + cout*(oy + outH*ox)}; terms in the padding are skipped. Straight from the definition in
   * {@link ConvGeometry}, independent of the backends' unfold, fold and products.
   */
  private static void forEachConvolutionTerm(ConvGeometry g, int cout, ConvTerm term) {
    int c = g.c(), h = g.h(), wd = g.w(), k = g.k(), outH = g.outH(), outW = g.outW();
    for (int ox = 0; ox < outW; ox++)
      for (int oy = 0; oy < outH; oy++)
        for (int ch = 0; ch < c; ch++)
          for (int ki = 0; ki < k; ki++)
            for (int kj = 0; kj < k; kj++) {
              int y = oy * g.s() - g.p() + ki * g.d(), x = ox * g.s() - g.p() + kj * g.d();
              if (y < 0 || y >= h || x < 0 || x >= wd) continue; // padding: a zero
              int col = (ch * k + ki) * k + kj, in = ch + c * (y + h * x);
              for (int o = 0; o < cout; o++) term.at(o, col, in, o + cout * (oy + outH * ox));
            }
  }

  @FunctionalInterface
  private interface ConvTerm {
    void at(int o, int col, int in, int out);
  }

  /**
   * The direct convolution of one item, {@code out = W * unfold(X)} (cout x patches), accumulated
   * into value; sumAbs accumulates the terms' magnitudes, which bound the rounding error of any
   * summation order.
   */
  private static void directConvolution(double[] w, double[] x, ConvGeometry g, int cout, double[] value, double[] sumAbs) {
    forEachConvolutionTerm(g, cout, (o, col, in, out) -> {
      double t = w[o + cout * col] * x[in];
      value[out] += t;
      sumAbs[out] += Math.abs(t);
    });
  }

  /** The adjoint of {@link #directConvolution} in X for one item: {@code fold(W' * Y)}, c x (h*w), accumulated. */
  private static void directConvolutionAdjoint(double[] w, double[] y, ConvGeometry g, int cout, double[] value, double[] sumAbs) {
    forEachConvolutionTerm(g, cout, (o, col, in, out) -> {
      double t = w[o + cout * col] * y[out];
      value[in] += t;
      sumAbs[in] += Math.abs(t);
    });
  }

  /** The adjoint of {@link #directConvolution} in W for one item: {@code Y * unfold(X)'}, cout x (c*k*k), accumulated. */
  private static void directConvolutionWeightGradient(double[] y, double[] x, ConvGeometry g, int cout, double[] value,
      double[] sumAbs) {
    forEachConvolutionTerm(g, cout, (o, col, in, out) -> {
      double t = y[out] * x[in];
      value[o + cout * col] += t;
      sumAbs[o + cout * col] += Math.abs(t);
    });
  }

  /**
   * Asserts the rows x (value.length/rows) item of {@code actual} at {@code at} matches the
   * reference entrywise, each within {@code allowed} of its sum of |terms|: float32 rounding of a
   * sum is bounded relative to the sum of its terms' magnitudes, not to the (possibly cancelled)
   * sum itself.
   */
  private void assertMatchesReference(double[] value, double[] sumAbs, double[] actual, int at, int rows, String what) {
    for (int p = 0; p < value.length; p++) {
      int q = p;
      double err = Math.abs(actual[at + p] - value[p]), bound = allowed(sumAbs[p]);
      assertTrue(err <= bound, () -> what + ": entry (" + q % rows + ", " + q / rows + ") is " + actual[at + q] + ", expected "
          + value[q] + " (error " + err + ", allowed " + bound + ")");
    }
  }

  private static void assertBatchShape(int samples, int directions, int rows, int cols, Batch b, String what) {
    assertEquals("[" + samples + " x " + directions + "] " + rows + "x" + cols, b.describe(), what + ": result shape");
  }

  /**
   * convolution(w, x, g, bias) against the direct definition plus bias * ones', item by item, for
   * each bias of biases (null: no bias); the reference product is computed once for all of them.
   */
  private void checkConvolution(ConvCase cc, Batch w, Batch x, Batch[] cs, String what) {
    ConvGeometry g = cc.g();
    int cout = cc.cout(), size = cout * g.patches();
    int productSamples = Math.max(w.samples(), x.samples()), productDirections = Math.max(w.directions(), x.directions());
    double[] ws = be.toArray(w), xs = be.toArray(x);
    double[][] value = new double[productSamples * productDirections][size], sumAbs = new double[value.length][size];
    for (int s = 0; s < productSamples; s++)
      for (int v = 0; v < productDirections; v++) {
        int item = s * productDirections + v;
        directConvolution(itemData(ws, w, s, v), itemData(xs, x, s, v), g, cout, value[item], sumAbs[item]);
      }
    for (Batch c : cs) {
      int samples = Math.max(productSamples, c == null ? 1 : c.samples());
      int directions = Math.max(productDirections, c == null ? 1 : c.directions());
      String withC = what + (c == null ? ", no bias" : ", bias " + c.describe());
      Batch out = be.convolution(w, x, g, c);
      assertBatchShape(samples, directions, cout, g.patches(), out, withC);
      double[] os = be.toArray(out), cd = c == null ? null : be.toArray(c);
      for (int s = 0; s < samples; s++)
        for (int v = 0; v < directions; v++) {
          int item = (productSamples == 1 ? 0 : s) * productDirections + (productDirections == 1 ? 0 : v);
          double[] e = value[item].clone(), a = sumAbs[item].clone();
          if (c != null) {
            double[] ci = itemData(cd, c, s, v); // one entry per filter, the same in every column
            for (int p = 0; p < size; p++) {
              e[p] += ci[p % cout];
              a[p] += Math.abs(ci[p % cout]);
            }
          }
          assertMatchesReference(e, a, os, (s * directions + v) * size, cout, withC + " item (" + s + "," + v + ")");
        }
    }
  }

  @Test
  void convolutionMatchesDirectDefinition() {
    int[][] axes = {{1, 1}, {5, 3}, {5, 1}, {1, 3}}; // samples and directions of x
    for (ConvCase cc : convolutionCases()) {
      ConvGeometry g = cc.g();
      int cout = cc.cout(), n = g.patches(), in = g.h() * g.w();
      Batch w = random(1, 1, cout, g.patchRows()); // filters shared by every item
      for (int[] ax : axes) {
        int S = ax[0], D = ax[1];
        Batch x = random(S, D, g.c(), in);
        // no bias, a bias per item, one shared bias (a layer's), a bias per sample
        checkConvolution(cc, w, x, new Batch[] {null, random(S, D, cout, 1), random(1, 1, cout, 1), random(S, 1, cout, 1)},
            "convolution " + cc + ", x " + x.describe());
      }
      // a bias with more items than the product: the product is broadcast, as add does
      checkConvolution(cc, w, random(1, 1, g.c(), in), new Batch[] {random(5, 3, cout, 1)}, "convolution " + cc + ", x shared");
      // the same c*h*w entries per item, split into rows and columns differently
      Batch x = random(5, 3, g.c(), in);
      Batch[] cs = {null, random(1, 1, cout, 1), random(5, 3, cout, 1)};
      checkConvolution(cc, w, be.reshape(x, g.inputSize(), 1), cs, "convolution " + cc + ", x as (c*h*w) x 1");
      checkConvolution(cc, w, be.reshape(x, 1, g.inputSize()), cs, "convolution " + cc + ", x as 1 x (c*h*w)");
      checkConvolution(cc, w, be.reshape(x, g.c() * g.h(), g.w()), cs, "convolution " + cc + ", x as (c*h) x w");
    }
  }

  /**
   * Filters in directions (a convolution's J_W v: one filter item per direction, over inputs of
   * one direction) and filters per sample and direction, against the direct definition item by
   * item; and whether the backend says it convolves them directly agrees with the result.
   */
  @Test
  void convolutionOfFiltersInDirectionsMatchesDirectDefinition() {
    for (ConvCase cc : convolutionCases()) {
      ConvGeometry g = cc.g();
      int cout = cc.cout(), in = g.h() * g.w();
      Batch x = random(5, 1, g.c(), in);
      checkConvolution(cc, random(1, 3, cout, g.patchRows()), x, new Batch[] {null, random(1, 1, cout, 1)},
          "convolution " + cc + ", filters in 3 directions");
      checkConvolution(cc, random(1, 1, cout, g.patchRows()), x, new Batch[] {null}, "convolution " + cc + ", one filter item");
      checkConvolution(cc, random(5, 3, cout, g.patchRows()), x, new Batch[] {null}, "convolution " + cc + ", filters per sample and direction");
      checkConvolution(cc, random(1, 3, cout, g.patchRows()), random(5, 3, g.c(), in), new Batch[] {null},
          "convolution " + cc + ", filters and x in 3 directions");
      checkConvolution(cc, random(1, 3, cout, g.patchRows()), be.reshape(x, g.inputSize(), 1), new Batch[] {null},
          "convolution " + cc + ", filters in 3 directions, x as (c*h*w) x 1");
    }
  }

  @Test
  void convolutionAdjointMatchesDirectDefinition() {
    int[][] axes = {{1, 1}, {5, 3}, {2, 1}, {1, 3}, {3, 2}}; // samples and directions of y
    for (ConvCase cc : convolutionCases()) {
      ConvGeometry g = cc.g();
      int cout = cc.cout(), n = g.patches(), in = g.inputSize();
      Batch w = random(1, 1, cout, g.patchRows());
      double[] ws = be.toArray(w);
      for (int[] ax : axes) {
        int S = ax[0], D = ax[1];
        Batch y = random(S, D, cout, n);
        String what = "convolutionAdjoint " + cc + ", y " + y.describe();
        Batch out = be.convolutionAdjoint(w, y, g);
        assertBatchShape(S, D, g.c(), g.h() * g.w(), out, what);
        // <convolution(w, x), y> = <x, convolutionAdjoint(w, y)> per item
        Batch x = random(S, D, g.c(), g.h() * g.w());
        Batch conv = be.convolution(w, x, g, null);
        double[] ys = be.toArray(y), os = be.toArray(out), xs = be.toArray(x), cs = be.toArray(conv);
        for (int s = 0; s < S; s++)
          for (int v = 0; v < D; v++) {
            int item = s * D + v;
            double[] yi = itemData(ys, y, s, v), value = new double[in], sumAbs = new double[in];
            directConvolutionAdjoint(ws, yi, g, cout, value, sumAbs);
            assertMatchesReference(value, sumAbs, os, item * in, g.c(), what + " item (" + s + "," + v + ")");

            double[] xi = itemData(xs, x, s, v), convValue = new double[cout * n], convSumAbs = new double[cout * n];
            directConvolution(ws, xi, g, cout, convValue, convSumAbs);
            double[] ci = itemData(cs, conv, s, v), ai = itemData(os, out, s, v);
            // each side's error: the entries' allowed errors weighted by the other factor
            double bound = 0;
            for (int p = 0; p < ci.length; p++) bound += Math.abs(yi[p]) * allowed(convSumAbs[p]);
            for (int p = 0; p < ai.length; p++) bound += Math.abs(xi[p]) * allowed(sumAbs[p]);
            double lhs = dot(ci, yi), rhs = dot(xi, ai);
            assertEquals(lhs, rhs, bound,
                what + " item (" + s + "," + v + "): <convolution(w, x), y> = <x, convolutionAdjoint(w, y)>");
          }
      }
    }
  }

  /** convolutionWeightGradient(y, x, g) against the direct definition, summed over the samples. */
  private void checkConvolutionWeightGradient(ConvCase cc, Batch y, Batch x, String what) {
    ConvGeometry g = cc.g();
    int cout = cc.cout(), size = cout * g.patchRows();
    int samples = Math.max(y.samples(), x.samples()), directions = Math.max(y.directions(), x.directions());
    Batch out = be.convolutionWeightGradient(y, x, g);
    assertBatchShape(1, directions, cout, g.patchRows(), out, what);
    double[] ys = be.toArray(y), xs = be.toArray(x), os = be.toArray(out);
    for (int v = 0; v < directions; v++) {
      double[] value = new double[size], sumAbs = new double[size];
      for (int s = 0; s < samples; s++)
        directConvolutionWeightGradient(itemData(ys, y, s, v), itemData(xs, x, s, v), g, cout, value, sumAbs);
      assertMatchesReference(value, sumAbs, os, v * size, cout, what + " direction " + v);
    }
  }

  @Test
  void convolutionWeightGradientMatchesDirectDefinition() {
    // samples, directions of y, directions of x
    int[][] axes = {{1, 1, 1}, {5, 1, 1}, {5, 3, 1}, {5, 3, 3}, {1, 3, 1}, {1, 3, 3}, {4, 1, 1}};
    for (ConvCase cc : convolutionCases()) {
      ConvGeometry g = cc.g();
      int cout = cc.cout(), n = g.patches();
      for (int[] ax : axes) {
        Batch y = random(ax[0], ax[1], cout, n), x = random(ax[0], ax[2], g.c(), g.h() * g.w());
        checkConvolutionWeightGradient(cc, y, x, "convolutionWeightGradient " + cc + ", y " + y.describe() + ", x " + x.describe());
      }
      Batch y = random(5, 3, cout, n), x = random(5, 1, g.c(), g.h() * g.w());
      checkConvolutionWeightGradient(cc, y, be.reshape(x, g.inputSize(), 1), "convolutionWeightGradient " + cc + ", x as (c*h*w) x 1");
    }
  }

  @Test
  void convolutionsBroadcastOperandsOverBatchAxes() {
    // what the per-item products imply beyond shared filters: filters per direction (the tangent
    // of W), a shared x in a weight gradient (counted once per sample), a shared y
    for (ConvCase cc : new ConvCase[] {convolutionCases()[3], convolutionCases()[9]}) {
      ConvGeometry g = cc.g();
      int cout = cc.cout(), n = g.patches(), r = g.patchRows(), in = g.h() * g.w();
      Batch wd = random(1, 3, cout, r);
      Batch[] cs = {null, random(1, 1, cout, 1), random(5, 3, cout, 1)};
      checkConvolution(cc, wd, random(5, 1, g.c(), in), cs, "convolution " + cc + ", w per direction, x per sample");
      checkConvolution(cc, wd, random(5, 3, g.c(), in), cs, "convolution " + cc + ", w per direction, x per item");
      checkConvolution(cc, random(5, 1, cout, r), random(5, 3, g.c(), in), cs, "convolution " + cc + ", w per sample");

      Batch y = random(5, 3, cout, n), out = be.convolutionAdjoint(wd, y, g);
      assertBatchShape(5, 3, g.c(), in, out, "convolutionAdjoint " + cc + ", w per direction");
      double[] ws = be.toArray(wd), ys = be.toArray(y), os = be.toArray(out);
      for (int s = 0; s < 5; s++)
        for (int v = 0; v < 3; v++) {
          double[] value = new double[g.inputSize()], sumAbs = new double[g.inputSize()];
          directConvolutionAdjoint(itemData(ws, wd, s, v), itemData(ys, y, s, v), g, cout, value, sumAbs);
          assertMatchesReference(value, sumAbs, os, (s * 3 + v) * g.inputSize(), g.c(),
              "convolutionAdjoint " + cc + ", w per direction, item (" + s + "," + v + ")");
        }

      String what = "convolutionWeightGradient " + cc;
      checkConvolutionWeightGradient(cc, random(5, 3, cout, n), random(1, 1, g.c(), in), what + ", x shared");
      checkConvolutionWeightGradient(cc, random(1, 3, cout, n), random(5, 1, g.c(), in), what + ", y shared");
    }
  }

  @Test
  void convolutionShapeErrors() {
    ConvGeometry g = new ConvGeometry(3, 7, 5, 3, 2, 1, 1);
    int cout = 4, n = g.patches(), r = g.patchRows(), in = g.h() * g.w();
    Batch w = random(1, 1, cout, r), x = random(2, 1, g.c(), in), y = random(2, 1, cout, n);
    Batch shortX = random(2, 1, g.c(), in - 1), wideX = random(2, 1, g.c() + 1, in);
    Batch wideW = random(1, 1, cout, r + 1), narrowW = random(1, 1, cout, r - 1);
    Class<IllegalArgumentException> iae = IllegalArgumentException.class;

    assertThrows(iae, () -> be.convolution(w, shortX, g, null), "convolution: x items with c*h*w - 1 entries");
    assertThrows(iae, () -> be.convolution(w, wideX, g, random(1, 1, cout, 1)), "convolution: x items with (c+1)*h*w entries");
    assertThrows(iae, () -> be.convolution(wideW, x, g, null), "convolution: w with c*k*k + 1 columns");
    assertThrows(iae, () -> be.convolution(narrowW, x, g, random(1, 1, cout, 1)), "convolution: w with c*k*k - 1 columns");
    assertThrows(iae, () -> be.convolution(w, x, g, random(1, 1, cout + 1, 1)), "convolution: a bias of cout + 1 entries");
    assertThrows(iae, () -> be.convolution(w, x, g, random(1, 1, cout, n)), "convolution: a bias of full cout x patches items");
    assertThrows(iae, () -> be.convolution(w, x, g, random(3, 1, cout, 1)), "convolution: a bias with 3 samples for 2");

    assertThrows(iae, () -> be.convolutionAdjoint(wideW, y, g), "convolutionAdjoint: w with c*k*k + 1 columns");
    assertThrows(iae, () -> be.convolutionAdjoint(narrowW, y, g), "convolutionAdjoint: w with c*k*k - 1 columns");
    assertThrows(iae, () -> be.convolutionAdjoint(w, random(2, 1, cout, n - 1), g), "convolutionAdjoint: y with patches - 1 columns");
    assertThrows(iae, () -> be.convolutionAdjoint(w, random(2, 1, cout + 1, n), g), "convolutionAdjoint: y with cout + 1 rows");

    assertThrows(iae, () -> be.convolutionWeightGradient(y, shortX, g), "convolutionWeightGradient: x items with c*h*w - 1 entries");
    assertThrows(iae, () -> be.convolutionWeightGradient(y, wideX, g), "convolutionWeightGradient: x items with (c+1)*h*w entries");
    assertThrows(iae, () -> be.convolutionWeightGradient(random(2, 1, cout, n + 1), x, g),
        "convolutionWeightGradient: y with patches + 1 columns");
    assertThrows(iae, () -> be.convolutionWeightGradient(random(3, 1, cout, n), x, g),
        "convolutionWeightGradient: y with 3 samples, x with 2");
  }

  private Batch randomIndex(int samples, int rows, int cols, int n) {
    double[] d = new double[samples * rows * cols];
    for (int p = 0; p < d.length; p++) d[p] = rng.nextInt(n + 1) - 1; // -1 (padding) .. n-1, with repeats
    d[0] = -1;
    if (d.length > 2) d[2] = d[1] = Math.max(0, n - 1); // a repeated index
    return be.fromArray(samples, 1, rows, cols, d);
  }

  @Test
  void gatherMatchesEvaluator() {
    int xr = 3, xc = 4, ir = 2, ic = 5;
    Expr.Var xv = new Expr.Var("X", Shape.matrix(Dim.of(xr), Dim.of(xc)), Expr.Role.INPUT);
    Expr.Var iv = new Expr.Var("idx", Shape.matrix(Dim.of(ir), Dim.of(ic)), Expr.Role.INDEX);
    Expr gather = new Expr.Gather(xv, iv);
    int[][] axes = {{2, 3, 2}, {2, 3, 1}, {1, 3, 2}, {1, 1, 1}}; // x samples, x directions, index samples
    for (int[] ax : axes) {
      Batch x = random(ax[0], ax[1], xr, xc);
      Batch idx = randomIndex(ax[2], ir, ic, xr * xc);
      Batch out = be.gather(x, idx);
      assertEquals(ir, out.rows());
      assertEquals(ic, out.cols());
      assertItems(Math.max(ax[0], ax[2]), ax[1], out, (s, v) -> Evaluator.evaluate(gather,
          Map.of("X", Tensor.fromDMatrix(item(x, s, v)), "idx", Tensor.fromDMatrix(item(idx, s, 0))), Map.of()).toDMatrix(),
          "gather " + Arrays.toString(ax));
    }
  }

  @Test
  void scatterAddIsTheAdjointOfGather() {
    int xr = 3, xc = 4, ir = 4, ic = 5;
    int[][] axes = {{2, 3, 2}, {2, 3, 1}, {1, 3, 2}, {1, 1, 1}}; // g samples, g directions, index samples
    for (int[] ax : axes) {
      Batch idx = randomIndex(ax[2], ir, ic, xr * xc);
      int samples = Math.max(ax[0], ax[2]);
      Batch g = random(ax[0], ax[1], ir, ic);
      Batch x = random(samples, ax[1], xr, xc);
      Batch sc = be.scatterAdd(g, idx, xr, xc);
      assertEquals("[" + samples + " x " + ax[1] + "] 3x4", sc.describe());
      // <scatterAdd(G), X> = <G, gather(X)>, per item (G broadcast over samples where shared)
      Batch gFull = be.add(g, be.fromArray(samples, ax[1], 1, 1, new double[samples * ax[1]]));
      double lhs = dot(be.toArray(sc), be.toArray(x)), rhs = dot(be.toArray(gFull), be.toArray(be.gather(x, idx)));
      assertEquals(rhs, lhs, tol * Math.max(1, Math.abs(rhs)), "adjoint " + Arrays.toString(ax));
    }
    // repeated indices accumulate, -1 drops
    Batch idx = be.fromArray(1, 1, 4, 1, new double[] {2, -1, 2, 0});
    Batch g = be.fromArray(1, 1, 4, 1, new double[] {1, 10, 100, 1000});
    assertArrayEquals(new double[] {1000, 0, 101}, be.toArray(be.scatterAdd(g, idx, 3, 1)), allowed(1000));
  }

  /**
   * gatherMultiply and multiplyScatterAdd against the two kernels they fuse, entry for entry (the
   * backend's own multiply, gather and scatterAdd, each checked above against the interpreter and
   * the adjoint identity): a factor per sample or shared, per direction or not, and factors that do
   * not fit the fused loops (a 1x1 factor, one with more samples than the gathered batch), which
   * must give the composition too. Sums of colliding indices are in index order in both.
   */
  @Test
  void gatherMultiplyAndMultiplyScatterAddAreTheComposedKernels() {
    int xr = 3, xc = 4, ir = 2, ic = 5;
    int[][] axes = {{2, 3, 2, 2, 1}, {2, 3, 2, 1, 1}, {2, 3, 1, 2, 3}, {1, 3, 2, 1, 3}, {1, 1, 1, 1, 1}}; // x samples, directions, index samples, factor samples, factor directions
    for (int[] ax : axes) {
      Batch x = random(ax[0], ax[1], xr, xc), idx = randomIndex(ax[2], ir, ic, xr * xc), y = random(ax[3], ax[4], ir, ic);
      String what = Arrays.toString(ax);
      assertArrayEquals(be.toArray(be.multiply(y, be.gather(x, idx))), be.toArray(be.gatherMultiply(x, idx, y)), "gatherMultiply " + what);
      Batch g = random(Math.max(ax[0], ax[2]), ax[1], ir, ic);
      assertArrayEquals(be.toArray(be.scatterAdd(be.multiply(y, g), idx, xr, xc)), be.toArray(be.multiplyScatterAdd(y, g, idx, xr, xc)),
          "multiplyScatterAdd " + what);
    }
    Batch x = random(1, 2, xr, xc), idx = randomIndex(1, ir, ic, xr * xc);
    for (Batch y : List.of(random(1, 1, 1, 1), random(3, 1, ir, ic))) { // broadcast a scalar; widen the samples
      Batch gathered = be.multiply(y, be.gather(x, idx));
      assertEquals(gathered.describe(), be.gatherMultiply(x, idx, y).describe(), y.describe());
      assertArrayEquals(be.toArray(gathered), be.toArray(be.gatherMultiply(x, idx, y)), "gatherMultiply by " + y.describe());
      Batch g = random(1, 2, ir, ic);
      assertArrayEquals(be.toArray(be.scatterAdd(be.multiply(y, g), idx, xr, xc)), be.toArray(be.multiplyScatterAdd(y, g, idx, xr, xc)),
          "multiplyScatterAdd by " + y.describe());
    }
    assertContains(messageOf(IllegalArgumentException.class, () -> be.gatherMultiply(x, idx, random(1, 1, ic, ir))), "multiply");
    // g broadcast as a 1x1 item, as multiply broadcasts it; g of another item shape refused, as multiply refuses it
    Batch y = random(1, 1, ir, ic), scalar = random(1, 2, 1, 1);
    assertArrayEquals(be.toArray(be.scatterAdd(be.multiply(y, scalar), idx, xr, xc)), be.toArray(be.multiplyScatterAdd(y, scalar, idx, xr, xc)),
        "multiplyScatterAdd of a 1x1 g");
    assertContains(messageOf(IllegalArgumentException.class, () -> be.multiplyScatterAdd(y, random(1, 2, ic, ir), idx, xr, xc)), "multiply");
  }

  @Test
  void indexErrors() {
    Batch x = random(1, 2, 2, 2);
    Batch frac = be.fromArray(1, 1, 3, 1, new double[] {0, 1.5, 2});
    assertContains(messageOf(IllegalArgumentException.class, () -> be.gather(x, frac)), "gather", "1.5", "position 1", "[-1, 4)");
    Batch high = be.fromArray(1, 1, 3, 1, new double[] {0, 1, 4});
    assertContains(messageOf(IllegalArgumentException.class, () -> be.gather(x, high)), "gather", "4.0", "position 2");
    Batch low = be.fromArray(1, 1, 3, 1, new double[] {-2, 1, 0});
    assertContains(messageOf(IllegalArgumentException.class, () -> be.scatterAdd(random(1, 1, 3, 1), low, 2, 2)), "scatterAdd",
        "-2.0", "position 0");
    Batch twoDirections = be.fromArray(1, 2, 1, 1, new double[] {0, 1});
    assertContains(messageOf(IllegalArgumentException.class, () -> be.gather(x, twoDirections)), "gather",
        twoDirections.describe(), "one direction");
    Batch idx = be.fromArray(3, 1, 1, 1, new double[] {0, 1, 2});
    Batch x2 = random(2, 1, 2, 2);
    assertContains(messageOf(IllegalArgumentException.class, () -> be.gather(x2, idx)), "gather", x2.describe(), idx.describe());
    assertContains(messageOf(IllegalArgumentException.class, () -> be.scatterAdd(random(3, 1, 2, 1), idx, 2, 2)), "scatterAdd",
        "[3 x 1] 2x1", idx.describe());
  }

  // ---- batch axes ----------------------------------------------------------------------------

  @Test
  void sumAndMeanSamples() {
    int S = 4;
    Batch a = random(S, 3, 2, 3);
    double[] nan = new double[3 * 2 * 3];
    java.util.Arrays.fill(nan, Double.NaN);
    // storage of the sum's size holding NaN, released: a later allocation may reuse it, and the sum must not read it
    be.release(be.scale(be.fromArray(1, 3, 2, 3, nan), 1));
    Batch sum = be.sumSamples(a);
    assertEquals("[1 x 3] 2x3", sum.describe());
    assertItems(1, 3, sum, (s, v) -> {
      DMatrixRMaj e = new DMatrixRMaj(2, 3);
      for (int q = 0; q < S; q++) CommonOps_DDRM.addEquals(e, item(a, q, v));
      return e;
    }, "sumSamples");
    assertItems(1, 3, be.meanSamples(a, S), (s, v) -> {
      DMatrixRMaj e = item(sum, 0, v);
      CommonOps_DDRM.scale(1.0 / S, e);
      return e;
    }, "meanSamples");
    Batch shared = random(1, 3, 2, 3);
    assertSame(shared, be.meanSamples(shared, S));
    assertContains(messageOf(IllegalArgumentException.class, () -> be.meanSamples(a, 5)), "meanSamples", a.describe(), "5");
  }

  /**
   * windowArgmax against a reference written over the 4-D index (sample, channel, row, column) of
   * a max over each window, with ties (equal entries, signed zeros), infinities and NaNs in the
   * data: the first maximum in window order (rows fastest) wins, a NaN always wins (the last NaN
   * of a window).
   */
  @Test
  void windowArgmaxFindsTheFirstMaximumOfEachWindow() {
    int n = 3, c = 2, h = 4, w = 6, k = 2;
    double[] x = randomData(n * c * h * w);
    for (int p = 0; p < x.length; p += 7) x[p] = 0.25; // ties
    x[5] = Double.NaN;
    x[13] = Double.NaN; // a second NaN in that window: the last one wins
    for (int p : new int[] {0, 2, 8, 10}) x[p] = Double.NEGATIVE_INFINITY; // a window of -inf
    x[16] = -0.0; // signed zeros tie
    x[18] = 0.0;
    x[24] = -0.0;
    x[26] = -1;
    x[22] = Double.POSITIVE_INFINITY; // two +inf
    x[28] = Double.POSITIVE_INFINITY;
    Batch xb = be.fromArray(n, 1, c, h * w, x);
    double[] stored = be.toArray(xb);
    double[] got = be.toArray(be.windowArgmax(xb, c, h, w, k));
    assertEquals(n * c * (h / k) * (w / k), got.length);
    for (int s = 0; s < n; s++)
      for (int ch = 0; ch < c; ch++)
        for (int oy = 0; oy < h / k; oy++)
          for (int ox = 0; ox < w / k; ox++) {
            int best = -1;
            for (int kx = 0; kx < k; kx++)
              for (int ky = 0; ky < k; ky++) {
                int pos = ch + c * (oy * k + ky) + c * h * (ox * k + kx);
                double v = stored[s * c * h * w + pos];
                if (best < 0 || Double.isNaN(v) || (!Double.isNaN(stored[s * c * h * w + best]) && v > stored[s * c * h * w + best]))
                  best = pos;
              }
            int at = s * c * (h / k) * (w / k) + ch + c * oy + c * (h / k) * ox;
            assertEquals(best, got[at], "sample " + s + " channel " + ch + " window (" + oy + ", " + ox + ")");
          }
    assertThrows(IllegalArgumentException.class, () -> be.windowArgmax(xb, c, h, w, 4), "6 is not divisible by 4");
    assertThrows(IllegalArgumentException.class, () -> be.windowArgmax(xb, c, h, w + 2, k), "wrong item size");
  }

  /**
   * windowArgmax with a stride and a padding against a reference written from the definition (each
   * window over the rows and columns of x it overlaps, the padding never chosen, the first maximum in
   * column-major window order, a NaN winning; floor mode), on geometries with overlapping windows
   * (stride 1 and 2 with window 3, ResNet's stem), windows that do not divide the map, gaps (stride 3
   * with window 2) and windows of padding only (-1); with ties. Then the adjoint of its selection,
   * scatterAdd, against sums over the windows in double: an entry that is the maximum of several
   * windows gets all their terms (a backend that took the windows for disjoint would keep one).
   */
  @Test
  void windowArgmaxWithStrideAndPaddingAndItsAdjointEqualTheDefinition() {
    int n = 2, c = 3;
    int[][] geometries = {{5, 7, 3, 2, 1}, {4, 5, 3, 1, 1}, {7, 5, 2, 2, 0}, {6, 7, 2, 3, 1}, {3, 4, 3, 3, 1}, {2, 2, 1, 3, 1}};
    for (int[] gm : geometries) {
      int h = gm[0], w = gm[1], k = gm[2], st = gm[3], pd = gm[4];
      int oh = (h + 2 * pd - k) / st + 1, ow = (w + 2 * pd - k) / st + 1;
      String what = "(" + c + ", " + h + ", " + w + ") window " + k + " stride " + st + " padding " + pd;
      double[] x = randomData(n * c * h * w);
      for (int q = 0; q < x.length; q += 5) x[q] = 0.5; // ties
      x[4] = Double.NaN;
      Batch xb = be.fromArray(n, 1, c, h * w, x);
      double[] stored = be.toArray(xb);
      Batch idx = be.windowArgmax(xb, c, h, w, k, st, pd);
      assertEquals(List.of(n, 1, c, oh * ow), List.of(idx.samples(), idx.directions(), idx.rows(), idx.cols()), what);
      double[] got = be.toArray(idx);
      int[] want = new int[n * c * oh * ow];
      for (int s = 0; s < n; s++)
        for (int ch = 0; ch < c; ch++)
          for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
              int best = -1;
              for (int kx = 0; kx < k; kx++)
                for (int ky = 0; ky < k; ky++) {
                  int y = oy * st - pd + ky, xx = ox * st - pd + kx;
                  if (y < 0 || y >= h || xx < 0 || xx >= w) continue;
                  int pos = ch + c * (y + h * xx);
                  double v = stored[s * c * h * w + pos];
                  if (best < 0 || Double.isNaN(v) || (!Double.isNaN(stored[s * c * h * w + best]) && v > stored[s * c * h * w + best]))
                    best = pos;
                }
              int at = s * c * oh * ow + ch + c * (oy + oh * ox);
              want[at] = best;
              assertEquals(best, got[at], what + ": sample " + s + " channel " + ch + " window (" + oy + ", " + ox + ")");
            }
      int directions = 2;
      double[] g = randomData(n * directions * c * oh * ow);
      Batch gb = be.fromArray(n, directions, c, oh * ow, g);
      double[] gs = be.toArray(gb), sum = be.toArray(be.scatterAdd(gb, idx, c, h * w));
      for (int s = 0; s < n; s++)
        for (int v = 0; v < directions; v++) {
          double[] ref = new double[c * h * w];
          for (int j = 0; j < c * oh * ow; j++) {
            int q = want[s * c * oh * ow + j];
            if (q >= 0) ref[q] += gs[(s * directions + v) * c * oh * ow + j];
          }
          for (int q = 0; q < ref.length; q++)
            assertEquals(ref[q], sum[(s * directions + v) * c * h * w + q], allowed(ref[q]), what + ": scatterAdd sample " + s + " direction "
                + v + " entry " + q);
        }
    }
    Batch xb = be.fromArray(1, 1, 2, 4, new double[8]);
    assertThrows(IllegalArgumentException.class, () -> be.windowArgmax(xb, 2, 2, 2, 3, 1, 0), "a window larger than the map");
    assertThrows(IllegalArgumentException.class, () -> be.windowArgmax(xb, 2, 2, 2, 2, 0, 0), "stride 0");
    assertThrows(IllegalArgumentException.class, () -> be.windowArgmax(xb, 2, 2, 2, 2, 1, -1), "negative padding");
  }
}
