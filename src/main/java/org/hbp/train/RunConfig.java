package org.hbp.train;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * A run's {@code config.json}, and the check that a resumed run has the settings it was started
 * with: every entry must be equal (numbers by value) except those in {@link #FREE}, which do not
 * change the results (how many epochs to train to, the label of plots, the command line, the net
 * file's path: its content is checked through {@code net_sha256}). Changes of those are recorded
 * in the list {@code resumed}.
 */
public final class RunConfig {
  private RunConfig() {}

  /** Entries that may differ when resuming. */
  public static final Set<String> FREE = Set.of("epochs", "label", "command", "net", "network", "resumed");

  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  /** The config as a JSON object (numbers of any Java type become JSON numbers). */
  static ObjectNode tree(Map<String, Object> config) {
    return JSON.valueToTree(config);
  }

  /** Reads {@code config.json}; errors name the file. */
  static ObjectNode read(Path file) throws IOException {
    JsonNode n;
    try {
      n = JSON.readTree(Files.readString(file));
    } catch (JsonProcessingException e) {
      JsonLocation at = e.getLocation();
      String where = at == null || at.getLineNr() < 1 ? "" : ":" + at.getLineNr() + ":" + at.getColumnNr();
      throw new IOException(file + where + ": not a JSON config of hbp train (" + problem(e) + ")");
    } catch (CharacterCodingException e) {
      throw new IOException(file + ": not UTF-8 text; expected the JSON config hbp train writes");
    }
    if (!(n instanceof ObjectNode o)) throw new IOException(file + ": expected a JSON object of settings");
    return o;
  }

  /**
   * The parser's message in one line, without its internals: where an object or array was opened
   * as "opened at line L, column C", with no description of the source.
   */
  static String problem(JsonProcessingException e) {
    String m = e.getOriginalMessage();
    m = m == null ? "malformed JSON" : m.lines().findFirst().orElse("malformed JSON");
    m = m.replaceAll("\\(start marker at \\[Source: [^\\]]*?; line: (\\d+), column: (\\d+)\\]\\)", "(opened at line $1, column $2)");
    m = m.replaceAll("\\s*\\[Source: [^\\]]*\\]", "");
    return m.strip();
  }

  static String text(ObjectNode config) throws IOException {
    return JSON.writeValueAsString(config) + "\n";
  }

  /**
   * The settings that change results and differ between the recorded run and the resumed one, one
   * line each: {@code name: the run has X, now Y}.
   */
  static List<String> differences(ObjectNode recorded, ObjectNode now) {
    Set<String> keys = new TreeSet<>();
    recorded.fieldNames().forEachRemaining(keys::add);
    now.fieldNames().forEachRemaining(keys::add);
    List<String> out = new ArrayList<>();
    for (String k : keys) {
      if (FREE.contains(k)) continue;
      JsonNode a = recorded.get(k), b = now.get(k);
      if (!same(a, b)) out.add(k + ": the run has " + show(a) + ", now " + show(b));
    }
    return out;
  }

  /** The config to record after a resume: {@code now}, with the earlier resumes and this one (the first epoch it trains, the free settings it changed). */
  static ObjectNode resumed(ObjectNode recorded, ObjectNode now, int fromEpoch) {
    ObjectNode out = now.deepCopy();
    ArrayNode history = out.putArray("resumed");
    if (recorded.get("resumed") instanceof ArrayNode earlier) history.addAll(earlier);
    ObjectNode entry = history.addObject();
    entry.put("from_epoch", fromEpoch);
    ObjectNode changed = entry.putObject("changed");
    for (Iterator<String> it = now.fieldNames(); it.hasNext(); ) {
      String k = it.next();
      if (!k.equals("resumed") && !same(recorded.get(k), now.get(k))) {
        ObjectNode c = changed.putObject(k);
        c.set("from", recorded.get(k));
        c.set("to", now.get(k));
      }
    }
    return out;
  }

  private static boolean same(JsonNode a, JsonNode b) {
    if (a == null || b == null) return a == b;
    if (a.isNumber() && b.isNumber())
      return a.isIntegralNumber() && b.isIntegralNumber() ? a.bigIntegerValue().equals(b.bigIntegerValue())
          : a.doubleValue() == b.doubleValue() || (Double.isNaN(a.doubleValue()) && Double.isNaN(b.doubleValue()));
    return a.equals(b);
  }

  private static String show(JsonNode n) {
    return n == null ? "none" : n.toString();
  }
}
