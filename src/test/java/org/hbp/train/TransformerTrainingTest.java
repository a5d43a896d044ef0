package org.hbp.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.hbp.backend.Precision;
import org.hbp.backend.blas.BlasBackend;
import org.hbp.data.Split;
import org.hbp.data.TokenSequences;
import org.hbp.network.ModuleLibrary;
import org.hbp.network.Network;
import org.hbp.network.NetworkResolver;
import org.hbp.plot.RunMetrics;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * networks/transformer.hbp learns the token-offset task of {@link TokenSequences} with Adam: a short
 * run (the README's settings, fewer epochs, one thread) lifts test accuracy from chance (1/4) to at
 * least 0.75. The token counts say nothing about the label (each sequence holds A and B once, the
 * fillers are drawn independently of it), so the accuracy comes from what the blocks compute from the
 * tokens' positions.
 */
class TransformerTrainingTest {
  @TempDir Path dir;

  @Test
  void adamLearnsTheOffsetOfTwoTokens() throws Exception {
    Network net = new Network(NetworkResolver.load(Path.of("networks/transformer.hbp"), null,
        List.of(Path.of("modules-spec"))), ModuleLibrary.forSpecs(),
        new BlasBackend(Precision.FLOAT64, 1));
    Split data = TokenSequences.create(0, 2000, 500, 12, 8, 4).normalized();
    Trainer trainer = new Trainer(net, data, new Adam(net, 0.01, 0.9, 0.999, 1e-8), new Trainer.Settings(14, 32, 0, 500),
        dir.resolve("run"), new PrintWriter(new StringWriter(), true), false);
    List<RunMetrics.Row> rows = trainer.start(Initialization.xavierNormal(net, 0), Map.of("seed", 0));
    assertEquals(15, rows.size(), "epoch 0 and 14 epochs");
    double before = rows.get(0).testAccuracy(), after = rows.get(rows.size() - 1).testAccuracy();
    assertTrue(before < 0.35, "chance at the start: " + before);
    assertTrue(after >= 0.75, "test accuracy after 14 epochs " + after + ", chance 0.25; rows " + rows);
  }
}
