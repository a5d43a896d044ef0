package org.hbp.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.hbp.UserError;
import org.hbp.backend.Batch;
import org.hbp.io.NdArray;
import org.hbp.io.Npz;
import org.hbp.network.Network;
import org.hbp.network.NetworkResolver;
import org.hbp.network.NetworkSpec;
import org.hbp.network.Pass;
import org.hbp.network.SampleGradients;
import org.hbp.network.TorchLayout;
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
            + "per-sample gradients grad l_n, entrywise, [*param shape]), arrays named as PyTorch names the parameters."})
public final class GradientsCommand extends HbpCommand {
  /** The files written into DIR. */
  static final String[] FILES = {"batch_grad.npz", "batch_l2.npz", "variance.npz"};

  @Mixin NetworkOptions networkOptions;

  @Option(names = "--params", required = true, paramLabel = "P.npz", description = "Parameters: '<index>.<param>' (or PyTorch's '<index>.weight'/'.bias').")
  Path params;

  @Option(names = "--batch", required = true, paramLabel = "B.npz", description = "x: [N, *input shape]; y: [N] class indices or [N, *target shape].")
  Path batch;

  @Option(names = "--out", required = true, paramLabel = "DIR", description = "Folder for batch_grad.npz, batch_l2.npz and variance.npz (made if missing).")
  Path out;

  @Option(names = "--backend", defaultValue = Defaults.BACKEND, paramLabel = "B",
      description = "cpu, blas-f64 (OpenBLAS, float64) or blas-f32 (float32) (default: ${DEFAULT-VALUE}).")
  String backend;

  @Mixin ComputeOptions compute;

  @Override
  public Integer call() throws Exception {
    if (Files.exists(out) && !Files.isDirectory(out)) throw new UserError("--out " + out + " is a file; give a folder");
    PrintWriter w = out();
    NetworkSpec spec = networkOptions.load();
    Network network = compute.network(spec, backend);
    networkOptions.bindData(network, params);
    TorchLayout layout = new TorchLayout(network);
    Map<String, Batch> p = layout.parametersOnly(read(params), params.toString());
    Map<String, NdArray> b = read(batch);
    Batch x = layout.inputs(Npz.requireAnyShape(b, "x", batch.toString()), batch.toString());
    Batch y = layout.targets(Npz.requireAnyShape(b, "y", batch.toString()), x.samples(), batch.toString());
    w.print(NetworkResolver.describe(spec));
    Map<String, NdArray> grads = new LinkedHashMap<>(), norms = new LinkedHashMap<>(), variances = new LinkedHashMap<>();
    try (Pass pass = network.run(p, x, y)) {
      int n = pass.samples();
      w.printf("batch of %d: loss %.17g%n", n, pass.loss());
      for (String name : network.parameterNames()) {
        String array = TorchLayout.arrayName(name, java.util.Set.of());
        Batch g = SampleGradients.batchGradients(pass, name);
        grads.put(array, layout.toTorch(name, g, false));
        network.backend().release(g);
        double[] l2 = SampleGradients.squaredNorms(pass, name);
        norms.put(array, NdArray.of(l2, n));
        Batch v = SampleGradients.variance(pass, name);
        NdArray va = layout.toTorch(name, v, true);
        network.backend().release(v);
        variances.put(array, va);
        double meanNorm = 0, total = 0;
        for (double d : l2) meanNorm += d / n;
        for (double d : va.data()) total += d;
        w.printf("  %s: mean |(1/N) grad l_n|^2 = %.6g, total variance %.6g%n", name, meanNorm, total);
      }
    }
    Files.createDirectories(out);
    Npz.write(out.resolve(FILES[0]), grads);
    Npz.write(out.resolve(FILES[1]), norms);
    Npz.write(out.resolve(FILES[2]), variances);
    w.println("wrote " + out.resolve(FILES[0]) + ", " + FILES[1] + ", " + FILES[2]);
    w.flush();
    return 0;
  }

  private static Map<String, NdArray> read(Path file) throws IOException {
    if (!Files.exists(file)) throw new UserError("file not found: " + file);
    return Npz.read(file);
  }
}
