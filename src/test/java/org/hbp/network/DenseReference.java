package org.hbp.network;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.hbp.calculus.Expr;
import org.hbp.calculus.Exprs;
import org.hbp.dsl.ModuleSpec;
import org.hbp.verify.DenseMath;
import org.hbp.calculus.Evaluator;
import org.hbp.verify.FiniteDifferences;
import org.hbp.calculus.Tensor;

/**
 * Dense fp64 references for network curvature, independent of the generated operators and the
 * runtime: each layer is evaluated by the reference interpreter on its spec's forward
 * expression; Jacobians, residual Hessians and loss derivatives come from central finite
 * differences; curvature blocks from the dense recursion of paper eq. 7. PCH removes negative
 * curvature by an EJML eigendecomposition (the verifier's {@code DenseMath.eigenMap}, not the
 * backends' kernels), Q f(Λ) Q' with f = |.| or max(., 0):
 * <ul>
 *   <li>exact: per sample, of each module's residual (Chen et al.), then the blocks are averaged;
 *   <li>KFRA / BDA: eq. 8 / eq. 9 verbatim. The bar is over the whole residual term
 *       {@code sum_k H z_k δz_k}, and PCH modifies that term: the exact per-sample residuals are
 *       averaged over the batch first, then the average is modified. A residual block is one
 *       module (Table 1, skip-connection) whose residual is the exact Hessian of its body
 *       contracted with δz.
 * </ul>
 * Index maps (max-pool arg-max, zero-padding) are recomputed here, by module name and dims, not
 * from the spec's index declaration: for the built-in maxpool and zeropad and for the user modules
 * of {@link IndexDeclNetworkTest} (pool2, border).
 */
final class DenseReference {
  final NetworkSpec spec;
  final Map<String, Tensor> params;
  final List<Tensor> xs, ys;
  final int n;

  DenseReference(NetworkSpec spec, Map<String, Tensor> params, List<Tensor> xs, List<Tensor> ys) {
    this.spec = spec;
    this.params = params;
    this.xs = xs;
    this.ys = ys;
    this.n = xs.size();
  }

  // ---- per-layer evaluation -------------------------------------------------------------------

  static Map<String, Long> dims(NetworkSpec.Layer l) {
    Map<String, Long> d = new LinkedHashMap<>();
    for (var e : l.dims().entrySet()) d.put(e.getKey(), (long) e.getValue());
    return d;
  }

  static Expr.Var input(ModuleSpec m) {
    return m.withRole(Expr.Role.INPUT).get(0);
  }

  /** The values a layer's expression is evaluated at, for input x (reshaped to the input's shape). */
  Map<String, Tensor> values(String path, NetworkSpec.Layer l, Tensor x) {
    ModuleSpec m = l.module();
    Map<String, Long> d = dims(l);
    Map<String, Tensor> v = new LinkedHashMap<>();
    Tensor in = x.reshape(Tensor.toIntShape(input(m).shape().evaluate(d)));
    v.put(input(m).name(), in);
    for (Expr.Var p : m.withRole(Expr.Role.PARAM)) v.put(p.name(), params.get(path + "." + p.name()).reshape(Tensor.toIntShape(p.shape().evaluate(d))));
    for (Expr.Var p : m.withRole(Expr.Role.DATA)) v.put(p.name(), Tensor.filled(1.0, Tensor.toIntShape(p.shape().evaluate(d))));
    for (Expr.Var p : m.withRole(Expr.Role.INDEX)) v.put(p.name(), index(m.name(), l.dims(), in));
    return v;
  }

  static Tensor index(String module, Map<String, Integer> d, Tensor x) {
    return switch (module) {
      case "maxpool" -> windowArgmax(d.get("c"), d.get("h"), d.get("w"), d.get("k"), x);
      case "pool2" -> windowArgmax(d.get("ch"), d.get("hh"), d.get("ww"), d.get("s"), x);
      case "zeropad" -> padSource(d.get("c"), d.get("h"), d.get("w"), d.get("p"));
      case "border" -> padSource(d.get("c1"), d.get("h1"), d.get("w1"), d.get("q"));
      default -> throw new IllegalArgumentException("no reference index map for module " + module);
    };
  }

  /** The first maximum of each k x k window in column-major window order, as a column-major position in x. */
  private static Tensor windowArgmax(int c, int h, int w, int k, Tensor x) {
    return Tensor.fromFunction(p -> {
      int ch = p % c, oy = (p / c) % (h / k), ox = p / (c * (h / k));
      int best = -1;
      for (int kx = 0; kx < k; kx++)
        for (int ky = 0; ky < k; ky++) {
          int y = oy * k + ky, xx = ox * k + kx;
          if (best < 0 || x.get(ch, y, xx) > x.at(best)) best = ch + c * (y + h * xx);
        }
      return best;
    }, c, h / k, w / k);
  }

  /** The source of each position of x padded by p, -1 in the padding. */
  private static Tensor padSource(int c, int h, int w, int p) {
    return Tensor.fromFunction(q -> {
      int ch = q % c, y = (q / c) % (h + 2 * p) - p, xx = q / (c * (h + 2 * p)) - p;
      return y < 0 || y >= h || xx < 0 || xx >= w ? -1 : ch + c * (y + h * xx);
    }, c, h + 2 * p, w + 2 * p);
  }

  Tensor layerForward(String path, NetworkSpec.Layer l, Tensor x) {
    return Evaluator.evaluate(l.module().outputExpr(), values(path, l, x), dims(l));
  }

  Tensor forward(List<NetworkSpec.Node> nodes, String prefix, Tensor x) {
    for (int i = 0; i < nodes.size(); i++) {
      NetworkSpec.Node node = nodes.get(i);
      if (node instanceof NetworkSpec.Layer l) x = layerForward(prefix + i, l, x);
      else {
        Tensor y = forward(((NetworkSpec.Residual) node).body(), prefix + i + ".", x);
        double[] s = x.data().clone();
        for (int j = 0; j < s.length; j++) s[j] += y.at(j);
        x = new Tensor(x.shape(), s);
      }
    }
    return x;
  }

  Map<String, Tensor> lossValues(Tensor logits, Tensor y) {
    ModuleSpec m = spec.loss().module();
    Map<String, Long> d = dims(spec.loss());
    Map<String, Tensor> v = new LinkedHashMap<>();
    v.put(input(m).name(), logits.reshape(Tensor.toIntShape(input(m).shape().evaluate(d))));
    Expr.Var t = m.withRole(Expr.Role.TARGET).get(0);
    v.put(t.name(), y.reshape(Tensor.toIntShape(t.shape().evaluate(d))));
    return v;
  }

  /** The mean loss over the batch. */
  double loss() {
    double s = 0;
    for (int i = 0; i < n; i++) s += Evaluator.evaluate(spec.loss().module().outputExpr(), lossValues(forward(spec.body(), "", xs.get(i)), ys.get(i)),
        dims(spec.loss())).scalarValue();
    return s / n;
  }

  // ---- the per-sample recursion ---------------------------------------------------------------

  /** Per-sample quantities of one layer, recorded on the way forward. */
  private record LayerAt(String path, NetworkSpec.Layer layer, Map<String, Tensor> values) {}

  /** Dense Jacobian of a layer with respect to a variable. */
  static DMatrixRMaj jac(LayerAt a, Expr.Var v) {
    return FiniteDifferences.jacobian(a.layer.module().outputExpr(), v, a.values, dims(a.layer));
  }

  /** Dense residual Hessian {@code sum_k H z_k dz_k} of a layer at output gradient dz, modified. */
  static DMatrixRMaj residual(LayerAt a, Expr.Var v, DMatrixRMaj dz, ResidualModification mod) {
    OutputGradientForm f = outputGradientForm(a, dz);
    return modify(FiniteDifferences.hessian(f.g(), v, f.values(), dims(a.layer)), mod);
  }

  /** The scalar {@code dz' z} of a layer and the values it is evaluated at (the layer's, dz among them). */
  private record OutputGradientForm(Expr g, Map<String, Tensor> values) {}

  /** {@code dz' z} of layer {@code a} at output gradient {@code dz}: the form whose second derivatives are the residuals. */
  private static OutputGradientForm outputGradientForm(LayerAt a, DMatrixRMaj dz) {
    ModuleSpec m = a.layer.module();
    Expr.Var dzVar = m.outputGradient();
    Map<String, Tensor> vals = new LinkedHashMap<>(a.values);
    vals.put(dzVar.name(), new Tensor(Tensor.toIntShape(dzVar.shape().evaluate(dims(a.layer))), dz.data.clone()));
    Expr z = m.outputExpr();
    Expr g = Exprs.mul(Exprs.transpose(z.shape().isColumn() ? dzVar : new Expr.Vec(dzVar)), z.shape().isColumn() ? z : new Expr.Vec(z));
    return new OutputGradientForm(g, vals);
  }

  /**
   * The residual term as the curvature kind treats it: kept (Hessian), dropped (GGN), or for PCH
   * {@code Q f(Λ) Q'} of the eigendecomposition of the symmetric part, f(λ) = |λ| (abs) or
   * max(λ, 0) (clip); for a diagonal matrix that is f of its diagonal entries.
   */
  static DMatrixRMaj modify(DMatrixRMaj r, ResidualModification mod) {
    switch (mod) {
      case NONE:
        return r;
      case ZERO:
        return new DMatrixRMaj(r.numRows, r.numCols);
      case ABS:
        return eigenMap(r, Math::abs);
      case CLIP:
        return eigenMap(r, l -> Math.max(l, 0));
      default:
        throw new AssertionError(mod);
    }
  }

  /** {@code Q f(Λ) Q'} for {@code (r + r')/2 = Q Λ Q'} by EJML's symmetric eigendecomposition. */
  static DMatrixRMaj eigenMap(DMatrixRMaj r, java.util.function.DoubleUnaryOperator f) {
    return DenseMath.eigenMap(r, f);
  }

  static DMatrixRMaj mult(DMatrixRMaj a, DMatrixRMaj b) {
    return DenseMath.mult(a, b);
  }

  static DMatrixRMaj multTransA(DMatrixRMaj a, DMatrixRMaj b) {
    return DenseMath.multTransA(a, b);
  }

  /** J' H J. */
  static DMatrixRMaj sandwich(DMatrixRMaj j, DMatrixRMaj h) {
    return multTransA(j, mult(h, j));
  }

  /** One sample's forward state: the layers (depth first) with their values, and the logits. */
  private final class Sample {
    final Map<String, LayerAt> layers = new LinkedHashMap<>();
    Tensor logits;

    Sample(Tensor x) {
      logits = run(spec.body(), "", x);
    }

    Tensor run(List<NetworkSpec.Node> nodes, String prefix, Tensor x) {
      for (int i = 0; i < nodes.size(); i++) {
        NetworkSpec.Node node = nodes.get(i);
        String path = prefix + i;
        if (node instanceof NetworkSpec.Layer l) {
          Map<String, Tensor> v = values(path, l, x);
          layers.put(path, new LayerAt(path, l, v));
          x = Evaluator.evaluate(l.module().outputExpr(), v, dims(l));
        } else {
          Tensor y = run(((NetworkSpec.Residual) node).body(), path + ".", x);
          double[] s = x.data().clone();
          for (int j = 0; j < s.length; j++) s[j] += y.at(j);
          x = new Tensor(x.shape(), s);
        }
      }
      return x;
    }

    /** Dense Jacobian of a node sequence (input to output), composed from layer Jacobians. */
    DMatrixRMaj jacobian(List<NetworkSpec.Node> nodes, String prefix, int dIn) {
      DMatrixRMaj j = CommonOps_DDRM.identity(dIn);
      for (int i = 0; i < nodes.size(); i++) {
        NetworkSpec.Node node = nodes.get(i);
        String path = prefix + i;
        DMatrixRMaj ji;
        if (node instanceof NetworkSpec.Layer) {
          LayerAt a = layers.get(path);
          ji = DenseReference.jac(a, input(a.layer.module()));
        } else {
          ji = jacobian(((NetworkSpec.Residual) node).body(), path + ".", j.numRows);
          CommonOps_DDRM.addEquals(ji, CommonOps_DDRM.identity(ji.numRows));
        }
        j = mult(ji, j);
      }
      return j;
    }
  }

  /** What the recursion leaves: parameter blocks (averaged over samples as the strategy says). */
  Map<String, DMatrixRMaj> blocks(CurvatureKind kind, Strategy strategy) {
    return blocks(kind, strategy, false);
  }

  /**
   * As {@link #blocks(CurvatureKind, Strategy)}; with {@code modifyEachSample} KFRA / BDA instead
   * average the per-sample modified residuals, mean_n mod(R_n) (not the paper's order; tests use it
   * to show that the two orders differ on their nets).
   */
  Map<String, DMatrixRMaj> blocks(CurvatureKind kind, Strategy strategy, boolean modifyEachSample) {
    ResidualModification mod = kind.residual();
    List<Sample> samples = new ArrayList<>();
    List<DMatrixRMaj> dzs = new ArrayList<>(), hs = new ArrayList<>();
    ModuleSpec lossSpec = spec.loss().module();
    for (int i = 0; i < n; i++) {
      Sample s = new Sample(xs.get(i));
      samples.add(s);
      Map<String, Tensor> lv = lossValues(s.logits, ys.get(i));
      dzs.add(FiniteDifferences.gradient(lossSpec.outputExpr(), input(lossSpec), lv, dims(spec.loss())));
      hs.add(FiniteDifferences.hessian(lossSpec.outputExpr(), input(lossSpec), lv, dims(spec.loss())));
    }
    Map<String, DMatrixRMaj> out = new LinkedHashMap<>();
    if (strategy == Strategy.EXACT) {
      List<Map<String, DMatrixRMaj>> per = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        Map<String, DMatrixRMaj> b = new LinkedHashMap<>();
        back(samples.get(i), spec.body(), "", hs.get(i), dzs.get(i), mod, b);
        per.add(b);
      }
      for (String k : per.get(0).keySet()) {
        DMatrixRMaj m = new DMatrixRMaj(per.get(0).get(k).numRows, per.get(0).get(k).numCols);
        for (Map<String, DMatrixRMaj> b : per) CommonOps_DDRM.addEquals(m, b.get(k));
        CommonOps_DDRM.scale(1.0 / n, m);
        out.put(k, m);
      }
      return out;
    }
    DMatrixRMaj h = mean(hs);
    this.modifyEachSample = modifyEachSample;
    averagedBack(samples, spec.body(), "", h, dzs, mod, strategy, out);
    return out;
  }

  /** See {@link #blocks(CurvatureKind, Strategy, boolean)}. */
  private boolean modifyEachSample;

  /** Whether {@link #back} records each layer's joint block (by the layer's path) instead of the parameters' blocks. */
  private boolean jointLayers;

  /**
   * Each layer's joint block over all its parameters (exact strategy), by the layer's path ({@code 0},
   * {@code 2.1}): the (1/N) sum over samples of the block matrix {@code [J_p' H_z J_q + R_pq]}, the
   * parameters in the module's order, each in column-major vec order; R_pp the residual Hessian of
   * {@link #residual}, and for p != q, with the Hessian, the mixed residual {@code d²(dz' z)/(dp dq)}
   * by central cross differences ({@link FiniteDifferences#mixedHessian}); the GGN drops both.
   * PCH (a modified joint residual) is not formed here.
   */
  Map<String, DMatrixRMaj> layerBlocks(CurvatureKind kind) {
    if (kind.residual() != ResidualModification.NONE && kind.residual() != ResidualModification.ZERO)
      throw new IllegalArgumentException("joint blocks of the reference: hessian or ggn, not " + kind);
    jointLayers = true;
    try {
      return blocks(kind, Strategy.EXACT);
    } finally {
      jointLayers = false;
    }
  }

  /** The mixed residual {@code d²(dz' z)/(d vec a d vec b)} of a layer at output gradient dz, by central cross differences. */
  static DMatrixRMaj mixedResidual(LayerAt a, Expr.Var va, Expr.Var vb, DMatrixRMaj dz) {
    OutputGradientForm f = outputGradientForm(a, dz);
    return FiniteDifferences.mixedHessian(f.g(), va, vb, f.values(), dims(a.layer), FiniteDifferences.HESSIAN_STEP);
  }

  /** One layer's joint block for one sample (see {@link #layerBlocks}). */
  private static DMatrixRMaj jointBlock(LayerAt a, List<Expr.Var> ps, DMatrixRMaj h, DMatrixRMaj dz, ResidualModification mod) {
    List<DMatrixRMaj> js = new ArrayList<>();
    int[] offsets = new int[ps.size() + 1];
    for (int i = 0; i < ps.size(); i++) {
      js.add(jac(a, ps.get(i)));
      offsets[i + 1] = offsets[i] + js.get(i).numCols;
    }
    DMatrixRMaj out = new DMatrixRMaj(offsets[ps.size()], offsets[ps.size()]);
    for (int i = 0; i < ps.size(); i++)
      for (int j = 0; j < ps.size(); j++) {
        DMatrixRMaj b = multTransA(js.get(i), mult(h, js.get(j)));
        if (mod == ResidualModification.NONE)
          CommonOps_DDRM.addEquals(b, i == j ? residual(a, ps.get(i), dz, mod) : mixedResidual(a, ps.get(i), ps.get(j), dz));
        CommonOps_DDRM.insert(b, out, offsets[i], offsets[j]);
      }
    return out;
  }

  /**
   * The residual term of eq. 8 / eq. 9 from the exact per-sample residuals R_n: mod(mean_n R_n),
   * or mean_n mod(R_n) where the per-sample order is asked for.
   */
  DMatrixRMaj residualTerm(List<DMatrixRMaj> exact, ResidualModification mod) {
    if (!modifyEachSample) return modify(mean(exact), mod);
    List<DMatrixRMaj> each = new ArrayList<>();
    for (DMatrixRMaj r : exact) each.add(modify(r, mod));
    return mean(each);
  }

  static DMatrixRMaj mean(List<DMatrixRMaj> ms) {
    DMatrixRMaj m = new DMatrixRMaj(ms.get(0).numRows, ms.get(0).numCols);
    for (DMatrixRMaj x : ms) CommonOps_DDRM.addEquals(m, x);
    CommonOps_DDRM.scale(1.0 / ms.size(), m);
    return m;
  }

  /**
   * Per sample: from the output curvature h and gradient dz of a node sequence, record the
   * parameter blocks and return {curvature, gradient} at the sequence's input.
   */
  DMatrixRMaj[] back(Sample s, List<NetworkSpec.Node> nodes, String prefix, DMatrixRMaj h, DMatrixRMaj dz, ResidualModification mod,
      Map<String, DMatrixRMaj> blocks) {
    for (int i = nodes.size() - 1; i >= 0; i--) {
      NetworkSpec.Node node = nodes.get(i);
      String path = prefix + i;
      if (node instanceof NetworkSpec.Layer l) {
        LayerAt a = s.layers.get(path);
        List<Expr.Var> ps = l.module().withRole(Expr.Role.PARAM);
        if (jointLayers && !ps.isEmpty()) blocks.put(path, jointBlock(a, ps, h, dz, mod));
        for (Expr.Var p : jointLayers ? List.<Expr.Var>of() : ps) {
          DMatrixRMaj b = sandwich(jac(a, p), h);
          CommonOps_DDRM.addEquals(b, residual(a, p, dz, mod));
          blocks.put(path + "." + p.name(), b);
        }
        Expr.Var x = input(l.module());
        DMatrixRMaj j = jac(a, x);
        DMatrixRMaj hIn = sandwich(j, h);
        CommonOps_DDRM.addEquals(hIn, residual(a, x, dz, mod));
        dz = multTransA(j, dz);
        h = hIn;
      } else {
        List<NetworkSpec.Node> body = ((NetworkSpec.Residual) node).body();
        int d = h.numRows;
        back(s, body, path + ".", h, dz, mod, blocks); // inner parameters see h at the body's end
        DMatrixRMaj[] inner = back(s, body, path + ".", new DMatrixRMaj(d, d), dz, mod, new LinkedHashMap<>()); // R_f, J_f' dz
        DMatrixRMaj jb = s.jacobian(body, path + ".", d);
        CommonOps_DDRM.addEquals(jb, CommonOps_DDRM.identity(d));
        DMatrixRMaj hIn = sandwich(jb, h);
        CommonOps_DDRM.addEquals(hIn, inner[0]);
        DMatrixRMaj dzIn = dz.copy();
        CommonOps_DDRM.addEquals(dzIn, inner[1]);
        h = hIn;
        dz = dzIn;
      }
    }
    return new DMatrixRMaj[] {h, dz};
  }

  /**
   * Eq. 8 / eq. 9: batch-averaged curvature propagated back; returns it at the sequence's input.
   * The residual term of every module (and of every parameter) is {@code mod(mean_n R_n)}: the
   * exact per-sample residuals R_n averaged, then modified.
   */
  DMatrixRMaj averagedBack(List<Sample> samples, List<NetworkSpec.Node> nodes, String prefix, DMatrixRMaj h, List<DMatrixRMaj> dzs,
      ResidualModification mod, Strategy strategy, Map<String, DMatrixRMaj> blocks) {
    for (int i = nodes.size() - 1; i >= 0; i--) {
      NetworkSpec.Node node = nodes.get(i);
      String path = prefix + i;
      List<DMatrixRMaj> dzIn = new ArrayList<>();
      if (node instanceof NetworkSpec.Layer l) {
        for (Expr.Var p : l.module().withRole(Expr.Role.PARAM)) {
          List<DMatrixRMaj> js = new ArrayList<>(), rs = new ArrayList<>();
          for (int k = 0; k < n; k++) {
            LayerAt a = samples.get(k).layers.get(path);
            js.add(jac(a, p));
            rs.add(residual(a, p, dzs.get(k), ResidualModification.NONE));
          }
          DMatrixRMaj b = average(js, h, strategy);
          CommonOps_DDRM.addEquals(b, residualTerm(rs, mod));
          blocks.put(path + "." + p.name(), b);
        }
        Expr.Var x = input(l.module());
        List<DMatrixRMaj> js = new ArrayList<>(), rs = new ArrayList<>();
        for (int k = 0; k < n; k++) {
          LayerAt a = samples.get(k).layers.get(path);
          DMatrixRMaj j = jac(a, x);
          js.add(j);
          rs.add(residual(a, x, dzs.get(k), ResidualModification.NONE));
          dzIn.add(multTransA(j, dzs.get(k)));
        }
        DMatrixRMaj hIn = average(js, h, strategy);
        CommonOps_DDRM.addEquals(hIn, residualTerm(rs, mod));
        h = hIn;
      } else {
        List<NetworkSpec.Node> body = ((NetworkSpec.Residual) node).body();
        int d = h.numRows;
        averagedBack(samples, body, path + ".", h, dzs, mod, strategy, blocks);
        List<DMatrixRMaj> js = new ArrayList<>(), rs = new ArrayList<>();
        for (int k = 0; k < n; k++) {
          // R_f = sum_k H f_k(x) dz_k: the body's exact recursion from zero output curvature
          DMatrixRMaj[] inner = back(samples.get(k), body, path + ".", new DMatrixRMaj(d, d), dzs.get(k), ResidualModification.NONE,
              new LinkedHashMap<>());
          DMatrixRMaj jb = samples.get(k).jacobian(body, path + ".", d);
          CommonOps_DDRM.addEquals(jb, CommonOps_DDRM.identity(d));
          js.add(jb);
          rs.add(inner[0]);
          DMatrixRMaj g = dzs.get(k).copy();
          CommonOps_DDRM.addEquals(g, inner[1]);
          dzIn.add(g);
        }
        DMatrixRMaj hIn = average(js, h, strategy);
        CommonOps_DDRM.addEquals(hIn, residualTerm(rs, mod));
        h = hIn;
      }
      dzs = dzIn;
    }
    return h;
  }

  /** Eq. 8: mean of J_n' H J_n; eq. 9: (mean J)' H (mean J). */
  static DMatrixRMaj average(List<DMatrixRMaj> js, DMatrixRMaj h, Strategy strategy) {
    if (strategy == Strategy.KFRA) {
      List<DMatrixRMaj> p = new ArrayList<>();
      for (DMatrixRMaj j : js) p.add(sandwich(j, h));
      return mean(p);
    }
    return sandwich(mean(js), h);
  }
}
