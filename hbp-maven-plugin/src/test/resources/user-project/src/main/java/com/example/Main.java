package com.example;

import com.example.ops.BumpScaleOperator;
import java.net.URL;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.backend.cpu.CpuBackend;
import org.hbp.runtime.ForwardCache;

/**
 * Evaluates the operator generated from src/main/hbp/bump.hbp (z = a .* bump(x), bump(t) =
 * t/(1+t^2)) at x = (0.5, -1, 2), a = (2, 3, -1), dz = (1, 1, 1), and prints the output, the
 * gradient with respect to x and the residual diagonal; then where some classes come from.
 */
public final class Main {
  public static void main(String[] args) throws Exception {
    Backend be = new CpuBackend();
    BumpScaleOperator op = new BumpScaleOperator(be, Map.of("n", 3));
    Batch x = be.fromArray(1, 1, 3, 1, new double[] {0.5, -1, 2});
    Batch a = be.fromArray(1, 1, 3, 1, new double[] {2, 3, -1});
    Batch dz = be.fromArray(1, 1, 3, 1, new double[] {1, 1, 1});
    ForwardCache c = op.forward(Map.of("x", x, "a", a));
    print("z", be.toArray(op.output(c)));
    print("dx", be.toArray(op.backward(c, "x", dz)));
    print("residual-diagonal", be.toArray(op.residualDiagonal(c, "x", dz)));
    for (String cls : List.of("org/antlr/v4/runtime/CharStream.class", "org/ejml/data/DMatrixRMaj.class",
        "org/hbp/runtime/ModuleOperator.class")) {
      List<URL> copies = Collections.list(Main.class.getClassLoader().getResources(cls));
      System.out.println("copies " + cls + " " + copies.size() + " " + copies);
    }
  }

  private static void print(String name, double[] values) {
    List<String> s = new ArrayList<>();
    for (double v : values) s.add(Double.toString(v));
    System.out.println("value " + name + " " + String.join(" ", s));
  }
}
