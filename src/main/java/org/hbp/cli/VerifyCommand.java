package org.hbp.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.hbp.UserError;
import org.hbp.codegen.SourceGeneration;
import org.hbp.dsl.Dsl;
import org.hbp.dsl.ModuleSpec;
import org.hbp.dsl.Spec;
import org.hbp.train.Progress;
import org.hbp.verify.ExpectCheck;
import org.hbp.verify.OperatorCheck;
import org.hbp.verify.SpecVerifier;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code hbp verify}: checks generated operators number by number against their forward expressions. */
@Command(name = "verify",
    header = "Check each generated operator against EJML references.",
    description = {
        "Check every method of the generated operator of each module in SPEC.hbp (or every spec in DIR) against "
            + "EJML references built from the forward expression alone: the reference interpreter, central finite "
            + "differences extrapolated over halved steps (dense Jacobians, dense residual Hessians), brute-force J' M J "
            + "and eigendecompositions, at several random shapes and points drawn from each variable's domain (points "
            + "where the forward value is not finite are drawn again). A spec not compiled into hbp is generated and "
            + "compiled in-process.",
        "Exit status 1 if any check fails.",
        "--expect 'x: RULE' also compares a hand-derived HBP rule (a loss: its Hessian) with the derived one: EQUAL when their canonical "
            + "forms are identical (a proof), AGREES when no difference was found at " + ExpectCheck.POINTS + " random points (evidence, "
            + "not a proof), DIFFERS when a difference was found."})
public final class VerifyCommand extends HbpCommand implements DrawsProgress {
  @Parameters(paramLabel = "SPEC.hbp|DIR", description = "A spec file or a folder of them.")
  Path target;

  @Option(names = "--module", paramLabel = "NAME", description = "Only this module or loss.")
  String module;

  @Option(names = "--seed", defaultValue = "1", description = "Seed of the random shapes and points (default 1).")
  long seed;

  @Option(names = "--shapes", defaultValue = "3", description = "Random shapes per module (default 3).")
  int shapes;

  @Option(names = "--expect", paramLabel = "NAME: RULE", description = "A hand-derived rule to compare, e.g. \"x: W'*Hz*W\" (repeatable).")
  List<String> expect = new ArrayList<>();

  @Option(names = "--target", defaultValue = "java", paramLabel = "java|pytorch",
      description = "Which generated code to check: java (the operators, the default) or pytorch (the generated PyTorch code "
          + "against torch.autograd in float64, run by a python3 with torch).")
  String codeTarget;

  private static final String EXPECT_ONE_MODULE = "--expect needs exactly one module: give one spec file with one module, or --module NAME";

  @Override
  public Integer call() throws Exception {
    if (shapes < 1) throw new UserError("--shapes must be at least 1");
    if (codeTarget.equals("pytorch")) {
      if (module != null || !expect.isEmpty()) throw new UserError("--module and --expect are not supported with --target pytorch");
      return PyTorchTarget.verify(this, target, seed, shapes);
    }
    if (!codeTarget.equals("java")) throw new UserError("--target '" + codeTarget + "': expected java or pytorch");
    PrintWriter w = out();
    List<Path> files = SourceGeneration.specFiles(target);
    if (files.isEmpty()) throw new UserError(target + ": no .hbp spec files in this folder");
    // a usage error, decided before minutes of checks: --expect compares with one module's rule
    if (!expect.isEmpty() && (files.size() != 1 || (module == null && Dsl.parse(Dsl.readSpec(files.get(0)), files.get(0).toString()).modules().size() != 1)))
      throw new UserError(EXPECT_ONE_MODULE);
    if (!expect.isEmpty()) { // every expectation read before any check, so that a mistake in any is reported first
      Spec spec = Dsl.parse(Dsl.readSpec(files.get(0)), files.get(0).toString());
      Optional<ModuleSpec> m = module == null ? Optional.of(spec.modules().get(0)) : spec.module(module);
      if (m.isPresent()) for (String e : expect) ExpectCheck.parse(spec, m.get(), e, "--expect");
    }
    int failed = 0, checks = 0, operators = 0;
    List<SpecVerifier.FileResult> results = new ArrayList<>();
    Progress bar = ProgressMode.current().bar(err(), "verify", files.size());
    for (Path f : files) {
      bar.step(results.size(), f.toString());
      SpecVerifier.FileResult r;
      try {
        r = verify(f);
      } finally {
        bar.clear();
      }
      results.add(r);
      for (SpecVerifier.ModuleResult mr : r.modules()) {
        operators++;
        w.printf("%s (%s): %s%n", mr.module().name(), f, mr.origin());
        w.printf("  %-26s %-5s %10s %10s %8s  %s%n", "method", "wrt", "max abs", "max rel", "tol", "result");
        for (OperatorCheck.Row row : mr.report().rows()) {
          checks++;
          if (!row.passed()) failed++;
          w.printf("  %-26s %-5s %10.2e %10.2e %8.0e  %s%s%n", row.method, row.wrt, row.maxAbs(), row.maxRel(), row.tolerance,
              row.passed() ? "PASS" : "FAIL", row.failure() == null ? "" : "  " + row.failure());
        }
        w.println();
        w.flush();
      }
    }
    int expectFailed = 0;
    if (!expect.isEmpty()) {
      if (results.size() != 1 || results.get(0).modules().size() != 1)
        throw new UserError(EXPECT_ONE_MODULE);
      SpecVerifier.FileResult r = results.get(0);
      ModuleSpec m = r.modules().get(0).module();
      for (String e : expect) {
        ExpectCheck.Result x = ExpectCheck.check(r.spec(), m, e, "--expect", seed);
        w.println(String.format("%-7s ", x.verdict()) + x.describe());
        if (!x.equal()) expectFailed++;
      }
      w.println();
    }
    w.printf("%d operators, %d method checks, %d failed%s%n", operators, checks, failed,
        expect.isEmpty() ? "" : "; " + expect.size() + " expected rules, " + expectFailed + " differ");
    w.flush();
    return failed == 0 && expectFailed == 0 ? 0 : 1;
  }

  /**
   * Verifies one file. Errors in the input (a {@link UserError}) pass through; any other
   * exception, an internal error of the checks, is reported as an internal error naming the file.
   */
  private SpecVerifier.FileResult verify(Path f) throws IOException {
    try {
      return SpecVerifier.verify(f, module, seed, shapes);
    } catch (UserError e) {
      throw e;
    } catch (RuntimeException e) {
      throw new IllegalStateException(f + ": verify could not check this spec: " + e.getClass().getSimpleName() + ": " + e.getMessage(), e);
    }
  }
}
