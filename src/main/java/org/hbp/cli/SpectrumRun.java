package org.hbp.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.ejml.data.DMatrixRMaj;
import org.hbp.UserError;
import org.hbp.backend.Batch;
import org.hbp.io.AtomicFiles;
import org.hbp.io.NdArray;
import org.hbp.io.Npz;
import org.hbp.network.MemoryEstimate;
import org.hbp.network.Network;
import org.hbp.network.TorchLayout;
import org.hbp.plot.DensityPlot;
import org.hbp.spectrum.Hutchinson;
import org.hbp.spectrum.Lanczos;
import org.hbp.spectrum.ParameterVectors;
import org.hbp.spectrum.SpectralDensity;
import org.hbp.train.Progress;

/**
 * One run of {@code hbp spectrum} over the operators of its scope: what it computes
 * ({@link Settings}), the numbers for spectrum.json, and the arrays and plots it writes.
 */
final class SpectrumRun {
  /**
   * @param top the number of eigenvalues (null: none)
   * @param probes Hutchinson's probes (0: no trace)
   * @param starts SLQ's random starts (0: no density)
   * @param memoryLimit bytes for the Lanczos bases (full reorthogonalisation keeps every vector): what the run's
   *     {@code --memory-limit} leaves after the rest of its estimate
   */
  record Settings(Integer top, Lanczos.Settings lanczos, int probes, int directions, int starts, int steps, double sigma, int grid, long seed,
      long memoryLimit) {}

  /**
   * The most Lanczos vectors of n entries (8n bytes each) that fit under {@code limit} bytes, for
   * {@code bases} bases side by side: a cap on the iterations, which full reorthogonalisation keeps.
   */
  static int basisCap(long limit, int n, int bases) {
    return (int) Math.min(Integer.MAX_VALUE, limit / (8L * n * bases));
  }

  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private final Settings settings;
  private final Network net;
  private final TorchLayout layout;
  /** The names of the output arrays and of the blocks' parameters in the JSON: as the input names them. */
  private final OutputNames names;
  private final Map<String, Object> results = new LinkedHashMap<>();
  private final Map<String, NdArray> eigenvectors = new LinkedHashMap<>(), diagonals = new LinkedHashMap<>(), diagonalErrors = new LinkedHashMap<>();
  private final Map<String, SpectralDensity.Density> densities = new LinkedHashMap<>();

  SpectrumRun(Settings settings, Network net, TorchLayout layout, OutputNames names) {
    this.settings = settings;
    this.net = net;
    this.layout = layout;
    this.names = names;
  }

  /** Computes every asked quantity of every operator, one bar step per quantity and operator, a line per operator on {@code w}. */
  void compute(Map<String, SpectrumScope.Target> operators, Progress bar, PrintWriter w) {
    int[] done = {0};
    for (Map.Entry<String, SpectrumScope.Target> e : operators.entrySet()) {
      String name = e.getKey();
      SpectrumScope.Target target = e.getValue();
      int n = target.operator().dimension();
      ParameterVectors vectors = new ParameterVectors(net, target.parameters());
      Map<String, Object> r = new LinkedHashMap<>();
      r.put("parameters", target.parameters().stream().map(names::of).toList());
      r.put("dimension", n);
      List<String> line = new ArrayList<>();
      if (settings.top() != null) {
        int k = Math.min(settings.top(), n);
        int cap = basisCap(settings.memoryLimit(), n, 1), iterations = Math.min(settings.lanczos().maxIterations(), cap);
        if (iterations < k)
          throw new UserError(String.format(Locale.ROOT, "--top %d of block %s (%d entries) keeps %d vectors of %s: above --memory-limit %s",
              k, name, n, k, MemoryEstimate.bytes(8L * n), MemoryEstimate.bytes(settings.memoryLimit())));
        if (iterations < settings.lanczos().maxIterations() && iterations < n)
          line.add(String.format(Locale.ROOT, "Lanczos capped at %d products by --memory-limit", iterations));
        Lanczos.Settings ls = new Lanczos.Settings(iterations, settings.lanczos().tolerance(), settings.lanczos().seed());
        Lanczos.Result l = Lanczos.top(target.operator(), k, ls,
            i -> bar.step(done[0], name + ": Lanczos step " + i));
        r.put("top", ordered("values", l.values(), "residuals", l.residuals(), "iterations", l.iterations(), "converged", l.converged()));
        put(eigenvectors, vectors, l.vectors(), false);
        line.add(String.format(Locale.ROOT, "top %s (%s%s)%s", numbers(l.values()), Words.count(l.iterations(), "product"), l.converged() ? "" : ", not converged",
            k < settings.top() ? String.format(Locale.ROOT, " (all %d eigenvalues: fewer entries than --top %d)", k, settings.top()) : ""));
        bar.step(++done[0], name + ": Lanczos done");
      }
      if (settings.probes() > 0) {
        Hutchinson.Estimate h = Hutchinson.estimate(target.operator(), settings.probes(), settings.directions(), settings.seed(),
            i -> bar.step(done[0], name + ": probe " + i + "/" + settings.probes()));
        r.put("trace", ordered("estimate", h.trace(), "stderr", h.traceStderr(), "probes", h.probes()));
        DMatrixRMaj diag = new DMatrixRMaj(n, 1), errors = new DMatrixRMaj(n, 1);
        diag.data = h.diagonal().clone();
        errors.data = h.diagonalStderr().clone();
        put(diagonals, vectors, diag, true);
        put(diagonalErrors, vectors, errors, true);
        line.add(String.format(Locale.ROOT, "trace %.6g ± %.2g", h.trace(), h.traceStderr()));
        bar.step(++done[0], name + ": trace done");
      }
      if (settings.starts() > 0) {
        int steps = Math.min(settings.steps(), basisCap(settings.memoryLimit(), n, settings.starts()));
        if (steps < 1)
          throw new UserError(String.format(Locale.ROOT, "--density with --starts %d on block %s (%d entries) keeps %d vectors of %s: above --memory-limit %s",
              settings.starts(), name, n, settings.starts(), MemoryEstimate.bytes(8L * n), MemoryEstimate.bytes(settings.memoryLimit())));
        if (steps < Math.min(settings.steps(), n)) line.add(String.format(Locale.ROOT, "SLQ capped at %s by --memory-limit", Words.count(steps, "step")));
        SpectralDensity.Quadrature q = SpectralDensity.quadrature(target.operator(), settings.starts(), steps, settings.seed(),
            i -> bar.step(done[0], name + ": SLQ step " + i));
        SpectralDensity.Density d = SpectralDensity.density(q, settings.sigma(), settings.grid());
        densities.put(name, d);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("starts", settings.starts());
        m.put("steps", q.nodes().get(0).length);
        m.put("sigma", d.sigma());
        m.put("nodes", q.nodes());
        m.put("weights", q.weights());
        m.put("grid", d.grid());
        m.put("density", d.density());
        m.put("plot", SpectrumCommand.plotName(name));
        r.put("density", m);
        line.add(String.format(Locale.ROOT, "density on [%.4g, %.4g]", q.min(), q.max()));
        bar.step(++done[0], name + ": density done");
      }
      results.put(name, r);
      bar.clear();
      w.printf("  %s (%d entries): %s%n", target.title() == null ? name : target.title(), n, String.join("; ", line));
      w.flush();
    }
  }

  /** The k columns of {@code m} as each parameter's array in PyTorch's layout ({@code [k, *shape]}, or the bare shape). */
  private void put(Map<String, NdArray> into, ParameterVectors vectors, DMatrixRMaj m, boolean bare) {
    for (Map.Entry<String, Batch> e : vectors.toDirections(m).entrySet()) into.put(names.of(e.getKey()), names.shaped(e.getKey(), layout.toTorch(e.getKey(), e.getValue(), bare)));
  }

  /** A map of keys and values in the given order (for the JSON file's fields). */
  private static Map<String, Object> ordered(Object... keysAndValues) {
    Map<String, Object> m = new LinkedHashMap<>();
    for (int i = 0; i < keysAndValues.length; i += 2) m.put((String) keysAndValues[i], keysAndValues[i + 1]);
    return m;
  }

  private static String numbers(double[] values) {
    return Arrays.stream(values).mapToObj(v -> String.format(Locale.ROOT, "%.6g", v)).toList().toString();
  }

  /**
   * Writes spectrum.json (with {@code header} first), the arrays and the plots into {@code dir}, each file atomically, an existing
   * file replaced or kept as {@code existing} says.
   */
  void write(Path dir, Map<String, Object> header, AtomicFiles.Existing existing) throws IOException {
    Map<String, Object> json = new LinkedHashMap<>(header);
    json.put("blocks", results);
    AtomicFiles.writeString(dir.resolve(SpectrumCommand.JSON), existing, JSON.writeValueAsString(json) + "\n");
    if (!eigenvectors.isEmpty()) Npz.write(dir.resolve(SpectrumCommand.EIGENVECTORS), existing, eigenvectors);
    if (!diagonals.isEmpty()) {
      Npz.write(dir.resolve(SpectrumCommand.DIAGONAL), existing, diagonals);
      Npz.write(dir.resolve(SpectrumCommand.DIAGONAL_STDERR), existing, diagonalErrors);
    }
    for (Map.Entry<String, SpectralDensity.Density> e : densities.entrySet()) {
      DensityPlot.write(dir.resolve(SpectrumCommand.plotName(e.getKey())), existing, e.getValue().grid(), e.getValue().density(),
          "Spectral density of " + e.getKey());
    }
  }
}
