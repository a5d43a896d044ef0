package org.hbp.cli;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.hbp.UserError;
import org.hbp.codegen.SourceGeneration;
import org.hbp.network.ModuleLibrary;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code hbp generate}: Java operator classes from specs, for other projects' builds. */
@Command(name = "generate",
    header = "Generate Java operator classes from specs.",
    description = {
        "Generate one Java operator class per module or loss of the specs in DIR (or one spec file) into a source tree.",
        "Files are written atomically and only when they change. A generated class that the specs no longer "
            + "produce is removed when its spec (named in its header) is one being generated, or lies in the --specs "
            + "folder and no longer exists; other files (other specs' classes, files hbp did not generate) are left "
            + "alone. A file that an older hbp wrote from inside the specs folder (--specs ., its header naming the spec "
            + "by file name alone) counts as of the spec of that name in the --specs folder.",
        "The classes need hbp's runtime (org.hbp.runtime, org.hbp.backend) on the compile classpath."})
public final class GenerateCommand extends HbpCommand {
  @Option(names = "--specs", required = true, paramLabel = "DIR|SPEC.hbp", description = "Spec folder or file.")
  Path specs;

  @Option(names = "--out", required = true, paramLabel = "DIR", description = "Root of the Java source tree to write into.")
  Path out;

  @Option(names = "--package", paramLabel = "P",
      description = "Java package (default org.hbp.generated); for --target pytorch a Python package (default hbp_generated).")
  String packageName;

  @Option(names = "--target", defaultValue = "java", paramLabel = "java|pytorch",
      description = "What to generate: java (operator classes, the default) or pytorch (a Python package: per module a "
          + "torch.nn.Module and a BackPACK-style derivatives class, and hbp_runtime.py).")
  String target;

  /**
   * The folder that specs are named relative to in generated headers: the --specs folder's parent
   * (a file's folder's parent), from the normalized absolute path, so that the labels, and which
   * generated files are stale, do not depend on the working directory ({@code --specs .} inside the
   * folder names its specs as {@code --specs FOLDER} from its parent does).
   */
  static Path labelBase(Path specs) {
    Path abs = specs.toAbsolutePath().normalize();
    Path folder = Files.isDirectory(abs) ? abs : abs.getParent();
    return folder.getParent() == null ? folder : folder.getParent();
  }

  @Override
  public Integer call() throws Exception {
    if (target.equals("pytorch")) return PyTorchTarget.generate(this, specs, out, packageName == null ? "hbp_generated" : packageName);
    if (!target.equals("java")) throw new UserError("--target '" + target + "': expected java or pytorch");
    if (packageName == null) packageName = "org.hbp.generated";
    String problem = SourceGeneration.packageNameProblem(packageName);
    if (problem != null) throw new UserError("--package '" + packageName + "' is not a Java package name: " + problem);
    Path base = labelBase(specs);
    SourceGeneration.Result r = SourceGeneration.run(specs, out, packageName, base, ModuleLibrary.builtInModules());
    PrintWriter w = out();
    for (Path p : r.written()) w.println("wrote     " + p);
    for (Path p : r.unchanged()) w.println("unchanged " + p);
    for (Path p : r.removed()) w.println("removed   " + p);
    for (String warning : r.warnings()) err().println("hbp: warning: " + warning);
    err().flush();
    w.printf("%d operator classes in package %s under %s%n", r.total(), packageName, out);
    w.flush();
    return 0;
  }
}
