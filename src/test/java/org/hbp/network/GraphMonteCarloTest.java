package org.hbp.network;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.hbp.backend.Backend;
import org.hbp.dsl.Dsl;
import org.hbp.dsl.ModuleSpec;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The Monte-Carlo GGN diagonal on graph networks is unbiased for the exact one, which
 * {@link GraphKfacTorchCheckTest} checks against autograd's GGN: the Monte-Carlo columns {@code S z}
 * (z Rademacher or Gaussian) travel back through the graph as the exact columns of S do
 * ({@link GraphColumns}: branch points sum, merges apply their transposed Jacobians, a tied layer
 * sums its uses before squaring), and {@code E[(J' S z)^2] = diag(J' S S' J)}. Before, the graph
 * route was checked only against the chain route at the same seed, which shares the sampling.
 *
 * <p>M = 8000 independent estimates (K = 4 vectors per sample, each draw its own seed) have mean m with
 * standard error se = s/sqrt(M) per entry; if the estimator is unbiased, (m - exact)/se is about
 * standard normal, and |m - exact| <= 5 se fails for an entry with probability about 6e-7 (the seeds
 * are fixed). The same bound rejects a 5 % bias in at least half of the entries: the test can see a
 * bias of that size.
 */
class GraphMonteCarloTest {
  private static final Backend BE = NetworkCurvatureTest.BE;
  private static final List<ModuleSpec> BUILT_IN = NetworkResolver.library(List.of(Path.of("modules-spec")));

  @ParameterizedTest
  @CsvSource({"product, rademacher", "tied, rademacher", "concat, gaussian", "tied, gaussian"})
  void monteCarloGgnDiagonalOnAGraphIsUnbiased(String name, String sampling) {
    GgnDiagonal.Sampling s = GgnDiagonal.Sampling.valueOf(sampling.toUpperCase(java.util.Locale.ROOT));
    NetworkSpec spec = NetworkResolver.resolve(Dsl.parse(GraphNetworkTorchCheckTest.source(name), name + ".hbp"), null, BUILT_IN);
    NetworkCurvatureTest.Setup setup = new NetworkCurvatureTest.Setup(spec, 3, 11, 2);
    Pass pass = setup.pass();
    Map<String, double[]> exact = GgnDiagonal.toHost(BE, GgnDiagonal.exact(pass));
    int m = 8000;
    Map<String, double[]> sum = new LinkedHashMap<>(), squares = new LinkedHashMap<>();
    for (int draw = 0; draw < m; draw++) {
      Map<String, double[]> est = GgnDiagonal.toHost(BE, GgnDiagonal.monteCarlo(pass, 4, s, 5000 + draw));
      for (var e : est.entrySet()) {
        double[] a = sum.computeIfAbsent(e.getKey(), k -> new double[e.getValue().length]);
        double[] b = squares.computeIfAbsent(e.getKey(), k -> new double[e.getValue().length]);
        for (int i = 0; i < a.length; i++) {
          a[i] += e.getValue()[i];
          b[i] += e.getValue()[i] * e.getValue()[i];
        }
      }
    }
    int entries = 0, biasedRejected = 0;
    for (String p : exact.keySet()) {
      double[] x = exact.get(p), a = sum.get(p), b = squares.get(p);
      for (int i = 0; i < x.length; i++) {
        double mean = a[i] / m, var = Math.max(0, (b[i] - m * mean * mean) / (m - 1)), se = Math.sqrt(var / m);
        assertTrue(Math.abs(mean - x[i]) <= 5 * se + 1e-14 * Math.max(1, Math.abs(x[i])),
            name + " " + sampling + " " + p + "[" + i + "]: mean " + mean + ", exact " + x[i] + ", standard error " + se);
        if (Math.abs(1.05 * mean - x[i]) > 5 * se) biasedRejected++;
        entries++;
      }
    }
    assertTrue(entries > 20, "entries " + entries);
    assertTrue(biasedRejected >= entries / 2, name + ": a 5 % bias was seen in only " + biasedRejected + " of " + entries + " entries");
  }
}
