package org.hbp.network;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.hbp.UserError;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.io.NdArray;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The factored whole-network GGN ({@link FactoredGgn}) against PyTorch autograd's GGN-vector
 * products {@code J'(H_z(J v))} (network_products.py, float64, 1e-10), off-diagonal blocks
 * included, on the nets of the cross-checks; and its memory refusal.
 */
class FactoredGgnTest {
  static final Backend BE = NetworkCurvatureTest.BE;

  @TempDir Path dir;

  @ParameterizedTest
  @ValueSource(strings = {"fc", "relu", "resnet", "cnn"})
  void productsEqualAutogradsGgnVectorProducts(String name) throws Exception {
    NetworkProductsTest.Problem pr = NetworkProductsTest.problem(name, dir);
    Network net = pr.net();
    TorchLayout layout = pr.layout();
    Map<String, NdArray> ref = pr.ref();
    Pass pass = pr.pass();
    Map<String, Batch> v = pr.directions();
    FactoredGgn ggn = FactoredGgn.of(pass, 1L << 30);
    Map<String, Batch> got = ggn.apply(v);
    int compared = 0;
    for (String key : ref.keySet()) {
      if (!key.startsWith("ggnvp.")) continue;
      String ours = TorchReference.ours(key.substring("ggnvp.".length()));
      TorchReference.assertBlockEquals(name + " " + key, ref.get(key), layout.toTorch(ours, got.get(ours), false));
      compared++;
    }
    assertEquals(net.parameterNames().size(), compared);
    ggn.release();
  }

  @Test
  void columnsOverTheMemoryLimitAreRefusedWithTheirSize() throws Exception {
    Path file = dir.resolve("fc.hbp");
    Files.writeString(file, NetworkProductsTest.source("fc"));
    NetworkCurvatureTest.Setup s = new NetworkCurvatureTest.Setup(NetworkResolver.load(file, null, ModuleLibrary.builtInSpecDirs()), 4, 5, 2);
    Pass pass = s.pass();
    UserError e = assertThrows(UserError.class, () -> FactoredGgn.of(pass, 16));
    assertTrue(e.getMessage().contains("the factored GGN needs N*r*P = " + org.hbp.network.MemoryEstimate.bytes(FactoredGgn.bytes(pass))), e.getMessage());
  }
}
