package org.hbp.verify;

import org.hbp.calculus.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.hbp.UserError;
import org.hbp.calculus.Dim;
import org.hbp.calculus.Expr;
import org.hbp.calculus.Shape;
import org.hbp.io.NdArray;

/**
 * Binds NumPy arrays to variables: checks each array against its variable's type, binds dim
 * symbols from the array shapes, and converts row-major NumPy data to the engine's column-major
 * tensors. A vector(n) accepts shapes [n] and [n, 1]; a scalar accepts [], [1] and [1, 1].
 */
public final class ArrayBinding {
  private ArrayBinding() {}

  /** The bound values and dims. */
  public record Bound(Map<String, Tensor> values, Map<String, Long> dims) {}

  /** An array given for a variable, the place that names it in messages, and its shape at the variable's rank. */
  private record Given(Expr.Var v, NdArray array, String where, int[] shape) {
    Given(Expr.Var v, NdArray array, String where) {
      this(v, array, where, matrixShape(v, array, where));
    }

    /** "WHERE: array 'NAME' has shape [..]", how messages about it start. */
    String hasShape() {
      return where + ": array '" + v.name() + "' has shape " + show(array.shape());
    }
  }

  /** Binds arrays (keyed by variable) named for errors as {@code where.get(var)}. */
  public static Bound bind(Map<Expr.Var, NdArray> arrays, Map<Expr.Var, String> where) {
    Map<String, Long> dims = new LinkedHashMap<>();
    Map<String, String> boundBy = new LinkedHashMap<>();
    List<Given> given = new ArrayList<>();
    for (var e : arrays.entrySet()) {
      Given g = new Given(e.getKey(), e.getValue(), where.get(e.getKey()));
      bindSymbols(g, dims, boundBy);
      given.add(g);
    }
    Map<String, Tensor> values = new LinkedHashMap<>();
    for (Given g : given) values.put(g.v().name(), checkedTensor(g, dims));
    return new Bound(values, dims);
  }

  /** First pass: the dims that are plain symbols take the array's sizes; one bound before must agree ({@code boundBy} names who bound it). */
  private static void bindSymbols(Given g, Map<String, Long> dims, Map<String, String> boundBy) {
    List<Dim> ds = g.v().shape().dims();
    for (int i = 0; i < ds.size(); i++) {
      Dim d = ds.get(i);
      if (d.symbols().size() != 1 || !d.equals(Dim.sym(d.symbols().first()))) continue;
      String s = d.symbols().first();
      Long old = dims.get(s);
      if (old != null && old != g.shape()[i])
        throw new UserError(g.hasShape() + ", which makes " + s + " = " + g.shape()[i] + ", but " + boundBy.get(s) + " made " + s + " = " + old);
      dims.put(s, (long) g.shape()[i]);
      boundBy.put(s, g.where() + " (array '" + g.v().name() + "', shape " + show(g.array().shape()) + ")");
    }
  }

  /** Second pass: every dimension must evaluate to the array's size and every value be finite; the column-major tensor. */
  private static Tensor checkedTensor(Given g, Map<String, Long> dims) {
    Expr.Var v = g.v();
    List<Dim> ds = v.shape().dims();
    for (int i = 0; i < ds.size(); i++) {
      long want;
      try {
        want = ds.get(i).evaluate(dims);
      } catch (IllegalArgumentException ex) {
        throw new UserError(g.where() + ": cannot check array '" + v.name() + "' against " + v.shape() + ": " + ex.getMessage());
      }
      if (want != g.shape()[i])
        throw new UserError(g.hasShape() + " but " + v.shape() + " needs " + ds.get(i) + " = " + want + " in dimension " + i);
    }
    double[] data = g.array().toColumnMajor();
    for (int k = 0; k < data.length; k++) {
      if (!Double.isFinite(data[k]))
        throw new UserError(g.where() + ": array '" + v.name() + "' holds " + data[k] + " at flat index " + k
            + " (column-major); values must be finite");
    }
    return new Tensor(g.shape(), data);
  }

  /** The array's shape as the variable's rank (vectors and scalars padded with ones). */
  private static int[] matrixShape(Expr.Var v, NdArray a, String where) {
    int[] s = a.shape();
    Shape t = v.shape();
    int rank = t.dims().size();
    List<int[]> accepted = new ArrayList<>();
    if (t.isScalar()) {
      accepted.add(new int[] {});
      accepted.add(new int[] {1});
      accepted.add(new int[] {1, 1});
    } else if (t.isColumn()) {
      if (s.length == 1) return new int[] {s[0], 1};
      if (s.length == 2 && s[1] == 1) return s;
    } else if (s.length == rank) {
      return s;
    }
    for (int[] acc : accepted) if (Arrays.equals(acc, s)) return new int[] {1, 1};
    String expected = t.isScalar() ? "[] or [1]" : t.isColumn() ? "[" + t.rows() + "] or [" + t.rows() + ", 1]" : show(t);
    throw new UserError(where + ": array '" + v.name() + "' has shape " + show(s) + " but " + v.name() + " is "
        + t + ", so " + expected + " was expected");
  }

  private static String show(Shape t) {
    StringBuilder sb = new StringBuilder("[");
    for (int i = 0; i < t.dims().size(); i++) sb.append(i > 0 ? ", " : "").append(t.dims().get(i));
    return sb.append("]").toString();
  }

  private static String show(int[] s) {
    return Arrays.toString(s);
  }
}
