package org.hbp.network;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.EigenDecomposition_F64;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.dsl.Dsl;
import org.hbp.dsl.ModuleSpec;
import org.hbp.verify.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Curvature of graph networks beyond the autograd checks ({@link GraphNetworkTorchCheckTest}):
 * for one sample the frontier walk of kfra and bda is the exact joint recursion (every average is
 * of one term), so their blocks equal the exact strategy's for every curvature, on branches, add,
 * concat and entrywise-product merges (whose residual enters as {@code mod([[0, D], [D, 0]])});
 * GGN and PCH blocks are positive semi-definite for a batch, for every strategy; and a tied layer's
 * kfra block (the sum of its uses' blocks) is not the exact one (which has the cross terms).
 */
class GraphCurvatureTest {
  static final Backend BE = NetworkCurvatureTest.BE;
  private static final List<ModuleSpec> BUILT_IN = NetworkResolver.library(List.of(Path.of("modules-spec")));

  private static NetworkSpec spec(String name) {
    return NetworkResolver.resolve(Dsl.parse(GraphNetworkTorchCheckTest.source(name), name + ".hbp"), null, BUILT_IN);
  }

  @ParameterizedTest
  @ValueSource(strings = {"add", "concat", "product", "inception"})
  void forOneSampleKfraAndBdaAreExact(String name) {
    NetworkCurvatureTest.Setup s = new NetworkCurvatureTest.Setup(spec(name), 1, 3, 2);
    Pass pass = s.pass();
    int compared = 0;
    for (CurvatureKind kind : CurvatureKind.values()) {
      Curvature exact = pass.curvature(kind, Strategy.EXACT);
      for (Strategy strategy : List.of(Strategy.KFRA, Strategy.BDA)) {
        Curvature c = pass.curvature(kind, strategy);
        for (String p : s.net.parameterNames()) {
          GraphReductionTest.assertClose(name + " " + kind + " " + strategy + " " + p, exact.dense(p, 1, Curvature.DEFAULT_MEMORY_LIMIT),
              c.dense(p, 1, Curvature.DEFAULT_MEMORY_LIMIT));
          compared++;
        }
      }
    }
    assertEquals(CurvatureKind.values().length * 2 * s.net.parameterNames().size(), compared);
  }

  @ParameterizedTest
  @ValueSource(strings = {"add", "concat", "product", "tied"})
  void ggnAndPchBlocksArePositiveSemiDefinite(String name) {
    NetworkCurvatureTest.Setup s = new NetworkCurvatureTest.Setup(spec(name), 4, 5, 2);
    Pass pass = s.pass();
    for (CurvatureKind kind : List.of(CurvatureKind.GGN, CurvatureKind.PCH_ABS, CurvatureKind.PCH_CLIP))
      for (Strategy strategy : List.of(Strategy.EXACT, Strategy.KFRA, Strategy.BDA)) {
        Curvature c = pass.curvature(kind, strategy);
        for (String p : s.net.parameterNames()) {
          double min = minEigenvalue(c.dense(p, 1, Curvature.DEFAULT_MEMORY_LIMIT));
          assertTrue(min > -1e-10, name + " " + kind + " " + strategy + " " + p + ": eigenvalue " + min);
        }
      }
  }

  @ParameterizedTest
  @ValueSource(strings = {"tied"})
  void aTiedLayersKfraBlockDropsTheCrossTermsBetweenUses(String name) {
    NetworkCurvatureTest.Setup s = new NetworkCurvatureTest.Setup(spec(name), 1, 3, 2);
    Pass pass = s.pass();
    double[] exact = BE.toArray(pass.curvature(CurvatureKind.GGN, Strategy.EXACT).dense("fc.W", 1, Curvature.DEFAULT_MEMORY_LIMIT));
    double[] kfra = BE.toArray(pass.curvature(CurvatureKind.GGN, Strategy.KFRA).dense("fc.W", 1, Curvature.DEFAULT_MEMORY_LIMIT));
    double diff = 0, scale = 0;
    for (int i = 0; i < exact.length; i++) {
      diff = Math.max(diff, Math.abs(exact[i] - kfra[i]));
      scale = Math.max(scale, Math.abs(exact[i]));
    }
    assertTrue(diff > 1e-6 * scale, "the cross terms between the two uses should be missing from kfra's block");
    // the other parameters are not shared: exact for one sample
    GraphReductionTest.assertClose("h.W", pass.curvature(CurvatureKind.GGN, Strategy.EXACT).dense("h.W", 1, Curvature.DEFAULT_MEMORY_LIMIT),
        pass.curvature(CurvatureKind.GGN, Strategy.KFRA).dense("h.W", 1, Curvature.DEFAULT_MEMORY_LIMIT));
  }

  private static double minEigenvalue(Batch dense) {
    DMatrixRMaj m = new Tensor(new int[] {dense.rows(), dense.cols()}, BE.toArray(dense)).toDMatrix();
    EigenDecomposition_F64<DMatrixRMaj> eig = DecompositionFactory_DDRM.eig(m.numRows, false, true);
    assertTrue(eig.decompose(m));
    double min = Double.POSITIVE_INFINITY, max = 0;
    for (int i = 0; i < m.numRows; i++) {
      min = Math.min(min, eig.getEigenvalue(i).real);
      max = Math.max(max, Math.abs(eig.getEigenvalue(i).real));
    }
    return min / Math.max(1, max);
  }

  /** The frontier's joint Hessian above the limit is refused, naming the values (every single layer's matrices fit). */
  @ParameterizedTest
  @ValueSource(strings = {"concat"})
  void aFrontierAboveTheMemoryLimitIsRefused(String name) {
    NetworkCurvatureTest.Setup s = new NetworkCurvatureTest.Setup(spec(name), 2, 3, 1);
    Pass pass = s.pass();
    org.hbp.UserError e = org.junit.jupiter.api.Assertions.assertThrows(org.hbp.UserError.class,
        () -> pass.curvature(CurvatureKind.GGN, Strategy.KFRA, 600));
    assertTrue(e.getMessage().startsWith("graph network cat: the batch-averaged joint Hessian of the values live before 'y' (c) has 7 x 7 entries"),
        e.getMessage());
    pass.curvature(CurvatureKind.GGN, Strategy.KFRA, 16 * 49).release(); // the largest frontier (7 values) fits
  }

  /**
   * What is written for sequential networks only is refused on a graph, naming it, never a silent
   * wrong answer: the strategies beyond exact/kfra/bda, the GGN and Hessian diagonals, per-sample gradients.
   */
  @ParameterizedTest
  @ValueSource(strings = {"add", "tied"})
  void whatIsNotDefinedOnGraphsIsRefusedByName(String name) {
    NetworkCurvatureTest.Setup s = new NetworkCurvatureTest.Setup(spec(name), 3, 5, 2);
    Pass pass = s.pass();
    for (Strategy strategy : List.of(Strategy.KFAC, Strategy.KFLR, Strategy.EKFAC, Strategy.DIAG_GGN)) {
      org.hbp.UserError e = org.junit.jupiter.api.Assertions.assertThrows(org.hbp.UserError.class, () -> pass.curvature(CurvatureKind.GGN, strategy));
      assertTrue(e.getMessage().contains("is not defined on graph networks"), e.getMessage());
    }
    for (Runnable r : List.<Runnable>of(() -> GgnDiagonal.exact(pass), () -> HessianDiagonal.exact(pass),
        () -> SampleGradients.perSample(pass, s.net.parameterNames().get(0)))) {
      org.hbp.UserError e = org.junit.jupiter.api.Assertions.assertThrows(org.hbp.UserError.class, r::run);
      assertTrue(e.getMessage().contains("is not defined on graph networks yet"), e.getMessage());
    }
  }
}
