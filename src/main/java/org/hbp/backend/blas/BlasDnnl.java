package org.hbp.backend.blas;

import static org.hbp.backend.BackendChecks.item;

import java.lang.ref.Reference;
import org.bytedeco.javacpp.Pointer;
import org.hbp.backend.BackendChecks;
import org.hbp.backend.ConvGeometry;
import org.hbp.backend.ScalarFunction;

/**
 * The float32 kernels of the {@link BlasBackend} that oneDNN runs ({@link DnnlEngine}): direct
 * convolutions (never forming the unfolded matrix; {@link DnnlConvolutions}), the built-in sigmoid
 * and tanh with their derivatives, and entrywise binary operations ({@link DnnlElementwise}). Each
 * method returns null when oneDNN does not take its operands (no natives, a float64 backend, a
 * layout or shape oneDNN refuses); the backend then computes the default's way.
 */
final class BlasDnnl {
  private final BlasBackend be;
  /** Whether the backend is float32 (oneDNN has no float64 kernels on CPUs). */
  private final boolean float32;

  BlasDnnl(BlasBackend be, boolean float32) {
    this.be = be;
    this.float32 = float32;
  }

  /** A oneDNN kernel writing its result into {@code out}; it throws {@link DnnlEngine.Unsupported} when oneDNN refuses the operands. */
  @FunctionalInterface
  private interface Kernel {
    void run(BlasBatch out);
  }

  /** {@code out} after {@code kernel} wrote it, or null (with {@code out} released) when oneDNN refused the operands. */
  private BlasBatch into(BlasBatch out, Kernel kernel) {
    try {
      kernel.run(out);
      return out;
    } catch (DnnlEngine.Unsupported e) {
      be.release(out);
      return null;
    }
  }

  /** oneDNN's engine and kernels when the backend is float32 and they load (on first use), else null. */
  DnnlEngine kernels() {
    return float32 ? DnnlEngine.get() : null;
  }

  /** f over x by oneDNN's vectorized kernel when f is a built-in it has, else null. */
  BlasBatch map(BlasBatch x, ScalarFunction f) {
    DnnlEngine d = kernels();
    int algorithm = DnnlElementwise.eltwiseAlgorithm(f.builtin());
    if (d == null || algorithm < 0 || x.length() == 0) return null;
    return into(be.alloc("map", x.samples(), x.directions(), x.rows(), x.cols(), false),
        out -> d.elementwise().eltwise(algorithm, x, out, x.length()));
  }

  /**
   * {@code f'(x) .* y} (f's derivative from its value x) by oneDNN's backward kernel when f is a
   * built-in it has, else null; x and y laid out alike.
   */
  BlasBatch mapMultiply(BlasBatch x, ScalarFunction f, BlasBatch y) {
    DnnlEngine d = kernels();
    int algorithm = DnnlElementwise.eltwiseBackwardAlgorithm(f.builtin());
    if (d == null || algorithm < 0 || x.length() == 0) return null;
    return into(be.alloc("mapMultiply", x.samples(), x.directions(), x.rows(), x.cols(), false),
        out -> d.elementwise().eltwiseBackward(algorithm, x, y, out, x.length()));
  }

  /** Below this many result entries the host kernel's loop costs less than oneDNN's call. */
  static final long BINARY_MIN_ENTRIES = 4096;

  /**
   * {@code x op y} entrywise (op one of {@link BackendChecks}' ADD, SUBTRACT, MULTIPLY, DIVIDE) by
   * oneDNN's binary kernel, or null when the host kernel serves: float64, small results, or a
   * broadcast oneDNN cannot express (its first operand must have the result's shape; x is swapped
   * in second place for a sum or product only).
   */
  BlasBatch binary(String kernel, int op, BlasBatch x, BlasBatch y, BackendChecks.Elementwise e) {
    DnnlEngine d = kernels();
    long s = e.samples(), dirs = e.directions(), n = (long) e.rows() * e.cols();
    if (d == null || s * dirs * n < BINARY_MIN_ENTRIES) return null;
    long[] xShape = {x.samples(), x.directions(), e.aScalar() ? 1 : n}, yShape = {y.samples(), y.directions(), e.bScalar() ? 1 : n};
    boolean xFull = xShape[0] == s && xShape[1] == dirs && xShape[2] == n;
    boolean yFull = yShape[0] == s && yShape[1] == dirs && yShape[2] == n;
    // x second (broadcast) only for a sum or product, whose operands commute exactly
    boolean swap = !xFull;
    if (swap && (!yFull || (op != BackendChecks.ADD && op != BackendChecks.MULTIPLY))) return null;
    BlasBatch a = swap ? y : x, b = swap ? x : y;
    long[] bShape = swap ? xShape : yShape;
    int algorithm = DnnlElementwise.binaryAlgorithm(op);
    return into(be.alloc(kernel, (int) s, (int) dirs, e.rows(), e.cols(), false),
        out -> d.elementwise().binary(algorithm, a, b, bShape, s, dirs, n, out));
  }

  /**
   * Whether {@link #convolution} takes these operands without a bias: filters of the geometry's
   * width shared by all items of x, or shared by the samples in directions over x of one direction
   * (a convolution's {@code J_W v}).
   */
  boolean convolves(BlasBatch a, BlasBatch in, ConvGeometry g) {
    return kernels() != null && a.rows() >= 1 && a.cols() == g.patchRows() && in.itemSize() == g.inputSize()
        && (a.items() == 1 || (a.samples() == 1 && in.directions() == 1));
  }

  /** {@code w * unfold(x) + bias * ones'} by oneDNN, or null when oneDNN does not take these operands (the caller's default then serves). */
  BlasBatch convolution(BlasBatch a, BlasBatch in, ConvGeometry g, BlasBatch bias) {
    DnnlEngine d = kernels();
    int cout = a.rows(), p = g.patches();
    // the direct kernel: filters of the geometry's width, x of its size, and one shared bias
    // (cout x 1, checked by the caller); anything else is the default's
    if (d == null || !convolves(a, in, g) || (bias != null && bias.items() != 1)) return null;
    if (a.items() == 1) {
      return into(be.alloc("convolution", in.samples(), in.directions(), cout, p, false), out -> {
        if (bias != null) d.convolutions().forwardBias(a, cout, in, bias, g, in.items(), out); // added by the kernel
        else d.convolutions().forward(a, cout, in, g, in.items(), out);
      });
    }
    if (bias != null) return null;
    // filters in directions (one sample) over x of one direction: per direction, one convolution
    // of all samples, written into that direction's items (item s*directions + j of the result)
    int directions = a.directions();
    long filters = a.itemSize(), image = (long) cout * p;
    return into(be.alloc("convolution", in.samples(), directions, cout, p, false), out -> {
      for (int j = 0; j < directions; j++)
        d.convolutions().forward(a, j * filters, cout, in, g, in.samples(), out, j * image, directions * image);
    });
  }

  /** {@code fold(w' * y)} by oneDNN, or null when oneDNN does not take these operands. */
  BlasBatch convolutionAdjoint(BlasBatch a, BlasBatch in, ConvGeometry g) {
    DnnlEngine d = kernels();
    int cout = a.rows();
    if (d == null || a.items() != 1 || cout < 1 || a.cols() != g.patchRows() || (long) in.itemSize() != (long) cout * g.patches())
      return null;
    return into(be.alloc("convolutionAdjoint", in.samples(), in.directions(), g.c(), g.h() * g.w(), false),
        out -> d.convolutions().adjoint(a, cout, in, g, in.items(), out));
  }

  /** {@code sum_n y_n * unfold(x_n)'} by oneDNN, or null when oneDNN does not take these operands. */
  BlasBatch convolutionWeightGradient(BlasBatch dy, BlasBatch in, ConvGeometry g) {
    DnnlEngine d = kernels();
    int cout = dy.rows(), samples = dy.samples(), directions = dy.directions();
    // y's items cout x patches, x's one image per sample; an x that varies by direction too would
    // need one call per (sample, direction) pair: the default's unfold and gemm serve it
    if (d == null || cout < 1 || dy.cols() != g.patches() || in.itemSize() != g.inputSize() || in.samples() != samples
        || in.directions() != 1)
      return null;
    BlasBatch out = be.alloc("convolutionWeightGradient", 1, directions, cout, g.patchRows(), false);
    long yItem = dy.itemSize(), outItem = out.itemSize();
    BlasBatch column = null;
    try {
      if (directions == 1) {
        d.convolutions().weightGradient(dy, 0, yItem, cout, in, 0, g, samples, out, 0);
        return out;
      }
      // direction v: y's items v, D+v, 2D+v, ... copied side by side (oneDNN's kernels computed
      // wrong gradients from a strided batch axis), by the backend's threads (one thread's copies
      // took as long as the convolution of c4d3's first layer), against x's consecutive images;
      // one direction's column at a time, so that the convolution reads it from the cache
      BlasBatch copy = be.alloc("convolutionWeightGradient", samples, 1, cout, g.patches(), false);
      column = copy;
      long bytes = yItem * Float.BYTES;
      for (int v = 0; v < directions; v++) {
        int direction = v;
        be.parallelLoops().run(samples, samples * yItem, (from, to) -> {
          for (long sa = from; sa < to; sa++)
            Pointer.memcpy(new Pointer(copy.pointer()).position(sa * bytes), new Pointer(dy.pointer()).position(item(dy, (int) sa, direction) * bytes),
                bytes);
        });
        d.convolutions().weightGradient(column, 0, yItem, cout, in, 0, g, samples, out, v * outItem);
      }
      Reference.reachabilityFence(dy);
      return out;
    } catch (DnnlEngine.Unsupported e) {
      be.release(out);
      return null;
    } finally {
      if (column != null) be.release(column);
    }
  }
}
