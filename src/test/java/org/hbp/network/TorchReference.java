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

  /** {@code a} followed by {@code b}. */
  static String[] concat(String[] a, String... b) {
    String[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
