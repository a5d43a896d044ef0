package org.hbp.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.hbp.cli.Python;
import org.junit.jupiter.api.Test;

/**
 * The Python package {@code python/hbp} under Debian's python3-torch, running hbp from this test's
 * class path ({@code HBP_CLASSPATH}: the CLI's jar is made after the tests): its tests against
 * PyTorch autograd ({@code python/tests}), and the README's example, quoted whole and printing the
 * README's output.
 */
class PythonPackageTest {
  static final Path EXAMPLE = Path.of("python/examples/quickstart.py");

  @Test
  void packageTestsPassAgainstAutograd() throws Exception {
    String log = python("-m", "unittest", "discover", "-v", "-s", "python/tests");
    assertTrue(log.contains("OK"), log);
  }

  @Test
  void readmeExampleIsQuotedWholeAndPrintsTheReadmeOutput() throws Exception {
    String readme = Files.readString(Path.of("README.md"), StandardCharsets.UTF_8);
    String example = Files.readString(EXAMPLE, StandardCharsets.UTF_8);
    String quoted = "```python\n" + example + "```\n\nprints\n\n```\n";
    int at = readme.indexOf(quoted);
    assertTrue(at >= 0, "README.md does not quote " + EXAMPLE + " whole, followed by 'prints' and its output");
    int start = at + quoted.length();
    String expected = readme.substring(start, readme.indexOf("```", start));
    assertEquals(expected.strip(), python(EXAMPLE.toString()).strip(), "the example's output differs from the README's");
  }

  /** Runs the torch Python in the repository root with the package on its path; its output (exit status 0 expected). */
  private static String python(String... args) throws Exception {
    String py = Python.withTorch().orElseThrow(() -> new AssertionError("needs python3 with torch (.ci/run installs python3-torch)"));
    List<String> command = new ArrayList<>(List.of(py));
    command.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
    pb.environment().put("PYTHONPATH", Path.of("python").toAbsolutePath().toString());
    pb.environment().put("HBP_CLASSPATH", System.getProperty("java.class.path"));
    Process p = pb.start();
    String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(600, TimeUnit.SECONDS), "python timed out");
    assertEquals(0, p.exitValue(), log);
    return log;
  }
}
