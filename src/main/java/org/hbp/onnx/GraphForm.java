package org.hbp.onnx;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.hbp.UserError;
import org.hbp.io.NdArray;

/**
 * The graph form of an imported network (README, "Graph networks"): one statement per value, in
 * the ONNX graph's order. A layer becomes {@code v3 = linear(m = 4)(v2);} (its parameters
 * {@code v3.W}, {@code v3.b}); layers that read the same initializers with the same module and
 * dims (a Gemm, MatMul or Conv weight used by several nodes: weight tying) become one named
 * instance, {@code tied_fc = linear(m = 4);} declared before its first use and applied at each
 * ({@code v5 = tied_fc(v4);}), with one set of parameters {@code tied_fc.W}, {@code tied_fc.b}.
 */
final class GraphForm {
  /** The modules whose parameters may be tied (the Gemm, MatMul and Conv mappings). */
  private static final Set<String> TIEABLE = Set.of("linear", "linear_nobias", "conv2d", "conv2d_nobias");

  /** A layer applied to a value, or a merge (its statement text ready). */
  private record Entry(String value, int layer, String input, String text, String origin) {}

  private final List<Entry> entries = new ArrayList<>();

  /** {@code value = <layer>(input);}. */
  void apply(String value, int layer, String input) {
    entries.add(new Entry(value, layer, input, null, null));
  }

  /** A merge statement, e.g. {@code v7 = v5 + v6;}, with its ONNX node for the comment. */
  void merge(String value, String text, String origin) {
    entries.add(new Entry(value, -1, null, text, origin));
  }

  /**
   * The statements, and the parameters renamed from {@code <layer index>.<param>} to
   * {@code <value or instance>.<param>} (a tied instance's once).
   *
   * @throws UserError an initializer read by two layers that cannot be one instance
   */
  static Result build(String file, GraphForm form, List<ImportedNetwork.Layer> layers, Map<String, NdArray> parameters, Map<String, String> sources) {
    Map<Integer, Integer> tiedTo = ties(file, layers, sources);
    Map<Integer, String> owner = new HashMap<>(); // layer index -> the name its parameters go by
    Map<Integer, String> instanceOf = new HashMap<>(); // representative layer -> instance name
    Set<String> taken = new HashSet<>();
    for (Entry e : form.entries) taken.add(e.value);
    List<ImportedNetwork.Statement> statements = new ArrayList<>();
    for (Entry e : form.entries) {
      if (e.layer < 0) {
        statements.add(new ImportedNetwork.Statement(e.text, e.origin));
        continue;
      }
      ImportedNetwork.Layer l = layers.get(e.layer);
      int rep = tiedTo.getOrDefault(e.layer, -1);
      if (rep < 0) {
        owner.put(e.layer, e.value);
        statements.add(new ImportedNetwork.Statement(e.value + " = " + l.module() + NetworkText.args(l.args()) + "(" + e.input + ");", l.origin()));
        continue;
      }
      String instance = instanceOf.get(rep);
      if (instance == null) {
        instance = instanceName(firstSource(rep, sources), taken);
        instanceOf.put(rep, instance);
        owner.put(rep, instance);
        statements.add(new ImportedNetwork.Statement(instance + " = " + l.module() + NetworkText.args(l.args()) + ";",
            "tied: one instance for the nodes reading " + String.join(", ", sourcesOf(rep, sources).values())));
      }
      statements.add(new ImportedNetwork.Statement(e.value + " = " + instance + "(" + e.input + ");", l.origin()));
    }
    Map<String, NdArray> params = new LinkedHashMap<>();
    Map<String, String> srcs = new LinkedHashMap<>();
    for (Map.Entry<String, NdArray> p : parameters.entrySet()) {
      int layer = OnnxImporter.layerOf(p.getKey());
      if (!owner.containsKey(layer)) continue; // a tied use after the first: its parameters are the instance's
      String name = OnnxImporter.renamed(p.getKey(), owner.get(layer));
      params.put(name, p.getValue());
      srcs.put(name, sources.get(p.getKey()));
    }
    Map<Integer, String> owners = new HashMap<>(owner);
    tiedTo.forEach((layer, rep) -> owners.put(layer, owner.get(rep)));
    return new Result(statements, params, srcs, owners);
  }

  /** The statements, the renamed parameters and their sources, and the name each layer's parameters go by. */
  record Result(List<ImportedNetwork.Statement> statements, Map<String, NdArray> parameters, Map<String, String> sources, Map<Integer, String> owners) {}

  /**
   * For each layer that reads an initializer an earlier layer reads, that earlier layer (the
   * first reader); both must be the same module with the same dims and the same parameter
   * sources (weight and bias), a linear or conv2d.
   */
  private static Map<Integer, Integer> ties(String file, List<ImportedNetwork.Layer> layers, Map<String, String> sources) {
    Map<String, Integer> firstReader = new HashMap<>();
    Map<Integer, Integer> tiedTo = new HashMap<>();
    for (int k = 0; k < layers.size(); k++) {
      Map<String, String> mine = sourcesOf(k, sources);
      for (String source : mine.values()) {
        String init = initializer(source);
        Integer first = firstReader.get(init);
        if (first != null && first == k) continue; // one layer's parameters from slices of one initializer (attention's Wq, Wk, Wv)
        if (first == null) {
          firstReader.put(init, k);
          continue;
        }
        ImportedNetwork.Layer a = layers.get(first), b = layers.get(k);
        boolean same = a.module().equals(b.module()) && a.args().equals(b.args()) && sourcesOf(first, sources).equals(mine);
        if (!same || !TIEABLE.contains(b.module()))
          throw new UserError(file + ": " + b.origin() + " reads initializer '" + init + "', which " + a.origin() + " reads too; hbp ties the "
              + "parameters of Gemm, MatMul and Conv nodes with the same attributes, weight and bias (one named instance used several times), "
              + (TIEABLE.contains(b.module()) ? "and these differ (" + a.module() + NetworkText.args(a.args()) + " " + sourcesOf(first, sources).values()
                  + " vs " + b.module() + NetworkText.args(b.args()) + " " + mine.values() + ")" : "not a " + b.module()));
        tiedTo.put(first, first);
        tiedTo.put(k, first);
        break;
      }
    }
    return tiedTo;
  }

  /** The sources of layer k's parameters, by parameter name. */
  private static Map<String, String> sourcesOf(int k, Map<String, String> sources) {
    Map<String, String> out = new LinkedHashMap<>();
    for (Map.Entry<String, String> e : sources.entrySet())
      if (OnnxImporter.layerOf(e.getKey()) == k) out.put(OnnxImporter.variableOf(e.getKey()), e.getValue());
    return out;
  }

  private static String firstSource(int k, Map<String, String> sources) {
    return initializer(sourcesOf(k, sources).values().iterator().next());
  }

  /** The initializer's name of a source ({@code W (transposed)} is {@code W}). */
  private static String initializer(String source) {
    return source.endsWith(" (transposed)") ? source.substring(0, source.length() - " (transposed)".length()) : source;
  }

  /** {@code tied_fc} for the initializer {@code fc.weight}: a DSL identifier not taken yet. */
  private static String instanceName(String initializer, Set<String> taken) {
    String base = initializer.contains(".") ? initializer.substring(0, initializer.lastIndexOf('.')) : initializer;
    base = "tied_" + base.replaceAll("[^A-Za-z0-9_]", "_");
    String name = base;
    for (int k = 2; taken.contains(name); k++) name = base + "_" + k;
    taken.add(name);
    return Objects.requireNonNull(name);
  }
}
