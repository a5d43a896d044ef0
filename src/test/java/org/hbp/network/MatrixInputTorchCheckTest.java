package org.hbp.network;

import static org.hbp.network.TorchReference.assertBlockEquals;
import static org.hbp.network.TorchReference.hbp;
import static org.hbp.network.TorchReference.runScript;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.hbp.io.NdArray;
import org.hbp.io.Npz;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's reading of a matrix input: a network's {@code input x: matrix(m, n)} is read from a
 * batch {@code [N, m, n]} entry for entry, so {@code flatten_matrix} of it is PyTorch's
 * {@code x.transpose(1, 2).flatten(1)}, and the linear layer after it takes PyTorch's weight with
 * no permutation. Dense Hessian and GGN blocks and the loss against autograd in float64
 * (src/test/resources/torch/matrix_input_layout.py; m != n, so a transposed reading fails).
 */
class MatrixInputTorchCheckTest {
  @TempDir Path dir;

  static final String NET = """
      network matrix_input {
        input x: matrix(4, 3);
        sigmoid;
        flatten_matrix;
        linear(m = 2);
        loss mse;
      }
      """;

  @Test
  void flattenMatrixOfTheInputIsTorchsTransposedFlatten() throws Exception {
    runScript("matrix_input_layout.py", dir.toString());
    Path net = dir.resolve("matrix_input.hbp");
    Files.writeString(net, NET);
    Map<String, NdArray> ref = Npz.read(dir.resolve("ref.npz"));
    int compared = 0;
    for (String kind : new String[] {"hessian", "ggn"}) {
      Path dense = dir.resolve(kind + ".npz");
      String out = hbp("curvature", "--net", net.toString(), "--params", dir.resolve("params.npz").toString(), "--batch",
          dir.resolve("batch.npz").toString(), "--curvature", kind, "--dense", dense.toString());
      double loss = Double.parseDouble(out.replaceAll("(?s).*loss ([-+0-9.eE]+).*", "$1"));
      assertEquals(ref.get("loss").data()[0], loss, 1e-12 * Math.max(1, Math.abs(loss)), out);
      Map<String, NdArray> got = Npz.read(dense);
      for (String name : new String[] {"2.weight", "2.bias"}) {
        assertTrue(got.containsKey(name), got.keySet().toString());
        assertBlockEquals(kind + " " + name, ref.get(kind + "." + name), got.get(name));
        compared++;
      }
    }
    assertEquals(4, compared);
  }
}
