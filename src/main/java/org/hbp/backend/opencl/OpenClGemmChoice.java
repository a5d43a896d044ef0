package org.hbp.backend.opencl;

import java.util.function.Supplier;
import org.hbp.UserError;
import org.hbp.backend.Precision;

/**
 * How one {@link OpenClBackend} multiplies matrices: CLBlast ({@link OpenClBlast}) or one of the
 * hand-written product kernels ({@link OpenClKernels#gemm}), which of the kernels fit the device,
 * the choice of the system property {@value #PROPERTY} and the one-line notices that say what is
 * in use and why.
 */
final class OpenClGemmChoice {
  /** The system property choosing the products: {@code auto}, {@code clblast}, {@code kernels} or a kernel's name. */
  static final String PROPERTY = "hbp.opencl.gemm";

  private final OpenClDevices.Device device;
  private final OpenClContext ctx;
  private final Precision precision;
  /** Runs CLBlast's check product on the device: "" when right, else why CLBlast cannot be used. */
  private final Supplier<String> check;
  /** Which product kernels fit this device: the large and the small tile, the CPU kernel. */
  private final boolean large, small, direct;
  /** The best hand-written product kernel that fits this device ({@code kernels}). */
  final String best;
  /** The products in use: {@code clblast}, {@code large}, {@code small}, {@code direct} or {@code naive}. */
  private String variant;

  OpenClGemmChoice(OpenClLaunches q, OpenClDevices.Device device, OpenClContext ctx, Precision precision, Supplier<String> check) {
    this.device = device;
    this.ctx = ctx;
    this.precision = precision;
    this.check = check;
    this.large = fits(q, "gemm_large", OpenClKernels.GEMM_LARGE);
    this.small = fits(q, "gemm_small", OpenClKernels.GEMM_SMALL);
    int[] dw = OpenClKernels.GEMM_DIRECT_SHAPE;
    this.direct = q.kernelWorkGroupSize(q.kernel("gemm_direct")) >= (long) dw[0] * dw[1] && device.maxWorkGroupSize() >= (long) dw[0] * dw[1];
    this.best = device.typeName().equals("cpu") && direct ? "direct" : large && small ? "large" : small ? "small" : "naive";
  }

  /** Whether a tiled product kernel's work-group and local memory fit this device. */
  private boolean fits(OpenClLaunches q, String kernel, int[] cfg) {
    long need = (long) cfg[0] * cfg[1];
    return q.kernelWorkGroupSize(q.kernel(kernel)) >= need && device.maxWorkGroupSize() >= need
        && OpenClKernels.gemmLocalBytes(cfg, precision) <= device.localMemBytes();
  }

  /** Applies {@value #PROPERTY}: {@code auto} (the default) is CLBlast where it can be used, else the best kernel. */
  void useDefault() {
    String chosen = System.getProperty(PROPERTY, "auto");
    use(chosen.equals("auto") ? (clblastFailure() == null ? "clblast" : "kernels") : chosen);
  }

  String variant() {
    return variant;
  }

  /** Sets the variant without checks (for CLBlast's own check product); returns the one before. */
  String force(String v) {
    String before = variant;
    variant = v;
    return before;
  }

  /** Why CLBlast cannot be used on this device and precision, or null; checked once per both in the process. */
  String clblastFailure() {
    if (OpenClBlast.loadFailure() != null) return "CLBlast did not load: " + OpenClBlast.loadFailure();
    String r = ctx.clblastCheck.computeIfAbsent(precision, p -> check.get());
    return r.isEmpty() ? null : r;
  }

  /** See {@link OpenClBackend#useGemmKernel}. */
  void use(String v) {
    if (v.equals("kernels")) v = best;
    boolean ok = switch (v) {
      case "clblast", "naive" -> true;
      case "large" -> large && small;
      case "small" -> small;
      case "direct" -> direct;
      default -> throw new UserError("unknown product kernel '" + v + "'; expected clblast, kernels, large, small, direct or naive");
    };
    if (!ok) throw new UserError("the product kernel '" + v + "' does not fit OpenCL device " + device.describe()
        + " (work-group size or local memory)");
    if (v.equals("clblast") && clblastFailure() != null)
      throw new UserError("matrix products through CLBlast are not available: " + clblastFailure() + "; use the hand-written kernels (kernels)");
    variant = v;
  }

  /** See {@link OpenClBackend#gemmNotice}. */
  String notice() {
    if (variant.equals("clblast")) return "matrix products: " + OpenClBlast.LIBRARY;
    String failure = clblastFailure();
    return "matrix products: hand-written kernel '" + variant + "' (" + (failure != null ? failure + "; the kernels are the fallback"
        : "chosen instead of CLBlast, which is available") + ")";
  }

  /** See {@link OpenClBackend#productsNotice}. */
  static String processNotice() {
    String chosen = System.getProperty(PROPERTY, "auto");
    if (OpenClBlast.loadFailure() != null)
      return "matrix products: the hand-written kernels (CLBlast did not load: " + OpenClBlast.loadFailure() + ")";
    if (!chosen.equals("auto") && !chosen.equals("clblast"))
      return "matrix products: the hand-written kernels (" + PROPERTY + "=" + chosen + "; " + OpenClBlast.LIBRARY + " loaded)";
    return "matrix products: " + OpenClBlast.LIBRARY + " (-D" + PROPERTY + "=kernels: the hand-written kernels)";
  }
}
