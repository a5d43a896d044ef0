package org.hbp.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.hbp.UserError;
import org.hbp.backend.Batch;
import org.hbp.io.CommandFiles;
import org.hbp.io.NdArray;
import org.hbp.io.Npz;
import org.hbp.io.RegeneratedFiles;
import org.hbp.network.Curvature;
import org.hbp.network.CurvatureKind;
import org.hbp.network.FactoredGgn;
import org.hbp.network.GgnRoute;
import org.hbp.network.KfacOptions;
import org.hbp.network.MemoryEstimate;
import org.hbp.network.Network;
import org.hbp.network.NetworkResolver;
import org.hbp.network.NetworkSpec;
import org.hbp.network.Pass;
import org.hbp.network.Strategy;
import org.hbp.network.TorchLayout;
import org.hbp.onnx.InitializerNames;
import org.hbp.spectrum.Lanczos;
import org.hbp.train.Progress;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code hbp spectrum}: top eigenvalues, trace and spectral density of curvature blocks, from NumPy files. */
@Command(name = "spectrum",
    header = "Curvature spectra: top eigenvalues, trace, density.",
    description = {
        "Spectral quantities of the curvature of the mean loss of a network on one batch (the same --net, --params, --batch "
            + "as hbp curvature): the K largest eigenvalues and their eigenvectors by Lanczos with full reorthogonalisation "
            + "(--top K), the trace and diagonal by Hutchinson's estimator with Rademacher probes and its standard error "
            + "(--trace), and the spectral density by stochastic Lanczos quadrature (--density), for every parameter's block "
            + "(--scope blocks) or one (--scope block:NAME), every layer's joint block over all its parameters or one layer's "
            + "(--blocks layer), or the whole network (--scope net). Writes spectrum.json, eigenvectors.npz, diagonal.npz, "
            + "diagonal_stderr.npz and density-NAME.png into the --out folder. A progress bar runs on standard error on a terminal "
            + "(HBP_PROGRESS=bar|lines|off forces one)."})
public final class SpectrumCommand extends HbpCommand implements DrawsProgress {
  @Mixin NetworkOptions networkOptions;

  @Option(names = "--params", paramLabel = "P.npz", description = "Parameters: '<index>.<param>' (or PyTorch's '<index>.weight'/'.bias'); required unless --net is an ONNX model (its initializers).")
  Path params;

  @Option(names = "--batch", required = true, paramLabel = "B.npz", description = "x: [N, *input shape]; y: [N, *target shape], or [N] class indices for a loss whose target is a vector declared onehot or probability (crossentropy).")
  Path batch;

  @Option(names = "--curvature", defaultValue = Defaults.CURVATURE, paramLabel = "C",
      description = "hessian, ggn, pch-abs or pch-clip (default: ${DEFAULT-VALUE}; with --strategy diag-hessian the Hessian, the curvature "
          + "it is defined for).", converter = Choices.CurvatureKinds.class)
  CurvatureKind kind;

  @Option(names = "--strategy", defaultValue = Defaults.STRATEGY, paramLabel = "S",
      description = "${COMPLETION-CANDIDATES} (exact: matrix-free; kfra, bda: eq. 8, 9; kfac, kflr, ekfac: the GGN's Kronecker factors; "
          + "diag-*: diagonals, diag-hessian the Hessian's; --scope net only exact) (default: ${DEFAULT-VALUE}).",
      converter = Choices.Strategies.class, completionCandidates = Choices.StrategyNames.class)
  Strategy strat;

  @Option(names = "--blocks", defaultValue = Defaults.BLOCK_UNIT, paramLabel = "B", converter = BlockChoice.Converter.class,
      description = "parameter (each parameter's block), layer (each layer's joint block over all its parameters, cross terms included: "
          + "--scope blocks gives every layer's, --scope block:NAME the layer NAME (e.g. 2) or the layer of parameter NAME; keyed by the "
          + "layer's name; --strategy exact, --curvature ggn or hessian; not with --scope net), or K: each parameter's block split "
          + "into K row groups, their block-diagonal part (default: ${DEFAULT-VALUE}).")
  BlockChoice blockChoice;

  @Mixin GgnRouteOption ggnRoute;

  @Option(names = "--scope", defaultValue = "blocks", paramLabel = "SCOPE",
      description = "blocks (every block: each parameter's, or with --blocks layer each layer's), block:NAME (one: a parameter, e.g. "
          + "block:0.W or block:0.weight; with --blocks layer also a layer, e.g. block:0) or net (the whole network) (default: ${DEFAULT-VALUE}).")
  String scope;

  @Option(names = "--top", paramLabel = "K", description = "The K largest eigenvalues and their eigenvectors, by Lanczos; a block of fewer than K "
      + "entries gives all its eigenvalues (its line says so). --max-iterations must be at least K, or a smaller block's dimension.")
  Integer top;

  @Option(names = "--trace", description = "Trace and diagonal by Hutchinson's estimator, with standard errors.")
  boolean trace;

  @Option(names = "--density", description = "Spectral density by stochastic Lanczos quadrature, and its plot.")
  boolean density;

  @Option(names = "--out", required = true, paramLabel = "DIR", description = "Folder for spectrum.json and the other outputs (created if needed).")
  Path out;

  @Mixin OverwriteOption overwrite;

  @Option(names = "--max-iterations", defaultValue = "100", paramLabel = "M", description = "Lanczos: most products per block (default: ${DEFAULT-VALUE}).")
  int maxIterations;

  @Option(names = "--tol", defaultValue = "1e-6", paramLabel = "TOL",
      description = "Lanczos: residual |A y - θ y| relative to the largest |θ| (default: ${DEFAULT-VALUE}).")
  double tol;

  @Option(names = "--probes", defaultValue = "100", paramLabel = "M", description = "Hutchinson: Rademacher probes (default: ${DEFAULT-VALUE}).")
  int probes;

  @Option(names = "--directions", defaultValue = "10", paramLabel = "D",
      description = "Hutchinson: probes per curvature product (default: ${DEFAULT-VALUE}).")
  int directions;

  @Option(names = "--starts", defaultValue = "4", paramLabel = "S", description = "Density: random starts, run as the directions of one product (default: ${DEFAULT-VALUE}).")
  int starts;

  @Option(names = "--steps", defaultValue = "60", paramLabel = "M", description = "Density: Lanczos steps per start (default: ${DEFAULT-VALUE}).")
  int steps;

  @Option(names = "--sigma", defaultValue = "0.01", paramLabel = "F",
      description = "Density: width of the Gaussians, as a fraction of the spectrum's range (default: ${DEFAULT-VALUE}).")
  double sigma;

  @Option(names = "--grid", defaultValue = "1000", paramLabel = "G", description = "Density: grid points (default: ${DEFAULT-VALUE}).")
  int grid;

  @Option(names = "--seed", defaultValue = "0",
      description = "Seed of the random start vectors and probes, and of kfac's and diag-ggn-mc's draw (default: ${DEFAULT-VALUE}).")
  long seed;

  @Mixin KfacOptionsMixin kfac;

  @Mixin MemoryLimitOption memoryLimit;

  @Option(names = "--backend", defaultValue = Defaults.BACKEND, paramLabel = "B",
      description = "cpu, blas-f64 (OpenBLAS, float64) or blas-f32 (float32) (default: ${DEFAULT-VALUE}).")
  String backend;

  @Mixin ComputeOptions compute;

  /** The file names this command writes into --out. */
  static final String JSON = "spectrum.json", EIGENVECTORS = "eigenvectors.npz", DIAGONAL = "diagonal.npz", DIAGONAL_STDERR = "diagonal_stderr.npz";

  static String plotName(String block) {
    // a block's name may be an ONNX initializer's ("onnx::MatMul_8", "/0/Constant_output_0"): any character but
    // [A-Za-z0-9._-] is escaped as %XX (UTF-8 bytes), so that the name stays one file in --out and two blocks never share one
    StringBuilder file = new StringBuilder("density-");
    for (byte c : block.getBytes(java.nio.charset.StandardCharsets.UTF_8)) {
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-') file.append((char) c);
      else file.append(String.format(Locale.ROOT, "%%%02X", c & 0xff));
    }
    return file.append(".png").toString();
  }

  @Override
  public Integer call() throws Exception {
    kind = Choices.curvature(spec, kind, strat.fixedCurvature());
    checkSettings();
    int blocks = blockChoice.rowGroups();
    long limit = memoryLimit.bytes();
    PrintWriter w = out();
    NetworkSpec net = networkOptions.load();
    Network network = compute.network(net, backend);
    networkOptions.bindData(network, params);
    if (blockChoice.layer()) Curvature.checkLayerBlocks(network, kind, strat);
    TorchLayout layout = new TorchLayout(network);
    MemoryEstimate.checkParameters(network, 0, "use a smaller network, or raise --memory-limit (or the heap: JAVA_TOOL_OPTIONS=-Xmx8g)", limit);
    Map<String, NdArray> paramArrays = networkOptions.parameterArrays(params);
    InitializerNames onnx = networkOptions.importedNetwork() == null ? null : new InitializerNames(networkOptions.importedNetwork());
    OutputNames names = OutputNames.of(onnx, paramArrays);
    if (onnx != null && params != null) paramArrays = onnx.toHbp(paramArrays);
    Map<String, Batch> p = layout.parametersOnly(paramArrays, networkOptions.parameterSource(params));
    if (strat == Strategy.KFAC) kfac.options(seed).checkFits(network); // kfac's --fisher against the loss, before the batch is read
    SpectrumScope sc = SpectrumScope.parse(scope, network, blockChoice, names);
    // option against option: decided before any work, the batch not yet read
    GgnRoute route = ggnRoute.route();
    boolean wholeNet = sc.kind() == SpectrumScope.Kind.NET;
    // --scope net: the whole network's factored GGN (FactoredGgn); blocks: the exact strategy's (the curvature's route)
    GgnRoute blockRoute = wholeNet ? GgnRoute.NETWORK : route;
    if (wholeNet) SpectrumScope.checkWholeNetwork(kind, strat, route == GgnRoute.FACTORED);
    else Curvature.checkDefined(network, kind, strat, route); // the strategy's refusals of this network and curvature
    Map<String, NdArray> b = NetworkFileOptions.readNpz("--batch", batch);
    Batch x = layout.inputs(Npz.requireAnyShape(b, "x", batch.toString()), batch.toString());
    Batch y = layout.targets(Npz.requireAnyShape(b, "y", batch.toString()), x.samples(), batch.toString());
    Map<String, List<String>> targets = sc.targets(network);
    checkIterations(network, targets);
    List<String> outputs = outputFiles(List.copyOf(targets.keySet()));
    EarlierFiles earlier = earlierFiles(out, outputs);
    List<String> stale = earlier.stale(), unrecorded = earlier.unrecorded();
    // the earlier run's files that --overwrite removes count as outputs: one that is an input is refused even with it
    List<String> touched = new ArrayList<>(outputs);
    touched.addAll(stale);
    CommandFiles files = networkOptions.declareInputs(new CommandFiles(true)).input("--params", params).input("--batch", batch)
        .outputsIn("--out", out, touched).output("--out", out.resolve(RegeneratedFiles.RECORD)); // the record, rewritten after the files
    files.check();
    List<String> held = touched.stream().filter(f -> Files.exists(out.resolve(f))).toList();
    if (!overwrite.overwrite && !held.isEmpty())
      throw new UserError("--out " + out + " already holds " + String.join(", ", held) + " of an earlier run; choose another --out, remove them, "
          + "or pass --overwrite (which also removes the earlier run's files this run does not write)");
    w.print(NetworkResolver.describe(net));
    int widest = Math.max(trace ? directions : 1, density ? starts : 1);
    // the products of the scope's blocks alone (--scope block:NAME: one block's directions, not every parameter's)
    java.util.Set<String> scoped = new java.util.LinkedHashSet<>();
    for (List<String> ps : targets.values()) scoped.addAll(ps);
    MemoryEstimate estimate = MemoryEstimate.curvature(network, p, x.samples(), kind, strat, kfac.options(seed), blockRoute, blocks, blockChoice.layer(),
        MemoryEstimate.Output.VECTORS, widest, scoped, limit);
    long bases = lanczosBytes(network, targets);
    estimate = estimate.plus("Lanczos vectors (the fewest the largest block needs)", bases, MemoryEstimate.Memory.HEAP);
    long largest = largestBlock(network, targets);
    if (trace) estimate = estimate.plus("Hutchinson's probes (a trace per probe, the diagonal's sums, a product's probes)",
        hutchinsonBytes(probes, directions, largest), MemoryEstimate.Memory.HEAP);
    if (density) estimate = estimate.plus("the densities on --grid " + grid + " (every block's, and spectrum.json's text)",
        densityBytes(grid, targets.size()), MemoryEstimate.Memory.HEAP);
    if (wholeNet && route == GgnRoute.FACTORED)
      estimate = estimate.plus("the factored GGN's columns J'S (N r P)", FactoredGgn.bytes(network, x.samples()), MemoryEstimate.memoryOf(network.backend()));
    estimate.check(limit);
    files.makeFolders(); // after every other check (a refused run makes nothing), before the work: a folder the file system refuses is an error now
    try {
      // the Lanczos bases grow into what the rest of the run leaves under the limit (SpectrumRun caps the iterations there)
      long basisLimit = limit - (estimate.total() - bases);
      Pass pass = network.run(p, x, y);
      w.printf("batch of %d: loss %.17g%n", x.samples(), pass.loss());
      long t0 = System.nanoTime();
      Curvature c = Curvature.of(pass, kind, strat, kfac.options(seed), blockRoute, limit, this::notice); // a diagonal says when it chunks
      if (blockRoute == GgnRoute.FACTORED) w.printf("factored GGN blocks: the loss factor's columns carried back in %.2f s%n", (System.nanoTime() - t0) / 1e9);
      w.printf("curvature %s, strategy %s, scope %s%s%n", kind.label(), strat.label(), scope,
          blockChoice.layer() ? ", one joint block per layer (--blocks layer)" : blocks > 1 ? ", " + blocks + " row groups per parameter" : "");
      w.flush();
      t0 = System.nanoTime();
      Map<String, SpectrumScope.Target> operators = sc.operators(network, pass, c, blocks, wholeNet && route == GgnRoute.FACTORED, limit);
      if (wholeNet && route == GgnRoute.FACTORED) w.printf("factored GGN: columns J'S carried back in %.2f s%n", (System.nanoTime() - t0) / 1e9);
      SpectrumRun run = new SpectrumRun(settings(basisLimit), network, layout, names);
      Progress bar = ProgressMode.current().bar(err(), "spectrum", operators.size() * ((top != null ? 1 : 0) + (trace ? 1 : 0) + (density ? 1 : 0)));
      try {
        run.compute(operators, bar, w);
      } finally {
        bar.close();
      }
      Map<String, Object> header = new LinkedHashMap<>();
      header.put("network", net.name());
      header.put("curvature", kind.label());
      header.put("strategy", strat.label());
      header.put("scope", scope);
      header.put("blocks_option", blockChoice.label());
      header.put("samples", x.samples());
      header.put("loss", pass.loss());
      header.put("seed", seed);
      if (strat.drawsMonteCarlo()) header.put("mc_samples", kfac.mcSamples);
      if (strat == Strategy.KFAC) header.put("fisher", kfac.fisher);
      run.write(out, header, overwrite.existing());
      RegeneratedFiles.recordExisting(out, outputs); // hbp's own from now on: a later --overwrite may remove them
      w.println("wrote " + String.join(", ", outputs.stream().map(f -> out.resolve(f).toString()).toList()));
      List<String> removed = new ArrayList<>();
      List<String> changed = RegeneratedFiles.foreign(out, stale); // changed by someone since the check: kept
      for (String f : stale) if (!changed.contains(f) && Files.deleteIfExists(out.resolve(f))) removed.add(f);
      if (!removed.isEmpty()) w.println("removed " + String.join(", ", removed) + " (an earlier run's, not written by this one: --overwrite)");
      if (!unrecorded.isEmpty())
        w.println("kept " + String.join(", ", unrecorded) + " (named as spectrum's files, but not recorded in " + RegeneratedFiles.RECORD
            + " as written there by hbp: an earlier version's run, or yours; remove them by hand if they are an old run's)");
      w.flush();
      return 0;
    } catch (Throwable t) {
      files.removeMadeFolders(); // a run that fails after making its folder leaves no empty folder
      throw t;
    }
  }

  private void checkSettings() {
    if (top == null && !trace && !density) throw new UserError("nothing to compute: give --top K, --trace and/or --density");
    // each quantity's settings, and the Monte-Carlo strategies', are refused where they do not apply, not ignored
    OptionScope.of(spec)
        .onlyWhen(top != null, "with --top", "--max-iterations", "--tol")
        .onlyWhen(trace, "with --trace", "--probes", "--directions")
        .onlyWhen(density, "with --density", "--starts", "--steps", "--sigma", "--grid")
        .onlyWhen(strat.drawsMonteCarlo(), "with --strategy kfac or diag-ggn-mc", "--mc-samples")
        .onlyWhen(strat == Strategy.KFAC, "with --strategy kfac", "--fisher");
    kfac.options(seed); // --mc-samples and --fisher are checked as they are read
    if (top != null && top < 1) throw new UserError("--top must be at least 1, not " + top);
    if (maxIterations < 1) throw new UserError("--max-iterations must be at least 1, not " + maxIterations);
    if (!(tol > 0)) throw new UserError("--tol must be positive");
    inRange("--probes", probes, 2, MAX_PROBES, " (at least 2 for a standard error)");
    inRange("--directions", directions, 1, MAX_DIRECTIONS, "");
    inRange("--starts", starts, 1, MAX_STARTS, "");
    inRange("--steps", steps, 1, MAX_STEPS, "");
    if (!(sigma > 0)) throw new UserError("--sigma must be positive");
    inRange("--grid", grid, 2, MAX_GRID, "");
    if (blockChoice.layer() && scope.equals("net"))
      throw new UserError("--scope net takes the whole network; --blocks layer does not apply (use --blocks parameter)");
    if (blockChoice.rowGroups() > 1 && scope.equals("net"))
      throw new UserError("--blocks " + blockChoice.rowGroups() + " splits blocks; --scope net takes the whole network (use --blocks parameter)");
  }

  /**
   * Refuses a --max-iterations below the eigenvalues some block of {@code targets} returns: {@code min(K, its dimension)} for
   * {@code --top K} (a block smaller than K returns all its eigenvalues, and its line says so).
   */
  private void checkIterations(Network network, Map<String, List<String>> targets) {
    if (top == null) return;
    for (Map.Entry<String, List<String>> e : targets.entrySet()) {
      long n = 0;
      for (String q : e.getValue()) n += network.parameterSize(q);
      if (maxIterations < Math.min(top, n))
        throw new UserError(n < top
            ? "--max-iterations " + maxIterations + " must be at least " + n + ", the dimension of block " + e.getKey() + " (--top " + top
                + " asks for all its eigenvalues)"
            : "--max-iterations " + maxIterations + " must be at least --top " + top + " (block " + e.getKey() + " has " + n + " entries)");
    }
  }

  /** The allowed ranges' upper ends: far beyond what a run needs (the defaults are 100, 10, 4, 60 and 1000). */
  static final int MAX_PROBES = 1_000_000, MAX_DIRECTIONS = 10_000, MAX_STARTS = 10_000, MAX_STEPS = 100_000, MAX_GRID = 1_000_000;

  private static void inRange(String option, int value, int low, int high, String why) {
    if (value < low || value > high) throw new UserError(option + " must be in [" + low + ", " + high + "]" + why + ", not " + value);
  }

  /** The entries of the largest block of {@code targets} (a layer's joint block: all its parameters'). */
  private static long largestBlock(Network network, Map<String, List<String>> targets) {
    long most = 0;
    for (List<String> params : targets.values()) {
      long n = 0;
      for (String q : params) n += network.parameterSize(q);
      most = Math.max(most, n);
    }
    return most;
  }

  /**
   * Hutchinson's own storage for a block of n entries ({@link org.hbp.spectrum.Hutchinson#estimate}), 8 bytes a number:
   * a trace per probe, the diagonal's sums, sums of squares, estimate and standard error (4n), and one product's
   * {@code directions} probes, held as vectors and again as the product's columns (2 n directions).
   */
  static long hutchinsonBytes(int probes, int directions, long n) {
    return 8L * probes + 32L * n + MemoryEstimate.saturatedMultiply(16L * n, directions);
  }

  /**
   * The densities' storage: each block's grid and density (16 bytes a point) kept to the end of the run, and
   * spectrum.json's text of them (two numbers of up to 24 characters a point, and the writer's copy: 96 bytes).
   */
  static long densityBytes(int grid, int blocks) {
    return MemoryEstimate.saturatedMultiply((16L + 96L) * grid, blocks);
  }

  /**
   * The files of spectrum's output set (spectrum.json, eigenvectors.npz, diagonal.npz, diagonal_stderr.npz, density-*.png) in
   * a folder that a run writing other outputs does not write, split by the folder's {@value RegeneratedFiles#RECORD}:
   * {@code stale}, an earlier run's (recorded and unchanged since, {@link RegeneratedFiles}), refused without --overwrite and
   * removed after the new files with it, so that the folder holds one run's files; {@code unrecorded}, any other (the user's
   * {@code density-mine.png}, one of hbp's the user changed, an earlier version's run), left alone and named in a line.
   * Each sorted; empty when the folder does not exist.
   */
  record EarlierFiles(List<String> stale, List<String> unrecorded) {}

  /** {@link EarlierFiles} of {@code dir} for a run writing {@code outputs}: the record read and each file hashed once. */
  static EarlierFiles earlierFiles(Path dir, List<String> outputs) throws IOException {
    List<String> named = namedLikeOutputs(dir, outputs), foreign = RegeneratedFiles.foreign(dir, named);
    return new EarlierFiles(named.stream().filter(n -> !foreign.contains(n)).toList(), foreign);
  }

  /** The regular files in {@code dir} named as spectrum's outputs are (any run's) that a run writing {@code outputs} does not write; sorted. */
  private static List<String> namedLikeOutputs(Path dir, List<String> outputs) throws IOException {
    List<String> named = new ArrayList<>();
    if (!Files.isDirectory(dir)) return named;
    try (var files = Files.list(dir)) {
      for (Path f : (Iterable<Path>) files::iterator) {
        String name = f.getFileName().toString();
        boolean ours = name.equals(JSON) || name.equals(EIGENVECTORS) || name.equals(DIAGONAL) || name.equals(DIAGONAL_STDERR)
            || (name.startsWith("density-") && name.endsWith(".png"));
        if (ours && !outputs.contains(name) && Files.isRegularFile(f, java.nio.file.LinkOption.NOFOLLOW_LINKS)) named.add(name);
      }
    }
    named.sort(null);
    return named;
  }

  /** The files a run writes into --out, for the blocks of {@code names}. */
  private List<String> outputFiles(List<String> names) {
    List<String> files = new ArrayList<>(List.of(JSON));
    if (top != null) files.add(EIGENVECTORS);
    if (trace) files.addAll(List.of(DIAGONAL, DIAGONAL_STDERR));
    if (density) for (String n : names) files.add(plotName(n));
    return files;
  }

  /**
   * The bytes of the fewest Lanczos vectors (8 bytes an entry, on the heap) that a run needs for its
   * largest block of {@code targets} (a layer's joint block: all its parameters' entries): K for
   * {@code --top K} (at most the block's dimension), one per start for {@code --density}.
   */
  private long lanczosBytes(Network network, Map<String, List<String>> targets) {
    long most = 0;
    for (List<String> params : targets.values()) {
      long n = 0;
      for (String q : params) n += network.parameterSize(q);
      long vectors = Math.max(top != null ? Math.min(top, n) : 0, density ? starts : 0);
      most = Math.max(most, MemoryEstimate.saturatedMultiply(8 * n, vectors));
    }
    return most;
  }

  private SpectrumRun.Settings settings(long limit) {
    long own = estimatorSeed(seed);
    return new SpectrumRun.Settings(top, new Lanczos.Settings(maxIterations, tol, own), trace ? probes : 0, directions, density ? starts : 0,
        steps, sigma, grid, own, limit);
  }

  /**
   * The seed of the run's own random vectors (Lanczos' starts, Hutchinson's probes, SLQ's starts) for {@code --seed s}: s
   * mixed by SplittableRandom, not s itself. kfac's and diag-ggn-mc's draw takes s as {@code hbp curvature --seed s} does
   * (the same operator), and a {@code java.util.Random} of the same seed would give the probes the same stream of bits as
   * that draw, making the estimator depend on the operator it estimates.
   */
  static long estimatorSeed(long seed) {
    return new java.util.SplittableRandom(seed).nextLong();
  }

}
