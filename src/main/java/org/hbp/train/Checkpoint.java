package org.hbp.train;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
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

  /** The progress scalars of a checkpoint. */
  static final List<String> SCALARS = List.of("epoch", "step", "samples", "wall_seconds");

  /**
   * Reads a checkpoint written by {@link #write}; errors name the file and the array. The scalars
   * must be one entry each: {@code epoch} a whole number in [0, 2^31), {@code step} and {@code
   * samples} whole numbers in [0, 2^53], {@code wall_seconds} finite and >= 0; optimizer arrays
   * are flat (checked against the optimizer by {@link Optimizer#restore}).
   */
  public static Checkpoint read(Network net, Path file) throws IOException {
    if (!Files.isRegularFile(file)) throw new IOException(file + ": no checkpoint to resume from (written after each epoch by hbp train)");
    Map<String, NdArray> arrays = Npz.read(file);
    Map<String, NdArray> parameterArrays = new LinkedHashMap<>();
    Map<String, double[]> state = new LinkedHashMap<>();
    for (Map.Entry<String, NdArray> e : arrays.entrySet()) {
      String name = e.getKey();
      if (name.startsWith("optimizer.")) {
        if (e.getValue().shape().length != 1)
          throw new NpyException(file + ": array '" + name + "' has shape " + Arrays.toString(e.getValue().shape())
              + ", expected a flat array (optimizer state)");
        state.put(name.substring("optimizer.".length()), e.getValue().data());
      } else if (!SCALARS.contains(name)) parameterArrays.put(name, e.getValue());
    }
    Map<String, Batch> params = new TorchLayout(net).parameters(parameterArrays, file.toString());
    return new Checkpoint(params, state, (int) whole(arrays, "epoch", file, Integer.MAX_VALUE), whole(arrays, "step", file, 1L << 53),
        whole(arrays, "samples", file, 1L << 53), seconds(arrays, file));
  }

  private static double scalar(Map<String, NdArray> arrays, String name, Path file) {
    NdArray a = arrays.get(name);
    if (a == null) throw new NpyException(file + ": no scalar '" + name + "' (not a checkpoint of hbp train?)");
    if (a.numel() != 1)
      throw new NpyException(file + ": array '" + name + "' has shape " + Arrays.toString(a.shape()) + ", expected a scalar");
    return a.data()[0];
  }

  /** A scalar holding a whole number in [0, max]. */
  private static long whole(Map<String, NdArray> arrays, String name, Path file, long max) {
    double v = scalar(arrays, name, file);
    if (!(v >= 0 && v <= max && v == Math.rint(v)))
      throw new NpyException(file + ": array '" + name + "' is " + v + ", expected a whole number in [0, " + max + "]");
    return (long) v;
  }

  private static double seconds(Map<String, NdArray> arrays, Path file) {
    double v = scalar(arrays, "wall_seconds", file);
    if (!(v >= 0) || Double.isInfinite(v))
      throw new NpyException(file + ": array 'wall_seconds' is " + v + ", expected a finite number of seconds >= 0");
    return v;
  }
}
