package org.hbp.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.hbp.UserError;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.io.CommandFiles;
import org.hbp.io.NdArray;
import org.hbp.io.Npz;
import org.hbp.network.ConjugateGradient;
import org.hbp.network.Curvature;
import org.hbp.network.CurvatureKind;
import org.hbp.network.FactoredGgn;
import org.hbp.network.GgnDiagonal;
import org.hbp.network.GgnRoute;
import org.hbp.network.HessianDiagonal;
import org.hbp.network.MemoryEstimate;
import org.hbp.network.Network;
import org.hbp.network.NetworkResolver;
import org.hbp.network.NetworkSpec;
import org.hbp.network.Pass;
import org.hbp.network.Strategy;
import org.hbp.network.TorchLayout;
import org.hbp.network.WalkProgress;
import org.hbp.onnx.InitializerNames;
import org.hbp.train.Progress;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code hbp curvature}: block-diagonal curvature of a network on a batch, from NumPy files. */
@Command(name = "curvature",
    header = "Curvature blocks of a network on a batch (products, Newton step).",
    description = {
        "Block-diagonal curvature of the mean loss of a network (declared in the DSL) on one batch, with "
            + "parameters and batch from NumPy .npz files in PyTorch's layouts: products with each block (--vectors "
            + "V.npz --out OUT.npz), dense blocks (--dense OUT.npz, [numel, numel] in row-major parameter order), or the "
            + "damped Newton step of paper eq. 10 per block by CG (--solve ALPHA --out STEP.npz). Prints the loss and "
            + "gradient norms. --diagonal exact|mc|hessian --out DIAG.npz writes the diagonal of the GGN (exact, or a "
            + "Monte-Carlo estimate) from the loss factor H = S*S', or of the Hessian.",
        "A progress bar over the parameters (--vectors, --dense, --solve; over the layers with --blocks layer), or over the layers of --diagonal's walk (per chunk "
            + "of samples), runs on standard error when it is a terminal (HBP_PROGRESS=lines: plain lines; off: none)."})
public final class CurvatureCommand extends HbpCommand implements DrawsProgress {
  @Mixin NetworkOptions networkOptions;

  @Option(names = "--params", paramLabel = "P.npz", description = "Parameters: '<index>.<param>' (or PyTorch's '<index>.weight'/'.bias'); required unless --net is an ONNX model (its initializers).")
  Path params;

  @Option(names = "--batch", required = true, paramLabel = "B.npz", description = "x: [N, *input shape]; y: [N, *target shape], or [N] class indices for a loss whose target is a vector declared onehot or probability (crossentropy).")
  Path batch;

  @Option(names = "--curvature", defaultValue = Defaults.CURVATURE, paramLabel = "C",
      description = "hessian, ggn, pch-abs or pch-clip (default: ${DEFAULT-VALUE}; with --strategy diag-hessian or --diagonal hessian the "
          + "Hessian, the curvature they are defined for).",
      converter = Choices.CurvatureKinds.class)
  CurvatureKind kind;

  @Option(names = "--strategy", defaultValue = Defaults.STRATEGY, paramLabel = "S",
      description = "exact (matrix-free), kfra (eq. 8), bda (eq. 9), the GGN's Kronecker factors A (x) G: kfac (Monte-Carlo G), "
          + "kflr (exact G) or ekfac (kflr's eigenbasis, exact diagonal in it), or a diagonal: diag-ggn (the GGN's), diag-ggn-mc (its "
          + "Monte-Carlo estimate) or diag-hessian (the Hessian's) (default: ${DEFAULT-VALUE}).",
      converter = Choices.Strategies.class)
  Strategy strat;

  @Option(names = "--blocks", defaultValue = Defaults.BLOCK_UNIT, paramLabel = "B", converter = BlockChoice.Converter.class,
      description = "parameter (one block per parameter, the paper's), layer (one joint block per layer over all its parameters, "
          + "cross terms included; --strategy exact, ggn or hessian; with --vectors, --dense or --solve), or K: each parameter's block "
          + "split into K row groups (output units / channels) (default: ${DEFAULT-VALUE}).")
  BlockChoice blockChoice;

  /** Row groups per parameter ({@code --blocks K}; 1 for parameter and layer). */
  int blocks;

  @Option(names = "--scope", defaultValue = "blocks", paramLabel = "SCOPE",
      description = "blocks (each parameter's block) or net: with --vectors, exact products with the curvature of the whole "
          + "network, off-diagonal blocks included (default: ${DEFAULT-VALUE}).")
  String scope;

  @Option(names = "--vectors", paramLabel = "V.npz", description = "Directions, arrays [V, *param shape], for the parameters whose blocks to "
      + "multiply: some or all (every parameter with --scope net or --blocks layer).")
  Path vectors;

  @Option(names = "--dense", paramLabel = "OUT.npz", description = "Write each block densely.")
  Path dense;

  @Option(names = "--solve", paramLabel = "ALPHA",
      description = "Solve [ALPHA I + (1 - ALPHA) C] d = -g per block by CG (kfac, kflr, ekfac: in closed form, in the eigenbasis of the factors; "
          + "diag-ggn, diag-ggn-mc, diag-hessian: in closed form, entry by entry; "
          + "--blocks layer: one CG per layer over all its parameters).")
  Double solve;

  @Option(names = "--diagonal", paramLabel = "D",
      description = "exact or mc: the diagonal of the GGN, from the loss factor H = S*S' (exact: every column of S; mc: "
          + "--mc-samples random combinations per sample, unbiased); hessian (with --curvature hessian): the diagonal of the Hessian, "
          + "by HBP with diagonal residuals. Written with --out DIAG.npz in the parameters' shapes.")
  String diagonal;

  @Option(names = "--sampling", defaultValue = "rademacher", paramLabel = "DIST",
      description = "rademacher or gaussian: the entries of --diagonal mc's random vectors (default: ${DEFAULT-VALUE}).")
  String sampling;

  @Option(names = "--out", paramLabel = "OUT.npz", description = "Output of --vectors, --solve or --diagonal.")
  Path out;

  @Option(names = "--cg-tol", defaultValue = Defaults.CG_TOL, description = "CG relative tolerance (default: ${DEFAULT-VALUE}).")
  double cgTol;

  @Option(names = "--cg-atol", defaultValue = Defaults.CG_ATOL, description = "CG absolute tolerance (default: ${DEFAULT-VALUE}).")
  double cgAtol;

  @Option(names = "--cg-maxiter", defaultValue = Defaults.CG_MAXITER, description = "CG iteration limit (default: ${DEFAULT-VALUE}).")
  int cgMaxiter;

  @Mixin KfacOptionsMixin kfac;

  @Option(names = "--seed", defaultValue = "0", description = "Seed of the random vectors of kfac, diag-ggn-mc and --diagonal mc (default: ${DEFAULT-VALUE}).")
  long seed;

  @Mixin MemoryLimitOption memoryLimit;

  @Mixin GgnRouteOption ggnRoute;

  @Option(names = "--backend", defaultValue = Defaults.BACKEND, paramLabel = "B",
      description = "cpu, blas-f64 (OpenBLAS, float64) or blas-f32 (float32) (default: ${DEFAULT-VALUE}: results exact to float64 round-off).")
  String backend;

  @Mixin ComputeOptions compute;

  @Mixin OverwriteOption overwrite;

  @Override
  public Integer call() throws Exception {
    blocks = blockChoice.rowGroups();
    kind = Choices.curvature(spec, kind, diagonal == null ? strat.fixedCurvature() : "hessian".equals(diagonal) ? CurvatureKind.HESSIAN : CurvatureKind.GGN);
    int modes = (vectors != null ? 1 : 0) + (dense != null ? 1 : 0) + (solve != null ? 1 : 0) + (diagonal != null ? 1 : 0);
    if (modes != 1)
      throw new UserError("give exactly one of --vectors V.npz --out OUT.npz, --dense OUT.npz, --solve ALPHA --out STEP.npz, "
          + "or --diagonal exact|mc|hessian --out DIAG.npz");
    if ((vectors != null || solve != null || diagonal != null) && out == null)
      throw new UserError((vectors != null ? "--vectors" : solve != null ? "--solve" : "--diagonal") + " needs --out OUT.npz");
    GgnDiagonal.Sampling diagonalSampling = diagonal == null ? null : DiagonalMode.check(diagonal, kind, strat, blocks, scope, kfac.mcSamples, sampling);
    if (dense != null && out != null) throw new UserError("--dense writes to its own file; drop --out");
    if (blockChoice.layer()) LayerBlockRuns.checkMode(diagonal, scope, strat);
    boolean mcDiagonal = "mc".equals(diagonal), sampled = mcDiagonal || strat.drawsMonteCarlo();
    checkSolve();
    OptionScope.of(spec)
        .onlyWhen(solve != null && !strat.hasClosedFormInverse(), solve == null ? "with --solve" : "with --solve by CG (--strategy " + strat.label()
            + " solves in closed form)", "--cg-tol", "--cg-atol", "--cg-maxiter")
        .onlyWhen(mcDiagonal, "with --diagonal mc", "--sampling")
        .onlyWhen(sampled, "with --strategy kfac or diag-ggn-mc, or --diagonal mc", "--mc-samples", "--seed")
        .onlyWhen(strat == Strategy.KFAC, "with --strategy kfac", "--fisher");
    boolean wholeNet = wholeNetwork();
    networkOptions.declareInputs(new CommandFiles(overwrite.overwrite)).input("--params", params).input("--batch", batch)
        .input("--vectors", vectors).output("--dense", dense).output("--out", out).check();
    long limit = memoryLimit.bytes();
    PrintWriter w = out();

    NetworkSpec net = networkOptions.load();
    Network network = compute.network(net, backend);
    networkOptions.bindData(network, params);
    Backend be = network.backend();
    TorchLayout layout = new TorchLayout(network);
    if (blockChoice.layer()) Curvature.checkLayerBlocks(network, kind, strat);
    if (strat == Strategy.KFAC) kfac.options(0).checkFits(network); // before the batch is read
    GgnRoute route = ggnRoute.route();
    if (wholeNet) SpectrumScope.checkWholeNetwork(kind, strat, route == GgnRoute.FACTORED);
    else Curvature.checkDefined(network, kind, strat, route); // the strategy's refusals of this network and curvature, before the batch is read
    if (route == GgnRoute.FACTORED && diagonal != null)
      throw new UserError("--ggn-route factored is a route of the exact products (--vectors, --dense, --solve); --diagonal carries the loss factor's columns "
          + "back its own way (leave --ggn-route out)");
    MemoryEstimate.checkParameters(network, 0, "use a smaller network, or raise --memory-limit (or the heap: JAVA_TOOL_OPTIONS=-Xmx8g)", limit);
    InitializerNames onnxNames = networkOptions.importedNetwork() == null ? null : new InitializerNames(networkOptions.importedNetwork());
    Map<String, NdArray> paramArrays = networkOptions.parameterArrays(params);
    OutputNames names = OutputNames.of(onnxNames, paramArrays);
    if (onnxNames != null && params != null) paramArrays = onnxNames.toHbp(paramArrays);
    Map<String, Batch> p = layout.parametersOnly(paramArrays, networkOptions.parameterSource(params));
    Map<String, NdArray> b = NetworkFileOptions.readNpz("--batch", batch);
    NdArray xa = Npz.requireAnyShape(b, "x", batch.toString());
    Batch x = layout.inputs(xa, batch.toString());
    Batch y = layout.targets(Npz.requireAnyShape(b, "y", batch.toString()), x.samples(), batch.toString());
    Map<String, NdArray> vectorArrays = vectors == null ? null : NetworkFileOptions.readNpz("--vectors", vectors);
    OutputNames productNames = vectorArrays == null ? names : names.following(vectorArrays);
    if (onnxNames != null && vectorArrays != null) vectorArrays = onnxNames.toHbp(vectorArrays, wholeNet || blockChoice.layer());
    // the blocks of the parameters given (some or all); the whole network's product and the layers' joint blocks need every parameter's
    String every = wholeNet ? "--scope net multiplies the whole parameter vector" : blockChoice.layer() ? "--blocks layer multiplies whole layers' blocks" : null;
    Map<String, Batch> directions = vectorArrays == null ? null : layout.directions(vectorArrays, vectors.toString(), every);
    w.print(NetworkResolver.describe(net));
    MemoryEstimate.Output output = vectors != null ? MemoryEstimate.Output.VECTORS : dense != null ? MemoryEstimate.Output.DENSE : MemoryEstimate.Output.SOLVE;
    int directionCount = directions == null || directions.isEmpty() ? 1 : directions.values().iterator().next().directions();
    // a diagonal fits itself into what the pass leaves (in chunks of samples where needed)
    MemoryEstimate estimate = diagonal != null ? MemoryEstimate.pass(network, p, x.samples())
        : MemoryEstimate.curvature(network, p, x.samples(), kind, strat, kfac.options(seed), wholeNet ? GgnRoute.NETWORK : route, blocks,
            blockChoice.layer(), output,
            directionCount, directions == null || wholeNet ? null : directions.keySet(), limit); // the blocks multiplied alone
    if (wholeNet && route == GgnRoute.FACTORED)
      estimate = estimate.plus("the factored GGN's columns J'S (N r P)", FactoredGgn.bytes(network, x.samples()), MemoryEstimate.memoryOf(be));
    estimate.check(limit);
    w.printf("memory estimate: %s (%s)%n", MemoryEstimate.bytes(estimate.total()), estimate.describe());
    Pass pass = network.run(p, x, y);
    w.printf("batch of %d: loss %.17g%n", x.samples(), pass.loss());
    double total = 0;
    for (String name : network.parameterNames()) {
      double g = pass.gradientNorm(name);
      total += g * g;
      w.printf("  |grad %s| = %.6g%n", name, g);
    }
    w.printf("  |grad| = %.6g%n", Math.sqrt(total));
    Map<String, NdArray> result = new LinkedHashMap<>();
    if (wholeNet) {
      w.printf("curvature %s of the whole network%n", kind.label());
      long t0 = System.nanoTime();
      Map<String, Batch> products;
      if (route == GgnRoute.FACTORED) {
        FactoredGgn ggn = FactoredGgn.of(pass, limit);
        products = ggn.apply(directions);
        ggn.release();
      } else products = pass.networkProduct(kind, directions);
      for (String name : network.parameterNames())
        result.put(productNames.of(name), productNames.shaped(name, layout.toTorch(name, products.get(name), false)));
      w.printf("  %s in %.2f s%n", Words.count(directions.values().iterator().next().directions(), "product"), (System.nanoTime() - t0) / 1e9);
      Npz.write(out, overwrite.existing(), result);
      w.println("wrote " + out);
      w.flush();
      return 0;
    }
    if (diagonal != null) {
      long t0 = System.nanoTime();
      Map<String, Batch> diag;
      // a progress bar over the walk's layers, chunk by chunk (made at the first step, which knows the count)
      WalkProgress progress = (done, units, what) -> {
        if (units > Integer.MAX_VALUE) return;
        if (barTotal != units) {
          bar.close();
          bar = ProgressMode.current().bar(err(), "curvature", (int) units);
          barTotal = units;
        }
        bar.step((int) done, diagonal + " diagonal: " + what);
      };
      try {
        diag = switch (diagonal) {
          case "exact" -> GgnDiagonal.exact(pass, limit, this::notice, progress);
          case "hessian" -> HessianDiagonal.exact(pass, limit, this::notice, progress);
          default -> GgnDiagonal.monteCarlo(pass, kfac.mcSamples, diagonalSampling, seed, limit, this::notice, progress);
        };
      } finally {
        bar.close();
        bar = Progress.none();
        barTotal = -1;
      }
      w.println(DiagonalMode.describe(diagonal, kfac.mcSamples, diagonalSampling, seed, (System.nanoTime() - t0) / 1e9));
      for (String name : network.parameterNames()) result.put(names.of(name), names.shaped(name, layout.toTorch(name, diag.get(name), true)));
      Npz.write(out, overwrite.existing(), result);
      w.println("wrote " + out);
      w.flush();
      return 0;
    }
    Curvature c = Curvature.of(pass, kind, strat, kfac.options(seed), route, limit, this::notice);
    if (blockChoice.layer()) {
      LayerBlockRuns runs = new LayerBlockRuns(network, layout, c, w, names, overwrite.existing(), this::perUnit);
      if (vectors != null) runs.products(directions, productNames, out);
      else if (dense != null) runs.dense(dense, limit);
      else runs.solve(pass, solve, new ConjugateGradient.Settings(cgTol, cgAtol, cgMaxiter), out);
      w.flush();
      return 0;
    }
    w.printf("curvature %s, strategy %s, %d block%s per parameter%n", kind.label(), strat.label(), blocks, blocks == 1 ? "" : "s");
    List<String> parameters = network.parameterNames();
    if (vectors != null) {
      perUnit(List.copyOf(directions.keySet()), "products", (i, name) -> {
        Batch dirs2 = directions.get(name);
        long t0 = System.nanoTime();
        result.put(productNames.of(name), productNames.shaped(name, layout.toTorch(name, c.matProd(name, dirs2, blocks), false)));
        return String.format("  %s: %s in %.2f s", name, Words.count(dirs2.directions(), "product"), (System.nanoTime() - t0) / 1e9);
      });
      Npz.write(out, overwrite.existing(), result);
      w.println("wrote " + out);
    } else if (dense != null) {
      perUnit(parameters, "dense block", (i, name) -> {
        long t0 = System.nanoTime();
        result.put(names.of(name), layout.denseToTorch(name, c.dense(name, blocks, limit)));
        int n = network.parameterSize(name);
        return String.format("  [%d/%d] %s: %d x %d block in %.2f s", i + 1, parameters.size(), name, n, n, (System.nanoTime() - t0) / 1e9);
      });
      Npz.write(dense, overwrite.existing(), result);
      w.println("wrote " + dense);
    } else {
      ConjugateGradient.Settings s = new ConjugateGradient.Settings(cgTol, cgAtol, cgMaxiter);
      if (strat.hasClosedFormInverse()) {
        if (blocks != 1) throw new UserError("--solve with --strategy " + strat.label() + " inverts whole blocks in closed form; drop --blocks " + blocks);
        for (String name : network.parameterNames()) {
          Batch minusG = be.scale(pass.gradient(name), -1);
          result.put(names.of(name), names.shaped(name, layout.toTorch(name, c.dampedSolve(name, minusG, solve), true)));
          w.printf("  %s: closed form%s%n", name, strat.isKroneckerFactored() ? " in the eigenbasis of the Kronecker factors" : ", v / (d + lambda)");
        }
        Npz.write(out, overwrite.existing(), result);
        w.println("wrote " + out);
        w.flush();
        return 0;
      }
      perUnit(parameters, "CG solve", (i, name) -> {
        ConjugateGradient.Result r = ConjugateGradient.solve(be, v -> c.matProd(name, v, blocks), solve, be.scale(pass.gradient(name), -1), s);
        result.put(names.of(name), names.shaped(name, layout.toTorch(name, r.solution(), true)));
        return String.format("  %s: CG %s, residual %.3g (|b| %.3g)%s", name, Words.count(r.iterations(), "iteration"), r.residualNorm(), r.rhsNorm(),
            r.negativeCurvature() != null ? ", " + r.negativeCurvature().describe() : r.converged() ? "" : ", not converged");
      });
      Npz.write(out, overwrite.existing(), result);
      w.println("wrote " + out);
    }
    w.flush();
    return 0;
  }

  /** The progress bar of the per-parameter work or of a diagonal's walk (none outside them): a notice clears it first. */
  private Progress bar = Progress.none();
  /** The steps of the diagonal's bar (-1: none drawn). */
  private long barTotal = -1;

  @Override
  void notice(String line) {
    bar.clear();
    super.notice(line);
  }

  /** One unit's work (a parameter's, or with --blocks layer a layer's): its line of standard output. */
  interface UnitWork {
    String run(int index, String unit);
  }

  /** Runs work unit by unit with a progress bar ({@link #perUnit}); {@link LayerBlockRuns} gets it for its layers. */
  interface UnitSteps {
    void each(List<String> units, String what, UnitWork work);
  }

  /**
   * {@code work} for each unit in turn (the parameters, or the layers' parameter groups), with a progress bar on standard
   * error ("curvature [...] i/n  UNIT: WHAT", as {@code HBP_PROGRESS} and the terminal decide); each unit's line is printed
   * on standard output as it finishes.
   */
  private void perUnit(List<String> units, String what, UnitWork work) {
    PrintWriter w = out();
    bar = ProgressMode.current().bar(err(), "curvature", units.size());
    try {
      for (int i = 0; i < units.size(); i++) {
        bar.step(i, units.get(i) + ": " + what);
        String line = work.run(i, units.get(i));
        bar.clear(); // standard output and error may share the terminal line
        w.println(line);
        w.flush();
      }
      bar.step(units.size(), what + ": done");
    } finally {
      bar.close();
      bar = Progress.none();
    }
  }

  /** Refuses --solve's settings that cannot run (checked before any work): the damping, CG's stopping rule, --blocks on a closed form. */
  private void checkSolve() {
    if (solve == null) return;
    if (strat.hasClosedFormInverse()) {
      if (!(solve > 0 && solve <= 1))
        throw new UserError("--solve " + solve + ": the closed-form solve of --strategy " + strat.label() + " needs 0 < ALPHA <= 1");
      if (blocks != 1) throw new UserError("--solve with --strategy " + strat.label() + " inverts whole blocks in closed form; drop --blocks " + blocks);
      return;
    }
    if (!(solve >= 0 && solve <= 1)) throw new UserError("--solve " + solve + ": the damping ALPHA must be in [0, 1]");
    if (!(cgTol >= 0)) throw new UserError("--cg-tol must be >= 0, not " + cgTol);
    if (!(cgAtol >= 0)) throw new UserError("--cg-atol must be >= 0, not " + cgAtol);
    if (cgMaxiter < 1) throw new UserError("--cg-maxiter must be at least 1, not " + cgMaxiter);
  }

  /** Whether --scope asks for the whole network; checks that the other options fit it. */
  private boolean wholeNetwork() {
    if (scope.equals("blocks")) return false;
    if (!scope.equals("net")) throw new UserError("--scope " + scope + ": expected blocks or net");
    if (vectors == null) throw new UserError("--scope net computes products: give --vectors V.npz --out OUT.npz");
    if (strat != Strategy.EXACT) throw new UserError("--scope net computes exact products; --strategy " + strat.label() + " does not apply");
    if (blocks != 1) throw new UserError("--scope net takes the whole network; --blocks " + blocks + " does not apply");
    return true;
  }

}
