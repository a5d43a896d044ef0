package org.hbp.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.hbp.UserError;
import org.hbp.dsl.Dsl;
import org.hbp.io.CommandFiles;
import org.hbp.io.NdArray;
import org.hbp.io.Npz;
import org.hbp.network.ModuleLibrary;
import org.hbp.network.Network;
import org.hbp.network.NetworkResolver;
import org.hbp.network.NetworkSpec;
import org.hbp.onnx.CustomMapping;
import org.hbp.onnx.ImportedNetwork;
import org.hbp.onnx.InitializerNames;
import org.hbp.onnx.NetworkText;
import org.hbp.onnx.OnnxImporter;
import picocli.CommandLine.Option;

/**
 * How a network file is read, the same for every command taking one ({@link NetworkOptions} of
 * curvature, gradients, spectrum and train; bench, whose {@code --net} has a default): extra spec
 * folders ({@code --specs}) and, for an ONNX model, its loss ({@code --loss}), operator mappings
 * ({@code --map}) and fixed data ({@code --constants}, {@code --buffers}); loads the network
 * ({@link #load}) and gives it its data values ({@link #bindData}). {@link ImportCommand} imports
 * with the same code ({@link #importOnnx}, {@link #resolve}) and declares these options with the
 * same texts (its own first words, {@code --loss} required).
 */
final class NetworkFileOptions {
  // The ONNX options that hbp import declares too, with other first words (their texts below are
  // the rest of each description, shared): one wording for both, and the syntax of --constants and
  // --buffers stated next to names(), which reads it.

  /** The value label of {@code --map}. */
  static final String MAP_LABEL = "OP=FILE.hbp:MODULE";

  /** The description of {@code --map} after its first word ("Map"). */
  static final String MAP_TEXT = " an ONNX operator to a module of a spec file (repeatable).";

  /** The value label of {@code --constants} and {@code --buffers}: names as {@link #names} splits them. */
  static final String NAMES_LABEL = "NAME[,NAME...]";

  /** How {@code --constants} and {@code --buffers} take their names ({@link #names}), ending their descriptions. */
  static final String NAMES_SYNTAX = "(repeatable; a comma inside a name is written \\, and a backslash \\\\).";

  /** The description of {@code --constants} after its first word ("Initializers"). */
  static final String CONSTANTS_TEXT = " that are fixed data (PyTorch buffers, e.g. an input normalisation's mean and std), not parameters " + NAMES_SYNTAX;

  /** The description of {@code --buffers} after its first word ("The"). */
  static final String BUFFERS_TEXT = " PyTorch model's buffers (model.named_buffers()); those that are initializers of the file are fixed data as with "
      + "--constants, the others (dropped by the export) are ignored " + NAMES_SYNTAX;

  @Option(names = "--specs", paramLabel = "DIR", description = "Extra spec folders for the network's modules (the built-in modules-spec/ is always used).")
  List<Path> specDirs = new ArrayList<>();

  @Option(names = "--loss", paramLabel = "LOSS", description = "With an ONNX --net (required there: the graph holds no loss): the loss module, e.g. crossentropy or mse.")
  String loss;

  @Option(names = "--map", paramLabel = MAP_LABEL, description = "With an ONNX --net: map" + MAP_TEXT)
  List<String> maps = new ArrayList<>();

  @Option(names = "--constants", paramLabel = NAMES_LABEL, description = "With an ONNX --net: initializers" + CONSTANTS_TEXT)
  List<String> constants = new ArrayList<>();

  @Option(names = "--buffers", paramLabel = NAMES_LABEL, description = "With an ONNX --net: the" + BUFFERS_TEXT)
  List<String> buffers = new ArrayList<>();

  /** The imported ONNX model, once {@link #load} read one. */
  private ImportedNetwork imported;

  /**
   * The network of {@code net}, its modules from the built-in spec folders and {@code --specs} (and {@code --map}'s files).
   *
   * @param networkName which network of a DSL file (null: its only one)
   */
  NetworkSpec load(Path net, String networkName) {
    List<Path> dirs = moduleDirs(specDirs);
    if (!isOnnx(net)) {
      String onnxOnly = loss != null ? "--loss" : !maps.isEmpty() ? "--map" : !constants.isEmpty() ? "--constants" : !buffers.isEmpty() ? "--buffers" : null;
      if (onnxOnly != null) throw new UserError(onnxOnly + " applies to an ONNX --net (model.onnx); " + net + " declares its own loss and modules");
      return NetworkResolver.load(net, networkName, dirs);
    }
    if (networkName != null) throw new UserError("--network picks a network of a DSL file; " + net + " is an ONNX model holding one");
    imported = importOnnx(net, loss, maps, constants, buffers);
    return resolve(imported, dirs);
  }

  /** The folders of module specs: the built-in ones, then {@code specDirs} ({@code --specs}); a new list. */
  /**
   * Declares the files the network's modules are read from as inputs of {@code files}: each
   * {@code --map} spec file and the specs of each {@code --specs} folder, so that no output of the
   * command replaces one of them.
   */
  void declareInputs(CommandFiles files) {
    declareInputs(files, maps, specDirs);
  }

  /** {@link #declareInputs(CommandFiles)} for the {@code --map} entries {@code maps} and {@code --specs} folders {@code specDirs} (hbp import's). */
  static void declareInputs(CommandFiles files, List<String> maps, List<Path> specDirs) {
    for (String m : maps) files.input("--map", CustomMapping.fileOf(m));
    for (Path dir : specDirs) for (Path f : NetworkResolver.specFiles(dir)) files.input("--specs", f);
  }

  static List<Path> moduleDirs(List<Path> specDirs) {
    List<Path> dirs = new ArrayList<>(ModuleLibrary.builtInSpecDirs());
    dirs.addAll(specDirs);
    return dirs;
  }

  /** An imported network resolved against the spec folders {@code dirs} and the files of its {@code --map}s. */
  static NetworkSpec resolve(ImportedNetwork imported, List<Path> dirs) {
    List<Path> all = new ArrayList<>(dirs);
    all.addAll(imported.specFiles());
    String source = imported.source() + " (imported)";
    try {
      return NetworkResolver.resolve(Dsl.parse(NetworkText.of(imported), source), null, NetworkResolver.library(all));
    } catch (org.hbp.dsl.DslException e) { // named by the ONNX node, not by a line of a text the user does not see
      throw NetworkText.explained(imported, source, e);
    }
  }

  /** Whether a path names an ONNX model (by its extension {@code .onnx}). */
  static boolean isOnnx(Path file) {
    return file.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".onnx");
  }

  /**
   * Imports an ONNX model with a loss ({@code --loss}, required), the {@code --map} entries, the {@code --constants}
   * initializers and the {@code --buffers} of the PyTorch model (those that are initializers are fixed data).
   */
  static ImportedNetwork importOnnx(Path file, String loss, List<String> maps, List<String> constants, List<String> buffers) {
    if (loss == null)
      throw new UserError(file + " is an ONNX model, whose graph holds no loss: give one with --loss (e.g. --loss crossentropy, --loss mse)");
    if (!loss.matches("[A-Za-z_][A-Za-z0-9_]*"))
      throw new UserError("--loss '" + loss + "': expected the name of a loss module, e.g. crossentropy, mse, squareloss, bce");
    List<CustomMapping> mappings = new ArrayList<>();
    for (String m : maps) mappings.add(CustomMapping.parse(m));
    return OnnxImporter.load(file, loss, mappings, names(constants, "--constants"), names(buffers, "--buffers"));
  }

  /**
   * The names of the values of a repeatable option of comma-separated names ({@code --constants mean,std --constants scale}):
   * split at each comma that no backslash escapes; {@code \,} is a comma inside a name, {@code \\} a backslash, and a
   * backslash before any other character is kept as it is.
   *
   * @throws UserError an empty name (two commas in a row, a comma at either end) or a value ending in a lone backslash
   */
  static LinkedHashSet<String> names(List<String> values, String option) {
    LinkedHashSet<String> out = new LinkedHashSet<>();
    for (String value : values) {
      StringBuilder name = new StringBuilder();
      for (int k = 0; k <= value.length(); k++) {
        char c = k < value.length() ? value.charAt(k) : ',';
        if (c == '\\') {
          if (k + 1 == value.length())
            throw new UserError(option + " '" + value + "' ends in a lone backslash; write a backslash in a name as \\\\ and a comma as \\,");
          char next = value.charAt(++k);
          if (next != ',' && next != '\\') name.append(c);
          name.append(next);
        } else if (c == ',') {
          if (name.length() == 0)
            throw new UserError(option + " '" + value + "' has an empty name; give names separated by commas (a comma inside a name as \\,)");
          out.add(name.toString());
          name.setLength(0);
        } else name.append(c);
      }
    }
    return out;
  }

  /**
   * The parameter arrays: the file {@code params} when given, else the initializers of an ONNX
   * {@code --net} (after {@link #load}). For an ONNX {@code --net}, the file's arrays may go by the
   * initializers' names (PyTorch's {@code model.named_parameters()}) and shapes: they are renamed to
   * hbp's and brought to its shapes ({@link InitializerNames#toHbp}: a scale {@code [C, 1, 1]} as
   * {@code [C]}, attention's {@code in_proj_weight} split into Wq, Wk, Wv).
   *
   * @throws UserError no {@code --params} with a DSL network, or a missing file
   */
  Map<String, NdArray> parameterArrays(Path params) throws IOException {
    if (params != null) {
      Map<String, NdArray> arrays = readNpz("--params", params);
      return imported == null ? arrays : new InitializerNames(imported).toHbp(arrays);
    }
    if (imported == null) throw new UserError("--params P.npz is required (only an ONNX --net brings its own parameters)");
    return imported.parameters();
  }

  /**
   * Gives the network constant values of its data variables: those of an ONNX --net (the running
   * statistics of BatchNormalization, fixed data of --constants and --buffers; see {@link ImportedNetwork#data}),
   * and the vectors of the {@code --params} file named as a data variable ({@code <path>.<name>}, e.g.
   * {@code 1.mean} as {@code hbp import --params-out} writes them). Other data variables stay all ones.
   *
   * @param params the {@code --params} file, or null
   * @return the values given, by {@code <path>.<name>} (one item, column-major, as {@link Network#setDataValues} takes them)
   * @throws UserError a data array of the file that is not a vector of the variable's size
   */
  Map<String, double[]> bindData(Network network, Path params) throws IOException {
    Map<String, double[]> values = dataValues(network, params);
    if (!values.isEmpty()) network.setDataValues(values);
    return values;
  }

  private Map<String, double[]> dataValues(Network network, Path params) throws IOException {
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
    return values;
  }

  /** The imported ONNX --net (after {@link #load}), or null for a DSL network. */
  ImportedNetwork importedNetwork() {
    return imported;
  }

  /** The arrays of the .npz file {@code file} that {@code option} names; a missing file is an error naming the option. */
  static Map<String, NdArray> readNpz(String option, Path file) throws IOException {
    if (!Files.exists(file)) throw new UserError(option + " " + file + ": file not found");
    return Npz.read(file);
  }
}
