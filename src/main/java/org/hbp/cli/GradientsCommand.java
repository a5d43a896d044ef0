package org.hbp.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.hbp.UserError;
import org.hbp.backend.Batch;
import org.hbp.io.CommandFiles;
import org.hbp.io.NdArray;
import org.hbp.io.Npz;
import org.hbp.network.Network;
import org.hbp.network.NetworkResolver;
import org.hbp.network.NetworkSpec;
import org.hbp.network.Pass;
import org.hbp.network.MemoryEstimate;
import org.hbp.network.SampleGradientChunks;
import org.hbp.network.TorchLayout;
import org.hbp.onnx.InitializerNames;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code hbp gradients}: per-sample gradients, their squared norms and the gradient variance (BackPACK's first-order quantities). */
@Command(name = "gradients",
    header = "Per-sample gradients, their norms and the gradient variance.",
    description = {
        "BackPACK's first-order quantities of the mean loss of a network on one batch, from the gradient pass: "
            + "DIR/batch_grad.npz (each sample's share (1/N) grad l_n, [N, *param shape]; they sum to the gradient), "
            + "DIR/batch_l2.npz (their squared norms, [N]) and DIR/variance.npz (the variance over the samples of the "
            + "per-sample gradients grad l_n, entrywise, [*param shape]), arrays named as PyTorch names the parameters.",
        "Where the batch's per-sample gradients do not fit --memory-limit at once, they are computed in chunks of samples "
            + "(one line on standard error says so; the same numbers); where batch_grad.npz alone does not fit, the run is refused."})
public final class GradientsCommand extends HbpCommand {
  /** The files written into DIR. */
  static final String[] FILES = {"batch_grad.npz", "batch_l2.npz", "variance.npz"};

  @Mixin NetworkOptions networkOptions;

  @Option(names = "--params", paramLabel = "P.npz",
      description = "Parameters: '<index>.<param>' (or PyTorch's '<index>.weight'/'.bias'); required unless --net is an ONNX model (its initializers).")
  Path params;

  @Option(names = "--batch", required = true, paramLabel = "B.npz", description = "x: [N, *input shape]; y: [N, *target shape], or [N] class indices for a loss whose target is a vector declared onehot or probability (crossentropy).")
  Path batch;

  @Option(names = "--out", required = true, paramLabel = "DIR", description = "Folder for batch_grad.npz, batch_l2.npz and variance.npz (made if missing).")
  Path out;

  @Option(names = "--backend", defaultValue = Defaults.BACKEND, paramLabel = "B",
      description = "cpu, blas-f64 (OpenBLAS, float64) or blas-f32 (float32) (default: ${DEFAULT-VALUE}).")
  String backend;

  @Mixin MemoryLimitOption memoryLimit;

  @Mixin ComputeOptions compute;

  @Mixin OverwriteOption overwrite;

  @Override
  public Integer call() throws Exception {
    CommandFiles files = networkOptions.declareInputs(new CommandFiles(overwrite.overwrite)).input("--params", params).input("--batch", batch)
        .outputsIn("--out", out, List.of(FILES));
    files.check();
    PrintWriter w = out();
    NetworkSpec spec = networkOptions.load();
    Network network = compute.network(spec, backend);
    networkOptions.bindData(network, params);
    TorchLayout layout = new TorchLayout(network);
    Map<String, NdArray> paramArrays = networkOptions.parameterArrays(params);
    InitializerNames onnx = networkOptions.importedNetwork() == null ? null : new InitializerNames(networkOptions.importedNetwork());
    OutputNames names = OutputNames.of(onnx, paramArrays);
    if (onnx != null && params != null) paramArrays = onnx.toHbp(paramArrays);
    Map<String, Batch> p = layout.parametersOnly(paramArrays, networkOptions.parameterSource(params));
    Map<String, NdArray> b = NetworkFileOptions.readNpz("--batch", batch);
    Batch x = layout.inputs(Npz.requireAnyShape(b, "x", batch.toString()), batch.toString());
    Batch y = layout.targets(Npz.requireAnyShape(b, "y", batch.toString()), x.samples(), batch.toString());
    w.print(NetworkResolver.describe(spec));
    long limit = memoryLimit.bytes();
    // the pass first; the per-sample gradients fit themselves into the rest, in chunks of samples where needed
    MemoryEstimate.pass(network, p, x.samples()).check(limit);
    files.makeFolders(); // after every other check (a refused run makes nothing), before the work: a folder the file system refuses is an error now
    try {
      return compute(w, network, layout, names, p, x, y, limit);
    } catch (Throwable t) {
      files.removeMadeFolders(); // a run refused or failed later (the per-sample gradients' memory) leaves no empty folder
      throw t;
    }
  }

  /** The pass, the per-sample gradients in chunks that fit {@code limit}, and the three files. */
  private int compute(PrintWriter w, Network network, TorchLayout layout, OutputNames names, Map<String, Batch> p, Batch x, Batch y, long limit)
      throws java.io.IOException {
    Map<String, NdArray> grads = new LinkedHashMap<>(), norms = new LinkedHashMap<>(), variances = new LinkedHashMap<>();
    try (Pass pass = network.run(p, x, y)) {
      int n = pass.samples();
      w.printf("batch of %d: loss %.17g%n", n, pass.loss());
      FirstOrder all = new FirstOrder(network, layout, n);
      SampleGradientChunks.forEach(pass, all.use(), limit, this::notice, all::add);
      for (String name : network.parameterNames()) {
        String array = names.of(name);
        grads.put(array, names.shaped(name, NdArray.of(all.gradients.get(name), all.shape(name, n))));
        double[] l2 = all.norms.get(name).result();
        norms.put(array, NdArray.of(l2, n));
        NdArray va = NdArray.of(all.variances.get(name).result(), layout.torchShape(name));
        variances.put(array, names.shaped(name, va));
        double meanNorm = 0, total = 0;
        for (double d : l2) meanNorm += d / n;
        for (double d : va.data()) total += d;
        w.printf("  %s: mean |(1/N) grad l_n|^2 = %.6g, total variance %.6g%n", name, meanNorm, total);
      }
    }
    Npz.write(out.resolve(FILES[0]), overwrite.existing(), grads);
    Npz.write(out.resolve(FILES[1]), overwrite.existing(), norms);
    Npz.write(out.resolve(FILES[2]), overwrite.existing(), variances);
    w.println("wrote " + out.resolve(FILES[0]) + ", " + FILES[1] + ", " + FILES[2]);
    w.flush();
    return 0;
  }

  /**
   * The three outputs, filled chunk by chunk in PyTorch's layout: the batch gradients
   * {@code (1/N) ∇ℓ_n} ({@code [N, *shape]}, kept whole), and the accumulators of their squared norms
   * and of the variance (entrywise, so the same in either layout).
   */
  private static final class FirstOrder {
    final Network net;
    final TorchLayout layout;
    final int samples;
    final Map<String, double[]> gradients = new LinkedHashMap<>();
    final Map<String, SampleGradientChunks.Norms> norms = new LinkedHashMap<>();
    final Map<String, SampleGradientChunks.Variance> variances = new LinkedHashMap<>();

    FirstOrder(Network net, TorchLayout layout, int samples) {
      this.net = net;
      this.layout = layout;
      this.samples = samples;
    }

    /**
     * For the memory plan: kept whole, the batch gradients (8 B an entry), the norms, the variance's
     * means and sums of squares and a chunk's own (the largest parameter's); per sample of a chunk,
     * its gradients copied twice (from the backend, then into PyTorch's layout).
     */
    SampleGradientChunks.Use use() {
      long entries = MemoryEstimate.parameterEntries(net), largest = SampleGradientChunks.largest(net);
      long kept = 8 * ((long) samples * entries + (long) samples * net.parameterNames().size() + 2 * entries + 2 * largest);
      return new SampleGradientChunks.Use("the per-sample gradients", true, kept,
          samples + " x " + entries + " numbers of 8 B for batch_grad.npz, with the norms and the variance", 2 * 8 * largest);
    }

    void add(int first, int count, Map<String, Batch> chunk) {
      double inv = 1.0 / samples;
      for (String name : net.parameterNames()) {
        double[] g = layout.toTorch(name, chunk.get(name), false).data();
        int size = g.length / count;
        double[] out = gradients.computeIfAbsent(name, k -> new double[samples * size]);
        for (int i = 0; i < g.length; i++) out[first * size + i] = g[i] * inv;
        norms.computeIfAbsent(name, k -> new SampleGradientChunks.Norms(samples)).add(first, count, g);
        variances.computeIfAbsent(name, k -> new SampleGradientChunks.Variance(size)).add(count, g);
      }
    }

    /** {@code [N, *torch shape]}. */
    int[] shape(String name, int n) {
      int[] ts = layout.torchShape(name), shape = new int[ts.length + 1];
      shape[0] = n;
      System.arraycopy(ts, 0, shape, 1, ts.length);
      return shape;
    }
  }

}
