package org.hbp.network;

import static org.hbp.network.NetworkCurvatureTest.crossEntropy;
import static org.hbp.network.NetworkCurvatureTest.elementwise;
import static org.hbp.network.NetworkCurvatureTest.layer;
import static org.hbp.network.NetworkCurvatureTest.linear;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.backend.Backends;
import org.junit.jupiter.api.Test;

/**
 * Closing a pass frees what it computed (native memory with the BLAS backends) but never the
 * caller's inputs, targets and parameters, even where a layer output is a view of the input (a
 * flatten first): running again after close gives the same loss, gradients and curvature.
 */
class PassCloseTest {
  @Test
  void rerunningAfterCloseGivesTheSameNumbers() {
    for (String backend : new String[] {"blas-f64", "blas-f32", "cpu"}) {
      Backend be = Backends.create(backend, 0);
      for (NetworkSpec spec : new NetworkSpec[] {NetworkCurvatureTest.cnn(), NetworkCurvatureTest.residual(), flattenFirst()}) {
        NetworkCurvatureTest.Setup s = new NetworkCurvatureTest.Setup(spec, 3, 4);
        Network net = new Network(spec, Network.builtIn(), be);
        Map<String, Batch> params = new LinkedHashMap<>();
        for (var e : s.paramBatches.entrySet()) {
          Batch b = e.getValue();
          params.put(e.getKey(), be.fromArray(1, 1, b.rows(), b.cols(), NetworkCurvatureTest.BE.toArray(b)));
        }
        Batch x = be.fromArray(s.x.samples(), 1, s.x.rows(), s.x.cols(), NetworkCurvatureTest.BE.toArray(s.x));
        Batch y = be.fromArray(s.y.samples(), 1, s.y.rows(), s.y.cols(), NetworkCurvatureTest.BE.toArray(s.y));
        double[][] first = run(net, be, params, x, y), again = null;
        for (int i = 0; i < 3; i++) again = run(net, be, params, x, y);
        for (int i = 0; i < first.length; i++) assertArrayEquals(first[i], again[i], 0, backend + " " + spec.name() + " result " + i);
        assertEquals(first.length, again.length);
      }
    }
  }

  /** loss, all gradients and one exact GGN product, then close. */
  private static double[][] run(Network net, Backend be, Map<String, Batch> params, Batch x, Batch y) {
    java.util.List<double[]> out = new java.util.ArrayList<>();
    try (Pass pass = net.run(params, x, y)) {
      out.add(new double[] {pass.loss()});
      for (String p : net.parameterNames()) out.add(be.toArray(pass.gradient(p)));
      String p = net.parameterNames().get(0);
      int[] s = net.parameterShape(p);
      out.add(be.toArray(pass.curvature(CurvatureKind.GGN, Strategy.EXACT).matProd(p, be.fill(s[0], s[1], 1.0))));
    }
    return out.toArray(new double[0][]);
  }

  /** A flatten as the first layer: its output is a view of the caller's input. */
  static NetworkSpec flattenFirst() {
    NetworkSpec.Layer flatten = layer("flatten", Map.of("c", 1, "h", 2, "w", 2), List.of(1, 2, 2), List.of(4));
    return new NetworkSpec("flat", "test", 1, List.of(1, 2, 2), List.of(flatten, linear(4, 3), elementwise("sigmoid", 3), linear(3, 2)),
        crossEntropy(2));
  }
}
