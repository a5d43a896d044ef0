package org.hbp.network;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.calculus.Expr;
import org.hbp.calculus.Exprs;
import org.hbp.dsl.ModuleSpec;
import org.hbp.io.DType;
import org.hbp.io.NdArray;
import org.hbp.io.NpyException;

/**
 * NumPy/PyTorch interop of a {@link Network}: arrays in PyTorch's row-major layouts and shapes
 * to and from hbp's batches (column-major items).
 * <ul>
 *   <li>Parameters are named {@code <path>.<param>}; for a parameter {@code W} or {@code b},
 *       PyTorch's {@code <path>.weight} / {@code <path>.bias} are accepted too. Shapes are
 *       PyTorch's: linear {@code [out, in]}, convolution {@code [C_out, C_in, k, k]} (any weight
 *       that multiplies an unfold), biases {@code [out]}.</li>
 *   <li>Inputs {@code x}: {@code [N, *input shape]}, e.g. {@code [N, C, H, W]}. Targets {@code y}:
 *       class indices {@code [N]} for cross-entropy (turned into one-hot rows), otherwise
 *       {@code [N, *target shape]}.</li>
 *   <li>A flattened feature map is ordered as PyTorch's {@code flatten} (row-major C, H, W); hbp's
 *       is column-major, so the weight of the first layer after a flatten has its columns
 *       permuted on the way in and back out.</li>
 * </ul>
 */
public final class TorchLayout {
  private final Network net;
  private final Backend be;
  /** For each parameter: ours[perm[k]] = torch's flat entry k. */
  private final Map<String, int[]> perm = new LinkedHashMap<>();
  private final Map<String, int[]> torchShape = new LinkedHashMap<>();

  public TorchLayout(Network net) {
    this.net = net;
    this.be = net.backend();
    int[] vectorOrder = walk(net.spec().body(), "", null);
    if (vectorOrder != null) { /* the logits of a flattened map without a layer after: nothing to map */ }
  }

  /** Walks the layers, tracking the order of flattened vectors; returns the order at the end. */
  private int[] walk(List<NetworkSpec.Node> nodes, String prefix, int[] order) {
    for (int i = 0; i < nodes.size(); i++) {
      String path = prefix + i;
      NetworkSpec.Node node = nodes.get(i);
      if (node instanceof NetworkSpec.Residual r) {
        if (order != null)
          throw new IllegalArgumentException("residual block " + path + " follows a flatten: hbp cannot map PyTorch's flattened order through it");
        walk(r.body(), path + ".", null);
        continue;
      }
      NetworkSpec.Layer l = (NetworkSpec.Layer) node;
      ModuleSpec m = l.module();
      List<Expr.Var> params = m.withRole(Expr.Role.PARAM);
      int in = numel(l.inputShape());
      // after a flatten: a weight multiplying the vector takes the order into its columns (and the
      // output is in natural order); otherwise parameters aligned with the vector take it into their rows
      boolean consumes = false;
      for (Expr.Var p : params) {
        int[] s = net.parameterShape(path + "." + p.name());
        consumes |= s[1] == in && s[1] > 1;
      }
      for (Expr.Var p : params) {
        String name = path + "." + p.name();
        int[] s = net.parameterShape(name);
        int[] columns = null, rows = null;
        if (order != null) {
          if (consumes && s[1] == in) columns = order;
          else if (!consumes && s[0] == in && s[1] == 1) rows = order;
        }
        perm.put(name, rows != null ? vectorPermutation(rows) : matrixPermutation(s[0], s[1], columns));
        torchShape.put(name, torchShape(m, l.dims(), p, s));
      }
      if (consumes) {
        order = null;
        continue;
      }
      boolean rank1In = l.inputShape().size() == 1, rank1Out = l.outputShape().size() == 1;
      List<Integer> moduleIn = declared(l, m.withRole(Expr.Role.INPUT).get(0));
      if (rank1Out && moduleIn.size() == 3) order = params.isEmpty() ? tensorOrder(moduleIn) : null; // a flatten of (c, h, w)
      else if (!(rank1In && rank1Out && numel(l.outputShape()) == in)) order = null;
    }
    return order;
  }

  /** A variable's declared shape with the layer's dims: [c, h, w] for a tensor input read off a matrix. */
  private static List<Integer> declared(NetworkSpec.Layer l, Expr.Var v) {
    Map<String, Long> d = new LinkedHashMap<>();
    for (var e : l.dims().entrySet()) d.put(e.getKey(), (long) e.getValue());
    List<Integer> out = new ArrayList<>();
    long[] s = v.shape().evaluate(d);
    if (v.shape().isTensor()) for (long x : s) out.add((int) x);
    else if (v.shape().isColumn()) out.add((int) s[0]);
    else for (long x : s) out.add((int) x);
    return out;
  }

  private static int numel(List<Integer> shape) {
    int n = 1;
    for (int d : shape) n *= d;
    return n;
  }

  /** For our column-major (c, h, w) index q: the row-major (PyTorch) index of the same entry. */
  private static int[] tensorOrder(List<Integer> s) {
    int c = s.get(0), h = s.get(1), w = s.get(2);
    int[] out = new int[c * h * w];
    for (int x = 0; x < w; x++) for (int y = 0; y < h; y++) for (int ch = 0; ch < c; ch++) out[ch + c * (y + h * x)] = ch * h * w + y * w + x;
    return out;
  }

  /**
   * ours[perm[k]] = torch[k] for a rows x cols parameter stored row-major by PyTorch; columns of
   * ours taken from torch columns columnOrder[j] when given.
   */
  private static int[] matrixPermutation(int rows, int cols, int[] columnOrder) {
    int[] p = new int[rows * cols];
    for (int i = 0; i < rows; i++)
      for (int j = 0; j < cols; j++) {
        int tj = columnOrder == null ? j : columnOrder[j];
        p[i * cols + tj] = i + rows * j;
      }
    return p;
  }

  /** ours[i] = torch[order[i]] for a vector aligned with a flattened map. */
  private static int[] vectorPermutation(int[] order) {
    int[] p = new int[order.length];
    for (int i = 0; i < order.length; i++) p[order[i]] = i;
    return p;
  }

  /** PyTorch's shape: [rows, c, k, k] for a weight multiplying an unfold, else the declared shape. */
  private static int[] torchShape(ModuleSpec m, Map<String, Integer> dims, Expr.Var p, int[] s) {
    Expr.ConvGeometry[] g = new Expr.ConvGeometry[1];
    Exprs.transformUp(m.outputExpr(), e -> {
      if (e instanceof Expr.MatMul mm)
        for (int i = 0; i + 1 < mm.factors().size(); i++)
          if (mm.factors().get(i).equals(p) && mm.factors().get(i + 1) instanceof Expr.Unfold u) g[0] = u.geometry();
      return e;
    });
    if (g[0] != null) {
      Map<String, Long> d = new LinkedHashMap<>();
      for (var e : dims.entrySet()) d.put(e.getKey(), (long) e.getValue());
      int c = (int) g[0].c().evaluate(d), k = (int) g[0].kernel().evaluate(d);
      if ((long) c * k * k == s[1]) return new int[] {s[0], c, k, k};
    }
    if (p.shape().isColumn()) return new int[] {s[0]};
    return s.clone();
  }

  /** PyTorch's shape of a parameter. */
  public int[] torchShape(String parameter) {
    int[] s = torchShape.get(parameter);
    if (s == null) throw new IllegalArgumentException("no parameter named '" + parameter + "'; the network has " + net.parameterNames());
    return s.clone();
  }

  private static String alias(String name) {
    if (name.endsWith(".W")) return name.substring(0, name.length() - 2) + ".weight";
    if (name.endsWith(".b")) return name.substring(0, name.length() - 2) + ".bias";
    return null;
  }

  /** Finds a parameter's array by its name or its PyTorch alias. */
  private NdArray find(Map<String, NdArray> arrays, String name, String file) {
    NdArray a = arrays.get(name);
    String alias = alias(name);
    if (a == null && alias != null) a = arrays.get(alias);
    if (a == null)
      throw new NpyException(file + ": no array '" + name + "'" + (alias == null ? "" : " or '" + alias + "'") + " (has: "
          + String.join(", ", arrays.keySet()) + ")");
    return a;
  }

  /** Whether an array's shape is the parameter's PyTorch shape, or [leading..., rows, cols] flattened the same way. */
  private static boolean fits(int[] actual, int offset, int[] torch, int numel) {
    if (actual.length - offset == torch.length) {
      boolean same = true;
      for (int i = 0; i < torch.length; i++) same &= actual[offset + i] == torch[i];
      if (same) return true;
    }
    if (actual.length - offset >= 1 && actual[offset] == torch[0]) {
      long n = 1;
      for (int i = offset; i < actual.length; i++) n *= actual[i];
      return n == numel && torch.length > 1 && actual.length - offset >= 2;
    }
    return false;
  }

  private static void requireFinite(NdArray a, String what) {
    double[] d = a.data();
    for (int i = 0; i < d.length; i++)
      if (!Double.isFinite(d[i])) throw new NpyException(what + " has a non-finite value (" + d[i] + ") at flat index " + i);
  }

  private static void requireFloat(NdArray a, String what) {
    if (a.dtype() != DType.FLOAT32 && a.dtype() != DType.FLOAT64)
      throw new NpyException(what + " has dtype " + a.dtype().numpyName() + "; expected float32 or float64");
  }

  /** All parameters from arrays (e.g. an .npz written from a PyTorch state_dict). */
  public Map<String, Batch> parameters(Map<String, NdArray> arrays, String file) {
    Map<String, Batch> out = new LinkedHashMap<>();
    for (String name : net.parameterNames()) {
      NdArray a = find(arrays, name, file);
      String what = file + ": array '" + (arrays.containsKey(name) ? name : alias(name)) + "'";
      requireFloat(a, what);
      int[] s = net.parameterShape(name);
      if (!fits(a.shape(), 0, torchShape(name), s[0] * s[1]))
        throw new NpyException(what + " has shape " + Arrays.toString(a.shape()) + " but " + Arrays.toString(torchShape(name))
            + " was expected (parameter " + name + ")");
      requireFinite(a, what);
      out.put(name, be.fromArray(1, 1, s[0], s[1], toOurs(name, a.data(), 0)));
    }
    return out;
  }

  private double[] toOurs(String name, double[] torch, int offset) {
    int[] p = perm.get(name);
    double[] ours = new double[p.length];
    for (int k = 0; k < p.length; k++) ours[p[k]] = torch[offset + k];
    return ours;
  }

  /** Directions for a parameter, {@code [V, *shape]}, as V directions shared by all samples. */
  public Batch directions(String parameter, NdArray a, String file) {
    String what = file + ": array '" + parameter + "'";
    requireFloat(a, what);
    int[] s = net.parameterShape(parameter);
    int numel = s[0] * s[1];
    int[] shape = a.shape();
    if (shape.length < 2 || !fits(shape, 1, torchShape(parameter), numel))
      throw new NpyException(what + " has shape " + Arrays.toString(shape) + " but [V, " + Arrays.toString(torchShape(parameter)).substring(1)
          + " was expected (V directions for parameter " + parameter + ")");
    requireFinite(a, what);
    int v = shape[0];
    double[] d = new double[v * numel];
    for (int i = 0; i < v; i++) System.arraycopy(toOurs(parameter, a.data(), i * numel), 0, d, i * numel, numel);
    return be.fromArray(1, v, s[0], s[1], d);
  }

  /** A parameter-shaped batch (one sample, V directions) as {@code [V, *torch shape]}, or the bare shape when {@code bare}. */
  public NdArray toTorch(String parameter, Batch b, boolean bare) {
    int[] p = perm.get(parameter);
    int numel = p.length;
    double[] ours = be.toArray(b);
    int v = ours.length / numel;
    double[] torch = new double[ours.length];
    for (int i = 0; i < v; i++) for (int k = 0; k < numel; k++) torch[i * numel + k] = ours[i * numel + p[k]];
    int[] ts = torchShape(parameter);
    if (bare && v == 1) return NdArray.of(torch, ts);
    int[] shape = new int[ts.length + 1];
    shape[0] = v;
    System.arraycopy(ts, 0, shape, 1, ts.length);
    return NdArray.of(torch, shape);
  }

  /** A dense block (numel x numel, our vec order) as [numel, numel] in PyTorch's row-major flattening. */
  public NdArray denseToTorch(String parameter, Batch dense) {
    int[] p = perm.get(parameter);
    int n = p.length;
    double[] ours = be.toArray(dense); // column-major n x n
    double[] torch = new double[n * n];
    for (int k = 0; k < n; k++) for (int l = 0; l < n; l++) torch[k * n + l] = ours[p[k] + n * p[l]];
    return NdArray.of(torch, n, n);
  }

  /** Inputs {@code x: [N, *input shape]} (row-major per sample) as N items. */
  public Batch inputs(NdArray x, String file) {
    List<Integer> in = net.spec().inputShape();
    String what = file + ": array 'x'";
    requireFloat(x, what);
    int[] s = x.shape();
    boolean ok = s.length == in.size() + 1;
    for (int i = 0; ok && i < in.size(); i++) ok = s[i + 1] == in.get(i);
    if (!ok) throw new NpyException(what + " has shape " + Arrays.toString(s) + " but [N, " + join(in) + "] was expected (the network's input)");
    requireFinite(x, what);
    int n = s[0], numel = numel(in);
    int[] order = in.size() == 3 ? tensorOrder(in) : null;
    double[] d = new double[n * numel];
    double[] src = x.data();
    if (in.size() == 2) {
      for (int i = 0; i < n; i++) for (int r = 0; r < in.get(0); r++) for (int c = 0; c < in.get(1); c++)
        d[i * numel + r + in.get(0) * c] = src[i * numel + r * in.get(1) + c];
    } else {
      for (int i = 0; i < n; i++) for (int q = 0; q < numel; q++) d[i * numel + q] = src[i * numel + (order == null ? q : order[q])];
    }
    int[] item = net.inputShape();
    return be.fromArray(n, 1, item[0], item[1], d);
  }

  private static String join(List<Integer> l) {
    List<String> s = new ArrayList<>();
    for (int d : l) s.add(String.valueOf(d));
    return String.join(", ", s);
  }

  /**
   * Targets: class indices {@code [N]} (cross-entropy; integers in [0, C)), or {@code [N, *target]}
   * floats (probability rows for cross-entropy, regression targets for square loss).
   */
  public Batch targets(NdArray y, int samples, String file) {
    int[] t = net.targetShape();
    int c = t[0] * t[1];
    String what = file + ": array 'y'";
    int[] s = y.shape();
    boolean classes = net.spec().loss().module().name().equals("crossentropy") && s.length == 1;
    double[] d = new double[samples * c];
    if (classes) {
      if (s[0] != samples) throw new NpyException(what + " has shape " + Arrays.toString(s) + " but [" + samples + "] was expected (one class per sample of x)");
      for (int i = 0; i < samples; i++) {
        double v = y.data()[i];
        if (v != Math.rint(v) || v < 0 || v >= c)
          throw new NpyException(what + " has " + v + " at index " + i + "; expected a class index in [0, " + c + ")");
        d[i * c + (int) v] = 1;
      }
    } else {
      requireFloat(y, what);
      if (s.length != 2 || s[0] != samples || s[1] != c)
        throw new NpyException(what + " has shape " + Arrays.toString(s) + " but " + (net.spec().loss().module().name().equals("crossentropy")
            ? "[" + samples + "] (class indices) or [" + samples + ", " + c + "] (probabilities)" : "[" + samples + ", " + c + "]") + " was expected");
      requireFinite(y, what);
      System.arraycopy(y.data(), 0, d, 0, d.length);
    }
    return be.fromArray(samples, 1, t[0], t[1], d);
  }
}
