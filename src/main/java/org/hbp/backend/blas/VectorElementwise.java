package org.hbp.backend.blas;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import org.hbp.backend.BackendChecks;
import org.hbp.backend.ScalarFunction;

/**
 * Entrywise kernels with the JDK's Vector API, float64 and float32, straight on the off-heap
 * blocks ({@link BlasBatch.Block#bytes}): {@code out = x op y} for op one of {@link BackendChecks}' ADD,
 * SUBTRACT, MULTIPLY, DIVIDE, {@code out = f(x) .* y} (an activation's derivative times
 * directions), and float64 sigmoid and tanh ({@link #map}). They stream their operands at memory speed; the host kernels copy each chunk into
 * Java arrays and back (float32: converting every entry), and run the broadcast of one sample's
 * {@code f(x)} over its D directions at about half that speed (docs/performance.md, "Vector API
 * element-wise kernels"). In float32 they serve what oneDNN's binary kernels do not take: both
 * operands broadcast (one sample's activation derivative times directions shared by all samples,
 * a bias's), and {@code f(x) .* y} for f without a oneDNN form or with different layouts.
 *
 * <p>Each entry is the same IEEE operation as the host kernels' ({@code x[p] * y[p]}, no fused
 * multiply-add; float32: the float operation, which is what the host's double operation rounded
 * once gives): the results agree with them bit for bit.
 *
 * <p>Vectors of the machine's preferred length (8 doubles with AVX-512, 4 with AVX2). Needs the
 * module {@code jdk.incubator.vector} in the JVM's boot layer: {@link BlasBackend} checks {@link
 * BlasBackend#vectorElementwiseUnavailableReason} before this class is loaded.
 */
final class VectorElementwise {
  private static final VectorSpecies<Double> V = DoubleVector.SPECIES_PREFERRED;
  private static final int LANES = V.length();
  private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
  private static final int FLANES = F.length();
  private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
  /** Entries per task: 64 KiB of each operand, enough to make a task's overhead small. */
  static final int TASK_ENTRIES = 8192;

  private VectorElementwise() {}

  /**
   * {@code out[oo + p] = x[xo + p] op y[yo + p]} for {@code p < n}; offsets and n in entries (the
   * buffers are the blocks' bytes, native order).
   */
  static void binary(int op, ByteBuffer x, int xo, ByteBuffer y, int yo, ByteBuffer out, int oo, int n) {
    switch (op) {
      case BackendChecks.ADD -> add(x, xo, y, yo, out, oo, n);
      case BackendChecks.SUBTRACT -> subtract(x, xo, y, yo, out, oo, n);
      case BackendChecks.MULTIPLY -> multiply(x, xo, y, yo, out, oo, n);
      case BackendChecks.DIVIDE -> divide(x, xo, y, yo, out, oo, n);
      default -> throw new IllegalArgumentException("unknown entrywise operation " + op);
    }
  }

  // One loop per operation: the operation must be a constant for C2 to compile a lanewise
  // operation into one instruction, and JDK 17 boxes vectors that meet at a branch.

  private static void add(ByteBuffer x, int xo, ByteBuffer y, int yo, ByteBuffer out, int oo, int n) {
    int p = 0;
    for (int upper = V.loopBound(n); p < upper; p += LANES)
      load(x, xo + p).add(load(y, yo + p)).intoByteBuffer(out, (oo + p) * Double.BYTES, NATIVE);
    for (; p < n; p++) put(out, oo + p, get(x, xo + p) + get(y, yo + p));
  }

  private static void subtract(ByteBuffer x, int xo, ByteBuffer y, int yo, ByteBuffer out, int oo, int n) {
    int p = 0;
    for (int upper = V.loopBound(n); p < upper; p += LANES)
      load(x, xo + p).sub(load(y, yo + p)).intoByteBuffer(out, (oo + p) * Double.BYTES, NATIVE);
    for (; p < n; p++) put(out, oo + p, get(x, xo + p) - get(y, yo + p));
  }

  private static void multiply(ByteBuffer x, int xo, ByteBuffer y, int yo, ByteBuffer out, int oo, int n) {
    int p = 0;
    for (int upper = V.loopBound(n); p < upper; p += LANES)
      load(x, xo + p).mul(load(y, yo + p)).intoByteBuffer(out, (oo + p) * Double.BYTES, NATIVE);
    for (; p < n; p++) put(out, oo + p, get(x, xo + p) * get(y, yo + p));
  }

  private static void divide(ByteBuffer x, int xo, ByteBuffer y, int yo, ByteBuffer out, int oo, int n) {
    int p = 0;
    for (int upper = V.loopBound(n); p < upper; p += LANES)
      load(x, xo + p).div(load(y, yo + p)).intoByteBuffer(out, (oo + p) * Double.BYTES, NATIVE);
    for (; p < n; p++) put(out, oo + p, get(x, xo + p) / get(y, yo + p));
  }

  /**
   * {@code out[oo + p] = c * x[xo + p]} for {@code p < n}: one rounded product per entry, as BLAS's
   * scal gives.
   */
  static void scale(double c, ByteBuffer x, int xo, ByteBuffer out, int oo, int n) {
    DoubleVector cv = DoubleVector.broadcast(V, c);
    int p = 0;
    for (int upper = V.loopBound(n); p < upper; p += LANES) load(x, xo + p).mul(cv).intoByteBuffer(out, (oo + p) * Double.BYTES, NATIVE);
    for (; p < n; p++) put(out, oo + p, c * get(x, xo + p));
  }

  /** {@link #scale} on float blocks, c rounded to float first (as sscal takes it). */
  static void scaleFloat(float c, ByteBuffer x, int xo, ByteBuffer out, int oo, int n) {
    FloatVector cv = FloatVector.broadcast(F, c);
    int p = 0;
    for (int upper = F.loopBound(n); p < upper; p += FLANES) loadFloat(x, xo + p).mul(cv).intoByteBuffer(out, (oo + p) * Float.BYTES, NATIVE);
    for (; p < n; p++) putFloat(out, oo + p, c * getFloat(x, xo + p));
  }

  /**
   * {@code fx[0..n) = f(x[xo..xo+n))} by f's chunk form, into a Java array: the values shared by
   * every item of y that {@link #multiplyInto} then takes them to.
   */
  static void map(ScalarFunction.ChunkMap f, ByteBuffer x, int xo, double[] fx, int n) {
    x.asDoubleBuffer().get(xo, fx, 0, n);
    f.apply(fx, n);
  }

  /** {@code out[oo + p] = fx[p] * y[yo + p]} for {@code p < n}. */
  static void multiplyInto(double[] fx, ByteBuffer y, int yo, ByteBuffer out, int oo, int n) {
    int p = 0;
    for (int upper = V.loopBound(n); p < upper; p += LANES)
      DoubleVector.fromArray(V, fx, p).mul(load(y, yo + p)).intoByteBuffer(out, (oo + p) * Double.BYTES, NATIVE);
    for (; p < n; p++) put(out, oo + p, fx[p] * get(y, yo + p));
  }

  /** The built-in functions ({@link ScalarFunction#builtin}) that {@link #map} computes: their vector forms. */
  static boolean maps(String builtin) {
    return "sigmoid".equals(builtin) || "tanh".equals(builtin);
  }

  /**
   * {@code out[oo + p] = f(x[xo + p])} for {@code p < n}, f a built-in of {@link #maps}: the
   * sigmoid {@code 1 / (1 + exp(-t))} and tanh with the Vector API's exp and tanh (C2 compiles them
   * to Intel's SVML routines), 5 and 12 times faster than {@code Math.exp} and {@code Math.tanh}
   * one entry at a time. They are not the same functions bit for bit: about 2 % of sigmoid's values
   * differ from {@link org.hbp.math.Scalars#sigmoid}'s by a unit in the last place (relative
   * difference at most 4e-16), as oneDNN's float32 forms differ from the host's. NaN gives NaN and
   * infinities their limits, as in the host forms. Nor are they the same before and after C2
   * compiles the caller (lane by lane {@code Math.exp} first, SVML after), which is why
   * {@link BlasBackend#SVML} is opt-in.
   */
  static void map(String builtin, ByteBuffer x, int xo, ByteBuffer out, int oo, int n) {
    switch (builtin) {
      case "sigmoid" -> sigmoid(x, xo, out, oo, n);
      case "tanh" -> tanh(x, xo, out, oo, n);
      default -> throw new IllegalArgumentException("no vector form of " + builtin);
    }
  }

  private static void sigmoid(ByteBuffer x, int xo, ByteBuffer out, int oo, int n) {
    DoubleVector one = DoubleVector.broadcast(V, 1.0);
    int p = 0;
    for (int upper = V.loopBound(n); p < upper; p += LANES)
      one.div(one.add(load(x, xo + p).neg().lanewise(VectorOperators.EXP))).intoByteBuffer(out, (oo + p) * Double.BYTES, NATIVE);
    for (; p < n; p++) put(out, oo + p, org.hbp.math.Scalars.sigmoid(get(x, xo + p)));
  }

  private static void tanh(ByteBuffer x, int xo, ByteBuffer out, int oo, int n) {
    int p = 0;
    for (int upper = V.loopBound(n); p < upper; p += LANES)
      load(x, xo + p).lanewise(VectorOperators.TANH).intoByteBuffer(out, (oo + p) * Double.BYTES, NATIVE);
    for (; p < n; p++) put(out, oo + p, org.hbp.math.Scalars.tanh(get(x, xo + p)));
  }

  // ---- float32: the same on float blocks; IEEE float arithmetic, as the host kernels' (each a
  // double operation on float operands rounded once to float, which gives the same float)

  /** {@link #binary} on float blocks. */
  static void binaryFloat(int op, ByteBuffer x, int xo, ByteBuffer y, int yo, ByteBuffer out, int oo, int n) {
    switch (op) {
      case BackendChecks.ADD -> addFloat(x, xo, y, yo, out, oo, n);
      case BackendChecks.SUBTRACT -> subtractFloat(x, xo, y, yo, out, oo, n);
      case BackendChecks.MULTIPLY -> multiplyFloat(x, xo, y, yo, out, oo, n);
      case BackendChecks.DIVIDE -> divideFloat(x, xo, y, yo, out, oo, n);
      default -> throw new IllegalArgumentException("unknown entrywise operation " + op);
    }
  }

  private static void addFloat(ByteBuffer x, int xo, ByteBuffer y, int yo, ByteBuffer out, int oo, int n) {
    int p = 0;
    for (int upper = F.loopBound(n); p < upper; p += FLANES)
      loadFloat(x, xo + p).add(loadFloat(y, yo + p)).intoByteBuffer(out, (oo + p) * Float.BYTES, NATIVE);
    for (; p < n; p++) putFloat(out, oo + p, getFloat(x, xo + p) + getFloat(y, yo + p));
  }

  private static void subtractFloat(ByteBuffer x, int xo, ByteBuffer y, int yo, ByteBuffer out, int oo, int n) {
    int p = 0;
    for (int upper = F.loopBound(n); p < upper; p += FLANES)
      loadFloat(x, xo + p).sub(loadFloat(y, yo + p)).intoByteBuffer(out, (oo + p) * Float.BYTES, NATIVE);
    for (; p < n; p++) putFloat(out, oo + p, getFloat(x, xo + p) - getFloat(y, yo + p));
  }

  private static void multiplyFloat(ByteBuffer x, int xo, ByteBuffer y, int yo, ByteBuffer out, int oo, int n) {
    int p = 0;
    for (int upper = F.loopBound(n); p < upper; p += FLANES)
      loadFloat(x, xo + p).mul(loadFloat(y, yo + p)).intoByteBuffer(out, (oo + p) * Float.BYTES, NATIVE);
    for (; p < n; p++) putFloat(out, oo + p, getFloat(x, xo + p) * getFloat(y, yo + p));
  }

  private static void divideFloat(ByteBuffer x, int xo, ByteBuffer y, int yo, ByteBuffer out, int oo, int n) {
    int p = 0;
    for (int upper = F.loopBound(n); p < upper; p += FLANES)
      loadFloat(x, xo + p).div(loadFloat(y, yo + p)).intoByteBuffer(out, (oo + p) * Float.BYTES, NATIVE);
    for (; p < n; p++) putFloat(out, oo + p, getFloat(x, xo + p) / getFloat(y, yo + p));
  }

  /**
   * {@link #map} on a float block: f in double on the stored floats, each value rounded to float
   * (what a stored {@code f(x)} holds) into {@code fx}; {@code work} is scratch of n entries.
   */
  static void mapFloat(ScalarFunction.ChunkMap f, ByteBuffer x, int xo, double[] work, float[] fx, int n) {
    x.asFloatBuffer().get(xo, fx, 0, n);
    for (int p = 0; p < n; p++) work[p] = fx[p];
    f.apply(work, n);
    for (int p = 0; p < n; p++) fx[p] = (float) work[p];
  }

  /** {@link #multiplyInto} on float blocks. */
  static void multiplyIntoFloat(float[] fx, ByteBuffer y, int yo, ByteBuffer out, int oo, int n) {
    int p = 0;
    for (int upper = F.loopBound(n); p < upper; p += FLANES)
      FloatVector.fromArray(F, fx, p).mul(loadFloat(y, yo + p)).intoByteBuffer(out, (oo + p) * Float.BYTES, NATIVE);
    for (; p < n; p++) putFloat(out, oo + p, fx[p] * getFloat(y, yo + p));
  }

  private static FloatVector loadFloat(ByteBuffer b, int entry) {
    return FloatVector.fromByteBuffer(F, b, entry * Float.BYTES, NATIVE);
  }

  private static float getFloat(ByteBuffer b, int entry) {
    return b.getFloat(entry * Float.BYTES);
  }

  private static void putFloat(ByteBuffer b, int entry, float v) {
    b.putFloat(entry * Float.BYTES, v);
  }

  private static DoubleVector load(ByteBuffer b, int entry) {
    return DoubleVector.fromByteBuffer(V, b, entry * Double.BYTES, NATIVE);
  }

  private static double get(ByteBuffer b, int entry) {
    return b.getDouble(entry * Double.BYTES);
  }

  private static void put(ByteBuffer b, int entry, double v) {
    b.putDouble(entry * Double.BYTES, v);
  }
}
