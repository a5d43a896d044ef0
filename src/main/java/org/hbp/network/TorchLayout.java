package org.hbp.network;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.hbp.UserError;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.calculus.Expr;
import org.hbp.calculus.Exprs;
import org.hbp.dsl.Domain;
import org.hbp.dsl.ModuleSpec;
import org.hbp.io.DType;
import org.hbp.io.NdArray;
import org.hbp.io.NpyException;
import org.hbp.calculus.Evaluator;
import org.hbp.calculus.Tensor;

/**
 * NumPy/PyTorch interop of a {@link Network}: arrays in PyTorch's row-major layouts and shapes
 * to and from hbp's batches (column-major items).
 * <ul>
 *   <li>Parameters are named {@code <path>.<param>}; for a parameter {@code W} or {@code b},
 *       PyTorch's {@code <path>.weight} / {@code <path>.bias} are accepted too (never both; see
 *       {@link TorchNames}). Shapes are exactly PyTorch's, nothing else with the same entries:
 *       linear {@code [out, in]}, convolution {@code [C_out, C_in, k, k]} (any weight that
 *       multiplies an unfold), biases {@code [out]}; directions {@code [V, *that shape]}, V >= 1.</li>
 *   <li>Inputs {@code x}: {@code [N, *input shape]}, e.g. {@code [N, C, H, W]}, N >= 1; for an input
 *       matrix(V, T) also integer token ids {@code [N, T]} in [0, V), taken as one-hot columns. Targets
 *       {@code y}: class indices {@code [N]} for cross-entropy (turned into one-hot rows),
 *       otherwise {@code [N, *target shape]} (for cross-entropy, probability rows).</li>
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
    if (net.spec().isGraph()) {
      walkGraph(net.spec().graph());
      return;
    }
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
          throw new UserError("residual block " + path + " follows a flatten: hbp cannot map PyTorch's flattened order through it");
        walk(r.body(), path + ".", null);
        continue;
      }
      order = layer(path, (NetworkSpec.Layer) node, order);
    }
    return order;
  }

  /**
   * A graph network: each instance's parameters ({@code <instance>.<param>}) mapped at its first
   * use, with the order of flattened vectors tracked per value; a merge of a flattened vector is
   * refused (hbp cannot map PyTorch's order through it).
   */
  private void walkGraph(NetworkSpec.Graph g) {
    Map<String, int[]> orders = new LinkedHashMap<>();
    for (NetworkSpec.Step step : g.steps()) {
      if (step instanceof NetworkSpec.Apply a) {
        int[] in = orders.get(a.inputs().get(0));
        if (perm.keySet().stream().anyMatch(k -> k.startsWith(a.instance() + "."))) {
          for (String v : a.inputs()) if (orders.get(v) != null) in = orders.get(v);
          if (in != null) throw new UserError("value " + a.value() + ": shared instance " + a.instance()
              + " applied to a flattened map: hbp cannot map PyTorch's flattened order through it");
          orders.put(a.value(), null);
          continue;
        }
        if (a.inputs().size() > 1) { // no order survives a module of several inputs
          for (String v : a.inputs())
            if (orders.get(v) != null)
              throw new UserError("value " + a.value() + ": module " + a.layer().module().name() + " of several inputs reads the flattened map " + v
                  + ": hbp cannot map PyTorch's flattened order through it");
          layer(a.instance(), a.layer(), null);
          orders.put(a.value(), null);
          continue;
        }
        orders.put(a.value(), layer(a.instance(), a.layer(), in));
      } else {
        for (String v : step.inputs())
          if (orders.get(v) != null)
            throw new UserError("value " + step.value() + " merges the flattened map " + v + ": hbp cannot map PyTorch's flattened order through it");
      }
    }
  }

  /** One layer's parameters (named {@code <path>.<param>}); returns the order of the vector after it. */
  private int[] layer(String path, NetworkSpec.Layer l, int[] order) {
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
    if (consumes) return null;
    boolean rank1In = l.inputShape().size() == 1, rank1Out = l.outputShape().size() == 1;
    List<Integer> moduleIn = declared(l, m.withRole(Expr.Role.INPUT).get(0));
    // a flatten of (c, h, w) (as many entries out as in); a reduction to a vector (meanpool2d's channel means) is in natural order
    if (rank1Out && moduleIn.size() == 3) order = params.isEmpty() && numel(l.outputShape()) == numel(moduleIn) ? tensorOrder(moduleIn) : null;
    else if (!(rank1In && rank1Out && numel(l.outputShape()) == in)) order = null;
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
    Expr.ConvDims[] g = new Expr.ConvDims[1];
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
    if (s == null) throw new UserError("no parameter named '" + parameter + "'; the network has " + net.parameterNames());
    return s.clone();
  }

  /**
   * The name under which a file holds a parameter: its own, or else PyTorch's ({@code 0.weight}
   * for {@code 0.W}); for files accepted by {@link #parameters} or {@link #directions(Map, String)}.
   */
  public static String arrayName(String parameter, java.util.Set<String> arrays) {
    return arrays.contains(parameter) || TorchNames.alias(parameter) == null ? parameter : TorchNames.alias(parameter);
  }

  /**
   * {@link #sameShape} for a parameter: a scalar parameter ({@code [1]}) may also come 0-d, as
   * {@code nn.Parameter(torch.tensor(1.0))} (or a generated PyTorch module's 0-d Parameter) saves
   * it: {@code []} for the value, {@code [V]} for V directions.
   */
  private static boolean sameParameterShape(int[] actual, int offset, int[] expected) {
    if (expected.length == 1 && expected[0] == 1 && actual.length == offset) return true;
    return sameShape(actual, offset, expected);
  }

  /** Whether an array's shape is exactly the expected one, from {@code offset} on. */
  private static boolean sameShape(int[] actual, int offset, int[] expected) {
    if (actual.length - offset != expected.length) return false;
    for (int i = 0; i < expected.length; i++) if (actual[offset + i] != expected[i]) return false;
    return true;
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

  /**
   * All parameters from arrays (e.g. an .npz written from a PyTorch state_dict), each in exactly
   * PyTorch's shape ({@link #torchShape(String)}); arrays holding no parameter are ignored (a
   * checkpoint's optimizer state). See {@link #parametersOnly}.
   */
  public Map<String, Batch> parameters(Map<String, NdArray> arrays, String file) {
    return parameters(arrays, file, a -> true);
  }

  /**
   * As {@link #parameters(Map, String)}, and an array that holds no parameter is an error, except
   * the state of an hbp training checkpoint ({@code optimizer.*}, {@code epoch}, ...) and the values
   * of the network's data variables ({@code 1.mean} of a batchnorm; see {@link Network#dataVariables}).
   */
  public Map<String, Batch> parametersOnly(Map<String, NdArray> arrays, String file) {
    return parameters(arrays, file, a -> TorchNames.checkpointState(a) || net.dataVariables().containsKey(a));
  }

  private Map<String, Batch> parameters(Map<String, NdArray> arrays, String file, java.util.function.Predicate<String> ignored) {
    Map<String, Batch> out = new LinkedHashMap<>();
    Map<String, String> names = TorchNames.arrays(net.parameterNames(), arrays.keySet(), file, ignored, "parameters");
    for (String name : net.parameterNames()) {
      NdArray a = arrays.get(names.get(name));
      String what = file + ": array '" + names.get(name) + "'";
      requireFloat(a, what);
      if (!sameParameterShape(a.shape(), 0, torchShape(name)))
        throw new NpyException(what + " has shape " + Arrays.toString(a.shape()) + " but " + Arrays.toString(torchShape(name))
            + " was expected (parameter " + name + ")");
      requireFinite(a, what);
      int[] s = net.parameterShape(name);
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

  /**
   * Directions for every parameter, from arrays {@code [V, *PyTorch shape]} named as in
   * {@link #parameters}: the same V (at least 1) for every parameter, no array that holds no
   * parameter.
   */
  public Map<String, Batch> directions(Map<String, NdArray> arrays, String file) {
    return directions(arrays, file, "");
  }

  /**
   * {@link #directions(Map, String)}, {@code every} saying why every parameter needs directions (in the error where one
   * has none; "" for nothing); with {@code every} null, for the parameters that have an array (at least one), in network
   * order: the blocks to multiply.
   */
  public Map<String, Batch> directions(Map<String, NdArray> arrays, String file, String every) {
    Map<String, String> names = TorchNames.arrays(net.parameterNames(), arrays.keySet(), file, a -> false, "directions", every);
    Map<String, Batch> out = new LinkedHashMap<>();
    String first = null;
    for (String name : names.keySet()) {
      String array = names.get(name);
      Batch d = directions(name, array, arrays.get(array), file);
      if (first == null) first = array;
      int v = d.directions(), v0 = arrays.get(first).shape()[0];
      if (v != v0)
        throw new NpyException(file + ": array '" + array + "' has " + v + " direction" + (v == 1 ? "" : "s") + " but '" + first + "' has " + v0
            + "; give every parameter the same number V");
      out.put(name, d);
    }
    return out;
  }

  /** Directions for one parameter from an array {@code [V, *PyTorch shape]}, V at least 1, as V directions shared by all samples. */
  public Batch directions(String parameter, NdArray a, String file) {
    return directions(parameter, parameter, a, file);
  }

  private Batch directions(String parameter, String array, NdArray a, String file) {
    String what = file + ": array '" + array + "'";
    requireFloat(a, what);
    int[] s = net.parameterShape(parameter);
    int numel = s[0] * s[1];
    int[] shape = a.shape();
    if (shape.length < 1 || !sameParameterShape(shape, 1, torchShape(parameter)))
      throw new NpyException(what + " has shape " + Arrays.toString(shape) + " but [V, " + Arrays.toString(torchShape(parameter)).substring(1)
          + " was expected (V directions for parameter " + parameter + ")");
    if (shape[0] == 0) throw new NpyException(what + " has shape " + Arrays.toString(shape) + ": no directions; V must be at least 1");
    requireFinite(a, what);
    int v = shape[0];
    double[] d = new double[v * numel], values = a.data(); // data() copies: once, not per direction
    for (int i = 0; i < v; i++) System.arraycopy(toOurs(parameter, values, i * numel), 0, d, i * numel, numel);
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

  /** Inputs {@code x: [N, *input shape]} (row-major per sample), N at least 1, as N items. */
  public Batch inputs(NdArray x, String file) {
    List<Integer> in = net.spec().inputShape();
    String what = file + ": array 'x'";
    if (in.size() == 2 && x.rank() == 2 && x.dtype().isInteger()) x = oneHotTokens(x, in.get(0), in.get(1), what);
    requireFloat(x, what);
    int[] s = x.shape();
    if (!sameShape(s, 1, toArray(in)))
      throw new NpyException(what + " has shape " + Arrays.toString(s) + " but [N, " + join(in) + "] was expected (the network's input)");
    requireSamples(s, what);
    requireFinite(x, what);
    int[] item = net.inputShape();
    return be.fromArray(s[0], 1, item[0], item[1], toItems(x.data(), s[0], in));
  }

  /**
   * Token ids {@code [N, T]} (integers in [0, V), as nn.Embedding reads them) as the one-hot input
   * {@code [N, V, T]} of a network with input matrix(V, T): entry (n, v, t) is 1 where ids[n, t] = v.
   */
  private static NdArray oneHotTokens(NdArray ids, int v, int t, String what) {
    int[] s = ids.shape();
    if (s[1] != t) throw new NpyException(what + " holds token ids of shape " + Arrays.toString(s) + " but [N, " + t + "] was expected (the network's "
        + "input is matrix(" + v + ", " + t + "): " + t + " tokens of a vocabulary of " + v + ")");
    double[] d = new double[s[0] * v * t], values = ids.data(); // data() copies: once, not per entry
    for (int n = 0; n < s[0]; n++)
      for (int j = 0; j < t; j++) {
        double id = values[n * t + j];
        if (id < 0 || id >= v)
          throw new NpyException(what + "[" + n + ", " + j + "] = " + (long) id + " is not a token id in [0, " + v + ") (the network's vocabulary)");
        d[(n * v + (int) id) * t + j] = 1;
      }
    return NdArray.of(d, DType.FLOAT64, s[0], v, t);
  }

  /** N samples, each row-major in {@code shape}, as hbp's column-major items ((c, h, w) with c fastest). */
  private static double[] toItems(double[] src, int n, List<Integer> shape) {
    int numel = numel(shape);
    double[] d = new double[n * numel];
    if (shape.size() == 2) {
      int rows = shape.get(0), cols = shape.get(1);
      for (int i = 0; i < n; i++) for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++)
        d[i * numel + r + rows * c] = src[i * numel + r * cols + c];
    } else {
      int[] order = shape.size() == 3 ? tensorOrder(shape) : null;
      for (int i = 0; i < n; i++) for (int q = 0; q < numel; q++) d[i * numel + q] = src[i * numel + (order == null ? q : order[q])];
    }
    return d;
  }

  private static void requireSamples(int[] shape, String what) {
    if (shape[0] == 0) throw new NpyException(what + " has shape " + Arrays.toString(shape) + ": an empty batch; at least one sample is needed");
  }

  private static int[] toArray(List<Integer> l) {
    return l.stream().mapToInt(Integer::intValue).toArray();
  }

  private static String join(List<Integer> l) {
    List<String> s = new ArrayList<>();
    for (int d : l) s.add(String.valueOf(d));
    return String.join(", ", s);
  }

  /** The loss's target shape per sample, as declared: {@code [c]} for vector(c). */
  private List<Integer> targetShape() {
    NetworkSpec.Layer loss = net.spec().loss();
    return declared(loss, loss.module().withRole(Expr.Role.TARGET).get(0));
  }

  /**
   * Whether the network's loss takes class indices as targets ({@code [N]}, as a data set's labels
   * are, turned into one-hot rows): cross-entropy does, and so does any loss whose target is a
   * vector declared {@code onehot} or {@code probability} (a one-hot row is both); every loss also
   * takes {@code [N, *target shape]} values.
   */
  public boolean takesClassIndices() {
    if (crossEntropy()) return true;
    Expr.Var y = targetVar();
    Domain d = net.spec().loss().module().domain(y.name());
    return (d == Domain.ONEHOT || d == Domain.PROBABILITY) && targetShape().size() == 1;
  }

  private Expr.Var targetVar() {
    return net.spec().loss().module().withRole(Expr.Role.TARGET).get(0);
  }

  private boolean crossEntropy() {
    return net.spec().loss().module().name().equals("crossentropy");
  }

  /**
   * Targets: class indices {@code [N]} (a loss that {@link #takesClassIndices}; whole numbers in
   * [0, C)), or {@code [N, *target shape]} floats (cross-entropy: probability rows, entries at
   * least 0 summing to 1 within {@code 1e-6 C}; other losses: finite values in the target's
   * declared domain, see {@link #requireDomain}). N is {@code samples}, at least 1.
   */
  public Batch targets(NdArray y, int samples, String file) {
    int[] t = net.targetShape();
    List<Integer> shape = targetShape();
    int c = numel(shape);
    String what = file + ": array 'y'";
    int[] s = y.shape();
    if (s.length >= 1) requireSamples(s, what);
    double[] d;
    if (takesClassIndices() && s.length == 1) {
      if (s[0] != samples) throw new NpyException(what + " has shape " + Arrays.toString(s) + " but [" + samples + "] was expected (one class per sample of x)");
      d = oneHot(y.data(), c, what);
    } else {
      // the shape first: an integer y of the wrong shape is wrong in its shape, whatever its dtype
      if (s.length == 0 || s[0] != samples || !sameShape(s, 1, toArray(shape)))
        throw new NpyException(what + " has shape " + Arrays.toString(s) + " but " + (takesClassIndices()
            ? "[" + samples + "] (class indices) or [" + samples + ", " + join(shape) + "] (" + (crossEntropy() ? "probabilities" : "targets") + ")"
            : "[" + samples + ", " + join(shape) + "]") + " was expected (the targets of " + net.spec().loss().module().name() + ")");
      requireFloat(y, what);
      requireFinite(y, what);
      if (crossEntropy()) requireProbabilities(y.data(), c, what);
      else requireDomain(y.data(), samples, shape, what);
      d = toItems(y.data(), samples, shape);
    }
    requireAssumptions(d, samples, what);
    return be.fromArray(samples, 1, t[0], t[1], d);
  }

  /**
   * Each {@code assume LHS == RHS;} of the loss that mentions no variable but the target, checked
   * on every sample of the targets {@code items} ({@code samples} items in the target's item
   * layout, column-major, as {@link #targets} makes them): both sides are evaluated by the
   * reference interpreter ({@link Evaluator}) and must agree, entry by entry, within
   * {@code 1e-6 (1 + |RHS|)}. The derived gradient and curvature are simplified under the
   * assumption, so a sample that breaks it would get wrong ones while its loss (from the forward
   * expression) stays right. An assumption over a data variable of the loss is not checked here:
   * a network's loss has its target as its only constant.
   *
   * @throws NpyException naming the file, the array, the sample, the assumption as written with
   *     its {@code file:line:col}, and the values of both sides (at the entry that differs most)
   */
  private void requireAssumptions(double[] items, int samples, String what) {
    ModuleSpec m = net.spec().loss().module();
    Domain domain = m.domain(targetVar().name());
    // sum(y) == 1 of a vector target is already checked, with the domain's tolerance 1e-6 times its length, for cross-entropy and onehot or
    // probability targets (class indices make one-hot rows): float32 probabilities of many classes are not refused by a tighter second check
    boolean sumsChecked = targetShape().size() == 1 && (crossEntropy() || domain == Domain.ONEHOT || domain == Domain.PROBABILITY);
    if (m.assumed().isEmpty()) return;
    Expr.Var y = targetVar();
    Map<String, Long> dims = new LinkedHashMap<>();
    for (var e : net.spec().loss().dims().entrySet()) dims.put(e.getKey(), (long) e.getValue());
    int[] itemShape = new Evaluator(Map.of(), dims).shapeOf(y.shape());
    int numel = items.length / samples;
    for (ModuleSpec.Assumed a : m.assumed()) {
      boolean targetOnly = true;
      for (Expr side : List.of(a.lhs(), a.rhs()))
        for (Expr.Var v : Exprs.variables(side)) targetOnly &= v.name().equals(y.name());
      if (!targetOnly || sumsChecked && a.lhs().equals(new Expr.Sum(y)) && a.rhs().equals(new Expr.Num(1))) continue;
      for (int i = 0; i < samples; i++) {
        Tensor ti = new Tensor(itemShape, Arrays.copyOfRange(items, i * numel, (i + 1) * numel));
        Evaluator ev = new Evaluator(Map.of(y.name(), ti), dims);
        double[] l = ev.evaluate(a.lhs()).data(), r = ev.evaluate(a.rhs()).data();
        int worst = -1;
        double excess = 0;
        for (int q = 0; q < l.length; q++) {
          double over = Math.abs(l[q] - r[q]) - 1e-6 * (1 + Math.abs(r[q]));
          if (!(over <= 0) && (worst < 0 || !(over <= excess))) {
            worst = q;
            excess = over;
          }
        }
        if (worst < 0) continue;
        String entry = l.length == 1 ? "" : " (entry " + worst + " of its column-major vec)";
        throw new NpyException(what + " sample " + i + " breaks the assumption '" + a.text() + "' of loss " + m.name() + " at " + m.source() + ":"
            + a.place().line() + ":" + a.place().column() + ": " + a.lhsText() + " is " + l[worst] + " but " + a.rhsText() + " is " + r[worst] + entry
            + " (they may differ by at most 1e-6 (1 + |right side|)); the gradient and curvature are derived under this assumption and would be wrong "
            + "for this sample: give targets that satisfy it, or drop the assumption from the loss");
      }
    }
  }

  /**
   * The targets {@code y} ({@code [N, *shape]}, row-major as in the file) against the domain
   * declared for the loss's target: positive (entries > 0), sign (entries -1 or +1), onehot (each
   * column of a sample's target one entry 1, the others 0; a vector target is one column) or
   * probability (entries >= 0, each column summing to 1 within {@code 1e-6} times its length).
   * Real and spd targets are not checked here.
   *
   * @throws NpyException naming the file, the array, the entry (or column) and what was expected
   */
  private void requireDomain(double[] y, int samples, List<Integer> shape, String what) {
    Domain d = net.spec().loss().module().domain(targetVar().name());
    String declared = "; expected " + d.meaning + " (target " + targetVar().name() + " of " + net.spec().loss().module().name() + " is declared " + d.word + ")";
    int numel = numel(shape);
    for (int q = 0; q < y.length; q++) {
      double v = y[q];
      boolean ok = switch (d) {
        case POSITIVE -> v > 0;
        case SIGN -> v == 1 || v == -1;
        case ONEHOT -> v == 0 || v == 1;
        case PROBABILITY -> v >= 0;
        default -> true;
      };
      if (!ok) throw new NpyException(what + " has " + v + " at index " + index(q, numel, shape) + declared);
    }
    if (d != Domain.ONEHOT && d != Domain.PROBABILITY) return;
    // columns of the per-sample target: a vector is one column; matrix(r, k) has k columns of r entries (file entries [i, :, j])
    int rows = shape.get(0), cols = shape.size() == 2 ? shape.get(1) : 1;
    double tol = 1e-6 * rows;
    for (int i = 0; i < samples; i++)
      for (int j = 0; j < cols; j++) {
        double sum = 0;
        for (int r = 0; r < rows; r++) sum += y[i * numel + r * cols + j];
        boolean ok = d == Domain.ONEHOT ? sum == 1 : Math.abs(sum - 1) <= tol;
        if (!ok) {
          String col = shape.size() == 2 ? "column [" + i + ", :, " + j + "]" : "row " + i;
          throw new NpyException(what + " " + col + " sums to " + sum + (d == Domain.ONEHOT ? " (it needs exactly one entry 1)" : "")
              + declared + (d == Domain.PROBABILITY ? ", each column summing to 1 within " + String.format(java.util.Locale.ROOT, "%.1e", tol) : ""));
        }
      }
  }

  /** The index {@code [i, a, b]} in the file of flat entry q of {@code [N, *shape]} (row-major). */
  private static String index(int q, int numel, List<Integer> shape) {
    int i = q / numel, r = q % numel;
    List<String> parts = new ArrayList<>(List.of(String.valueOf(i)));
    int[] idx = new int[shape.size()];
    for (int k = shape.size() - 1; k >= 0; k--) {
      idx[k] = r % shape.get(k);
      r /= shape.get(k);
    }
    for (int x : idx) parts.add(String.valueOf(x));
    return "[" + String.join(", ", parts) + "]";
  }

  /** One-hot rows of {@code c} entries from class indices. */
  private static double[] oneHot(double[] classes, int c, String what) {
    double[] d = new double[classes.length * c];
    for (int i = 0; i < classes.length; i++) {
      double v = classes[i];
      if (v != Math.rint(v) || v < 0 || v >= c)
        throw new NpyException(what + " has " + v + " at index " + i + "; expected a class index in [0, " + c + ")");
      d[i * c + (int) v] = 1;
    }
    return d;
  }

  /** Rows of {@code c} probabilities: entries at least 0, each row's sum within {@code 1e-6 c} of 1 (float32 rounding passes). */
  private static void requireProbabilities(double[] y, int c, String what) {
    double tol = 1e-6 * c;
    for (int i = 0; i < y.length / c; i++) {
      double sum = 0;
      for (int j = 0; j < c; j++) {
        double p = y[i * c + j];
        if (p < 0)
          throw new NpyException(what + " has " + p + " at index [" + i + ", " + j + "]; expected probabilities (crossentropy: entries >= 0, each row summing to 1)");
        sum += p;
      }
      if (Math.abs(sum - 1) > tol)
        throw new NpyException(what + " row " + i + " sums to " + sum + "; expected probabilities (crossentropy: entries >= 0, each row summing to 1 within "
            + String.format(java.util.Locale.ROOT, "%.1e", tol) + ")");
    }
  }
}
