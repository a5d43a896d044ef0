package org.hbp.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import org.hbp.io.CommandFiles;
import org.hbp.io.NdArray;
import org.hbp.network.Network;
import org.hbp.network.NetworkSpec;
import org.hbp.onnx.ImportedNetwork;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The options naming a network ({@code --net}, required, and {@code --network}) of curvature,
 * gradients, spectrum and train, with {@link NetworkFileOptions} ({@code --specs}; for an ONNX
 * model, imported by {@link org.hbp.onnx.OnnxImporter}: {@code --loss}, {@code --map}, {@code --constants},
 * {@code --buffers}; its other initializers are the parameters).
 */
final class NetworkOptions {
  @Option(names = "--net", required = true, paramLabel = "NET",
      description = "File declaring the network: the DSL (.hbp), or an ONNX model (.onnx, e.g. from torch.onnx.export; its initializers are the parameters).")
  Path netFile;

  @Option(names = "--network", paramLabel = "NAME", description = "Which network of the file (default: its only one).")
  String networkName;

  @Mixin NetworkFileOptions file;

  /**
   * Declares the files the network is read from as inputs of {@code files} ({@code --net}, the
   * {@code --map} and {@code --specs} files: {@link NetworkFileOptions#declareInputs}); returns {@code files}.
   */
  CommandFiles declareInputs(CommandFiles files) {
    files.input("--net", netFile);
    file.declareInputs(files);
    return files;
  }

  /** Whether {@code --net} names an ONNX model (by its extension {@code .onnx}). */
  boolean isOnnx() {
    return NetworkFileOptions.isOnnx(netFile);
  }

  /** The network, its modules from the built-in spec folders and {@code --specs} (and {@code --map}'s files). */
  NetworkSpec load() {
    return file.load(netFile, networkName);
  }

  /**
   * The parameter arrays: the file {@code params} when given, else the initializers of an ONNX
   * {@code --net} (after {@link #load}); see {@link NetworkFileOptions#parameterArrays}.
   */
  Map<String, NdArray> parameterArrays(Path params) throws IOException {
    return file.parameterArrays(params);
  }

  /** Where {@link #parameterArrays} took them from, for messages. */
  String parameterSource(Path params) {
    return params != null ? params.toString() : netFile + " (initializers)";
  }

  /** The imported ONNX --net (after {@link #load}), or null for a DSL network. */
  ImportedNetwork importedNetwork() {
    return file.importedNetwork();
  }

  /** Gives the network constant values of its data variables: {@link NetworkFileOptions#bindData}. */
  void bindData(Network network, Path params) throws IOException {
    file.bindData(network, params);
  }

  /** The parameters of an ONNX --net (after {@link #load}), or null for a DSL network. */
  Map<String, NdArray> importedParameters() {
    ImportedNetwork imported = file.importedNetwork();
    return imported == null ? null : imported.parameters();
  }
}
