package org.hbp.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.hbp.network.Curvature;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

/**
 * The shared options' defaults agree in three places: the README's "Defaults" table (documented),
 * each command's {@code --help} (shown) and the value a command gets when the option is not given
 * (used); and every command with one of these options is in the table.
 */
class DefaultsTest {
  /** One row of the README's table: an option, its default and the commands that have it. */
  record Row(String option, String value, List<String> commands) {}

  private static final Pattern ROW = Pattern.compile("\\| `(--[a-z-]+)` \\| `([^`]+)`[^|]*\\| ([a-z, ]+) \\|");

  static List<Row> documented() throws IOException {
    String readme = Files.readString(Path.of("README.md"));
    int start = readme.indexOf("### Defaults\n");
    assertTrue(start >= 0, "README.md has a ### Defaults section");
    String section = readme.substring(start, readme.indexOf("\n### ", start + 1));
    List<Row> rows = new ArrayList<>();
    Matcher m = ROW.matcher(section);
    while (m.find()) rows.add(new Row(m.group(1), m.group(2), List.of(m.group(3).split(",\\s*"))));
    assertTrue(rows.size() >= 10, "rows of the Defaults table: " + rows);
    return rows;
  }

  /** The command line with every subcommand; the commands that compute. */
  private static Map<String, CommandLine> commands() {
    Map<String, CommandLine> all = new LinkedHashMap<>(Main.commandLine().getSubcommands());
    all.remove("help");
    return all;
  }

  @Test
  void helpShowsAndCommandsUseTheDocumentedDefaults() throws IOException {
    for (Row row : documented()) {
      for (String name : row.commands()) {
        CommandLine cl = commands().get(name);
        OptionSpec option = cl.getCommandSpec().findOption(row.option());
        assertTrue(option != null, name + " has " + row.option());
        String where = "hbp " + name + " " + row.option();
        // used: the default picocli injects
        assertEquals(row.value(), option.defaultValue(), where + ": default in the code");
        // shown: the option's help text as --help renders it
        String help = String.join(" ", option.renderedDescription());
        assertTrue(help.contains("default: " + row.value()), where + ": --help says '" + help + "'");
        assertTrue(cl.getUsageMessage().replaceAll("\\s+", " ").contains("default: " + row.value()), where + ": in --help");
      }
    }
  }

  @Test
  void aParsedCommandHoldsTheDefaultValues() {
    CommandLine curvature = new CommandLine(new CurvatureCommand());
    curvature.parseArgs("--net", "n.hbp", "--params", "p.npz", "--batch", "b.npz", "--dense", "d.npz");
    CurvatureCommand c = curvature.getCommand();
    assertEquals("blas-f64", c.backend);
    assertEquals("exact", c.strat.label());
    assertEquals("ggn", c.kind.label());
    assertEquals(2L << 30, c.memoryLimit.bytes());
    assertEquals("cpu", c.compute.device.device);
    assertEquals(0, c.compute.threads);
    CommandLine train = new CommandLine(new TrainCommand());
    train.parseArgs("--net", "n.hbp", "--out", "run");
    TrainCommand t = train.getCommand();
    assertEquals("blas-f32", t.backend);
    assertEquals("bda", t.strategy.label());
    assertEquals(2L << 30, t.memoryLimit.bytes());
    CommandLine bench = new CommandLine(new BenchCommand());
    bench.parseArgs();
    BenchCommand b = bench.getCommand();
    assertEquals("blas-f32", b.backend);
    assertEquals(2L << 30, b.memoryLimit.bytes());
    CommandLine experiment = new CommandLine(new ExperimentCommand());
    experiment.parseArgs("fig4");
    ExperimentCommand e = experiment.getCommand();
    assertEquals("blas-f32", e.backend);
    assertEquals(null, e.strategy, "paper: each configuration's own strategy");
    assertEquals(2L << 30, e.memoryLimit.bytes());
  }

  @Test
  void everyCommandWithASharedOptionIsInTheTable() throws IOException {
    List<Row> rows = documented();
    TreeSet<String> options = new TreeSet<>();
    for (Row r : rows) options.add(r.option());
    for (Map.Entry<String, CommandLine> c : commands().entrySet()) {
      for (String option : options) {
        if (c.getValue().getCommandSpec().findOption(option) == null) continue;
        boolean listed = rows.stream().anyMatch(r -> r.option().equals(option) && r.commands().contains(c.getKey()));
        assertTrue(listed, "hbp " + c.getKey() + " has " + option + " but the README's Defaults table does not list it there");
      }
    }
  }

  @Test
  void theMemoryLimitIsTheLibrarysDefault() {
    assertEquals(Curvature.DEFAULT_MEMORY_LIMIT, MemoryLimitOption.bytes(Double.parseDouble(Defaults.MEMORY_LIMIT_GIB)));
  }

  @Test
  void theSecondDefaultsSayWhyInTheirHelp() {
    for (String name : List.of("train", "bench", "experiment")) {
      String help = String.join(" ", commands().get(name).getCommandSpec().findOption("--backend").renderedDescription());
      assertTrue(help.contains(Defaults.TRAINING_BACKEND_REASON), name + ": " + help);
    }
    String help = String.join(" ", commands().get("train").getCommandSpec().findOption("--strategy").renderedDescription());
    assertTrue(help.contains(Defaults.TRAINING_STRATEGY_REASON), help);
    assertFalse(Defaults.BACKEND.equals(Defaults.TRAINING_BACKEND));
  }
}
