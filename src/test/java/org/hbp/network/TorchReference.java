package org.hbp.network;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.Arrays;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.hbp.cli.Main;
import org.hbp.io.NdArray;

/**
 * The PyTorch references of the cross-checks (scripts under src/test/resources/torch) and the
 * comparisons of hbp's output with them. A missing torch is a failure, not a skip.
 */
public final class TorchReference {
  private TorchReference() {}

  /** Runs {@code script} with the python3 that has torch (CI installs python3-torch in .ci/run); fails with its log if it fails. */
  static void runScript(String script, String... args) throws Exception {
    org.hbp.ExternalTools.runTorchScript(script, args);
  }

  /** Runs {@code hbp args} in this JVM, expecting exit status 0; its standard output. */
  static String hbp(String... args) {
    StringWriter out = new StringWriter(), err = new StringWriter();
    int code = Main.execute(args, new PrintWriter(out, true), new PrintWriter(err, true));
    assertEquals(0, code, out + "\n" + err);
    return out.toString();
  }

  /** The loss that {@code hbp curvature} printed. */
  static double loss(String out) {
    Matcher m = Pattern.compile("loss (\\S+)").matcher(out);
    assertTrue(m.find(), out);
    return Double.parseDouble(m.group(1));
  }

  /** hbp's name of a PyTorch parameter: {@code 0.weight} is {@code 0.W}, {@code 0.bias} {@code 0.b}. */
  static String ours(String torchName) {
    return torchName.replace(".weight", ".W").replace(".bias", ".b");
  }

  /** Largest |reference entry|. */
  public static double scale(NdArray reference) {
    double scale = 0;
    for (double r : reference.data()) scale = Math.max(scale, Math.abs(r));
    return scale;
  }

  /** Largest |a - b| over the entries. */
  public static double maxAbsDifference(NdArray a, NdArray b) {
    double[] x = a.data(), y = b.data(); // data() copies: once, not per entry
    double err = 0;
    for (int i = 0; i < x.length; i++) err = Math.max(err, Math.abs(x[i] - y[i]));
    return err;
  }

  /** hbp's block {@code got} equals autograd's {@code reference} to 1e-10 relative to max(1, its scale). */
  static void assertBlockEquals(String what, NdArray reference, NdArray got) {
    assertEquals(reference.numel(), got.numel(), what);
    double err = maxAbsDifference(got, reference), scale = scale(reference);
    assertTrue(err <= 1e-10 * Math.max(1, scale), what + ": max abs error " + err + " (scale " + scale + ")");
  }

  /** The Newton step with alpha = 1 ({@code step}, PyTorch's names and shapes) is minus autograd's gradient, {@code grad.<name>} of {@code ref}. */
  static void assertStepIsMinusGradient(Map<String, NdArray> ref, Map<String, NdArray> step) {
    for (String key : ref.keySet()) {
      if (!key.startsWith("grad.")) continue;
      NdArray g = step.get(key.substring(5)), r = ref.get(key); // named as --params names them: PyTorch's
      assertEquals(Arrays.toString(r.shape()), Arrays.toString(g.shape()), key + " shape");
      double[] want = r.data(), got = g.data();
      for (int i = 0; i < want.length; i++) assertEquals(-want[i], got[i], 1e-12, key + "[" + i + "]");
    }
  }

  /**
   * The step of {@code --solve alpha} ({@code step}, PyTorch's names and shapes) solves
   * {@code [alpha I + (1 - alpha) B] d = -g} in every block: B autograd's block {@code <kind>.<name>}
   * of {@code ref} and g its gradient {@code grad.<name>}, the system solved densely by EJML; to
   * 1e-8 relative to the largest entry of d (CG's stopping rule, not rounding, sets the tolerance).
   */
  static void assertStepSolvesTheBlocks(Map<String, NdArray> ref, String kind, double alpha, Map<String, NdArray> step) {
    int solved = 0;
    for (String key : ref.keySet()) {
      if (!key.startsWith("grad.")) continue;
      String name = key.substring(5);
      double[] g = ref.get(key).data(), b = ref.get(kind + "." + name).data();
      int n = g.length;
      assertEquals(n * n, b.length, kind + "." + name + " is not the block of " + key);
      org.ejml.data.DMatrixRMaj a = new org.ejml.data.DMatrixRMaj(n, n, true, b), rhs = new org.ejml.data.DMatrixRMaj(n, 1, true, g);
      org.ejml.dense.row.CommonOps_DDRM.scale(1 - alpha, a);
      for (int i = 0; i < n; i++) a.add(i, i, alpha);
      org.ejml.dense.row.CommonOps_DDRM.scale(-1, rhs);
      org.ejml.data.DMatrixRMaj want = new org.ejml.data.DMatrixRMaj(n, 1);
      assertTrue(org.ejml.dense.row.CommonOps_DDRM.solve(a, rhs, want), name + ": singular system");
      double[] got = step.get(name).data();
      assertEquals(n, got.length, name);
      double err = 0, scale = 0;
      for (int i = 0; i < n; i++) {
        err = Math.max(err, Math.abs(got[i] - want.get(i)));
        scale = Math.max(scale, Math.abs(want.get(i)));
      }
      assertTrue(scale > 0 && err <= 1e-8 * scale, name + ": max abs error " + err + " (scale " + scale + ")");
      solved++;
    }
    assertTrue(solved > 0, "no gradient in the reference");
  }

  /** {@code a} followed by {@code b}. */
  static String[] concat(String[] a, String... b) {
    String[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
