package org.hbp.backend.blas;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;
import java.util.function.BinaryOperator;
import java.util.function.DoubleBinaryOperator;
import org.hbp.backend.BackendChecks;
import org.hbp.backend.Batch;
import org.hbp.backend.Precision;
import org.hbp.backend.ScalarFunction;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The BLAS backends' entrywise kernels on the Vector API ({@link VectorElementwise}) give what plain
 * double arithmetic gives (float32: float arithmetic, the double result rounded once), bit for bit,
 * with every broadcast of samples and directions (both operands broadcast included: one sample's
 * activation derivative times directions shared by all samples), items shorter than a vector, items
 * with a partial last vector, items of several tasks, and batches large enough to be split over
 * threads. The oracle is a loop over the entries written here. In float32 oneDNN's binary kernels
 * take the broadcasts they can; the rest, and every mapMultiply of a function oneDNN lacks, come
 * here.
 */
class VectorElementwiseTest {
  private BlasBackend be;
  private boolean float32;
  private final Random rng = new Random(17);

  /** Axes {a.samples, a.directions, b.samples, b.directions}. */
  private static final int[][] AXES = {{3, 4, 3, 4}, {1, 4, 3, 4}, {3, 1, 3, 4}, {3, 4, 1, 4}, {3, 4, 3, 1}, {1, 1, 3, 4}, {3, 4, 1, 1}, {1, 1, 1, 1},
      {3, 1, 1, 4}, {1, 4, 3, 1}};
  /** Item shapes: shorter than a vector, a partial last vector, more than one task ({@link VectorElementwise#TASK_ENTRIES}). */
  private static final int[][] ITEMS = {{3, 1}, {67, 31}, {2 * VectorElementwise.TASK_ENTRIES + 13, 1}};

  private Batch random(int samples, int directions, int rows, int cols) {
    double[] d = new double[samples * directions * rows * cols];
    for (int i = 0; i < d.length; i++) d[i] = rng.nextGaussian() + (rng.nextBoolean() ? 0.75 : -0.75); // away from 0 for divide
    return be.fromArray(samples, directions, rows, cols, d);
  }

  private interface Oracle {
    double at(double[] x, int xi, double[] y, int yi);
  }

  private void check(String name, BinaryOperator<Batch> kernel, Oracle oracle) {
    for (int[] ax : AXES)
      for (int[] it : ITEMS) {
        Batch a = random(ax[0], ax[1], it[0], it[1]), b = random(ax[2], ax[3], it[0], it[1]);
        Batch out = kernel.apply(a, b);
        assertNotNull(out);
        int samples = Math.max(ax[0], ax[2]), directions = Math.max(ax[1], ax[3]), n = it[0] * it[1];
        assertEquals(samples, out.samples());
        assertEquals(directions, out.directions());
        double[] x = be.toArray(a), y = be.toArray(b), o = be.toArray(out);
        for (int s = 0; s < samples; s++)
          for (int v = 0; v < directions; v++)
            for (int p = 0; p < n; p++) {
              int xi = ((ax[0] == 1 ? 0 : s) * ax[1] + (ax[1] == 1 ? 0 : v)) * n + p;
              int yi = ((ax[2] == 1 ? 0 : s) * ax[3] + (ax[3] == 1 ? 0 : v)) * n + p;
              int at = (s * directions + v) * n + p;
              double want = oracle.at(x, xi, y, yi);
              assertEquals(float32 ? (float) want : want, o[at], 0.0,
                  () -> name + " axes " + Arrays.toString(ax) + " items " + Arrays.toString(it) + " entry " + at);
            }
        be.release(out);
      }
  }

  private static Oracle op(DoubleBinaryOperator f) {
    return (x, xi, y, yi) -> f.applyAsDouble(x[xi], y[yi]);
  }

  private void on(Precision precision) {
    be = new BlasBackend(precision, 2);
    float32 = precision == Precision.FLOAT32;
  }

  @Test
  void theVectorKernelsRunInTheTestJvm() {
    // surefire starts the JVM with the module (pom.xml); without it this class would test the host kernels
    assertTrue(BlasBackend.VECTOR_ELEMENTWISE, BlasBackend.vectorElementwiseUnavailableReason());
  }

  /** The Vector API route itself (not the backend's choice of route, which could hide it behind oneDNN's or the host's): it must take these. */
  private BinaryOperator<Batch> vectorRoute(String kernel, int op) {
    return (a, b) -> {
      BlasBatch r = be.vectorBinary(kernel, op, (BlasBatch) a, (BlasBatch) b, BackendChecks.elementwise(kernel, a, b));
      assertNotNull(r, kernel + " did not take the Vector API route");
      return r;
    };
  }

  @ParameterizedTest
  @EnumSource(Precision.class)
  void entrywiseOperationsAreIeeeWithEveryBroadcast(Precision precision) {
    on(precision);
    check("add", vectorRoute("add", BackendChecks.ADD), op((p, q) -> p + q));
    check("subtract", vectorRoute("subtract", BackendChecks.SUBTRACT), op((p, q) -> p - q));
    check("multiply", vectorRoute("multiply", BackendChecks.MULTIPLY), op((p, q) -> p * q));
    check("divide", vectorRoute("divide", BackendChecks.DIVIDE), op((p, q) -> p / q));
  }

  /** The backend's own choice of route (oneDNN's in float32 where it takes the operands) gives the same. */
  @ParameterizedTest
  @EnumSource(Precision.class)
  void theBackendsEntrywiseOperationsGiveTheSame(Precision precision) {
    on(precision);
    check("add", be::add, op((p, q) -> p + q));
    check("subtract", be::subtract, op((p, q) -> p - q));
  }

  @ParameterizedTest
  @EnumSource(Precision.class)
  void mapMultiplyMapsOnceAndMultipliesEveryItemItMeets(Precision precision) {
    on(precision);
    // a chunk form that is not its entry form's twin: a mismatch in where map reads would show
    ScalarFunction cube = new ScalarFunction("cube_plus_one", "REAL cube_plus_one(REAL u) { return u * u * u + 1; }", u -> u * u * u + 1,
        (chunk, len) -> {
          for (int i = 0; i < len; i++) chunk[i] = chunk[i] * chunk[i] * chunk[i] + 1;
        });
    // float32: f(x) is rounded to float as a stored map would be, then the float product
    check("mapMultiply", (a, b) -> {
      BlasBatch r = be.vectorMapMultiply((BlasBatch) a, cube, (BlasBatch) b);
      assertNotNull(r, "mapMultiply did not take the Vector API route");
      return r;
    }, (x, xi, y, yi) -> round(x[xi] * x[xi] * x[xi] + 1) * y[yi]);
    check("mapMultiply", (a, b) -> be.mapMultiply(a, cube, b), (x, xi, y, yi) -> round(x[xi] * x[xi] * x[xi] + 1) * y[yi]);
    // the route without the Vector API (operands laid out alike) rounds as the others do
    for (int[] it : ITEMS) {
      Batch a = random(3, 4, it[0], it[1]), b = random(3, 4, it[0], it[1]);
      double[] x = be.toArray(a), y = be.toArray(b), o = be.toArray(be.chunkMapMultiply((BlasBatch) a, cube.chunk(), (BlasBatch) b));
      for (int i = 0; i < o.length; i++) {
        double want = round(x[i] * x[i] * x[i] + 1) * y[i];
        assertEquals(float32 ? (float) want : want, o[i], 0.0, "chunkMapMultiply entry " + i);
      }
    }
  }

  private double round(double v) {
    return float32 ? (float) v : v;
  }

  /**
   * Float64 sigmoid and tanh (the Vector API's exp and tanh) agree with {@code 1 / (1 + Math.exp(-t))}
   * and {@code Math.tanh} to 4e-16 relative, over several tasks and a partial last vector, and give
   * the host forms' values exactly at NaN, the infinities, signed zeros and past exp's overflow.
   */
  @Test
  void float64SigmoidAndTanhAgreeWithTheScalarFormsToAnUlp() {
    on(Precision.FLOAT64);
    double[] special = {Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, 0.0, -0.0, 710, -710, 745, -745, 1e-300, -1e-300, 20, -20,
        Double.MIN_VALUE, -Double.MAX_VALUE, Double.MAX_VALUE};
    int n = 3 * VectorElementwise.TASK_ENTRIES + 5;
    double[] t = new double[2 * n];
    for (int i = 0; i < t.length; i++) t[i] = i < special.length ? special[i] : rng.nextGaussian() * (i % 3 == 0 ? 30 : 3);
    Batch x = be.fromArray(2, 1, n, 1, t);
    for (String name : new String[] {"sigmoid", "tanh"}) {
      java.util.function.DoubleUnaryOperator host = name.equals("sigmoid") ? v -> 1.0 / (1.0 + Math.exp(-v)) : Math::tanh;
      ScalarFunction f = new ScalarFunction(name, "REAL " + name + "(REAL t) { return 0; }", host, null, name);
      // the route of -Dhbp.blas.svml=true, called directly (by default the host loop serves: not bit-reproducible across JIT tiers)
      assertEquals(BlasBackend.SVML, be.vectorMap((BlasBatch) x, f) != null, name + ": the route only with -Dhbp.blas.svml=true");
      Batch vector = be.svmlMap((BlasBatch) x, f);
      assertTrue(vector != null, name + ": the route takes float64 blocks");
      double[] got = be.toArray(vector);
      for (int i = 0; i < t.length; i++) {
        double want = host.applyAsDouble(t[i]);
        int at = i;
        if (i < special.length) assertEquals(want, got[i], 0.0, () -> name + "(" + t[at] + ")");
        else assertEquals(want, got[i], 4e-16 * Math.abs(want), () -> name + "(" + t[at] + ")");
      }
    }
  }

  /**
   * The default float64 sigmoid gives the same bits cold and after the JIT compiler has compiled
   * it (20 000 runs of 4096 entries): the Vector API's exp (SVML under C2, {@code Math.exp} lane by
   * lane before) did not, which made a resumed training differ in the last bit from its straight run.
   */
  @Test
  void theDefaultFloat64SigmoidIsTheSameBeforeAndAfterCompilation() {
    on(Precision.FLOAT64);
    double[] t = new double[4096];
    for (int i = 0; i < t.length; i++) t[i] = rng.nextGaussian() * 3;
    Batch x = be.fromArray(1, 1, t.length, 1, t);
    ScalarFunction f = new ScalarFunction("sigmoid", "REAL sigmoid(REAL t) { return 0; }", v -> 1.0 / (1.0 + Math.exp(-v)), null, "sigmoid");
    double[] first = be.toArray(be.map(x, f));
    for (int run = 0; run < 20000; run++) {
      Batch y = be.map(x, f);
      if (run % 1000 == 999) assertArrayEquals(first, be.toArray(y), "run " + run);
      be.release(y);
    }
  }

  @Test
  void scalarOperandsAndOtherShapesKeepTheHostKernels() {
    on(Precision.FLOAT64);
    Batch a = random(3, 4, 67, 31), c = random(3, 1, 1, 1);
    double[] x = be.toArray(a), y = be.toArray(c), o = be.toArray(be.multiply(a, c));
    for (int t = 0; t < 12; t++)
      for (int p = 0; p < 67 * 31; p++) assertEquals(x[t * 67 * 31 + p] * y[t / 4], o[t * 67 * 31 + p], 0.0);
  }
}
