package org.hbp.cli;

import static org.hbp.cli.CliRun.hbp;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.hbp.plot.RunMetrics;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code hbp train --optimizer cg-newton --blocks layer}: CG-Newton with one joint block per layer
 * (the step itself is checked against PyTorch in {@code LayerBlocksTorchCheckTest}); the run records
 * {@code "blocks" : "layer"}, and what the joint blocks are not defined for is refused in one line
 * before any step.
 */
class TrainLayerBlocksCliTest {
  @TempDir Path dir;

  private static final String SMALL = "network small {\n  input x: tensor(1, 28, 28);\n  flatten;\n  linear(m = 8);\n  sigmoid;\n"
      + "  linear(m = 10);\n  loss crossentropy;\n}\n";

  private String[] train(String run, String... more) throws Exception {
    Path net = dir.resolve("small.hbp");
    Files.writeString(net, SMALL);
    String[] common = {"train", "--net", net.toString(), "--data", "synthetic:200,50", "--optimizer", "cg-newton", "--epochs", "2", "--batch", "50",
        "--out", dir.resolve(run).toString(), "--backend", "blas-f64", "--seed", "3", "--no-plots"};
    String[] out = java.util.Arrays.copyOf(common, common.length + more.length);
    System.arraycopy(more, 0, out, common.length, more.length);
    return out;
  }

  @Test
  void trainsWithJointBlocksAndRecordsThem() throws Exception {
    CliRun r = hbp(train("ggn", "--blocks", "layer", "--strategy", "exact", "--curvature", "ggn", "--cg-maxiter", "20"));
    r.assertExit(0);
    r.assertOutContains("done: epoch 2");
    RunMetrics m = RunMetrics.read(dir.resolve("ggn"));
    assertTrue(m.rows().get(2).trainLoss() < m.rows().get(0).trainLoss(), "CG-Newton with joint blocks lowers the training loss: " + m.rows());
    assertTrue(m.rows().get(1).cgIterations() > 0, m.rows().toString());
    String config = Files.readString(dir.resolve("ggn").resolve("config.json"));
    assertTrue(config.contains("\"blocks\" : \"layer\"") && config.contains("--blocks layer"), config);
  }

  @Test
  void refusesInOneLineWhatJointBlocksAreNotDefinedFor() throws Exception {
    int i = 0;
    for (List<String> bad : List.of(List.of("--blocks", "layer", "--strategy", "bda"),
        List.of("--blocks", "layer", "--strategy", "exact", "--curvature", "pch-abs"), List.of("--strategy", "exact", "--blocks", "layers"))) {
      Path run = dir.resolve("bad" + i++);
      CliRun r = hbp(train(run.getFileName().toString(), bad.toArray(new String[0])));
      assertEquals(2, r.code(), bad + ": " + r.out() + r.err());
      assertTrue(r.err().contains("--blocks layer") && r.err().strip().lines().count() == 1, bad + ": " + r.err());
      assertTrue(!Files.exists(run.resolve("metrics.csv")), bad + ": a run was started");
    }
  }
}
