package org.hbp.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.hbp.io.DType;
import org.hbp.io.NdArray;
import org.hbp.io.Npz;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code hbp curvature} in a JVM with a 64 MiB heap: a batch whose pass cannot fit (20000 samples
 * through a 1000-unit layer: about 1.8 GiB) is refused with the estimate by part and exit status
 * 2, never an OutOfMemoryError, on the heap backend and on the native one (whose JavaCPP limit is
 * the heap's by default); a batch of 100 runs.
 */
class MemoryLimitCliTest {
  @TempDir Path dir;

  private record Run(int code, String output) {}

  private Run hbp(String... args) throws Exception {
    List<String> cmd = new java.util.ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx64m", "-cp",
        System.getProperty("java.class.path"), Main.class.getName()));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    assertTrue(p.waitFor(120, TimeUnit.SECONDS), "hbp did not finish");
    return new Run(p.exitValue(), out);
  }

  private void files(int... batches) throws Exception {
    Files.writeString(dir.resolve("wide.hbp"), "network wide {\n  input x: vector(10);\n  linear(m = 1000);\n  sigmoid;\n  linear(m = 10);\n"
        + "  loss crossentropy;\n}\n");
    Random r = new Random(1);
    Npz.write(dir.resolve("p.npz"), Map.of("0.weight", NdArray.of(gaussian(r, 10000, 0.1), DType.FLOAT32, 1000, 10), "0.bias",
        NdArray.of(new double[1000], DType.FLOAT32, 1000), "2.weight", NdArray.of(gaussian(r, 10000, 0.03), DType.FLOAT32, 10, 1000), "2.bias",
        NdArray.of(new double[10], DType.FLOAT32, 10)));
    Npz.write(dir.resolve("v.npz"), Map.of("0.weight", NdArray.of(gaussian(r, 20000, 1), 2, 1000, 10), "0.bias", NdArray.of(gaussian(r, 2000, 1), 2, 1000),
        "2.weight", NdArray.of(gaussian(r, 20000, 1), 2, 10, 1000), "2.bias", NdArray.of(gaussian(r, 20, 1), 2, 10)));
    for (int n : batches) {
      double[] y = new double[n];
      for (int i = 0; i < n; i++) y[i] = r.nextInt(10);
      Npz.write(dir.resolve("b" + n + ".npz"), Map.of("x", NdArray.of(gaussian(r, n * 10, 1), DType.FLOAT32, n, 10), "y", NdArray.of(y, DType.INT64, n)));
    }
  }

  private static double[] gaussian(Random r, int n, double scale) {
    double[] d = new double[n];
    for (int i = 0; i < n; i++) d[i] = scale * r.nextGaussian();
    return d;
  }

  private Run curvature(int n, String backend) throws Exception {
    return hbp("curvature", "--net", dir.resolve("wide.hbp").toString(), "--params", dir.resolve("p.npz").toString(), "--batch",
        dir.resolve("b" + n + ".npz").toString(), "--vectors", dir.resolve("v.npz").toString(), "--out", dir.resolve("out-" + n + ".npz").toString(),
        "--backend", backend);
  }

  @Test
  void aBatchThatCannotFitIsRefusedWithTheEstimateAndOneThatFitsRuns() throws Exception {
    files(100, 20000);
    for (String backend : new String[] {"cpu", "blas-f64"}) {
      Run big = curvature(20000, backend);
      assertEquals(2, big.code(), big.output());
      assertFalse(big.output().contains("OutOfMemoryError"), big.output());
      assertTrue(big.output().contains("hbp: not enough memory: estimate for batch 20000 at float64 on " + backend + " ("
          + (backend.equals("cpu") ? "Java heap" : "native memory") + "): parameters 164.1 KiB, batch, forward and gradient pass "), big.output());
      assertTrue(big.output().contains(backend.equals("cpu") ? " on the Java heap > " : " of native memory > "), big.output());
      assertTrue(big.output().contains("; use a smaller batch or fewer directions"), big.output());
      assertFalse(Files.exists(dir.resolve("out-20000.npz")));
    }
    Run small = curvature(100, "cpu");
    assertEquals(0, small.code(), small.output());
    assertTrue(small.output().contains("memory estimate: "), small.output());
    assertTrue(Files.exists(dir.resolve("out-100.npz")));
  }
}
