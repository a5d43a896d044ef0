package org.hbp.verify;

import org.hbp.calculus.Tensor;
import org.hbp.calculus.Evaluator;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.function.Function;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.backend.cpu.CpuBackend;
import org.hbp.calculus.Expr;
import org.hbp.calculus.Exprs;
import org.hbp.derive.LossFactor;
import org.hbp.derive.LossRule;
import org.hbp.derive.ModuleRules;
import org.hbp.dsl.ModuleSpec;
import org.hbp.network.ResidualModification;
import org.hbp.network.ResidualPolicy;
import org.hbp.runtime.Averaging;
import org.hbp.runtime.ForwardCache;
import org.hbp.runtime.LossOperator;
import org.hbp.runtime.ModuleOperator;
import org.hbp.runtime.ResidualKind;

/**
 * Checks every method of a generated operator against references built from the spec's forward
 * expression alone, with EJML in double precision: the reference interpreter for forward values,
 * central finite differences, Richardson-extrapolated over halved steps, for dense Jacobians and
 * residual Hessians (of
 * {@code vec(dz)' vec(z(w))}), and brute-force dense products ({@code J v}, {@code J' v},
 * {@code R v}, {@code J' M J}, eigendecompositions for PCH, {@code kron(A', I)}). Runs at several
 * random shapes with N samples and V directions, parameters and some directions shared by all
 * samples so that broadcasting is exercised too. The points come from {@link Sampler} (each
 * variable from its domain, the forward value finite); a module whose forward value is never
 * finite gets a failed row "sample points" that names the expression that left its domain. No
 * exception escapes: one in a check is that row's failure.
 */
public final class OperatorCheck {
  private OperatorCheck() {}

  /** Forward values: generated code and interpreter compute the same formula in fp64. */
  public static final double FORWARD_TOL = 1e-12;
  public static final double JACOBIAN_TOL = SpecCheck.JACOBIAN_TOL;
  public static final double HESSIAN_TOL = SpecCheck.HESSIAN_TOL;

  /** Samples and directions per check. */
  static final int N = 3, V = 2;

  /** Creates an operator instance for dims (the generated class's constructor). */
  @FunctionalInterface
  public interface Factory {
    Object create(Backend backend, Map<String, Integer> dims);
  }

  /** One row of the table: a method of an operator, checked at all shapes. */
  public static final class Row {
    public final String operator, method, wrt;
    public final double tolerance;
    double maxAbs, maxRel;
    int comparisons;
    String failure;

    Row(String operator, String method, String wrt, double tolerance) {
      this.operator = operator;
      this.method = method;
      this.wrt = wrt;
      this.tolerance = tolerance;
    }

    public double maxAbs() {
      return maxAbs;
    }

    /** max over comparisons of abs error / max(1, max |reference|). */
    public double maxRel() {
      return maxRel;
    }

    public int comparisons() {
      return comparisons;
    }

    public boolean passed() {
      return failure == null && comparisons > 0 && maxRel <= tolerance;
    }

    /** Why it failed beyond the numbers (an exception), or null. */
    public String failure() {
      return failure;
    }
  }

  /** The rows of one operator. */
  public record Report(String operator, List<Row> rows) {
    public boolean passed() {
      return rows.stream().allMatch(Row::passed);
    }
  }

  /** Checks an operator of spec module {@code m} at {@code shapes} random shapes. */
  public static Report check(ModuleSpec m, Factory factory, long seed, int shapes) {
    Checker c = new Checker(m, factory, new CpuBackend());
    Random rng = new Random(seed);
    for (int s = 0; s < shapes; s++) {
      Map<String, Long> dims = SpecCheck.randomDims(m, rng);
      try {
        c.checkAt(dims, rng);
      } catch (RuntimeException e) { // a reference that could not be built: a failed row, never a crash
        Row r = c.row("references", "", 0);
        r.comparisons++;
        r.failure = e.getClass().getSimpleName() + ": " + e.getMessage();
      }
    }
    return new Report(m.name(), new ArrayList<>(c.rows.values()));
  }

  private static final class Checker {
    final ModuleSpec m;
    final Factory factory;
    final Backend be;
    final Map<String, Row> rows = new LinkedHashMap<>();

    Checker(ModuleSpec m, Factory factory, Backend be) {
      this.m = m;
      this.factory = factory;
      this.be = be;
    }

    Row row(String method, String wrt, double tol) {
      return rows.computeIfAbsent(method + "\u0000" + wrt, k -> new Row(m.name(), method, wrt, tol));
    }

    /** Records a comparison of got (n values) with ref, relative to max(1, max |ref|). */
    void compare(Row r, double[] got, double[] ref) {
      compare(r, got, ref, 0);
    }

    /**
     * Records a comparison of got with ref relative to max(1, max |ref|, magnitude): second
     * derivatives are compared relative to the first-order magnitude of the function they are
     * taken of too (see {@link #firstOrderMagnitude}), the scale of the rounding error of their
     * finite-difference references.
     */
    void compare(Row r, double[] got, double[] ref, double magnitude) {
      r.comparisons++;
      if (got.length != ref.length) {
        r.failure = "size " + got.length + " instead of " + ref.length;
        return;
      }
      double err = 0, scale = 0;
      for (int i = 0; i < ref.length; i++) {
        double e = Math.abs(got[i] - ref[i]);
        err = Double.isNaN(e) ? Double.POSITIVE_INFINITY : Math.max(err, e);
        scale = Math.max(scale, Math.abs(ref[i]));
      }
      r.maxAbs = Math.max(r.maxAbs, err);
      r.maxRel = Math.max(r.maxRel, err / Math.max(1, Math.max(scale, magnitude)));
    }

    /** Runs a check, recording an exception as the row's failure. */
    void guarded(Row r, Runnable check) {
      try {
        check.run();
      } catch (RuntimeException e) {
        r.comparisons++;
        r.failure = e.getClass().getSimpleName() + ": " + e.getMessage();
      }
    }

    void checkAt(Map<String, Long> dims, Random rng) {
      Map<String, Integer> intDims = new LinkedHashMap<>();
      for (var e : dims.entrySet()) intDims.put(e.getKey(), Math.toIntExact(e.getValue()));
      Object op;
      try {
        op = factory.create(be, intDims);
      } catch (RuntimeException e) {
        Row r = row("constructor", "", 0);
        r.comparisons++;
        r.failure = e.getClass().getSimpleName() + ": " + e.getMessage();
        return;
      }
      // per-sample values; parameters shared by all samples (those of sample 0)
      List<Map<String, Tensor>> samples = new ArrayList<>();
      try {
        samples.add(Sampler.point(m, dims, rng, Map.of()));
        Map<String, Tensor> params = new LinkedHashMap<>();
        for (Expr.Var v : m.withRole(Expr.Role.PARAM)) params.put(v.name(), samples.get(0).get(v.name()));
        for (int n = 1; n < N; n++) samples.add(Sampler.point(m, dims, rng, params));
      } catch (Sampler.DomainException e) {
        Row r = row("sample points", "", 0);
        r.comparisons++;
        r.failure = e.getMessage();
        return;
      }
      Map<String, Batch> values = new LinkedHashMap<>();
      for (Expr.Var v : m.variables()) values.put(v.name(), v.role() == Expr.Role.PARAM ? batch(samples.subList(0, 1), v.name()) : batch(samples, v.name()));
      if (op instanceof LossOperator loss) checkLoss(loss, values, samples, dims, rng);
      else checkModule((ModuleOperator) op, values, samples, dims, rng);
    }

    Batch batch(List<Map<String, Tensor>> samples, String name) {
      Tensor first = samples.get(0).get(name);
      int rows = first.shape()[0], cols = first.numel() / Math.max(1, rows);
      double[] d = new double[first.numel() * samples.size()];
      for (int n = 0; n < samples.size(); n++) System.arraycopy(samples.get(n).get(name).data(), 0, d, n * first.numel(), first.numel());
      return be.fromArray(samples.size(), 1, rows, cols, d);
    }

    /** Random directions: [samples x V] items of numel entries. */
    Batch directions(int samples, int rows, int cols, Random rng) {
      double[] d = new double[samples * V * rows * cols];
      for (int i = 0; i < d.length; i++) d[i] = rng.nextDouble() * 2 - 1;
      return be.fromArray(samples, V, rows, cols, d);
    }

    /** Item (s, d) of a batch as a column-major array, honoring broadcast axes. */
    double[] item(Batch b, double[] data, int s, int d) {
      int si = b.samples() == 1 ? 0 : s, di = b.directions() == 1 ? 0 : d;
      int size = b.itemSize(), at = (si * b.directions() + di) * size;
      double[] out = new double[size];
      System.arraycopy(data, at, out, 0, size);
      return out;
    }

    double[] item(Batch b, int s, int d) {
      return item(b, be.toArray(b), s, d);
    }

    static double[] colMajor(DMatrixRMaj a) {
      return Tensor.fromDMatrix(a).data();
    }

    static DMatrixRMaj column(double[] v) {
      DMatrixRMaj c = new DMatrixRMaj(v.length, 1);
      System.arraycopy(v, 0, c.data, 0, v.length);
      return c;
    }

    static DMatrixRMaj mult(DMatrixRMaj a, DMatrixRMaj b) {
      return DenseMath.mult(a, b);
    }

    static DMatrixRMaj multTransA(DMatrixRMaj a, DMatrixRMaj b) {
      return DenseMath.multTransA(a, b);
    }

    static DMatrixRMaj fromColMajor(double[] d, int rows, int cols) {
      return new Tensor(new int[] {rows, cols}, d).toDMatrix();
    }

    // ---- modules ----

    /** Runs and checks the forward pass against the interpreter; null when it failed. */
    ForwardCache checkForward(Function<Map<String, Batch>, ForwardCache> forward,
        Function<ForwardCache, Batch> output, Map<String, Batch> values, List<Map<String, Tensor>> samples,
        Map<String, Long> dims) {
      Row fwd = row("forward", m.output().name(), FORWARD_TOL);
      ForwardCache[] cache = new ForwardCache[1];
      guarded(fwd, () -> {
        cache[0] = forward.apply(values);
        Batch z = output.apply(cache[0]);
        double[] zd = be.toArray(z);
        for (int n = 0; n < N; n++) compare(fwd, item(z, zd, n, 0), Evaluator.evaluate(m.outputExpr(), samples.get(n), dims).data());
      });
      return cache[0];
    }

    /**
     * The structure an operator's call claims (its result), or null where it claims none; a call
     * that throws fails the row {@code method} of wn, and gives null.
     */
    private Batch claimed(String method, String wn, java.util.function.Supplier<Batch> call) {
      try {
        return call.get();
      } catch (RuntimeException e) {
        guarded(row(method, wn, JACOBIAN_TOL), () -> {
          throw e;
        });
        return null;
      }
    }

    /** The diagonal d of {@code J = diag(d)}, where the operator gives one: each sample's against the reference J's diagonal (N samples). */
    private void checkJacobianDiagonal(ModuleOperator op, ForwardCache fc, String wn, int nw, DMatrixRMaj[] j) {
      Batch d = claimed("jacobianDiagonal", wn, () -> op.jacobianDiagonal(fc, wn));
      if (d == null) return; // nothing claimed, or the row failed
      Row jd = row("jacobianDiagonal", wn, JACOBIAN_TOL);
      guarded(jd, () -> {
        if (d.directions() != 1 || d.itemSize() != nw) throw new IllegalStateException("diagonal " + d.describe() + ", expected one direction of " + nw);
        double[] dd = be.toArray(d);
        for (int n = 0; n < j.length; n++) {
          double[] ref = new double[nw];
          if (j[n].numRows == j[n].numCols) for (int i = 0; i < nw; i++) ref[i] = j[n].get(i, i);
          compare(jd, item(d, dd, d.samples() == 1 ? 0 : n, 0), ref);
        }
      });
    }

    /**
     * The index map a selection Jacobian gives ({@link ModuleOperator#jacobianSelection}), against
     * the reference Jacobian: row i of {@code selection(idx, n)} has its one in column idx[i] (none
     * where idx[i] = -1), and that matrix must be the reference, entry for entry.
     */
    private void checkJacobianSelection(ModuleOperator op, ForwardCache fc, String wn, int nw, DMatrixRMaj[] j) {
      Batch idx = claimed("jacobianSelection", wn, () -> op.jacobianSelection(fc, wn));
      if (idx == null) return; // nothing claimed, or the row failed
      Row js = row("jacobianSelection", wn, JACOBIAN_TOL);
      guarded(js, () -> {
        if (idx.directions() != 1) throw new IllegalStateException("index map " + idx.describe() + ", expected one direction");
        double[] id = be.toArray(idx);
        for (int n = 0; n < j.length; n++) {
          double[] q = item(idx, id, idx.samples() == 1 ? 0 : n, 0);
          if (q.length != j[n].numRows) throw new IllegalStateException("index map items of " + q.length + " entries, expected " + j[n].numRows);
          DMatrixRMaj got = new DMatrixRMaj(j[n].numRows, nw);
          for (int i = 0; i < q.length; i++) {
            if (q[i] != Math.rint(q[i]) || q[i] < -1 || q[i] >= nw)
              throw new IllegalStateException("index map entry " + i + " is " + q[i] + ", expected an integer in [-1, " + nw + ")");
            if (q[i] >= 0) got.set(i, (int) q[i], 1);
          }
          compare(js, colMajor(got), colMajor(j[n]));
        }
      });
    }

    void checkModule(ModuleOperator op, Map<String, Batch> values, List<Map<String, Tensor>> samples, Map<String, Long> dims, Random rng) {
      ForwardCache fc = checkForward(op::forward, op::output, values, samples, dims);
      if (fc == null) return;
      Expr.Var dzVar = m.outputGradient();
      int[] zShape = op.itemShape(m.output().name());
      int nz = zShape[0] * zShape[1];
      // output gradients per sample
      List<Map<String, Tensor>> withDz = new ArrayList<>();
      double[] dzData = new double[N * nz];
      for (int n = 0; n < N; n++) {
        Map<String, Tensor> vals = new LinkedHashMap<>(samples.get(n));
        Tensor dz = SpecCheck.random(rng, dzVar.shape(), dims);
        vals.put(dzVar.name(), dz);
        System.arraycopy(dz.data(), 0, dzData, n * nz, nz);
        withDz.add(vals);
      }
      Batch dz = be.fromArray(N, 1, zShape[0], zShape[1], dzData);
      Expr g = Exprs.mul(Exprs.transpose(vecOf(dzVar)), vecOf(m.outputExpr()));
      Map<String, double[]> magnitudes = new LinkedHashMap<>();
      for (Expr.Var w : m.differentiable()) {
        String wn = w.name();
        int[] ws = op.itemShape(wn);
        int nw = ws[0] * ws[1];
        DMatrixRMaj[] j = new DMatrixRMaj[N], r = new DMatrixRMaj[N];
        for (int n = 0; n < N; n++) {
          j[n] = FiniteDifferences.jacobianExtrapolated(m.outputExpr(), w, withDz.get(n), dims);
          r[n] = FiniteDifferences.hessianExtrapolated(g, w, withDz.get(n), dims);
        }
        boolean param = w.role() == Expr.Role.PARAM;
        double[] magnitude = new double[N];
        for (int n = 0; n < N; n++) magnitude[n] = firstOrderMagnitude(withDz.get(n).get(dzVar.name()).data(), j[n].data);
        magnitudes.put(wn, magnitude);
        // J v: parameter directions shared by all samples, input directions per sample
        Row jv = row("jacMatProd", wn, JACOBIAN_TOL);
        guarded(jv, () -> {
          Batch v = directions(param ? 1 : N, ws[0], ws[1], rng);
          Batch got = op.jacMatProd(fc, wn, v);
          double[] gd = be.toArray(got);
          for (int n = 0; n < N; n++)
            for (int d = 0; d < V; d++) compare(jv, item(got, gd, n, d), colMajor(mult(j[n], column(item(v, n, d)))));
        });
        Row jtv = row("jacTMatProd", wn, JACOBIAN_TOL);
        guarded(jtv, () -> {
          Batch u = directions(N, zShape[0], zShape[1], rng);
          Batch got = op.jacTMatProd(fc, wn, u);
          double[] gd = be.toArray(got);
          for (int n = 0; n < N; n++)
            for (int d = 0; d < V; d++) compare(jtv, item(got, gd, n, d), colMajor(multTransA(j[n], column(item(u, n, d)))));
        });
        // claimed Jacobian structure, checked on the references: the same for every sample, diagonal
        if (op.jacobianIsShared(wn)) {
          Row shared = row("jacobianIsShared", wn, JACOBIAN_TOL);
          for (int n = 1; n < N; n++) compare(shared, colMajor(j[n]), colMajor(j[0]));
        }
        if (op.jacobianIsDiagonal(wn)) {
          Row diagonal = row("jacobianIsDiagonal", wn, JACOBIAN_TOL);
          for (int n = 0; n < N; n++) {
            double[] ref = colMajor(j[n]), got = new double[ref.length];
            if (j[n].numRows == j[n].numCols) for (int i = 0; i < j[n].numRows; i++) got[i + j[n].numRows * i] = ref[i + j[n].numRows * i];
            compare(diagonal, got, ref);
          }
        }
        checkJacobianDiagonal(op, fc, wn, nw, j);
        checkJacobianSelection(op, fc, wn, nw, j);
        if (op.jacobianIsSelection(wn)) {
          // each row of the reference J: zero, or a single 1 (the entry of largest magnitude) and zeros
          Row selection = row("jacobianIsSelection", wn, JACOBIAN_TOL);
          for (int n = 0; n < N; n++) {
            DMatrixRMaj ref = j[n], got = new DMatrixRMaj(ref.numRows, ref.numCols);
            for (int i = 0; i < ref.numRows; i++) {
              int k = 0;
              for (int q = 1; q < ref.numCols; q++) if (Math.abs(ref.get(i, q)) > Math.abs(ref.get(i, k))) k = q;
              if (ref.numCols > 0 && ref.get(i, k) > 0.5) got.set(i, k, 1);
            }
            compare(selection, colMajor(got), colMajor(ref));
          }
        }
        // sum over the batch of J_n' u_n, for per-sample and for shared directions (counted N times)
        Row jtsum = row("jacTMatProdSum", wn, JACOBIAN_TOL);
        guarded(jtsum, () -> {
          for (int shared = 0; shared < 2; shared++) {
            Batch u = directions(shared == 1 ? 1 : N, zShape[0], zShape[1], rng);
            Batch got = op.jacTMatProdSum(fc, wn, u);
            if (got.samples() != 1) throw new IllegalStateException("result has " + got.samples() + " samples, expected 1");
            double[] gd = be.toArray(got);
            for (int d = 0; d < V; d++) {
              DMatrixRMaj ref = new DMatrixRMaj(nw, 1);
              for (int n = 0; n < N; n++) CommonOps_DDRM.addEquals(ref, multTransA(j[n], column(item(u, n, d))));
              compare(jtsum, item(got, gd, 0, d), colMajor(ref));
            }
          }
        });
        // the derived residual kind must hold for the reference residual
        ResidualKind kind = op.residualKind(wn);
        // (a general residual claims nothing to check)
        Row kindRow = kind == ResidualKind.GENERAL ? null : row("residualKind = " + kind.label(), wn, HESSIAN_TOL);
        for (int n = 0; kind != ResidualKind.GENERAL && n < N; n++) {
          double[] ref = colMajor(r[n]);
          double[] got = new double[ref.length]; // what the kind allows: zero, or the diagonal only
          if (kind == ResidualKind.DIAGONAL) for (int i = 0; i < nw; i++) got[i + nw * i] = ref[i + nw * i];
          compare(kindRow, got, ref, magnitude[n]);
        }
        for (ResidualModification mod : ResidualModification.values()) {
          // the operator's own products give the exact residual; the network's policy modifies it
          ResidualPolicy policy = ResidualPolicy.of(mod);
          boolean exact = mod == ResidualModification.NONE;
          DMatrixRMaj[] rm = new DMatrixRMaj[N];
          Row rv = row("residualMatProd " + mod.name().toLowerCase(Locale.ROOT), wn, HESSIAN_TOL);
          Row dense = row("residual " + mod.name().toLowerCase(Locale.ROOT), wn, HESSIAN_TOL);
          try {
            for (int n = 0; n < N; n++) rm[n] = modified(r[n], mod, kind);
          } catch (RuntimeException e) { // the reference itself failed (an eigendecomposition of a matrix that is not finite)
            guarded(rv, () -> { throw e; });
            guarded(dense, () -> { throw e; });
            continue;
          }
          guarded(rv, () -> {
            Batch v = directions(param ? 1 : N, ws[0], ws[1], rng);
            Batch got = exact ? op.residualMatProd(fc, wn, dz, v) : policy.product(op, fc, wn, dz, v);
            double[] gd = be.toArray(got);
            for (int n = 0; n < N; n++)
              for (int d = 0; d < V; d++) compare(rv, item(got, gd, n, d), colMajor(mult(rm[n], column(item(v, n, d)))), magnitude[n]);
          });
          guarded(dense, () -> {
            Batch got = exact ? op.residual(fc, wn, dz) : policy.dense(op, fc, wn, dz);
            double[] gd = be.toArray(got);
            for (int n = 0; n < N; n++) compare(dense, item(got, gd, n, 0), colMajor(rm[n]), magnitude[n]);
          });
          if (kind != ResidualKind.GENERAL) {
            Row diag = row("residualDiagonal " + mod.name().toLowerCase(Locale.ROOT), wn, HESSIAN_TOL);
            guarded(diag, () -> {
              Batch got = exact ? op.residualDiagonal(fc, wn, dz) : policy.diagonal(op, fc, wn, dz);
              double[] gd = be.toArray(got);
              for (int n = 0; n < N; n++) {
                double[] ref = new double[nw];
                for (int i = 0; i < nw; i++) ref[i] = rm[n].get(i, i);
                compare(diag, item(got, gd, n, 0), ref, magnitude[n]);
              }
            });
          }
        }
        // J' M J per sample (per-sample M), and batch-averaged with a shared M (eq. 8, eq. 9)
        Row prop = row("propagate", wn, JACOBIAN_TOL);
        guarded(prop, () -> {
          DMatrixRMaj[] ms = new DMatrixRMaj[N];
          double[] md = new double[N * nz * nz];
          for (int n = 0; n < N; n++) {
            ms[n] = DenseMath.randomSymmetric(nz, rng);
            System.arraycopy(colMajor(ms[n]), 0, md, n * nz * nz, nz * nz);
          }
          Batch got = op.propagate(fc, wn, be.fromArray(N, 1, nz, nz, md));
          double[] gd = be.toArray(got);
          for (int n = 0; n < N; n++) compare(prop, item(got, gd, n, 0), colMajor(multTransA(j[n], mult(ms[n], j[n]))));
        });
        DMatrixRMaj shared = DenseMath.randomSymmetric(nz, rng);
        Batch sharedM = be.fromArray(1, 1, nz, nz, colMajor(shared));
        Row kfra = row("propagateAveraged eq8", wn, JACOBIAN_TOL);
        guarded(kfra, () -> {
          DMatrixRMaj ref = new DMatrixRMaj(nw, nw);
          for (int n = 0; n < N; n++) CommonOps_DDRM.addEquals(ref, multTransA(j[n], mult(shared, j[n])));
          CommonOps_DDRM.scale(1.0 / N, ref);
          Batch got = op.propagateAveraged(fc, wn, sharedM, Averaging.MEAN_OF_PRODUCTS);
          if (got.samples() != 1) throw new IllegalStateException("result has " + got.samples() + " samples, expected 1");
          compare(kfra, item(got, 0, 0), colMajor(ref));
        });
        Row bda = row("propagateAveraged eq9", wn, JACOBIAN_TOL);
        guarded(bda, () -> {
          DMatrixRMaj mean = new DMatrixRMaj(nz, nw);
          for (int n = 0; n < N; n++) CommonOps_DDRM.addEquals(mean, j[n]);
          CommonOps_DDRM.scale(1.0 / N, mean);
          Batch got = op.propagateAveraged(fc, wn, sharedM, Averaging.PRODUCT_OF_MEANS);
          if (got.samples() != 1) throw new IllegalStateException("result has " + got.samples() + " samples, expected 1");
          compare(bda, item(got, 0, 0), colMajor(multTransA(mean, mult(shared, mean))));
        });
        if (param && op.hasKroneckerFactor(wn)) {
          Row kf = row("kroneckerFactor", wn, JACOBIAN_TOL);
          guarded(kf, () -> {
            Batch a = op.kroneckerFactor(fc, wn);
            double[] ad = be.toArray(a);
            for (int n = 0; n < N; n++) {
              DMatrixRMaj an = fromColMajor(item(a, ad, n, 0), a.rows(), a.cols());
              int eye = nz / a.cols();
              DMatrixRMaj at = new DMatrixRMaj(a.cols(), a.rows());
              CommonOps_DDRM.transpose(an, at);
              DMatrixRMaj k = new DMatrixRMaj(at.numRows * eye, at.numCols * eye);
              CommonOps_DDRM.kron(at, CommonOps_DDRM.identity(eye), k);
              compare(kf, colMajor(k), colMajor(j[n]));
            }
          });
        }
      }
      // with directions of their own, so that the other rows draw what they drew before these were checked
      if (op.hasMixedResiduals()) checkMixedResiduals(op, fc, dz, g, withDz, dims, magnitudes, new Random(dims.hashCode()));
    }

    /**
     * The mixed residuals {@code M_ab v = sum_k dz_k d²z_k/(da db) v} of every ordered pair of
     * different variables, against cross differences of g = dz' z by the interpreter (parameter
     * directions shared by all samples, input directions per sample).
     */
    void checkMixedResiduals(ModuleOperator op, ForwardCache fc, Batch dz, Expr g, List<Map<String, Tensor>> withDz, Map<String, Long> dims,
        Map<String, double[]> magnitudes, Random rng) {
      for (Expr.Var a : m.differentiable())
        for (Expr.Var b : m.differentiable()) {
          if (a.equals(b)) continue;
          Row row = row("mixedResidualMatProd " + b.name(), a.name(), HESSIAN_TOL);
          guarded(row, () -> {
            int[] bs = op.itemShape(b.name());
            Batch v = directions(b.role() == Expr.Role.PARAM ? 1 : N, bs[0], bs[1], rng);
            Batch got = op.mixedResidualMatProd(fc, a.name(), b.name(), dz, v);
            double[] gd = be.toArray(got);
            for (int n = 0; n < N; n++) {
              DMatrixRMaj ref = FiniteDifferences.mixedHessianExtrapolated(g, a, b, withDz.get(n), dims);
              double magnitude = Math.max(magnitudes.get(a.name())[n], magnitudes.get(b.name())[n]);
              for (int d = 0; d < V; d++) compare(row, item(got, gd, n, d), colMajor(mult(ref, column(item(v, n, d)))), magnitude);
            }
          });
        }
    }

    /**
     * max |dz| max |J|: how much g = dz' z changes per unit step of w (entries of w are of order 1
     * at the sampled points). A second derivative of g is compared relative to it as well: its
     * finite-difference reference has a rounding error of about eps |g| / h^2, so with z = 10000 x
     * a zero residual would otherwise "fail" by the noise of the reference.
     */
    static double firstOrderMagnitude(double[] dz, double[] jacobian) {
      double a = 0, b = 0;
      for (double x : dz) a = Math.max(a, Math.abs(x));
      for (double x : jacobian) b = Math.max(b, Math.abs(x));
      return a * b;
    }

    /**
     * The generated factor: its columns against the derived blocks of S evaluated densely (EJML),
     * and S*S' against the finite-difference Hessian; a factor the derivation has but the class
     * lacks (or the other way round) fails.
     */
    void checkFactor(LossOperator op, ForwardCache fc, Expr.Var w, List<Map<String, Tensor>> samples, Map<String, Long> dims,
        DMatrixRMaj[] h, double[] magnitude) {
      String wn = w.name();
      Optional<LossFactor> derived = ModuleRules.lossRules(m).stream().filter(l -> l.wrt().equals(w)).findFirst().flatMap(LossRule::factor);
      if (derived.isEmpty() && op.factorRanks(wn).length == 0) return;
      Row columns = row("factor", wn, FORWARD_TOL), gram = row("factor S*S'", wn, HESSIAN_TOL);
      guarded(columns, () -> {
        Batch got = op.factor(fc, wn);
        double[] gd = be.toArray(got);
        for (int n = 0; n < N; n++) {
          DMatrixRMaj ref = SpecCheck.columnsOf(derived.orElseThrow(() -> new IllegalStateException("the class has a factor the derivation lacks")),
              samples.get(n), dims);
          if (got.directions() != ref.numCols) throw new IllegalStateException(got.directions() + " columns instead of " + ref.numCols);
          for (int d = 0; d < ref.numCols; d++) compare(columns, item(got, gd, n, d), colMajor(CommonOps_DDRM.extractColumn(ref, d, null)));
        }
      });
      guarded(gram, () -> {
        Batch got = op.factor(fc, wn);
        double[] gd = be.toArray(got);
        for (int n = 0; n < N; n++) {
          DMatrixRMaj s = new DMatrixRMaj(h[n].numRows, got.directions());
          for (int d = 0; d < got.directions(); d++) {
            double[] col = item(got, gd, n, d);
            for (int i = 0; i < col.length; i++) s.set(i, d, col[i]);
          }
          compare(gram, colMajor(DenseMath.multTransB(s, s)), colMajor(h[n]), magnitude[n]);
        }
      });
    }

    static DMatrixRMaj modified(DMatrixRMaj r, ResidualModification mod, ResidualKind kind) {
      switch (mod) {
        case NONE:
          return r;
        case ZERO:
          return new DMatrixRMaj(r.numRows, r.numCols);
        default:
          if (kind == ResidualKind.GENERAL) return DenseMath.eigenMap(r, mod::apply);
          DMatrixRMaj out = new DMatrixRMaj(r.numRows, r.numCols);
          for (int i = 0; i < r.numRows; i++) out.set(i, i, mod.apply(r.get(i, i)));
          return out;
      }
    }

    private static Expr vecOf(Expr e) {
      return e.shape().isColumn() ? e : new Expr.Vec(e);
    }

    // ---- losses ----

    void checkLoss(LossOperator op, Map<String, Batch> values, List<Map<String, Tensor>> samples, Map<String, Long> dims, Random rng) {
      ForwardCache fc = checkForward(op::forward, op::output, values, samples, dims);
      if (fc == null) return;
      for (Expr.Var w : m.withRole(Expr.Role.INPUT)) {
        String wn = w.name();
        int[] ws = op.itemShape(wn);
        DMatrixRMaj[] h = new DMatrixRMaj[N];
        double[] magnitude = new double[N];
        for (int n = 0; n < N; n++) {
          h[n] = FiniteDifferences.hessianExtrapolated(m.outputExpr(), w, samples.get(n), dims);
          magnitude[n] = firstOrderMagnitude(new double[] {1}, FiniteDifferences.gradientExtrapolated(m.outputExpr(), w, samples.get(n), dims).data);
        }
        Row grad = row("gradient", wn, JACOBIAN_TOL);
        guarded(grad, () -> {
          Batch got = op.gradient(fc, wn);
          double[] gd = be.toArray(got);
          for (int n = 0; n < N; n++)
            compare(grad, item(got, gd, n, 0), FiniteDifferences.gradientExtrapolated(m.outputExpr(), w, samples.get(n), dims).data);
        });
        Row hv = row("hessianMatProd", wn, HESSIAN_TOL);
        guarded(hv, () -> {
          Batch v = directions(N, ws[0], ws[1], rng);
          Batch got = op.hessianMatProd(fc, wn, v);
          double[] gd = be.toArray(got);
          for (int n = 0; n < N; n++) for (int d = 0; d < V; d++) compare(hv, item(got, gd, n, d), colMajor(mult(h[n], column(item(v, n, d)))), magnitude[n]);
        });
        Row dense = row("hessian", wn, HESSIAN_TOL);
        guarded(dense, () -> {
          Batch got = op.hessian(fc, wn);
          double[] gd = be.toArray(got);
          for (int n = 0; n < N; n++) compare(dense, item(got, gd, n, 0), colMajor(h[n]), magnitude[n]);
        });
        if (op.hessianIsPsd(wn)) {
          // a PSD claim: the reference Hessian's smallest eigenvalue is >= 0 up to the tolerance
          Row psd = row("hessianIsPsd", wn, HESSIAN_TOL);
          guarded(psd, () -> {
            for (int n = 0; n < N; n++) {
              DMatrixRMaj clipped = DenseMath.eigenMap(h[n], x -> Math.max(x, 0));
              compare(psd, colMajor(clipped), colMajor(h[n]), magnitude[n]);
            }
          });
        }
        checkFactor(op, fc, w, samples, dims, h, magnitude);
      }
    }
  }
}
