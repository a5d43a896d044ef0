package org.hbp.io;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * Temporary folders that live as long as the JVM: created in the system temp folder and deleted,
 * with everything in them, when the JVM exits normally (Ctrl-C included). {@link
 * java.io.File#deleteOnExit} deletes only empty folders, which left {@code hbp-modules-spec-*}
 * and {@code hbp-operators-*} behind after every run.
 */
public final class TempFolders {
  private static final List<Path> FOLDERS = new ArrayList<>();

  static {
    Runtime.getRuntime().addShutdownHook(new Thread(TempFolders::deleteAll, "hbp-temp-cleanup"));
  }

  private TempFolders() {}

  /** A new empty folder named {@code PREFIX<random>}, deleted with its contents at JVM exit. */
  public static Path create(String prefix) throws IOException {
    Path dir = Files.createTempDirectory(prefix);
    synchronized (FOLDERS) {
      FOLDERS.add(dir);
    }
    return dir;
  }

  /** Deletes {@code root} and everything under it (links are removed, not followed). */
  public static void deleteTree(Path root) throws IOException {
    if (!Files.exists(root, LinkOption.NOFOLLOW_LINKS)) return;
    try (Stream<Path> s = Files.walk(root)) {
      for (Path p : s.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
    }
  }

  private static void deleteAll() {
    synchronized (FOLDERS) {
      for (Path dir : FOLDERS) {
        try {
          deleteTree(dir);
        } catch (IOException | RuntimeException e) {
          // best effort at exit: a folder that cannot be removed stays in the temp folder
        }
      }
    }
  }
}
