package org.hbp.network;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.hbp.UserError;
import org.hbp.backend.Backends;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * kfra's and bda's memory check of a module of several inputs counts every input: bilinear(a, b)
 * with a of 2 entries and b of 30 forms the joint input Hessian (32 x 32) and, per sample, the dense
 * Jacobians in both inputs and their products (GraphFrontier), not those of its first input alone.
 */
class ExplicitMemoryCheckTest {
  @TempDir Path dir;

  @Test
  void aModuleOfSeveralInputsCountsThemAll() throws Exception {
    Path f = Files.writeString(dir.resolve("bi.hbp"), "network bi {\n  input x: vector(4);\n  a = linear(m = 2)(x);\n  b = linear(m = 30)(x);\n"
        + "  z = bilinear(m = 3)(a, b);\n  loss crossentropy(z);\n}\n");
    Network net = new Network(NetworkResolver.load(f, null, List.of(Path.of("modules-spec"))), Network.builtIn(), Backends.create("cpu", 1));
    // by hand, d = 3 outputs, in = 2 + 30 = 32 input entries, N = 10 samples:
    // 8 * (3*3 + 32*32 + 10 * (2*32*3 + 32*32)) = 8 * (9 + 1024 + 12160) = 105,544 bytes; the first input alone
    // (in = 2: 8 * (9 + 4 + 10 * (12 + 4)) = 1,384 bytes) would pass a limit of 100,000
    for (Strategy s : new Strategy[] {Strategy.KFRA, Strategy.BDA}) {
      UserError e = assertThrows(UserError.class, () -> s.implementation().checkMemory(net, 10, 100_000));
      assertEquals("layer z (bilinear): the explicit batch-averaged Hessians of its output and its inputs (jointly) have 3 x 3 and 32 x 32 "
          + "entries, and its per-sample products for 10 samples 32 x 3 (twice) and 32 x 32 (0.0 GiB in float64), above the limit of 0.0 GiB; "
          + "use --strategy exact (matrix-free products) or raise --memory-limit", e.getMessage());
      s.implementation().checkMemory(net, 10, 105_544); // exactly the estimate: accepted
    }
  }
}
