package org.hbp.calculus;

import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.DoubleBinaryOperator;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.hbp.UserError;

/**
 * A reference interpreter of the {@link Expr} IR in double precision. It is deliberately simple
 * (dense, direct formulas) so that it can serve as the ground truth for symbolic results.
 *
 * <p>Dimensions of shapes are evaluated with {@code Dim.evaluate(dims)}; variables are looked up
 * by name in {@code values} and must have exactly the shape their {@link Expr.Var} declares. Every
 * node's result is checked against the node's own shape, so an inconsistency between the IR's
 * shape rules and this interpreter is reported at the node where it arises.
 *
 * <p>One {@code Evaluator} instance caches results by node identity, so shared subexpressions of
 * a DAG are evaluated once; create a new instance (or use the static {@link #evaluate(Expr, Map,
 * Map)}) when the bindings change.
 */
public final class Evaluator {
  private final Map<String, Tensor> values;
  private final Map<String, Long> dims;
  private final IdentityHashMap<Expr, Tensor> cache = new IdentityHashMap<>();
  /** Where this evaluation is one of {@link Repeated}'s: its values of the nodes that do not vary; else null. */
  private final Repeated repeated;

  public Evaluator(Map<String, Tensor> values, Map<String, Long> dims) {
    this(values, dims, null);
  }

  private Evaluator(Map<String, Tensor> values, Map<String, Long> dims, Repeated repeated) {
    this.values = values == null ? Map.of() : values;
    this.dims = dims == null ? Map.of() : dims;
    this.repeated = repeated;
  }

  /** Evaluates {@code e} with the given variable values and dimension values. */
  public static Tensor evaluate(Expr e, Map<String, Tensor> values, Map<String, Long> dims) {
    return new Evaluator(values, dims).evaluate(e);
  }

  /** Evaluates {@code e} with this evaluator's bindings (cached by node identity). */
  public Tensor evaluate(Expr e) {
    IdentityHashMap<Expr, Tensor> store = repeated != null && !repeated.varies(e) ? repeated.invariant : cache;
    Tensor t = store.get(e);
    if (t != null) return t;
    t = compute(e);
    checkShape(e, t);
    store.put(e, t);
    return t;
  }

  /**
   * Many evaluations of one expression in which only some variables change value, as finite
   * differences make: each sub-expression that depends on none of them is evaluated at the first
   * evaluation and its value reused by the others (a mask, a frozen branch, the layers below the
   * perturbed parameter). The values are the same as {@link Evaluator#evaluate(Expr, Map, Map)}'s,
   * operation for operation. Not for concurrent use.
   */
  public static final class Repeated {
    private final Expr f;
    private final Map<String, Tensor> values;
    private final Map<String, Long> dims;
    private final Set<String> varying;
    /** The nodes of f that depend on a varying variable (by identity). */
    private final Set<Expr> dependent = Collections.newSetFromMap(new IdentityHashMap<>());
    private final IdentityHashMap<Expr, Tensor> invariant = new IdentityHashMap<>();
    /** The evaluated shape of each node (the dims do not change between the evaluations). */
    private final IdentityHashMap<Expr, int[]> shapes = new IdentityHashMap<>();
    /** The order of each sum's terms ({@link Exprs#constantsFirst}, a function of the node alone). */
    private final IdentityHashMap<Expr.Add, List<Expr>> termOrders = new IdentityHashMap<>();

    /** Evaluations of {@code f} at {@code values}, where only the variables named {@code varying} will change. */
    public Repeated(Expr f, Map<String, Tensor> values, Map<String, Long> dims, Set<String> varying) {
      this.f = f;
      this.values = Map.copyOf(values);
      this.dims = dims == null ? Map.of() : dims;
      this.varying = Set.copyOf(varying);
      markDependent(f, Collections.newSetFromMap(new IdentityHashMap<>()));
    }

    /** Whether {@code e} depends on a varying variable (index maps of gathers and selections included). */
    private boolean markDependent(Expr e, Set<Expr> visited) {
      if (!visited.add(e)) return dependent.contains(e);
      boolean depends = e instanceof Expr.Var v && varying.contains(v.name())
          || e instanceof Expr.Gather g && varying.contains(g.index().name())
          || e instanceof Expr.Selection s && varying.contains(s.index().name());
      for (Expr c : Exprs.children(e)) depends |= markDependent(c, visited);
      if (depends) dependent.add(e);
      return depends;
    }

    /** Whether e's value may change between evaluations (a variable by name: an index map is no child of its gather). */
    boolean varies(Expr e) {
      return e instanceof Expr.Var v ? varying.contains(v.name()) : dependent.contains(e);
    }

    /** f with the varying variables bound to {@code changed} (the others keep their values). */
    public Tensor evaluate(Map<String, Tensor> changed) {
      for (String name : changed.keySet())
        if (!varying.contains(name))
          throw new IllegalArgumentException("variable '" + name + "' was not declared varying; varying: " + varying);
      Map<String, Tensor> v = new HashMap<>(values);
      v.putAll(changed);
      return new Evaluator(v, dims, this).evaluate(f);
    }
  }

  /** A sum's terms in the order they are added ({@link Exprs#constantsFirst}: a walk of each term), once per {@link Repeated}. */
  private List<Expr> termOrder(Expr.Add a) {
    return repeated == null ? Exprs.constantsFirst(a.terms()) : repeated.termOrders.computeIfAbsent(a, n -> Exprs.constantsFirst(a.terms()));
  }

  /** The evaluated shape of {@code s}. */
  public int[] shapeOf(Shape s) {
    return Tensor.toIntShape(s.evaluate(dims));
  }

  private int dimValue(Dim d) {
    long v = d.evaluate(dims);
    if (v < 0 || v > Integer.MAX_VALUE) throw new UserError("dimension " + d + " evaluates to " + v);
    return (int) v;
  }

  private void checkShape(Expr e, Tensor t) {
    // a node's shape is built from its operands' symbolic dims on each call: once per Repeated
    int[] expected = repeated == null ? shapeOf(e.shape()) : repeated.shapes.computeIfAbsent(e, n -> shapeOf(n.shape()));
    if (!Arrays.equals(expected, t.shape()))
      throw new IllegalStateException(nodeName(e) + " evaluated to shape " + Arrays.toString(t.shape())
          + " but its IR shape " + e.shape() + " evaluates to " + Arrays.toString(expected));
  }

  private static String nodeName(Expr e) {
    return e.getClass().getSimpleName();
  }

  private Tensor compute(Expr e) {
    return VALUES.apply(e, this);
  }

  /** The node types the evaluator accounts for. */
  public static Set<Class<? extends Expr>> nodeTypes() {
    return VALUES.nodeTypes();
  }

  /** The value of each node type, its operands evaluated through {@link #evaluate(Expr)}. */
  private static final NodeTable<Evaluator, Tensor> VALUES = NodeTable.<Evaluator, Tensor>builder("evaluator")
      .on(Expr.Var.class, (v, ev) -> ev.var(v))
      .on(Expr.Num.class, (n, ev) -> Tensor.scalar(n.value()))
      .on(Expr.DimValue.class, (d, ev) -> Tensor.scalar(d.dim().evaluate(ev.dims)))
      .on(Expr.Zero.class, (z, ev) -> Tensor.zeros(ev.shapeOf(z.shape())))
      .on(Expr.Ones.class, (o, ev) -> Tensor.filled(1, ev.shapeOf(o.shape())))
      .on(Expr.Eye.class, (eye, ev) -> eye(ev.dimValue(eye.n())))
      .on(Expr.Commutation.class, (k, ev) -> commutation(ev.dimValue(k.m()), ev.dimValue(k.n())))
      .on(Expr.Diagonalizer.class, (d, ev) -> diagonalizer(ev.dimValue(d.n())))
      .on(Expr.Selection.class, (s, ev) -> ev.selection(s))
      .on(Expr.Unfolding.class, (u, ev) -> ev.unfolding(u.geometry()))
      .on(Expr.Add.class, (a, ev) -> ev.entrywise("Add", ev.termOrder(a), Double::sum))
      .on(Expr.Scale.class, (s, ev) -> scale(s.coefficient(), ev.evaluate(s.operand())))
      .on(Expr.ScalarMul.class, (m, ev) -> ev.scalarMul(m))
      .on(Expr.MatMul.class, (m, ev) -> ev.matMul(m.factors()))
      .on(Expr.Transpose.class, (t, ev) -> transpose(ev.matrixOperand(t, t.operand())))
      .on(Expr.Hadamard.class, (h, ev) -> ev.entrywise("Hadamard", h.factors(), (x, y) -> x * y))
      .on(Expr.Power.class, (p, ev) -> power(ev.evaluate(p.base()), p.exponent()))
      .on(Expr.Kron.class, (k, ev) -> kron(ev.matrixOperand(k, k.left()), ev.matrixOperand(k, k.right())))
      .on(Expr.Vec.class, (v, ev) -> vec(ev.evaluate(v.operand())))
      .on(Expr.Reshape.class, (r, ev) -> ev.evaluate(r.operand()).reshape(ev.shapeOf(r.target())))
      .on(Expr.DiagMat.class, (d, ev) -> diagMat(ev.evaluate(d.vector())))
      .on(Expr.DiagVec.class, (d, ev) -> diagVec(ev.squareOperand(d, d.matrix())))
      .on(Expr.Trace.class, (t, ev) -> trace(ev.squareOperand(t, t.matrix())))
      .on(Expr.Sum.class, (s, ev) -> sum(ev.evaluate(s.operand())))
      .on(Expr.Apply.class, (a, ev) -> ev.apply(a))
      .on(Expr.Softmax.class, (s, ev) -> softmaxColumns(ev.evaluate(s.vector())))
      .on(Expr.LogSumExp.class, (l, ev) -> logSumExp(ev.evaluate(l.operand())))
      .on(Expr.ColumnLogSumExp.class, (l, ev) -> logSumExpColumns(ev.evaluate(l.matrix())))
      .on(Expr.Max.class, (m, ev) -> entrywise(ev.evaluate(m.left()), ev.evaluate(m.right()), Math::max))
      .on(Expr.Min.class, (m, ev) -> entrywise(ev.evaluate(m.left()), ev.evaluate(m.right()), Math::min))
      .on(Expr.Inv.class, (i, ev) -> inv(ev.squareOperand(i, i.matrix())))
      .on(Expr.Det.class, (d, ev) -> Tensor.scalar(CommonOps_DDRM.det(ev.squareOperand(d, d.matrix()).toDMatrix())))
      .on(Expr.Unfold.class, (u, ev) -> ev.unfold(u))
      .on(Expr.Gather.class, (g, ev) -> ev.gather(g))
      .build();

  // ---- leaves ------------------------------------------------------------------------------

  private Tensor var(Expr.Var v) {
    Tensor t = values.get(v.name());
    if (t == null)
      throw new UserError("no value bound for variable '" + v.name() + "' (" + v.role() + ", " + v.shape() + ")");
    int[] expected;
    try {
      expected = shapeOf(v.shape());
    } catch (IllegalArgumentException ex) {
      throw new UserError("shape " + v.shape() + " of variable '" + v.name() + "': " + ex.getMessage(), ex);
    }
    if (!Arrays.equals(expected, t.shape()))
      throw new UserError("variable '" + v.name() + "' is bound to a value of shape " + Arrays.toString(t.shape())
          + " but is declared " + v.shape() + " = " + Arrays.toString(expected));
    return t;
  }

  /** rows*cols, checked to fit a Java array. */
  private static int denseSize(String what, long rows, long cols) {
    long n = rows * cols;
    if (n > Integer.MAX_VALUE - 8) throw new UserError(what + ": dense " + rows + " x " + cols + " matrix is too large");
    return (int) n;
  }

  private static Tensor eye(int n) {
    double[] d = new double[denseSize("Eye", n, n)];
    for (int i = 0; i < n; i++) d[i + n * i] = 1;
    return new Tensor(new int[] {n, n}, d);
  }

  /** K (mn x mn) with K vec(A) = vec(A') for A m x n: K[j + n*i, i + m*j] = 1. */
  static Tensor commutation(int m, int n) {
    int mn = denseSize("Commutation", m, n);
    double[] d = new double[denseSize("Commutation", mn, mn)];
    for (int i = 0; i < m; i++)
      for (int j = 0; j < n; j++) {
        int row = j + n * i, col = i + m * j;
        d[row + mn * col] = 1;
      }
    return new Tensor(new int[] {mn, mn}, d);
  }

  /** D (n^2 x n) with vec(diag(v)) = D v: D[i + n*i, i] = 1. */
  static Tensor diagonalizer(int n) {
    int rows = denseSize("Diagonalizer", n, n);
    double[] d = new double[denseSize("Diagonalizer", rows, n)];
    for (int i = 0; i < n; i++) d[(i + n * i) + rows * i] = 1;
    return new Tensor(new int[] {rows, n}, d);
  }

  /** The integer entries of an index map, each checked to lie in [-1, n). */
  private int[] indices(Expr.Var index, int n, String where) {
    Tensor t = evaluate(index);
    int[] idx = new int[t.numel()];
    for (int j = 0; j < idx.length; j++) {
      double v = t.at(j);
      if (v != Math.rint(v) || v < -1 || v >= n)
        throw new UserError(where + ": index map '" + index.name() + "' has entry " + v + " at position " + j
            + "; expected an integer in [-1, " + n + ")");
      idx[j] = (int) v;
    }
    return idx;
  }

  private Tensor selection(Expr.Selection s) {
    int n = dimValue(s.n());
    int[] idx = indices(s.index(), n, "Selection");
    int rows = idx.length;
    double[] d = new double[denseSize("Selection", rows, n)];
    for (int j = 0; j < rows; j++) if (idx[j] >= 0) d[j + rows * idx[j]] = 1;
    return new Tensor(new int[] {rows, n}, d);
  }

  /** Evaluated hyper-parameters of an unfold. */
  private record Geom(int c, int h, int w, int k, int s, int p, int d, int outH, int outW) {
    int patchRows() {
      return c * k * k;
    }

    int patches() {
      return outH * outW;
    }
  }

  private Geom geom(Expr.ConvDims g) {
    Geom r = new Geom(dimValue(g.c()), dimValue(g.h()), dimValue(g.w()), dimValue(g.kernel()), dimValue(g.stride()),
        dimValue(g.padding()), dimValue(g.dilation()), dimValue(g.outH()), dimValue(g.outW()));
    if (r.k < 1 || r.s < 1 || r.d < 1) throw new IllegalArgumentException("unfold geometry with kernel/stride/dilation < 1: " + r);
    return r;
  }

  /**
   * Calls {@code visitor(row, column, sourceIndex)} for each entry of unfold(X) that reads from
   * inside X (positions in the zero padding are skipped); sourceIndex is the column-major index
   * into X of shape (c,h,w).
   */
  private interface PatchVisitor {
    void visit(int row, int col, int src);
  }

  private static void forEachPatchEntry(Geom g, PatchVisitor visitor) {
    for (int ch = 0; ch < g.c; ch++)
      for (int ki = 0; ki < g.k; ki++)
        for (int kj = 0; kj < g.k; kj++) {
          int row = (ch * g.k + ki) * g.k + kj;
          for (int ow = 0; ow < g.outW; ow++)
            for (int oh = 0; oh < g.outH; oh++) {
              int y = oh * g.s - g.p + ki * g.d;
              int x = ow * g.s - g.p + kj * g.d;
              if (y < 0 || y >= g.h || x < 0 || x >= g.w) continue;
              visitor.visit(row, oh + g.outH * ow, ch + g.c * (y + g.h * x));
            }
        }
  }

  private Tensor unfolding(Expr.ConvDims geometry) {
    Geom g = geom(geometry);
    int rows = g.patchRows() * g.patches(), cols = g.c * g.h * g.w, r = g.patchRows();
    double[] d = new double[denseSize("Unfolding", rows, cols)];
    forEachPatchEntry(g, (row, col, src) -> d[(row + r * col) + rows * src] = 1);
    return new Tensor(new int[] {rows, cols}, d);
  }

  private Tensor unfold(Expr.Unfold u) {
    Geom g = geom(u.geometry());
    Tensor x = evaluate(u.tensor());
    int[] expected = {g.c, g.h, g.w};
    if (!Arrays.equals(expected, x.shape()))
      throw new IllegalArgumentException("Unfold of a value of shape " + Arrays.toString(x.shape()) + "; geometry expects " + Arrays.toString(expected));
    int r = g.patchRows();
    double[] d = new double[r * g.patches()];
    double[] xs = x.data();
    forEachPatchEntry(g, (row, col, src) -> d[row + r * col] = xs[src]);
    return new Tensor(new int[] {r, g.patches()}, d);
  }

  private Tensor gather(Expr.Gather gt) {
    Tensor src = evaluate(gt.source());
    int[] idx = indices(gt.index(), src.numel(), "Gather");
    double[] d = new double[idx.length];
    for (int j = 0; j < idx.length; j++) d[j] = idx[j] < 0 ? 0 : src.at(idx[j]);
    return new Tensor(shapeOf(gt.index().shape()), d);
  }

  // ---- linear algebra ----------------------------------------------------------------------

  private Tensor matrixOperand(Expr parent, Expr operand) {
    return matrixOperand(nodeName(parent), operand);
  }

  private Tensor matrixOperand(String parent, Expr operand) {
    Tensor t = evaluate(operand);
    if (t.rank() != 2) throw new IllegalArgumentException(parent + " of a tensor of shape " + Arrays.toString(t.shape()));
    return t;
  }

  private Tensor squareOperand(Expr parent, Expr operand) {
    Tensor t = matrixOperand(parent, operand);
    if (t.rows() != t.cols()) throw new IllegalArgumentException(nodeName(parent) + " of a non-square matrix " + Arrays.toString(t.shape()));
    return t;
  }

  /** An n-ary entrywise node {@code what} (sum, Hadamard product): {@code combine} folded over the equally shaped operands. */
  private Tensor entrywise(String what, List<Expr> operands, DoubleBinaryOperator combine) {
    Tensor first = evaluate(operands.get(0));
    double[] d = first.data().clone();
    for (int i = 1; i < operands.size(); i++) {
      Tensor t = evaluate(operands.get(i));
      requireSame(what, first, t);
      double[] td = t.data();
      for (int p = 0; p < d.length; p++) d[p] = combine.applyAsDouble(d[p], td[p]);
    }
    return new Tensor(first.shape(), d);
  }

  private static void requireSame(String what, Tensor a, Tensor b) {
    if (!a.sameShape(b))
      throw new IllegalArgumentException(what + " of shapes " + Arrays.toString(a.shape()) + " and " + Arrays.toString(b.shape()));
  }

  private static Tensor scale(double c, Tensor t) {
    double[] d = t.data().clone();
    for (int p = 0; p < d.length; p++) d[p] *= c;
    return new Tensor(t.shape(), d);
  }

  private Tensor scalarMul(Expr.ScalarMul m) {
    Tensor s = evaluate(m.scalar());
    if (!s.isScalar()) throw new IllegalArgumentException("ScalarMul with a factor of shape " + Arrays.toString(s.shape()));
    return scale(s.scalarValue(), evaluate(m.operand()));
  }

  private Tensor matMul(List<Expr> factors) {
    DMatrixRMaj acc = matrixOperand("MatMul", factors.get(0)).toDMatrix();
    for (int i = 1; i < factors.size(); i++) {
      Tensor t = evaluate(factors.get(i));
      if (t.rank() != 2 || acc.numCols != t.rows())
        throw new IllegalArgumentException("MatMul of " + acc.numRows + "x" + acc.numCols + " and " + Arrays.toString(t.shape()));
      DMatrixRMaj out = new DMatrixRMaj(acc.numRows, t.cols());
      CommonOps_DDRM.mult(acc, t.toDMatrix(), out);
      acc = out;
    }
    return Tensor.fromDMatrix(acc);
  }

  private static Tensor transpose(Tensor a) {
    int m = a.rows(), n = a.cols();
    double[] d = new double[m * n];
    double[] s = a.data();
    for (int i = 0; i < m; i++) for (int j = 0; j < n; j++) d[j + n * i] = s[i + m * j];
    return new Tensor(new int[] {n, m}, d);
  }

  private static Tensor power(Tensor t, double exponent) {
    double[] d = t.data().clone();
    for (int p = 0; p < d.length; p++) d[p] = Math.pow(d[p], exponent);
    return new Tensor(t.shape(), d);
  }

  /** (A ⊗ B)[i*p + k, j*q + l] = A[i,j] B[k,l] for B of p x q. */
  static Tensor kron(Tensor a, Tensor b) {
    int m = a.rows(), n = a.cols(), p = b.rows(), q = b.cols();
    int rows = denseSize("Kron", m, p), cols = denseSize("Kron", n, q);
    double[] d = new double[denseSize("Kron", rows, cols)];
    double[] ad = a.data(), bd = b.data();
    for (int j = 0; j < n; j++)
      for (int i = 0; i < m; i++) {
        double aij = ad[i + m * j];
        if (aij == 0) continue;
        for (int l = 0; l < q; l++)
          for (int k = 0; k < p; k++) d[(i * p + k) + rows * (j * q + l)] = aij * bd[k + p * l];
      }
    return new Tensor(new int[] {rows, cols}, d);
  }

  private static Tensor vec(Tensor t) {
    return new Tensor(new int[] {t.numel(), 1}, t.data().clone());
  }

  private static Tensor diagMat(Tensor v) {
    if (v.rank() != 2 || v.cols() != 1) throw new IllegalArgumentException("DiagMat of a value of shape " + Arrays.toString(v.shape()));
    int n = v.rows();
    double[] d = new double[n * n];
    for (int i = 0; i < n; i++) d[i + n * i] = v.at(i);
    return new Tensor(new int[] {n, n}, d);
  }

  private static Tensor diagVec(Tensor a) {
    int n = a.rows();
    double[] d = new double[n];
    for (int i = 0; i < n; i++) d[i] = a.at(i + n * i);
    return new Tensor(new int[] {n, 1}, d);
  }

  private static Tensor trace(Tensor a) {
    int n = a.rows();
    double s = 0;
    for (int i = 0; i < n; i++) s += a.at(i + n * i);
    return Tensor.scalar(s);
  }

  private static Tensor sum(Tensor t) {
    double s = 0;
    for (double v : t.data()) s += v;
    return Tensor.scalar(s);
  }

  private static Tensor inv(Tensor a) {
    DMatrixRMaj m = a.toDMatrix();
    DMatrixRMaj out = new DMatrixRMaj(m.numRows, m.numCols);
    boolean ok = m.numRows == 0 || CommonOps_DDRM.invert(m, out);
    if (ok) for (int p = 0; p < out.getNumElements(); p++) if (!Double.isFinite(out.data[p])) ok = false;
    if (!ok) throw new ArithmeticException("Inv of a singular " + m.numRows + "x" + m.numCols + " matrix");
    return Tensor.fromDMatrix(out);
  }

  // ---- nonlinear ---------------------------------------------------------------------------

  private Tensor apply(Expr.Apply a) {
    if (a.order() < 0) throw new IllegalArgumentException("Apply of order " + a.order());
    if (a.order() == 0) {
      if (a.function().isBuiltin()) {
        Tensor x = evaluate(a.argument());
        double[] d = x.data().clone();
        for (int p = 0; p < d.length; p++) d[p] = a.function().value(d[p]);
        return new Tensor(x.shape(), d);
      }
      return evaluate(a.function().bodyOf(a.argument()));
    }
    return evaluate(a.function().derivativeOf(a.order(), a.argument()));
  }

  /** f(a_i, b_i) for each entry of two equally shaped values. */
  private static Tensor entrywise(Tensor a, Tensor b, DoubleBinaryOperator f) {
    if (!Arrays.equals(a.shape(), b.shape()))
      throw new IllegalStateException("entrywise operands of shapes " + Arrays.toString(a.shape()) + " and " + Arrays.toString(b.shape()));
    double[] d = new double[a.numel()];
    for (int p = 0; p < d.length; p++) d[p] = f.applyAsDouble(a.data()[p], b.data()[p]);
    return new Tensor(a.shape(), d);
  }

  /** Softmax of each column of a matrix (of the vector itself for a vector). */
  private static Tensor softmaxColumns(Tensor x) {
    int m = x.shape()[0], n = x.shape()[1];
    double[] d = new double[m * n];
    for (int j = 0; j < n; j++) {
      Tensor column = softmax(Tensor.vector(Arrays.copyOfRange(x.data(), j * m, (j + 1) * m)));
      System.arraycopy(column.data(), 0, d, j * m, m);
    }
    return new Tensor(x.shape(), d);
  }

  /** The 1 x n row of the log-sum-exps of the columns of an m x n matrix. */
  private static Tensor logSumExpColumns(Tensor x) {
    int m = x.shape()[0], n = x.shape()[1];
    double[] d = new double[n];
    for (int j = 0; j < n; j++) d[j] = logSumExp(Tensor.vector(Arrays.copyOfRange(x.data(), j * m, (j + 1) * m))).scalarValue();
    return new Tensor(new int[] {1, n}, d);
  }

  /** Softmax over all entries, shifted by the maximum. */
  private static Tensor softmax(Tensor x) {
    double[] s = x.data();
    double max = Double.NEGATIVE_INFINITY;
    for (double v : s) max = Math.max(max, v);
    double[] d = new double[s.length];
    double z = 0;
    for (int p = 0; p < s.length; p++) {
      d[p] = Math.exp(s[p] - max);
      z += d[p];
    }
    for (int p = 0; p < d.length; p++) d[p] /= z;
    return new Tensor(x.shape(), d);
  }

  /** log(sum(exp(x))) over all entries, computed as max + log(sum(exp(x - max))). */
  private static Tensor logSumExp(Tensor x) {
    double[] s = x.data();
    double max = Double.NEGATIVE_INFINITY;
    for (double v : s) max = Math.max(max, v);
    if (max == Double.NEGATIVE_INFINITY || max == Double.POSITIVE_INFINITY) return Tensor.scalar(max);
    double z = 0;
    for (double v : s) z += Math.exp(v - max);
    return Tensor.scalar(max + Math.log(z));
  }
}
