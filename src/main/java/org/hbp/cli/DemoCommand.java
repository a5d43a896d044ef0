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
import org.hbp.verify.OperatorCheck;
import org.hbp.verify.SpecCheck;
import org.hbp.verify.SpecVerifier;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code hbp demo}: derives the built-in specs and checks every rule against finite differences. */
@Command(name = "demo", mixinStandardHelpOptions = true,
    description = {"Derive the HBP rules of every spec in modules-spec/ (Table 1 of the paper), check each",
        "Jacobian and residual numerically against central finite differences at random shapes and points, and",
        "check every method of each generated operator against EJML references (as hbp verify does)."})
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
    int failures = 0, checks = 0, methodChecks = 0, methodFailures = 0;
    for (Path f : files) {
      Spec s = Dsl.parseFile(f);
      SpecVerifier.FileResult verified = SpecVerifier.verify(f, null, seed, 3);
      for (int i = 0; i < s.modules().size(); i++) {
        ModuleSpec m = s.modules().get(i);
        w.print(Formats.text(m, ModuleRules.derive(m)));
        SpecCheck.Report r = SpecCheck.check(m, seed, 3);
        checks += r.checks();
        failures += r.failures().size();
        w.println("  numeric check of the rules: " + r.summary());
        SpecVerifier.ModuleResult op = verified.modules().get(i);
        List<OperatorCheck.Row> rows = op.report().rows();
        long failed = rows.stream().filter(x -> !x.passed()).count();
        double worst = rows.stream().mapToDouble(OperatorCheck.Row::maxRel).max().orElse(0);
        methodChecks += rows.size();
        methodFailures += (int) failed;
        w.printf("  generated operator %s: %d method checks, %d failed, worst relative error %.1e%n", op.module().name(), rows.size(), failed,
            worst);
        for (OperatorCheck.Row x : rows) if (!x.passed()) w.printf("    FAIL %s %s: %.2e%s%n", x.method, x.wrt, x.maxRel(), x.failure() == null ? "" : " " + x.failure());
        w.println();
        w.flush();
      }
    }
    w.println(checks + " numeric checks of derived rules against finite differences, " + failures + " failed");
    w.println(methodChecks + " checks of generated operator methods against EJML references, " + methodFailures + " failed");
    w.flush();
    return failures == 0 && methodFailures == 0 ? 0 : 1;
  }
}
