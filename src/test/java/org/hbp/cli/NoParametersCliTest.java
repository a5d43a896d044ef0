package org.hbp.cli;

import static org.hbp.cli.CliRun.hbp;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.hbp.io.NdArray;
import org.hbp.io.Npz;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A network without parameters (e.g. an exported nn.Identity, or activations only) is refused by every command
 * that computes with respect to parameters, in one line naming the network, before any output: before, curvature,
 * gradients and spectrum wrote empty files and exited 0.
 */
class NoParametersCliTest {
  @TempDir Path dir;

  @Test
  void aNetworkWithoutParametersIsRefusedByEachCommandBeforeAnyOutput() throws Exception {
    Path net = dir.resolve("act.hbp"), batch = dir.resolve("b.npz");
    Files.writeString(net, "network act {\n  input x: vector(3);\n  tanh;\n  loss mse;\n}\n");
    Npz.write(batch, Map.of("x", NdArray.of(new double[] {1, 2, 3, 4, 5, 6}, 2, 3), "y", NdArray.of(new double[] {0, 1, 0, 1, 1, 0}, 2, 3)));
    String expected = "hbp: network act (" + net + ":1) has no parameters: its curvature, gradients and training are with respect to "
        + "parameters, so there is nothing to compute (an exported model's weights may have been folded into constants, or its layers "
        + "are all parameter-free)\n";
    String[][] commands = {
        {"curvature", "--net", net.toString(), "--batch", batch.toString(), "--dense", dir.resolve("d.npz").toString()},
        {"gradients", "--net", net.toString(), "--batch", batch.toString(), "--out", dir.resolve("g").toString()},
        {"spectrum", "--net", net.toString(), "--batch", batch.toString(), "--top", "1", "--out", dir.resolve("s").toString()},
        {"train", "--net", net.toString(), "--data", "synthetic", "--epochs", "1", "--out", dir.resolve("t").toString()},
    };
    for (String[] c : commands) {
      CliRun r = hbp(c);
      r.assertExit(2);
      assertEquals(expected, r.err(), String.join(" ", c));
      assertEquals("", r.out(), String.join(" ", c));
    }
    for (String f : new String[] {"d.npz", "g", "s", "t"}) assertFalse(Files.exists(dir.resolve(f)), f);
  }
}
