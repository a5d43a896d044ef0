package org.hbp.verify;

import org.hbp.calculus.Tensor;
import org.hbp.calculus.Evaluator;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.hbp.backend.Backend;
import org.hbp.backend.cpu.CpuBackend;
import org.hbp.calculus.Expr;
import org.hbp.codegen.OperatorGenerator;
import org.hbp.codegen.PyTorchGeneration;
import org.hbp.dsl.Dsl;
import org.hbp.dsl.IndexDecl;
import org.hbp.dsl.IndexPrimitive;
import org.hbp.dsl.ModuleSpec;
import org.hbp.dsl.Spec;
import org.hbp.io.TempFolders;

/**
 * Checks the PyTorch code generated for specs against torch.autograd: the specs are generated
 * into a temporary package, random cases are drawn here (dims by {@link SpecCheck#randomDims},
 * points from each variable's domain by {@link Sampler}, the expected forward value by the EJML
 * {@link Evaluator}), and one Python process runs the oracle script ({@code pytorch_oracle.py},
 * which uses only the generated classes' public interface and autograd) on all of them.
 */
public final class PyTorchVerifier {
  private PyTorchVerifier() {}

  /** Samples and directions per case. */
  static final int N = 3, V = 2;

  /** A change to the generated package's files before the checks run. */
  interface PackageEdit {
    void apply(Path packageDir) throws IOException;
  }

  /** The oracle's log (one line per check), and the counts. */
  public record Report(String log, int checks, int failed) {}

  /**
   * Generates the specs' PyTorch code and checks it: {@code shapes} random cases per module.
   *
   * @param python a python3 that imports torch
   */
  public static Report verify(List<Path> specFiles, String python, long seed, int shapes) throws IOException, InterruptedException {
    return verify(specFiles, python, seed, shapes, pkg -> {});
  }

  /** {@link #verify(List, String, long, int)} with the generated package edited first (tests: the oracle must catch wrong code). */
  static Report verify(List<Path> specFiles, String python, long seed, int shapes, PackageEdit edit)
      throws IOException, InterruptedException {
    List<ModuleSpec> all = new ArrayList<>();
    for (Path f : specFiles) all.addAll(Dsl.parse(Dsl.readSpec(f), f.toString()).modules());
    OperatorGenerator.requireDistinctClasses(all, false); // named at the user's files, before any work
    Path work = TempFolders.create("hbp-pytorch-verify-");
    try {
      Path specs = work.resolve("specs");
      Files.createDirectories(specs);
      StringBuilder cases = new StringBuilder("[\n");
      Random rng = new Random(seed);
      boolean first = true;
      for (Path f : specFiles) {
        String text = Dsl.readSpec(f);
        Spec spec = Dsl.parse(text, f.toString());
        Files.writeString(specs.resolve(f.getFileName()), text);
        for (ModuleSpec m : spec.modules()) {
          for (int s = 0; s < shapes; s++) {
            if (!first) cases.append(",\n");
            first = false;
            cases.append(caseJson(m, f.getFileName().toString(), rng));
          }
        }
      }
      cases.append("\n]\n");
      Path casesFile = work.resolve("cases.json");
      Files.writeString(casesFile, cases.toString());
      PyTorchGeneration.run(specs, work, "hbp_check", work);
      edit.apply(work.resolve("hbp_check"));
      Path oracle = work.resolve("pytorch_oracle.py");
      Files.writeString(oracle, PyTorchOracle.SOURCE);
      Process p = new ProcessBuilder(python, oracle.toString(), work.toString(), "hbp_check", casesFile.toString(), Long.toString(seed))
          .redirectErrorStream(true).start();
      String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(600, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        return new Report(log + "\ntimed out\n", 0, 1);
      }
      int checks = 0, failed = 0;
      for (String line : log.split("\n")) {
        if (line.startsWith("PASS ")) checks++;
        if (line.startsWith("FAIL ")) {
          checks++;
          failed++;
        }
      }
      if (p.exitValue() != 0 && failed == 0) failed = 1; // the oracle crashed: its log says where
      return new Report(log, checks, failed);
    } finally {
      TempFolders.deleteTree(work);
    }
  }

  /** One case: the module, its random dims, N samples (parameters shared) and the expected forward values. */
  static String caseJson(ModuleSpec m, String file, Random rng) {
    Map<String, Long> dims = SpecCheck.randomDims(m, rng);
    List<Map<String, Tensor>> samples = new ArrayList<>();
    samples.add(Sampler.point(m, dims, rng, Map.of()));
    Map<String, Tensor> params = new LinkedHashMap<>();
    for (Expr.Var v : m.variables()) if (v.role() == Expr.Role.PARAM) params.put(v.name(), samples.get(0).get(v.name()));
    for (int n = 1; n < N; n++) samples.add(Sampler.point(m, dims, rng, params));
    StringBuilder sb = new StringBuilder("{\"spec\": \"").append(file).append("\", \"module\": \"").append(m.name())
        .append("\", \"file\": \"").append(PyTorchGeneration.moduleFile(m.name()).replace(".py", ""))
        .append("\", \"class\": \"").append(PyTorchGeneration.className(m.name()))
        .append("\", \"loss\": ").append(m.isLoss() ? "true" : "false").append(", \"output\": \"").append(m.output().name())
        .append("\", \"dims\": {");
    List<String> ds = new ArrayList<>();
    for (var e : dims.entrySet()) ds.add("\"" + e.getKey() + "\": " + e.getValue());
    sb.append(String.join(", ", ds)).append("}, \"variables\": [");
    List<String> vs = new ArrayList<>();
    for (Expr.Var v : m.variables()) {
      boolean param = v.role() == Expr.Role.PARAM;
      List<Tensor> values = param ? List.of(samples.get(0).get(v.name())) : samples.stream().map(s -> s.get(v.name())).toList();
      vs.add("{\"name\": \"" + v.name() + "\", \"role\": \"" + v.role().name().toLowerCase(Locale.ROOT) + "\", \"shape\": "
          + shape(values.get(0)) + ", \"data\": " + data(values) + "}");
    }
    sb.append(String.join(", ", vs)).append("], \"expected\": {\"shape\": ");
    List<Tensor> z = new ArrayList<>();
    for (Map<String, Tensor> s : samples) z.add(Evaluator.evaluate(m.outputExpr(), s, dims));
    sb.append(shape(z.get(0))).append(", \"data\": ").append(data(z)).append("}");
    if (!m.indexDecls().isEmpty() && indexMapsDefined(m, dims)) {
      // the forward value with the index maps computed as the spec declares, by hbp's Java implementation
      List<Tensor> zc = new ArrayList<>();
      for (Map<String, Tensor> s : samples) {
        Map<String, Tensor> withIndex = new LinkedHashMap<>(s);
        for (IndexDecl d : m.indexDecls().values()) withIndex.put(d.variable(), declaredIndex(m, d, s, dims));
        zc.add(Evaluator.evaluate(m.outputExpr(), withIndex, dims));
      }
      sb.append(", \"expected_computed_index\": {\"shape\": ").append(shape(zc.get(0))).append(", \"data\": ").append(data(zc)).append("}");
    }
    return sb.append("}").toString();
  }

  /** Whether hbp's index maps are defined at these dims (window_argmax needs h and w divisible by k). */
  static boolean indexMapsDefined(ModuleSpec m, Map<String, Long> dims) {
    for (IndexDecl d : m.indexDecls().values()) {
      if (d.primitive() != IndexPrimitive.WINDOW_ARGMAX) continue;
      long[] x = m.variables().stream().filter(v -> v.name().equals(d.input())).findFirst().orElseThrow().shape().evaluate(dims);
      long k = d.argValues(dims).get(0);
      if (x[1] % k != 0 || x[2] % k != 0) return false;
    }
    return true;
  }

  /** An index map computed as declared: window_argmax and window_argmax_strided by the CPU backend's kernel, pad_source from its definition. */
  static Tensor declaredIndex(ModuleSpec m, IndexDecl d, Map<String, Tensor> sample, Map<String, Long> dims) {
    Tensor x = sample.get(d.input());
    int c = x.dim(0), h = x.dim(1), w = x.dim(2), a = Math.toIntExact(d.argValues(dims).get(0));
    int[] shape = Tensor.toIntShape(m.variables().stream().filter(v -> v.name().equals(d.variable())).findFirst().orElseThrow()
        .shape().evaluate(dims));
    if (d.primitive() == IndexPrimitive.WINDOW_ARGMAX) {
      Backend be = new CpuBackend();
      double[] idx = be.toArray(be.windowArgmax(be.fromArray(1, 1, c, h * w, x.data()), c, h, w, a));
      return new Tensor(shape, idx);
    }
    if (d.primitive() == IndexPrimitive.WINDOW_ARGMAX_STRIDED) {
      Backend be = new CpuBackend();
      int s = Math.toIntExact(d.argValues(dims).get(1)), p = Math.toIntExact(d.argValues(dims).get(2));
      double[] idx = be.toArray(be.windowArgmax(be.fromArray(1, 1, c, h * w, x.data()), c, h, w, a, s, p));
      return new Tensor(shape, idx);
    }
    int ph = h + 2 * a, pw = w + 2 * a;
    double[] idx = new double[c * ph * pw];
    for (int xx = 0; xx < pw; xx++)
      for (int y = 0; y < ph; y++)
        for (int ch = 0; ch < c; ch++) {
          int sy = y - a, sx = xx - a;
          idx[ch + c * (y + ph * xx)] = sy < 0 || sy >= h || sx < 0 || sx >= w ? -1 : ch + c * (sy + h * sx);
        }
    return new Tensor(shape, idx);
  }

  private static String shape(Tensor t) {
    List<String> out = new ArrayList<>();
    for (int d : t.shape()) out.add(Integer.toString(d));
    return "[" + String.join(", ", out) + "]";
  }

  /** Each tensor's column-major entries, one list per sample. */
  private static String data(List<Tensor> ts) {
    List<String> out = new ArrayList<>();
    for (Tensor t : ts) {
      List<String> xs = new ArrayList<>();
      for (double d : t.data()) xs.add(Double.toString(d));
      out.add("[" + String.join(", ", xs) + "]");
    }
    return "[" + String.join(", ", out) + "]";
  }
}
