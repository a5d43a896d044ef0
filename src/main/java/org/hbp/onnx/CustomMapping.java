package org.hbp.onnx;

import ai.onnx.proto.OnnxMl.NodeProto;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.hbp.UserError;
import org.hbp.calculus.Dim;
import org.hbp.calculus.Expr;
import org.hbp.dsl.ModuleSpec;
import org.hbp.io.NdArray;
import org.hbp.network.NetworkResolver;

/**
 * A user's mapping of an ONNX operator to a module of a spec file ({@code --map
 * OpType=file.hbp:module}). The node's computed input is the module's input; its constant inputs,
 * in order, are the module's parameters in declared order, each in PyTorch's layout of the declared
 * shape ({@code vector(n)}: {@code [n]}, {@code matrix(m, n)}: {@code [m, n]}), and they bind the
 * module's dims named in those shapes. Nodes with attributes are refused (the module cannot read
 * them). The output's per-sample shape is the one the ONNX file records for it (value_info), else
 * the input's.
 */
public record CustomMapping(String opType, Path file, ModuleSpec module) {

  /**
   * Parses {@code OpType=path/to/spec.hbp:module}, loading the spec file.
   *
   * @throws UserError a malformed entry, a missing file, or no such module in it
   */
  public static CustomMapping parse(String entry) {
    Path file = fileOf(entry);
    if (file == null)
      throw new UserError("--map " + entry + ": expected OpType=spec-file.hbp:module, e.g. --map Softsign=my-specs/softsign.hbp:softsign");
    String op = entry.substring(0, entry.indexOf('=')), module = entry.substring(entry.lastIndexOf(':') + 1);
    if (!java.nio.file.Files.isRegularFile(file)) throw new UserError("--map " + entry + ": spec file not found: " + file);
    List<ModuleSpec> specs = NetworkResolver.library(List.of(file));
    for (ModuleSpec m : specs)
      if (m.name().equals(module)) {
        if (m.isLoss()) throw new UserError("--map " + entry + ": '" + module + "' in " + file + " is a loss; map an operator to a module");
        return new CustomMapping(op, file, m);
      }
    throw new UserError("--map " + entry + ": no module '" + module + "' in " + file + " (it declares: "
        + String.join(", ", specs.stream().map(ModuleSpec::name).toList()) + ")");
  }

  /** The entry as --map takes it: {@code OpType=file.hbp:module}. */
  public String entry() {
    return opType + "=" + file + ":" + module.name();
  }

  /** The spec file of an entry {@code OpType=path/to/spec.hbp:module}, without reading it; null when the entry is malformed. */
  public static Path fileOf(String entry) {
    int eq = entry.indexOf('='), colon = entry.lastIndexOf(':');
    if (eq <= 0 || colon < eq + 2 || colon == entry.length() - 1) return null;
    return Path.of(entry.substring(eq + 1, colon));
  }

  int apply(OnnxImporter w, int i) {
    NodeProto n = w.node(i);
    if (n.getAttributeCount() > 0)
      throw w.error(i, "has attributes (" + String.join(", ", n.getAttributeList().stream().map(a -> a.getName()).toList()) + "); --map "
          + opType + "=" + file + ":" + module.name() + " maps operators without attributes only");
    List<Expr.Var> params = module.withRole(Expr.Role.PARAM);
    List<String> constants = new ArrayList<>();
    for (String in : n.getInputList()) if (!in.isEmpty() && w.model().isConstant(in)) constants.add(in);
    if (constants.size() != params.size())
      throw w.error(i, "has " + constants.size() + " constant input" + (constants.size() == 1 ? "" : "s") + " but module " + module.name() + " of " + file
          + " declares " + params.size() + " parameter" + (params.size() == 1 ? "" : "s") + " (" + String.join(", ", params.stream().map(Expr.Var::name).toList()) + ")");
    Map<String, Integer> args = new LinkedHashMap<>();
    for (int k = 0; k < params.size(); k++) bindDims(w, i, params.get(k), w.model().constant(constants.get(k)), args);
    int layer = w.addLayer(module.name(), args, w.describe(i) + " via --map");
    for (int k = 0; k < params.size(); k++) w.addParameter(layer, params.get(k).name(), w.model().constant(constants.get(k)), constants.get(k));
    List<Integer> out = w.model().sampleShape(n.getOutput(0));
    w.advance(n.getOutput(0), out == null ? w.shape : out);
    return 1;
  }

  /** Binds the plain dim names of a parameter's declared shape to the constant's extents (checking the rank). */
  private void bindDims(OnnxImporter w, int i, Expr.Var p, NdArray c, Map<String, Integer> args) {
    List<Dim> dims = p.shape().isColumn() ? List.of(p.shape().rows()) : p.shape().dims();
    if (c.rank() != dims.size())
      throw w.error(i, "constant input of shape " + Arrays.toString(c.shape()) + " for parameter " + p.name() + ": " + p.shape() + " of module "
          + module.name() + " (" + dims.size() + " axes expected)");
    for (int a = 0; a < dims.size(); a++) {
      Dim d = dims.get(a);
      if (d.symbols().size() == 1 && d.equals(Dim.sym(d.symbols().first())) && !module.derivedDims().containsKey(d.symbols().first()))
        args.put(d.symbols().first(), c.dim(a));
    }
  }
}
