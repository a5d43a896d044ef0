package org.hbp.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code ./hbp} launcher's handling of the JVM: it starts long commands with the Vector API
 * ({@code --add-modules jdk.incubator.vector}) and drops the one warning line the JVM prints about
 * it, passing everything else on standard error through unchanged and in order (a progress bar's
 * {@code \r} redraws and a last line without a newline included), standard output untouched and
 * java's exit status kept. Run on a copy of the launcher in a folder of its own, with a stand-in
 * {@code java} first on the PATH that prints what a JVM would and records its arguments (the
 * folder has no sources, so the launcher builds nothing).
 */
class LauncherTest {
  private static final String WARNING = "WARNING: Using incubator modules: jdk.incubator.vector";

  @TempDir
  Path root;

  private record Run(int status, String out, String err, List<String> javaArgs) {}

  private Run run(String... args) throws IOException, InterruptedException {
    return run(null, args);
  }

  /** The launcher run as {@code link} (a symbolic link to it elsewhere), or as itself where link is null. */
  private Run run(Path link, String... args) throws IOException, InterruptedException {
    Files.copy(Path.of("hbp"), root.resolve("hbp"));
    Files.createDirectories(root.resolve("target"));
    Files.writeString(root.resolve("target/hbp.jar"), "");
    Path bin = Files.createDirectories(root.resolve("bin"));
    Path java = bin.resolve("java");
    Files.writeString(java, "#!/usr/bin/env bash\n"
        + "printf '%s\\n' \"$@\" > \"" + root.resolve("java-args") + "\"\n"
        + "echo 'Picked up JAVA_TOOL_OPTIONS: -Dx=1' >&2\n"
        + "case \" $* \" in *' --add-modules jdk.incubator.vector '*) echo '" + WARNING + "' >&2 ;; esac\n"
        + "echo 'result line'\n"
        + "printf 'progress 1/2\\r' >&2\n"
        + "printf 'progress 2/2\\n' >&2\n"
        + "echo 'hbp: a notice' >&2\n"
        + "echo '" + WARNING + "' >&2\n"
        + "printf 'last, no newline' >&2\n"
        + "exit 3\n");
    Files.setPosixFilePermissions(java, PosixFilePermissions.fromString("rwxr-xr-x"));
    Path launcher = root.resolve("hbp");
    if (link != null) {
      Files.createDirectories(link.getParent());
      Files.createSymbolicLink(link, link.getParent().relativize(launcher));
      launcher = link;
    }
    List<String> command = new java.util.ArrayList<>(List.of("bash", launcher.toString()));
    command.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(command);
    pb.environment().put("PATH", bin + ":" + System.getenv("PATH"));
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the launcher did not finish");
    return new Run(p.exitValue(), out, err, Files.readAllLines(root.resolve("java-args")));
  }

  @Test
  void longCommandsGetTheVectorApiWithoutItsWarning() throws Exception {
    Run r = run("curvature", "--net", "a b.hbp");
    assertEquals(3, r.status(), "java's exit status");
    assertEquals("result line\n", r.out());
    // only the JVM's first warning is dropped: a later identical line is hbp's own output, kept
    assertEquals("Picked up JAVA_TOOL_OPTIONS: -Dx=1\nprogress 1/2\rprogress 2/2\nhbp: a notice\n" + WARNING + "\nlast, no newline", r.err());
    int at = r.javaArgs().indexOf("--add-modules");
    assertTrue(at >= 0 && r.javaArgs().get(at + 1).equals("jdk.incubator.vector"), "java's arguments: " + r.javaArgs());
    assertEquals(List.of("curvature", "--net", "a b.hbp"), r.javaArgs().subList(r.javaArgs().size() - 3, r.javaArgs().size()));
  }

  /** Run through a symbolic link from another folder (~/bin/hbp), it finds its jar beside the script, not beside the link. */
  @Test
  void aSymbolicLinkRunsTheJarBesideTheLauncher() throws Exception {
    Run r = run(root.resolve("elsewhere/bin/hbp"), "curvature", "--net", "n.hbp");
    assertEquals(3, r.status(), r.err());
    int at = r.javaArgs().indexOf("-jar");
    assertTrue(at >= 0, "java's arguments: " + r.javaArgs());
    assertEquals(root.resolve("target/hbp.jar").toRealPath(), Path.of(r.javaArgs().get(at + 1)).toRealPath());
  }

  @Test
  void shortCommandsRunWithoutIt() throws Exception {
    Run r = run("derive", "x.hbp");
    assertEquals(3, r.status());
    assertFalse(r.javaArgs().contains("--add-modules"), "java's arguments: " + r.javaArgs());
    assertTrue(r.javaArgs().contains("-XX:TieredStopAtLevel=1"), "java's arguments: " + r.javaArgs());
    assertEquals("Picked up JAVA_TOOL_OPTIONS: -Dx=1\nprogress 1/2\rprogress 2/2\nhbp: a notice\n" + WARNING + "\nlast, no newline", r.err());
  }
}
