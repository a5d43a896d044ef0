package org.hbp.train;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A run folder of {@code hbp train} held for one training: an exclusive lock on the file {@link
 * #LOCK} inside it ({@link FileChannel#tryLock}, held until {@link #close}), so that a second
 * training into the same folder, in this or another process, fails at once. Also says what the
 * folder holds and removes the temporary files of writes that a killed run left behind.
 *
 * <p>The lock file stays when the run ends (deleting it would let two later runs lock different
 * files of the same name); it is the one file a new or empty run folder may already hold.
 */
final class RunFolder implements AutoCloseable {
  /** The lock file inside the run folder. */
  static final String LOCK = ".hbp-train.lock";

  /** What a run writes into its folder. */
  static final List<String> RUN_FILES = List.of("config.json", "metrics.csv", "metrics.jsonl", Checkpoint.FILE, "plots");

  /** Temporary files of atomic writes of the run's files ({@code .NAME.<anything>.tmp}): orphans when no run holds the lock. */
  private static final Pattern TEMPORARY = Pattern.compile("\\.(config\\.json|metrics\\.csv|metrics\\.jsonl|checkpoint\\.npz|[^/]*\\.png)\\..*\\.tmp");

  /**
   * Folders locked by this JVM. Checked before the lock file is opened: on POSIX systems closing any
   * channel of a file drops every lock the process holds on it, so a second channel must not be
   * opened (and closed) while the first holds the lock.
   */
  private static final Set<Path> HELD = ConcurrentHashMap.newKeySet();

  private final Path dir;
  private final Path key;
  private final FileChannel channel;
  private final FileLock lock;

  private RunFolder(Path dir, Path key, FileChannel channel, FileLock lock) {
    this.dir = dir;
    this.key = key;
    this.channel = channel;
    this.lock = lock;
  }

  /**
   * Creates the folder if needed and locks it; fails at once, naming the folder, when another
   * training holds it.
   */
  static RunFolder lock(Path dir) throws IOException {
    if (Files.exists(dir) && !Files.isDirectory(dir)) throw new IOException(dir + " is not a folder; --out names the run folder");
    Files.createDirectories(dir);
    Path key = dir.toRealPath();
    if (!HELD.add(key)) throw inUse(dir);
    FileChannel channel = null;
    try {
      channel = FileChannel.open(dir.resolve(LOCK), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
      FileLock lock;
      try {
        lock = channel.tryLock();
      } catch (OverlappingFileLockException e) {
        lock = null;
      }
      if (lock == null) throw inUse(dir);
      return new RunFolder(dir, key, channel, lock);
    } catch (IOException | RuntimeException e) {
      HELD.remove(key);
      if (channel != null) channel.close();
      throw e;
    }
  }

  private static IOException inUse(Path dir) {
    return new IOException(dir + " is in use by another training (it holds the lock " + LOCK
        + "); wait for that run to end, or train into another --out");
  }

  /** The entries of the folder other than the lock file and orphan temporary files, sorted by name. */
  static List<String> contents(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) return List.of();
    List<String> names = new ArrayList<>();
    try (Stream<Path> s = Files.list(dir)) {
      for (Path p : s.toList()) {
        String n = p.getFileName().toString();
        if (!n.equals(LOCK) && !TEMPORARY.matcher(n).matches()) names.add(n);
      }
    }
    names.sort(null);
    return names;
  }

  /** The files of a run among {@code contents}, in {@link #RUN_FILES} order. */
  static List<String> runFiles(List<String> contents) {
    return RUN_FILES.stream().filter(contents::contains).toList();
  }

  /** A list of names for a message, at most ten of them. */
  static String names(List<String> names) {
    return names.size() <= 10 ? String.join(", ", names) : String.join(", ", names.subList(0, 10)) + " and " + (names.size() - 10) + " more";
  }

  /**
   * Deletes the temporary files a killed write left in the folder and in its {@code plots}
   * folder (only while the lock is held: then no write of a run is under way).
   *
   * @return the names of the deleted files
   */
  List<String> removeOrphanTemporaries() throws IOException {
    List<String> removed = new ArrayList<>();
    for (Path d : List.of(dir, dir.resolve("plots"))) {
      if (!Files.isDirectory(d)) continue;
      try (Stream<Path> s = Files.list(d)) {
        for (Path p : s.sorted().toList())
          if (TEMPORARY.matcher(p.getFileName().toString()).matches() && Files.isRegularFile(p)) {
            Files.delete(p);
            removed.add(dir.relativize(p).toString());
          }
      }
    }
    return removed;
  }

  @Override
  public void close() throws IOException {
    try {
      lock.release();
      channel.close();
    } finally {
      HELD.remove(key);
    }
  }
}
