package org.hbp.derive;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.function.Function;
import org.hbp.calculus.Dim;
import org.hbp.calculus.Expr;
import org.hbp.calculus.LatexPrinter;
import org.hbp.calculus.Printer;
import org.hbp.calculus.Shape;
import org.hbp.dsl.ModuleSpec;

/**
 * Renders derivations as text, LaTeX or JSON.
 *
 * <p>JSON (stable): an array with one object per module and input/parameter. Keys: {@code module},
 * {@code kind} ("module" or "loss"), {@code wrt}, {@code wrt_type}, {@code output}, {@code forward};
 * for modules {@code jacobian}, {@code residual}, {@code hbp}, {@code residual_kind} ("zero",
 * "diagonal", "general") and {@code jacobian_compact}, {@code residual_compact}, {@code hbp_compact}
 * (derivatives of elementwise functions kept as f'(x)); for losses {@code gradient}, {@code hessian},
 * {@code psd} (true, or null when not proven), {@code psd_reason}, {@code factor} (the blocks of S
 * with H = S*S' = sum of S_i*S_i', an array; null when no factor is derived) and {@code factor_reason}
 * (null when no factor is derived); every key is always present. Expressions are in the DSL's
 * syntax, column-major vec.
 */
public final class Formats {
  private Formats() {}

  public static String text(ModuleSpec m, List<Derivation> ds) {
    StringBuilder sb = new StringBuilder();
    sb.append(m.isLoss() ? "loss " : "module ").append(m.name()).append("  (").append(m.source()).append(':').append(m.line()).append(")\n");
    sb.append("  ").append(m.output().name()).append(" = ").append(text(m, m.outputExpr()))
        .append("    : ").append(Printer.type(m.output().shape(), m.dimNames())).append('\n');
    for (Derivation d : ds) {
      sb.append('\n').append("  with respect to ").append(d.wrt().name()).append(": ").append(Printer.type(d.wrt().shape(), m.dimNames())).append('\n');
      if (d instanceof LossRule l) {
        sb.append("    gradient  d").append(d.wrt().name()).append(" = ").append(text(m, l.gradient())).append('\n');
        sb.append("    hessian   ").append(d.hessianName()).append(" = ").append(text(m, l.hessian())).append('\n');
        sb.append("    psd       ").append(l.psd().value() == null ? "not proven" : l.psd().value() ? "yes" : "no")
            .append(" (").append(l.psd().reason()).append(")\n");
        l.factor().ifPresent(f -> sb.append("    factor    S = ").append(f.text(e -> text(m, e))).append("    (").append(d.hessianName())
            .append(" = S*S'; ").append(Printer.type(Shape.matrix(d.wrt().shape().numel(), rank(f)), m.dimNames())).append(")\n"));
      } else if (d instanceof ModuleRule r) {
        String zn = d.output().name();
        sb.append("    jacobian  D").append(zn).append("(").append(d.wrt().name()).append(") = ").append(text(m, r.closedForm().jacobian())).append('\n');
        sb.append("    residual  ").append(text(m, r.closedForm().residual())).append("    [").append(r.residualKind().label()).append("]\n");
        sb.append("    hbp       ").append(d.hessianName()).append(" = ").append(text(m, r.closedForm().hbp())).append('\n');
        if (!r.compact().hbp().equals(r.closedForm().hbp()))
          sb.append("      compact ").append(d.hessianName()).append(" = ").append(text(m, r.compact().hbp())).append('\n');
      }
    }
    return sb.toString();
  }

  /** The column count r of S: the sum of the blocks' column counts. */
  private static Dim rank(LossFactor f) {
    Dim r = null;
    for (Dim d : f.blockRanks()) r = r == null ? d : r.plus(d);
    return r;
  }

  private static String text(ModuleSpec m, Expr e) {
    return Printer.text(e, m.dimNames());
  }

  public static String latex(ModuleSpec m, List<Derivation> ds) {
    Function<Expr, String> tex = e -> LatexPrinter.latex(e, m.dimNames());
    StringBuilder sb = new StringBuilder();
    sb.append("% ").append(m.isLoss() ? "loss " : "module ").append(m.name()).append('\n');
    sb.append("\\begin{aligned}\n");
    sb.append("  ").append(LatexPrinter.symbol(m.output().name())).append(" &= ").append(tex.apply(m.outputExpr())).append(" \\\\\n");
    for (Derivation d : ds) {
      String w = LatexPrinter.symbol(d.wrt().name());
      if (d instanceof LossRule l) {
        sb.append("  {\\delta ").append(w).append("} &= ").append(tex.apply(l.gradient())).append(" \\\\\n");
        sb.append("  {\\mathcal{H}").append(w).append("} &= ").append(tex.apply(l.hessian())).append(" \\\\\n");
        l.factor().ifPresent(f -> sb.append("  S_{").append(w).append("} &= ").append(f.text(tex)).append(" \\\\\n"));
      } else if (d instanceof ModuleRule r) {
        sb.append("  \\mathrm{D}").append(LatexPrinter.symbol(d.output().name())).append("(").append(w).append(") &= ")
            .append(tex.apply(r.closedForm().jacobian())).append(" \\\\\n");
        sb.append("  {\\mathcal{H}").append(w).append("} &= ").append(tex.apply(r.closedForm().hbp())).append(" \\\\\n");
      }
    }
    sb.append("\\end{aligned}\n");
    return sb.toString();
  }

  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  public static ArrayNode json(ArrayNode out, ModuleSpec m, List<Derivation> ds) {
    Function<Expr, String> t = e -> Printer.text(e, m.dimNames());
    for (Derivation d : ds) {
      ObjectNode o = out.addObject();
      o.put("module", m.name());
      o.put("kind", m.isLoss() ? "loss" : "module");
      o.put("wrt", d.wrt().name());
      o.put("wrt_type", Printer.type(d.wrt().shape(), m.dimNames()));
      o.put("output", m.output().name());
      o.put("forward", t.apply(m.outputExpr()));
      if (d instanceof LossRule l) {
        o.put("gradient", t.apply(l.gradient()));
        o.put("hessian", t.apply(l.hessian()));
        if (l.psd().value() == null) o.putNull("psd");
        else o.put("psd", l.psd().value());
        o.put("psd_reason", l.psd().reason());
        if (l.factor().isEmpty()) {
          o.putNull("factor");
          o.putNull("factor_reason");
        } else {
          ArrayNode blocks = o.putArray("factor");
          for (Expr b : l.factor().get().blocks()) blocks.add(t.apply(b));
          o.put("factor_reason", l.factor().get().reason());
        }
      } else if (d instanceof ModuleRule r) {
        o.put("jacobian", t.apply(r.closedForm().jacobian()));
        o.put("residual", t.apply(r.closedForm().residual()));
        o.put("hbp", t.apply(r.closedForm().hbp()));
        o.put("residual_kind", r.residualKind().label());
        o.put("jacobian_compact", t.apply(r.compact().jacobian()));
        o.put("residual_compact", t.apply(r.compact().residual()));
        o.put("hbp_compact", t.apply(r.compact().hbp()));
      }
    }
    return out;
  }

  public static ArrayNode newJsonArray() {
    return JSON.createArrayNode();
  }

  public static String render(Object node) {
    try {
      return JSON.writeValueAsString(node) + "\n";
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }
}
