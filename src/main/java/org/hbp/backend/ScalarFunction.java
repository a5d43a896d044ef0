package org.hbp.backend;

import java.util.Objects;
import java.util.function.DoubleUnaryOperator;

/**
 * An elementwise function in the two forms backends run: Java, for host backends (it is also a
 * {@link DoubleUnaryOperator}), and OpenCL C, for device backends, which compile {@link
 * #openclSource()} into a kernel: what {@link Backend#map} takes, so a map never leaves the device. Generated operators declare one constant per elementwise function they use, both
 * forms printed from the same derived formula.
 *
 * <p><b>OpenCL form.</b> {@code openclSource} defines {@code REAL <name>(REAL t)} (the parameter's
 * name is free), where {@code REAL} is {@code float} or {@code double} as the backend {@code
 * #define}s it; it may call the built-ins of {@link #OPENCL_PRELUDE} ({@code hbp_sigmoid} and so on,
 * the same functions as {@code org.hbp.math.Scalars}) and OpenCL's math functions. {@code name}
 * is a valid C identifier, unique per function (generated names are {@code <Class>_<method>}).
 *
 * <p><b>Built-ins.</b> {@code builtin}, when not null, names the built-in elementwise function
 * ({@code org.hbp.math.Scalars}: {@code sigmoid}, {@code tanh}, {@code exp}, ...) that this
 * function is, or a built-in's derivative written in its value u = f(t) ({@code
 * sigmoid_d1_of_value}: u (1 - u), {@code tanh_d1_of_value}: 1 - u^2), so that a backend with a
 * vectorized library routine for it (oneDNN's, on the float32 BLAS backend) may run that instead
 * of the Java form.
 */
public record ScalarFunction(String name, String openclSource, DoubleUnaryOperator java, ChunkMap chunk, String builtin)
    implements DoubleUnaryOperator {
  /**
   * The function applied in place to the first {@code n} entries of an array: host backends call it
   * once per chunk, so the loop around the function is compiled once per function (the JIT inlines
   * the function into it) instead of one loop calling every function through an interface.
   */
  @FunctionalInterface
  public interface ChunkMap {
    void apply(double[] values, int n);
  }

  public ScalarFunction {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(openclSource, "openclSource");
    Objects.requireNonNull(java, "java");
    if (!name.matches("[A-Za-z_][A-Za-z0-9_]*")) throw new IllegalArgumentException("ScalarFunction name '" + name + "' is not a C identifier");
  }

  /** A function that is not one of the built-ins (see {@link #builtin}). */
  public ScalarFunction(String name, String openclSource, DoubleUnaryOperator java, ChunkMap chunk) {
    this(name, openclSource, java, chunk, null);
  }

  /** A function without a chunk form (host backends then apply {@code java} entry by entry). */
  public ScalarFunction(String name, String openclSource, DoubleUnaryOperator java) {
    this(name, openclSource, java, null, null);
  }

  @Override
  public double applyAsDouble(double t) {
    return java.applyAsDouble(t);
  }

  /** A function given by a C expression in {@code t}, e.g. {@code of("plus_eps", "t + 1e-8", t -> t + 1e-8)}. */
  public static ScalarFunction of(String name, String openclExpression, DoubleUnaryOperator java) {
    return new ScalarFunction(name, "REAL " + name + "(REAL t) { return " + openclExpression + "; }\n", java);
  }

  /**
   * OpenCL C definitions of the built-in elementwise functions, matching {@code
   * org.hbp.math.Scalars} (including its overflow-safe sigmoid and softplus and step(0) = 0).
   * Requires {@code REAL} to be defined.
   */
  public static final String OPENCL_PRELUDE = String.join("\n",
      "inline REAL hbp_exp(REAL t) { return exp(t); }",
      "inline REAL hbp_log(REAL t) { return log(t); }",
      "inline REAL hbp_sqrt(REAL t) { return sqrt(t); }",
      "inline REAL hbp_sigmoid(REAL t) { if (t >= (REAL) 0) return (REAL) 1 / ((REAL) 1 + exp(-t)); REAL e = exp(t); return e / ((REAL) 1 + e); }",
      "inline REAL hbp_tanh(REAL t) { return tanh(t); }",
      "inline REAL hbp_erf(REAL t) { return erf(t); }",
      "inline REAL hbp_sin(REAL t) { return sin(t); }",
      "inline REAL hbp_cos(REAL t) { return cos(t); }",
      "inline REAL hbp_relu(REAL t) { return fmax(t, (REAL) 0); }",
      "inline REAL hbp_softplus(REAL t) { return t > (REAL) 30 ? t : log1p(exp(t)); }",
      "inline REAL hbp_step(REAL t) { return t > (REAL) 0 ? (REAL) 1 : (REAL) 0; }",
      "inline REAL hbp_abs(REAL t) { return fabs(t); }",
      "inline REAL hbp_sign(REAL t) { return t > (REAL) 0 ? (REAL) 1 : (t < (REAL) 0 ? (REAL) -1 : (REAL) 0); }",
      "");
}
