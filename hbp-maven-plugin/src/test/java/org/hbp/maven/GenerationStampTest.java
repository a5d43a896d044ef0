package org.hbp.maven;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.maven.plugin.MojoFailureException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** When hbp:generate may skip: same inputs and every generated file still there. */
class GenerationStampTest {
  @TempDir Path dir;

  private String inputs(String generator, String pkg, Path spec) throws Exception {
    return GenerationStamp.inputs(generator, "java", pkg, dir.resolve("out"), List.of(spec), dir);
  }

  @Test
  void upToDateOnlyForTheSameInputsAndExistingFiles() throws Exception {
    Path spec = Files.writeString(dir.resolve("a.hbp"), "module a { dims n; input x: vector(n); output z = x; }");
    Path generated = Files.writeString(dir.resolve("AOperator.java"), "class AOperator {}");
    Path stamp = dir.resolve("stamps/default.stamp");
    String first = inputs("0.1.0", "p", spec);
    assertFalse(GenerationStamp.upToDate(stamp, first), "no stamp yet");
    GenerationStamp.write(stamp, first, List.of(generated));
    assertTrue(GenerationStamp.upToDate(stamp, inputs("0.1.0", "p", spec)));
    assertFalse(GenerationStamp.upToDate(stamp, inputs("0.1.1", "p", spec)), "another generator");
    assertFalse(GenerationStamp.upToDate(stamp, inputs("0.1.0", "q", spec)), "another package");
    Files.writeString(spec, "module a { dims n; input x: vector(n); output z = 2*x; }");
    assertFalse(GenerationStamp.upToDate(stamp, inputs("0.1.0", "p", spec)), "the spec changed");
    GenerationStamp.write(stamp, inputs("0.1.0", "p", spec), List.of(generated));
    Files.delete(generated);
    assertFalse(GenerationStamp.upToDate(stamp, inputs("0.1.0", "p", spec)), "a generated file was deleted");
  }

  @Test
  void anAddedSpecIsAChange() throws Exception {
    Path a = Files.writeString(dir.resolve("a.hbp"), "x");
    Path b = Files.writeString(dir.resolve("b.hbp"), "y");
    Path stamp = dir.resolve("s.stamp");
    GenerationStamp.write(stamp, GenerationStamp.inputs("v", "java", "p", dir, List.of(a), dir), List.of());
    assertFalse(GenerationStamp.upToDate(stamp, GenerationStamp.inputs("v", "java", "p", dir, List.of(a, b), dir)));
  }

  @Test
  void anUnknownTargetFailsTheBuildNamingTheTargets() {
    GenerateMojo mojo = new GenerateMojo();
    mojo.target = "cuda";
    MojoFailureException e = assertThrows(MojoFailureException.class, mojo::execute);
    assertTrue(e.getMessage().equals("hbp: unknown target 'cuda'; expected java or pytorch"),
        e.getMessage());
  }
}
