package org.hbp.codegen;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.backend.Precision;
import org.hbp.backend.blas.BlasBackend;
import org.hbp.dsl.Dsl;
import org.hbp.dsl.Spec;
import org.hbp.generated.CrossentropyOperator;
import org.hbp.generated.LogsoftmaxOperator;
import org.hbp.runtime.ForwardCache;
import org.hbp.runtime.ModuleOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * log(softmax(x)) in generated code is computed in its stable form (x - logsumexp(x)), so that in
 * float32 a logit that trails the largest by more than about 104 (its probability exp(-104)
 * underflows to 0) gives a finite loss, not log(0) = -inf and 0 * -inf = NaN. The references are
 * written here in double precision from the definitions, with the max shift: log softmax(x)_i =
 * x_i - m - log(sum_j exp(x_j - m)), m = max(x).
 */
class StableLogSoftmaxTest {
  /** Logits with gaps of 120 and 150 to the largest: their float32 probabilities are exactly 0. */
  private static final double[] LOGITS = {0.0, 120.0, -30.0, 2.5};

  @TempDir Path work;

  private static Backend float32() {
    return new BlasBackend(Precision.FLOAT32, 1);
  }

  private static double[] logSoftmaxReference(double[] x) {
    double m = Double.NEGATIVE_INFINITY;
    for (double v : x) m = Math.max(m, v);
    double s = 0;
    for (double v : x) s += Math.exp(v - m);
    double[] out = new double[x.length];
    for (int i = 0; i < x.length; i++) out[i] = x[i] - m - Math.log(s);
    return out;
  }

  private static void assertClose(double expected, double actual, String what) {
    assertTrue(Double.isFinite(actual), what + " is " + actual);
    // float32: unit roundoff 2^-24 (6e-8) times a few operations, relative to max(1, |expected|)
    assertEquals(expected, actual, 1e-6 * Math.max(1, Math.abs(expected)), what);
  }

  /** Cross-entropy in float32 against the float64 reference, for the largest class and for one far below it. */
  @Test
  void crossEntropyInFloat32IsFiniteAndExactForLogitGapsBeyondUnderflow() {
    Backend be = float32();
    double[] ls = logSoftmaxReference(LOGITS);
    double[] probabilities = new double[LOGITS.length];
    for (int i = 0; i < ls.length; i++) probabilities[i] = Math.exp(ls[i]);
    CrossentropyOperator op = new CrossentropyOperator(be, Map.of("c", LOGITS.length));
    for (int target : new int[] {1, 0, 2}) {
      double[] y = new double[LOGITS.length];
      y[target] = 1;
      Map<String, Batch> values = new LinkedHashMap<>();
      values.put("x", be.fromArray(1, 1, LOGITS.length, 1, LOGITS.clone()));
      values.put("y", be.fromArray(1, 1, LOGITS.length, 1, y));
      ForwardCache cache = op.forward(values);
      double loss = be.toArray(cache.get("E"))[0];
      assertClose(-ls[target], loss, "the loss for class " + target);
      double[] g = be.toArray(op.gradient(cache, "x"));
      for (int i = 0; i < g.length; i++) assertClose(probabilities[i] - y[i], g[i], "gradient entry " + i + " for class " + target);
    }
  }

  /** The built-in logsoftmax module of a vector in float32. */
  @Test
  void logSoftmaxModuleInFloat32IsFinite() {
    Backend be = float32();
    LogsoftmaxOperator op = new LogsoftmaxOperator(be, Map.of("n", LOGITS.length));
    ForwardCache cache = op.forward(Map.of("x", be.fromArray(1, 1, LOGITS.length, 1, LOGITS.clone())));
    double[] z = be.toArray(cache.get("z")), ref = logSoftmaxReference(LOGITS);
    for (int i = 0; i < z.length; i++) assertClose(ref[i], z[i], "log softmax entry " + i);
  }

  /** log(softmax(X)) of each column of a matrix (test spec logsoftmax_cols.hbp), generated and compiled here, in float32. */
  @Test
  void columnLogSoftmaxInFloat32IsFinite() throws Exception {
    Path file = Path.of("src/test/resources/specs/logsoftmax_cols.hbp");
    String text = Files.readString(file);
    Spec spec = Dsl.parse(text, file.toString());
    Class<?> c = OperatorLoader.compile(OperatorGenerator.generate(spec, text, file.toString(), "test.stable"), work)
        .get("LogsoftmaxColsOperator");
    Backend be = float32();
    ModuleOperator op = (ModuleOperator) new OperatorLoader.Loaded(c, false).create(be, Map.of("c", 4, "T", 2));
    double[] second = {-200.0, 3.0, 1.0, 150.0};
    double[] x = new double[8];
    System.arraycopy(LOGITS, 0, x, 0, 4);
    System.arraycopy(second, 0, x, 4, 4);
    ForwardCache cache = op.forward(Map.of("X", be.fromArray(1, 1, 4, 2, x)));
    double[] z = be.toArray(cache.get("Z")), ref0 = logSoftmaxReference(LOGITS), ref1 = logSoftmaxReference(second);
    for (int i = 0; i < 4; i++) {
      assertClose(ref0[i], z[i], "column 0 entry " + i);
      assertClose(ref1[i], z[4 + i], "column 1 entry " + i);
    }
  }
}
