package org.hbp.maven;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;

/**
 * What one generation was made from, kept in a stamp file so that the next build does no work when
 * nothing changed. The stamp's first part lists the inputs (generator, target, package, output
 * folder, and each spec's path with the SHA-256 of its bytes); the rest lists the files the
 * generation wrote. A build is up to date when the inputs are the same and every listed file still
 * exists.
 */
final class GenerationStamp {
  private GenerationStamp() {}

  private static final String FILES = "files:\n";

  /**
   * The inputs part: one line each for the generator, the target, the package and the output
   * folder, then {@code spec PATH SHA256} for each spec (in the given order), PATH relative to base.
   */
  static String inputs(String generator, String target, String packageName, Path out, List<Path> specs, Path base) throws IOException {
    StringBuilder s = new StringBuilder();
    s.append("generator ").append(generator).append('\n');
    s.append("target ").append(target).append('\n');
    s.append("package ").append(packageName).append('\n');
    s.append("output ").append(out.toAbsolutePath().normalize()).append('\n');
    Path b = base.toAbsolutePath().normalize();
    for (Path spec : specs)
      s.append("spec ").append(b.relativize(spec.toAbsolutePath().normalize()).toString().replace('\\', '/')).append(' ')
          .append(sha256(Files.readAllBytes(spec))).append('\n');
    return s.toString();
  }

  /** Whether the stamp file records exactly these inputs and every file it lists exists. */
  static boolean upToDate(Path stamp, String inputs) throws IOException {
    if (!Files.isRegularFile(stamp)) return false;
    String text = Files.readString(stamp, StandardCharsets.UTF_8);
    int split = text.indexOf(FILES);
    if (split < 0 || !text.substring(0, split).equals(inputs)) return false;
    for (String line : text.substring(split + FILES.length()).split("\n"))
      if (!line.isEmpty() && !Files.isRegularFile(Path.of(line))) return false;
    return true;
  }

  /** Writes the stamp: the inputs, then the generated files, one absolute path a line. */
  static void write(Path stamp, String inputs, List<Path> files) throws IOException {
    StringBuilder s = new StringBuilder(inputs).append(FILES);
    for (Path f : files) s.append(f.toAbsolutePath().normalize()).append('\n');
    Files.createDirectories(stamp.toAbsolutePath().getParent());
    Files.writeString(stamp, s, StandardCharsets.UTF_8);
  }

  /** Removes the stamp (before a generation, so that a failed one is never taken as up to date). */
  static void delete(Path stamp) throws IOException {
    Files.deleteIfExists(stamp);
  }

  static String sha256(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this Java runtime", e);
    }
  }
}
