package org.hbp.network;

import java.util.LinkedHashMap;
import java.util.Map;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.calculus.Dim;
import org.hbp.calculus.Expr;
import org.hbp.calculus.Shape;
import org.hbp.dsl.ModuleSpec;
import org.hbp.runtime.ModuleOperator;

/**
 * The index maps that gather-based modules take as {@code index} variables, computed by the
 * forward pass of a network: the arg-max of each pooling window ({@code maxpool}) and the source
 * of each padded position ({@code zeropad}). Indices are column-major positions in the input
 * tensor (c, h, w), i.e. {@code ch + c*(y + h*x)}; -1 marks a padded zero.
 *
 * <p>The window and the padding are read from the spec's declared shapes, whatever its dims are
 * called: an index {@code tensor(c, h/k, w/k)} over an input {@code tensor(c, h, w)} has window
 * k, an index {@code tensor(c, h + 2*p, w + 2*p)} has padding p. They are resolved once, when the
 * network is built ({@link #resolve}).
 */
final class IndexMaps {
  private IndexMaps() {}

  /** Computes one index variable of a layer from the layer's input (N samples). */
  @FunctionalInterface
  interface IndexMap {
    Batch compute(Backend be, Batch x);
  }

  /**
   * The index map of every index variable of a layer, by variable; throws, naming the layer, the
   * module and its spec, where hbp does not know how to compute one.
   */
  static Map<String, IndexMap> resolve(String path, ModuleSpec module, ModuleOperator op) {
    Map<String, IndexMap> out = new LinkedHashMap<>();
    for (String variable : op.indexVariables()) out.put(variable, resolve(path, module, op, variable));
    return out;
  }

  private static IndexMap resolve(String path, ModuleSpec module, ModuleOperator op, String variable) {
    Shape in = declared(module, op.inputs().get(0)).shape(), idx = declared(module, variable).shape();
    Map<String, Long> dims = new LinkedHashMap<>();
    op.dims().forEach((k, v) -> dims.put(k, (long) v));
    if (in.isTensor() && idx.isTensor() && in.dims().get(0).equals(idx.dims().get(0))) {
      int c = value(in.dims().get(0), dims), h = value(in.dims().get(1), dims), w = value(in.dims().get(2), dims);
      for (Dim d : module.dims()) {
        if (module.name().equals("maxpool") && idx.dims().get(1).equals(in.dims().get(1).floorDiv(d))
            && idx.dims().get(2).equals(in.dims().get(2).floorDiv(d))) {
          int k = value(d, dims);
          return (be, x) -> maxpool(be, c, h, w, k, x);
        }
        Dim twice = Dim.of(2).times(d);
        if (module.name().equals("zeropad") && idx.dims().get(1).equals(in.dims().get(1).plus(twice))
            && idx.dims().get(2).equals(in.dims().get(2).plus(twice))) {
          int p = value(d, dims);
          return (be, x) -> zeropad(be, c, h, w, p, x.samples());
        }
      }
    }
    throw new IllegalArgumentException("layer " + path + ": module '" + module.name() + "' (" + module.source() + ":" + module.line()
        + ") has an index variable '" + variable + "' but hbp does not know how to compute it in a network; it computes those of maxpool "
        + "(index tensor(c, h/k, w/k) over input tensor(c, h, w): the arg-max of each k x k window) and zeropad "
        + "(index tensor(c, h + 2*p, w + 2*p): the source of each padded position)");
  }

  private static Expr.Var declared(ModuleSpec module, String name) {
    for (Expr.Var v : module.variables()) if (v.name().equals(name)) return v;
    throw new IllegalStateException(module.name() + ": no variable '" + name + "' in its spec");
  }

  private static int value(Dim d, Map<String, Long> dims) {
    return Math.toIntExact(d.evaluate(dims));
  }

  /** Arg-max of each k x k window (stride k), first maximum in column-major window order on ties. */
  static Batch maxpool(Backend be, int c, int h, int w, int k, Batch x) {
    return be.windowArgmax(x, c, h, w, k);
  }

  /** The source position of every entry of the padded tensor, -1 in the padding (same for all samples). */
  static Batch zeropad(Backend be, int c, int h, int w, int p, int samples) {
    int ph = h + 2 * p, pw = w + 2 * p;
    double[] idx = new double[c * ph * pw];
    for (int x = 0; x < pw; x++)
      for (int y = 0; y < ph; y++)
        for (int ch = 0; ch < c; ch++) {
          int sy = y - p, sx = x - p;
          idx[ch + c * (y + ph * x)] = sy < 0 || sy >= h || sx < 0 || sx >= w ? -1 : ch + c * (sy + h * sx);
        }
    return be.fromArray(1, 1, c, ph * pw, idx);
  }
}
