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
import org.hbp.calculus.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Curvature of graph networks beyond the autograd checks ({@link GraphNetworkTorchCheckTest}):
 * for one sample the frontier walk of kfra and bda is the exact joint recursion (every average is
 * of one term), so their blocks equal the exact strategy's for every curvature, on branches, add,
 * concat and entrywise-product merges (whose residual enters as {@code mod([[0, D], [D, 0]])});
 * GGN and PCH blocks are positive semi-definite for a batch, for every strategy; a tied layer's
 * kfra block (the sum of its uses' blocks) is not the exact one (which has the cross terms); the
 * columns carried back through a graph ({@link GraphColumns}: GGN diagonals, kfac/kflr/ekfac, the
 * factored GGN, per-sample gradients) agree with the exact products and, on a skip connection,
 * with the residual block; and what stays undefined on graphs is refused by name (the Hessian
 * diagonal on graphs: {@link GraphHessianDiagonalTorchCheckTest}).
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
   * What is not defined on a graph, or not written for one yet, is refused by name, never a silent
   * wrong answer: kfac, kflr and ekfac on a shared instance (its block sums the
   * Kronecker terms of every pair of uses, which is not one Kronecker product), naming the instance;
   * kfac under a curvature that keeps a residual.
   */
  @ParameterizedTest
  @ValueSource(strings = {"add", "tied"})
  void whatIsNotDefinedOnGraphsIsRefusedByName(String name) {
    NetworkCurvatureTest.Setup s = new NetworkCurvatureTest.Setup(spec(name), 3, 5, 2);
    Pass pass = s.pass();
    for (Strategy strategy : List.of(Strategy.KFAC, Strategy.KFLR, Strategy.EKFAC)) {
      if (name.equals("tied")) {
        for (CurvatureKind kind : List.of(CurvatureKind.GGN, CurvatureKind.HESSIAN)) {
          org.hbp.UserError e = org.junit.jupiter.api.Assertions.assertThrows(org.hbp.UserError.class, () -> pass.curvature(kind, strategy));
          assertTrue(e.getMessage().contains("instance fc (linear) is used by 2 modules (u, v)"), e.getMessage());
          assertTrue(e.getMessage().contains("not one Kronecker product"), e.getMessage());
        }
      } else {
        org.hbp.UserError e = org.junit.jupiter.api.Assertions.assertThrows(org.hbp.UserError.class, () -> pass.curvature(CurvatureKind.HESSIAN, strategy));
        assertTrue(e.getMessage().contains("has no residual terms"), e.getMessage());
        pass.curvature(CurvatureKind.GGN, strategy).release();
      }
    }
  }

  /**
   * A skip connection declared as a graph gives the sequential residual form's numbers for what
   * carries columns back ({@link GraphColumns} against the chain's {@link ColumnsBackward} and
   * {@link OutputColumns}, two separate walks): the exact and Monte-Carlo GGN diagonals, kfac (the
   * same seed draws the same vectors), kflr and ekfac blocks, and per-sample gradients.
   */
  @ParameterizedTest
  @ValueSource(strings = {"linear", "deep"})
  void aGraphSkipConnectionCarriesColumnsAsTheResidualBlock(String name) {
    String[] p = GraphReductionTest.pair(name);
    Network graph = new Network(NetworkResolver.resolve(Dsl.parse(p[1], "net.hbp"), null, BUILT_IN), Network.builtIn(), BE);
    NetworkCurvatureTest.Setup s = new NetworkCurvatureTest.Setup(NetworkResolver.resolve(Dsl.parse(p[0], "net.hbp"), null, BUILT_IN), 4, 7, 2);
    java.util.Map<String, String> rename = new java.util.LinkedHashMap<>();
    for (String pair : p[2].split(",")) for (String var : List.of("W", "b")) rename.put(pair.split("=")[0] + "." + var, pair.split("=")[1] + "." + var);
    java.util.Map<String, Batch> graphParams = new java.util.LinkedHashMap<>();
    s.paramBatches.forEach((k, v) -> graphParams.put(rename.get(k), v));
    Pass ps = s.net.run(s.paramBatches, s.x, s.y), pg = graph.run(graphParams, s.x, s.y);
    int compared = 0;
    for (Strategy strategy : List.of(Strategy.DIAG_GGN, Strategy.DIAG_GGN_MC, Strategy.KFAC, Strategy.KFLR, Strategy.EKFAC)) {
      Curvature cs = ps.curvature(CurvatureKind.GGN, strategy), cg = pg.curvature(CurvatureKind.GGN, strategy);
      for (String q : rename.keySet()) {
        GraphReductionTest.assertClose(name + " " + strategy + " " + q, cs.dense(q, 1, Curvature.DEFAULT_MEMORY_LIMIT),
            cg.dense(rename.get(q), 1, Curvature.DEFAULT_MEMORY_LIMIT));
        compared++;
      }
    }
    for (String q : rename.keySet()) {
      GraphReductionTest.assertClose(name + " per-sample gradient " + q, SampleGradients.perSample(ps, q), SampleGradients.perSample(pg, rename.get(q)));
      compared++;
    }
    assertEquals(6 * rename.size(), compared);
  }

  /**
   * The columns carried back through a graph ({@link GraphColumns}) against the exact products,
   * which carry directions forward ({@link GraphProducts}, a separate walk): the factored GGN's
   * products equal the whole-network GGN-vector products, and the GGN diagonal is the diagonal of
   * the exact GGN block, on branches, {@code +}/{@code -}, concat, {@code .*} merges, a tied layer
   * (cross terms between its uses) and convolutions concatenated along channels.
   */
  @ParameterizedTest
  @ValueSource(strings = {"add", "concat", "product", "tied", "inception"})
  void columnsBackAgreeWithTheExactProducts(String name) {
    NetworkCurvatureTest.Setup s = new NetworkCurvatureTest.Setup(spec(name), 3, 11, 2);
    Pass pass = s.pass();
    java.util.Map<String, Batch> v = new java.util.LinkedHashMap<>();
    java.util.Random rng = new java.util.Random(3);
    for (String p : s.net.parameterNames()) {
      int[] sh = s.net.parameterShape(p);
      double[] d = new double[2 * sh[0] * sh[1]];
      for (int i = 0; i < d.length; i++) d[i] = rng.nextGaussian();
      v.put(p, BE.fromArray(1, 2, sh[0], sh[1], d));
    }
    java.util.Map<String, Batch> network = pass.networkProduct(CurvatureKind.GGN, v);
    FactoredGgn factored = FactoredGgn.of(pass, Curvature.DEFAULT_MEMORY_LIMIT);
    java.util.Map<String, Batch> got = factored.apply(v);
    Curvature exact = pass.curvature(CurvatureKind.GGN, Strategy.EXACT), diagonal = pass.curvature(CurvatureKind.GGN, Strategy.DIAG_GGN);
    int compared = 0;
    for (String p : s.net.parameterNames()) {
      GraphReductionTest.assertClose(name + " factored GGN product " + p, network.get(p), got.get(p));
      double[] e = BE.toArray(exact.dense(p, 1, Curvature.DEFAULT_MEMORY_LIMIT)), d = BE.toArray(diagonal.dense(p, 1, Curvature.DEFAULT_MEMORY_LIMIT));
      int n = (int) Math.round(Math.sqrt(e.length));
      double[] ed = new double[n * n];
      for (int i = 0; i < n; i++) ed[i * n + i] = e[i * n + i];
      GraphReductionTest.assertClose(name + " GGN diagonal " + p, BE.fromArray(1, 1, n, n, ed), BE.fromArray(1, 1, n, n, d));
      compared++;
    }
    factored.release();
    assertEquals(s.net.parameterNames().size(), compared);
  }

  /**
   * kfac's refusal of a parameter without a Kronecker factor names the parameter by its instance
   * ('sk.W1', as --params and --vectors name it) and the layer by its value ('t'), where the two differ.
   */
  @org.junit.jupiter.api.Test
  void kfacNamesTheParameterOfANamedInstanceWithoutKroneckerFactor() {
    String source = String.join("\n", "network named {", "  input x: vector(5);", "  h = linear(m = 4)(x);", "  a = tanh(h);",
        "  sk = skip(h = 3);", "  t = sk(a);", "  y = linear(m = 3)(t);", "  loss crossentropy(y);", "}");
    NetworkCurvatureTest.Setup s = new NetworkCurvatureTest.Setup(NetworkResolver.resolve(Dsl.parse(source, "named.hbp"), null, BUILT_IN), 3, 5, 2);
    Curvature c = s.pass().curvature(CurvatureKind.GGN, Strategy.KFLR);
    Backend be = s.net.backend();
    int[] shape = s.net.parameterShape("sk.W1");
    org.hbp.UserError e = org.junit.jupiter.api.Assertions.assertThrows(org.hbp.UserError.class,
        () -> c.matProd("sk.W1", be.fromArray(1, 1, shape[0], shape[1], new double[shape[0] * shape[1]])));
    assertTrue(e.getMessage().contains("parameter 'sk.W1' of layer t (skip) has no Kronecker factor"), e.getMessage());
  }
}
