package org.hbp.network;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.hbp.UserError;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.calculus.Expr;
import org.hbp.dsl.DslException;
import org.hbp.dsl.IndexDecl;
import org.hbp.dsl.IndexPrimitive;
import org.hbp.dsl.ModuleSpec;
import org.hbp.runtime.ModuleOperator;

/**
 * The index maps that gather-based modules take as {@code index} variables, computed by the
 * forward pass of a network as the spec declares them ({@link IndexDecl}): for
 * {@code window_argmax(x, k)} the arg-max of each k x k window, for {@code window_argmax_strided(x, k, s, p)}
 * that of each k x k window at stride s of x padded by p, for {@code pad_source(x, p)} the
 * source of each padded position. Indices are column-major positions in the input tensor
 * (c, h, w), i.e. {@code ch + c*(y + h*x)}; -1 marks a padded zero. They are resolved once, when
 * the network is built ({@link #resolve}), from the declaration and the layer's dims, whatever the
 * module and its dims are called.
 */
final class IndexMaps {
  private IndexMaps() {}

  /** Computes one index variable of a layer from the layer's input (N samples). */
  @FunctionalInterface
  interface IndexMap {
    Batch compute(Backend be, Batch x);
  }

  /**
   * The index map of every index variable of a layer, by variable; throws a {@link DslException}
   * at the variable's declaration where the spec does not say how to compute it.
   */
  static Map<String, IndexMap> resolve(String path, ModuleSpec module, ModuleOperator op) {
    Map<String, IndexMap> out = new LinkedHashMap<>();
    for (String variable : op.indexVariables()) out.put(variable, resolve(path, module, op, variable));
    return out;
  }

  private static IndexMap resolve(String path, ModuleSpec module, ModuleOperator op, String variable) {
    IndexDecl decl = module.indexDecl(variable).orElseThrow(() -> undeclared(path, module, variable));
    Map<String, Long> dims = new LinkedHashMap<>();
    op.dims().forEach((k, v) -> dims.put(k, (long) v));
    long[] in = declared(module, decl.input()).shape().evaluate(dims);
    int c = Math.toIntExact(in[0]), h = Math.toIntExact(in[1]), w = Math.toIntExact(in[2]);
    List<Long> args = decl.argValues(dims);
    int a = Math.toIntExact(args.get(0));
    return switch (decl.primitive()) {
      case WINDOW_ARGMAX -> {
        if (h % a != 0 || w % a != 0)
          throw new DslException(module.source(), decl.line(), decl.column(), "layer " + path + ": " + decl.call() + " needs the height "
              + h + " and the width " + w + " of " + decl.input() + " divisible by the window " + a);
        yield (be, x) -> windowArgmax(be, c, h, w, a, x);
      }
      case WINDOW_ARGMAX_STRIDED -> {
        int s = Math.toIntExact(args.get(1)), p = Math.toIntExact(args.get(2));
        if (s < 1 || p < 0 || h + 2L * p < a || w + 2L * p < a)
          throw new DslException(module.source(), decl.line(), decl.column(), "layer " + path + ": " + decl.call() + " needs a stride "
              + "of at least 1 (" + s + "), a padding of at least 0 (" + p + ") and the height " + h + " and the width " + w + " of "
              + decl.input() + " padded by " + p + " on each side at least the window " + a);
        yield (be, x) -> be.windowArgmax(x, c, h, w, a, s, p);
      }
      case PAD_SOURCE -> (be, x) -> padSource(be, c, h, w, a);
    };
  }

  private static UserError undeclared(String path, ModuleSpec module, String variable) {
    ModuleSpec.Place at = module.place(variable);
    return new DslException(module.source(), at.line(), at.column(), "layer " + path + ": module '" + module.name()
        + "' does not say how a network computes its index map '" + variable + "'; declare it as 'index " + variable
        + ": TYPE = PRIMITIVE;' with PRIMITIVE " + IndexPrimitive.describeAll());
  }

  private static Expr.Var declared(ModuleSpec module, String name) {
    for (Expr.Var v : module.variables()) if (v.name().equals(name)) return v;
    throw new IllegalStateException(module.name() + ": no variable '" + name + "' in its spec");
  }

  /** {@code window_argmax}: arg-max of each k x k window (stride k), first maximum in column-major window order on ties. */
  static Batch windowArgmax(Backend be, int c, int h, int w, int k, Batch x) {
    return be.windowArgmax(x, c, h, w, k);
  }

  /** {@code pad_source}: the source position of every entry of the padded tensor, -1 in the padding (same for all samples). */
  static Batch padSource(Backend be, int c, int h, int w, int p) {
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
