package org.hbp.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.hbp.UserError;
import org.hbp.io.AtomicFiles;
import org.hbp.io.CommandFiles;
import org.hbp.io.NdArray;
import org.hbp.io.Npz;
import org.hbp.onnx.ImportedNetwork;
import org.hbp.onnx.NetworkText;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code hbp import model.onnx --loss L [--out net.hbp] [--params-out params.npz]}: an ONNX model as DSL text and a parameters file. */
@Command(name = "import",
    header = "An ONNX model (torch.onnx.export) as a DSL network and parameters.",
    description = {
        "Reads an ONNX model, maps every node to a module spec (modules-spec/, or your own with --map) and prints the "
            + "equivalent network declaration (or writes it to --out); --params-out writes the initializers as the "
            + "parameters file that --params reads (PyTorch's layouts, named '<index>.<param>'). Any command taking "
            + "--net also takes the .onnx file directly (with --loss)."})
public final class ImportCommand extends HbpCommand {
  @Parameters(index = "0", paramLabel = "MODEL.onnx", description = "The ONNX model.")
  Path model;

  @Option(names = "--loss", required = true, paramLabel = "LOSS", description = "The loss module (the graph holds none), e.g. crossentropy or mse.")
  String loss;

  @Option(names = "--map", paramLabel = NetworkFileOptions.MAP_LABEL, description = "Map" + NetworkFileOptions.MAP_TEXT)
  List<String> maps = new ArrayList<>();

  @Option(names = "--constants", paramLabel = NetworkFileOptions.NAMES_LABEL, description = "Initializers" + NetworkFileOptions.CONSTANTS_TEXT)
  List<String> constants = new ArrayList<>();

  @Option(names = "--buffers", paramLabel = NetworkFileOptions.NAMES_LABEL, description = "The" + NetworkFileOptions.BUFFERS_TEXT)
  List<String> buffers = new ArrayList<>();

  @Option(names = "--specs", paramLabel = "DIR", description = "Extra spec folders (e.g. for a loss of your own).")
  List<Path> specDirs = new ArrayList<>();

  @Option(names = "--out", paramLabel = "NET.hbp", description = "Write the network declaration here (default: print it).")
  Path out;

  @Option(names = "--params-out", paramLabel = "P.npz", description = "Write the parameters (the initializers) here.")
  Path paramsOut;

  @Mixin OverwriteOption overwrite;

  @Override
  public Integer call() throws Exception {
    CommandFiles files = new CommandFiles(overwrite.overwrite).input("MODEL.onnx", model);
    NetworkFileOptions.declareInputs(files, maps, specDirs);
    files.output("--out", out).output("--params-out", paramsOut).check();
    ImportedNetwork net = NetworkFileOptions.importOnnx(model, loss, maps, constants, buffers);
    NetworkFileOptions.resolve(net, NetworkFileOptions.moduleDirs(specDirs)); // the shapes check out
    String text = NetworkText.of(net);
    PrintWriter w = out();
    if (out == null) w.print(text);
    else {
      AtomicFiles.writeString(out, overwrite.existing(), text);
      w.println("wrote " + out + " (" + net.layers().size() + " layers)");
    }
    if (paramsOut != null) {
      Map<String, NdArray> params = new java.util.LinkedHashMap<>(net.parameters());
      params.putAll(net.data()); // the running statistics of batch normalisation: data values that --params reads back
      Npz.write(paramsOut, overwrite.existing(), params); // atomic
      w.println("wrote " + paramsOut + " (" + net.parameters().size() + " parameters" + (net.data().isEmpty() ? "" : ", " + net.data().size()
          + " data values") + ")");
    }
    for (var e : net.sources().entrySet()) // as comments: the printed text stays a valid network file
      w.println("// " + e.getKey() + " " + Arrays.toString(net.parameters().get(e.getKey()).shape()) + " <- initializer " + e.getValue());
    for (var e : net.data().entrySet())
      w.println("// " + e.getKey() + " " + Arrays.toString(e.getValue().shape()) + " data (a constant: running statistics, a Constant node, --constants or --buffers), in --params-out");
    w.flush();
    return 0;
  }
}
