package org.hbp.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.hbp.backend.KernelProfiler;
import org.hbp.network.NetworkResolver;
import org.hbp.network.NetworkSpec;
import org.hbp.network.ModuleLibrary;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code hbp bench}'s rows of the curvature toolbox (issue 17) appear, in the output and the JSON,
 * and are refused rather than fatal; and the GEMM FLOP counts of the direction scaling, counted by
 * hand for a small net. Not a timing test.
 */
class BenchToolboxCliTest {
  @TempDir Path dir;

  private static String[] run(String... args) {
    StringWriter out = new StringWriter(), err = new StringWriter();
    int code = Main.execute(args, new PrintWriter(out, true), new PrintWriter(err, true));
    return new String[] {String.valueOf(code), out.toString(), err.toString()};
  }

  @Test
  void newStrategiesDiagonalsNetworkProductsAndLanczosGetRows() throws Exception {
    Path json = dir.resolve("bench.json");
    String[] r = run("bench", "--net", "networks/demo-fmnist.hbp", "--batch", "8", "--backend", "blas-f64", "--repeat", "1", "--warmup", "0",
        "--strategies", "exact,kfac,kflr,ekfac", "--directions", "1,2", "--diagonals", "exact,mc,hessian", "--network-products", "--lanczos", "3",
        "--out", json.toString());
    assertEquals("0", r[0], r[1] + "\n" + r[2]);
    String o = r[1];
    for (String what : new String[] {"curvature pass kfac", "curvature pass kflr", "curvature pass ekfac", "kfac products, all blocks, 2 directions",
        "ekfac products, all blocks, 1 direction", "kfac damped inverse, all blocks, 1 direction", "kflr damped inverse, all blocks, 1 direction",
        "ekfac damped inverse, all blocks, 1 direction", "ggn diagonal exact", "ggn diagonal mc (K=1, rademacher)", "hessian diagonal",
        "network products (ggn), 1 direction", "network products (ggn), 2 directions", "lanczos-3 (net ggn)",
        "scaling of exact products, all blocks: t = ", "scaling of network products (ggn): t = "})
      assertTrue(o.contains(what), "prints " + what + ":\n" + o);
    assertTrue(!o.contains("refused"), o);
    // how float64 convolutions run; the tests' JVM has the Vector API (the pom's argLine, as ./hbp)
    assertTrue(o.contains("\n  float64 convolutions: direct kernels (") || o.contains("\n  float64 convolutions: unfold + gemm (this CPU's vectors"), o);
    // and the entrywise kernels: on the Vector API there
    assertTrue(o.contains("\n  entrywise kernels: Vector API on the off-heap blocks"), o);
    String j = Files.readString(json);
    for (String what : new String[] {"ekfac damped inverse, all blocks, 1 direction", "hessian diagonal", "lanczos-3 (net ggn)",
        "network products (ggn), 2 directions"})
      assertTrue(j.contains("\"what\": \"" + what + "\", \"median_s\": "), j);
  }

  /** --lanczos beyond the parameters: the row says how many steps ran (at most P = 123 here), not the number asked. */
  @Test
  void aLanczosRowIsLabelledByTheStepsThatRan() throws Exception {
    Path net = dir.resolve("small.hbp");
    Files.writeString(net, "network small { input x: tensor(1, 4, 4); flatten; linear(m = 6); sigmoid; linear(m = 3); loss crossentropy; }\n");
    String[] r = run("bench", "--net", net.toString(), "--batch", "4", "--backend", "blas-f64", "--repeat", "1", "--warmup", "0",
        "--strategies", "exact", "--directions", "1", "--lanczos", "500");
    assertEquals("0", r[0], r[1] + "\n" + r[2]);
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("lanczos-(\\d+) \\(net ggn, --lanczos 500 asked\\)").matcher(r[1]);
    assertTrue(m.find(), r[1]);
    int ran = Integer.parseInt(m.group(1));
    assertTrue(ran >= 1 && ran <= 123, "steps " + ran);
    assertTrue(!r[1].contains("lanczos-500"), r[1]);
  }

  @Test
  void aLanczosBasisAboveTheMemoryLimitIsRefusedAndTheRunGoesOn() {
    String[] r = run("bench", "--net", "networks/demo-fmnist.hbp", "--batch", "4", "--backend", "blas-f64", "--repeat", "1", "--warmup", "0",
        "--strategies", "exact", "--directions", "1", "--lanczos", "20", "--memory-limit", "0.00001", "--diagonals", "exact");
    assertEquals("0", r[0], r[1] + "\n" + r[2]);
    // 784*64 + 64 + 64*32 + 32 + 32*10 + 10 = 52650 parameters: 20 vectors of 8 bytes each are 8.0 MiB
    assertTrue(r[1].matches("(?s).*lanczos-20 \\(net ggn\\)\\s+refused: its basis needs 8\\.0 MiB, above --memory-limit.*"), r[1]);
    // the diagonals run in chunks of samples; refused only where one sample does not fit
    assertTrue(r[1].matches("(?s).*ggn diagonal exact\\s+refused: the GGN diagonal does not fit even one sample at a time: .*"), r[1]);
  }

  /** --ggn-routes network,factored: both routes' rows in one run, the factored set-up as its own row, with their FLOP counts. */
  @Test
  void bothGgnRoutesGetRows() throws Exception {
    String[] r = run("bench", "--net", "networks/demo-fmnist.hbp", "--batch", "8", "--backend", "blas-f64", "--repeat", "1", "--warmup", "0",
        "--strategies", "exact", "--directions", "1,2", "--blocks", "parameter,layer", "--ggn-routes", "network,factored");
    assertEquals("0", r[0], r[1] + "\n" + r[2]);
    String o = r[1];
    for (String what : new String[] {"exact products, all blocks, 2 directions", "exact products, layer blocks, 2 directions",
        "curvature pass exact (factored)", "GEMM FLOPs of the set-up: ", "factored products, all blocks, 1 direction",
        "factored products, all blocks, 2 directions", "factored products, layer blocks, 2 directions",
        "scaling of factored products, all blocks: t = "})
      assertTrue(o.contains(what), "prints " + what + ":\n" + o);
    assertTrue(!o.contains("refused"), o);
    // the factored route is the GGN's, of the exact strategy: refused before any work otherwise
    String[] hessian = run("bench", "--net", "networks/demo-fmnist.hbp", "--curvature", "hessian", "--ggn-routes", "factored");
    assertEquals("2", hessian[0]);
    assertEquals("hbp: --ggn-routes factored is a route for the GGN; --curvature hessian goes through the network (--ggn-routes network)\n", hessian[2]);
    String[] kfra = run("bench", "--net", "networks/demo-fmnist.hbp", "--strategies", "kfra", "--ggn-routes", "factored");
    assertEquals("2", kfra[0]);
    assertTrue(kfra[2].contains("--ggn-routes factored times the exact strategy's products; --strategies kfra has no exact"), kfra[2]);
    String[] unknown = run("bench", "--net", "networks/demo-fmnist.hbp", "--ggn-routes", "fast");
    assertEquals("2", unknown[0]);
    assertEquals("hbp: --ggn-routes: expected network or factored, not 'fast'\n", unknown[2]);
  }

  /**
   * --gemm-rate: the n x n product timed before and after the network's rows of the same run; each product series'
   * GFLOP/s at each D as a share of the higher of the two, printed and in the JSON. The shares are checked against the
   * printed rates, and the series' GFLOP/s against its scaling line.
   */
  @Test
  void gemmRateGivesEachProductSeriesItsShareOfTheRateInTheSameRun() throws Exception {
    Path json = dir.resolve("rate.json");
    String[] r = run("bench", "--net", "networks/demo-fmnist.hbp", "--batch", "8", "--backend", "blas-f64", "--repeat", "1", "--warmup", "0",
        "--strategies", "exact", "--directions", "1,2", "--ggn-routes", "network,factored", "--gemm-rate", "64", "--out", json.toString());
    assertEquals("0", r[0], r[1] + "\n" + r[2]);
    String o = r[1];
    double before = number(o, "GEMM rate, n = 64, before: "), after = number(o, "GEMM rate, n = 64, after: ");
    double reference = Math.max(before, after);
    assertTrue(o.indexOf("GEMM rate, n = 64, before: ") < o.indexOf("exact products, all blocks, 1 direction")
        && o.indexOf("GEMM rate, n = 64, after: ") > o.indexOf("factored products, all blocks, 2 directions"), o);
    assertTrue(o.contains(String.format(java.util.Locale.ROOT, "share of the GEMM rate (%.1f GFLOP/s, the higher of before and after):", reference)), o);
    // the JSON (parsed): its rates (3 decimals) are the printed ones (1 decimal), its reference the higher of its two
    com.fasterxml.jackson.databind.JsonNode root = new com.fasterxml.jackson.databind.ObjectMapper().readTree(json.toFile()), rate = root.get("gemm_rate");
    double jsonBefore = rate.get("before_gflops").asDouble(), jsonAfter = rate.get("after_gflops").asDouble(), jsonReference = Math.max(jsonBefore, jsonAfter);
    assertEquals(64, rate.get("n").asInt());
    assertEquals("blas-f64", rate.get("implementation").asText());
    assertEquals(before, jsonBefore, 0.051);
    assertEquals(after, jsonAfter, 0.051);
    assertEquals(jsonReference, rate.get("reference_gflops").asDouble(), 0.0005);
    assertTrue(rate.get("relative_error").asDouble() < 1e-12, rate.toString());
    com.fasterxml.jackson.databind.JsonNode shares = root.get("gemm_shares");
    assertEquals(4, shares.size(), shares.toString());
    int i = 0;
    for (String series : new String[] {"exact", "factored"}) {
      String scaling = o.substring(o.indexOf("scaling of " + series + " products, all blocks: "));
      String printedShares = o.substring(o.indexOf("\n    " + series + " products, all blocks: D=1 ", o.indexOf("share of the GEMM rate")));
      for (int d : new int[] {1, 2}) {
        com.fasterxml.jackson.databind.JsonNode share = shares.get(i++);
        assertEquals(series + " products, all blocks", share.get("series").asText());
        assertEquals(d, share.get("directions").asInt());
        double gflops = share.get("gflops").asDouble();
        assertEquals(gflops / jsonReference, share.get("share_of_gemm_rate").asDouble(), 1e-4 * (1 + gflops / jsonReference), share.toString());
        // the series' GFLOP/s is its scaling line's, and its printed share that over the printed reference
        assertEquals(number(scaling, "D=" + d + ": ", "s/direction, "), gflops, 0.051, scaling);
        double printedRate = number(printedShares, "D=" + d + " "), printedShare = number(printedShares, "D=" + d + " ", "GFLOP/s = ");
        assertEquals(100 * printedRate / reference, printedShare, 0.051 + 100 * 0.05 / reference * (1 + printedRate / reference), printedShares);
      }
    }
    // refusals, before any work
    String[] both = run("bench", "--gemm-rate", "64", "--gemm-sizes", "64");
    assertEquals("2", both[0]);
    assertEquals("hbp: --gemm-rate goes with a network bench (--net); --gemm-sizes times matrix products alone\n", both[2]);
    String[] zero = run("bench", "--net", "networks/demo-fmnist.hbp", "--gemm-rate", "0");
    assertEquals("2", zero[0]);
    assertEquals("hbp: --gemm-rate: the size n of the n x n product must be >= 1, not 0\n", zero[2]);
    String[] huge = run("bench", "--net", "networks/demo-fmnist.hbp", "--gemm-rate", "50000"); // 3 x 50000^2 doubles: 60 GB
    assertEquals("2", huge[0]);
    assertTrue(huge[2].startsWith("hbp: --gemm-rate 50000: its operands and reference product take ") && huge[2].endsWith(
        " (use a smaller n: 2048 measures the rate)\n") && huge[1].isEmpty(), huge[1] + huge[2]);
  }

  /** A row's bound by hand: 2e9 FLOPs at 100 GFLOP/s (0.02 s), then 1e9 four-byte entries at 10 GB/s (0.4 s). */
  @Test
  void theBoundAddsTheProductsAtTheGemmRateAndTheTrafficAtTheMemoryRate() {
    KernelProfiler.Profile p = new KernelProfiler.Profile(1.0, List.of(new KernelProfiler.Kernel("matmul", 3, 0.5, 2e9, 7e8),
        new KernelProfiler.Kernel("mapMultiply", 5, 0.3, 0, 6e8), new KernelProfiler.Kernel("gather", 2, 0.1, 0, 4e8)));
    BenchCommand.Bound four = BenchCommand.bound(p, 4, 100, 10), eight = BenchCommand.bound(p, 8, 100, 10);
    assertEquals(0.02, four.products(), 1e-12);
    assertEquals(0.4, four.others(), 1e-12);
    assertEquals(0.42, four.seconds(), 1e-12);
    assertEquals(0.02 + 0.8, eight.seconds(), 1e-12);
  }

  /**
   * The memory rate refuses a --memory-limit below its two blocks before it allocates them: from
   * the command line before any work on a host backend, and by the check the command calls.
   */
  @Test
  void theMemoryRateRefusesALimitBelowItsBlocks() {
    org.hbp.UserError e = org.junit.jupiter.api.Assertions.assertThrows(org.hbp.UserError.class, () -> MemoryThroughput.checkLimit(100L << 20));
    assertTrue(e.getMessage().startsWith("--gemm-rate: the memory rate measured beside the GEMM rate copies between two blocks of 256 MiB, "), e.getMessage());
    String[] r = run("bench", "--net", "networks/demo-fmnist.hbp", "--backend", "blas-f64", "--gemm-rate", "64", "--memory-limit", "0.3");
    assertEquals("2", r[0], r[1] + r[2]);
    assertTrue(r[2].startsWith("hbp: --gemm-rate: the memory rate measured beside the GEMM rate copies between two blocks of 256 MiB, ")
        && r[1].isEmpty(), r[1] + r[2]);
  }

  /**
   * --profile shapes reads the products shape by shape, by hand: at a GEMM rate of 100 GFLOP/s, 3e9 FLOPs in 0.03 s
   * (100 GFLOP/s) and 1e9 in 0.0125 s (80 GFLOP/s, exactly the threshold) count; 2e9 in 0.05 s (40 GFLOP/s) and 1e3 in
   * 1e-6 s (1 GFLOP/s) do not, the first with the most FLOPs below it; kernels without FLOPs are not products' shapes.
   */
  @Test
  void theShapeShareCountsTheFlopsOfTheShapesAtTheThreshold() {
    KernelProfiler.Kernel slow = new KernelProfiler.Kernel("convolutionWeightGradient(2x2:16x1024, 2x1:3x1024)", 1, 0.05, 2e9, 1e6);
    KernelProfiler.Profile p = new KernelProfiler.Profile(1.0, List.of(new KernelProfiler.Kernel("matmul(1x1:8x8, 2x2:8x1)", 4, 0.03, 3e9, 1e6),
        new KernelProfiler.Kernel("gather(2x2:8x1, 2x1:4x1)", 9, 0.5, 0, 5e8), slow,
        new KernelProfiler.Kernel("convolution(1x1:16x27, 2x2:3x1024)", 2, 0.0125, 1e9, 1e6),
        new KernelProfiler.Kernel("matmul(2x1:1x10, 2x1:10x1)", 2, 1e-6, 1e3, 1e2)));
    BenchCommand.ShapeShare share = BenchCommand.shapeShare(p, 100, 0.8);
    assertEquals(4.0 / (6 + 1e-6), share.fraction(), 1e-12);
    assertEquals(2, share.shapesAtRate());
    assertEquals(4, share.shapes());
    assertEquals(slow, share.largestBelow());
    assertEquals(6e9 + 1e3, share.flops(), 1e-3);
    // the JSON keeps 7 significant digits of short times, from which a rate is recomputed
    String json = BenchCommand.profileJson(new KernelProfiler.Profile(1.2345678e-7, List.of(new KernelProfiler.Kernel("scale", 1, 1.2345678e-7, 0, 1))));
    assertTrue(json.contains("\"seconds\": 1.234568e-07") && json.contains("\"kernel_seconds\": 1.234568e-07"), json);
    BenchCommand.ShapeShare all = BenchCommand.shapeShare(p, 1, 0.8);
    assertEquals(1.0, all.fraction(), 1e-12);
    assertEquals(null, all.largestBelow());
    assertEquals(null, BenchCommand.shapeShare(new KernelProfiler.Profile(1.0, List.of(p.kernels().get(1))), 100, 0.8));
  }

  /** --gemm-rate's shares are of the higher of the two GEMM rates, whichever was measured first. */
  @Test
  void theGemmRateReferenceIsTheHigherOfTheTwoMeasurements() {
    GemmThroughput.Row slow = new GemmThroughput.Row("blas-f64", 64, 2e-3, 10, 0), fast = new GemmThroughput.Row("blas-f64", 64, 1e-3, 20, 0);
    assertEquals(20, BenchCommand.referenceRate(slow, fast));
    assertEquals(20, BenchCommand.referenceRate(fast, slow));
  }

  /** The number that follows {@code prefix} in {@code text}, or, with {@code then}, the one after {@code then} beyond it. */
  private static double number(String text, String prefix, String... then) {
    int at = text.indexOf(prefix);
    assertTrue(at >= 0, "no '" + prefix + "' in:\n" + text);
    at += prefix.length();
    for (String t : then) at = text.indexOf(t, at) + t.length();
    int end = at;
    while (end < text.length() && "0123456789.-+eE".indexOf(text.charAt(end)) >= 0) end++;
    return Double.parseDouble(text.substring(at, end));
  }

  /**
   * The factored route's counts: a parameter that keeps its own columns M (every bias; a weight with P <= r |z|) costs
   * M' v and M t (4 r P); another weight its own J_W v and J_W' w (4 a) and the two products with the r columns at its
   * output (4 r |z|). The set-up carries the r columns through every layer above the first and forms M of the weights
   * that keep it (2 r a each).
   */
  @Test
  void factoredRouteFlopCountsFollowTheLayerSizes() {
    NetworkSpec ns = NetworkResolver.load(Path.of("networks/demo-fmnist.hbp"), null, ModuleLibrary.builtInSpecDirs());
    List<Long> sizes = ProductFlops.productSizes(ns), weights = ProductFlops.weightSizes(ns), outputs = ProductFlops.outputSizes(ns);
    assertEquals(List.of(64L, 32L, 10L), outputs);
    assertEquals(sizes, weights);
    double s1 = 784 * 64, s2 = 64 * 32, s3 = 32 * 10;
    // r = 10: every weight has P > 10 |z| (784*64 > 640, 64*32 > 320, 32*10 > 100): output columns
    double biases = 4 * 10 * (64 + 32 + 10);
    assertEquals(biases + 4 * (s1 + s2 + s3) + 4 * 10 * (64 + 32 + 10), ProductFlops.factoredBlocksPerColumn(sizes, weights, outputs, 10));
    assertEquals(2 * 10 * (s2 + s3), ProductFlops.factoredSetUpPerSample(sizes, weights, outputs, 10));
    // c4d3: the convolutions' outputs are cout·oh·ow, and all four weights keep their columns (e.g. 32*32*9 = 9216 <= 10*32*16*16)
    NetworkSpec c4d3 = NetworkResolver.load(Path.of("networks/c4d3.hbp"), null, ModuleLibrary.builtInSpecDirs());
    List<Long> cz = ProductFlops.outputSizes(c4d3), cw = ProductFlops.weightSizes(c4d3), ca = ProductFlops.productSizes(c4d3);
    assertEquals(List.of(16L * 32 * 32, 16L * 32 * 32, 32L * 16 * 16, 32L * 16 * 16, 512L, 64L, 10L), cz);
    assertEquals(List.of(16L * 3 * 9, 16L * 16 * 9, 32L * 16 * 9, 32L * 32 * 9, 512L * 2048, 64L * 512, 10L * 64), cw);
    double perColumn = 4 * 10 * (16 + 16 + 32 + 32 + 512 + 64 + 10) + 4 * 10 * (432 + 2304 + 4608 + 9216)
        + 4 * (512.0 * 2048 + 64 * 512 + 10 * 64) + 4 * 10 * (512 + 64 + 10);
    assertEquals(perColumn, ProductFlops.factoredBlocksPerColumn(ca, cw, cz, 10));
    double setUp = 2 * 10 * (ca.get(1) + ca.get(2) + ca.get(3) + ca.get(4) + ca.get(5) + ca.get(6)) + 2 * 10 * (ca.get(0) + ca.get(1) + ca.get(2) + ca.get(3));
    assertEquals(setUp, ProductFlops.factoredSetUpPerSample(ca, cw, cz, 10));
  }

  /**
   * --profile: each row's profiled run lists its kernels; the FLOPs its product calls counted from their operands'
   * shapes agree with {@link ProductFlops}' count from the layer sizes (two independent counts: per call against per
   * layer) once the products the layer count leaves out are added (the convolution biases' and the loss Hessian's); with --gemm-rate the
   * products alone get their share of the rate; the JSON carries each row's profile; a wrong value is a clear error.
   */
  @Test
  void profileCountsTheProductFlopsThatTheLayerSizesGive() throws Exception {
    Path json = dir.resolve("profile.json");
    // two timed runs, so two profiled ones: the counts are per run
    String[] r = run("bench", "--net", "networks/c4d3.hbp", "--batch", "2", "--backend", "blas-f64", "--repeat", "2", "--warmup", "0",
        "--strategies", "exact", "--directions", "2", "--gemm-rate", "64", "--profile", "--out", json.toString());
    assertEquals("0", r[0], r[1] + "\n" + r[2]);
    String o = r[1];
    String row = o.substring(o.indexOf("  exact products, all blocks, 2 directions"));
    assertTrue(row.contains("\n    profile, per run ("), row);
    for (String kernel : new String[] {"convolution ", "convolutionAdjoint ", "convolutionWeightGradient ", "matmul "})
      assertTrue(row.substring(0, row.indexOf("GEMM rate, n = 64, after")).contains("\n      " + kernel), kernel + " in\n" + row);
    NetworkSpec c4d3 = NetworkResolver.load(Path.of("networks/c4d3.hbp"), null, ModuleLibrary.builtInSpecDirs());
    double layers = ProductFlops.exactBlocksPerColumn(ProductFlops.productSizes(c4d3)) * 2 * 2; // N = 2 samples, D = 2 directions
    com.fasterxml.jackson.databind.JsonNode root = new com.fasterxml.jackson.databind.ObjectMapper().readTree(json.toFile());
    com.fasterxml.jackson.databind.JsonNode profile = null;
    for (com.fasterxml.jackson.databind.JsonNode res : root.get("results"))
      if (res.get("what").asText().equals("exact products, all blocks, 2 directions")) profile = res.get("profile");
    assertTrue(profile != null, root.toString());
    double calls = profile.get("product_flops").asDouble();
    // the layer count leaves out the convolution biases' rank-one products, J_b v = v 1' and J_b' u = u 1 (2 cout·oh·ow
    // each), once per direction for all samples; what remains is the loss Hessian's products (the per-sample p'v, p (p'v))
    double biases = 2 * 2.0 * (16 * 32 * 32 + 16 * 32 * 32 + 32 * 16 * 16 + 32 * 16 * 16) * 2;
    double rest = calls - layers - biases;
    assertTrue(rest >= 0 && rest <= 1e-5 * layers, "counted per call " + calls + ", per layer " + layers + " and biases " + biases);
    double sum = 0;
    for (com.fasterxml.jackson.databind.JsonNode k : profile.get("kernels")) if (k.get("product").asBoolean()) sum += k.get("flops").asDouble();
    assertEquals(calls, sum, 1e-6 * calls);
    assertTrue(profile.get("product_seconds").asDouble() <= profile.get("kernel_seconds").asDouble(), profile.toString());
    assertTrue(o.contains("\n    exact products, all blocks, 2 directions, its products alone (profiled runs, "), o);
    // the memory rate beside each GEMM rate, and the row's bound in the JSON: a wiring check that its fields agree (products'
    // FLOPs at the higher GEMM rate, then the other kernels' 8-byte entries at the higher memory rate; the share the bound over
    // the median). The formula itself is checked by hand in theBoundAdds..., the entries by hand in KernelProfilerTest
    double memoryBefore = number(o, "memory rate, before: "), memoryAfter = number(o, "memory rate, after: ");
    assertTrue(memoryBefore > 0 && memoryAfter > 0, o);
    com.fasterxml.jackson.databind.JsonNode memory = root.get("memory_rate");
    assertEquals(256L << 20, memory.get("block_bytes").asLong());
    assertEquals(Math.max(memory.get("gb_per_s").get(0).asDouble(), memory.get("gb_per_s").get(1).asDouble()), memory.get("reference_gb_per_s").asDouble(), 5e-4);
    assertEquals(Math.max(memoryBefore, memoryAfter), memory.get("reference_gb_per_s").asDouble(), 0.051);
    double others = profile.get("other_entries").asDouble();
    double otherSum = 0;
    for (com.fasterxml.jackson.databind.JsonNode k : profile.get("kernels")) if (!k.get("product").asBoolean()) otherSum += k.get("entries").asDouble();
    assertEquals(otherSum, others, 1e-9 * others);
    assertTrue(others > 0, profile.toString());
    com.fasterxml.jackson.databind.JsonNode bound = null;
    for (com.fasterxml.jackson.databind.JsonNode b : root.get("bounds")) if (b.get("what").asText().equals("exact products, all blocks, 2 directions")) bound = b;
    assertTrue(bound != null, root.toString());
    double expected = calls / (root.get("gemm_rate").get("reference_gflops").asDouble() * 1e9) + others * 8 / (memory.get("reference_gb_per_s").asDouble() * 1e9);
    assertEquals(expected, bound.get("bound_s").asDouble(), 1e-5 * expected + 1e-6);
    assertEquals(bound.get("bound_s").asDouble() / bound.get("median_s").asDouble(), bound.get("share_of_bound").asDouble(), 1e-3);
    assertTrue(o.contains("\n    exact products, all blocks, 2 directions: bound "), o);
    assertTrue(o.contains("\n    exact products, all blocks, 2 directions, its other kernels (profiled runs, "), o);
    // by shapes: the first convolution's weight gradient, its 2 directions of 16 x 1024 against 2 images of 3 channels x 1024 pixels
    Path shapesJson = dir.resolve("shapes.json");
    String[] shapes = run("bench", "--net", "networks/c4d3.hbp", "--batch", "2", "--backend", "blas-f64", "--repeat", "1", "--warmup", "0",
        "--strategies", "exact", "--directions", "2", "--profile", "shapes", "--gemm-rate", "64", "--out", shapesJson.toString());
    assertEquals("0", shapes[0], shapes[1] + "\n" + shapes[2]);
    assertTrue(shapes[1].contains("convolutionWeightGradient(2x2:16x1024, 2x1:3x1024)"), shapes[1]);
    // the share of the products' FLOPs in shapes at >= 80 % of the GEMM rate, recounted here from the JSON's kernels
    com.fasterxml.jackson.databind.JsonNode shapesRoot = new com.fasterxml.jackson.databind.ObjectMapper().readTree(shapesJson.toFile());
    double rate = shapesRoot.get("gemm_rate").get("reference_gflops").asDouble(), all = 0, fast = 0;
    int count = 0, fastCount = 0;
    for (com.fasterxml.jackson.databind.JsonNode res : shapesRoot.get("results")) {
      if (!res.get("what").asText().equals("exact products, all blocks, 2 directions")) continue;
      for (com.fasterxml.jackson.databind.JsonNode k : res.get("profile").get("kernels")) {
        double f = k.get("flops").asDouble(), sec = k.get("seconds").asDouble();
        if (!k.get("product").asBoolean() || f <= 0 || sec <= 0) continue;
        all += f;
        count++;
        if (f / sec / 1e9 >= 0.8 * rate) {
          fast += f;
          fastCount++;
        }
      }
    }
    assertTrue(count > 4, shapesRoot.toString());
    String line = "\n    exact products, all blocks, 2 directions, its products by shape: ";
    assertEquals(100 * fast / all, number(shapes[1], line), 0.051, shapes[1]);
    assertTrue(shapes[1].contains(String.format(java.util.Locale.ROOT, " of their FLOPs in shapes at >= 80 %% of the GEMM rate (%d of %d shapes)",
        fastCount, count)), shapes[1]);
    String[] wrong = run("bench", "--net", "networks/c4d3.hbp", "--profile", "calls");
    assertEquals("2", wrong[0]);
    assertEquals("hbp: --profile: expected kernels or shapes, not 'calls'\n", wrong[2]);
  }

  @Test
  void unknownDiagonalIsAClearError() {
    String[] r = run("bench", "--diagonals", "fisher");
    assertEquals("2", r[0]);
    assertEquals("hbp: --diagonals: expected exact, mc or hessian, not 'fisher'\n", r[2]);
  }

  @Test
  void gemmFlopCountsOfTheProductsFollowTheLayerSizes() {
    List<Long> sizes = ProductFlops.productSizes(NetworkResolver.load(Path.of("networks/demo-fmnist.hbp"), null, ModuleLibrary.builtInSpecDirs()));
    assertEquals(List.of(784L * 64, 64L * 32, 32L * 10), sizes);
    // exact blocks: W1 4*s1 + trip 4*(s2+s3), b1 4*(s2+s3), W2 4*s2 + 4*s3, b2 4*s3, W3 4*s3, b3 0
    double s1 = 784 * 64, s2 = 64 * 32, s3 = 32 * 10;
    assertEquals(4 * s1 + 8 * (s2 + s3) + 4 * s2 + 8 * s3 + 4 * s3, ProductFlops.exactBlocksPerColumn(sizes));
    // whole-network GGN: the first layer has dW x forward and g x' back; the others also W dx and W' g
    assertEquals(4 * s1 + 8 * s2 + 8 * s3, ProductFlops.networkGgnPerColumn(sizes));
  }

  /** c4d3 (CIFAR-10 inputs 3 x 32 x 32): a convolution's size is cout·cin·k·k·oh·ow, its output's pixels times one filter's multiply-adds. */
  @Test
  void convolutionsCountTheirGemmsOverTheOutputPixels() {
    List<Long> sizes = ProductFlops.productSizes(NetworkResolver.load(Path.of("networks/c4d3.hbp"), null, ModuleLibrary.builtInSpecDirs()));
    assertEquals(List.of(16L * 3 * 9 * 32 * 32, 16L * 16 * 9 * 32 * 32, 32L * 16 * 9 * 16 * 16, 32L * 32 * 9 * 16 * 16, 512L * 2048, 64L * 512, 10L * 64), sizes);
    // docs/performance.md: 1.590e8 GEMM FLOPs per sample and direction for the exact products of all blocks
    assertEquals(1.590e8, ProductFlops.exactBlocksPerColumn(sizes), 0.001e8);
  }
}
