package org.hbp.codegen;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.backend.cpu.CpuBackend;
import org.hbp.dsl.Dsl;
import org.hbp.dsl.ModuleSpec;
import org.hbp.dsl.Spec;
import org.hbp.generated.Conv2dOperator;
import org.hbp.runtime.ForwardCache;
import org.hbp.verify.OperatorCheck;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every operator compiled into hbp from modules-spec/ agrees, method by method, with references
 * built from its forward expression alone (OperatorCheck), at several random shapes.
 */
class GeneratedOperatorsTest {
  static Stream<String> specs() throws Exception {
    return SourceGeneration.specFiles(Path.of("modules-spec")).stream().map(p -> p.getFileName().toString());
  }

  @ParameterizedTest
  @MethodSource("specs")
  void builtInOperatorVerifies(String file) throws Exception {
    Path path = Path.of("modules-spec", file);
    String text = Files.readString(path);
    Spec spec = Dsl.parse(text, path.toString());
    for (ModuleSpec m : spec.modules()) {
      Class<?> c = OperatorLoader.builtIn(m, OperatorGenerator.sha256(text))
          .orElseThrow(() -> new AssertionError("no built-in operator for " + m.name() + " generated from the current " + file));
      OperatorLoader.Loaded loaded = new OperatorLoader.Loaded(c, true);
      OperatorCheck.Report r = OperatorCheck.check(m, loaded::create, 20261127L, 3);
      StringBuilder table = new StringBuilder();
      for (OperatorCheck.Row row : r.rows())
        table.append(String.format("%-28s %-4s %10.2e %10.2e %6.0e %s %s%n", row.method, row.wrt, row.maxAbs(), row.maxRel(), row.tolerance,
            row.passed() ? "PASS" : "FAIL", row.failure() == null ? "" : row.failure()));
      assertTrue(r.passed(), m.name() + ":\n" + table);
      assertTrue(r.rows().size() > 3, "too few checks");
    }
  }

  /**
   * The generated conv2d computes its forward pass, the input's products and the summed weight
   * gradient through the backend's convolution kernels, never through unfold or fold (which a
   * backend with direct convolutions would then not need). Its values are checked by
   * {@link #builtInOperatorVerifies}.
   */
  @Test
  void conv2dUsesTheConvolutionKernelsOnItsGradientPath() {
    Backend cpu = new CpuBackend();
    java.util.Map<String, Integer> calls = new java.util.TreeMap<>();
    Backend counting = (Backend) java.lang.reflect.Proxy.newProxyInstance(
        Backend.class.getClassLoader(), new Class<?>[] {Backend.class}, (proxy, method, args) -> {
          calls.merge(method.getName(), 1, Integer::sum);
          try {
            // default methods (the convolutions' unfold-and-multiply forms) run on the proxy, so
            // that what they call is counted too
            return method.isDefault() ? java.lang.reflect.InvocationHandler.invokeDefault(proxy, method, args) : method.invoke(cpu, args);
          } catch (java.lang.reflect.InvocationTargetException e) {
            throw e.getCause();
          }
        });
    java.util.Map<String, Integer> dims = java.util.Map.of("cin", 2, "cout", 3, "h", 5, "w", 4, "k", 3, "s", 1, "p", 1, "d", 1);
    Conv2dOperator op = new Conv2dOperator(counting, dims);
    java.util.Random rng = new java.util.Random(3);
    java.util.function.IntFunction<double[]> data = n -> rng.doubles(n, -1, 1).toArray();
    java.util.Map<String, Batch> values = new java.util.LinkedHashMap<>();
    values.put("X", counting.fromArray(4, 1, 2, 20, data.apply(4 * 40)));
    values.put("W", counting.fromArray(1, 1, 3, 18, data.apply(54)));
    values.put("b", counting.fromArray(1, 1, 3, 1, data.apply(3)));
    ForwardCache cache = op.forward(values);
    Batch dz = counting.fromArray(4, 2, 3, 20, data.apply(4 * 2 * 60)), vx = counting.fromArray(4, 2, 2, 20, data.apply(4 * 2 * 40));
    op.jacTMatProdSum(cache, "W", dz);
    op.jacTMatProdSum(cache, "X", dz);
    op.jacTMatProd(cache, "X", dz);
    op.jacMatProd(cache, "X", vx);
    // called by the proxy's default methods only: once per convolution kernel call
    assertEquals(calls.getOrDefault("convolution", 0) + calls.getOrDefault("convolutionWeightGradient", 0), calls.getOrDefault("unfold", 0),
        "unfold outside the convolution kernels: " + calls);
    assertEquals(calls.getOrDefault("convolutionAdjoint", 0), calls.getOrDefault("fold", 0), "fold outside the convolution kernels: " + calls);
    assertEquals(2, calls.getOrDefault("convolution", 0), calls.toString()); // the forward pass, J_X v
    assertEquals(2, calls.getOrDefault("convolutionAdjoint", 0), calls.toString()); // J_X' v, summed and per sample
    assertEquals(1, calls.getOrDefault("convolutionWeightGradient", 0), calls.toString());
  }
}
