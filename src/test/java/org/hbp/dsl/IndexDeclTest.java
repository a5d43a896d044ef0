package org.hbp.dsl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.palantir.javapoet.JavaFile;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.hbp.calculus.Dim;
import org.hbp.codegen.OperatorGenerator;
import org.junit.jupiter.api.Test;

/**
 * Index declarations, {@code index NAME: TYPE = PRIMITIVE(INPUT, DIMS);}: what the spec exposes
 * ({@link ModuleSpec#indexDecl}), whatever the module and its dims are called, and that the
 * declaration is for the network only: the derived operator is the same without it. The bad
 * declarations are rows of {@link DslErrorTableTest}.
 */
class IndexDeclTest {

  private static ModuleSpec module(String text) {
    return Dsl.parse(text, "spec.hbp").modules().get(0);
  }

  @Test
  void theShippedPoolingAndPaddingDeclareTheirIndexMaps() {
    ModuleSpec maxpool = Dsl.parseFile(Path.of("modules-spec/maxpool.hbp")).modules().get(0);
    assertEquals(Optional.of(new IndexDecl("idx", IndexPrimitive.WINDOW_ARGMAX, "x", List.of(Dim.sym("k")), 7, 36)), maxpool.indexDecl("idx"));
    ModuleSpec zeropad = Dsl.parseFile(Path.of("modules-spec/zeropad.hbp")).modules().get(0);
    assertEquals(Optional.of(new IndexDecl("idx", IndexPrimitive.PAD_SOURCE, "x", List.of(Dim.sym("p")), 6, 44)), zeropad.indexDecl("idx"));
    assertEquals("pad_source(x, p)", zeropad.indexDecl("idx").orElseThrow().call());
  }

  /** Other names, the index declared before its input, a dim expression as the window. */
  @Test
  void anyModuleAndDimNamesDeclareAnIndexMap() {
    ModuleSpec m = module(String.join("\n",
        "module pool2 {",
        "  dims ch, hh, ww, s;",
        "  index best: tensor(ch, hh/(2*s), ww/(2*s)) = window_argmax(img, 2*s);",
        "  input img: tensor(ch, hh, ww);",
        "  output out = gather(img, best);",
        "}"));
    IndexDecl d = m.indexDecl("best").orElseThrow();
    assertEquals(new IndexDecl("best", IndexPrimitive.WINDOW_ARGMAX, "img", List.of(Dim.of(2).times(Dim.sym("s"))), 3, 48), d);
    assertEquals("window_argmax(img, 2*s)", d.call());
    assertEquals(new ModuleSpec.Place(3, 9), m.place("best"));
    assertEquals(new ModuleSpec.Place(4, 9), m.place("img"));
  }

  /** Without a declaration an index variable is still a module that derives (a network refuses it, see IndexDeclNetworkTest). */
  @Test
  void anUndeclaredIndexMapStillDerives() {
    ModuleSpec m = module("module g {\n  dims n, m;\n  input x: vector(n);\n  index i: vector(m);\n  output z = gather(x, i);\n}\n");
    assertTrue(m.indexDecl("i").isEmpty());
    assertEquals(new ModuleSpec.Place(4, 9), m.place("i"));
  }

  /** The generated operator of maxpool with and without the declaration differs in the spec's hash only. */
  @Test
  void theDeclarationDoesNotChangeTheGeneratedOperator() {
    String declared = String.join("\n", "module maxpool {", "  dims c, h, w, k;", "  input x: tensor(c, h, w);",
        "  index idx: tensor(c, h/k, w/k) = window_argmax(x, k);", "  output z = gather(x, idx);", "}", "");
    String bare = declared.replace(" = window_argmax(x, k)", "");
    String a = source(declared), b = source(bare);
    assertTrue(a.contains(OperatorGenerator.sha256(declared)) && b.contains(OperatorGenerator.sha256(bare)));
    assertEquals(b.replace(OperatorGenerator.sha256(bare), "SHA"), a.replace(OperatorGenerator.sha256(declared), "SHA"));
  }

  private static String source(String text) {
    List<JavaFile> files = OperatorGenerator.generate(Dsl.parse(text, "maxpool.hbp"), text, "maxpool.hbp", "test.generated");
    assertEquals(1, files.size());
    return files.get(0).toString();
  }
}
