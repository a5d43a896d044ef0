package org.hbp.network;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.hbp.UserError;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.backend.ScalarFunction;
import org.hbp.runtime.ForwardCache;
import org.hbp.runtime.ResidualKind;

/**
 * The per-layer parts of the Hessian diagonal's walk ({@link GraphHessianDiagonal}), apart from
 * the walk: each parameter's host sum over samples, the memory check before a column set is
 * formed, the refusal of a general residual, the factors of a diagonal residual, and the signed
 * sums of squares of a parameter's columns.
 */
abstract class HessianSums {
  final Pass pass;
  final Backend be;
  final long limit;
  /** Each parameter's sum over samples of its diagonal (host; a diagonal is small). */
  final Map<String, double[]> sums = new LinkedHashMap<>();

  HessianSums(Pass pass, long limit) {
    this.pass = pass;
    this.be = pass.net.be;
    this.limit = limit;
  }

  /** Refuses a set of {@code samples * columns} items of {@code size} entries over the limit, naming where. */
  void check(long samples, long columns, long size, String where) {
    long bytes = samples * columns * size * MemoryEstimate.precisionOf(be).bytes();
    if (bytes > limit)
      throw new UserError("the Hessian diagonal would form " + samples + " x " + columns + " columns of " + size + " entries ("
          + MemoryEstimate.bytes(bytes) + ") at " + where + ", over the memory limit " + MemoryEstimate.bytes(limit)
          + "; use a smaller batch, raise --memory-limit, or take the GGN diagonal (--diagonal exact)");
  }

  /** The diagonal residual of {@code var} at the layer's output gradient; refuses a general one, naming the layer. */
  Batch residualDiagonal(Network.LayerNode l, ForwardCache c, String var, Batch dz) {
    if (l.op.residualKind(var) == ResidualKind.GENERAL)
      throw new UserError("the Hessian diagonal needs diagonal residuals: layer " + l.path + " (" + l.op.name() + ") has a general residual "
          + "with respect to '" + var + "'; use the exact Hessian blocks (--dense) instead");
    return l.op.residualDiagonal(c, var, dz);
  }

  /** {@code sqrt(max(t, 0))}: the entries of the positive residual factor. */
  static final ScalarFunction ROOT_OF_POSITIVE = ScalarFunction.of("hbp_root_of_positive", "sqrt(fmax(t, (REAL) 0))", t -> Math.sqrt(Math.max(t, 0)));
  /** {@code sqrt(max(-t, 0))}: the entries of the negative residual factor. */
  static final ScalarFunction ROOT_OF_NEGATIVE = ScalarFunction.of("hbp_root_of_negative", "sqrt(fmax(-t, (REAL) 0))", t -> Math.sqrt(Math.max(-t, 0)));

  /**
   * {@code diag(sqrt(max(r, 0)))} (+) and {@code diag(sqrt(max(-r, 0)))} (-) per sample, as numel
   * columns each, {@code pass.samples} samples: on the backend ({@code diagMatrix}, whose column j
   * becomes direction j), or on the host for a residual shared by the samples (repeated).
   */
  List<HessianDiagonal.Columns> residualFactors(Batch r, int[] shape) {
    int numel = shape[0] * shape[1];
    if (r.samples() != pass.samples) return hostResidualFactors(r, shape);
    Batch column = be.reshape(r, numel, 1);
    List<HessianDiagonal.Columns> out = new java.util.ArrayList<>();
    for (ScalarFunction root : List.of(ROOT_OF_POSITIVE, ROOT_OF_NEGATIVE)) {
      Batch entries = be.map(column, root);
      Batch diagonal = be.diagMatrix(entries); // [N x 1] numel x numel
      be.release(entries);
      Batch columns = be.reshape(be.columnsAsDirections(diagonal), shape[0], shape[1]); // [N x numel] in the input's shape, a view
      out.add(new HessianDiagonal.Columns(columns, root == ROOT_OF_POSITIVE ? 1 : -1));
    }
    return out;
  }

  /** {@link #residualFactors} of a residual shared by the samples, on the host. */
  private List<HessianDiagonal.Columns> hostResidualFactors(Batch r, int[] shape) {
    int numel = shape[0] * shape[1], samples = pass.samples, given = r.samples();
    double[] d = be.toArray(r), plus = new double[samples * numel * numel], minus = new double[samples * numel * numel];
    for (int s = 0; s < samples; s++)
      for (int i = 0; i < numel; i++) {
        double v = d[(s % given) * numel + i];
        int at = (s * numel + i) * numel + i; // sample s, direction i, entry i
        plus[at] = Math.sqrt(Math.max(v, 0));
        minus[at] = Math.sqrt(Math.max(-v, 0));
      }
    return List.of(new HessianDiagonal.Columns(be.fromArray(samples, numel, shape[0], shape[1], plus), 1),
        new HessianDiagonal.Columns(be.fromArray(samples, numel, shape[0], shape[1], minus), -1));
  }

  /**
   * Adds {@code sign * sum_n sum_c (J_θ' c_{n,c})^2} of parameter {@code p} of layer {@code l} for
   * the columns {@code out} at the layer's output (in its output shape) to the sum of {@code name}:
   * the product {@link #kroneckerSquares} where it applies, else the squares of {@code jacTMatProd}.
   */
  void addSquares(Network.LayerNode l, String p, String name, ForwardCache c, Batch out, double sign) {
    Batch factor = l.op.hasKroneckerFactor(p) ? l.op.kroneckerFactor(c, p) : null;
    double[] kron = kroneckerSquares(factor, out, sign);
    if (kron != null) {
      add(name, kron);
      return;
    }
    int[] ps = l.op.itemShape(p);
    check(out.samples(), out.directions(), (long) ps[0] * ps[1], "layer " + l.path + " (" + l.op.name() + "), parameter " + p);
    Batch g = l.op.jacTMatProd(c, p, out);
    add(name, squares(g, sign));
    pass.net.releaseTemporaries(List.of(g), out);
  }

  /**
   * {@code sign · sum_{n,c} (c_{n,c} a_n')∘(c_{n,c} a_n') = sign · sum_n (sum_c c_{n,c}∘c_{n,c}) (a_n∘a_n)'}
   * for a parameter whose Jacobian is {@code kron(a_n', I)} with one column a_n per sample (T = 1:
   * a linear layer's weight, a ones(1,1) for its bias), {@code J' c = c a_n'}: the same sum as
   * {@link #squares} of the Jacobian-transpose products, exactly, without forming the m x p
   * product of every column (BackPACK's DiagHessian does the same for linear layers). Null where
   * it does not apply: no factor, several locations T (a convolution, whose squared sums over
   * locations do not separate), or a column set shared by the samples.
   */
  double[] kroneckerSquares(Batch a, Batch cols, double sign) {
    if (a == null || a.cols() != 1 || cols.cols() != 1 || cols.samples() != pass.samples || cols.directions() == 0) return null;
    Batch cc = be.multiply(cols, cols); // [N x C] m x 1
    Batch side = be.directionsAsColumns(cc, cc.directions()); // [N x 1] m x C, a free view
    Batch ones = be.fill(cc.directions(), 1, 1.0);
    Batch summed = be.matmul(side, false, ones, false); // [N x 1] m x 1: sum_c c∘c
    Batch aa = be.multiply(a, a);
    Batch d = be.matmulSumSamples(summed, false, aa, true); // m x p
    double[] out = be.toArray(d);
    for (int i = 0; i < out.length; i++) out[i] *= sign;
    for (Batch b : List.of(cc, ones, summed, aa, d)) be.release(b);
    return out;
  }

  /** sign * sum over samples and columns of g∘g, per entry. */
  static double[] squares(Backend be, Batch g, double sign) {
    int size = g.itemSize();
    double[] d = be.toArray(g), out = new double[size];
    for (int item = 0; item < g.items(); item++)
      for (int i = 0; i < size; i++) {
        double v = d[item * size + i];
        out[i] += sign * v * v;
      }
    return out;
  }

  double[] squares(Batch g, double sign) {
    return squares(be, g, sign);
  }

  /** The sum over samples of a per-sample diagonal (a diagonal shared by all samples counts N times). */
  double[] diagonalSum(Batch r) {
    int size = r.itemSize();
    double[] d = be.toArray(r), out = new double[size];
    int times = r.samples() == 1 ? pass.samples : 1;
    for (int item = 0; item < r.items(); item++) for (int i = 0; i < size; i++) out[i] += times * d[item * size + i];
    return out;
  }

  void add(String parameter, double[] values) {
    double[] sum = sums.computeIfAbsent(parameter, k -> new double[values.length]);
    for (int i = 0; i < values.length; i++) sum[i] += values[i];
  }

  /** Each parameter's sum over the pass's samples, one item in its shape (only those something was added to). */
  Map<String, Batch> sumBatches() {
    Map<String, Batch> out = new LinkedHashMap<>();
    sums.forEach((p, sum) -> {
      int[] s = pass.net.parameterShape(p);
      out.put(p, be.fromArray(1, 1, s[0], s[1], sum));
    });
    return out;
  }
}
