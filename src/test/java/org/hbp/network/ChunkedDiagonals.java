package org.hbp.network;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.hbp.backend.Batch;
import org.hbp.backend.cpu.CpuBackend;
import org.hbp.io.NdArray;
import org.hbp.io.Npz;

/**
 * The diagonals through the Java API in chunks of a forced size ({@link SampleChunks.Plan}), on
 * the params.npz and batch.npz that the PyTorch scripts write, read as {@code hbp curvature
 * --backend cpu} reads them; the result in PyTorch's names and shapes, as {@code --out DIAG.npz}
 * holds it. The oracle tests compare it with autograd exactly as they compare the CLI's output.
 */
final class ChunkedDiagonals {
  private ChunkedDiagonals() {}

  /** {@code which}: hessian, exact (the GGN's) or mc (K Monte-Carlo vectors, seed 0, Rademacher). */
  static Map<String, NdArray> compute(Path netFile, Path dir, String which, int chunk, int k) throws Exception {
    Network net = new Network(NetworkResolver.load(netFile, null, ModuleLibrary.builtInSpecDirs()), Network.builtIn(), new CpuBackend());
    TorchLayout layout = new TorchLayout(net);
    Map<String, Batch> params = layout.parametersOnly(Npz.read(dir.resolve("params.npz")), "params.npz");
    Map<String, NdArray> b = Npz.read(dir.resolve("batch.npz"));
    Batch x = layout.inputs(b.get("x"), "batch.npz");
    Batch y = layout.targets(b.get("y"), x.samples(), "batch.npz");
    Pass pass = net.run(params, x, y);
    Map<String, Batch> diagonal = switch (which) {
      case "hessian" -> HessianDiagonal.exact(pass, Curvature.DEFAULT_MEMORY_LIMIT, chunk);
      case "exact" -> GgnDiagonal.exact(pass, chunk);
      default -> GgnDiagonal.monteCarlo(pass, k, GgnDiagonal.Sampling.RADEMACHER, 0, chunk);
    };
    Map<String, NdArray> out = new LinkedHashMap<>();
    for (String name : net.parameterNames()) out.put(TorchLayout.arrayName(name, java.util.Set.of()), layout.toTorch(name, diagonal.get(name), true));
    return out;
  }
}
