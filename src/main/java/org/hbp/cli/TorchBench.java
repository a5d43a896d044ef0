package org.hbp.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.hbp.UserError;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.codegen.CodegenException;
import org.hbp.codegen.PyTorchGeneration;
import org.hbp.dsl.ModuleSpec;
import org.hbp.io.NdArray;
import org.hbp.io.Npz;
import org.hbp.io.TempFolders;
import org.hbp.network.CurvatureKind;
import org.hbp.network.ModuleLibrary;
import org.hbp.network.Network;
import org.hbp.network.NetworkSpec;
import org.hbp.network.Pass;
import org.hbp.network.Strategy;
import org.hbp.network.Curvature;

/**
 * The PyTorch side of {@code hbp bench --torch}: the network lowered to PyTorch by
 * {@link TorchProgram} (any declaration: chains, residual blocks, graphs), run by python3 with
 * torch on the bench's own parameters, inputs and directions. It times the gradient pass (forward,
 * mean loss, backward) and, for the GGN or the Hessian, the exact products of every parameter's
 * block with D directions by autograd: for the GGN {@code J_θ' H_z (J_θ v)} with {@code J_θ v} by
 * the double-backward trick ({@code J v = d/du (J' u) v}) and {@code H_z} by differentiating the
 * loss's gradient at the output z; for the Hessian {@code d/dθ (∇_θ L · v)}. Its forward graph and
 * the graphs of {@code J' u} and {@code ∇L} are made once, untimed (the bench's pass). The D
 * directions go through autograd at once ({@code is_grads_batched}) where PyTorch can, else one at
 * a time. It returns PyTorch's loss, gradients and the products with the first number of
 * directions, so that they can be compared with hbp's.
 */
final class TorchBench {
  private TorchBench() {}

  /** PyTorch's medians (seconds), how it batched the directions, and its values (items in hbp's layout). */
  record Run(double gradientSeconds, Map<Integer, Double> productSeconds, String productMode, double loss, Map<String, double[]> gradients,
      Map<String, double[]> products, List<String> nativeModules, List<String> generatedModules, List<String> blasLibraries) {

    /**
     * Whether PyTorch ran on the reference (netlib) BLAS: Debian's python3-torch calls whatever libblas.so.3 the alternatives
     * system selects, which is the unoptimised reference implementation unless an optimised one (libopenblas0) is installed;
     * its matrix products then run some 20-30x slower, and the ratios mean nothing.
     */
    boolean referenceBlas() {
      return blasLibraries.stream().anyMatch(TorchBench::isReferenceBlas);
    }
  }

  /** A reference BLAS/LAPACK library path: Debian's {@code .../blas/libblas.so.3} or {@code .../lapack/liblapack.so.3}. */
  static boolean isReferenceBlas(String path) {
    return path.matches(".*/(blas/libblas|lapack/liblapack)\\.so[.0-9]*");
  }

  /** The curvatures whose exact block products PyTorch computes here. */
  static boolean hasProducts(CurvatureKind kind) {
    return kind == CurvatureKind.GGN || kind == CurvatureKind.HESSIAN;
  }

  /**
   * Runs the network in PyTorch.
   *
   * @param directions per number of directions D, the directions of every parameter ([1 x D] items); products are timed for each
   *     and returned for the first
   */
  static Run run(Network net, Map<String, Batch> params, Batch x, Batch y, CurvatureKind kind, Map<Integer, Map<String, Batch>> directions,
      String dtype, int threads, int warmup, int repeat) throws IOException, InterruptedException {
    return run(net, params, x, y, kind, directions, Map.of(), dtype, threads, warmup, repeat);
  }

  /**
   * Runs the network in PyTorch, its data variables {@code data} ({@code <path>.<name>}: one item column-major, as given to
   * {@link Network#setDataValues}, e.g. an imported batch norm's running statistics) at these values, the others all ones.
   */
  static Run run(Network net, Map<String, Batch> params, Batch x, Batch y, CurvatureKind kind, Map<Integer, Map<String, Batch>> directions,
      Map<String, double[]> data, String dtype, int threads, int warmup, int repeat) throws IOException, InterruptedException {
    String python = Python.withTorch().orElseThrow(() -> new UserError("--torch needs python3 with torch (Debian: apt-get install python3-torch)"));
    NetworkSpec ns = net.spec();
    Backend be = net.backend();
    Path dir = TempFolders.create("hbp-bench-torch-");
    try {
      Map<String, ModuleSpec> specs = TorchProgram.moduleSpecs(ns);
      List<String> natives = new ArrayList<>(), generated = new ArrayList<>();
      for (ModuleSpec m : specs.values()) (TorchProgram.isNative(m, TorchBench::isBuiltIn) ? natives : generated).add(m.name());
      writePackage(dir.resolve(TorchProgram.PACKAGE), specs);
      Files.writeString(dir.resolve("bench.py"), TorchProgram.of(ns, net.parameterNames(), TorchBench::isBuiltIn, data.keySet()), StandardCharsets.UTF_8);
      Map<String, NdArray> in = new LinkedHashMap<>();
      in.put("x", items(be, x));
      in.put("y", items(be, y));
      for (String name : net.parameterNames()) in.put("p." + name, items(be, params.get(name)).reshape(net.parameterShape(name)));
      for (Map.Entry<String, double[]> e : data.entrySet()) in.put("d." + e.getKey(), NdArray.of(e.getValue(), e.getValue().length));
      boolean products = hasProducts(kind) && !directions.isEmpty();
      if (products)
        for (Map.Entry<Integer, Map<String, Batch>> e : directions.entrySet())
          for (String name : net.parameterNames()) in.put("v" + e.getKey() + "." + name, items(be, e.getValue().get(name)));
      Npz.write(dir.resolve("in.npz"), in);
      List<String> counts = new ArrayList<>();
      if (products) for (int d : directions.keySet()) counts.add(String.valueOf(d));
      ProcessBuilder pb = new ProcessBuilder(python, dir.resolve("bench.py").toString(), dir.toString(), dtype, String.valueOf(threads),
          kind.label(), String.valueOf(warmup), String.valueOf(repeat), String.join(",", counts)).redirectErrorStream(true);
      // PyTorch at its faster setting: PASSIVE, without the short spin ./hbp sets for oneDNN (libgomp's
      // GOMP_SPINCOUNT would override PASSIVE; PyTorch's OpenMP threads spinning beside its OpenBLAS
      // threads made its pass up to 30 % slower in some runs)
      pb.environment().put("OMP_WAIT_POLICY", "PASSIVE");
      pb.environment().remove("GOMP_SPINCOUNT");
      pb.environment().put("OMP_NUM_THREADS", String.valueOf(threads));
      Process p = pb.start();
      String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
      if (!p.waitFor(60, TimeUnit.MINUTES) || p.exitValue() != 0) throw new UserError("PyTorch run of " + ns.name() + " failed:\n" + log);
      return parse(log, Npz.read(dir.resolve("out.npz")), net, natives, generated);
    } finally {
      TempFolders.deleteTree(dir);
    }
  }

  /** Whether a module is hbp's own: its spec file lies in a built-in spec folder. */
  static boolean isBuiltIn(ModuleSpec m) {
    Path source = Path.of(m.source()).toAbsolutePath().normalize();
    for (Path dir : ModuleLibrary.builtInSpecDirs()) if (source.startsWith(dir.toAbsolutePath().normalize())) return true;
    return false;
  }

  /** The generated package: hbp_runtime and each module's PyTorch code, generated from its spec file. */
  private static void writePackage(Path pkg, Map<String, ModuleSpec> specs) throws IOException {
    Files.createDirectories(pkg);
    Files.writeString(pkg.resolve("__init__.py"), "");
    Files.writeString(pkg.resolve("hbp_runtime.py"), PyTorchGeneration.runtime());
    Map<String, Map<String, String>> byFile = new TreeMap<>();
    for (ModuleSpec m : specs.values()) {
      Path spec = Path.of(m.source());
      Map<String, String> files;
      try {
        files = byFile.computeIfAbsent(spec.toString(), s -> generate(spec));
      } catch (CodegenException e) {
        throw new UserError("--torch: the PyTorch code of module " + m.name() + " (" + spec + ") cannot be generated: " + e.getMessage());
      }
      String file = PyTorchGeneration.moduleFile(m.name());
      Files.writeString(pkg.resolve(file), files.get(file));
    }
  }

  private static Map<String, String> generate(Path spec) {
    try {
      return PyTorchGeneration.generate(spec, spec.toAbsolutePath().getParent());
    } catch (IOException e) {
      throw new UserError("--torch: cannot read " + spec + ": " + e.getMessage());
    }
  }

  /** A batch's items (samples x directions of them) as one array [count, rows, cols] in row-major order. */
  static NdArray items(Backend be, Batch b) {
    double[] d = be.toArray(b);
    int r = b.rows(), c = b.cols(), count = d.length / (r * c);
    double[] rowMajor = new double[d.length];
    for (int k = 0; k < count; k++)
      for (int i = 0; i < r; i++)
        for (int j = 0; j < c; j++) rowMajor[(k * r + i) * c + j] = d[k * r * c + j * r + i];
    return NdArray.of(rowMajor, count, r, c);
  }

  /** An array of items [..., rows, cols] (row-major) in hbp's layout: each item column-major. */
  static double[] hbpLayout(NdArray a) {
    int rank = a.rank(), r = a.dim(rank - 2), c = a.dim(rank - 1), count = a.numel() / (r * c);
    double[] d = a.data(), out = new double[d.length];
    for (int k = 0; k < count; k++)
      for (int i = 0; i < r; i++)
        for (int j = 0; j < c; j++) out[k * r * c + j * r + i] = d[(k * r + i) * c + j];
    return out;
  }

  private static Run parse(String log, Map<String, NdArray> out, Network net, List<String> natives, List<String> generated) {
    double gradient = Double.NaN;
    Map<Integer, Double> products = new LinkedHashMap<>();
    String mode = null;
    List<String> blas = new ArrayList<>();
    for (String line : log.split("\n")) {
      String[] f = line.strip().split(" ");
      if (f.length == 2 && f[0].equals("gradient")) gradient = Double.parseDouble(f[1]);
      else if (f.length == 3 && f[0].equals("products")) products.put(Integer.parseInt(f[1]), Double.parseDouble(f[2]));
      else if (f.length == 2 && f[0].equals("mode")) mode = f[1];
      else if (f.length == 2 && f[0].equals("blas")) blas.add(f[1]);
    }
    if (Double.isNaN(gradient)) throw new UserError("PyTorch run printed no timing:\n" + log);
    Map<String, double[]> grads = new LinkedHashMap<>(), prods = new LinkedHashMap<>();
    for (String name : net.parameterNames()) {
      grads.put(name, hbpLayout(out.get("grad." + name)));
      if (out.containsKey("prod." + name)) prods.put(name, hbpLayout(out.get("prod." + name)));
    }
    return new Run(gradient, products, mode, out.get("loss").data()[0], grads, prods, natives, generated, blas);
  }

  /** Largest |PyTorch - hbp| / largest |hbp| of the loss, the gradients and (ggn, hessian) the exact products with the first directions. */
  static String agreement(Network network, Map<String, Batch> params, Batch xb, Batch yb, Run run, CurvatureKind kind,
      Map<Integer, Map<String, Batch>> dirs, long memoryLimit) {
    Backend be = network.backend();
    try (Pass pass = network.run(params, xb, yb)) {
      double loss = Math.abs(run.loss() - pass.loss()) / Math.max(Math.abs(pass.loss()), Double.MIN_NORMAL);
      Map<String, double[]> ours = new LinkedHashMap<>();
      for (String name : network.parameterNames()) ours.put(name, be.toArray(pass.gradient(name)));
      String s = String.format(Locale.ROOT, "loss %.1e, gradients %.1e", loss, relative(run.gradients(), ours));
      if (!run.products().isEmpty()) {
        Map.Entry<Integer, Map<String, Batch>> first = dirs.entrySet().iterator().next();
        Curvature c = pass.curvature(kind, Strategy.EXACT, memoryLimit);
        Map<String, double[]> products = new LinkedHashMap<>();
        for (String name : network.parameterNames()) {
          Batch p = c.matProd(name, first.getValue().get(name));
          products.put(name, be.toArray(p));
          be.release(p);
        }
        s += String.format(Locale.ROOT, ", exact %s products (%d direction%s) %.1e", kind.label(), first.getKey(), first.getKey() == 1 ? "" : "s",
            relative(run.products(), products));
      }
      return s + " (largest |difference| / largest |entry|)";
    } catch (IllegalArgumentException refused) {
      return "not compared: " + refused.getMessage();
    }
  }

  /** Largest |a - b| over all arrays / largest |b|. */
  static double relative(Map<String, double[]> a, Map<String, double[]> b) {
    double diff = 0, scale = 0;
    for (Map.Entry<String, double[]> e : b.entrySet()) {
      double[] x = a.get(e.getKey()), y = e.getValue();
      if (x == null || x.length != y.length) return Double.POSITIVE_INFINITY;
      for (int i = 0; i < y.length; i++) {
        diff = Math.max(diff, Math.abs(x[i] - y[i]));
        scale = Math.max(scale, Math.abs(y[i]));
      }
    }
    return diff / Math.max(scale, Double.MIN_NORMAL);
  }

  /** The measuring part of the program: timings on standard output, values in out.npz. */
  static final String MEASURE = """


      KIND, WARMUP, REPEAT = sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
      COUNTS = [int(d) for d in sys.argv[7].split(",")] if len(sys.argv) > 7 and sys.argv[7] else []
      x, y = array("x"), array("y")
      params = [P[n] for n in NAMES]
      natural = {n: tuple(P[n].shape) for n in NAMES}
      grad = torch.autograd.grad


      def median_seconds(run):
          for _ in range(WARMUP):
              run()
          times = []
          for _ in range(REPEAT):
              t0 = time.perf_counter()
              run()
              times.append(time.perf_counter() - t0)
          return statistics.median(times)


      def gradient_pass():
          for p in params:
              p.grad = None
          loss(net(x), y).backward()


      results = {}
      for p in params:
          p.grad = None
      value = loss(net(x), y)
      value.backward()
      results["loss"] = np.array(value.item())
      for n in NAMES:
          results["grad." + n] = K.item_of(P[n].grad, natural[n]).detach().numpy()
      print("gradient", median_seconds(gradient_pass), flush=True)


      def blas_libraries():
          # the BLAS and LAPACK shared libraries this process has mapped (after the pass ran its products)
          found = []
          try:
              with open("/proc/self/maps") as maps:
                  for line in maps:
                      path = line.split()[-1] if len(line.split()) >= 6 else ""
                      name = os.path.basename(path)
                      if ("blas" in name or "lapack" in name or "mkl" in name or "blis" in name) and path not in found:
                          found.append(path)
          except OSError:
              pass
          return found


      for path in blas_libraries():
          print("blas", os.path.realpath(path), flush=True)

      if COUNTS:
          z = net(x)
          value = loss(z, y)
          if KIND == "ggn":
              u = torch.zeros_like(z, requires_grad=True)
              jt_u = grad(z, params, u, create_graph=True)  # J' u, linear in u
              dz = grad(value, z, create_graph=True)[0]

              def block(i, v, batched):
                  jv = grad(jt_u[i], u, v, retain_graph=True, is_grads_batched=batched)[0]  # J v = d/du (J' u) v
                  hjv = grad(dz, z, jv, retain_graph=True, is_grads_batched=batched)[0]  # H_z J v
                  return grad(z, params[i], hjv, retain_graph=True, is_grads_batched=batched)[0]  # J' H_z J v
          else:
              g = grad(value, params, create_graph=True)

              def block(i, v, batched):
                  return grad(g[i], params[i], v, retain_graph=True, is_grads_batched=batched)[0]

          def products(vs, batched):
              if batched:
                  return [block(i, vs[i], True) for i in range(len(params))]
              return [torch.stack([block(i, v, False) for v in vs[i]]) for i in range(len(params))]

          def directions(d):
              return [K.natural_of(array("v%d.%s" % (d, n)), natural[n]).contiguous() for n in NAMES]

          first = directions(COUNTS[0])
          one_by_one = products(first, False)
          try:
              together = products(first, True)
              tol = 1e-4 if dt == torch.float32 else 1e-9
              batched = all(torch.allclose(a, b, rtol=tol, atol=tol * (1 + b.abs().max().item())) for a, b in zip(together, one_by_one))
          except Exception:  # PyTorch has no batching rule for some operation: one direction at a time
              batched = False
          print("mode", "batched" if batched else "loop", flush=True)
          for i, n in enumerate(NAMES):
              results["prod." + n] = K.item_of(one_by_one[i], natural[n]).detach().numpy()
          for d in COUNTS:
              vs = directions(d)
              print("products", d, median_seconds(lambda: products(vs, batched)), flush=True)

      np.savez(folder + "/out.npz", **results)
      """;
}
