package org.hbp.verify;

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

  /** Binds arrays (keyed by variable) named for errors as {@code where.get(var)}. */
  public static Bound bind(Map<Expr.Var, NdArray> arrays, Map<Expr.Var, String> where) {
    Map<String, Long> dims = new LinkedHashMap<>();
    Map<String, String> boundBy = new LinkedHashMap<>();
    // first pass: plain dim symbols
    for (var e : arrays.entrySet()) {
      Expr.Var v = e.getKey();
      int[] shape = matrixShape(v, e.getValue(), where.get(v));
      List<Dim> ds = v.shape().dims();
      for (int i = 0; i < ds.size(); i++) {
        Dim d = ds.get(i);
        if (d.symbols().size() == 1 && d.equals(Dim.sym(d.symbols().first()))) {
          String s = d.symbols().first();
          Long old = dims.get(s);
          if (old != null && old != shape[i])
            throw new UserError(where.get(v) + ": array '" + v.name() + "' has shape " + show(e.getValue().shape())
                + ", which makes " + s + " = " + shape[i] + ", but " + boundBy.get(s) + " made " + s + " = " + old);
          dims.put(s, (long) shape[i]);
          boundBy.put(s, where.get(v) + " (array '" + v.name() + "', shape " + show(e.getValue().shape()) + ")");
        }
      }
    }
    // second pass: every dimension must now evaluate to the array's size
    Map<String, Tensor> values = new LinkedHashMap<>();
    for (var e : arrays.entrySet()) {
      Expr.Var v = e.getKey();
      int[] shape = matrixShape(v, e.getValue(), where.get(v));
      List<Dim> ds = v.shape().dims();
      for (int i = 0; i < ds.size(); i++) {
        long want;
        try {
          want = ds.get(i).evaluate(dims);
        } catch (IllegalArgumentException ex) {
          throw new UserError(where.get(v) + ": cannot check array '" + v.name() + "' against " + v.shape() + ": " + ex.getMessage());
        }
        if (want != shape[i])
          throw new UserError(where.get(v) + ": array '" + v.name() + "' has shape " + show(e.getValue().shape())
              + " but " + v.shape() + " needs " + ds.get(i) + " = " + want + " in dimension " + i);
      }
      double[] data = e.getValue().toColumnMajor();
      for (int k = 0; k < data.length; k++) {
        if (!Double.isFinite(data[k]))
          throw new UserError(where.get(v) + ": array '" + v.name() + "' holds " + data[k] + " at flat index " + k
              + " (column-major); values must be finite");
      }
      values.put(v.name(), new Tensor(shape, data));
    }
    return new Bound(values, dims);
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
    String expected = t.isScalar() ? "[] or [1]" : t.isColumn() ? "[" + t.rows() + "]" : show(t);
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
