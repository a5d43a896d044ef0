package org.hbp.verify;

import org.hbp.calculus.Tensor;
import org.hbp.calculus.Evaluator;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.hbp.UserError;
import org.hbp.calculus.Dim;
import org.hbp.calculus.Expr;
import org.hbp.calculus.Exprs;
import org.hbp.calculus.Shape;
import org.hbp.derive.Derivation;
import org.hbp.derive.LossFactor;
import org.hbp.derive.LossRule;
import org.hbp.derive.ModuleRule;
import org.hbp.derive.ModuleRules;
import org.hbp.dsl.ModuleSpec;

/**
 * Checks the derived rules of a module numerically, against references built from its forward
 * expression alone: central finite differences (fp64, Richardson-extrapolated over halved steps,
 * {@link FiniteDifferences#jacobianExtrapolated}) of z for the Jacobian, of g = vec(dz)'vec(z)
 * for the residual, the dense product J'*Hz*J + R for the HBP rule (random symmetric Hz), and for a
 * loss the finite-difference gradient and Hessian of E, and S*S' of a derived factor against that Hessian. Each check runs at several random shapes
 * (dims drawn from 1..4) and random points ({@link Sampler}: each variable from its domain, the
 * forward value finite).
 */
public final class SpecCheck {
  private SpecCheck() {}

  /** Relative tolerance of Jacobians/gradients (extrapolated central differences are accurate to ~1e-10). */
  public static final double JACOBIAN_TOL = 1e-6;
  /** Relative tolerance of Hessians (second differences are accurate to ~1e-8). */
  public static final double HESSIAN_TOL = 1e-5;

  public record Check(String module, String wrt, String what, Map<String, Long> dims, double maxAbsError, double scale,
      double tolerance) {
    public boolean passed() {
      return maxAbsError <= tolerance * Math.max(1, scale);
    }

    @Override
    public String toString() {
      return String.format("%s %s %s at %s: max abs error %.2e (scale %.2e, tol %.0e) %s", module, wrt, what, dims,
          maxAbsError, scale, tolerance, passed() ? "PASS" : "FAIL");
    }
  }

  public record Report(List<Check> all) {
    public int checks() {
      return all.size();
    }

    public List<Check> failures() {
      return all.stream().filter(c -> !c.passed()).toList();
    }

    public String summary() {
      double worst = all.stream().mapToDouble(c -> c.maxAbsError / Math.max(1, c.scale)).max().orElse(0);
      return checks() + " checks at " + all.stream().map(Check::dims).distinct().count() + " random shapes, "
          + failures().size() + " failed, worst relative error " + String.format("%.1e", worst);
    }
  }

  /** Checks every rule of a module at {@code shapes} random shapes. */
  public static Report check(ModuleSpec m, long seed, int shapes) {
    List<Derivation> ds = ModuleRules.derive(m);
    Random rng = new Random(seed);
    List<Check> out = new ArrayList<>();
    for (int s = 0; s < shapes; s++) {
      Map<String, Long> dims = randomDims(m, rng);
      Map<String, Tensor> values = randomValues(m, dims, rng);
      for (Derivation d : ds) out.addAll(check(m, d, values, dims, rng));
    }
    return new Report(out);
  }

  static List<Check> check(ModuleSpec m, Derivation d, Map<String, Tensor> values, Map<String, Long> dims, Random rng) {
    if (d instanceof LossRule l) return checkLoss(m, l, values, dims);
    return checkModule(m, (ModuleRule) d, values, dims, rng);
  }

  /** A loss's gradient and Hessian against finite differences of its forward expression. */
  private static List<Check> checkLoss(ModuleSpec m, LossRule l, Map<String, Tensor> values, Map<String, Long> dims) {
    List<Check> out = new ArrayList<>();
    Expr.Var w = l.wrt();
    String name = m.name();
    DMatrixRMaj gRef = FiniteDifferences.gradientExtrapolated(m.outputExpr(), w, values, dims);
    DMatrixRMaj g = Evaluator.evaluate(l.gradient(), values, dims).toDVector();
    out.add(compare(name, w.name(), "gradient", dims, g, gRef, JACOBIAN_TOL));
    DMatrixRMaj hRef = FiniteDifferences.hessianExtrapolated(m.outputExpr(), w, values, dims);
    out.add(compare(name, w.name(), "hessian", dims, Evaluator.evaluate(l.hessian(), values, dims).toDMatrix(), hRef, HESSIAN_TOL,
        maxAbs(gRef.data)));
    l.factor().ifPresent(f -> out.add(compare(name, w.name(), "factor S*S'", dims, gram(f, values, dims), hRef, HESSIAN_TOL, maxAbs(gRef.data))));
    return out;
  }

  /** The blocks of a loss factor S evaluated densely at a point, side by side. */
  static DMatrixRMaj columnsOf(LossFactor f, Map<String, Tensor> values, Map<String, Long> dims) {
    List<DMatrixRMaj> blocks = f.blocks().stream().map(b -> Evaluator.evaluate(b, values, dims).toDMatrix()).toList();
    int cols = blocks.stream().mapToInt(b -> b.numCols).sum(), at = 0;
    DMatrixRMaj out = new DMatrixRMaj(blocks.get(0).numRows, cols);
    for (DMatrixRMaj b : blocks) {
      CommonOps_DDRM.insert(b, out, 0, at);
      at += b.numCols;
    }
    return out;
  }

  /** S*S' = sum_i S_i*S_i' of a loss factor, each block evaluated densely at the point. */
  static DMatrixRMaj gram(LossFactor f, Map<String, Tensor> values, Map<String, Long> dims) {
    DMatrixRMaj sum = null;
    for (Expr b : f.blocks()) {
      DMatrixRMaj s = Evaluator.evaluate(b, values, dims).toDMatrix();
      DMatrixRMaj ss = new DMatrixRMaj(s.numRows, s.numRows);
      CommonOps_DDRM.multTransB(s, s, ss);
      if (sum == null) sum = ss;
      else CommonOps_DDRM.addEquals(sum, ss);
    }
    return sum;
  }

  /** A module's Jacobian, residual and HBP rule against finite differences, at a random dz and symmetric Hz. */
  private static List<Check> checkModule(ModuleSpec m, ModuleRule r, Map<String, Tensor> values, Map<String, Long> dims, Random rng) {
    List<Check> out = new ArrayList<>();
    Expr.Var w = r.wrt();
    String name = m.name();
    Map<String, Tensor> vals = new LinkedHashMap<>(values);
    Expr.Var dz = m.outputGradient(), hz = m.outputHessian();
    vals.put(dz.name(), random(rng, dz.shape(), dims));
    int n = (int) m.output().shape().numel().evaluate(dims);
    DMatrixRMaj h = DenseMath.randomSymmetric(n, rng);
    vals.put(hz.name(), Tensor.fromDMatrix(h));

    DMatrixRMaj jRef = FiniteDifferences.jacobianExtrapolated(m.outputExpr(), w, vals, dims);
    ModuleRule.Forms closed = r.closedForm();
    out.add(compare(name, w.name(), "jacobian", dims, Evaluator.evaluate(closed.jacobian(), vals, dims).toDMatrix(), jRef, JACOBIAN_TOL));
    Expr g = Exprs.mul(Exprs.transpose(vecOf(dz)), vecOf(m.outputExpr()));
    DMatrixRMaj rRef = FiniteDifferences.hessianExtrapolated(g, w, vals, dims);
    // second derivatives of g relative to its first-order magnitude too (the rounding scale of their references)
    double magnitude = maxAbs(vals.get(dz.name()).data()) * maxAbs(jRef.data);
    out.add(compare(name, w.name(), "residual", dims, Evaluator.evaluate(closed.residual(), vals, dims).toDMatrix(), rRef, HESSIAN_TOL,
        magnitude));
    // HBP: J' Hz J + R, from the references
    DMatrixRMaj hj = new DMatrixRMaj(n, jRef.numCols);
    CommonOps_DDRM.mult(h, jRef, hj);
    DMatrixRMaj hbpRef = new DMatrixRMaj(jRef.numCols, jRef.numCols);
    CommonOps_DDRM.multTransA(jRef, hj, hbpRef);
    CommonOps_DDRM.addEquals(hbpRef, rRef);
    out.add(compare(name, w.name(), "hbp", dims, Evaluator.evaluate(closed.hbp(), vals, dims).toDMatrix(), hbpRef, HESSIAN_TOL, magnitude));
    out.add(compare(name, w.name(), "hbp (compact)", dims, Evaluator.evaluate(r.compact().hbp(), vals, dims).toDMatrix(), hbpRef, HESSIAN_TOL,
        magnitude));
    return out;
  }

  private static Expr vecOf(Expr e) {
    return e.shape().isColumn() ? e : new Expr.Vec(e);
  }

  private static double maxAbs(double[] a) {
    double m = 0;
    for (double x : a) m = Math.max(m, Math.abs(x));
    return m;
  }

  private static Check compare(String module, String wrt, String what, Map<String, Long> dims, DMatrixRMaj got, DMatrixRMaj ref, double tol) {
    return compare(module, wrt, what, dims, got, ref, tol, 0);
  }

  /** A comparison relative to max(1, max |ref|, magnitude). */
  private static Check compare(String module, String wrt, String what, Map<String, Long> dims, DMatrixRMaj got, DMatrixRMaj ref, double tol,
      double magnitude) {
    if (got.numRows != ref.numRows || got.numCols != ref.numCols)
      return new Check(module, wrt, what + " (shape " + got.numRows + "x" + got.numCols + " vs " + ref.numRows + "x" + ref.numCols + ")",
          dims, Double.POSITIVE_INFINITY, 0, tol);
    double scale = magnitude;
    for (int i = 0; i < ref.getNumElements(); i++) scale = Math.max(scale, Math.abs(ref.get(i)));
    return new Check(module, wrt, what, new LinkedHashMap<>(dims), Tensor.maxAbsError(got, ref), scale, tol);
  }

  /**
   * Dims drawn from 1..4 until every shape and unfold geometry is non-empty.
   *
   * @throws UserError naming the module's place when no such dims exist in 1..4
   */
  public static Map<String, Long> randomDims(ModuleSpec m, Random rng) {
    for (int attempt = 0; attempt < 10_000; attempt++) {
      Map<String, Long> dims = new LinkedHashMap<>();
      for (Dim d : m.dims()) for (String s : d.symbols()) dims.put(s, 1L + rng.nextInt(4));
      if (valid(m, dims)) return dims;
    }
    throw new UserError(m.source() + ":" + m.line() + ": " + (m.isLoss() ? "loss " : "module ") + m.name()
        + ": no dims " + m.dims() + " in 1..4 give positive sizes to every variable and to the output");
  }

  private static boolean valid(ModuleSpec m, Map<String, Long> dims) {
    try {
      List<Shape> shapes = new ArrayList<>();
      for (Expr.Var v : m.variables()) shapes.add(v.shape());
      shapes.add(m.outputExpr().shape());
      for (Shape s : shapes) for (long x : s.evaluate(dims)) if (x < 1) return false;
      boolean[] ok = {true};
      Exprs.transformUp(m.outputExpr(), e -> {
        if (e instanceof Expr.Unfold u) {
          Expr.ConvDims g = u.geometry();
          if (g.outH().evaluate(dims) < 1 || g.outW().evaluate(dims) < 1) ok[0] = false;
        }
        return e;
      });
      return ok[0];
    } catch (ArithmeticException e) {
      return false;
    }
  }

  /**
   * A random point: every variable drawn from its domain ({@link Sampler}), drawn again while the
   * forward value is not finite.
   *
   * @throws Sampler.DomainException when no draw gives a finite forward value
   */
  public static Map<String, Tensor> randomValues(ModuleSpec m, Map<String, Long> dims, Random rng) {
    return Sampler.point(m, dims, rng, Map.of());
  }

  static Tensor random(Random rng, Shape s, Map<String, Long> dims) {
    return Tensor.random(rng, Tensor.toIntShape(s.evaluate(dims)));
  }
}
