package org.hbp.cli;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.hbp.UserError;
import org.hbp.codegen.CodegenException;
import org.hbp.codegen.PyTorchGeneration;
import org.hbp.verify.PyTorchVerifier;

/** The {@code --target pytorch} side of {@code hbp generate} and {@code hbp verify}. */
final class PyTorchTarget {
  private PyTorchTarget() {}

  /** {@code hbp generate --target pytorch}: the Python package under out. */
  static int generate(HbpCommand command, Path specs, Path out, String packageName) throws Exception {
    Path base = GenerateCommand.labelBase(specs);
    PyTorchGeneration.Result r;
    try {
      r = PyTorchGeneration.run(specs, out, packageName, base);
    } catch (CodegenException e) {
      throw new UserError(e.getMessage());
    }
    PrintWriter w = command.out();
    for (Path p : r.written()) w.println("wrote     " + p);
    for (Path p : r.unchanged()) w.println("unchanged " + p);
    for (Path p : r.removed()) w.println("removed   " + p);
    w.printf("%d Python files in package %s under %s%n", r.written().size() + r.unchanged().size(), packageName, out);
    w.flush();
    return 0;
  }

  /** {@code hbp verify --target pytorch}: the generated PyTorch code against torch.autograd; exit 1 if a check fails. */
  static int verify(HbpCommand command, Path target, long seed, int shapes) throws Exception {
    String python = Python.withTorch().orElseThrow(() -> new UserError(
        "verify --target pytorch needs a python3 with torch (tried python3 and /usr/bin/python3); install PyTorch, e.g. python3-torch"));
    PyTorchVerifier.Report r = PyTorchVerifier.verify(org.hbp.codegen.SourceGeneration.specFiles(target), python, seed, shapes);
    PrintWriter w = command.out();
    w.print(r.log());
    w.printf("verify --target pytorch: %d checks against torch.autograd (float64, tolerance 1e-10 * (1 + max |want|)), %d failed%n",
        r.checks(), r.failed());
    w.flush();
    return r.failed() == 0 && r.checks() > 0 ? 0 : 1;
  }
}
