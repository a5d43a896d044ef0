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
    assertEquals("package 'com..ops' is not a Java package name: expected dot-separated identifiers (letters, digits and _, not starting "
        + "with a digit)", e.getMessage());
    e = assertThrows(CodegenException.class, () -> SourceGeneration.run(specs, out, "com.class.ops", dir));
    assertEquals("package 'com.class.ops' is not a Java package name: 'class' is a reserved word of Java", e.getMessage());
    assertFalse(Files.exists(out));
    assertFalse(Files.exists(out));
  }

  @Test
  void packageNames() {
    assertTrue(SourceGeneration.isPackageName("com.example.ops"));
    assertTrue(SourceGeneration.isPackageName("_x1"));
    assertTrue(SourceGeneration.isPackageName("com.example.record")); // a contextual keyword is an identifier
    for (String bad : new String[] {"", "com.", ".com", "com..ops", "1com", "com.1ops", "com-ops", "com ops", "class", "com.int", "true.x",
        "_", "org.null"})
      assertFalse(SourceGeneration.isPackageName(bad), bad);
  }

  @Test
  void pythonPackageNames() {
    for (String good : new String[] {"hbp_generated", "my_ops.gen", "_x1", "match", "mytorch", "ops.torch"})
      assertEquals(null, PyTorchGeneration.packageNameProblem(good), good);
    for (String bad : new String[] {"", "my-ops", "1ops", "ops.", "a..b", "ops ops"})
      assertEquals("expected dot-separated identifiers (letters, digits and _, not starting with a digit)",
          PyTorchGeneration.packageNameProblem(bad), bad);
    for (String kw : new String[] {"class", "None", "True", "lambda", "async", "await", "yield"}) {
      assertEquals("'" + kw + "' is a Python keyword", PyTorchGeneration.packageNameProblem(kw), kw);
      assertEquals("'" + kw + "' is a Python keyword", PyTorchGeneration.packageNameProblem("ops." + kw), kw);
    }
    assertEquals("a package 'torch' would hide PyTorch from the generated code, which imports torch",
        PyTorchGeneration.packageNameProblem("torch.ops"));
  }

  @Test
  void aPythonKeywordAsPackageIsAnErrorAndWritesNothing() throws Exception {
    Path specs = Files.createDirectories(dir.resolve("specs"));
    Files.writeString(specs.resolve("id.hbp"), "module id { dims n; input x: vector(n); output z = x; }\n");
    Path out = dir.resolve("out");
    CodegenException e = assertThrows(CodegenException.class, () -> PyTorchGeneration.run(specs, out, "class", dir));
    assertEquals("--package 'class' is not a Python package name: 'class' is a Python keyword", e.getMessage());
    assertFalse(Files.exists(out));
  }
}
