package org.hbp.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.hbp.io.DType;
import org.hbp.io.NdArray;
import org.hbp.io.Npz;

/** Command lines in tests: a run that must succeed, and the small classifier problems the memory-limit tests feed to them. */
public final class CommandRuns {
  private CommandRuns() {}

  /** A command's standard output and error. */
  public record Output(String out, String err) {}

  /** Runs a command line, expecting exit status 0 (else fails with both streams): its output. */
  public static Output ok(String... args) {
    StringWriter out = new StringWriter(), err = new StringWriter();
    int code = Main.execute(args, new PrintWriter(out, true), new PrintWriter(err, true));
    assertEquals(0, code, out + "\n" + err);
    return new Output(out.toString(), err.toString());
  }

  /** {@code args} followed by {@code more}. */
  public static String[] with(String[] args, String... more) {
    String[] all = Arrays.copyOf(args, args.length + more.length);
    System.arraycopy(more, 0, all, args.length, more.length);
    return all;
  }

  /**
   * Writes {@code dir/params.npz}, PyTorch-named parameters of a classifier with Linear layers at 0 and 2
   * ({@code 0.weight [hidden, in]}, {@code 0.bias}, {@code 2.weight [classes, hidden]}, {@code 2.bias}; Gaussian, scaled by
   * 1/sqrt(fan-in), biases by 0.1), and {@code dir/batch.npz}, n Gaussian inputs {@code x [n, in]} with labels {@code y}, all
   * drawn from one {@code Random(seed)} in that order.
   */
  public static void writeClassifierProblem(Path dir, int in, int hidden, int classes, int n, long seed) throws Exception {
    Random rng = new Random(seed);
    Map<String, NdArray> p = new LinkedHashMap<>();
    p.put("0.weight", NdArray.of(gaussian(rng, hidden * in, 1 / Math.sqrt(in)), hidden, in));
    p.put("0.bias", NdArray.of(gaussian(rng, hidden, 0.1), hidden));
    p.put("2.weight", NdArray.of(gaussian(rng, classes * hidden, 1 / Math.sqrt(hidden)), classes, hidden));
    p.put("2.bias", NdArray.of(gaussian(rng, classes, 0.1), classes));
    Npz.write(dir.resolve("params.npz"), p);
    double[] y = new double[n];
    for (int i = 0; i < n; i++) y[i] = rng.nextInt(classes);
    Map<String, NdArray> b = new LinkedHashMap<>();
    b.put("x", NdArray.of(gaussian(rng, n * in, 1), n, in));
    b.put("y", NdArray.of(y, DType.INT64, n));
    Npz.write(dir.resolve("batch.npz"), b);
  }

  /**
   * The npz file {@code got} holds the arrays of {@code want}, {@code count} of them, each of the same shape and equal entry by
   * entry to {@code rtol} times the array's largest |entry| (which must not be 0: something is compared).
   */
  public static void assertSameArrays(Path want, Path got, int count, double rtol) throws Exception {
    Map<String, NdArray> w = Npz.read(want), g = Npz.read(got);
    assertEquals(w.keySet(), g.keySet(), got.toString());
    assertEquals(count, w.size(), want.toString());
    for (String name : w.keySet()) {
      String what = got.getFileName() + " " + name;
      assertEquals(Arrays.toString(w.get(name).shape()), Arrays.toString(g.get(name).shape()), what);
      double[] a = w.get(name).data(), b = g.get(name).data();
      double scale = 0;
      for (double v : a) scale = Math.max(scale, Math.abs(v));
      assertTrue(scale > 0, what + " is zero: nothing compared");
      for (int i = 0; i < a.length; i++) assertEquals(a[i], b[i], rtol * scale, what + "[" + i + "]");
    }
  }

  /** n draws of {@code scale} times a standard Gaussian. */
  public static double[] gaussian(Random rng, int n, double scale) {
    double[] d = new double[n];
    for (int i = 0; i < n; i++) d[i] = scale * rng.nextGaussian();
    return d;
  }
}
