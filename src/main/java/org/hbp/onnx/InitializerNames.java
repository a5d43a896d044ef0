package org.hbp.onnx;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.hbp.UserError;
import org.hbp.io.NdArray;

/**
 * The names of an imported network's parameters as its ONNX initializers', which for a model
 * from {@code torch.onnx.export} are PyTorch's ({@code model.named_parameters()}): hbp names a
 * parameter {@code <layer index>.<param>}; results and directions of an ONNX {@code --net} go by
 * the initializer's name instead, in PyTorch's layout of the module (a linear weight {@code [out, in]}).
 *
 * <p>An array keyed by an initializer's name has that initializer's own shape and layout. Where the
 * importer holds an initializer transposed (a bias-free Linear exported with constant folding: the
 * MatMul's {@code [in, out]} initializer {@code onnx::MatMul_8} as hbp's weight {@code [out, in]}; see
 * {@link ImportedNetwork#sources}), results keep hbp's name ({@code 0.W}, in {@code [out, in]}), and an
 * array given under the initializer's name ({@code --params}, {@code --vectors}) is read in the
 * initializer's layout {@code [in, out]} (or {@code [V, in, out]}) and transposed: never a silent
 * transpose of a square weight, never an initializer's name on an array of another layout.
 *
 * <p>Errors about arrays given under initializers' names name those arrays (the user's keys), not hbp's
 * parameters: an array of a shape that is neither its initializer's nor hbp's, and a parameter no array
 * holds (listing the arrays given).
 *
 * <p>Arrays given under the initializers' names ({@code --params}, {@code --vectors}) are renamed to
 * hbp's ({@link #toHbp}) and brought to hbp's shapes:
 * <ul>
 *   <li>a parameter hbp holds in another shape of the same entries in the same order (a per-channel
 *       scale {@code [C, 1, 1]} as its vector {@code [C]}, a 0-d parameter as {@code [1]}): an array of the
 *       initializer's shape (a parameter), or of {@code [V, *that shape]} (V directions), is reshaped;</li>
 *   <li>an initializer split into parts (nn.MultiheadAttention's {@code in_proj_weight [3d, d]} into
 *       Wq, Wk, Wv, their sources {@code in_proj_weight[q]}, {@code [k]}, {@code [v]}): the array's rows
 *       (after V for directions) are cut into the parts, in the order of the sources. The parts'
 *       own names ({@code in_proj_weight[q]}) name them too, and name their results.</li>
 * </ul>
 */
public final class InitializerNames {
  private static final String TRANSPOSED = " (transposed)";
  private static final Pattern PART = Pattern.compile("(.*)\\[([a-z]+)\\]");
  private final Map<String, String> toInitializer = new LinkedHashMap<>();
  private final Map<String, String> toHbp = new LinkedHashMap<>();
  /** The initializers hbp holds transposed (a MatMul's [in, out] as the weight [out, in]): read in their own layout, results by hbp's name. */
  private final java.util.Set<String> transposed = new java.util.HashSet<>();
  /** For an initializer split into parts: hbp's parameters of its row blocks, in order. */
  private final Map<String, List<String>> splits = new LinkedHashMap<>();
  private final ImportedNetwork net;

  public InitializerNames(ImportedNetwork net) {
    this.net = net;
    Map<String, Integer> readers = new LinkedHashMap<>();
    for (String source : net.sources().values()) readers.merge(initializer(source), 1, Integer::sum);
    for (Map.Entry<String, String> e : net.sources().entrySet()) {
      String init = initializer(e.getValue());
      Matcher part = PART.matcher(e.getValue());
      if (part.matches() && net.initializerShapes().containsKey(part.group(1)))
        splits.computeIfAbsent(part.group(1), k -> new ArrayList<>()).add(e.getKey());
      // an initializer behind several parameters (a constant copied into each, attention's Wq, Wk, Wv
      // from a transposed in_proj_weight the exporter folded) leaves hbp's names
      if (readers.get(init) > 1 || net.parameters().containsKey(init)) continue;
      toHbp.put(init, e.getKey());
      if (e.getValue().endsWith(TRANSPOSED) && net.initializerShapes().containsKey(init)) transposed.add(init);
      else toInitializer.put(e.getKey(), init);
    }
  }

  private static String initializer(String source) {
    return source.endsWith(TRANSPOSED) ? source.substring(0, source.length() - TRANSPOSED.length()) : source;
  }

  /**
   * hbp's parameter read from the initializer {@code initializer} (also one hbp holds transposed, whose results go by
   * hbp's name), or null where no single parameter is.
   */
  public String parameter(String initializer) {
    return toHbp.get(initializer);
  }

  /** The initializer's name of hbp's parameter {@code hbp} (hbp's name where there is none). */
  public String name(String hbp) {
    return toInitializer.getOrDefault(hbp, hbp);
  }

  /**
   * A result of hbp's parameter {@code hbp} (a gradient, a product, a step: hbp's shape, or {@code [V, *that]}
   * for V directions or samples) in the shape of the initializer that names it, where hbp holds that
   * initializer in another shape of the same entries in the same order (a per-channel {@code [C, 1, 1]} as
   * {@code [C]}, a 0-d parameter as {@code [1]}): the same entries reshaped to the initializer's shape
   * ({@code [V, *that]}); any other result unchanged (a parameter named by hbp's name, one of a transposed
   * or split initializer). Not for dense blocks, {@code [numel, numel]} whatever the shape.
   */
  public NdArray toInitializerShape(String hbp, NdArray a) {
    String init = toInitializer.get(hbp);
    int[] s = init == null ? null : net.initializerShapes().get(init);
    NdArray held = net.parameters().get(hbp);
    if (s == null || held == null) return a;
    int[] h = held.shape();
    if (Arrays.equals(s, h) || !Arrays.equals(squeezed(s), squeezed(h))) return a;
    if (Arrays.equals(a.shape(), h)) return a.reshape(s);
    if (a.rank() == h.length + 1 && Arrays.equals(Arrays.copyOfRange(a.shape(), 1, a.rank()), h)) return a.reshape(prepend(a.dim(0), s));
    return a;
  }

  /**
   * Arrays keyed by initializer names (or hbp's), renamed to hbp's and in hbp's shapes (see the class
   * comment); other names pass unchanged (an hbp name given besides wins over the initializer's).
   *
   * @throws UserError an array of an initializer split into parts whose shape is neither the
   *     initializer's nor {@code [V, *that shape]}
   */
  public Map<String, NdArray> toHbp(Map<String, NdArray> arrays) {
    return toHbp(arrays, true);
  }

  /** {@link #toHbp(Map)}; with {@code every} false, arrays for some of the parameters (directions for some blocks). */
  public Map<String, NdArray> toHbp(Map<String, NdArray> arrays, boolean every) {
    Map<String, NdArray> out = new LinkedHashMap<>();
    boolean byInitializers = false;
    for (Map.Entry<String, NdArray> e : arrays.entrySet()) {
      String name = e.getKey();
      String hbp = toHbp.get(name);
      if (splits.containsKey(name) && splits.get(name).stream().noneMatch(arrays::containsKey)) {
        out.putAll(split(name, e.getValue()));
        byInitializers = true;
        continue;
      }
      if (hbp == null || arrays.containsKey(hbp)) {
        out.put(name, e.getValue());
        continue;
      }
      byInitializers = true;
      requireShape(name, e.getValue(), net.parameters().get(hbp).shape());
      out.put(hbp, transposed.contains(name) ? transposedArrays(e.getValue()) : reshaped(name, e.getValue(), net.parameters().get(hbp).shape()));
    }
    if (byInitializers && every) requireEveryParameter(arrays, out);
    return out;
  }

  /**
   * An array given under an initializer's name has the initializer's shape S or {@code [V, *S]} (V directions), or,
   * where hbp's results name it so too (not a transposed initializer), hbp's shape of it or {@code [V, *that]}; else an
   * error naming the array.
   */
  private void requireShape(String initializer, NdArray a, int[] hbpShape) {
    int[] s = net.initializerShapes().get(initializer);
    if (s == null) return;
    boolean fits = fits(a.shape(), s) || !transposed.contains(initializer) && fits(a.shape(), hbpShape);
    if (fits) return;
    throw new UserError("array '" + initializer + "' has shape " + Arrays.toString(a.shape()) + "; expected the initializer's shape "
        + Arrays.toString(s) + " (or [V, " + Arrays.toString(s).substring(1) + " for V directions)"
        + (transposed.contains(initializer) ? ", the ONNX file's layout of '" + initializer + "' (hbp's results give this parameter as '"
            + toHbp.get(initializer) + "', its transpose " + Arrays.toString(hbpShape) + ")" : ""));
  }

  private static boolean fits(int[] shape, int[] s) {
    return Arrays.equals(shape, s) || shape.length == s.length + 1 && Arrays.equals(Arrays.copyOfRange(shape, 1, shape.length), s);
  }

  /**
   * Arrays given under initializers' names hold every parameter: one that none holds (under its initializer's
   * name, hbp's or PyTorch's alias of hbp's) is an error listing the arrays given, by the names the user gave them.
   */
  private void requireEveryParameter(Map<String, NdArray> given, Map<String, NdArray> renamed) {
    for (String p : net.parameters().keySet()) {
      if (renamed.containsKey(p) || renamed.containsKey(org.hbp.network.TorchLayout.arrayName(p, java.util.Set.of()))) continue; // hbp's name or PyTorch's
      String init = toHbp.entrySet().stream().filter(e -> e.getValue().equals(p)).map(Map.Entry::getKey).findFirst().orElse(p);
      throw new UserError("no array '" + init + "'" + (init.equals(p) ? "" : " (hbp's parameter " + p + ")") + " (has: "
          + String.join(", ", given.keySet()) + "); every parameter is needed");
    }
  }

  /** An initializer's array {@code [a, b]}, or {@code [V, a, b]}, transposed to hbp's {@code [b, a]} ({@code [V, b, a]}). */
  private static NdArray transposedArrays(NdArray a) {
    if (a.rank() == 2) return OperatorMappings.transpose(a);
    int v = a.dim(0), r = a.dim(1), c = a.dim(2);
    double[] values = a.data(), t = new double[values.length];
    for (int k = 0; k < v; k++) for (int i = 0; i < r; i++) for (int j = 0; j < c; j++) t[k * r * c + j * r + i] = values[k * r * c + i * c + j];
    return NdArray.of(t, a.dtype(), v, c, r);
  }

  /**
   * The array of an initializer of shape S that hbp holds as {@code hbpShape}: where S and hbpShape
   * differ only by axes of size 1 (the same entries in the same row-major order), an array of shape S
   * reshaped to hbpShape and one of {@code [V, *S]} to {@code [V, *hbpShape]}; else unchanged.
   */
  private NdArray reshaped(String initializer, NdArray a, int[] hbpShape) {
    int[] s = net.initializerShapes().get(initializer);
    if (s == null || Arrays.equals(s, hbpShape) || !Arrays.equals(squeezed(s), squeezed(hbpShape))) return a;
    if (Arrays.equals(a.shape(), s)) return a.reshape(hbpShape);
    if (a.rank() == s.length + 1 && Arrays.equals(Arrays.copyOfRange(a.shape(), 1, a.rank()), s)) return a.reshape(prepend(a.dim(0), hbpShape));
    return a;
  }

  /** The row blocks of an initializer split into parts (in_proj_weight into Wq, Wk, Wv): of shape S, or V directions [V, *S]. */
  private Map<String, NdArray> split(String initializer, NdArray a) {
    int[] s = net.initializerShapes().get(initializer);
    List<String> parts = splits.get(initializer);
    boolean directions = a.rank() == s.length + 1 && Arrays.equals(Arrays.copyOfRange(a.shape(), 1, a.rank()), s);
    if (!Arrays.equals(a.shape(), s) && !directions)
      throw new UserError("array '" + initializer + "' has shape " + Arrays.toString(a.shape()) + "; expected the initializer's shape "
          + Arrays.toString(s) + " (or [V, " + Arrays.toString(s).substring(1) + " for V directions), which hbp splits by rows into "
          + parts + " (named " + initializer + "[...] in results)");
    int v = directions ? a.dim(0) : 1;
    int block = a.numel() / v / parts.size();
    Map<String, NdArray> out = new LinkedHashMap<>();
    double[] values = a.data(); // data() copies: once, not per part and direction
    for (int p = 0; p < parts.size(); p++) {
      double[] d = new double[v * block];
      for (int i = 0; i < v; i++) System.arraycopy(values, (i * parts.size() + p) * block, d, i * block, block);
      int[] partShape = net.parameters().get(parts.get(p)).shape();
      out.put(parts.get(p), NdArray.of(d, a.dtype(), directions ? prepend(v, partShape) : partShape));
    }
    return out;
  }

  private static int[] squeezed(int[] s) {
    return Arrays.stream(s).filter(d -> d != 1).toArray();
  }

  private static int[] prepend(int first, int[] s) {
    int[] out = new int[s.length + 1];
    out[0] = first;
    System.arraycopy(s, 0, out, 1, s.length);
    return out;
  }
}
