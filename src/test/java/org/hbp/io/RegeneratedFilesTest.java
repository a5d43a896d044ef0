package org.hbp.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.hbp.UserError;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Files hbp draws again: its own (hash recorded, bytes unchanged) are replaced without
 * --overwrite; a user's file, or one of hbp's the user changed, is refused and kept byte for byte.
 */
class RegeneratedFilesTest {
  @TempDir Path dir;

  private static Map<String, byte[]> files(String a, String b) {
    Map<String, byte[]> m = new LinkedHashMap<>();
    m.put("a.png", a.getBytes(StandardCharsets.UTF_8));
    m.put("b.png", b.getBytes(StandardCharsets.UTF_8));
    return m;
  }

  @Test
  void ownFilesAreWrittenAgainWithoutOverwrite() throws Exception {
    Path out = dir.resolve("plots");
    assertEquals(List.of(out.resolve("a.png"), out.resolve("b.png")), RegeneratedFiles.write("--out", out, files("1", "2"), false));
    RegeneratedFiles.write("--out", out, files("3", "4"), false);
    assertEquals("3", Files.readString(out.resolve("a.png")));
    assertEquals("4", Files.readString(out.resolve("b.png")));
    assertEquals(List.of(), RegeneratedFiles.foreign(out, List.of("a.png", "b.png", "c.png")));
  }

  @Test
  void theRecordIsSha256sumsFormat() throws Exception {
    Path out = dir.resolve("plots");
    RegeneratedFiles.write("--out", out, files("abc", ""), false);
    // SHA-256 of "abc" and of the empty string (FIPS 180-2 test vectors)
    assertEquals("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  a.png\n"
        + "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  b.png\n", Files.readString(out.resolve(RegeneratedFiles.RECORD)));
  }

  @Test
  void aUsersFileIsRefusedBeforeAnyWriteAndKept() throws Exception {
    Path out = Files.createDirectories(dir.resolve("plots"));
    Files.writeString(out.resolve("b.png"), "mine");
    UserError e = assertThrows(UserError.class, () -> RegeneratedFiles.write("--out", out, files("1", "2"), false));
    assertEquals("--out " + out + " holds b.png, not written by hbp there (or changed since); choose another --out, remove them, or pass --overwrite",
        e.getMessage());
    assertEquals("mine", Files.readString(out.resolve("b.png")));
    assertFalse(Files.exists(out.resolve("a.png")), "nothing is written when one file is refused");
    RegeneratedFiles.write("--out", out, files("1", "2"), true);
    assertEquals("2", Files.readString(out.resolve("b.png")));
    assertEquals(List.of(), RegeneratedFiles.foreign(out, List.of("a.png", "b.png")), "--overwrite makes the files hbp's own");
  }

  @Test
  void anOwnFileChangedSinceIsNoLongerOwn() throws Exception {
    Path out = dir.resolve("plots");
    RegeneratedFiles.write("--out", out, files("1", "2"), false);
    Files.writeString(out.resolve("a.png"), "edited");
    assertEquals(List.of("a.png"), RegeneratedFiles.foreign(out, List.of("a.png", "b.png")));
    assertThrows(UserError.class, () -> RegeneratedFiles.write("--out", out, files("3", "4"), false));
    assertEquals("edited", Files.readString(out.resolve("a.png")));
    assertEquals("2", Files.readString(out.resolve("b.png")));
  }

  @Test
  void aDamagedRecordOwnsNothing() throws Exception {
    Path out = dir.resolve("plots");
    RegeneratedFiles.write("--out", out, files("1", "2"), false);
    Files.writeString(out.resolve(RegeneratedFiles.RECORD), "not a record\n", java.nio.file.StandardOpenOption.APPEND);
    assertEquals(List.of("a.png", "b.png"), RegeneratedFiles.foreign(out, List.of("a.png", "b.png")));
  }

  @Test
  void recordedFilesInSubfoldersAndExistingFiles() throws Exception {
    Path run = Files.createDirectories(dir.resolve("out/sgd"));
    byte[] metrics = "0,1,2\n".getBytes(StandardCharsets.UTF_8);
    Files.write(run.resolve("metrics.csv"), metrics);
    RegeneratedFiles.recordExisting(dir.resolve("out"), List.of("sgd/metrics.csv", "sgd/absent.csv"));
    assertEquals(List.of(), RegeneratedFiles.foreign(dir.resolve("out"), List.of("sgd/metrics.csv", "sgd/absent.csv")));
    Files.write(run.resolve("absent.csv"), metrics);
    assertEquals(List.of("sgd/absent.csv"), RegeneratedFiles.foreign(dir.resolve("out"), List.of("sgd/metrics.csv", "sgd/absent.csv")),
        "a file absent when recorded is not hbp's");
    assertArrayEquals(metrics, Files.readAllBytes(run.resolve("metrics.csv")));
  }

  @Test
  void aFileWhereTheFolderShouldBeIsRefused() throws Exception {
    Path out = Files.writeString(dir.resolve("plots"), "x");
    UserError e = assertThrows(UserError.class, () -> RegeneratedFiles.write("--out", out, files("1", "2"), false));
    assertTrue(e.getMessage().endsWith("exists and is not a folder"), e.getMessage());
  }
}
