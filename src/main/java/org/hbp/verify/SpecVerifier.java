package org.hbp.verify;

import com.palantir.javapoet.JavaFile;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.hbp.UserError;
import org.hbp.codegen.OperatorGenerator;
import org.hbp.codegen.OperatorLoader;
import org.hbp.dsl.Dsl;
import org.hbp.dsl.ModuleSpec;
import org.hbp.dsl.Spec;
import org.hbp.io.TempFolders;

/**
 * Verifies the generated operators of a spec file: each module's operator class is the one built
 * into hbp when it was generated from this very spec text, or else is generated now into a
 * temporary folder and compiled in-process; then {@link OperatorCheck} checks every method.
 */
public final class SpecVerifier {
  private SpecVerifier() {}

  /** The verification of one module. */
  public record ModuleResult(ModuleSpec module, String origin, OperatorCheck.Report report) {}

  /** The verification of one spec file. */
  public record FileResult(Path file, Spec spec, List<ModuleResult> modules) {
    public boolean passed() {
      return modules.stream().allMatch(m -> m.report().passed());
    }
  }

  public static FileResult verify(Path file, String onlyModule, long seed, int shapes) throws IOException {
    String text = Dsl.readSpec(file);
    Spec spec = Dsl.parse(text, file.toString());
    OperatorGenerator.requireDistinctClasses(spec.modules(), false); // before any check: one class would stand for both
    String sha = OperatorGenerator.sha256(text);
    List<ModuleSpec> modules = new ArrayList<>();
    for (ModuleSpec m : spec.modules()) if (onlyModule == null || m.name().equals(onlyModule)) modules.add(m);
    if (modules.isEmpty() && onlyModule == null)
      throw new UserError(file + ": no module or loss to verify (the file declares "
          + (spec.networks().isEmpty() ? "none" : "only networks") + "; expected 'module NAME { ... }' or 'loss NAME { ... }')");
    if (modules.isEmpty())
      throw new UserError(file + ": no module named '" + onlyModule + "'; it has, closest first: "
          + org.hbp.dsl.Dsl.closestFirst(onlyModule, spec.modules().stream().map(ModuleSpec::name).toList(), 10));
    Map<String, Class<?>> compiled = null;
    Path work = null;
    List<ModuleResult> out = new ArrayList<>();
    try {
      for (ModuleSpec m : modules) {
        Optional<Class<?>> builtIn = OperatorLoader.builtIn(m, sha);
        Class<?> type;
        String origin;
        if (builtIn.isPresent()) {
          type = builtIn.get();
          origin = "built into hbp (" + type.getSimpleName() + ", generated from the same spec text)";
        } else {
          if (compiled == null) {
            work = TempFolders.create("hbp-verify-");
            List<JavaFile> files = OperatorGenerator.generate(spec, text, file.toString(), "hbp.verify.generated");
            compiled = OperatorLoader.compile(files, work);
          }
          type = compiled.get(OperatorGenerator.className(m.name()));
          origin = "generated now and compiled in-process (" + type.getSimpleName() + ")";
        }
        OperatorLoader.Loaded loaded = new OperatorLoader.Loaded(type, builtIn.isPresent());
        out.add(new ModuleResult(m, origin, OperatorCheck.check(m, loaded::create, seed, shapes)));
      }
    } finally {
      if (work != null) TempFolders.deleteTree(work);
    }
    return new FileResult(file, spec, out);
  }

}
