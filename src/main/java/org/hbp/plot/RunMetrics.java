package org.hbp.plot;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The metrics of one training run, read from a run directory written by {@code hbp train}: its
 * {@code metrics.csv} (one row per evaluation: epoch 0 before training, then after each epoch) and
 * the {@code label} and {@code seed} of its {@code config.json}.
 *
 * @param dir the run directory
 * @param label the configuration's label ({@code config.json}'s {@code "label"}; default: the
 *     directory's name). Runs with the same label are seeds of one configuration.
 * @param seed the run's seed, or null when {@code config.json} has none
 * @param rows the rows of {@code metrics.csv}, in file order (epochs increasing); empty for a run that
 *     has only just started
 */
public record RunMetrics(Path dir, String label, Long seed, List<Row> rows) {
  /** The header {@code metrics.csv} must start with. */
  public static final String HEADER = "epoch,step,samples,wall_seconds,train_loss,train_accuracy,test_loss,test_accuracy,cg_iterations";

  private static final String[] COLUMNS = HEADER.split(",");

  /**
   * One evaluation of a run.
   *
   * @param epoch epochs done (0: before training)
   * @param step optimizer steps done so far
   * @param samples training samples seen so far
   * @param wallSeconds training wall time so far, in seconds (evaluation excluded)
   * @param cgIterations CG iterations of the last epoch's steps (NaN for optimizers without CG)
   */
  public record Row(int epoch, long step, long samples, double wallSeconds, double trainLoss, double trainAccuracy, double testLoss,
      double testAccuracy, double cgIterations) {}

  public RunMetrics {
    Objects.requireNonNull(dir, "dir");
    Objects.requireNonNull(label, "label");
    rows = List.copyOf(rows);
  }

  /** The last row, or null when there is none. */
  public Row last() {
    return rows.isEmpty() ? null : rows.get(rows.size() - 1);
  }

  /**
   * Reads a run directory.
   *
   * @throws RunFormatException when {@code runDir} is not a directory with a {@code metrics.csv}, or
   *     {@code metrics.csv} or {@code config.json} is malformed (the message names file and line)
   * @throws IOException when reading fails
   */
  public static RunMetrics read(Path runDir) throws IOException {
    if (!Files.isDirectory(runDir)) {
      String what = Files.exists(runDir) ? "not a directory" : "no such directory";
      throw new RunFormatException(runDir + ": " + what + "; expected a run directory written by `hbp train`");
    }
    Path csv = runDir.resolve("metrics.csv");
    if (!Files.isRegularFile(csv))
      throw new RunFormatException(runDir + ": no metrics.csv; not a run directory written by `hbp train`");
    List<Row> rows = readCsv(csv);
    Path config = runDir.resolve("config.json");
    String label = null;
    Long seed = null;
    if (Files.exists(config)) {
      JsonNode root;
      try {
        root = new ObjectMapper().readTree(config.toFile());
      } catch (JsonProcessingException e) {
        throw new RunFormatException(config + ": not valid JSON: " + e.getOriginalMessage()
            + (e.getLocation() != null ? " (line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr() + ")" : ""), e);
      }
      if (root == null || !root.isObject()) throw new RunFormatException(config + ": expected a JSON object");
      JsonNode l = root.get("label");
      if (l != null && !l.isNull()) {
        if (!l.isTextual()) throw new RunFormatException(config + ": \"label\" must be a string, found " + l);
        if (!l.asText().isBlank()) label = l.asText();
      }
      JsonNode s = root.get("seed");
      if (s != null && !s.isNull()) {
        if (!s.isIntegralNumber() || !s.canConvertToLong()) throw new RunFormatException(config + ": \"seed\" must be an integer, found " + s);
        seed = s.asLong();
      }
    }
    if (label == null) {
      Path name = runDir.toAbsolutePath().normalize().getFileName();
      label = name != null ? name.toString() : runDir.toString();
    }
    return new RunMetrics(runDir, label, seed, rows);
  }

  private static List<Row> readCsv(Path csv) throws IOException {
    List<String> lines;
    try {
      lines = Files.readAllLines(csv, StandardCharsets.UTF_8);
    } catch (CharacterCodingException e) {
      throw new RunFormatException(csv + ": not UTF-8 text", e);
    }
    if (lines.isEmpty()) throw new RunFormatException(csv + ":1: expected the header '" + HEADER + "', found an empty file");
    String header = strip(lines.get(0));
    if (header.startsWith("\uFEFF")) header = header.substring(1);
    if (!header.equals(HEADER)) throw new RunFormatException(csv + ":1: expected the header '" + HEADER + "', found '" + header + "'");
    List<Row> rows = new ArrayList<>();
    for (int i = 1; i < lines.size(); i++) {
      String line = strip(lines.get(i));
      if (line.isBlank()) continue;
      String where = csv + ":" + (i + 1);
      String[] v = line.split(",", -1);
      if (v.length != COLUMNS.length)
        throw new RunFormatException(where + ": expected " + COLUMNS.length + " comma-separated values, found " + v.length);
      Row row = new Row((int) integer(where, 0, v[0], Integer.MAX_VALUE), integer(where, 1, v[1], Long.MAX_VALUE),
          integer(where, 2, v[2], Long.MAX_VALUE), number(where, 3, v[3]), number(where, 4, v[4]), number(where, 5, v[5]),
          number(where, 6, v[6]), number(where, 7, v[7]), number(where, 8, v[8]));
      if (!rows.isEmpty() && row.epoch() <= rows.get(rows.size() - 1).epoch())
        throw new RunFormatException(where + ": epoch " + row.epoch() + " after epoch " + rows.get(rows.size() - 1).epoch() + " (epochs must increase)");
      rows.add(row);
    }
    return rows;
  }

  private static String strip(String line) {
    return line.endsWith("\r") ? line.substring(0, line.length() - 1) : line;
  }

  private static long integer(String where, int column, String text, long max) throws RunFormatException {
    long v;
    try {
      v = Long.parseLong(text.strip());
    } catch (NumberFormatException e) {
      throw new RunFormatException(where + ": column " + COLUMNS[column] + ": '" + text + "' is not an integer");
    }
    if (v < 0 || v > max) throw new RunFormatException(where + ": column " + COLUMNS[column] + ": " + v + " is out of range");
    return v;
  }

  private static double number(String where, int column, String text) throws RunFormatException {
    try {
      return Double.parseDouble(text.strip());
    } catch (NumberFormatException e) {
      throw new RunFormatException(where + ": column " + COLUMNS[column] + ": '" + text + "' is not a number");
    }
  }
}
