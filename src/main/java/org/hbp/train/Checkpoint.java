package org.hbp.train;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.hbp.backend.Batch;
import org.hbp.io.NdArray;
import org.hbp.io.Npz;
import org.hbp.io.NpyException;
import org.hbp.network.Network;
import org.hbp.network.TorchLayout;

/**
 * A training checkpoint in one {@code .npz}, written atomically: the parameters under the
 * network's names in PyTorch's shapes (so {@code hbp curvature --params} and NumPy read them), the
 * optimizer's state as {@code optimizer.<key>} (flat float64), and the progress as scalars {@code
 * epoch}, {@code step}, {@code samples}, {@code wall_seconds}.
 */
public record Checkpoint(Map<String, Batch> parameters, Map<String, double[]> optimizerState, int epoch, long step, long samples,
    double wallSeconds) {
  public static final String FILE = "checkpoint.npz";

  /** Writes to {@code file} (a temporary file moved into place: never a partial checkpoint). */
  public void write(Network net, Path file) throws IOException {
    TorchLayout layout = new TorchLayout(net);
    Map<String, NdArray> arrays = new LinkedHashMap<>();
    for (String name : net.parameterNames()) arrays.put(name, layout.toTorch(name, parameters.get(name), true));
    for (Map.Entry<String, double[]> e : optimizerState.entrySet())
      arrays.put("optimizer." + e.getKey(), NdArray.of(e.getValue(), e.getValue().length));
    arrays.put("epoch", NdArray.scalar(epoch));
    arrays.put("step", NdArray.scalar(step));
    arrays.put("samples", NdArray.scalar(samples));
    arrays.put("wall_seconds", NdArray.scalar(wallSeconds));
    Npz.write(file, arrays); // Npz writes through a temporary file and a move
  }

  /** Reads a checkpoint written by {@link #write}; errors name the file and the array. */
  public static Checkpoint read(Network net, Path file) throws IOException {
    if (!Files.isRegularFile(file)) throw new IOException(file + ": no checkpoint to resume from (written after each epoch by hbp train)");
    Map<String, NdArray> arrays = Npz.read(file);
    Map<String, Batch> params = new TorchLayout(net).parameters(arrays, file.toString());
    Map<String, double[]> state = new LinkedHashMap<>();
    for (Map.Entry<String, NdArray> e : arrays.entrySet())
      if (e.getKey().startsWith("optimizer.")) state.put(e.getKey().substring("optimizer.".length()), e.getValue().data());
    return new Checkpoint(params, state, (int) scalar(arrays, "epoch", file), (long) scalar(arrays, "step", file),
        (long) scalar(arrays, "samples", file), scalar(arrays, "wall_seconds", file));
  }

  private static double scalar(Map<String, NdArray> arrays, String name, Path file) {
    NdArray a = arrays.get(name);
    if (a == null || a.numel() != 1) throw new NpyException(file + ": no scalar '" + name + "' (not a checkpoint of hbp train?)");
    return a.data()[0];
  }
}
