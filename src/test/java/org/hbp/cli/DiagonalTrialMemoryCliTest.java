package org.hbp.cli;

import static org.hbp.cli.CliRun.hbp;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.hbp.io.DType;
import org.hbp.io.NdArray;
import org.hbp.io.Npz;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Hessian diagonal plans its chunks of samples by a trial on 2 samples with the real kernels. Where that trial
 * itself does not fit the process (c4d3's column sets; here a sigmoid of 30 000 inputs behind a linear layer: a residual factor of 2 x 30 000 x
 * 30 000 entries, 14.4 GB), the run is refused in one line, as one sample that does not fit is, not an internal error.
 */
class DiagonalTrialMemoryCliTest {
  @TempDir Path dir;

  @Test
  void aTrialThatRunsOutOfMemoryIsRefusedInOneLine() throws Exception {
    int n = 30_000;
    Path net = dir.resolve("wide.hbp"), params = dir.resolve("params.npz"), batch = dir.resolve("batch.npz"), out = dir.resolve("diag.npz");
    Files.writeString(net, "network wide {\n  input x: vector(4);\n  linear(m = " + n + ");\n  sigmoid;\n  linear(m = 2);\n  loss crossentropy;\n}\n");
    Random rng = new Random(1);
    Map<String, NdArray> p = new LinkedHashMap<>();
    p.put("0.weight", CurvatureCliTest.random(rng, DType.FLOAT64, n, 4));
    p.put("0.bias", CurvatureCliTest.random(rng, DType.FLOAT64, n));
    p.put("2.weight", CurvatureCliTest.random(rng, DType.FLOAT64, 2, n));
    p.put("2.bias", CurvatureCliTest.random(rng, DType.FLOAT64, 2));
    Npz.write(params, p);
    Npz.write(batch, Map.of("x", CurvatureCliTest.random(rng, DType.FLOAT64, 2, 4), "y", NdArray.of(new double[] {0, 1}, DType.INT64, 2)));
    CliRun r = hbp("curvature", "--net", net.toString(), "--params", params.toString(), "--batch", batch.toString(), "--backend", "cpu",
        "--curvature", "hessian", "--diagonal", "hessian", "--out", out.toString());
    assertEquals(2, r.code(), r.out() + r.err());
    assertTrue(r.err().contains("the Hessian diagonal does not fit even one sample at a time"), r.err());
    assertFalse(r.err().contains("internal error"), r.err());
    assertEquals(1, r.err().lines().count(), "one line: " + r.err());
    assertFalse(Files.exists(out));
  }
}
