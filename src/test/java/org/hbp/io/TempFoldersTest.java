package org.hbp.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.hbp.backend.Backends;
import org.hbp.dsl.Dsl;
import org.hbp.network.ModuleLibrary;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** hbp's temporary folders are gone when the JVM has exited (they were left behind before). */
class TempFoldersTest {
  @TempDir Path dir;

  /**
   * Run outside the repository (so the built-in specs and networks are extracted from the
   * classpath) with a user spec compiled in-process: everything goes to temporary folders.
   */
  public static void main(String[] args) throws Exception {
    Path spec = Path.of(args[0]);
    Files.writeString(spec, "module twice {\n  dims n;\n  input x: vector(n);\n  output z = 2*x;\n}\n");
    if (ModuleLibrary.builtInSpecDirs().isEmpty()) throw new AssertionError("no built-in specs");
    if (!Files.isRegularFile(ModuleLibrary.builtInNetwork("fc.hbp"))) throw new AssertionError("no fc.hbp");
    var module = Dsl.parseFile(spec).modules().get(0);
    ModuleLibrary.forSpecs().create(module, Backends.create("cpu", 1), Map.of("n", 3));
    try (Stream<Path> s = Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
      if (s.noneMatch(p -> p.getFileName().toString().startsWith("hbp-")))
        throw new AssertionError("expected hbp's temporary folders while running");
    }
  }

  @Test
  void temporaryFoldersOfBuiltInSpecsNetworksAndCompiledOperatorsAreDeletedAtExit() throws Exception {
    Path tmp = Files.createDirectory(dir.resolve("tmp")), cwd = Files.createDirectory(dir.resolve("cwd"));
    Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("java.class.path"), "-Djava.io.tmpdir=" + tmp,
        TempFoldersTest.class.getName(), cwd.resolve("twice.hbp").toString())
        .directory(cwd.toFile()).redirectErrorStream(true).start();
    String output = new String(p.getInputStream().readAllBytes());
    assertTrue(p.waitFor(120, TimeUnit.SECONDS), "probe did not finish");
    assertEquals(0, p.exitValue(), output);
    assertEquals(List.of(), names(tmp), "left in the temp folder");
  }

  @Test
  void deleteTreeRemovesLinksWithoutFollowingThem() throws IOException {
    Path keep = Files.writeString(dir.resolve("keep.txt"), "mine");
    Path tree = Files.createDirectories(dir.resolve("t/a/b"));
    Files.writeString(tree.resolve("f"), "x");
    Files.createSymbolicLink(dir.resolve("t/link"), keep);
    TempFolders.deleteTree(dir.resolve("t"));
    assertTrue(Files.notExists(dir.resolve("t")));
    assertEquals("mine", Files.readString(keep));
  }

  private static List<String> names(Path folder) throws IOException {
    try (Stream<Path> s = Files.list(folder)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }
}
