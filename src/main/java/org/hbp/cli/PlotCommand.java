package org.hbp.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.hbp.UserError;
import org.hbp.plot.RunMetrics;
import org.hbp.plot.SeedGroup;
import org.hbp.plot.TrainingPlots;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code hbp plot}: training curves of runs of {@code hbp train}, seeds of a label as mean ± std. */
@Command(name = "plot",
    header = "Plot training curves of run directories.",
    description = {
        "Plot training curves of run directories written by `hbp train`: loss (test solid, train dashed) and test "
            + "accuracy, each against epochs and against training wall time, as four PNG files. Runs with the same label "
            + "(config.json) are seeds of one configuration: drawn as their mean with a band of mean ± one standard "
            + "deviation, on the epochs all of them have. Prints the files written and, per label, the final test loss "
            + "and accuracy (mean ± std over seeds). PNGs that hbp wrote into the folder before are drawn again; any other file "
            + "at their names is refused unless --overwrite."})
public final class PlotCommand extends HbpCommand {
  @Parameters(arity = "1..*", paramLabel = "RUN_DIR", description = "Run directories (each with metrics.csv and config.json).")
  List<Path> runDirs;

  @Option(names = "--out", paramLabel = "DIR", description = "Where to write the PNGs (default: RUN_DIR/plots for one run, else ./plots).")
  Path out;

  @Option(names = "--title", paramLabel = "T", description = "Title prefix of the figures.")
  String title;

  @Mixin OverwriteOption overwrite;

  @Override
  public Integer call() throws Exception {
    PrintWriter w = out(), err = err();
    Map<Path, Path> seen = new HashMap<>();
    List<RunMetrics> runs = new ArrayList<>();
    for (Path dir : runDirs) {
      Path key = dir.toAbsolutePath().normalize();
      Path before = seen.putIfAbsent(key, dir);
      if (before != null) throw new UserError("run directory given twice: " + before + " and " + dir);
      runs.add(RunMetrics.read(dir));
    }
    Path outDir = out != null ? out : runDirs.size() == 1 ? runDirs.get(0).resolve("plots") : Path.of("plots");
    List<Path> files = TrainingPlots.write(runs, outDir, title, warning -> {
      err.println("hbp plot: warning: " + warning);
      err.flush();
    }, overwrite.overwrite);
    for (Path f : files) w.println("wrote " + f);
    w.print(summary(SeedGroup.of(runs, x -> {})));
    w.flush();
    return 0;
  }

  /** Per label: seeds, last common epoch, final test loss and test accuracy as mean ± std over seeds. */
  static String summary(List<SeedGroup> groups) {
    List<String[]> rows = new ArrayList<>();
    rows.add(new String[] {"label", "seeds", "epochs", "final test loss", "final test accuracy"});
    for (SeedGroup g : groups) {
      int n = g.epochs().size();
      if (n == 0) {
        rows.add(new String[] {g.label(), Integer.toString(g.seeds()), "-", "-", "-"});
        continue;
      }
      rows.add(new String[] {g.label(), Integer.toString(g.seeds()), Integer.toString(g.epochs().get(n - 1)),
          meanStd(g.stat(RunMetrics.Row::testLoss), n - 1), meanStd(g.stat(RunMetrics.Row::testAccuracy), n - 1)});
    }
    int[] width = new int[rows.get(0).length];
    for (String[] r : rows) for (int c = 0; c < r.length; c++) width[c] = Math.max(width[c], r[c].length());
    StringBuilder b = new StringBuilder();
    for (String[] r : rows) {
      StringBuilder line = new StringBuilder();
      for (int c = 0; c < r.length; c++) {
        if (c > 0) line.append("  ");
        boolean left = c == 0 || c >= 3;
        String cell = left ? r[c] + " ".repeat(width[c] - r[c].length()) : " ".repeat(width[c] - r[c].length()) + r[c];
        line.append(cell);
      }
      b.append(line.toString().stripTrailing()).append('\n');
    }
    return b.toString();
  }

  private static String meanStd(SeedGroup.MeanStd s, int i) {
    double m = s.mean()[i], sd = s.std()[i];
    if (Double.isNaN(m)) return "NaN";
    return Double.isNaN(sd) ? String.format(Locale.ROOT, "%.4g", m) : String.format(Locale.ROOT, "%.4g ± %.2g", m, sd);
  }
}
