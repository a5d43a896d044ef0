package org.hbp.plot;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.ToDoubleFunction;

/**
 * The seeds of one configuration: the runs that share a label, aligned by epoch.
 *
 * @param label the runs' label
 * @param runs the runs, in the order given
 * @param epochs the epochs that every run has, increasing (empty when some run has no row yet)
 */
public record SeedGroup(String label, List<RunMetrics> runs, List<Integer> epochs) {
  /** Mean and sample standard deviation over seeds, per epoch. */
  public record MeanStd(double[] mean, double[] std) {
    /** The number of epochs. */
    public int size() {
      return mean.length;
    }
  }

  public SeedGroup {
    Objects.requireNonNull(label, "label");
    runs = List.copyOf(runs);
    epochs = List.copyOf(epochs);
    if (runs.isEmpty()) throw new IllegalArgumentException("a seed group needs at least one run");
  }

  /** The number of seeds (runs). */
  public int seeds() {
    return runs.size();
  }

  /**
   * Groups runs by label, in the order in which the labels first appear, and aligns each group's
   * runs on the epochs they all have. Reports to {@code warnings} a group whose runs have different
   * epochs (only the common ones are used), one with no common epoch, and a seed given twice.
   */
  public static List<SeedGroup> of(List<RunMetrics> runs, Consumer<String> warnings) {
    Map<String, List<RunMetrics>> byLabel = new LinkedHashMap<>();
    for (RunMetrics r : runs) byLabel.computeIfAbsent(r.label(), k -> new ArrayList<>()).add(r);
    List<SeedGroup> groups = new ArrayList<>();
    for (Map.Entry<String, List<RunMetrics>> e : byLabel.entrySet()) {
      List<RunMetrics> rs = e.getValue();
      Set<Integer> common = null;
      boolean same = true;
      for (RunMetrics r : rs) {
        Set<Integer> ep = new LinkedHashSet<>();
        for (RunMetrics.Row row : r.rows()) ep.add(row.epoch());
        if (common == null) {
          common = ep;
        } else {
          if (!common.equals(ep)) same = false;
          common.retainAll(ep);
        }
      }
      List<Integer> epochs = new ArrayList<>(common);
      if (!same) {
        StringBuilder counts = new StringBuilder();
        for (RunMetrics r : rs) {
          if (counts.length() > 0) counts.append(", ");
          RunMetrics.Row last = r.last();
          counts.append(r.dir().getFileName()).append(": ").append(last == null ? "no rows" : "epochs up to " + last.epoch());
        }
        warnings.accept("'" + e.getKey() + "': the seeds have different epochs (" + counts + "); using the " + epochs.size()
            + " evaluation" + (epochs.size() == 1 ? "" : "s") + " all of them have");
      }
      if (epochs.isEmpty()) warnings.accept("'" + e.getKey() + "': no metrics rows yet" + (rs.size() > 1 ? " common to all seeds" : "") + "; not plotted");
      Map<Long, RunMetrics> seen = new LinkedHashMap<>();
      for (RunMetrics r : rs) {
        if (r.seed() == null) continue;
        RunMetrics before = seen.putIfAbsent(r.seed(), r);
        if (before != null)
          warnings.accept("'" + e.getKey() + "': seed " + r.seed() + " appears twice (" + before.dir() + " and " + r.dir() + ")");
      }
      groups.add(new SeedGroup(e.getKey(), rs, epochs));
    }
    return groups;
  }

  /** Mean and sample standard deviation over the seeds of {@code metric}, at each of {@link #epochs}. */
  public MeanStd stat(ToDoubleFunction<RunMetrics.Row> metric) {
    double[][] values = new double[runs.size()][epochs.size()];
    for (int s = 0; s < runs.size(); s++) {
      Map<Integer, RunMetrics.Row> byEpoch = new LinkedHashMap<>();
      for (RunMetrics.Row row : runs.get(s).rows()) byEpoch.put(row.epoch(), row);
      for (int i = 0; i < epochs.size(); i++) values[s][i] = metric.applyAsDouble(byEpoch.get(epochs.get(i)));
    }
    return meanStd(values);
  }

  /**
   * Mean and sample standard deviation (divisor n - 1) over the first index of
   * {@code values[seed][epoch]}. The deviation is NaN for a single seed; both are NaN at an epoch
   * where some seed's value is NaN or infinite.
   */
  static MeanStd meanStd(double[][] values) {
    int n = values.length, m = n == 0 ? 0 : values[0].length;
    if (n == 0) throw new IllegalArgumentException("no seeds");
    double[] mean = new double[m], std = new double[m];
    for (int i = 0; i < m; i++) {
      double sum = 0;
      boolean finite = true;
      for (double[] v : values) {
        if (!Double.isFinite(v[i])) finite = false;
        sum += v[i];
      }
      if (!finite) {
        mean[i] = std[i] = Double.NaN;
        continue;
      }
      double mu = sum / n, ss = 0;
      for (double[] v : values) ss += (v[i] - mu) * (v[i] - mu);
      mean[i] = mu;
      std[i] = n > 1 ? Math.sqrt(ss / (n - 1)) : Double.NaN;
    }
    return new MeanStd(mean, std);
  }
}
