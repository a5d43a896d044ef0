package org.hbp.onnx;

import static org.hbp.onnx.OnnxTorchCheckTest.hbp;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The commands other than curvature take an ONNX --net too (examples/mlp.onnx, the README's model):
 * spectrum (parameters from the initializers), train (starting from them) and bench (random
 * parameters); each runs to the end on it.
 */
class OnnxCommandsTest {
  @TempDir Path dir;

  static final String MODEL = "examples/mlp.onnx";

  @Test
  void spectrumTrainAndBenchRunOnAnOnnxNet() throws Exception {
    // a batch for the README's model: 3 images 1 x 4 x 4, classes 0..2
    double[] x = new double[3 * 16];
    for (int i = 0; i < x.length; i++) x[i] = Math.sin(i);
    org.hbp.io.Npz.write(dir.resolve("batch.npz"), java.util.Map.of("x", org.hbp.io.NdArray.of(x, 3, 1, 4, 4),
        "y", org.hbp.io.NdArray.of(new double[] {0, 2, 1}, 3)));
    String spectrum = hbp("spectrum", "--net", MODEL, "--loss", "crossentropy", "--batch", dir.resolve("batch.npz").toString(), "--top", "2",
        "--out", dir.resolve("spectrum").toString());
    assertTrue(spectrum.contains("1.W (128 entries): top"), spectrum);
    assertTrue(Files.exists(dir.resolve("spectrum/spectrum.json")));

    String train = hbp("train", "--net", MODEL, "--loss", "crossentropy", "--data", "synthetic", "--epochs", "1", "--no-plots", "--out",
        dir.resolve("run").toString());
    assertTrue(train.contains("training mlp (163 parameters)") && train.contains("done: epoch 1"), train);

    String bench = hbp("bench", "--net", MODEL, "--loss", "crossentropy", "--quick", "--batch", "4");
    assertTrue(bench.contains("gradient pass") && bench.contains("bda products"), bench);
  }
}
