package org.hbp.calculus;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.hbp.dsl.Dsl;

/** Test helpers: parse expressions over declared variables and draw random values for them. */
public final class Fixtures {
  private Fixtures() {}

  /** A scope from "name:type" declarations, e.g. {@code scope("x:vector(n)", "A:matrix(n,n)")}. */
  public static Dsl.Scope scope(String... decls) {
    Dsl.Scope s = new Dsl.Scope();
    for (String d : decls) {
      int c = d.indexOf(':');
      String name = d.substring(0, c);
      Expr.Role role = name.startsWith("H") && name.length() <= 2 ? Expr.Role.HESSIAN : Expr.Role.FREE;
      s.add(new Expr.Var(name, Dsl.parseType(d.substring(c + 1), "test"), role));
    }
    return s;
  }

  public static Expr parse(String text, Dsl.Scope s) {
    return Dsl.parseExpression(text, s, "test");
  }

  /**
   * Random values for every variable of the scope at the given dims; square matrices are made
   * well conditioned (diagonally dominant) so that inv and log(det) are defined; "positive" names
   * (starting with 'p') get values in (0.5, 1.5).
   */
  public static Map<String, Tensor> values(Dsl.Scope s, Map<String, Long> dims, Random rng) {
    Map<String, Tensor> out = new LinkedHashMap<>();
    for (Expr.Var v : s.vars().values()) {
      int[] shape = Tensor.toIntShape(v.shape().evaluate(dims));
      Tensor t = Tensor.random(rng, shape);
      double[] d = t.data();
      if (v.name().startsWith("p")) for (int i = 0; i < d.length; i++) d[i] = 1 + 0.5 * d[i];
      if (shape.length == 2 && shape[0] == shape[1]) {
        for (int i = 0; i < shape[0]; i++) d[i + shape[0] * i] += shape[0] + 1;
      }
      if (v.role() == Expr.Role.HESSIAN) {
        for (int i = 0; i < shape[0]; i++) for (int j = 0; j < i; j++) d[i + shape[0] * j] = d[j + shape[0] * i];
      }
      out.put(v.name(), t);
    }
    return out;
  }
}
