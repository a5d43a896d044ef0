package org.hbp.network;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import org.hbp.UserError;
import org.hbp.codegen.OperatorGenerator;
import org.hbp.codegen.OperatorLoader;
import org.hbp.codegen.SourceGeneration;
import org.hbp.dsl.Dsl;
import org.hbp.dsl.ModuleSpec;
import org.hbp.io.TempFolders;
import org.hbp.runtime.BuiltInOperators;

/**
 * Where a network's modules come from: the built-in specs (the repository's
 * {@code modules-spec/}, or the copy packaged in hbp's jar) with their compiled operators, and
 * user specs, whose operators are generated and compiled in-process on first use.
 */
public final class ModuleLibrary {
  private ModuleLibrary() {}

  /** The shipped spec folders: built-in ones with compiled operators, then those compiled on first use. */
  public static final List<String> SPEC_FOLDERS = List.of("modules-spec", "modules-extra");

  private static final Map<String, Path> extracted = new HashMap<>();

  /**
   * The folders of the specs hbp ships, in lookup order: {@code modules-spec/} (built in: their
   * operators are generated at build time into {@code generated/} and compiled into hbp), then
   * {@code modules-extra/} (specs that derive and verify, kept out of the build because they
   * restate a built-in formula in another shape, such as softmax_tokens, or serve only the ONNX
   * import, such as learned_scale; their operators are generated and compiled on first use, as a
   * user's specs are). Each is the working directory's folder when it is there,
   * else the copy packaged in hbp's jar (extracted once to a temporary folder).
   */
  public static synchronized List<Path> builtInSpecDirs() {
    return SPEC_FOLDERS.stream().map(ModuleLibrary::shippedFolder).toList();
  }

  /**
   * The built-in modules and losses (those of {@code modules-spec/}, whose classes are compiled
   * into hbp in package {@code org.hbp.generated}), parsed; what a user's module may not be named
   * like ({@link org.hbp.codegen.OperatorGenerator#requireNoBuiltInClash}).
   */
  public static List<ModuleSpec> builtInModules() throws IOException {
    List<ModuleSpec> out = new ArrayList<>();
    for (Path spec : SourceGeneration.specFiles(builtInSpecDirs().get(0)))
      out.addAll(Dsl.parse(Dsl.readSpec(spec), spec.toString()).modules());
    return out;
  }

  private static Path shippedFolder(String folder) {
    Path local = Path.of(folder);
    if (Files.isDirectory(local)) return local;
    return extracted.computeIfAbsent(folder, ModuleLibrary::extract);
  }

  private static Path extractedNetworks;

  /**
   * A network file shipped with hbp ({@code networks/NAME}, e.g. {@code fc-fmnist.hbp}): the
   * repository's copy when run from its root, else the one packaged in the jar.
   */
  public static synchronized Path builtInNetwork(String name) {
    Path local = Path.of("networks", name);
    if (Files.isRegularFile(local)) return local;
    if (extractedNetworks == null) extractedNetworks = extract("networks");
    Path p = extractedNetworks.resolve(name);
    if (!Files.isRegularFile(p)) throw new UserError("no built-in network '" + name + "'");
    return p;
  }

  private static Path extract(String folder) {
    String specs = folder;
    try {
      Path dir = TempFolders.create("hbp-" + folder + "-");
      Path source = Path.of(ModuleLibrary.class.getProtectionDomain().getCodeSource().getLocation().toURI());
      if (Files.isDirectory(source)) {
        Path from = source.resolve(specs);
        if (Files.isDirectory(from))
          try (var s = Files.list(from)) {
            for (Path p : s.toList()) Files.copy(p, dir.resolve(p.getFileName().toString()));
          }
      } else {
        try (ZipFile zip = new ZipFile(source.toFile())) {
          Enumeration<? extends ZipEntry> e = zip.entries();
          while (e.hasMoreElements()) {
            ZipEntry z = e.nextElement();
            if (z.isDirectory() || !z.getName().startsWith(specs + "/") || !z.getName().endsWith(".hbp")) continue;
            try (InputStream in = zip.getInputStream(z)) {
              Files.copy(in, dir.resolve(z.getName().substring(specs.length() + 1)));
            }
          }
        }
      }
      return dir;
    } catch (IOException | URISyntaxException e) {
      throw new IllegalStateException("cannot read the built-in " + folder + " packaged with hbp: " + e.getMessage(), e);
    }
  }

  /**
   * Operators for the modules of any spec: the built-in class when its forward expression is the
   * spec's, else generated from the spec's file and compiled in-process (once per file).
   */
  public static Network.OperatorFactory forSpecs() {
    Map<String, Map<String, Class<?>>> compiled = new HashMap<>();
    return (m, be, dims) -> {
      Class<?> c = builtIn(m);
      if (c == null) c = compile(m, compiled);
      return new OperatorLoader.Loaded(c, false).create(be, dims);
    };
  }

  private static Class<?> builtIn(ModuleSpec m) {
    try {
      Class<?> c = Class.forName(BuiltInOperators.PACKAGE + "." + BuiltInOperators.className(m.name()));
      return OperatorGenerator.forwardText(m).equals(c.getField("FORWARD").get(null)) ? c : null;
    } catch (ClassNotFoundException | NoSuchFieldException | IllegalAccessException e) {
      return null;
    }
  }

  private static Class<?> compile(ModuleSpec m, Map<String, Map<String, Class<?>>> cache) {
    Map<String, Class<?>> classes = cache.computeIfAbsent(m.source(), source -> {
      try {
        Path file = Path.of(source);
        String text = Dsl.readSpec(file);
        Path work = TempFolders.create("hbp-operators-");
        return OperatorLoader.compile(OperatorGenerator.generate(Dsl.parse(text, source), text, source, "hbp.user.generated"), work);
      } catch (IOException e) {
        throw new UncheckedIOException("cannot generate the operator of module '" + m.name() + "' from " + source + ": " + e.getMessage(), e);
      }
    });
    Class<?> c = classes.get(OperatorGenerator.className(m.name()));
    if (c == null) throw new IllegalStateException("no generated class for module '" + m.name() + "' from " + m.source());
    return c;
  }
}
