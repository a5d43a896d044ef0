package org.hbp.cli;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;
import org.hbp.UserError;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.network.Curvature;
import org.hbp.network.CurvatureKind;
import org.hbp.network.GgnDiagonal;
import org.hbp.network.HessianDiagonal;
import org.hbp.network.MemoryEstimate;
import org.hbp.network.Network;
import org.hbp.network.Pass;
import org.hbp.network.Strategy;
import org.hbp.spectrum.CurvatureOperators;
import org.hbp.spectrum.Lanczos;
import org.hbp.spectrum.ParameterVectors;
import org.hbp.spectrum.SymmetricOperator;

/**
 * The curvature toolbox's rows of {@code hbp bench} (issue 17): the Kronecker-factored strategies'
 * damped inverse, the GGN and Hessian diagonals, whole-network products per number of directions,
 * and Lanczos on the whole-network operator; each timed by the bench's {@link Rows} against the
 * gradient pass, each refused (reported, not fatal) when its memory exceeds {@code --memory-limit}
 * or the net does not allow it.
 */
final class BenchToolbox {
  private BenchToolbox() {}

  /** The bench's timer and its line for a refused measurement. */
  interface Rows {
    BenchCommand.Result time(String what, Supplier<Object> run);

    void refused(String what, String why);
  }

  /** The damping of the timed inverse {@code (C + λ I)^-1 v}. */
  static final double DAMPING = 1e-3;

  /** {@code --diagonals}: exact, mc, hessian. */
  static final List<String> DIAGONALS = List.of("exact", "mc", "hessian");

  /** Random directions, {@code v} per parameter in its item shape. */
  static Map<String, Batch> directions(Network net, Backend be, int v, Random rng) {
    Map<String, Batch> dirs = new LinkedHashMap<>();
    for (String name : net.parameterNames()) {
      int[] s = net.parameterShape(name);
      double[] d = new double[v * s[0] * s[1]];
      for (int i = 0; i < d.length; i++) d[i] = rng.nextGaussian();
      dirs.put(name, be.fromArray(1, v, s[0], s[1], d));
    }
    return dirs;
  }

  /**
   * The damped inverse of every block with one direction (kfac, kflr, ekfac). The eigenbases of the
   * Kronecker factors are made by the first call (a warm-up run) and kept, so the timed runs are the
   * products in the eigenbases.
   */
  static void dampedInverse(Rows rows, Backend be, Network net, Curvature c, Map<String, Batch> dirs) {
    String what = c.strategy().label() + " damped inverse, all blocks, 1 direction";
    try {
      for (String name : net.parameterNames()) be.release(c.dampedInverse(name, dirs.get(name), DAMPING));
    } catch (UserError refused) {
      rows.refused(what, refused.getMessage());
      return;
    }
    rows.time(what, () -> {
      for (String name : net.parameterNames()) be.release(c.dampedInverse(name, dirs.get(name), DAMPING));
      return null;
    });
  }

  /**
   * One row per asked diagonal: the exact GGN diagonal (every column of the loss factor S), the
   * Monte-Carlo one with K = 1 (Rademacher), the Hessian diagonal; each on the bench's pass, in
   * chunks of samples where the batch does not fit --memory-limit (the chunks' passes are timed too;
   * the first, untimed run tells {@code notices} so in one line that starts with the row's name).
   */
  static void diagonals(Rows rows, Backend be, Network net, Pass pass, List<String> asked, int samples, int bytesPerEntry, long limit,
      Consumer<String> notices) {
    for (String d : asked) {
      String what = switch (d) {
        case "exact" -> "ggn diagonal exact";
        case "mc" -> "ggn diagonal mc (K=1, rademacher)";
        default -> "hessian diagonal";
      };
      // each fits itself into --memory-limit, in chunks of samples where the batch does not fit (refused where one sample does not)
      Function<Consumer<String>, Map<String, Batch>> diagonal = switch (d) {
        case "exact" -> say -> GgnDiagonal.exact(pass, limit, say);
        case "mc" -> say -> GgnDiagonal.monteCarlo(pass, 1, GgnDiagonal.Sampling.RADEMACHER, 0, limit, say);
        default -> say -> HessianDiagonal.exact(pass, limit, say);
      };
      Supplier<Map<String, Batch>> run = () -> diagonal.apply(line -> {});
      try {
        release(be, diagonal.apply(line -> notices.accept(what + ": " + line))); // the line names its row
      } catch (UserError refused) {
        rows.refused(what, refused.getMessage());
        continue;
      } catch (OutOfMemoryError heap) {
        // host arrays outside the chunks' estimate: report, go on
        rows.refused(what, "ran out of memory (" + heap.getMessage() + ") in its first, untimed run; lower --batch, or raise the heap: "
            + "JAVA_TOOL_OPTIONS=-Xmx16g");
        continue;
      }
      rows.time(what, () -> {
        release(be, run.get());
        return null;
      });
    }
  }

  /**
   * Whether {@code --blocks} asks for per-layer blocks; refuses an unknown unit, and per-layer
   * blocks with a strategy other than exact, naming the option and the strategy.
   */
  static boolean layerBlocksAsked(List<String> units, List<Strategy> strategies) {
    for (String u : units)
      if (!u.equals("parameter") && !u.equals("layer")) throw new UserError("--blocks: expected parameter, layer or parameter,layer, not '" + u + "'");
    if (!units.contains("layer")) return false;
    for (Strategy s : strategies)
      if (s != Strategy.EXACT)
        throw new UserError("--blocks layer (per-layer joint blocks) is timed for --strategies exact only, not " + s.label() + "; use --strategies exact");
    return true;
  }

  /**
   * Products with every layer's joint block ({@code --blocks layer}, {@link Curvature#layerMatProd}: one
   * trip through the rest of the network per layer, or by the factored route) with each number of directions,
   * in rows named after {@code strategy} ("exact", or "factored" for the factored GGN route); their median seconds by D.
   */
  static Map<Integer, Double> layerProducts(Rows rows, String strategy, Backend be, Network net, Curvature c, List<Integer> counts, Random rng) {
    Map<Integer, Double> seconds = new LinkedHashMap<>();
    for (int v : counts) {
      Map<String, Batch> dirs = directions(net, be, v, rng);
      BenchCommand.Result r = rows.time(strategy + " products, layer blocks, " + v + " direction" + (v == 1 ? "" : "s"), () -> {
        for (List<String> group : c.layerGroups()) {
          Map<String, Batch> d = new LinkedHashMap<>();
          for (String p : group) d.put(p, dirs.get(p));
          for (Batch b : c.layerMatProd(d).values()) be.release(b);
        }
        return null;
      });
      seconds.put(v, r.medianSeconds());
      release(be, dirs);
    }
    return seconds;
  }

  /** Whole-network products {@code C v} (all parameters together) with each number of directions; their median seconds by D. */
  static Map<Integer, Double> networkProducts(Rows rows, Backend be, Network net, Pass pass, CurvatureKind kind, List<Integer> counts, Random rng) {
    Map<Integer, Double> seconds = new LinkedHashMap<>();
    for (int v : counts) {
      Map<String, Batch> dirs = directions(net, be, v, rng);
      BenchCommand.Result r = rows.time("network products (" + kind.label() + "), " + v + " direction" + (v == 1 ? "" : "s"), () -> {
        Map<String, Batch> products = pass.networkProduct(kind, dirs);
        for (Map.Entry<String, Batch> e : products.entrySet()) if (e.getValue() != dirs.get(e.getKey())) be.release(e.getValue());
        return null;
      });
      seconds.put(v, r.medianSeconds());
      release(be, dirs);
    }
    return seconds;
  }

  /**
   * {@code iterations} Lanczos steps (full reorthogonalisation, no early stop on the residual) for the
   * top eigenvalue of the whole-network curvature, as {@code hbp spectrum --scope net --top 1} runs
   * them; refused when its basis (iterations vectors of 8 bytes per parameter) exceeds {@code limit}.
   * Lanczos takes at most the operator's dimension in steps, and stops where the operator is shown to
   * be {@code μ I} on the rest (a low-rank GGN): an untimed run first counts the steps it takes (the
   * seed is fixed), and the row is labelled by them: {@code lanczos-M (net ggn)}, with
   * {@code , --lanczos N asked} where M is fewer.
   */
  static void lanczos(Rows rows, Network net, Pass pass, CurvatureKind kind, int iterations, long limit) {
    ParameterVectors all = new ParameterVectors(net, net.parameterNames());
    int steps = Math.min(iterations, all.dimension());
    long basis = 8L * all.dimension() * steps;
    if (basis > limit) {
      rows.refused(label(steps, iterations, kind), "its basis needs " + MemoryEstimate.bytes(basis) + ", above --memory-limit " + MemoryEstimate.bytes(limit));
      return;
    }
    SymmetricOperator op = CurvatureOperators.overParameters(all, dirs -> pass.networkProduct(kind, dirs));
    Lanczos.Settings settings = new Lanczos.Settings(iterations, Double.MIN_VALUE, 0);
    int ran = Lanczos.top(op, 1, settings).iterations();
    rows.time(label(ran, iterations, kind), () -> Lanczos.top(op, 1, settings));
  }

  /** The row of {@code ran} Lanczos steps of {@code asked}: {@code lanczos-3 (net ggn)}, {@code lanczos-123 (net ggn, --lanczos 500 asked)}. */
  static String label(int ran, int asked, CurvatureKind kind) {
    return "lanczos-" + ran + " (net " + kind.label() + (ran < asked ? ", --lanczos " + asked + " asked" : "") + ")";
  }

  /**
   * The direction scaling of a series of product rows: the least-squares line {@code t = a + b D},
   * the seconds per direction at each D, and, where the FLOP count per sample and direction is known
   * ({@link ProductFlops}; NaN: not), the achieved GFLOP/s at each D, which it returns (by D;
   * empty where the count is not known).
   */
  static Map<Integer, Double> printScaling(PrintWriter w, String series, Map<Integer, Double> seconds, double flopsPerColumn, int samples) {
    Map<Integer, Double> rates = new LinkedHashMap<>();
    if (!Double.isNaN(flopsPerColumn))
      for (Map.Entry<Integer, Double> e : seconds.entrySet()) rates.put(e.getKey(), flopsPerColumn * samples * e.getKey() / e.getValue() / 1e9);
    if (seconds.size() < 2) return rates;
    double n = seconds.size(), sd = 0, st = 0, sdd = 0, sdt = 0;
    for (Map.Entry<Integer, Double> e : seconds.entrySet()) {
      sd += e.getKey();
      st += e.getValue();
      sdd += (double) e.getKey() * e.getKey();
      sdt += e.getKey() * e.getValue();
    }
    double b = (n * sdt - sd * st) / (n * sdd - sd * sd), a = (st - b * sd) / n;
    w.printf(Locale.ROOT, "  scaling of %s: t = %.4f s + %.4f s x D (least squares over D = %s)%n", series, a, b, seconds.keySet());
    List<String> per = new ArrayList<>();
    for (Map.Entry<Integer, Double> e : seconds.entrySet()) {
      String s = String.format(Locale.ROOT, "D=%d: %.4f s/direction", e.getKey(), e.getValue() / e.getKey());
      if (!Double.isNaN(flopsPerColumn)) s += String.format(Locale.ROOT, ", %.1f GFLOP/s", rates.get(e.getKey()));
      per.add(s);
    }
    w.println("    " + String.join("; ", per));
    if (!Double.isNaN(flopsPerColumn))
      w.printf(Locale.ROOT, "    GEMM FLOPs: %.4g per direction (%.4g per sample and direction; element-wise maps not counted)%n",
          flopsPerColumn * samples, flopsPerColumn);
    w.flush();
    return rates;
  }

  private static void release(Backend be, Map<String, Batch> batches) {
    for (Batch b : batches.values()) be.release(b);
  }
}
