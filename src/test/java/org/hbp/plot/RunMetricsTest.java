package org.hbp.plot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reading run directories of {@code hbp train}, and the message of each malformed one. */
class RunMetricsTest {
  @TempDir Path dir;

  @Test
  void readsRowsLabelAndSeed() throws Exception {
    Path run = RunFixtures.run(dir.resolve("r1"), "cg-newton ggn bda", 42L,
        "0,0,0,0.0,2.302,0.1,2.301,0.098,NaN\n1,120,60000,12.5,0.61,0.78,0.64,0.77,9.5\n2,240,120000,25.25,0.5,0.82,0.55,0.8,11.0\n");
    RunMetrics m = RunMetrics.read(run);
    assertEquals("cg-newton ggn bda", m.label());
    assertEquals(42L, m.seed());
    assertEquals(run, m.dir());
    assertEquals(3, m.rows().size());
    assertEquals(new RunMetrics.Row(1, 120, 60000, 12.5, 0.61, 0.78, 0.64, 0.77, 9.5), m.rows().get(1));
    assertTrue(Double.isNaN(m.rows().get(0).cgIterations()));
    assertEquals(2, m.last().epoch());
  }

  @Test
  void acceptsWindowsLineEndingsAndTrailingBlankLines() throws Exception {
    RunMetrics m = RunMetrics.read(withCsv("crlf", RunMetrics.HEADER + "\r\n0,0,0,0.0,1,0.5,1,0.5,NaN\r\n\r\n"));
    assertEquals(List.of(new RunMetrics.Row(0, 0, 0, 0, 1, 0.5, 1, 0.5, Double.NaN)), m.rows());
  }

  @Test
  void withoutConfigOrLabelTheLabelIsTheDirectoryName() throws Exception {
    RunMetrics m = RunMetrics.read(withCsv("sgd-seed3", RunMetrics.HEADER + "\n"));
    assertEquals("sgd-seed3", m.label());
    assertNull(m.seed());
    RunMetrics unlabeled = RunMetrics.read(RunFixtures.run(dir.resolve("adam-1"), null, 1L, ""));
    assertEquals("adam-1", unlabeled.label());
    assertEquals(1L, unlabeled.seed());
  }

  @Test
  void headerOnlyIsARunThatJustStarted() throws Exception {
    RunMetrics m = RunMetrics.read(RunFixtures.run(dir.resolve("new"), "x", 0L, ""));
    assertEquals(List.of(), m.rows());
    assertNull(m.last());
  }

  private String error(Path run) {
    return assertThrows(RunFormatException.class, () -> RunMetrics.read(run)).getMessage();
  }

  private Path withCsv(String name, String csv) throws Exception {
    Path run = dir.resolve(name);
    Files.createDirectories(run);
    Files.writeString(run.resolve("metrics.csv"), csv);
    return run;
  }

  @Test
  void missingDirectoryOrMetrics() throws Exception {
    Path missing = dir.resolve("nope");
    assertEquals(missing + ": no such directory; expected a run directory written by `hbp train`", error(missing));
    Path file = dir.resolve("file.txt");
    Files.writeString(file, "x");
    assertEquals(file + ": not a directory; expected a run directory written by `hbp train`", error(file));
    Path empty = dir.resolve("empty");
    Files.createDirectories(empty);
    assertEquals(empty + ": no metrics.csv; not a run directory written by `hbp train`", error(empty));
  }

  @Test
  void wrongHeaderShowsExpectedAndFound() throws Exception {
    Path run = withCsv("h", "epoch,step,loss\n0,0,1\n");
    assertEquals(run.resolve("metrics.csv") + ":1: expected the header '" + RunMetrics.HEADER + "', found 'epoch,step,loss'", error(run));
    Path blank = withCsv("blank", "");
    assertEquals(blank.resolve("metrics.csv") + ":1: expected the header '" + RunMetrics.HEADER + "', found an empty file", error(blank));
  }

  @Test
  void malformedLinesNameLineAndColumn() throws Exception {
    String ok = "0,0,0,0.0,1,0.5,1,0.5,NaN\n";
    Path count = withCsv("count", RunMetrics.HEADER + "\n" + ok + "1,10,100,1.5,0.9,0.6\n");
    assertEquals(count.resolve("metrics.csv") + ":3: expected 9 comma-separated values, found 6", error(count));
    Path number = withCsv("number", RunMetrics.HEADER + "\n" + ok + "1,10,100,1.5,0.9,0.6,abc,0.6,NaN\n");
    assertEquals(number.resolve("metrics.csv") + ":3: column test_loss: 'abc' is not a number", error(number));
    Path empty = withCsv("emptyValue", RunMetrics.HEADER + "\n1,10,100,,0.9,0.6,1,0.6,NaN\n");
    assertEquals(empty.resolve("metrics.csv") + ":2: column wall_seconds: '' is not a number", error(empty));
    Path integer = withCsv("integer", RunMetrics.HEADER + "\n1.5,10,100,1.5,0.9,0.6,1,0.6,NaN\n");
    assertEquals(integer.resolve("metrics.csv") + ":2: column epoch: '1.5' is not an integer", error(integer));
    Path order = withCsv("order", RunMetrics.HEADER + "\n" + ok + ok);
    assertEquals(order.resolve("metrics.csv") + ":3: epoch 0 after epoch 0 (epochs must increase)", error(order));
  }

  @Test
  void malformedConfigNamesTheFile() throws Exception {
    Path run = RunFixtures.run(dir.resolve("c"), "x", 1L, "");
    Path config = run.resolve("config.json");
    Files.writeString(config, "{\"label\": \"x\",");
    String m = error(run);
    assertTrue(m.startsWith(config + ": not valid JSON: "), m);
    Files.writeString(config, "[1, 2]");
    assertEquals(config + ": expected a JSON object", error(run));
    Files.writeString(config, "{\"label\": 3}");
    assertEquals(config + ": \"label\" must be a string, found 3", error(run));
    Files.writeString(config, "{\"seed\": \"one\"}");
    assertEquals(config + ": \"seed\" must be an integer, found \"one\"", error(run));
    Files.writeString(config, "{\"seed\": 1.5}");
    assertEquals(config + ": \"seed\" must be an integer, found 1.5", error(run));
  }
}
