package org.hbp.codegen;

import com.palantir.javapoet.JavaFile;
import java.io.IOException;
import java.io.StringWriter;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.StandardJavaFileManager;
import javax.tools.ToolProvider;
import org.hbp.backend.Backend;
import org.hbp.dsl.ModuleSpec;
import org.hbp.runtime.BuiltInOperators;
import org.hbp.runtime.OperatorSupport;

/**
 * Finds the operator class of a module: the one compiled into hbp (package
 * {@code org.hbp.generated}) when it was generated from the same spec text, or else one generated
 * now and compiled in-process with the JDK's compiler.
 */
public final class OperatorLoader {
  private OperatorLoader() {}

  /** The package of the operators built into hbp from {@code modules-spec/}. */
  public static final String BUILT_IN_PACKAGE = BuiltInOperators.PACKAGE;

  /** An operator class and where it came from. */
  public record Loaded(Class<?> type, boolean builtIn) {
    /** A new instance for the given backend and dims (exceptions of the constructor unwrapped). */
    public Object create(Backend backend, Map<String, Integer> dims) {
      return OperatorSupport.instantiate(type, backend, dims);
    }
  }

  /** The built-in class for a module if it was generated from a spec with this SHA-256. */
  public static Optional<Class<?>> builtIn(ModuleSpec m, String specSha256) {
    try {
      Class<?> c = Class.forName(BUILT_IN_PACKAGE + "." + Names.className(m.name()));
      Object sha = c.getField("SPEC_SHA256").get(null);
      return specSha256.equals(sha) ? Optional.of(c) : Optional.empty();
    } catch (ClassNotFoundException | NoSuchFieldException | IllegalAccessException e) {
      return Optional.empty();
    }
  }

  /**
   * Compiles generated files in-process into {@code workDir} and loads them; returns the classes
   * by simple name. The classpath is this JVM's, so the runtime and backend classes resolve.
   */
  public static Map<String, Class<?>> compile(List<JavaFile> files, Path workDir) throws IOException {
    JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
    if (javac == null)
      throw new IllegalStateException("compiling a generated operator needs a JDK (javax.tools found no compiler); run hbp with a JDK's java");
    Path src = Files.createDirectories(workDir.resolve("src")), classes = Files.createDirectories(workDir.resolve("classes"));
    List<Path> paths = new ArrayList<>();
    for (JavaFile f : files) paths.add(f.writeToPath(src));
    StringWriter diagnostics = new StringWriter();
    try (StandardJavaFileManager fm = javac.getStandardFileManager(null, null, null)) {
      Iterable<? extends JavaFileObject> units = fm.getJavaFileObjectsFromPaths(paths);
      List<String> options = List.of("-d", classes.toString(), "-classpath", System.getProperty("java.class.path"), "-proc:none",
          "-nowarn", "-Xlint:none");
      Boolean ok = javac.getTask(diagnostics, fm, null, options, null, units).call();
      if (!Boolean.TRUE.equals(ok))
        throw new CodegenException("the generated operator does not compile (a bug in hbp's generator):\n" + diagnostics);
    }
    URLClassLoader loader = new URLClassLoader(new URL[] {classes.toUri().toURL()}, OperatorLoader.class.getClassLoader());
    Map<String, Class<?>> out = new LinkedHashMap<>();
    for (JavaFile f : files) {
      try {
        out.put(f.typeSpec().name(), loader.loadClass(f.packageName() + "." + f.typeSpec().name()));
      } catch (ClassNotFoundException e) {
        throw new IllegalStateException(e);
      }
    }
    return out;
  }
}
