package org.hbp.network;

import static org.hbp.network.NetworkCurvatureTest.crossEntropy;
import static org.hbp.network.NetworkCurvatureTest.elementwise;
import static org.hbp.network.NetworkCurvatureTest.layer;
import static org.hbp.network.NetworkCurvatureTest.linear;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.backend.cpu.CpuBackend;
import org.hbp.dsl.Dsl;
import org.junit.jupiter.api.Test;

/**
 * The pairs of a diagonal Jacobian and a selection ({@link DiagonalSelections}) against the same
 * function computed without them: an increasing activation commutes with a max-pool
 * ({@code max σ(x) = σ(max x)}, the same entry kept), so a net with the pool before the activation
 * is the same function, and takes no pair. Every curvature quantity that goes through the pairs is
 * compared to 1e-10: whole-network products of every kind, exact blocks of every kind by both GGN
 * routes, the factored whole-network GGN, the GGN and Hessian diagonals, KFLR and EKFAC; on a
 * chain, on its graph declaration, and on a graph with one pair on the graph's input and another in
 * a branch, joined by a concat. The PCH's residuals agree too: the activation's {@code σ''(x) dz}
 * is zero wherever the pool keeps nothing, and its modification is entrywise.
 */
class DiagonalSelectionsTest {
  private final Backend be = new CpuBackend();

  /** conv, sigmoid and max-pool (or max-pool and sigmoid), conv, tanh, flatten, linear. */
  static NetworkSpec chain(boolean poolFirst) {
    NetworkSpec.Layer sigmoid = elementwise("sigmoid", poolFirst ? 16 : 64);
    NetworkSpec.Layer pool = layer("maxpool", Map.of("c", 4, "h", 4, "w", 4, "k", 2), List.of(4, 4, 4), List.of(4, 2, 2));
    List<NetworkSpec.Node> layers = new ArrayList<>();
    layers.add(layer("conv2d", Map.of("cin", 2, "cout", 4, "h", 4, "w", 4, "k", 3, "s", 1, "p", 1, "d", 1), List.of(2, 4, 4), List.of(4, 16)));
    layers.addAll(poolFirst ? List.of(pool, sigmoid) : List.of(sigmoid, pool));
    layers.add(layer("conv2d", Map.of("cin", 4, "cout", 4, "h", 2, "w", 2, "k", 3, "s", 1, "p", 1, "d", 1), List.of(4, 2, 2), List.of(4, 4)));
    layers.add(elementwise("tanh", 16));
    layers.add(layer("flatten", Map.of("c", 4, "h", 2, "w", 2), List.of(4, 2, 2), List.of(16)));
    layers.add(linear(16, 3));
    return new NetworkSpec("cnn", "test", 1, List.of(2, 4, 4), layers, crossEntropy(3));
  }

  /** The chain as a graph. */
  static final String GRAPH = String.join("\n", "network g {", "  input x: tensor(2, 4, 4);",
      "  a = conv2d(cout = 4, k = 3, s = 1, p = 1, d = 1)(x);", "  b = sigmoid(a);", "  c = maxpool(k = 2)(b);",
      "  e = conv2d(cout = 4, k = 3, s = 1, p = 1, d = 1)(c);", "  f = tanh(e);", "  g = flatten(f);", "  y = linear(m = 3)(g);",
      "  loss crossentropy(y);", "}");

  /** A pair on the graph's input (no directions reach it, only the Hessian's residual at x: none), a second pair in a branch, a concat. */
  static final String BRANCHES = String.join("\n", "network g2 {", "  input x: tensor(2, 4, 4);", "  b = sigmoid(x);",
      "  c = maxpool(k = 2)(b);", "  a = conv2d(cout = 4, k = 3, s = 1, p = 1, d = 1)(x);", "  b2 = tanh(a);", "  c2 = maxpool(k = 2)(b2);",
      "  e = conv2d(cout = 2, k = 3, s = 1, p = 1, d = 1)(c2);", "  f = tanh(e);", "  g = flatten(f);", "  h = flatten(c);",
      "  k = concat(g, h);", "  y = linear(m = 3)(k);", "  loss crossentropy(y);", "}");

  /** {@code source} with each activation-then-pool written pool-then-activation. */
  static String poolFirst(String source) {
    return source.replace("b = sigmoid(a);\n  c = maxpool(k = 2)(b);", "b = maxpool(k = 2)(a);\n  c = sigmoid(b);")
        .replace("b = sigmoid(x);\n  c = maxpool(k = 2)(b);", "b = maxpool(k = 2)(x);\n  c = sigmoid(b);")
        .replace("b2 = tanh(a);\n  c2 = maxpool(k = 2)(b2);", "b2 = maxpool(k = 2)(a);\n  c2 = tanh(b2);");
  }

  private Network graph(String source) {
    return new Network(NetworkResolver.resolve(Dsl.parse(source, "g.hbp"), null, NetworkResolver.library(List.of(Path.of("modules-spec")))),
        Network.builtIn(), be);
  }

  @Test
  void aChainsPairIsTheNetWithThePoolFirst() {
    compare(new Network(chain(true), Network.builtIn(), be), new Network(chain(false), Network.builtIn(), be), 1);
  }

  /**
   * A selection that does not give its index map (an operator generated before {@code
   * jacobianSelection}) takes no pair, and the net computes the same through its two layers.
   */
  @Test
  void aSelectionWithoutItsIndexMapTakesNoPair() {
    Network.OperatorFactory withoutIndexMap = OperatorOverrides.answering(Set.of("maxpool"), "jacobianSelection", null);
    compare(new Network(chain(false), withoutIndexMap, be), new Network(chain(false), Network.builtIn(), be), 1);
  }

  @Test
  void aGraphsPairIsTheNetWithThePoolFirst() {
    compare(new Network(chain(true), Network.builtIn(), be), graph(GRAPH), 1);
  }

  @Test
  void pairsOnTheInputAndInABranchAreTheNetWithThePoolsFirst() {
    compare(graph(poolFirst(BRANCHES)), graph(BRANCHES), 2);
  }

  /** Every quantity of {@link #quantities} equal to 1e-10 on both nets, the pairs taken on {@code paired} ({@code pairs} of them) and none on the other. */
  private void compare(Network reference, Network paired, int pairs) {
    assertEquals(reference.parameterNames().size(), paired.parameterNames().size());
    Map<String, double[]> want = quantities(reference, 0), got = quantities(paired, pairs);
    assertEquals(want.keySet(), got.keySet());
    double largest = 0;
    for (String k : want.keySet()) largest = Math.max(largest, GraphReductionTest.assertClose(k, want.get(k), got.get(k)));
    assertTrue(largest > 1e-3, "all quantities vanish");
  }

  /**
   * The quantities by name (the parameters by their index), on random parameters, 4 samples and 3
   * directions (seeded: the same on both nets); checks that the net takes {@code pairs} pairs.
   */
  private Map<String, double[]> quantities(Network net, int pairs) {
    Random rng = new Random(11);
    Map<String, Batch> params = new LinkedHashMap<>(), dirs = new LinkedHashMap<>();
    for (String p : net.parameterNames()) {
      int[] s = net.parameterShape(p);
      double[] d = new double[s[0] * s[1]];
      for (int i = 0; i < d.length; i++) d[i] = rng.nextGaussian();
      params.put(p, be.fromArray(1, 1, s[0], s[1], d));
    }
    int n = 4, in = 32, classes = 3, directions = 3;
    double[] x = new double[n * in], y = new double[n * classes];
    for (int i = 0; i < x.length; i++) x[i] = rng.nextGaussian();
    for (int i = 0; i < n; i++) y[i * classes + rng.nextInt(classes)] = 1;
    Pass pass = net.run(params, be.fromArray(n, 1, in, 1, x), be.fromArray(n, 1, classes, 1, y));
    assertEquals(pairs, pairs(pass), net.spec.name() + ": pairs taken");
    List<String> names = net.parameterNames();
    for (String p : names) {
      int[] s = net.parameterShape(p);
      double[] v = new double[directions * s[0] * s[1]];
      for (int i = 0; i < v.length; i++) v[i] = rng.nextGaussian();
      dirs.put(p, be.fromArray(1, directions, s[0], s[1], v));
    }
    Map<String, double[]> out = new LinkedHashMap<>();
    for (CurvatureKind kind : CurvatureKind.values()) {
      Map<String, Batch> product = pass.networkProduct(kind, dirs);
      for (int i = 0; i < names.size(); i++) out.put("whole-network " + kind + " product, parameter " + i, be.toArray(product.get(names.get(i))));
      List<Strategy> strategies = new ArrayList<>(List.of(Strategy.EXACT));
      if (kind == CurvatureKind.GGN) strategies.addAll(List.of(Strategy.DIAG_GGN, Strategy.KFLR, Strategy.EKFAC));
      if (kind == CurvatureKind.HESSIAN) strategies.add(Strategy.DIAG_HESSIAN);
      for (Strategy strategy : strategies) {
        Curvature c = Curvature.of(pass, kind, strategy, KfacOptions.defaults(), Curvature.DEFAULT_MEMORY_LIMIT);
        for (int i = 0; i < names.size(); i++) out.put(strategy + " " + kind + " block, parameter " + i, be.toArray(c.matProd(names.get(i), dirs.get(names.get(i)))));
        c.release();
      }
    }
    Curvature factored = Curvature.of(pass, CurvatureKind.GGN, Strategy.EXACT, KfacOptions.defaults(), GgnRoute.FACTORED, Curvature.DEFAULT_MEMORY_LIMIT, l -> {});
    for (int i = 0; i < names.size(); i++) out.put("factored GGN block, parameter " + i, be.toArray(factored.matProd(names.get(i), dirs.get(names.get(i)))));
    factored.release();
    FactoredGgn whole = FactoredGgn.of(pass, Curvature.DEFAULT_MEMORY_LIMIT);
    Map<String, Batch> product = whole.apply(dirs);
    for (int i = 0; i < names.size(); i++) out.put("factored whole-network GGN product, parameter " + i, be.toArray(product.get(names.get(i))));
    whole.release();
    return out;
  }

  /** How many pairs the net's products take. */
  private static int pairs(Pass pass) {
    Network net = pass.net;
    int count = 0;
    if (net.isGraph()) {
      for (GraphPasses.Step s : net.graph)
        if (s.layer() != null && net.graphPairs.selectedAt(pass, s.layer()) != null) {
          assertTrue(net.graphPairs.pairedAfter(pass, net.graphPairs.diagonalBefore(s.layer()).layer()));
          count++;
        }
    } else {
      for (int i = 0; i < net.body.size(); i++) if (DiagonalSelections.after(pass, net.body, i) != null) count++;
    }
    return count;
  }
}
