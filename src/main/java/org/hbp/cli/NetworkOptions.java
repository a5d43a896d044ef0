package org.hbp.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.hbp.network.ModuleLibrary;
import org.hbp.network.NetworkResolver;
import org.hbp.network.NetworkSpec;
import picocli.CommandLine.Option;

/** The options naming a network declared in the DSL ({@code --net}, {@code --network}, {@code --specs}) of curvature and train. */
final class NetworkOptions {
  @Option(names = "--net", required = true, paramLabel = "NET.hbp", description = "File declaring the network.")
  Path netFile;

  @Option(names = "--network", paramLabel = "NAME", description = "Which network of the file (default: its only one).")
  String networkName;

  @Option(names = "--specs", paramLabel = "DIR", description = "Extra spec folders for the network's modules (the built-in modules-spec/ is always used).")
  List<Path> specDirs = new ArrayList<>();

  /** The network, its modules from the built-in spec folders and {@code --specs}. */
  NetworkSpec load() {
    List<Path> dirs = new ArrayList<>(ModuleLibrary.builtInSpecDirs());
    dirs.addAll(specDirs);
    return NetworkResolver.load(netFile, networkName, dirs);
  }

}
