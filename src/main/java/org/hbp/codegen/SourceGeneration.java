package org.hbp.codegen;

import com.palantir.javapoet.JavaFile;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.hbp.UserError;
import org.hbp.dsl.Dsl;
import org.hbp.dsl.ModuleSpec;
import org.hbp.dsl.Spec;
import org.hbp.io.AtomicFiles;

/**
 * Generates the operator sources of every spec in a folder into a source tree: one class per
 * module or loss, in the given package. Files are written atomically and only when their content
 * changes; stale generated files of the same specs are removed ({@link #run}). {@link #run} is the
 * one entry point of code generation: hbp's own build calls it ({@link #main}, regenerating
 * {@code generated/}), and so do {@code hbp generate} and hbp-maven-plugin's {@code generate} goal.
 */
public final class SourceGeneration {
  private SourceGeneration() {}

  /** What one run produced. */
  public record Result(List<Path> written, List<Path> unchanged, List<Path> removed, List<String> warnings) {
    public int total() {
      return written.size() + unchanged.size();
    }
  }

  /** The {@code .hbp} files of a folder (or the file itself), sorted by name. */
  public static List<Path> specFiles(Path specs) throws IOException {
    if (Files.isRegularFile(specs)) return List.of(specs);
    if (!Files.isDirectory(specs)) throw new IOException(specs + ": no such spec file or folder");
    try (Stream<Path> s = Files.list(specs)) {
      return s.filter(p -> p.getFileName().toString().endsWith(".hbp")).sorted().toList();
    }
  }

  /** The label a spec is named by in generated headers: its path relative to base, with '/'. */
  public static String label(Path spec, Path base) {
    Path rel = base == null ? spec.getFileName() : base.toAbsolutePath().normalize().relativize(spec.toAbsolutePath().normalize());
    return rel.toString().replace('\\', '/');
  }

  /** The generated files of one spec file, in memory. */
  public static List<JavaFile> generate(Path spec, Path labelBase, String packageName) throws IOException {
    String text = Dsl.readSpec(spec);
    Spec parsed = Dsl.parse(text, spec.toString());
    return OperatorGenerator.generate(parsed, text, label(spec, labelBase), packageName);
  }

  /**
   * Generates every spec under {@code specs} into the source tree {@code out}. Everything is
   * decided before anything is written or deleted: the specs are parsed and generated in memory,
   * and every {@code .java} file of the package folder is read. A file hbp did not generate (no
   * hbp header, or not UTF-8, or unreadable: a warning names it) is never changed; one with a
   * generated class's name is an error. A generated file that no class produces now is removed
   * only when it belongs to the same spec set ({@link #stale}).
   *
   * @param labelBase specs are named relative to this folder in headers (the project root)
   */
  public static Result run(Path specs, Path out, String packageName, Path labelBase) throws IOException {
    return run(specs, out, packageName, labelBase, List.of());
  }

  /**
   * {@link #run(Path, Path, String, Path)} for a user's specs: a module whose class name is a
   * built-in's (letter case aside) is refused before anything is generated
   * ({@link OperatorGenerator#requireNoBuiltInClash}).
   *
   * @param builtIns the built-in modules and losses whose class names are reserved (none for hbp's own build)
   */
  public static Result run(Path specs, Path out, String packageName, Path labelBase, List<ModuleSpec> builtIns) throws IOException {
    String problem = packageNameProblem(packageName);
    if (problem != null) throw new CodegenException("package '" + packageName + "' is not a Java package name: " + problem);
    List<Path> specFiles = specFiles(specs);
    Map<String, JavaFile> files = new TreeMap<>();
    Set<String> labels = new TreeSet<>();
    List<String> texts = new ArrayList<>();
    List<Spec> parsed = new ArrayList<>();
    List<ModuleSpec> modules = new ArrayList<>();
    for (Path spec : specFiles) {
      texts.add(Dsl.readSpec(spec));
      parsed.add(Dsl.parse(texts.get(texts.size() - 1), spec.toString()));
      modules.addAll(parsed.get(parsed.size() - 1).modules());
    }
    requireModules(specs, specFiles, modules, parsed.stream().anyMatch(sp -> !sp.networks().isEmpty()));
    OperatorGenerator.requireDistinctClasses(modules, false); // before anything is generated
    OperatorGenerator.requireNoBuiltInClash(modules, builtIns);
    for (int i = 0; i < specFiles.size(); i++) {
      labels.add(label(specFiles.get(i), labelBase));
      for (JavaFile f : OperatorGenerator.generate(parsed.get(i), texts.get(i), label(specFiles.get(i), labelBase), packageName))
        files.put(f.typeSpec().name() + ".java", f);
    }
    Path dir = out.resolve(packageName.replace('.', '/'));
    String folderLabel = Files.isDirectory(specs) ? label(specs, labelBase) : null;
    List<String> warnings = new ArrayList<>();
    Map<Path, String> existing = readExisting(dir, warnings);
    // decide: what is stale, then (no two files of one name letter case aside) what to write and what is unchanged
    List<Path> write = new ArrayList<>(), unchanged = new ArrayList<>(), stale = new ArrayList<>();
    for (Map.Entry<Path, String> e : existing.entrySet()) {
      String[] h = header(e.getValue());
      if (h != null && !files.containsKey(e.getKey().getFileName().toString()) && stale(h[0], labels, folderLabel, labelBase, specs))
        stale.add(e.getKey());
    }
    Map<String, ModuleSpec> planned = new java.util.LinkedHashMap<>(); // in declaration order: a clash is reported at the later module
    for (ModuleSpec m : modules) planned.put(OperatorGenerator.className(m.name()) + ".java", m);
    Map<String, String> present = new TreeMap<>();
    for (Map.Entry<Path, String> e : existing.entrySet()) {
      if (stale.contains(e.getKey())) continue;
      String[] h = header(e.getValue());
      present.put(e.getKey().getFileName().toString(), h == null ? null : "module '" + h[1] + "' of " + h[0]);
    }
    requireNoCaseClash(planned, present, dir);
    for (Map.Entry<String, JavaFile> f : files.entrySet()) {
      Path target = dir.resolve(f.getKey());
      String content = f.getValue().toString();
      if (Files.exists(target) && (existing.get(target) == null || header(existing.get(target)) == null))
        throw new CodegenException(target + " exists and was not generated by hbp (no hbp header, or not UTF-8); it is not overwritten: "
            + "move it, or rename the module that generates " + f.getKey());
      if (content.equals(existing.get(target))) unchanged.add(target);
      else write.add(target);
    }
    // act: stale files first, so that on a case-insensitive file system a module renamed foo -> FOO does not delete FOOOperator.java
    // just written over FooOperator.java
    Files.createDirectories(dir);
    for (Path p : stale) Files.delete(p);
    for (Path target : write) AtomicFiles.writeString(target, files.get(target.getFileName().toString()).toString());
    return new Result(write, unchanged, stale, warnings);
  }

  /**
   * Refuses files whose names differ only in letter case ({@code FOOOperator.java} beside
   * {@code FooOperator.java}, {@code Sigmoid.py} beside {@code sigmoid.py}): on a case-insensitive
   * file system (macOS, Windows) one would overwrite the other, and a package holding both cannot
   * be checked out there. Two modules generated now, or a module generated now and a file already
   * in the package folder that is not removed as stale (generated by hbp from other specs, or the
   * user's own) are refused before anything is written. Files of the same name are not a clash
   * (they are regenerated, or refused as the user's elsewhere).
   *
   * @param planned the file names generated now, with the module of each
   * @param present the file names in the package folder that stay, with what generated each
   *     ({@code module 'm' of spec.hbp}) or null for a file hbp did not generate
   * @throws CodegenException naming the module's place, both files and why
   */
  static void requireNoCaseClash(Map<String, ModuleSpec> planned, Map<String, String> present, Path dir) {
    Map<String, String> seen = new TreeMap<>();
    for (Map.Entry<String, ModuleSpec> f : planned.entrySet()) {
      ModuleSpec m = f.getValue();
      String other = seen.putIfAbsent(f.getKey().toLowerCase(java.util.Locale.ROOT), f.getKey());
      if (other != null) {
        ModuleSpec o = planned.get(other);
        throw new CodegenException(where(m) + ": " + kind(m) + " '" + m.name() + "' and " + kind(o) + " '" + o.name() + "' (" + where(o)
            + ") generate the files " + f.getKey() + " and " + other + ", which differ only in letter case: on a case-insensitive file "
            + "system (macOS, Windows) one would overwrite the other; rename one of them");
      }
    }
    for (Map.Entry<String, ModuleSpec> f : planned.entrySet())
      for (Map.Entry<String, String> p : present.entrySet()) {
        if (p.getKey().equals(f.getKey()) || !p.getKey().equalsIgnoreCase(f.getKey())) continue;
        ModuleSpec m = f.getValue();
        throw new CodegenException(where(m) + ": " + kind(m) + " '" + m.name() + "' generates " + f.getKey() + ", but " + dir
            + " already holds " + p.getKey() + " (" + (p.getValue() == null ? "not generated by hbp" : "generated by hbp for " + p.getValue())
            + "), whose name differs only in letter case: on a case-insensitive file system (macOS, Windows) the one would overwrite "
            + "the other; rename the module, or choose another --out or --package");
      }
  }

  private static String where(ModuleSpec m) {
    return m.source() + ":" + m.line() + ":" + m.column();
  }

  private static String kind(ModuleSpec m) {
    return m.isLoss() ? "loss" : "module";
  }

  /**
   * Refuses empty input, as {@code hbp derive} and {@code hbp verify} do: a folder without
   * {@code .hbp} files, or specs that declare no module or loss (an empty file, networks only).
   */
  public static void requireModules(Path specs, List<Path> specFiles, List<ModuleSpec> modules, boolean networks) {
    if (specFiles.isEmpty()) throw new UserError(specs + ": no .hbp spec files in this folder");
    if (!modules.isEmpty()) return;
    throw new UserError(specs + ": no module or loss to generate (" + (Files.isDirectory(specs) ? "its spec files declare " : "the file declares ")
        + (networks ? "only networks" : "none") + "; expected 'module NAME { ... }' or 'loss NAME { ... }')");
  }

  /** Whether the name is a Java package name: dot-separated identifiers, none a reserved word ({@link #packageNameProblem}). */
  public static boolean isPackageName(String name) {
    return packageNameProblem(name) == null;
  }

  /**
   * Why {@code name} is not a Java package name, or null when it is one: dot-separated identifiers
   * (ASCII letters, digits and {@code _}, not starting with a digit), none a reserved word of Java
   * ({@code class}, {@code int}, {@code true}, {@code _}, ...).
   */
  public static String packageNameProblem(String name) {
    if (!name.matches("[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)*"))
      return "expected dot-separated identifiers (letters, digits and _, not starting with a digit)";
    for (String part : name.split("\\."))
      if (JAVA_RESERVED.contains(part)) return "'" + part + "' is a reserved word of Java";
    return null;
  }

  /** Java's keywords and literals (JLS 3.9, 3.10): never an identifier. */
  private static final Set<String> JAVA_RESERVED = Set.of("abstract", "assert", "boolean", "break", "byte", "case", "catch", "char",
      "class", "const", "continue", "default", "do", "double", "else", "enum", "extends", "final", "finally", "float", "for", "goto", "if",
      "implements", "import", "instanceof", "int", "interface", "long", "native", "new", "package", "private", "protected", "public",
      "return", "short", "static", "strictfp", "super", "switch", "synchronized", "this", "throw", "throws", "transient", "try", "void",
      "volatile", "while", "true", "false", "null", "_");

  /** The header's label and module of a file hbp generated, or null. */
  static String[] header(String text) {
    if (text == null) return null;
    Matcher m = HEADER.matcher(text);
    return m.lookingAt() ? new String[] {m.group(1), m.group(2)} : null;
  }

  private static final Pattern HEADER = Pattern.compile("// Generated by hbp from (.+) \\(module '([^'\\n]*)'\\) -- do not edit\\.\\n");

  /**
   * Whether a generated file whose header names the spec {@code label} (and whose class no spec
   * generates now) is stale: its spec is one of those generated now (it no longer produces the
   * class), or, when a folder of specs is generated, its spec lies in that folder and no longer
   * exists. Files of other specs (another folder, or the other specs of the folder when one spec
   * file is generated) are kept.
   */
  static boolean stale(String label, Set<String> labels, String folderLabel, Path labelBase) {
    return stale(label, labels, folderLabel, labelBase, null);
  }

  /**
   * {@link #stale(String, Set, String, Path)}, also for the labels that hbp wrote before labels
   * were made independent of the working directory: run from inside the specs folder
   * ({@code generate --specs .}, or {@code --specs ./x.hbp}), it named a spec by its file name
   * alone ({@code glu.hbp}; {@code ../glu.hbp} for {@code --specs ..}), relative to the folder
   * itself. Such a label is read as the spec of that name in the folder of the specs generated now
   * ({@code specs}), as the version that wrote it read it, unless it names an existing file as
   * labels read now (then it is a label of today's form and means that file). Only files with
   * hbp's header get here: a user's own file is never stale.
   *
   * @param specs the --specs folder or file generated now; null: only labels of today's form
   */
  static boolean stale(String label, Set<String> labels, String folderLabel, Path labelBase, Path specs) {
    if (staleAsWritten(label, labels, folderLabel, labelBase)) return true;
    String older = olderLabel(label, labelBase, specs);
    return older != null && staleAsWritten(older, labels, folderLabel, labelBase);
  }

  /** A label without a folder, as {@code generate --specs .} wrote it before: the spec's file name, after at most one {@code ../}. */
  private static final Pattern OLDER_LABEL = Pattern.compile("(?:\\.\\./)?([^/]+)");

  /**
   * The label of today's form of a label that an older hbp wrote from inside the specs folder
   * ({@link #stale(String, Set, String, Path, Path)}), or null when the label is not of that form,
   * already means an existing file, or means the same read either way.
   */
  static String olderLabel(String label, Path labelBase, Path specs) {
    if (specs == null || labelBase == null) return null;
    Matcher m = OLDER_LABEL.matcher(label);
    if (!m.matches()) return null;
    Path base = labelBase.toAbsolutePath().normalize();
    if (Files.exists(base.resolve(label).normalize())) return null;
    Path abs = specs.toAbsolutePath().normalize();
    Path folder = Files.isDirectory(abs) ? abs : abs.getParent();
    if (folder == null) return null;
    String now = label(folder.resolve(m.group(1)), base);
    return now.equals(label) ? null : now;
  }

  private static boolean staleAsWritten(String label, Set<String> labels, String folderLabel, Path labelBase) {
    if (labels.contains(label)) return true;
    if (folderLabel == null) return false;
    int slash = label.lastIndexOf('/');
    String parent = slash < 0 ? "" : label.substring(0, slash);
    if (!parent.equals(folderLabel)) return false;
    Path spec = labelBase == null ? null : labelBase.resolve(label);
    return spec != null && !Files.exists(spec);
  }

  /**
   * The {@code .java} files of the package folder with their text; null for one that cannot be
   * read as UTF-8 (a warning names it: it is not a file hbp generated, and is left alone).
   */
  private static Map<Path, String> readExisting(Path dir, List<String> warnings) throws IOException {
    Map<Path, String> out = new TreeMap<>();
    if (!Files.isDirectory(dir)) return out;
    List<Path> javaFiles;
    try (Stream<Path> s = Files.list(dir)) {
      javaFiles = s.filter(p -> p.getFileName().toString().endsWith(".java") && Files.isRegularFile(p)).sorted().toList();
    }
    for (Path p : javaFiles) {
      try {
        out.put(p, StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT)
            .decode(ByteBuffer.wrap(Files.readAllBytes(p))).toString());
      } catch (CharacterCodingException e) {
        warnings.add(p + ": not UTF-8, so not generated by hbp; left alone");
        out.put(p, null);
      } catch (IOException e) {
        warnings.add(p + ": cannot be read (" + e.getMessage() + "); left alone");
        out.put(p, null);
      }
    }
    return out;
  }

  /**
   * The build's entry point: {@code SPECS OUT PACKAGE BASE}. Regenerates the committed sources of
   * the built-in modules before they are compiled.
   */
  public static void main(String[] args) throws IOException {
    if (args.length != 4) throw new IllegalArgumentException("usage: SourceGeneration SPECS OUT PACKAGE BASE");
    Result r = run(Path.of(args[0]), Path.of(args[1]), args[2], Path.of(args[3]));
    for (String w : r.warnings()) System.err.println("hbp: warning: " + w);
    System.out.println("hbp: generated " + r.total() + " operator classes into " + Path.of(args[1]).normalize() + " (" + r.written().size() + " changed, "
        + r.removed().size() + " removed)");
  }
}
