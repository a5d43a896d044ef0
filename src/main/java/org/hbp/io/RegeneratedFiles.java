package org.hbp.io;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.hbp.UserError;

/**
 * Outputs that hbp draws again from its own records (the plots of {@code hbp train}, {@code hbp
 * plot}, {@code hbp experiment} and {@code hbp demo}, an experiment's {@code summary.md}, the
 * demo's run files), and the record that lets it do so without destroying anything of the user's.
 *
 * <p>Each folder that holds such files has a record {@value #RECORD}: one line {@code SHA-256
 * NAME} per file hbp wrote there, in {@code sha256sum}'s format ({@code sha256sum -c .hbp-written}
 * checks it). A file at an output path is <em>hbp's own</em> when its bytes still have the
 * recorded hash: hbp wrote it and nobody changed it since. Own files are replaced without
 * {@code --overwrite}; any other file there (the user's, or one of hbp's the user edited) is
 * refused, as {@link CommandFiles} refuses outputs, unless {@code --overwrite}. A missing or
 * unreadable record owns nothing, so the rule errs towards refusing.
 */
public final class RegeneratedFiles {
  /** The record's file name in each folder. */
  public static final String RECORD = ".hbp-written";

  private RegeneratedFiles() {
  }

  /**
   * Refuses, before any work, the files of {@code names} in {@code dir} that exist and are not
   * hbp's own, unless {@code overwrite}; reads only.
   *
   * @param option the option that named the folder, for the message (e.g. {@code --out})
   * @throws UserError one line naming the folder, the option and the files, and how to proceed
   */
  public static void check(String option, Path dir, List<String> names, boolean overwrite) throws IOException {
    if (overwrite) return;
    List<String> foreign = foreign(dir, names);
    if (!foreign.isEmpty())
      throw new UserError(option + " " + dir + " holds " + String.join(", ", foreign) + ", not written by hbp there (or changed since); "
          + "choose another " + option + ", remove them, or pass --overwrite");
  }

  /** The files of {@code names} in {@code dir} that exist and are not hbp's own, in the order given. */
  public static List<String> foreign(Path dir, List<String> names) throws IOException {
    Map<String, String> recorded = read(dir);
    List<String> foreign = new ArrayList<>();
    for (String name : names) {
      Path file = dir.resolve(name);
      if (!Files.exists(file)) continue;
      String hash = recorded.get(name);
      if (hash == null || !Files.isRegularFile(file) || !hash.equals(sha256(Files.readAllBytes(file)))) foreign.add(name);
    }
    return foreign;
  }

  /**
   * Writes {@code files} (name to bytes) into {@code dir} (made if missing), each atomically, and
   * records their hashes. Every file is checked first ({@link #check}): none is written when one
   * of them is refused.
   *
   * @return the paths written, in the map's order
   */
  public static List<Path> write(String option, Path dir, Map<String, byte[]> files, boolean overwrite) throws IOException {
    if (Files.exists(dir) && !Files.isDirectory(dir)) throw new UserError(option + " " + dir + ": exists and is not a folder");
    check(option, dir, List.copyOf(files.keySet()), overwrite);
    Files.createDirectories(dir);
    List<Path> written = new ArrayList<>();
    for (Map.Entry<String, byte[]> e : files.entrySet()) {
      Path target = dir.resolve(e.getKey());
      byte[] bytes = e.getValue();
      AtomicFiles.write(target, out -> out.write(bytes));
      written.add(target);
    }
    Map<String, String> hashes = new TreeMap<>();
    for (Map.Entry<String, byte[]> e : files.entrySet()) hashes.put(e.getKey(), sha256(e.getValue()));
    record(dir, hashes);
    return written;
  }

  /**
   * Records the files of {@code names} in {@code dir}, as they are now, as hbp's own (for files
   * that hbp wrote by other means, e.g. a training run's metrics).
   */
  public static void recordExisting(Path dir, List<String> names) throws IOException {
    Map<String, String> hashes = new TreeMap<>();
    for (String name : names) {
      Path file = dir.resolve(name);
      if (Files.isRegularFile(file)) hashes.put(name, sha256(Files.readAllBytes(file)));
    }
    record(dir, hashes);
  }

  /** Adds {@code hashes} (name to hash) to the folder's record, keeping its other entries. */
  private static void record(Path dir, Map<String, String> hashes) throws IOException {
    Map<String, String> all = new TreeMap<>(read(dir));
    all.putAll(hashes);
    StringBuilder text = new StringBuilder();
    for (Map.Entry<String, String> e : all.entrySet()) text.append(e.getValue()).append("  ").append(e.getKey()).append('\n');
    AtomicFiles.writeString(dir.resolve(RECORD), text.toString());
  }

  /** The folder's record (name to hash); empty when it is missing or not a record of this format. */
  static Map<String, String> read(Path dir) throws IOException {
    Path file = dir.resolve(RECORD);
    Map<String, String> recorded = new TreeMap<>();
    if (!Files.isRegularFile(file) || Files.size(file) > 1 << 20) return recorded;
    for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
      int gap = line.indexOf("  ");
      if (gap != 64 || line.length() == 66) return new TreeMap<>(); // not sha256sum's format: own nothing
      recorded.put(line.substring(66), line.substring(0, 64));
    }
    return recorded;
  }

  /** Lower-case hex SHA-256 of {@code bytes}. */
  static String sha256(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is part of every Java platform", e);
    }
  }
}
