package org.hbp.cli;

import static org.hbp.cli.CliRun.hbp;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.hbp.backend.opencl.OpenClBackend;
import org.hbp.backend.opencl.OpenClTestSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code hbp bench} on an OpenCL device (PoCL in CI): {@code --quick} runs with progress lines and
 * says how products run; {@code --gemm-sizes} times CLBlast and the kernels and checks each result
 * against the float64 BLAS product; {@code --gemm} chooses the products of a network bench; bad
 * uses of the options are clear errors. Not timing tests: only that the runs finish and report.
 */
class BenchOpenClCliTest {
  @TempDir Path dir;

  @Test
  void quickOnOpenClRunsWithProgressLinesAndNamesTheProducts() {
    OpenClTestSupport.requireOpenCl();
    CliRun r = ProgressCliTest.with("lines", "false", () -> hbp("bench", "--net", "networks/resnet.hbp", "--backend", "blas-f64", "--device",
        "opencl", "--quick", "--batch", "4", "--strategies", "exact,bda"));
    r.assertExit(0);
    r.assertOutContains("backend opencl-f64", "quick (1 warm-up, 1 timed)", "matrix products: ", "gradient pass", "exact products, all blocks, 1 direction",
        "bda products, all blocks, 1 direction");
    // a line as the first measurement starts and as each of the 4 ends
    assertEquals(5, r.err().lines().filter(l -> l.startsWith("bench [")).count(), r.err());
  }

  @Test
  void gemmSizesTimeClblastAndTheKernelsAndCheckTheirProducts() throws Exception {
    OpenClTestSupport.requireOpenCl();
    Path json = dir.resolve("gemm.json");
    CliRun r = ProgressCliTest.with(null, "false", () -> hbp("bench", "--gemm-sizes", "8,17", "--gemm", "clblast,kernels", "--backend", "blas-f32",
        "--device", "opencl", "--warmup", "0", "--repeat", "1", "--out", json.toString()));
    r.assertExit(0);
    boolean clblast = new OpenClBackend(org.hbp.backend.Precision.FLOAT32, OpenClTestSupport.deviceIndex()).clblastFailure() == null;
    r.assertOutContains("bench matrix products, backend opencl-f32", "kernel:");
    if (clblast) r.assertOutContains("clblast        n=17");
    String text = Files.readString(json);
    Matcher m = Pattern.compile("\"relative_error\": ([0-9.e+-]+)").matcher(text);
    int rows = 0;
    while (m.find()) {
      rows++;
      assertTrue(Double.parseDouble(m.group(1)) < 1e-5, "float32 product against float64 BLAS:\n" + text);
    }
    assertEquals(clblast ? 4 : 2, rows, text);
  }

  @Test
  void gemmOptionsRefuseWhatTheyCannotDo() {
    CliRun cpu = hbp("bench", "--net", "networks/resnet.hbp", "--backend", "cpu", "--gemm", "kernels");
    cpu.assertExit(2);
    assertTrue(cpu.err().contains("--gemm applies to OpenCL devices (--device opencl), not to cpu"), cpu.err());
    cpu.assertNoStackTrace();
    CliRun sizes = hbp("bench", "--gemm-sizes", "8,0", "--backend", "cpu");
    assertTrue(sizes.err().contains("--gemm-sizes: sizes must be >= 1, got 0"), sizes.err());
    OpenClTestSupport.requireOpenCl();
    CliRun two = hbp("bench", "--net", "networks/resnet.hbp", "--device", "opencl", "--gemm", "clblast,kernels");
    assertTrue(two.err().contains("--gemm: one implementation for a network bench"), two.err());
    CliRun unknown = hbp("bench", "--gemm-sizes", "8", "--device", "opencl", "--gemm", "cublas");
    assertTrue(unknown.err().contains("--gemm 'cublas': expected one of clblast, kernels, large, small, direct, naive"), unknown.err());
    unknown.assertNoStackTrace();
  }

  @Test
  void theMedianAndTheRelativeError() {
    assertEquals(2, GemmThroughput.median(new double[] {3, 1, 2}));
    assertEquals(2.5, GemmThroughput.median(new double[] {4, 1, 2, 3}));
    assertEquals(0.25, GemmThroughput.relativeError(new double[] {1, 1.5}, new double[] {1, 2}));
    assertEquals(List.of("cpu"), GemmThroughput.defaultImplementations(new org.hbp.backend.cpu.CpuBackend()));
  }
}
