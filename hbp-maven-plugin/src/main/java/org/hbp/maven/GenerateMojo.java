package org.hbp.maven;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.maven.plugin.AbstractMojo;
import org.apache.maven.plugin.MojoExecution;
import org.apache.maven.plugin.MojoExecutionException;
import org.apache.maven.plugin.MojoFailureException;
import org.apache.maven.plugin.descriptor.PluginDescriptor;
import org.apache.maven.plugins.annotations.LifecyclePhase;
import org.apache.maven.plugins.annotations.Mojo;
import org.apache.maven.plugins.annotations.Parameter;
import org.apache.maven.project.MavenProject;
import org.hbp.UserError;
import org.hbp.codegen.PyTorchGeneration;
import org.hbp.codegen.SourceGeneration;
import org.hbp.network.ModuleLibrary;

/**
 * {@code hbp:generate}: one operator class per module or loss of the specs in
 * {@code specsDirectory}, written into {@code outputDirectory}, which becomes a compile source
 * root. It runs the code path of {@code hbp generate} and of hbp's own build
 * ({@link SourceGeneration#run}). Incremental: when the specs, the package, the target, the
 * output folder and the generator are those of the last generation and its files are still there,
 * nothing is done ({@link GenerationStamp}). A spec error fails the build with the spec's
 * {@code file:line:col}.
 */
@Mojo(name = "generate", defaultPhase = LifecyclePhase.GENERATE_SOURCES, threadSafe = true)
public final class GenerateMojo extends AbstractMojo {
  /** Folder of {@code .hbp} specs (each module and loss in them becomes a class). */
  @Parameter(property = "hbp.specsDirectory", defaultValue = "${project.basedir}/src/main/hbp")
  File specsDirectory;

  /** Root of the source tree written; added to the project's compile source roots. */
  @Parameter(property = "hbp.outputDirectory", defaultValue = "${project.build.directory}/generated-sources/hbp")
  File outputDirectory;

  /**
   * Package of the generated code: a Java package ({@code org.hbp.generated} by default) or, for
   * the pytorch target, a Python package ({@code hbp_generated} by default).
   */
  @Parameter(property = "hbp.packageName")
  String packageName;

  /**
   * Code target: {@code java} (operator classes on hbp's runtime, compiled with the project) or
   * {@code pytorch} (a Python package of torch modules and derivatives classes; not compiled).
   */
  @Parameter(property = "hbp.target", defaultValue = "java")
  String target;

  /** Skips the goal. */
  @Parameter(property = "hbp.skip", defaultValue = "false")
  boolean skip;

  @Parameter(defaultValue = "${project}", readonly = true, required = true)
  MavenProject project;

  @Parameter(defaultValue = "${mojoExecution}", readonly = true, required = true)
  MojoExecution execution;

  @Parameter(defaultValue = "${plugin}", readonly = true, required = true)
  PluginDescriptor plugin;

  /** The code targets this version generates. */
  static final List<String> TARGETS = List.of("java", "pytorch");

  @Override
  public void execute() throws MojoExecutionException, MojoFailureException {
    if (skip) {
      getLog().info("hbp: generation skipped (hbp.skip)");
      return;
    }
    if (!TARGETS.contains(target))
      throw new MojoFailureException("hbp: unknown target '" + target + "'; expected " + String.join(" or ", TARGETS));
    boolean java = target.equals("java");
    if (packageName == null || packageName.isBlank()) packageName = java ? "org.hbp.generated" : "hbp_generated";
    Path specs = specsDirectory.toPath();
    Path out = outputDirectory.toPath();
    if (!Files.isDirectory(specs)) {
      getLog().info("hbp: no spec folder " + specs + "; nothing to generate");
      return;
    }
    try {
      generateIfChanged(specs, out);
    } catch (UserError e) {
      throw new MojoFailureException("hbp: " + e.getMessage(), e);
    } catch (IOException e) {
      throw new MojoExecutionException("hbp: " + e.getMessage(), e);
    } catch (RuntimeException e) {
      throw new MojoExecutionException("hbp: internal error: " + e + "; please report", e);
    }
    if (java) project.addCompileSourceRoot(out.toAbsolutePath().toString());
  }

  private void generateIfChanged(Path specs, Path out) throws IOException {
    Path base = project.getBasedir().toPath();
    List<Path> specFiles = SourceGeneration.specFiles(specs);
    String inputs = GenerationStamp.inputs(generator(), target, packageName, out, specFiles, base);
    Path stamp = Path.of(project.getBuild().getDirectory(), "hbp-maven-plugin", execution.getExecutionId() + ".stamp");
    if (GenerationStamp.upToDate(stamp, inputs)) {
      int n = specFiles.size();
      getLog().info("hbp: nothing to generate; " + (n == 1 ? "the spec is" : "the " + n + " specs are") + " unchanged since the last generation");
      return;
    }
    GenerationStamp.delete(stamp);
    List<Path> files = new ArrayList<>();
    if (target.equals("pytorch")) {
      PyTorchGeneration.Result r = PyTorchGeneration.run(specs, out, packageName, base);
      for (Path p : r.written()) getLog().info("hbp: wrote " + p);
      for (Path p : r.removed()) getLog().info("hbp: removed " + p);
      getLog().info("hbp: PyTorch package " + packageName + " under " + out + " (" + r.written().size() + " files changed, " + r.removed().size()
          + " removed)");
      files.addAll(r.written());
      files.addAll(r.unchanged());
    } else {
      SourceGeneration.Result r = SourceGeneration.run(specs, out, packageName, base, ModuleLibrary.builtInModules());
      for (String w : r.warnings()) getLog().warn("hbp: " + w);
      for (Path p : r.written()) getLog().info("hbp: wrote " + p);
      for (Path p : r.removed()) getLog().info("hbp: removed " + p);
      getLog().info("hbp: " + r.total() + " operator classes in package " + packageName + " under " + out + " (" + r.written().size()
          + " changed, " + r.removed().size() + " removed)");
      files.addAll(r.written());
      files.addAll(r.unchanged());
    }
    GenerationStamp.write(stamp, inputs, files);
  }

  /**
   * The generator's identity in the stamp: the plugin's version, and for a snapshot also the
   * modification time of the hbp classes it runs (a rebuilt snapshot regenerates).
   */
  private String generator() {
    String v = plugin.getVersion();
    if (!v.endsWith("-SNAPSHOT")) return v;
    try {
      Path code = Path.of(SourceGeneration.class.getProtectionDomain().getCodeSource().getLocation().toURI());
      return v + " " + Files.getLastModifiedTime(code).toMillis();
    } catch (Exception e) {
      return v;
    }
  }
}
