package org.hbp.maven;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.maven.plugin.MojoExecution;
import org.apache.maven.plugin.descriptor.MojoDescriptor;
import org.apache.maven.plugin.descriptor.PluginDescriptor;
import org.apache.maven.project.MavenProject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The goal with {@code target = pytorch}: a Python package (default name {@code hbp_generated})
 * with one module per spec, no compile source root added, and nothing regenerated on a second run
 * with the specs unchanged. (The Java target is built end to end by {@link UserProjectBuildTest};
 * the generated Python is checked against autograd by hbp's own PyTorchVerifierTest.)
 */
class GenerateMojoPyTorchTest {
  @Test
  void thePyTorchTargetWritesAPythonPackageAndNoSourceRoot(@TempDir Path dir) throws Exception {
    Path specs = Files.createDirectories(dir.resolve("src/main/hbp"));
    Files.writeString(specs.resolve("scale.hbp"), "module scale { dims n; input x: vector(n); param a: vector(n); output z = a .* x; }\n");
    GenerateMojo mojo = mojo(dir, specs);
    mojo.execute();
    Path pkg = dir.resolve("target/generated-sources/hbp/hbp_generated");
    assertTrue(Files.isRegularFile(pkg.resolve("hbp_runtime.py")), "runtime written");
    try (var files = Files.list(pkg)) {
      assertTrue(files.anyMatch(f -> f.getFileName().toString().startsWith("scale") && f.toString().endsWith(".py")), "module of the spec written");
    }
    assertTrue(mojo.project.getCompileSourceRoots().isEmpty(), "Python is not compiled: " + mojo.project.getCompileSourceRoots());

    long before = Files.getLastModifiedTime(pkg.resolve("hbp_runtime.py")).toMillis();
    Thread.sleep(20);
    GenerateMojo again = mojo(dir, specs);
    again.execute();
    assertEquals(before, Files.getLastModifiedTime(pkg.resolve("hbp_runtime.py")).toMillis(), "unchanged specs: nothing rewritten");
  }

  private static GenerateMojo mojo(Path dir, Path specs) {
    GenerateMojo mojo = new GenerateMojo();
    mojo.target = "pytorch";
    mojo.specsDirectory = specs.toFile();
    mojo.outputDirectory = dir.resolve("target/generated-sources/hbp").toFile();
    MavenProject project = new MavenProject();
    project.setFile(dir.resolve("pom.xml").toFile());
    project.getBuild().setDirectory(dir.resolve("target").toString());
    mojo.project = project;
    MojoDescriptor descriptor = new MojoDescriptor();
    descriptor.setGoal("generate");
    mojo.execution = new MojoExecution(descriptor, "default");
    PluginDescriptor plugin = new PluginDescriptor();
    plugin.setVersion("1.0");
    mojo.plugin = plugin;
    return mojo;
  }
}
