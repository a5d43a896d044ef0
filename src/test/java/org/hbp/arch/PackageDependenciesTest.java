package org.hbp.arch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The layering of docs/architecture.md ("Packages"), checked on the sources: each package of
 * {@code org.hbp} may use only the packages below it. A use is an import or a fully qualified name
 * in code; {@code org.hbp.UserError} (the root package) is open to all.
 */
class PackageDependenciesTest {
  private static final Path MAIN = Path.of("src/main/java/org/hbp");

  /** Which packages each package may use (besides itself and the root package). */
  static final Map<String, Set<String>> ALLOWED = Map.ofEntries(
      Map.entry("math", Set.of()),
      Map.entry("io", Set.of()),
      Map.entry("backend", Set.of("math")),
      Map.entry("calculus", Set.of("math")),
      Map.entry("dsl", Set.of("calculus", "math")),
      Map.entry("runtime", Set.of("backend", "math")),
      Map.entry("derive", Set.of("calculus", "dsl", "runtime", "math")),
      Map.entry("codegen", Set.of("calculus", "dsl", "derive", "runtime", "backend", "io", "math")),
      Map.entry("network", Set.of("calculus", "dsl", "runtime", "backend", "codegen", "io", "math")),
      Map.entry("verify", Set.of("calculus", "dsl", "derive", "runtime", "backend", "codegen", "network", "io", "math")),
      Map.entry("data", Set.of("io")),
      Map.entry("plot", Set.of("io")),
      Map.entry("spectrum", Set.of("network", "backend")),
      Map.entry("onnx", Set.of("calculus", "dsl", "network", "io")),
      Map.entry("train", Set.of("calculus", "dsl", "runtime", "backend", "network", "data", "plot", "io", "math")),
      Map.entry("cli", Set.of("calculus", "dsl", "derive", "runtime", "backend", "codegen", "network", "verify", "data", "plot",
          "train", "spectrum", "onnx", "io", "math")));

  /** {@code org.hbp.<package>.<Upper...>}: a class of another package, imported or written out. */
  private static final Pattern USE = Pattern.compile("\\borg\\.hbp\\.([a-z]+)\\.[A-Z]");

  @Test
  void everyPackageUsesOnlyThePackagesBelowIt() throws IOException {
    List<String> violations = new ArrayList<>();
    Set<String> seen = new TreeSet<>();
    try (Stream<Path> packages = Files.list(MAIN)) {
      for (Path dir : packages.filter(Files::isDirectory).sorted().toList()) {
        String pkg = dir.getFileName().toString();
        seen.add(pkg);
        Set<String> allowed = ALLOWED.get(pkg);
        if (allowed == null) {
          violations.add("package " + pkg + " has no row in ALLOWED (and docs/architecture.md)");
          continue;
        }
        try (Stream<Path> files = Files.walk(dir)) {
          for (Path f : files.filter(p -> p.toString().endsWith(".java")).sorted().toList()) {
            List<String> lines = Files.readAllLines(f);
            for (int i = 0; i < lines.size(); i++) {
              String code = codeOf(lines.get(i));
              Matcher m = USE.matcher(code);
              while (m.find()) {
                String used = m.group(1);
                if (!used.equals(pkg) && !allowed.contains(used))
                  violations.add(f + ":" + (i + 1) + ": " + pkg + " uses " + used + " (" + lines.get(i).strip() + ")");
              }
            }
          }
        }
      }
    }
    assertTrue(seen.containsAll(Set.of("calculus", "codegen", "network", "backend")), "found no packages under " + MAIN);
    assertEquals(List.of(), violations);
  }

  @Test
  void theCheckSeesAnUpwardUse() {
    Matcher m = USE.matcher(codeOf("import org.hbp.network.Network; // a comment naming org.hbp.cli.Main"));
    assertTrue(m.find());
    assertEquals("network", m.group(1));
    assertTrue(!m.find(), "a use inside a comment is not a dependency");
    assertTrue(!USE.matcher(codeOf(" * see {@link org.hbp.cli.Main}")).find(), "Javadoc is not code");
    assertTrue(!USE.matcher(codeOf("w.println(\"org.hbp.generated.SigmoidOperator\");")).find(), "a string is not code");
  }

  /** The code of one line: without a trailing comment, Javadoc/block-comment lines or string literals. */
  static String codeOf(String line) {
    String t = line.strip();
    if (t.startsWith("*") || t.startsWith("/*") || t.startsWith("//")) return "";
    String noStrings = t.replaceAll("\"(\\\\.|[^\"\\\\])*\"", "\"\"");
    int comment = noStrings.indexOf("//");
    return comment < 0 ? noStrings : noStrings.substring(0, comment);
  }
}
