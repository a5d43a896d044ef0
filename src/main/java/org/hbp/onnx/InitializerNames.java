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
 * the initializer's name instead. The layout stays PyTorch's of the module (a linear weight
 * {@code [out, in]}), also where the importer transposed the initializer (a MatMul's {@code [in, out]}
 * constant; see {@link ImportedNetwork#sources}).
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
      toInitializer.put(e.getKey(), init);
      toHbp.put(init, e.getKey());
    }
  }

  private static String initializer(String source) {
    return source.endsWith(TRANSPOSED) ? source.substring(0, source.length() - TRANSPOSED.length()) : source;
  }

  /** The initializer's name of hbp's parameter {@code hbp} (hbp's name where there is none). */
  public String name(String hbp) {
    return toInitializer.getOrDefault(hbp, hbp);
  }

  /**
   * Arrays keyed by initializer names (or hbp's), renamed to hbp's and in hbp's shapes (see the class
   * comment); other names pass unchanged (an hbp name given besides wins over the initializer's).
   *
   * @throws UserError an array of an initializer split into parts whose shape is neither the
   *     initializer's nor {@code [V, *that shape]}
   */
  public Map<String, NdArray> toHbp(Map<String, NdArray> arrays) {
    Map<String, NdArray> out = new LinkedHashMap<>();
    for (Map.Entry<String, NdArray> e : arrays.entrySet()) {
      String name = e.getKey();
      String hbp = toHbp.get(name);
      if (splits.containsKey(name) && splits.get(name).stream().noneMatch(arrays::containsKey)) {
        out.putAll(split(name, e.getValue()));
        continue;
      }
      if (hbp == null || arrays.containsKey(hbp)) out.put(name, e.getValue());
      else out.put(hbp, reshaped(name, e.getValue(), net.parameters().get(hbp).shape()));
    }
    return out;
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
