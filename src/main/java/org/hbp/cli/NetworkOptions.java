package org.hbp.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.hbp.UserError;
import org.hbp.dsl.Dsl;
import org.hbp.io.NdArray;
import org.hbp.io.Npz;
import org.hbp.network.ModuleLibrary;
import org.hbp.network.Network;
import org.hbp.network.NetworkResolver;
import org.hbp.network.NetworkSpec;
import org.hbp.onnx.CustomMapping;
import org.hbp.onnx.ImportedNetwork;
import org.hbp.onnx.NetworkText;
import org.hbp.onnx.OnnxImporter;
import picocli.CommandLine.Option;

/**
 * The options naming a network ({@code --net}, {@code --network}, {@code --specs}) of curvature,
 * spectrum and train: declared in the DSL, or an ONNX model ({@code .onnx}, imported by
 * {@link OnnxImporter}, with {@code --loss}, {@code --map} and {@code --constants}; its other initializers are the parameters).
 */
final class NetworkOptions {
  @Option(names = "--net", required = true, paramLabel = "NET",
      description = "File declaring the network: the DSL (.hbp), or an ONNX model (.onnx, e.g. from torch.onnx.export; its initializers are the parameters).")
  Path netFile;

  @Option(names = "--network", paramLabel = "NAME", description = "Which network of the file (default: its only one).")
  String networkName;

  @Option(names = "--specs", paramLabel = "DIR", description = "Extra spec folders for the network's modules (the built-in modules-spec/ is always used).")
  List<Path> specDirs = new ArrayList<>();

  @Option(names = "--loss", paramLabel = "LOSS", description = "With an ONNX --net (required there: the graph holds no loss): the loss module, e.g. crossentropy or mse.")
  String loss;

  @Option(names = "--map", paramLabel = "OP=FILE.hbp:MODULE", description = "With an ONNX --net: map an ONNX operator to a module of a spec file (repeatable).")
  List<String> maps = new ArrayList<>();

  @Option(names = "--constants", split = ",", paramLabel = "NAME",
      description = "With an ONNX --net: initializers that are fixed data (PyTorch buffers, e.g. an input normalisation's mean and std), not parameters.")
  List<String> constants = new ArrayList<>();

  /** The imported ONNX model, once {@link #load} read one. */
  private ImportedNetwork imported;

  /** Whether {@code --net} names an ONNX model (by its extension {@code .onnx}). */
  boolean isOnnx() {
    return isOnnx(netFile);
  }

  /** The network, its modules from the built-in spec folders and {@code --specs} (and {@code --map}'s files). */
  NetworkSpec load() {
    List<Path> dirs = new ArrayList<>(ModuleLibrary.builtInSpecDirs());
    dirs.addAll(specDirs);
    if (!isOnnx()) {
      if (loss != null || !maps.isEmpty() || !constants.isEmpty())
        throw new UserError((loss != null ? "--loss" : !maps.isEmpty() ? "--map" : "--constants") + " applies to an ONNX --net (model.onnx); " + netFile + " declares its own loss and modules");
      return NetworkResolver.load(netFile, networkName, dirs);
    }
    if (networkName != null) throw new UserError("--network picks a network of a DSL file; " + netFile + " is an ONNX model holding one");
    imported = importOnnx(netFile, loss, maps, constants);
    return resolve(imported, dirs);
  }

  /** An imported network resolved against the spec folders {@code dirs} and the files of its {@code --map}s. */
  static NetworkSpec resolve(ImportedNetwork imported, List<Path> dirs) {
    List<Path> all = new ArrayList<>(dirs);
    all.addAll(imported.specFiles());
    return NetworkResolver.resolve(Dsl.parse(NetworkText.of(imported), imported.source() + " (imported)"), null, NetworkResolver.library(all));
  }

  /** Whether a path names an ONNX model (by its extension {@code .onnx}). */
  static boolean isOnnx(Path file) {
    return file.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".onnx");
  }

  /** Imports an ONNX model with a loss ({@code --loss}, required) and the {@code --map} entries. */
  static ImportedNetwork importOnnx(Path file, String loss, List<String> maps) {
    return importOnnx(file, loss, maps, List.of());
  }

  /** Imports an ONNX model with a loss, the {@code --map} entries and the {@code --constants} initializers (fixed data). */
  static ImportedNetwork importOnnx(Path file, String loss, List<String> maps, List<String> constants) {
    if (loss == null)
      throw new UserError(file + " is an ONNX model, whose graph holds no loss: give one with --loss (e.g. --loss crossentropy, --loss mse)");
    if (!loss.matches("[A-Za-z_][A-Za-z0-9_]*"))
      throw new UserError("--loss '" + loss + "': expected the name of a loss module, e.g. crossentropy, mse, squareloss, bce");
    List<CustomMapping> mappings = new ArrayList<>();
    for (String m : maps) mappings.add(CustomMapping.parse(m));
    return OnnxImporter.load(file, loss, mappings, new java.util.LinkedHashSet<>(constants));
  }

  /**
   * The parameter arrays: the file {@code params} when given, else the initializers of an ONNX
   * {@code --net} (after {@link #load}).
   *
   * @throws UserError no {@code --params} with a DSL network, or a missing file
   */
  Map<String, NdArray> parameterArrays(Path params) throws IOException {
    if (params != null) {
      if (!Files.exists(params)) throw new UserError("file not found: " + params);
      return Npz.read(params);
    }
    if (imported == null) throw new UserError("--params P.npz is required (only an ONNX --net brings its own parameters)");
    return imported.parameters();
  }

  /** Where {@link #parameterArrays} took them from, for messages. */
  String parameterSource(Path params) {
    return params != null ? params.toString() : netFile + " (initializers)";
  }

  /** The imported ONNX --net (after {@link #load}), or null for a DSL network. */
  ImportedNetwork importedNetwork() {
    return imported;
  }

  /**
   * Gives the network constant values of its data variables: those of an ONNX --net (the running
   * statistics of BatchNormalization; see {@link ImportedNetwork#data}), and the vectors of the
   * {@code --params} file named as a data variable ({@code <path>.<name>}, e.g. {@code 1.mean} as
   * {@code hbp import --params-out} writes them). Other data variables stay all ones.
   *
   * @param params the {@code --params} file, or null
   * @throws UserError a data array of the file that is not a vector of the variable's size
   */
  void bindData(Network network, Path params) throws IOException {
    Map<String, double[]> values = new LinkedHashMap<>();
    if (imported != null) imported.data().forEach((name, a) -> values.put(name, a.data()));
    if (params != null && Files.exists(params) && !network.dataVariables().isEmpty()) {
      for (Map.Entry<String, NdArray> e : Npz.read(params).entrySet()) {
        int[] s = network.dataVariables().get(e.getKey());
        if (s == null) continue;
        if (s[1] != 1 || e.getValue().rank() != 1 || e.getValue().numel() != s[0])
          throw new UserError(params + ": array '" + e.getKey() + "' of shape " + java.util.Arrays.toString(e.getValue().shape())
              + " for the data variable " + e.getKey() + (s[1] == 1 ? " of " + s[0] + " entries; expected [" + s[0] + "]" : ", a matrix; only vectors are read"));
        values.put(e.getKey(), e.getValue().data());
      }
    }
    if (!values.isEmpty()) network.setDataValues(values);
  }

  /** The parameters of an ONNX --net (after {@link #load}), or null for a DSL network. */
  Map<String, NdArray> importedParameters() {
    return imported == null ? null : imported.parameters();
  }
}
