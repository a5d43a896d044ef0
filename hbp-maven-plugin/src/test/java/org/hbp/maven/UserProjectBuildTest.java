package org.hbp.maven;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Real Maven builds of a user's project (src/test/resources/user-project) against the artifacts
 * this build just made: the library jar and the plugin jar, with their poms, are installed into a
 * temporary local repository (target/it/repository, laid out as maven-install-plugin would), and
 * the nested builds run offline with a settings file whose central repository is this build's own
 * local repository (a file: URL, read only), so the user's ~/.m2 is never written.
 *
 * <p>The project generates an operator from its own spec with hbp:generate, compiles it, and runs a
 * main that evaluates it; the numbers are checked against values worked out by hand from the
 * spec's math. It never skips: without Maven or the artifacts it fails.
 */
class UserProjectBuildTest {
  private static Path work;
  private static Path repository;
  private static Path settings;
  private static String version;

  private static String property(String name) {
    String v = System.getProperty(name);
    if (v == null) fail("system property " + name + " is not set: run this test through Maven (mvn -B test)");
    return v;
  }

  @BeforeAll
  static void installIntoTemporaryRepository() throws IOException {
    version = property("hbp.it.version");
    work = Path.of(property("hbp.it.work")).toAbsolutePath().normalize();
    deleteTree(work);
    repository = work.resolve("repository");
    Path root = Path.of(property("hbp.it.root"));
    install("hbp-parent", root.resolve("pom.xml"), null);
    install("hbp", root.resolve("hbp-library/pom.xml"), Path.of(property("hbp.it.libraryJar")));
    install("hbp-maven-plugin", root.resolve("hbp-maven-plugin/pom.xml"), Path.of(property("hbp.it.pluginJar")));
    settings = work.resolve("settings.xml");
    // central, for artifacts and plugins, is the outer build's local repository (read only; it
    // keeps no checksum files); offline, no other repository is reached (-o, file: allowed)
    String central = """
              <repository>
                <id>central</id>
                <url>%s</url>
                <releases><checksumPolicy>ignore</checksumPolicy></releases>
                <snapshots><enabled>false</enabled></snapshots>
              </repository>
        """.formatted(Path.of(property("hbp.it.m2")).toUri());
    Files.writeString(settings, """
        <settings>
          <localRepository>%s</localRepository>
          <profiles>
            <profile>
              <id>outer-build-repository</id>
              <repositories>%s</repositories>
              <pluginRepositories>%s</pluginRepositories>
            </profile>
          </profiles>
          <activeProfiles><activeProfile>outer-build-repository</activeProfile></activeProfiles>
        </settings>
        """.formatted(repository, central, central.replace("repository>", "pluginRepository>")));
  }

  /** Copies a pom (and a jar) to org/hbp/ARTIFACT/VERSION/ARTIFACT-VERSION.{pom,jar} of the temporary repository. */
  private static void install(String artifact, Path pom, Path jar) throws IOException {
    Path dir = repository.resolve("org/hbp").resolve(artifact).resolve(version);
    Files.createDirectories(dir);
    Files.copy(pom, dir.resolve(artifact + "-" + version + ".pom"));
    if (jar != null) {
      assertTrue(Files.isRegularFile(jar), jar + " is missing: the jar is made in process-test-classes of its module");
      Files.copy(jar, dir.resolve(artifact + "-" + version + ".jar"));
    }
  }

  @Test
  void theLibraryJarHoldsOnlyHbpsClasses() throws IOException {
    Path jar = repository.resolve("org/hbp/hbp/" + version + "/hbp-" + version + ".jar");
    List<String> foreign = new ArrayList<>();
    boolean hasRuntime;
    try (ZipFile z = new ZipFile(jar.toFile())) {
      hasRuntime = z.getEntry("org/hbp/runtime/ModuleOperator.class") != null;
      z.stream().map(e -> e.getName()).filter(n -> n.endsWith(".class") && !n.startsWith("org/hbp/")).limit(5).forEach(foreign::add);
    }
    assertTrue(hasRuntime, "the library jar lacks org/hbp/runtime/ModuleOperator.class");
    assertEquals(List.of(), foreign, "the library jar holds other libraries' classes (shaded?)");
  }

  @Test
  void aUserProjectGeneratesCompilesAndRunsAnOperator() throws Exception {
    Path project = copyUserProject("user-project");
    Run run = maven(project, "compile", "exec:exec");
    assertEquals(0, run.exit, () -> "the user project's build failed:\n" + run.tail());
    Path generated = project.resolve("target/generated-sources/hbp/com/example/ops/BumpScaleOperator.java");
    assertTrue(Files.readString(generated).startsWith("// Generated by hbp from src/main/hbp/bump.hbp (module 'bump_scale')"),
        "unexpected header of " + generated);
    // z = a .* x ./ (1 + x.^2) at x = (0.5, -1, 2), a = (2, 3, -1)
    assertValues(run, "z", 0.8, -1.5, -0.4);
    // dz .* a .* bump'(x), bump'(t) = (1 - t^2)/(1 + t^2)^2, dz = 1
    assertValues(run, "dx", 0.96, 0, 0.12);
    // dz .* a .* bump''(x), bump''(t) = 2t(t^2 - 3)/(1 + t^2)^3
    assertValues(run, "residual-diagonal", -2.816, 1.5, -0.032);
    // one copy of each class, each from its own artifact: the library's pom brings its dependencies
    assertCopy(run, "org/antlr/v4/runtime/CharStream.class", "/org/antlr/antlr4-runtime/");
    assertCopy(run, "org/ejml/data/DMatrixRMaj.class", "/org/ejml/");
    assertCopy(run, "org/hbp/runtime/ModuleOperator.class", "/org/hbp/hbp/" + version + "/hbp-" + version + ".jar");

    // a second build with the same spec generates nothing and leaves the class untouched
    FileTime before = Files.getLastModifiedTime(generated);
    Run again = maven(project, "compile");
    assertEquals(0, again.exit, () -> "the second build failed:\n" + again.tail());
    assertTrue(again.output.contains("hbp: nothing to generate; the spec is unchanged since the last generation"), again::tail);
    assertEquals(before, Files.getLastModifiedTime(generated));
  }

  @Test
  void aSpecErrorFailsTheBuildWithItsPlace() throws Exception {
    Path project = copyUserProject("bad-project");
    Path spec = project.resolve("src/main/hbp/bump.hbp");
    Files.writeString(spec, Files.readString(spec).replace("output z = a .* bump(x);", "output z = a .* bmp(x);"));
    Run run = maven(project, "compile");
    assertNotEquals(0, run.exit, "a build with a bad spec succeeded");
    assertTrue(run.output.contains("BUILD FAILURE"), run::tail);
    assertTrue(run.output.contains(spec + ":7:19: unknown function 'bmp'; known functions, closest first: bump"), run::tail);
    assertFalse(run.output.contains("\tat org.hbp."), "a stack trace was printed:\n" + run.tail());
  }

  /** The README's snippet (dependency and plugin) is the one the user project is built with. */
  @Test
  void theReadmeSnippetIsTheTestedOne() throws IOException {
    Path root = Path.of(property("hbp.it.root"));
    String readme = Files.readString(root.resolve("README.md"));
    int section = readme.indexOf("**Generating in your own Maven build.**");
    assertTrue(section >= 0, "README: no paragraph 'Generating in your own Maven build'");
    int start = readme.indexOf("```xml\n", section);
    String snippet = readme.substring(start, readme.indexOf("```\n", start + 7)).replace(version, "${hbp.version}");
    String pom = squeeze(Files.readString(root.resolve("hbp-maven-plugin/src/test/resources/user-project/pom.xml")));
    for (String element : List.of("dependency", "plugin")) {
      String block = snippet.substring(snippet.indexOf("<" + element + ">"), snippet.indexOf("</" + element + ">") + element.length() + 3);
      assertTrue(pom.contains(squeeze(block)), "the user project's pom lacks the README's\n" + block);
    }
  }

  private static String squeeze(String xml) {
    return xml.replaceAll("\\s+", "");
  }

  private static void assertValues(Run run, String name, double... expected) {
    String line = run.line("value " + name + " ");
    double[] actual = Arrays.stream(line.substring(("value " + name + " ").length()).split(" ")).mapToDouble(Double::parseDouble).toArray();
    assertEquals(expected.length, actual.length, line);
    for (int i = 0; i < expected.length; i++) assertEquals(expected[i], actual[i], 1e-12, name + "[" + i + "]: " + line);
  }

  private static void assertCopy(Run run, String resource, String from) {
    String line = run.line("copies " + resource + " ");
    assertTrue(line.startsWith("copies " + resource + " 1 ["), "not exactly one copy: " + line);
    assertTrue(line.contains(from), resource + " does not come from " + from + ": " + line);
  }

  private static Path copyUserProject(String name) throws IOException {
    Path source = Path.of(property("hbp.it.root"), "hbp-maven-plugin/src/test/resources/user-project");
    Path target = work.resolve(name);
    try (Stream<Path> files = Files.walk(source)) {
      for (Path p : files.toList()) {
        Path t = target.resolve(source.relativize(p).toString());
        if (Files.isDirectory(p)) Files.createDirectories(t);
        else Files.copy(p, t, StandardCopyOption.REPLACE_EXISTING);
      }
    }
    return target;
  }

  private record Run(int exit, String output) {
    String line(String prefix) {
      return output.lines().filter(l -> l.startsWith(prefix)).findFirst().orElseThrow(() -> new AssertionError("no line '" + prefix + "...' in:\n" + tail()));
    }

    String tail() {
      List<String> lines = output.lines().toList();
      return String.join("\n", lines.subList(Math.max(0, lines.size() - 60), lines.size()));
    }
  }

  /** Runs Maven offline in dir with the temporary repository; its output goes to a log beside the project. */
  private static Run maven(Path dir, String... goals) throws IOException, InterruptedException {
    List<String> command = new ArrayList<>(List.of(Path.of(property("hbp.it.mavenHome"), "bin", "mvn").toString(), "-B", "-o",
        "-Daether.offline.protocols=file", "-Dstyle.color=never", "-s", settings.toString(), "-Dmaven.repo.local=" + repository,
        "-Dhbp.version=" + version));
    command.addAll(List.of(goals));
    Path log = dir.resolveSibling(dir.getFileName() + "-" + String.join("-", goals).replace(':', '_') + ".log");
    Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    if (!p.waitFor(5, TimeUnit.MINUTES)) {
      p.destroyForcibly().waitFor();
      fail("Maven did not finish in 5 minutes: " + String.join(" ", command) + "\n" + Files.readString(log, StandardCharsets.UTF_8));
    }
    return new Run(p.exitValue(), Files.readString(log, StandardCharsets.UTF_8));
  }

  private static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir)) return;
    try (Stream<Path> s = Files.walk(dir)) {
      for (Path p : s.sorted(Comparator.reverseOrder()).toList()) Files.delete(p);
    }
  }
}
