package org.hbp.codegen;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.hbp.calculus.Expr;
import org.junit.jupiter.api.Test;

/** What the kernel program and its passes do to the generated operators, read from their sources. */
class LoweringTest {
  private static final Path GENERATED = Path.of("generated/org/hbp/generated");

  @Test
  void everyNodeTypeIsLowered() {
    Set<Class<? extends Expr>> lowered = Lowering.loweredNodeTypes();
    List<String> missing = new ArrayList<>();
    for (Class<?> c : nodeClasses(Expr.class)) if (!lowered.contains(c)) missing.add(c.getSimpleName());
    assertEquals(List.of(), missing, "node types without a lowering");
    for (var e : Lowering.appliedOnlyNodeTypes().entrySet())
      assertTrue(lowered.contains(e.getKey()) && !e.getValue().isBlank(), e.getKey() + " is applied as a map, with a reason");
  }

  /** The record classes of a sealed type, through nested sealed interfaces. */
  private static List<Class<?>> nodeClasses(Class<?> type) {
    List<Class<?>> out = new ArrayList<>();
    for (Class<?> c : type.getPermittedSubclasses()) {
      if (c.isSealed()) out.addAll(nodeClasses(c));
      else out.add(c);
    }
    return out;
  }

  @Test
  void theConvolutionTakesItsBiasAndNeverFormsBTimesOnes() throws Exception {
    String src = Files.readString(GENERATED.resolve("Conv2dOperator.java"));
    String forward = src.substring(src.indexOf("public ForwardCache forward("), src.indexOf("return cache;"));
    assertTrue(forward.contains("be.convolution(cache.get(\"W\"), cache.get(\"X\"), geometry0, cache.get(\"b\"))"), forward);
    assertFalse(forward.contains("be.matmul("), "no b*ones(oh*ow)' in the forward pass:\n" + forward);
    assertFalse(forward.contains("be.fill("), "no ones(oh*ow) in the forward pass:\n" + forward);
  }

  private static final Pattern RESHAPE = Pattern.compile("Batch (t\\d+) = be\\.reshape\\((.*), ([^,]+), ([^,;]+)\\);");
  private static final Pattern METHOD = Pattern.compile("^  (public|private|protected) ");

  /**
   * No generated statement reshapes a value to the shape it was just reshaped to (the pass drops
   * identity reshapes and merges reshapes of reshapes); checked per method, by the printed dims.
   */
  @Test
  void noGeneratedMethodReshapesAReshapeToTheSameShape() throws Exception {
    List<String> found = new ArrayList<>();
    for (Path p : Files.list(GENERATED).sorted().toList()) {
      Map<String, String> shapes = new HashMap<>();
      for (String line : Files.readAllLines(p)) {
        if (METHOD.matcher(line).find()) shapes.clear();
        Matcher m = RESHAPE.matcher(line.trim().replaceAll(" //.*", ""));
        if (!m.matches()) continue;
        String shape = m.group(3) + " x " + m.group(4);
        if (shape.equals(shapes.get(m.group(2).trim()))) found.add(p.getFileName() + ": " + line.trim());
        shapes.put(m.group(1), shape);
      }
    }
    assertEquals(List.of(), found);
  }

  /** Every be.release names a local that a kernel allocated in the same method, released once. */
  @Test
  void releasesNameLocalsTheMethodAllocated() throws Exception {
    Pattern decl = Pattern.compile("Batch (t\\d+) = (\\w+(?:\\.\\w+)?)\\(");
    Pattern release = Pattern.compile("be\\.release\\((t\\d+)\\);");
    Set<String> views = Set.of("be.reshape", "be.columnsAsDirections", "be.directionsAsColumns", "samplesSum");
    int releases = 0;
    for (Path p : Files.list(GENERATED).sorted().toList()) {
      Map<String, String> kernels = new HashMap<>();
      List<String> released = new ArrayList<>();
      for (String line : Files.readAllLines(p)) {
        if (METHOD.matcher(line).find()) {
          kernels.clear();
          released.clear();
        }
        Matcher d = decl.matcher(line);
        if (d.find()) kernels.put(d.group(1), d.group(2));
        Matcher r = release.matcher(line);
        if (!r.find()) continue;
        releases++;
        String kernel = kernels.get(r.group(1));
        assertTrue(kernel != null && (kernel.startsWith("be.") || kernel.startsWith("sum")) && !views.contains(kernel),
            p.getFileName() + ": " + line.trim() + " releases " + kernel);
        assertFalse(released.contains(r.group(1)), p.getFileName() + ": " + r.group(1) + " released twice");
        released.add(r.group(1));
      }
    }
    assertTrue(releases > 50, "the generated operators release their temporaries (" + releases + ")");
  }
}
