package org.hbp.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.function.Supplier;
import org.bytedeco.javacpp.Pointer;
import org.hbp.UserError;
import org.hbp.backend.Backend;
import org.hbp.backend.KernelProfiler;
import org.hbp.backend.Backends;
import org.hbp.backend.Batch;
import org.hbp.backend.Precision;
import org.hbp.backend.blas.BlasBackend;
import org.hbp.backend.host.PooledBackend;
import org.hbp.backend.opencl.OpenClBackend;
import org.hbp.io.AtomicFiles;
import org.hbp.io.CommandFiles;
import org.hbp.network.Curvature;
import org.hbp.network.CurvatureKind;
import org.hbp.network.GgnRoute;
import org.hbp.network.KfacOptions;
import org.hbp.network.MemoryEstimate;
import org.hbp.network.ModuleLibrary;
import org.hbp.network.Network;
import org.hbp.network.NetworkSpec;
import org.hbp.network.Pass;
import org.hbp.network.Strategy;
import org.hbp.network.TorchLayout;
import org.hbp.train.Progress;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code hbp bench}: times the passes of a network on a synthetic batch (medians over repeats),
 * each as a ratio to the gradient pass, with the peak heap of each, and optionally PyTorch's
 * gradient pass on the same net, threads and dtype for comparison. A benchmark, not a test.
 */
@Command(name = "bench",
    header = "Time gradient, curvature passes and products (vs PyTorch).",
    description = {
        "Time a network's passes on a synthetic batch: the gradient pass; one curvature pass per explicit strategy "
            + "(eq. 8 / eq. 9 propagation); products with all blocks for each number of directions, per strategy.",
        "Medians over --repeat runs after --warmup runs and then until the JIT compiler is idle, each also as a "
            + "ratio to the gradient pass, and peak heap per pass.",
        "kfac, kflr, ekfac (--strategies exact,kfac,kflr,ekfac) also time the damped inverse of every block. --diagonals "
            + "exact,mc,hessian, --network-products and --lanczos N add the GGN and Hessian diagonals, whole-network products per "
            + "number of directions and N Lanczos steps on the whole-network curvature; several --directions also print the "
            + "time per direction and, for nets of linear and conv2d layers, the GEMM FLOPs and GFLOP/s reached.",
        "--memory-limit applies per strategy: one that exceeds it is reported as refused and skipped.",
        "--torch also runs the same net in PyTorch (any network: chains, residual blocks, graphs; same parameters, batch, threads and dtype, "
            + "OMP_WAIT_POLICY=PASSIVE): its gradient pass and, for ggn and hessian, its exact block products by autograd, beside ours, and how "
            + "closely its loss, gradients and products agree with hbp's.",
        "--quick, for slow devices (PoCL): batch " + BenchCommand.QUICK_BATCH + ", 1 direction, 1 warm-up and 1 timed run, no waiting for "
            + "the JIT compiler (each unless given); rough figures.",
        "--gemm-sizes times matrix products instead (GFLOP/s; on OpenCL devices CLBlast against the hand-written kernels, --gemm).",
        "--gemm-rate N times the n x n product after the gradient pass and after the curvature rows, in the same run, and prints each "
            + "product series' GFLOP/s as a share of the higher rate.",
        "A progress bar on standard error shows the measurement running when it is a terminal (HBP_PROGRESS=lines: plain lines)."})
public final class BenchCommand extends HbpCommand implements DrawsProgress {
  @Option(names = "--net", defaultValue = "networks/fc.hbp", paramLabel = "NET", description = "Network: .hbp, or an ONNX model with --loss (default networks/fc.hbp).")
  Path net;

  /** --specs, and for an ONNX --net --loss, --map, --constants, --buffers: as curvature and train read a network. */
  @Mixin NetworkFileOptions networkFile;

  @Option(names = "--batch", defaultValue = "500", paramLabel = "N", description = "Batch size (default 500).")
  int batch;

  @Option(names = "--backend", defaultValue = Defaults.TRAINING_BACKEND, paramLabel = "B",
      description = "Backend: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}, " + Defaults.TRAINING_BACKEND_REASON + ").",
      completionCandidates = BackendNames.class)
  String backend;

  @Mixin ComputeOptions compute;

  @Option(names = "--curvature", defaultValue = Defaults.CURVATURE, paramLabel = "C", description = "Curvature kind (default: ${DEFAULT-VALUE}).",
      converter = Choices.CurvatureKinds.class)
  CurvatureKind kind;

  @Option(names = "--strategies", defaultValue = "exact,kfra,bda", split = ",", description = "Strategies to time (default exact,kfra,bda).",
      converter = Choices.Strategies.class)
  List<Strategy> strategies;

  @Option(names = "--blocks", defaultValue = Defaults.BLOCK_UNIT, split = ",", paramLabel = "B",
      description = "The exact strategy's blocks for its products: parameter (one per parameter, the paper's), layer (one joint block per "
          + "layer over all its parameters; --strategies exact, ggn or hessian), or parameter,layer: both, one after the other (default: ${DEFAULT-VALUE}).")
  List<String> blockUnits;

  @Option(names = "--directions", defaultValue = "1,10", split = ",", description = "Directions per block for the products (default 1,10).")
  List<Integer> directions;

  @Option(names = "--ggn-routes", defaultValue = "network", split = ",", paramLabel = "R",
      description = "How the exact strategy's GGN products are computed (--curvature ggn): network (each block's directions through the rest "
          + "of the network and back), factored (the loss factor's columns carried back once, timed as the row 'curvature pass exact "
          + "(factored)'; then each block's product is its own layer's two Jacobian products and two with the columns), or "
          + "network,factored: both, one after the other, to see which wins (default: ${DEFAULT-VALUE}).")
  List<String> ggnRoutes;

  @Option(names = "--diagonals", split = ",", paramLabel = "D",
      description = "Also time diagonals on the bench's pass: exact (the GGN's, every column of the loss factor), mc (the GGN's, "
          + "1 Rademacher vector per sample), hessian (by HBP with diagonal residuals), e.g. --diagonals exact,mc,hessian.")
  List<String> diagonals = List.of();

  @Option(names = "--network-products", description = "Also time whole-network products (all parameters, off-diagonal blocks included) "
      + "for each number of --directions.")
  boolean networkProducts;

  @Option(names = "--lanczos", paramLabel = "ITERATIONS", description = "Also time this many Lanczos steps for the top eigenvalue of the "
      + "whole-network curvature (as hbp spectrum --scope net --top 1), e.g. --lanczos 20.")
  int lanczos;

  @Option(names = "--repeat", defaultValue = "5", description = "Timed repeats (default 5).")
  int repeat;

  @Option(names = "--warmup", defaultValue = "2", description = "Untimed warm-up runs (default 2); more follow until a run sees no JIT compilation.")
  int warmup;

  @Mixin MemoryLimitOption memoryLimit;

  @Mixin OverwriteOption overwrite;

  @Option(names = "--torch", description = "Also time the same network in PyTorch (needs python3 with torch): its gradient pass and, "
      + "for ggn and hessian, its exact products of all blocks per number of directions, and check its loss, gradients and products against hbp's.")
  boolean torch;

  @Option(names = "--out", paramLabel = "FILE.json", description = "Also write the results as JSON.")
  Path out;

  @Option(names = "--quick", description = "Rough figures fast, for slow devices (PoCL): batch " + BenchCommand.QUICK_BATCH + ", --directions 1, "
      + "--warmup 1, --repeat 1, no waiting for the JIT compiler (options given explicitly win).")
  boolean quick;

  @Option(names = "--gemm", split = ",", paramLabel = "IMPL",
      description = "OpenCL matrix products: clblast (CLBlast, the default where it loads), kernels (the hand-written kernels), or a "
          + "kernel: large, small, direct, naive. With --gemm-sizes a list to compare (default clblast,kernels).")
  List<String> gemm;

  @Option(names = "--gemm-sizes", split = ",", paramLabel = "N",
      description = "Time matrix products instead of a network: n x n times n x n for each N, in the precision of --backend on "
          + "--device, per --gemm implementation, in GFLOP/s, each checked against the float64 BLAS product.")
  List<Integer> gemmSizes;

  @Option(names = "--gemm-rate", paramLabel = "N",
      description = "With --net: also time the backend's n x n matrix product (the one the network's products use) after the "
          + "gradient pass and again after the curvature rows, in the same run, and print each product series' GFLOP/s as a share of "
          + "the higher of the two rates (issue 17's target for products with D directions: 80 %%).")
  Integer gemmRate;

  @Option(names = "--profile", arity = "0..1", fallbackValue = "kernels", paramLabel = "BY",
      description = "Run each row --repeat times more with every backend call timed (the call, then the backend finished: device queues "
          + "are drained after each kernel) and print where its time went, per run: each kernel's calls, seconds and share, the products' "
          + "FLOPs and GFLOP/s (matrix products and convolutions; with --gemm-rate also as a share of the GEMM rate), and the "
          + "time outside the backend. --profile shapes tells calls apart by their operands' shapes (samples x directions : "
          + "rows x cols), and with --gemm-rate gives the share of the products' FLOPs in shapes at >= 80 %% of the GEMM rate. The timed runs go "
          + "through the same timing backend, recording off.")
  String profile;

  /** With {@code --gemm-rate} on a host backend: the memory rate measured beside each GEMM rate (before, after). */
  private final List<MemoryThroughput.Row> memoryRates = new ArrayList<>();

  /** With {@code --profile}: the timing backend the network runs on, and each row's profile by its name. */
  private KernelProfiler profiler;
  private final Map<String, KernelProfiler.Profile> profiles = new LinkedHashMap<>();

  /** The batch of {@code --quick}. */
  static final int QUICK_BATCH = 100;

  /** The GFLOP/s of each product series by number of directions (where its FLOP count is known), for {@code --gemm-rate}. */
  private final Map<String, Map<Integer, Double>> rates = new LinkedHashMap<>();

  /** Whether the warm-up goes on until the JIT compiler is idle (not with {@code --quick}). */
  private boolean waitForJit = true;

  /** {@code --quick}: its settings for the options not given on the command line ({@code given} says which were). */
  void applyQuick(java.util.function.Predicate<String> given) {
    if (!given.test("--batch")) batch = QUICK_BATCH;
    if (!given.test("--directions")) directions = List.of(1);
    if (!given.test("--warmup")) warmup = 1;
    if (!given.test("--repeat")) repeat = 1;
    waitForJit = false;
  }

  /** Completion candidates for --backend. */
  static final class BackendNames extends ArrayList<String> {
    BackendNames() {
      super(Backends.names());
    }
  }

  /** The exact strategy's GGN routes to time ({@code --ggn-routes}). */
  private List<GgnRoute> routes = List.of(GgnRoute.NETWORK);

  /** The progress bar over the measurements (standard error, see {@link ProgressMode}), and how many are done. */
  private Progress bar = Progress.none();
  private int measured;

  /** The values of the network's data variables (an ONNX --net's running statistics and constants), for PyTorch too. */
  private Map<String, double[]> dataValues = Map.of();

  /**
   * The parameters timed: an ONNX --net's own (its initializers, as curvature reads them), else Xavier-normal weights and zero
   * biases drawn from {@code rng}.
   */
  private Map<String, Batch> benchParameters(Network network, Random rng) throws java.io.IOException {
    if (networkFile.importedNetwork() != null)
      return new TorchLayout(network).parametersOnly(networkFile.parameterArrays(null), net + " (initializers)");
    Backend be = network.backend();
    Map<String, Batch> params = new LinkedHashMap<>();
    for (String name : network.parameterNames()) {
      int[] s = network.parameterShape(name);
      double[] d = new double[s[0] * s[1]];
      double scale = s[1] == 1 ? 0 : Math.sqrt(2.0 / (s[0] + s[1])); // Xavier-normal weights, zero biases
      for (int i = 0; i < d.length; i++) d[i] = rng.nextGaussian() * scale;
      params.put(name, be.fromArray(1, 1, s[0], s[1], d));
    }
    return params;
  }

  /** One measured quantity. */
  record Result(String what, double medianSeconds, double ratio, long peakHeapBytes, long peakOffHeapBytes) {}

  @Override
  public Integer call() throws Exception {
    if (quick) applyQuick(spec.commandLine().getParseResult()::hasMatchedOption);
    if (repeat < 1 || warmup < 0 || batch < 1) throw new UserError("--repeat and --batch must be >= 1, --warmup >= 0");
    if (lanczos < 0) throw new UserError("--lanczos must be >= 0 (the number of Lanczos steps), not " + lanczos);
    for (String d : diagonals)
      if (!BenchToolbox.DIAGONALS.contains(d)) throw new UserError("--diagonals: expected exact, mc or hessian, not '" + d + "'");
    for (int d : directions) if (d < 1) throw new UserError("--directions must be >= 1, not " + d);
    boolean layerBlocks = BenchToolbox.layerBlocksAsked(blockUnits, strategies);
    routes = routes();
    CommandFiles files = new CommandFiles(overwrite.overwrite).input("--net", net);
    networkFile.declareInputs(files);
    files.output("--out", out).check();
    if (gemmRate != null) checkGemmRate();
    PrintWriter w = out();
    Backend be = compute.backend(backend);
    if (gemmSizes != null && !gemmSizes.isEmpty()) return gemmThroughput(w, be);
    checkMemoryRate(be);
    if (gemm != null) {
      if (gemm.size() != 1) throw new UserError("--gemm: one implementation for a network bench (a list only with --gemm-sizes), got " + gemm);
      if (!(be instanceof OpenClBackend ocl)) throw new UserError("--gemm applies to OpenCL devices (--device opencl), not to " + be.name());
      GemmThroughput.checkNames(gemm);
      ocl.useGemmKernel(gemm.get(0));
    }
    NetworkSpec ns = networkFile.load(net, null);
    if (profile != null) {
      if (!profile.equals("kernels") && !profile.equals("shapes")) throw new UserError("--profile: expected kernels or shapes, not '" + profile + "'");
      profiler = KernelProfiler.of(be, profile.equals("shapes"));
    }
    Network network = new Network(ns, ModuleLibrary.forSpecs(), profiler != null ? profiler.backend() : be);
    dataValues = networkFile.bindData(network, null);
    MemoryEstimate.checkParameters(network, 0, "use a smaller network, or the heap: JAVA_TOOL_OPTIONS=-Xmx8g", Long.MAX_VALUE);
    if (layerBlocks) Curvature.checkLayerBlocks(network, kind, Strategy.EXACT);
    for (Strategy s : strategies) Curvature.checkDefined(network, kind, s, GgnRoute.NETWORK); // each strategy's refusal of --curvature, before any pass
    Random rng = new Random(1);
    Map<String, Batch> params = benchParameters(network, rng);
    int[] in = network.inputShape(), t = network.targetShape();
    double[] x = new double[batch * in[0] * in[1]], y = new double[batch * t[0] * t[1]];
    for (int i = 0; i < x.length; i++) x[i] = rng.nextGaussian();
    for (int n = 0; n < batch; n++) y[n * t[0] * t[1] + rng.nextInt(t[0] * t[1])] = 1;
    Batch xb = be.fromArray(batch, 1, in[0], in[1], x), yb = be.fromArray(batch, 1, t[0], t[1], y);
    long limit = memoryLimit.bytes();
    int maxDirections = 1;
    for (int v : directions) maxDirections = Math.max(maxDirections, v);
    String cores = Runtime.getRuntime().availableProcessors() + " cores";
    w.printf("bench %s (%s), batch %d, backend %s, %s, %s%s%n", ns.name(), net, batch, be.name(), cores, kind.label(),
        quick ? String.format(Locale.ROOT, ", quick (%d warm-up, %d timed)", warmup, repeat) : "");
    if (be.name().startsWith("blas")) {
      // OpenBLAS picks its kernels at load time from the CPU model, or from OPENBLAS_CORETYPE; the
      // PyTorch subprocess inherits the same environment
      String core = System.getenv("OPENBLAS_CORETYPE");
      w.println("  OpenBLAS kernels: " + (core == null || core.isEmpty() ? "chosen by OpenBLAS for this CPU" : "OPENBLAS_CORETYPE=" + core
          + " (from the environment, PyTorch's too)"));
    }
    if (be instanceof OpenClBackend ocl) w.println("  " + ocl.device().describe() + "; " + ocl.gemmNotice());
    if (be instanceof BlasBackend blas && blas.precision() == Precision.FLOAT32)
      w.println("  float32 matrix products: " + (blas.sgemmLibrary().equals("oneDNN") ? "oneDNN's matmul primitive" : "OpenBLAS's sgemm") + " (-Dhbp.blas.sgemm=openblas|onednn; oneDNN with all cores' threads only), matrix-vector products: OpenBLAS");
    if (be instanceof BlasBackend blas && blas.precision() == Precision.FLOAT32)
      w.println("  convolutions, sigmoid, tanh: " + (blas.directConvolutions() ? "oneDNN (direct convolutions, vectorized maps)"
          : "unfold + gemm, Java maps (" + blas.directConvolutionsUnavailable() + ")"));
    if (be instanceof BlasBackend blas && blas.precision() == Precision.FLOAT64) w.println("  float64 convolutions: " + BlasBackend.float64Convolutions());
    if (be instanceof BlasBackend blas) w.println("  entrywise kernels: " + blas.entrywiseKernels());
    if (be.name().startsWith("blas") && System.getenv("OPENBLAS_THREAD_TIMEOUT") == null)
      w.println("  note: OPENBLAS_THREAD_TIMEOUT is not set: OpenBLAS's threads spin after each gemm and slow the Java kernels between"
          + " gemms; ./hbp sets it to 4");
    if (be.name().equals("blas-f32") && System.getenv("GOMP_SPINCOUNT") == null)
      w.println("  note: GOMP_SPINCOUNT is not set: oneDNN's OpenMP threads " + (System.getenv("OMP_WAIT_POLICY") == null
          ? "spin long after each call" : "are woken for each call") + "; ./hbp sets OMP_WAIT_POLICY=PASSIVE and a spin of 30000");
    w.flush();

    int exactRows = strategies.contains(Strategy.EXACT) ? directions.size() * ((layerBlocks ? 1 : 0) - (blockUnits.contains("parameter") ? 0 : 1)) : 0;
    // the factored route: its set-up, and the products of each kind of block again
    int perRoute = directions.size() * ((layerBlocks ? 1 : 0) + (blockUnits.contains("parameter") ? 1 : 0));
    if (routes.contains(GgnRoute.FACTORED)) exactRows += 1 + perRoute - (routes.contains(GgnRoute.NETWORK) ? 0 : perRoute);
    bar = ProgressMode.current().bar(err(), "bench", measurements(strategies, directions.size()) + exactRows + diagonals.size()
        + (networkProducts ? directions.size() : 0) + (lanczos > 0 ? 1 : 0) + (gemmRate != null ? 2 : 0));
    try {
      measure(w, be, network, params, xb, yb, rng, limit, maxDirections, ns);
    } finally {
      bar.close();
    }
    return 0;
  }

  /** {@code --gemm-sizes}: the product throughput of {@link GemmThroughput}, with a progress bar, and its JSON under {@code --out}. */
  private int gemmThroughput(PrintWriter w, Backend be) throws IOException {
    List<String> impls = gemm != null ? gemm : GemmThroughput.defaultImplementations(be);
    w.printf(Locale.ROOT, "bench matrix products, backend %s, %d cores, %d warm-up, %d timed (median)%n", be.name(),
        Runtime.getRuntime().availableProcessors(), warmup, repeat);
    if (be instanceof OpenClBackend ocl) w.println("  " + ocl.device().describe() + "; default " + ocl.gemmNotice());
    w.flush();
    bar = ProgressMode.current().bar(err(), "bench", gemmSizes.size() * impls.size());
    List<GemmThroughput.Row> rows;
    try {
      rows = GemmThroughput.run(w, bar, be, impls, gemmSizes, warmup, repeat);
    } finally {
      bar.close();
    }
    if (out != null)
      AtomicFiles.writeString(out, overwrite.existing(), String.format(Locale.ROOT, "{%n  \"backend\": \"%s\", \"cores\": %d,%n  \"gemm\": %s%n}%n", be.name(),
          Runtime.getRuntime().availableProcessors(), GemmThroughput.json(rows)));
    return 0;
  }

  /**
   * The routes of {@code --ggn-routes}, refused where the run has no exact GGN products to take
   * them (before any work).
   */
  private List<GgnRoute> routes() {
    List<GgnRoute> routes = new ArrayList<>();
    for (String r : ggnRoutes) {
      GgnRoute route = GgnRoute.parse(r, "--ggn-routes");
      if (!routes.contains(route)) routes.add(route);
    }
    if (routes.contains(GgnRoute.FACTORED)) {
      GgnRoute.FACTORED.check(kind, Strategy.EXACT, "--ggn-routes");
      if (!strategies.contains(Strategy.EXACT))
        throw new UserError("--ggn-routes factored times the exact strategy's products; --strategies " + strategies.stream().map(Strategy::label)
            .collect(java.util.stream.Collectors.joining(",")) + " has no exact (add it)");
    }
    return routes;
  }

  /**
   * The number of timed measurements: the gradient pass, and per strategy its curvature pass (all
   * but exact), its products and (kfac, kflr, ekfac) its damped inverse.
   */
  static int measurements(List<Strategy> strategies, int directionCounts) {
    int n = 1;
    for (Strategy s : strategies) n += perStrategy(s, directionCounts);
    return n;
  }

  private static int perStrategy(Strategy s, int directionCounts) {
    return (s == Strategy.EXACT ? 0 : 1) + directionCounts + (s.isKroneckerFactored() ? 1 : 0);
  }

  private void measure(PrintWriter w, Backend be, Network network, Map<String, Batch> params, Batch xb, Batch yb, Random rng, long limit,
      int maxDirections, NetworkSpec ns) throws Exception {
    List<Result> results = new ArrayList<>();
    Supplier<Pass> gradientPass = () -> {
      Pass p = network.run(params, xb, yb);
      for (String name : network.parameterNames()) p.gradient(name);
      return p;
    };
    // a training step: the pass, all gradients, and the pass closed (its memory reused)
    Result grad = time("gradient pass", () -> {
      Pass p = gradientPass.get();
      p.close();
      return null;
    }, 1, w, be);
    results.add(grad);
    GemmThroughput.Row before = gemmRate == null ? null : gemmRate(w, be, "before");
    for (Strategy strategy : strategies)
      for (GgnRoute route : strategy == Strategy.EXACT ? routes : List.of(GgnRoute.NETWORK))
        measureStrategy(w, be, network, params, strategy, route, gradientPass, grad, results, rng, limit, maxDirections, ns);
    if (!diagonals.isEmpty() || networkProducts || lanczos > 0) {
      Pass pass = gradientPass.get();
      BenchToolbox.Rows rows = rows(results, grad, w, be);
      BenchToolbox.diagonals(rows, be, network, pass, diagonals, batch, MemoryEstimate.precisionOf(be).bytes(), limit, this::barNotice);
      if (networkProducts) {
        List<Long> sizes = ProductFlops.productSizes(ns);
        String series = "network products (" + kind.label() + ")";
        rates.put(series, BenchToolbox.printScaling(w, series, BenchToolbox.networkProducts(rows, be, network, pass, kind, directions, rng),
            kind == CurvatureKind.GGN && sizes != null ? ProductFlops.networkGgnPerColumn(sizes) : Double.NaN, batch));
      }
      if (lanczos > 0) BenchToolbox.lanczos(rows, network, pass, kind, lanczos, limit);
      pass.close();
    }
    GemmThroughput.Row after = gemmRate == null ? null : gemmRate(w, be, "after");
    if (gemmRate != null) printShares(w, be, results, before, after);
    if (torch) torchRows(w, be, network, params, xb, yb, results, grad);
    if (out != null) writeJson(out, ns, be, kind, results, before, after);
    w.flush();
  }

  /**
   * One strategy's rows (with the exact strategy, for one GGN route): its curvature pass (all but
   * exact by the network route), its products with all blocks per number of directions (and layer
   * blocks), and the Kronecker-factored strategies' damped inverse.
   */
  private void measureStrategy(PrintWriter w, Backend be, Network network, Map<String, Batch> params, Strategy strategy, GgnRoute route,
      Supplier<Pass> gradientPass, Result grad, List<Result> results, Random rng, long limit, int maxDirections, NetworkSpec ns) {
    boolean factored = route == GgnRoute.FACTORED;
    String name = strategy.label() + (factored ? " (factored)" : "");
    String products = factored ? "factored" : strategy.label(); // the rows' names: "factored products, all blocks, ..." fits the column
    Pass pass = gradientPass.get();
    Curvature c;
    try {
      // the memory estimate of this strategy's pass and products (kfra/bda: the layers' matrices first; factored: the loss factor's columns)
      MemoryEstimate.curvature(network, params, batch, kind, strategy, route, 1, false, MemoryEstimate.Output.VECTORS, maxDirections, limit).check(limit);
      String row = "curvature pass " + name; // the line names its row: a --diagonals row may say the same
      c = Curvature.of(pass, kind, strategy, KfacOptions.defaults(), route, limit, line -> barNotice(row + ": " + line)); // the timed runs say it no more
    } catch (IllegalArgumentException refused) {
      // the memory estimate refused this strategy: report it and go on
      bar.clear();
      w.printf("  %-48s refused: %s%n", "curvature pass " + name, refused.getMessage());
      results.add(new Result("curvature pass " + name + " (refused: " + refused.getMessage().replace("\"", "'") + ")", Double.NaN,
          Double.NaN, -1, -1));
      measured += perStrategy(strategy, directions.size()) + (factored ? 1 : 0);
      pass.close();
      return;
    }
    List<Long> sizes = ProductFlops.productSizes(ns), weights = ProductFlops.weightSizes(ns), outputs = ProductFlops.outputSizes(ns);
    int r = network.lossFactorRank();
    if (strategy != Strategy.EXACT)
      results.add(time("curvature pass " + name, () -> pass.curvature(kind, strategy, limit), grad.medianSeconds, w, be));
    if (factored) {
      // the set-up: the loss factor's columns carried back once, released after each run
      Result setUp = time("curvature pass " + name, () -> {
        Curvature once = Curvature.of(pass, kind, strategy, KfacOptions.defaults(), route, limit, line -> {});
        once.release();
        return null;
      }, grad.medianSeconds, w, be);
      results.add(setUp);
      if (sizes != null)
        w.printf(Locale.ROOT, "    GEMM FLOPs of the set-up: %.4g (%.4g per sample: the r = %d columns through every layer above the first, and J_W' S of the weights that keep it), %.1f GFLOP/s%n",
            ProductFlops.factoredSetUpPerSample(sizes, weights, outputs, r) * batch, ProductFlops.factoredSetUpPerSample(sizes, weights, outputs, r), r,
            ProductFlops.factoredSetUpPerSample(sizes, weights, outputs, r) * batch / setUp.medianSeconds() / 1e9);
    }
    Map<Integer, Double> seconds = new LinkedHashMap<>();
    if (strategy == Strategy.EXACT && blockUnits.contains("layer"))
      rates.put(products + " products, layer blocks", BenchToolbox.printScaling(w, products + " products, layer blocks",
          BenchToolbox.layerProducts(rows(results, grad, w, be), products, be, network, c, directions, rng),
          sizes == null || factored ? Double.NaN : ProductFlops.exactLayerBlocksPerColumn(sizes), batch));
    for (int v : strategy == Strategy.EXACT && !blockUnits.contains("parameter") ? List.<Integer>of() : directions) {
      Map<String, Batch> dirs = BenchToolbox.directions(network, be, v, rng);
      Result result = time(products + " products, all blocks, " + v + " direction" + (v == 1 ? "" : "s"), () -> {
        // the products computed (device backends: finished by time()), not copied to Java arrays; released for reuse
        for (String p : network.parameterNames()) be.release(c.matProd(p, dirs.get(p)));
        return null;
      }, grad.medianSeconds, w, be);
      results.add(result);
      seconds.put(v, result.medianSeconds());
    }
    double flops = strategy != Strategy.EXACT || sizes == null ? Double.NaN
        : factored ? ProductFlops.factoredBlocksPerColumn(sizes, weights, outputs, r) : ProductFlops.exactBlocksPerColumn(sizes);
    rates.put(products + " products, all blocks", BenchToolbox.printScaling(w, products + " products, all blocks", seconds, flops, batch));
    if (strategy.isKroneckerFactored()) BenchToolbox.dampedInverse(rows(results, grad, w, be), be, network, c, BenchToolbox.directions(network, be, 1, rng));
    c.release();
    pass.close();
  }

  /** {@code --gemm-rate}: the backend's {@code n x n} product timed now ({@code when}: before or after the network's rows), printed. */
  private GemmThroughput.Row gemmRate(PrintWriter w, Backend be, String when) {
    bar.step(measured, "GEMM rate, n = " + gemmRate + ", " + when);
    GemmThroughput.Row r = GemmThroughput.rate(be, gemmRate, Math.max(1, warmup), repeat); // a cold product would flatter the shares
    measured++;
    bar.clear();
    w.printf(Locale.ROOT, "  GEMM rate, n = %d, %s: %.1f GFLOP/s (%s, %.3g s, max |diff| / max |ref| %.1e against the float64 BLAS product)%n", gemmRate,
        when, r.gflops(), r.implementation(), r.medianSeconds(), r.relativeError());
    if (!(be instanceof OpenClBackend)) {
      // the host's memory rate beside it, on the threads of the backend's kernels: the bound of the
      // kernels between the products. The pool's released blocks are handed back first; a refusal
      // of the two blocks (checked against --memory-limit before any work) is a note, not the end
      // of a bench whose rows have run
      if (be instanceof PooledBackend pooled) pooled.trimPool();
      try {
        MemoryThroughput.Row m = MemoryThroughput.rate(kernelThreads(be), Math.max(1, warmup), repeat);
        memoryRates.add(m);
        w.printf(Locale.ROOT, "  memory rate, %s: %.1f GB/s (memcpy of %d MiB on %d thread%s, %.3g s; bytes read and written)%n", when, m.gbPerSecond(),
            m.bytes() >> 20, m.threads(), m.threads() == 1 ? "" : "s", m.medianSeconds());
      } catch (UserError refused) {
        w.printf(Locale.ROOT, "  memory rate, %s: not measured (%s)%n", when, refused.getMessage());
      }
    }
    w.flush();
    bar.step(measured, "GEMM rate");
    return r;
  }

  /** The threads a host backend's streaming kernels run on: the BLAS backend's ({@code --threads}), one for the cpu backend's loops. */
  static int kernelThreads(Backend be) {
    return be instanceof BlasBackend blas ? blas.threads() : 1;
  }

  /** Refuses {@code --gemm-rate} beside {@code --gemm-sizes}, and an n below 1 or whose operands would not fit in half the heap (before any work). */
  private void checkGemmRate() {
    if (gemmSizes != null && !gemmSizes.isEmpty())
      throw new UserError("--gemm-rate goes with a network bench (--net); --gemm-sizes times matrix products alone");
    if (gemmRate < 1) throw new UserError("--gemm-rate: the size n of the n x n product must be >= 1, not " + gemmRate);
    long heap = GemmThroughput.heapBytes(gemmRate), half = Runtime.getRuntime().maxMemory() / 2;
    if (gemmRate > 46340 || heap > half)
      throw new UserError("--gemm-rate " + gemmRate + ": its operands and reference product take " + MemoryEstimate.bytes(heap) + " of heap, over half of "
          + MemoryEstimate.bytes(2 * half) + " (use a smaller n: 2048 measures the rate)");
  }

  /** Refuses, before any work, a --memory-limit below the memory rate's two blocks on a host backend (the rate is measured beside the GEMM rate there). */
  private void checkMemoryRate(Backend be) {
    if (gemmRate != null && !(be instanceof OpenClBackend)) MemoryThroughput.checkLimit(memoryLimit.bytes());
  }

  /** The memory rate the bounds are taken with: the higher of the measurements (the stricter bound); NaN where none was measured. */
  private double memoryReference() {
    return memoryRates.stream().mapToDouble(MemoryThroughput.Row::gbPerSecond).max().orElse(Double.NaN);
  }

  /**
   * A profiled row's bound, in seconds: its products' FLOPs at the GEMM rate, then its other
   * kernels' traffic at the memory rate (the kernels run in turn, each on all threads); the time
   * outside the backend is not in it.
   */
  record Bound(double products, double others) {
    double seconds() {
      return products + others;
    }
  }

  /** {@link Bound} of a profile with entries of {@code entryBytes}, at the given GEMM and memory rates. */
  static Bound bound(KernelProfiler.Profile p, int entryBytes, double gemmGflops, double memoryGbPerSecond) {
    return new Bound(p.productFlops() / (gemmGflops * 1e9), p.otherEntries() * entryBytes / (memoryGbPerSecond * 1e9));
  }

  /** The GEMM rate {@code --gemm-rate}'s shares are taken of: the higher of the two measurements (the stricter share). */
  static double referenceRate(GemmThroughput.Row before, GemmThroughput.Row after) {
    return Math.max(before.gflops(), after.gflops());
  }

  /** Each product series' GFLOP/s (where its FLOP count is known) as a share of {@link #referenceRate}. */
  private void printShares(PrintWriter w, Backend be, List<Result> results, GemmThroughput.Row before, GemmThroughput.Row after) {
    double reference = referenceRate(before, after);
    w.printf(Locale.ROOT, "  share of the GEMM rate (%.1f GFLOP/s, the higher of before and after):%n", reference);
    boolean any = false;
    for (Map.Entry<String, Map<Integer, Double>> e : rates.entrySet()) {
      if (e.getValue().isEmpty()) continue;
      List<String> per = new ArrayList<>();
      for (Map.Entry<Integer, Double> d : e.getValue().entrySet())
        per.add(String.format(Locale.ROOT, "D=%d %.1f GFLOP/s = %.1f %%", d.getKey(), d.getValue(), 100 * d.getValue() / reference));
      w.println("    " + e.getKey() + ": " + String.join("; ", per));
      any = true;
    }
    if (!any) w.println("    no product series with a known GEMM FLOP count (nets of linear and conv2d layers, the exact strategy or the network products)");
    // --profile: the products alone (their own calls' time against their own FLOPs) of each profiled row
    for (Map.Entry<String, KernelProfiler.Profile> e : profiles.entrySet()) {
      KernelProfiler.Profile p = e.getValue();
      if (p.productFlops() <= 0) continue;
      double gflops = p.productFlops() / p.productSeconds() / 1e9;
      w.printf(Locale.ROOT, "    %s, its products alone (profiled runs, %.1f %% of their time): %.1f GFLOP/s = %.1f %%%n", e.getKey(),
          100 * p.productSeconds() / p.seconds(), gflops, 100 * gflops / reference);
      ShapeShare share = "shapes".equals(profile) ? shapeShare(p, reference, SHAPE_SHARE_THRESHOLD) : null;
      if (share != null) {
        // the products read call by call: which share of their FLOPs ran in shapes at >= 80 % of the GEMM rate
        KernelProfiler.Kernel below = share.largestBelow();
        w.printf(Locale.ROOT, "    %s, its products by shape: %.1f %% of their FLOPs in shapes at >= %.0f %% of the GEMM rate (%d of %s)%s%n",
            e.getKey(), 100 * share.fraction(), 100 * SHAPE_SHARE_THRESHOLD, share.shapesAtRate(), Words.count(share.shapes(), "shape"), below == null ? ""
                : String.format(Locale.ROOT, "; the most FLOPs below it: %s, %.1f %% of them, at %.1f %%", below.name(),
                    100 * below.flops() / share.flops(), 100 * below.flops() / below.seconds() / 1e9 / reference));
      }
    }
    // --profile on a host: the other kernels against the memory rate, and each row against its bound
    double memory = memoryReference();
    if (profiles.isEmpty() || Double.isNaN(memory)) {
      w.flush();
      return;
    }
    int entryBytes = MemoryEstimate.precisionOf(be).bytes();
    w.printf(Locale.ROOT, "  share of the memory rate (%.1f GB/s, the higher of before and after) and of the bound (products at the GEMM rate, "
        + "then the other kernels' traffic at the memory rate):%n", memory);
    for (Map.Entry<String, KernelProfiler.Profile> e : profiles.entrySet()) {
      KernelProfiler.Profile p = e.getValue();
      double bytes = p.otherEntries() * entryBytes;
      if (bytes > 0 && p.otherSeconds() > 0)
        w.printf(Locale.ROOT, "    %s, its other kernels (profiled runs, %.1f %% of their time): %.3g GB streamed, %.1f GB/s = %.1f %%%n", e.getKey(),
            100 * p.otherSeconds() / p.seconds(), bytes / 1e9, bytes / p.otherSeconds() / 1e9, 100 * bytes / p.otherSeconds() / 1e9 / memory);
      double median = results.stream().filter(r -> r.what().equals(e.getKey())).mapToDouble(Result::medianSeconds).findFirst().orElse(Double.NaN);
      Bound bound = bound(p, entryBytes, reference, memory);
      if (p.productFlops() > 0 && !Double.isNaN(median))
        w.printf(Locale.ROOT, "    %s: bound %.4f s (products %.4f s, other kernels %.4f s), measured %.4f s = %.1f %% of the bound's speed%n", e.getKey(),
            bound.seconds(), bound.products(), bound.others(), median, 100 * bound.seconds() / median);
    }
    w.flush();
  }

  /** The share of the GEMM rate that {@code --profile shapes} counts a product's shape as running at (issue 17 §5's 80 %). */
  static final double SHAPE_SHARE_THRESHOLD = 0.8;

  /**
   * A profile's products shape by shape: {@code fraction} of their FLOPs ran in the {@code shapesAtRate} of their
   * {@code shapes} (kernels, with --profile shapes each call's shapes) whose FLOPs over seconds reach the threshold;
   * {@code largestBelow} is the shape below the threshold with the most FLOPs (null: none below it); {@code flops} their FLOPs, the base of
   * the shares.
   */
  record ShapeShare(double fraction, int shapesAtRate, int shapes, KernelProfiler.Kernel largestBelow, double flops) {}

  /**
   * {@link ShapeShare} of a profile's products with FLOPs, against {@code threshold} times the GEMM rate {@code
   * referenceGflops}; null where the profile has no product with FLOPs.
   */
  static ShapeShare shapeShare(KernelProfiler.Profile p, double referenceGflops, double threshold) {
    double all = 0, atRate = 0;
    int shapes = 0, fast = 0;
    KernelProfiler.Kernel largestBelow = null;
    for (KernelProfiler.Kernel k : p.kernels()) {
      if (!k.product() || k.flops() <= 0 || k.seconds() <= 0) continue;
      all += k.flops();
      shapes++;
      if (k.flops() / k.seconds() / 1e9 >= threshold * referenceGflops) {
        atRate += k.flops();
        fast++;
      } else if (largestBelow == null || k.flops() > largestBelow.flops()) {
        largestBelow = k;
      }
    }
    return shapes == 0 ? null : new ShapeShare(atRate / all, fast, shapes, largestBelow, all);
  }

  /** Most kernels (calls, with shapes) a row's profile lists one by one; the rest are summed in one line. */
  private static final int PROFILE_LINES = 12, PROFILE_SHAPE_LINES = 30;

  /**
   * {@code --profile}: a row's profiled runs (their mean per run), kernel by kernel, the longest
   * first: a product's FLOPs and GFLOP/s, another kernel's traffic ({@code entryBytes} an entry)
   * and GB/s.
   */
  static void printProfile(PrintWriter w, KernelProfiler.Profile p, int lines, int entryBytes) {
    double total = p.seconds(), products = p.productSeconds(), kernels = p.kernelSeconds();
    w.printf(Locale.ROOT, "    profile, per run (%.4f s): products %.1f %% (%.4f s%s), other kernels %.1f %%, outside the backend %.1f %%%n",
        total, 100 * products / total, products, products > 0
            ? String.format(Locale.ROOT, ", %.4g FLOP, %.1f GFLOP/s", p.productFlops(), p.productFlops() / products / 1e9) : "",
        100 * (kernels - products) / total, 100 * Math.max(0, total - kernels) / total);
    List<KernelProfiler.Kernel> ks = p.kernels();
    for (int i = 0; i < ks.size(); i++) {
      KernelProfiler.Kernel k = ks.get(i);
      if (i == lines && ks.size() > lines + 1) {
        List<KernelProfiler.Kernel> rest = ks.subList(i, ks.size());
        double sec = rest.stream().mapToDouble(KernelProfiler.Kernel::seconds).sum();
        w.printf(Locale.ROOT, "      %-26s %7d calls %9.4f s %6.1f %%%n", (ks.size() - i) + " other kernels",
            rest.stream().mapToLong(KernelProfiler.Kernel::calls).sum(), sec, 100 * sec / total);
        break;
      }
      String rate = k.product() ? String.format(Locale.ROOT, "  %.4g FLOP, %.1f GFLOP/s", k.flops(), k.flops() / k.seconds() / 1e9)
          : k.entries() > 0 && k.seconds() > 0
              ? String.format(Locale.ROOT, "  %.3g GB, %.1f GB/s", k.entries() * entryBytes / 1e9, k.entries() * entryBytes / k.seconds() / 1e9) : "";
      w.printf(Locale.ROOT, "      %-26s %7d calls %9.4f s %6.1f %%%s%n", k.name(), k.calls(), k.seconds(), 100 * k.seconds() / total, rate);
    }
  }

  /** A notice on standard error (that a diagonal runs in chunks of samples), the progress bar cleared first. */
  private void barNotice(String line) {
    bar.clear();
    notice(line);
  }

  /** The toolbox's rows: timed against the gradient pass into {@code results}, or reported as refused. */
  private BenchToolbox.Rows rows(List<Result> results, Result grad, PrintWriter w, Backend be) {
    return new BenchToolbox.Rows() {
      @Override
      public Result time(String what, Supplier<Object> run) {
        Result r = BenchCommand.this.time(what, run, grad.medianSeconds, w, be);
        results.add(r);
        return r;
      }

      @Override
      public void refused(String what, String why) {
        bar.clear();
        w.printf("  %-48s refused: %s%n", what, why);
        w.flush();
        results.add(new Result(what + " (refused: " + why.replace("\"", "'") + ")", Double.NaN, Double.NaN, -1, -1));
        measured++;
      }
    };
  }

  private Result time(String what, Supplier<Object> run, double reference, PrintWriter w, Backend be) {
    warmUp(what, run, be);
    double[] s = new double[repeat];
    long peak = 0, offHeapPeak = 0;
    for (int i = 0; i < repeat; i++) {
      bar.step(measured, what + ": run " + (i + 1) + "/" + repeat);
      System.gc();
      resetPeaks();
      long t0 = System.nanoTime();
      run.get();
      be.finish(); // device backends: until the enqueued kernels are done
      s[i] = (System.nanoTime() - t0) / 1e9;
      peak = Math.max(peak, heapPeak());
    }
    // off-heap peak: one more, untimed run that starts with no pooled blocks, so that the native
    // bytes it reaches are what the pass needs (released blocks are reused within the pass)
    if (be instanceof PooledBackend pooled) pooled.trimPool();
    System.gc();
    OffHeapSampler sampler = new OffHeapSampler();
    run.get();
    offHeapPeak = sampler.stop();
    KernelProfiler.Profile profiled = null;
    if (profiler != null) {
      // as many runs again as were timed, every call timed; their mean per run (one run's profile varied by a third)
      System.gc();
      profiler.start();
      for (int i = 0; i < repeat; i++) {
        bar.step(measured, what + ": profiled run " + (i + 1) + "/" + repeat);
        run.get();
      }
      profiled = profiler.stop().perRun(repeat);
      profiles.put(what, profiled);
    }
    measured++;
    Arrays.sort(s);
    double median = repeat % 2 == 1 ? s[repeat / 2] : (s[repeat / 2 - 1] + s[repeat / 2]) / 2;
    double ratio = reference == 1 && what.equals("gradient pass") ? 1 : median / reference;
    bar.clear(); // standard output and error may share the terminal line
    w.printf(Locale.ROOT, "  %-48s %10.4f s  %6.2fx gradient  peak heap %7.1f MiB  off-heap +%7.1f MiB%n", what, median, ratio,
        peak / 1048576.0, offHeapPeak / 1048576.0);
    if (profiled != null)
      printProfile(w, profiled, profile.equals("shapes") ? PROFILE_SHAPE_LINES : PROFILE_LINES, MemoryEstimate.precisionOf(be).bytes());
    w.flush();
    bar.step(measured, what);
    return new Result(what, median, ratio, peak, offHeapPeak);
  }

  /**
   * Samples the native memory JavaCPP holds (the BLAS backends' batches) every millisecond on a
   * daemon thread: the peak above the level at the start is the pass's off-heap peak (approximate:
   * a shorter-lived block can slip between two samples).
   */
  static final class OffHeapSampler {
    private final long base = Pointer.totalBytes();
    private volatile long peak = base;
    private volatile boolean running = true;
    private final Thread thread;

    OffHeapSampler() {
      thread = new Thread(() -> {
        while (running) {
          peak = Math.max(peak, Pointer.totalBytes());
          try {
            Thread.sleep(1);
          } catch (InterruptedException e) {
            return;
          }
        }
      }, "hbp-offheap-sampler");
      thread.setDaemon(true);
      thread.start();
    }

    /** Stops sampling; the peak above the starting level, in bytes. */
    long stop() {
      running = false;
      try {
        thread.join();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      peak = Math.max(peak, Pointer.totalBytes());
      return peak - base;
    }
  }

  /** Most extra warm-up runs, and most seconds spent on them, while the JIT still compiles. */
  private static final int MAX_JIT_WARMUP_RUNS = 200;
  private static final double MAX_JIT_WARMUP_SECONDS = 30;

  /**
   * The --warmup runs, then more until one passes with no JIT compilation (at most
   * {@value #MAX_JIT_WARMUP_RUNS} more, or {@value #MAX_JIT_WARMUP_SECONDS} s of them): until then the compiler threads share the cores with the
   * measured code, and on 2 cores that made the FC gradient pass 25 % slower after 8 runs than in
   * the steady state a training run spends its time in.
   */
  private void warmUp(String what, Supplier<Object> run, Backend be) {
    for (int i = 0; i < warmup; i++) {
      bar.step(measured, what + ": warm-up " + (i + 1) + "/" + warmup);
      run.get();
    }
    be.finish();
    CompilationMXBean jit = ManagementFactory.getCompilationMXBean();
    if (!waitForJit || jit == null || !jit.isCompilationTimeMonitoringSupported()) return;
    long start = System.nanoTime();
    for (int i = 0; i < MAX_JIT_WARMUP_RUNS && (System.nanoTime() - start) / 1e9 < MAX_JIT_WARMUP_SECONDS; i++) {
      bar.step(measured, what + ": warm-up " + (warmup + i + 1) + ", until the JIT compiler is idle");
      long before = jit.getTotalCompilationTime();
      run.get();
      be.finish();
      if (jit.getTotalCompilationTime() == before) return;
    }
  }

  private static void resetPeaks() {
    for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans()) if (p.getType() == MemoryType.HEAP) p.resetPeakUsage();
  }

  private static long heapPeak() {
    long s = 0;
    for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans()) if (p.getType() == MemoryType.HEAP) s += p.getPeakUsage().getUsed();
    return s;
  }

  /**
   * {@code --torch}: the same network in PyTorch ({@link TorchBench}, lowered by {@link TorchProgram}) on the bench's parameters and
   * batch, in the same run: its gradient pass and (ggn, hessian) exact products of all blocks per number of directions, each beside
   * ours; then how closely PyTorch's loss, gradients and products agree with hbp's.
   */
  private void torchRows(PrintWriter w, Backend be, Network network, Map<String, Batch> params, Batch xb, Batch yb, List<Result> results,
      Result grad) throws Exception {
    int threadCount = compute.threads > 0 ? compute.threads : Runtime.getRuntime().availableProcessors();
    Map<Integer, Map<String, Batch>> dirs = new LinkedHashMap<>();
    if (TorchBench.hasProducts(kind)) {
      Random rng = new Random(7);
      for (int v : directions) dirs.putIfAbsent(v, BenchToolbox.directions(network, be, v, rng));
    }
    bar.clear();
    w.printf("  PyTorch (same parameters and batch, %d threads, %s): running%n", threadCount, be.name().endsWith("f32") ? "float32" : "float64");
    w.flush();
    TorchBench.Run run = TorchBench.run(network, params, xb, yb, kind, dirs, dataValues, be.name().endsWith("f32") ? "float32" : "float64", threadCount,
        warmup, repeat);
    w.println("  PyTorch lowering: native operations for " + names(run.nativeModules()) + "; generated code (hbp generate --target pytorch) for "
        + names(run.generatedModules()));
    w.println("  PyTorch BLAS: " + (run.blasLibraries().isEmpty() ? "none mapped (its products ran in its own kernels)" : String.join(", ", run.blasLibraries())));
    if (run.referenceBlas())
      w.println("  WARNING: PyTorch ran on the reference (netlib) BLAS, some 20-30x slower than an optimised one: its times below are not a"
          + " fair comparison. Install an optimised BLAS for it (Debian: apt-get install libopenblas0-pthread) and run again.");
    results.add(new Result("PyTorch gradient pass", run.gradientSeconds(), run.gradientSeconds() / grad.medianSeconds, -1, -1));
    w.printf(Locale.ROOT, "  %-48s %10.4f s  (ours / PyTorch = %.2f)%n", "PyTorch gradient pass", run.gradientSeconds(),
        grad.medianSeconds / run.gradientSeconds());
    if (!TorchBench.hasProducts(kind)) w.println("  PyTorch products: only for --curvature ggn or hessian (autograd has no " + kind.label() + ")");
    for (Map.Entry<Integer, Double> e : run.productSeconds().entrySet()) {
      String count = e.getKey() + " direction" + (e.getKey() == 1 ? "" : "s");
      String what = "PyTorch products, all blocks, " + count;
      results.add(new Result(what, e.getValue(), e.getValue() / grad.medianSeconds, -1, -1));
      Result ours = results.stream().filter(r -> r.what().equals("exact products, all blocks, " + count)).findFirst().orElse(null);
      w.printf(Locale.ROOT, "  %-48s %10.4f s  %6.2fx gradient%s%n", what, e.getValue(), e.getValue() / grad.medianSeconds,
          ours == null ? "" : String.format(Locale.ROOT, "  (ours exact / PyTorch = %.2f)", ours.medianSeconds() / e.getValue()));
    }
    if (run.productMode() != null)
      w.println("  PyTorch products: per block by autograd, " + (run.productMode().equals("batched") ? "the directions at once (is_grads_batched)"
          : "one direction at a time (no batching rule for an operation)") + "; its forward, J'u and gradient graphs made once, untimed");
    w.println("  PyTorch agrees with hbp: " + TorchBench.agreement(network, params, xb, yb, run, kind, dirs, memoryLimit.bytes()));
    w.flush();
    for (Map<String, Batch> d : dirs.values()) for (Batch b : d.values()) be.release(b);
  }

  private static String names(List<String> modules) {
    return modules.isEmpty() ? "none" : String.join(", ", modules);
  }

  /** A row's profile as JSON: its seconds, the products' seconds and FLOPs, and each kernel's calls, seconds and FLOPs. */
  static String profileJson(KernelProfiler.Profile p) {
    List<String> ks = new ArrayList<>();
    for (KernelProfiler.Kernel k : p.kernels())
      // seconds to 7 significant digits, as the FLOPs: a short call's rate is recomputed from them
      ks.add(String.format(Locale.ROOT, "{\"kernel\": \"%s\", \"calls\": %d, \"seconds\": %.6e, \"flops\": %.6e, \"entries\": %.6e, \"product\": %s}",
          k.name(), k.calls(), k.seconds(), k.flops(), k.entries(), k.product()));
    return String.format(Locale.ROOT, "{\"seconds\": %.6e, \"product_seconds\": %.6e, \"product_flops\": %.6e, \"other_seconds\": %.6e, "
        + "\"other_entries\": %.6e, \"kernel_seconds\": %.6e, \"kernels\": [%s]}", p.seconds(), p.productSeconds(), p.productFlops(), p.otherSeconds(),
        p.otherEntries(), p.kernelSeconds(), String.join(", ", ks));
  }

  private static String number(double v) {
    return Double.isNaN(v) ? "null" : String.format(Locale.ROOT, "%.6f", v);
  }

  private void writeJson(Path file, NetworkSpec ns, Backend be, CurvatureKind kind, List<Result> results, GemmThroughput.Row before,
      GemmThroughput.Row after) throws IOException {
    StringBuilder sb = new StringBuilder("{\n");
    sb.append(String.format(Locale.ROOT, "  \"network\": \"%s\", \"batch\": %d, \"backend\": \"%s\", \"cores\": %d, \"curvature\": \"%s\",%n", ns.name(), batch,
        be.name(), Runtime.getRuntime().availableProcessors(), kind.label()));
    sb.append("  \"results\": [\n");
    for (int i = 0; i < results.size(); i++) {
      Result r = results.get(i);
      KernelProfiler.Profile p = profiles.get(r.what);
      sb.append(String.format(Locale.ROOT, "    {\"what\": \"%s\", \"median_s\": %s, \"ratio_to_gradient\": %s, \"peak_heap_bytes\": %d, \"peak_off_heap_bytes\": %d%s}%s%n",
          r.what, number(r.medianSeconds), number(r.ratio), r.peakHeapBytes, r.peakOffHeapBytes, p == null ? "" : ", \"profile\": " + profileJson(p),
          i + 1 < results.size() ? "," : ""));
    }
    sb.append("  ]");
    if (before != null) {
      double reference = referenceRate(before, after);
      sb.append(String.format(Locale.ROOT, ",%n  \"gemm_rate\": {\"n\": %d, \"implementation\": \"%s\", \"before_gflops\": %.3f, \"after_gflops\": %.3f, "
          + "\"reference_gflops\": %.3f, \"relative_error\": %.3e},%n", gemmRate, before.implementation(), before.gflops(), after.gflops(), reference,
          Math.max(before.relativeError(), after.relativeError())));
      List<String> shares = new ArrayList<>();
      for (Map.Entry<String, Map<Integer, Double>> e : rates.entrySet())
        for (Map.Entry<Integer, Double> d : e.getValue().entrySet())
          shares.add(String.format(Locale.ROOT, "    {\"series\": \"%s\", \"directions\": %d, \"gflops\": %.3f, \"share_of_gemm_rate\": %.4f}", e.getKey(),
              d.getKey(), d.getValue(), d.getValue() / reference));
      sb.append("  \"gemm_shares\": [").append(shares.isEmpty() ? "" : "\n" + String.join(",\n", shares) + "\n  ").append("]");
      double memory = memoryReference();
      if (!Double.isNaN(memory)) {
        // the memory rate, and each profiled row's bound (products at the GEMM rate, the other kernels' traffic at the memory rate)
        MemoryThroughput.Row m = memoryRates.get(0);
        sb.append(String.format(Locale.ROOT, ",%n  \"memory_rate\": {\"threads\": %d, \"block_bytes\": %d, \"gb_per_s\": [%s], \"reference_gb_per_s\": %.3f}",
            m.threads(), m.bytes(), String.join(", ", memoryRates.stream().map(r -> String.format(Locale.ROOT, "%.3f", r.gbPerSecond())).toList()), memory));
        int entryBytes = MemoryEstimate.precisionOf(be).bytes();
        List<String> bounds = new ArrayList<>();
        for (Result r : results) {
          KernelProfiler.Profile p = profiles.get(r.what);
          if (p == null || p.productFlops() <= 0) continue;
          double bound = bound(p, entryBytes, reference, memory).seconds();
          bounds.add(String.format(Locale.ROOT, "    {\"what\": \"%s\", \"bound_s\": %s, \"median_s\": %s, \"share_of_bound\": %.4f}", r.what, number(bound),
              number(r.medianSeconds), bound / r.medianSeconds));
        }
        sb.append(",\n  \"bounds\": [").append(bounds.isEmpty() ? "" : "\n" + String.join(",\n", bounds) + "\n  ").append("]");
      }
    }
    sb.append("\n}\n");
    AtomicFiles.writeString(file, overwrite.existing(), sb.toString());
  }
}
