package org.hbp.network;

import java.nio.file.Path;
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
    UnbiasedEstimates.assertUnbiased(name + " " + sampling, exact, 8000, draw -> GgnDiagonal.toHost(BE, GgnDiagonal.monteCarlo(pass, 4, s, 5000 + draw)),
        20);
  }
}
