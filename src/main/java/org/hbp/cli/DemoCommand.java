package org.hbp.cli;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.hbp.derive.Formats;
import org.hbp.derive.ModuleRules;
import org.hbp.dsl.Dsl;
import org.hbp.dsl.ModuleSpec;
import org.hbp.dsl.Spec;
import org.hbp.verify.SpecCheck;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code hbp demo}: derives the built-in specs and checks every rule against finite differences. */
@Command(name = "demo", mixinStandardHelpOptions = true,
    description = {"Derive the HBP rules of every spec in modules-spec/ (Table 1 of the paper) and check each",
        "Jacobian and residual numerically against central finite differences at random shapes and points."})
public final class DemoCommand implements Callable<Integer> {
  @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

  @Option(names = "--specs", defaultValue = "modules-spec", paramLabel = "DIR", description = "Folder of .hbp specs (default: modules-spec).")
  Path specs;

  @Option(names = "--seed", defaultValue = "1", description = "Seed of the random shapes and points.")
  long seed;

  @Override
  public Integer call() throws Exception {
    Dsl.init();
    PrintWriter w = spec.commandLine().getOut();
    if (!Files.isDirectory(specs)) throw new IllegalArgumentException("spec folder not found: " + specs + " (run from the repository root or pass --specs DIR)");
    List<Path> files;
    try (var s = Files.list(specs)) {
      files = s.filter(p -> p.toString().endsWith(".hbp")).sorted().toList();
    }
    int failures = 0, checks = 0;
    for (Path f : files) {
      Spec s = Dsl.parseFile(f);
      for (ModuleSpec m : s.modules()) {
        w.print(Formats.text(m, ModuleRules.derive(m)));
        SpecCheck.Report r = SpecCheck.check(m, seed, 3);
        checks += r.checks();
        failures += r.failures().size();
        w.println("  numeric check: " + r.summary());
        w.println();
        w.flush();
      }
    }
    w.println(checks + " numeric checks against finite differences, " + failures + " failed");
    w.flush();
    return failures == 0 ? 0 : 1;
  }
}
