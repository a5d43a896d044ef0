package org.hbp.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A corrupt config.json is refused in one line naming the file, the line and column, and what the parser expected; no parser internals. */
class RunConfigTest {
  @TempDir Path dir;

  private String error(String text) throws IOException {
    Path f = dir.resolve("config.json");
    Files.writeString(f, text);
    return assertThrows(IOException.class, () -> RunConfig.read(f)).getMessage();
  }

  @Test
  void corruptConfigsGiveOneCleanLine() throws IOException {
    Path f = dir.resolve("config.json");
    // cut short inside the object (a killed editor, a full disk)
    assertEquals(f + ":2:13: not a JSON config of hbp train (Unexpected end-of-input: expected close marker for Object "
        + "(opened at line 1, column 1))", error("{\n  \"seed\" : 0"));
    assertEquals(f + ":3:1: not a JSON config of hbp train (Unexpected end-of-input within/between Object entries)", error("{\n  \"seed\" : 0,\n"));
    assertEquals(f + ":2:9: not a JSON config of hbp train (Unexpected character ('}' (code 125)): was expecting double-quote to start "
        + "field name)", error("{\"a\": 1,\n        }"));
    assertEquals(f + ":1:1: not a JSON config of hbp train (Unrecognized token 'garbage': was expecting (JSON String, Number, Array, Object "
        + "or token 'null', 'true' or 'false'))", error("garbage"));
    assertEquals(f + ": expected a JSON object of settings", error("[1, 2]"));
  }
}
