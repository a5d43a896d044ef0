package org.hbp.onnx;

import java.util.LinkedHashMap;
import java.util.Map;
import org.hbp.io.NdArray;

/**
 * The names of an imported network's parameters as its ONNX initializers', which for a model
 * from {@code torch.onnx.export} are PyTorch's ({@code model.named_parameters()}): hbp names a
 * parameter {@code <layer index>.<param>}; results and directions of an ONNX {@code --net} go by
 * the initializer's name instead. The layout stays PyTorch's of the module (a linear weight
 * {@code [out, in]}), also where the importer transposed the initializer (a MatMul's {@code [in, out]}
 * constant; see {@link ImportedNetwork#sources}).
 */
public final class InitializerNames {
  private static final String TRANSPOSED = " (transposed)";
  private final Map<String, String> toInitializer = new LinkedHashMap<>();
  private final Map<String, String> toHbp = new LinkedHashMap<>();

  public InitializerNames(ImportedNetwork net) {
    Map<String, Integer> readers = new LinkedHashMap<>();
    for (String source : net.sources().values()) readers.merge(initializer(source), 1, Integer::sum);
    for (Map.Entry<String, String> e : net.sources().entrySet()) {
      String init = initializer(e.getValue());
      // an initializer behind several parameters (a constant copied into each, attention's Wq, Wk, Wv
      // from in_proj_weight) leaves hbp's names
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

  /** Arrays keyed by initializer names (or hbp's), renamed to hbp's; other names pass unchanged. */
  public Map<String, NdArray> toHbp(Map<String, NdArray> arrays) {
    Map<String, NdArray> out = new LinkedHashMap<>();
    for (Map.Entry<String, NdArray> e : arrays.entrySet()) {
      String hbp = toHbp.get(e.getKey());
      out.put(hbp == null || arrays.containsKey(hbp) ? e.getKey() : hbp, e.getValue());
    }
    return out;
  }
}
