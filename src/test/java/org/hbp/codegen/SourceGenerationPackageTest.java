package org.hbp.codegen;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The package name is checked by the one entry point of generation, before anything is written. */
class SourceGenerationPackageTest {
  @TempDir Path dir;

  @Test
  void aBadPackageNameIsAnErrorAndWritesNothing() throws Exception {
    Path specs = Files.createDirectories(dir.resolve("specs"));
    Files.writeString(specs.resolve("id.hbp"), "module id { dims n; input x: vector(n); output z = x; }\n");
    Path out = dir.resolve("out");
    CodegenException e = assertThrows(CodegenException.class, () -> SourceGeneration.run(specs, out, "com..ops", dir));
    assertEquals("package 'com..ops' is not a Java package name", e.getMessage());
    assertFalse(Files.exists(out));
  }

  @Test
  void packageNames() {
    assertTrue(SourceGeneration.isPackageName("com.example.ops"));
    assertTrue(SourceGeneration.isPackageName("_x1"));
    for (String bad : new String[] {"", "com.", ".com", "com..ops", "1com", "com.1ops", "com-ops", "com ops"})
      assertFalse(SourceGeneration.isPackageName(bad), bad);
  }
}
