package org.hbp.codegen;

import java.nio.file.Path;
import org.hbp.ExternalTools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The generated PyTorch modules whose spec holds an image as a matrix (c, oh*ow) (conv2d, avgpool)
 * take and give PyTorch's natural shapes and orders: their output is F.conv2d's / F.avg_pool2d's
 * [N, c, oh, ow], and their Jacobian products and dense matrices agree with torch.autograd on it
 * ({@code src/test/resources/torch/image_layout_check.py}; needs python3 with torch).
 */
class PyTorchImageLayoutTest {
  @TempDir Path dir;

  @Test
  void conv2dAndAvgpoolMatchFConv2dAndAutogradInNaturalShapes() throws Exception {
    PyTorchGeneration.run(Path.of("modules-spec"), dir, "hbp_generated", Path.of(".").toAbsolutePath());
    ExternalTools.runTorchScript("image_layout_check.py", dir.toString());
  }
}
