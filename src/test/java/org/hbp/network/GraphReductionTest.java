package org.hbp.network;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.dsl.Dsl;
import org.hbp.dsl.ModuleSpec;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A graph declaration that is a sequential net with a skip connection gives the sequential
 * form's numbers: loss, gradients, whole-network products, and every curvature block of every
 * strategy. For kfra and bda this is the test that the frontier walk ({@link GraphFrontier}) at
 * the branch point and the {@code +} merge reduces to Table 1's skip rule,
 * {@code H̄_x = avg (I + J_f)' H̄_z (I + J_f) + mod(mean R_f)}, where f is one module (a linear
 * layer: zero residual; tanh: a diagonal residual). With a body of several modules whose Jacobians
 * vary by sample the two differ before the block (the sequential form averages the body's Jacobian
 * product as one module; the graph averages at each module; checked, so the comparison can fail):
 * there the blocks of the body and after it agree.
 */
class GraphReductionTest {
  static final Backend BE = NetworkCurvatureTest.BE;
  private static final List<ModuleSpec> BUILT_IN = NetworkResolver.library(List.of(Path.of("modules-spec")));

  /** {sequential, graph, parameter renaming "seq=graph,...", blocks compared for kfra/bda ("all" or a list)} */
  static String[] pair(String name) {
    return switch (name) {
      case "linear" -> new String[] {
          "network s { input x: vector(5); linear(m = 4); tanh; residual { linear(m = 4); } sigmoid; linear(m = 3); loss crossentropy; }",
          "network g { input x: vector(5); h = linear(m = 4)(x); t = tanh(h); r = linear(m = 4)(t); z = t + r; s = sigmoid(z);"
              + " y = linear(m = 3)(s); loss crossentropy(y); }",
          "0=h,2.0=r,4=y", "all"};
      case "tanh" -> new String[] {
          "network s { input x: vector(5); linear(m = 4); residual { tanh; } linear(m = 3); loss crossentropy; }",
          "network g { input x: vector(5); h = linear(m = 4)(x); r = tanh(h); z = h + r; y = linear(m = 3)(z); loss crossentropy(y); }",
          "0=h,2=y", "all"};
      default -> new String[] {
          "network s { input x: vector(5); linear(m = 4); tanh; residual { linear(m = 4); sigmoid; linear(m = 4); tanh; } linear(m = 3); loss crossentropy; }",
          "network g { input x: vector(5); h = linear(m = 4)(x); t = tanh(h); a = linear(m = 4)(t); b = sigmoid(a); c = linear(m = 4)(b);"
              + " d = tanh(c); z = t + d; y = linear(m = 3)(z); loss crossentropy(y); }",
          "0=h,2.0=a,2.2=c,3=y", "a,c,y"};
    };
  }

  private static Network network(String text) {
    return new Network(NetworkResolver.resolve(Dsl.parse(text, "net.hbp"), null, BUILT_IN), Network.builtIn(), BE);
  }

  @ParameterizedTest
  @ValueSource(strings = {"linear", "tanh", "deep"})
  void aGraphSkipConnectionIsTheResidualBlock(String name) {
    String[] p = pair(name);
    Network seq = network(p[0]), graph = network(p[1]);
    assertTrue(graph.isGraph());
    Map<String, String> rename = new LinkedHashMap<>();
    for (String pair : p[2].split(",")) {
      String[] kv = pair.split("=");
      for (String var : List.of("W", "b")) rename.put(kv[0] + "." + var, kv[1] + "." + var);
    }
    assertEquals(rename.keySet(), new java.util.LinkedHashSet<>(seq.parameterNames()));
    NetworkCurvatureTest.Setup s = new NetworkCurvatureTest.Setup(seq.spec(), 4, 7, 2);
    Map<String, Batch> graphParams = new LinkedHashMap<>();
    s.paramBatches.forEach((k, v) -> graphParams.put(rename.get(k), v));
    Pass ps = s.net.run(s.paramBatches, s.x, s.y), pg = graph.run(graphParams, s.x, s.y);
    assertEquals(ps.loss(), pg.loss(), 1e-14, "loss");
    for (String q : rename.keySet()) assertClose(name + " gradient " + q, ps.gradient(q), pg.gradient(rename.get(q)));

    Map<String, Batch> dirs = new LinkedHashMap<>(), graphDirs = new LinkedHashMap<>();
    Random rng = new Random(5);
    for (String q : rename.keySet()) {
      int[] sh = seq.parameterShape(q);
      double[] d = new double[2 * sh[0] * sh[1]];
      for (int i = 0; i < d.length; i++) d[i] = rng.nextGaussian();
      Batch b = BE.fromArray(1, 2, sh[0], sh[1], d);
      dirs.put(q, b);
      graphDirs.put(rename.get(q), b);
    }
    List<String> explicit = rename.values().stream().filter(q -> p[3].equals("all") || List.of(p[3].split(",")).contains(q.split("\\.")[0])).toList();
    int compared = 0;
    for (CurvatureKind kind : CurvatureKind.values()) {
      Map<String, Batch> a = ps.networkProduct(kind, dirs), b = pg.networkProduct(kind, graphDirs);
      for (String q : rename.keySet()) assertClose(name + " " + kind + " network product " + q, a.get(q), b.get(rename.get(q)));
      for (Strategy strategy : List.of(Strategy.EXACT, Strategy.KFRA, Strategy.BDA)) {
        Curvature cs = ps.curvature(kind, strategy), cg = pg.curvature(kind, strategy);
        for (String q : rename.keySet()) {
          if (strategy != Strategy.EXACT && !explicit.contains(rename.get(q))) continue;
          assertClose(name + " " + kind + " " + strategy + " block " + q, cs.dense(q, 1, Curvature.DEFAULT_MEMORY_LIMIT),
              cg.dense(rename.get(q), 1, Curvature.DEFAULT_MEMORY_LIMIT));
          compared++;
        }
      }
    }
    assertEquals(CurvatureKind.values().length * (rename.size() + 2 * explicit.size()), compared, "blocks compared");
    if (!p[3].equals("all")) {
      // before a block of several modules the two definitions differ (eq. 8 / eq. 9 of the body as one module, or per module)
      for (Strategy strategy : List.of(Strategy.KFRA, Strategy.BDA)) {
        double[] e = BE.toArray(ps.curvature(CurvatureKind.GGN, strategy).dense("0.W", 1, Curvature.DEFAULT_MEMORY_LIMIT));
        double[] g = BE.toArray(pg.curvature(CurvatureKind.GGN, strategy).dense("h.W", 1, Curvature.DEFAULT_MEMORY_LIMIT));
        double diff = 0, scale = 0;
        for (int i = 0; i < e.length; i++) {
          diff = Math.max(diff, Math.abs(e[i] - g[i]));
          scale = Math.max(scale, Math.abs(e[i]));
        }
        assertTrue(diff > 1e-6 * scale, strategy + ": the block before a deep residual body should differ, by " + diff);
      }
    }
  }

  /** Entries equal to 1e-10 relative to max(1, the largest entry), and not all zero (a vanishing block proves nothing). */
  static void assertClose(String what, Batch expected, Batch got) {
    assertTrue(assertClose(what, BE.toArray(expected), BE.toArray(got)) > 1e-8, what + ": the sequential value vanishes");
  }

  /** Entries equal to 1e-10 relative to max(1, the largest expected entry); returns that entry's magnitude. */
  static double assertClose(String what, double[] expected, double[] got) {
    assertEquals(expected.length, got.length, what);
    double scale = 0, err = 0;
    for (int i = 0; i < expected.length; i++) {
      scale = Math.max(scale, Math.abs(expected[i]));
      err = Math.max(err, Math.abs(expected[i] - got[i]));
    }
    assertTrue(err <= 1e-10 * Math.max(1, scale), what + ": max abs error " + err + " (scale " + scale + ")");
    return scale;
  }
}
