package org.hbp.backend.blas;

import org.hbp.backend.Batch;
import org.hbp.backend.Precision;
import org.hbp.backend.ScalarFunction;

/**
 * A micro-benchmark (not a test): the BLAS backend's entrywise kernels on the shapes of c4d3's
 * curvature products, an activation of N = 100 samples and 16 384 entries (the first convolution's
 * output) times D = 10 directions. Prints milliseconds (best of the rounds) and GB/s moved (the
 * directions read and the result written) for {@code mapMultiply} of the sigmoid's derivative from
 * its value, {@code multiply} by the stored derivative, and {@code mapMultiply} of directions shared
 * by all samples (a bias's). Compare {@code -Dhbp.blas.vectorElementwise=false}. Run from the
 * repository root after {@code mvn -o -q test-compile package -DskipTests}:
 * {@code java --add-modules jdk.incubator.vector -cp target/test-classes:target/hbp.jar org.hbp.backend.blas.ElementwiseRates [FLOAT64|FLOAT32] [rounds]}.
 */
public final class ElementwiseRates {
  private ElementwiseRates() {}

  public static void main(String[] args) {
    Precision precision = args.length > 0 ? Precision.valueOf(args[0]) : Precision.FLOAT64;
    int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 10;
    BlasBackend be = new BlasBackend(precision, Runtime.getRuntime().availableProcessors());
    ScalarFunction derivative = new ScalarFunction("sigmoid_d1_of_value", "REAL sigmoid_d1_of_value(REAL u) { return u * (1 - u); }",
        u -> u * (1 - u), (c, n) -> {
          for (int i = 0; i < n; i++) c[i] = c[i] * (1 - c[i]);
        }, "sigmoid_d1_of_value");
    int samples = 100, directions = 10, n = 16384;
    java.util.Random rng = new java.util.Random(1);
    Batch z = be.fromArray(samples, 1, n, 1, rng.doubles((long) samples * n, 0, 1).toArray());
    Batch v = be.fromArray(samples, directions, n, 1, rng.doubles((long) samples * directions * n, -1, 1).toArray());
    Batch shared = be.fromArray(1, directions, n, 1, rng.doubles((long) directions * n, -1, 1).toArray());
    Batch d = be.map(z, derivative);
    double bytes = 2.0 * samples * directions * n * precision.bytes();
    System.out.printf("%s, %s, vector kernels %s%n", be.name(), precision,
        BlasBackend.VECTOR_ELEMENTWISE ? "on" : "off (" + BlasBackend.vectorElementwiseUnavailableReason() + ")");
    report("mapMultiply(z, sigmoid', v)", best(rounds, () -> be.release(be.mapMultiply(z, derivative, v))), bytes);
    report("multiply(sigmoid'(z), v)", best(rounds, () -> be.release(be.multiply(d, v))), bytes);
    report("mapMultiply(z, sigmoid', shared v)", best(rounds, () -> be.release(be.mapMultiply(z, derivative, shared))), bytes);
  }

  private static void report(String what, double seconds, double bytes) {
    System.out.printf("  %-36s %7.2f ms %6.1f GB/s%n", what, seconds * 1e3, bytes / seconds / 1e9);
  }

  private static double best(int rounds, Runnable r) {
    double best = Double.MAX_VALUE;
    for (int i = 0; i < rounds; i++) {
      long t0 = System.nanoTime();
      r.run();
      best = Math.min(best, (System.nanoTime() - t0) / 1e9);
    }
    return best;
  }
}
